"""Calibrates the answerability gate from an eval run's records.

The agent's select step reports the best sentence's P(decides) ("best 0.83") whether or not the
gate refused, and with the verifier's bar equal to the gate's a question is answered exactly
when that score reaches the gate. So one run of the answer task gives every threshold's
decisions: this command prints them and picks the threshold with the best SciFact decision
accuracy among those keeping the PubMedQA yes/no answer rate at or above a floor.

    python -m veritas_evals.calibrate reports/eval-<time>/records.json [--min-answer-rate 0.95]

Run it on the tuning part (`veritas eval --split tuning --tasks answers`), never on cases a
figure will be reported on without saying so.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_BEST = re.compile(r"best (-?\d+(?:\.\d+)?)")
# Thresholds tried: 0.05 to 0.95 in steps of 0.05.
GRID = tuple(round(0.05 * step, 2) for step in range(1, 20))


def best_score(record: dict[str, Any]) -> float | None:
    """The select step's best evidence score, None when the record has none."""
    match = _BEST.search(record.get("trace", {}).get("select", ""))
    return float(match.group(1)) if match else None


def decisions(records: Sequence[dict[str, Any]], threshold: float) -> dict[str, dict[str, float]]:
    """Per dataset: decision accuracy, answer rate on answerable cases, refusal rate on the
    ones to refuse, if every case were answered exactly when its best score reaches
    `threshold` (a case refused before selection counts as refused)."""
    out: dict[str, dict[str, float]] = {}
    for dataset in dict.fromkeys(r["dataset"] for r in records):
        rows = [
            r
            for r in records
            if r["dataset"] == dataset and r.get("expected") in ("answer", "refuse")
        ]
        answered = [(r, (best_score(r) or -1.0) >= threshold) for r in rows]
        positives = [a for r, a in answered if r["expected"] == "answer"]
        negatives = [a for r, a in answered if r["expected"] == "refuse"]
        correct = sum(a for a in positives) + sum(not a for a in negatives)
        out[dataset] = {
            "cases": len(rows),
            "accuracy": correct / len(rows) if rows else float("nan"),
            "answer_rate": sum(positives) / len(positives) if positives else float("nan"),
            "refusal_rate": sum(not a for a in negatives) / len(negatives)
            if negatives
            else float("nan"),
        }
    return out


def calibrate(
    records: Sequence[dict[str, Any]],
    *,
    target: str = "scifact",
    floor_dataset: str = "pubmedqa",
    min_answer_rate: float = 0.95,
    grid: Sequence[float] = GRID,
) -> tuple[float, list[tuple[float, dict[str, dict[str, float]]]]]:
    """The threshold maximising `target`'s decision accuracy with `floor_dataset`'s answer
    rate at least `min_answer_rate` (ties: the lower threshold), and every row of the grid."""
    rows = [(t, decisions(records, t)) for t in grid]
    allowed = [
        (t, d)
        for t, d in rows
        if d.get(floor_dataset, {}).get("answer_rate", 1.0) >= min_answer_rate
    ] or rows
    best = max(allowed, key=lambda row: (row[1][target]["accuracy"], -row[0]))
    return best[0], rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m veritas_evals.calibrate")
    parser.add_argument("records", type=Path, help="records.json of an eval run")
    parser.add_argument("--min-answer-rate", type=float, default=0.95)
    args = parser.parse_args(argv)
    records = [
        r for r in json.loads(args.records.read_text())["answers"] if r.get("config") == "full"
    ]
    chosen, rows = calibrate(records, min_answer_rate=args.min_answer_rate)
    datasets = list(rows[0][1])
    print("threshold | " + " | ".join(f"{d} acc / answer / refuse" for d in datasets))
    for threshold, by_dataset in rows:
        cells = [
            f"{v['accuracy']:.3f} / {v['answer_rate']:.3f} / {v['refusal_rate']:.3f}"
            for v in by_dataset.values()
        ]
        mark = "  <- chosen" if threshold == chosen else ""
        print(f"{threshold:9.2f} | " + " | ".join(cells) + mark)
    print(f"gate threshold: {chosen:.2f}")


if __name__ == "__main__":
    main()
