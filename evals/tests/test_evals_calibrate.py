"""Gate calibration from eval records: decisions follow the select step's best score."""

from __future__ import annotations

import json

import pytest

from veritas_evals.calibrate import best_score, calibrate, decisions, main


def record(dataset, expected, best, config="full"):
    detail = (
        f"40 sentences from 5 chunks; 24 judged by evidence-judge@x; 3 candidates (best {best})"
    )
    return {"config": config, "dataset": dataset, "expected": expected,
            "trace": {"select": detail}}  # fmt: skip


RECORDS = [
    record("scifact", "answer", 0.9),
    record("scifact", "answer", 0.6),
    record("scifact", "refuse", 0.5),
    record("scifact", "refuse", 0.2),
    record("pubmedqa", "answer", 0.7),
    record("pubmedqa", "answer", 0.45),
    record("pubmedqa", "uncertain", 0.1),
]


def test_best_score_is_read_from_the_select_step():
    assert best_score(RECORDS[0]) == 0.9
    assert best_score({"trace": {}}) is None


def test_decisions_answer_exactly_at_or_above_the_threshold():
    at = decisions(RECORDS, 0.55)
    assert at["scifact"] == {"cases": 4, "accuracy": 1.0, "answer_rate": 1.0, "refusal_rate": 1.0}
    assert at["pubmedqa"]["answer_rate"] == 0.5 and at["pubmedqa"]["cases"] == 2
    assert decisions(RECORDS, 0.95)["scifact"]["accuracy"] == 0.5


def test_the_floor_on_the_other_dataset_wins_over_accuracy():
    free, _ = calibrate(RECORDS, min_answer_rate=0.0)
    assert free == pytest.approx(0.55)
    floored, _ = calibrate(RECORDS, min_answer_rate=1.0)
    assert floored <= 0.45  # every PubMedQA yes/no question must stay answered
    assert decisions(RECORDS, floored)["scifact"]["accuracy"] == 0.75


def test_command_prints_the_grid_and_the_choice(tmp_path, capsys):
    path = tmp_path / "records.json"
    path.write_text(json.dumps({"answers": [*RECORDS, record("scifact", "answer", 0.0, "verify")]}))
    main([str(path), "--min-answer-rate", "0"])
    out = capsys.readouterr().out
    assert "gate threshold: 0.55" in out and "<- chosen" in out
