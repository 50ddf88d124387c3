"""The one-page Markdown report, the JSON behind it and the PNG plots."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from veritas_evals.metrics import STAGES
from veritas_evals.runner import DATASET_TITLES, Results
from veritas_evals.tasks.verifier import VERDICTS

Row = tuple[str, str, str]  # metric, value, note (n, baseline, ...)

# What a citation is checked against: SciFact's gold units are rationale sentences, PubMedQA's
# whole contexts (paragraphs), so the two datasets' citation figures are not the same measure.
CITATION_LEVEL = {
    "scifact": "sentence-level (gold = rationale sentences)",
    "pubmedqa": "document-level (gold = whole contexts)",
}


def fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def fmt_delta(delta: Any) -> str:
    if delta is None:
        return ""
    if abs(delta) < 5e-4:
        return " (±0)"
    return f" ({delta:+.3f})" if abs(delta) < 10 else f" ({delta:+.0f})"


def metrics_rows(r: Results) -> list[Row]:
    """The headline metrics, one row each."""
    rows: list[Row] = []
    for dataset, s in r.answers.items():
        n = f"n={s['cases']}"
        if dataset == "scifact":
            rows.append(
                ("SciFact decision accuracy (answer/refuse)", fmt(s["decision_accuracy"]), n)
            )
            rows.append(("SciFact answer rate, claims with evidence", fmt(s["answer_rate"]), ""))
            rows.append(
                ("SciFact refusal rate, not-enough-info claims", fmt(s["refusal_rate"]), "")
            )
        else:
            rows.append(("PubMedQA answer rate, yes/no questions", fmt(s["answer_rate"]), n))
            rows.append(
                (
                    "PubMedQA answered share, `maybe` (uncertain)",
                    fmt(s["uncertain_answer_rate"]),
                    f"n={s['uncertain_cases']}",
                )
            )
        name = "SciFact" if dataset == "scifact" else "PubMedQA"
        level = CITATION_LEVEL[dataset]
        rows.append(
            (
                f"{name} citation precision, {level}",
                fmt(s["citation_precision"]),
                f"{s['citations']} cited",
            )
        )
        rows.append((f"{name} citation recall, {level}", fmt(s["citation_recall"]), ""))
        rows.append(
            (
                f"{name} unsupported-claim rate",
                fmt(s["unsupported_claim_rate"]),
                f"{s['claims']} claims",
            )
        )
    if r.structured:
        s = r.structured
        n = f"{s['attempted']} of {s['requests']} not refused"
        rows.append(("TAT-QA structured: JSON parse rate", fmt(s["json_parse_rate"]), n))
        per_schema = ", ".join(
            f"{name} {fmt(v['schema_valid_rate'], 2)}" for name, v in s["by_schema"].items()
        )
        rows.append(
            ("TAT-QA structured: JSON-Schema valid rate", fmt(s["schema_valid_rate"]), per_schema)
        )
        rows.append(("TAT-QA structured: data returned", fmt(s["data_returned_rate"]), ""))
        rows.append(("TAT-QA structured: value matches gold", fmt(s["value_accuracy"]), ""))
    if r.verifier:
        v = r.verifier
        rows.append(
            (
                f"Verifier macro-F1 ({v['verifier'] or 'system'})",
                fmt(v["system"]["macro_f1"]),
                f"n={v['pairs']}; {v['baseline_name']}: {fmt(v['baseline']['macro_f1'])}",
            )
        )
    for dataset, c in r.calculator.items():
        name = "TAT-QA" if dataset == "tatqa" else "ConvFinQA"
        rows.append(
            (
                f"Calculator accuracy, {name}",
                fmt(c["accuracy"]),
                f"n={c['cases']}; exact local evaluation: {fmt(c['exact_reference_accuracy'])}",
            )
        )
    if r.latency:
        lat = r.latency
        for stage in STAGES:
            st = lat["stages"][stage]
            rows.append(
                (
                    f"latency {stage.removesuffix('_ms')} p50 / p95 (ms)",
                    f"{fmt(st['p50'], 0)} / {fmt(st['p95'], 0)}",
                    f"n={st.get('requests', lat['requests'])}",
                )
            )
        tp = lat["throughput"]
        rows.append(
            (
                "decode tokens/s",
                fmt(tp["decode_tokens_per_s"], 1),
                f"{tp['requests_with_generation']} requests ran the model",
            )
        )
        price = lat["price_per_hour"]
        cost = lat["cost_per_1k_completion_tokens"]
        rows.append(
            (
                "cost per 1k completion tokens",
                "n/a" if cost is None or not price else f"${cost:.5f}",
                f"at ${price:.2f}/h" + ("" if price else " (set --price-per-hour)"),
            )
        )
    return rows


def retrieval_rows(r: Results) -> list[list[str]]:
    rows = []
    for mode, s in r.retrieval.get("scifact", {}).items():
        rows.append(
            [
                mode,
                fmt(s["ndcg_at_10"]),
                fmt(s["recall_at_10"]),
                fmt(s["recall_at_100"]),
                fmt(s["mrr"]),
                str(s["queries"]),
                str(s["depth"]),
                fmt(s["search_p50_ms"], 0),
            ]
        )
    return rows


RETRIEVAL_HEADER = [
    "mode",
    "nDCG@10",
    "Recall@10",
    "Recall@100",
    "MRR",
    "queries",
    "top_k",
    "p50 ms",
]

# (dataset, metric, column title) shown in the ablation table.
ABLATION_COLUMNS = (
    ("scifact", "decision_accuracy", "SciFact decision acc."),
    ("scifact", "citation_precision", "SciFact cit. P"),
    ("scifact", "citation_recall", "SciFact cit. R"),
    ("scifact", "unsupported_claim_rate", "SciFact unsupported"),
    ("pubmedqa", "answer_rate", "PubMedQA answer rate"),
    ("pubmedqa", "citation_precision", "PubMedQA cit. P (doc-level)"),
    ("scifact", "changed_answers", "SciFact answers changed"),
    ("pubmedqa", "changed_answers", "PubMedQA answers changed"),
    ("scifact", "total_ms_p50", "SciFact p50 ms"),
)


def ablation_rows(r: Results) -> tuple[list[str], list[list[str]]]:
    """The ablation table: a row per configuration (a configuration the gateway rejected
    reads "not supported by this server" instead of numbers)."""
    present = {d for table in r.ablations.values() for d in table}
    columns = [c for c in ABLATION_COLUMNS if c[0] in present]
    header = ["configuration"] + [c[2] for c in columns]
    rows = []
    for name, table in r.ablations.items():
        row = [name]
        if name in r.ablations_not_supported:
            reason = r.ablations_not_supported[name].split(" (", 1)[0]
            rows.append(row + [reason] + [""] * max(0, len(columns) - 1))
            continue
        for dataset, metric, _ in columns:
            cell = table.get(dataset, {}).get(metric)
            if cell is None:
                row.append("n/a")
                continue
            if metric == "changed_answers":  # a count of cases, its own delta
                row.append(fmt(cell["value"]))
                continue
            digits = 0 if metric.endswith("_ms_p50") else 3
            delta = "" if name == "full" else fmt_delta(cell["delta"])
            row.append(fmt(cell["value"], digits) + delta)
        rows.append(row)
    return header, rows


def split_lines(r: Results) -> list[str]:
    """What the split kept of each loaded dataset, e.g. "SciFact claims: 153 of 809 (tuning);
    documents 1,021 of 5,183"."""
    split = r.settings.get("split", "all")
    lines = []
    for name, counts in r.splits.items():
        (unit, (n, total)), *rest = counts.items()
        line = f"{DATASET_TITLES.get(name, name)} {unit}: {n:,} of {total:,} ({split})"
        if rest:
            line += "; " + ", ".join(f"{u} {k:,} of {t:,}" for u, (k, t) in rest)
        lines.append(line)
    return lines


def verifier_rows(r: Results) -> list[list[str]]:
    v = r.verifier
    rows = []
    for label in VERDICTS:
        s, b = v["system"]["per_class"][label], v["baseline"]["per_class"][label]
        rows.append(
            [
                label,
                str(s["support"]),
                f"{fmt(s['precision'])} / {fmt(s['recall'])} / {fmt(s['f1'])}",
                f"{fmt(b['precision'])} / {fmt(b['recall'])} / {fmt(b['f1'])}",
            ]
        )
    rows.append(
        ["macro-F1", str(v["pairs"]), fmt(v["system"]["macro_f1"]), fmt(v["baseline"]["macro_f1"])]
    )
    return rows


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(r: Results, plots: dict[str, str]) -> str:
    s = r.settings
    parts = [
        f"# Veritas evaluation — {s.get('started_at', '')}",
        "",
        f"git `{s.get('git_commit', 'unknown')}` · gateway {s.get('gateway_url', '')} · "
        f"data `{s['data_dir']}` · split **{s.get('split', 'all')}** · "
        f"limit {fmt(s['limit'])} per dataset · corpus limit "
        f"{fmt(s['corpus_limit'])} · seed {s['seed']} · "
        f"ablations {', '.join(s['ablate']) or 'none'}"
        + (
            f" (on {s['ablation_limit']} cases per dataset)"
            if s["ablate"] and s.get("ablation_limit")
            else ""
        )
        + f" · concurrency {s.get('concurrency', 1)}"
        f" · duration {fmt(s.get('duration_s'), 0)} s",
        "",
    ]
    if r.splits:
        parts += [
            f"**Split** `{s.get('split', 'all')}`: every task's cases come from this part only "
            "(before sampling); a document is in the tuning part when "
            '`sha256("<dataset>:<id>")` is divisible by 5; ingested distractors may come from '
            "any part",
            "",
            *[f"- {line}" for line in split_lines(r)],
            "",
        ]
    files = s.get("files") or {}
    if files:
        listed = ", ".join(
            f"{name} {key} `{path}`" for name, paths in files.items() for key, path in paths.items()
        )
        parts += [f"**Files**: {listed}", ""]
    sizes = []
    for name, info in r.datasets.items():
        sizes.append([name, ", ".join(f"{k} {v}" for k, v in info.items())])
    for name, info in r.ingestion.items():
        sizes.append(
            [
                f"{name} collection `{info['collection']}`",
                f"{info['collection_docs']} documents searched ({info['uploaded']} uploaded now, "
                f"{info['present']} already present"
                + (f", {info['missing']} missing" if info.get("missing") else "")
                + ")",
            ]
        )
    if sizes:
        parts += ["**Datasets**", "", _md_table(["dataset", "size"], sizes), ""]
    if r.retrieval:
        parts += [
            "**Retrieval** (SciFact, BEIR conventions; chunks mapped to documents at their "
            "best rank)",
            "",
            _md_table(RETRIEVAL_HEADER, retrieval_rows(r)),
            "",
        ]
    rows = metrics_rows(r)
    if rows:
        parts += [
            "**Metrics**",
            "",
            _md_table(["metric", "value", "n / note"], [list(x) for x in rows]),
            "",
        ]
    if r.verifier:
        parts += [
            f"**Verifier** (`{r.verifier['verifier']}` vs {r.verifier['baseline_name']}; "
            "precision / recall / F1)",
            "",
            _md_table(["gold class", "pairs", "system", "baseline"], verifier_rows(r)),
            "",
        ]
    if r.ablations:
        header, arows = ablation_rows(r)
        parts += [
            "**Ablations** (same cases; delta vs full system; answers changed = cases whose "
            "decision or citations differ from the full system's)",
            "",
            _md_table(header, arows),
            "",
        ]
        for name, reason in r.ablations_not_supported.items():
            parts += [f"- `{name}`: {reason}"]
        if r.ablations_not_supported:
            parts += [""]
    if r.warnings:
        parts += ["**Warnings**: " + "; ".join(r.warnings), ""]
    if r.skipped:
        parts += ["**Skipped**: " + "; ".join(f"{k}: {v}" for k, v in r.skipped.items()), ""]
    parts += [f"Citation rule: {s['citation_rule']}.", ""]
    if plots:
        parts += [" ".join(f"![{name}]({path})" for name, path in plots.items()), ""]
    return "\n".join(parts)


# ------------------------------------------------------------------------------------ plots


def write_plots(r: Results, out_dir: Path) -> dict[str, str]:
    """PNG plots where a picture reads better than a number; returns name -> relative path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots: dict[str, str] = {}
    answered = r.records.get("answers", []) + r.records.get("structured", [])
    usages = [rec["usage"] for rec in answered if rec["config"] == "full" and "usage" in rec]
    if usages:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        data = [[u[s] for u in usages] for s in STAGES]
        ax.boxplot(data, showfliers=True)
        ax.set_xticks(range(1, len(STAGES) + 1), [s.removesuffix("_ms") for s in STAGES])
        ax.set_ylabel("ms")
        ax.set_title(f"/v1/ask latency per stage ({len(usages)} requests)")
        _save(fig, out_dir / "latency.png", plots, "latency")
    if r.retrieval.get("scifact"):
        fig, ax = plt.subplots(figsize=(7, 3.5))
        modes = list(r.retrieval["scifact"])
        keys = [
            ("ndcg_at_10", "nDCG@10"),
            ("recall_at_10", "R@10"),
            ("recall_at_100", "R@100"),
            ("mrr", "MRR"),
        ]
        width = 0.8 / len(keys)
        for i, (key, label) in enumerate(keys):
            values = [r.retrieval["scifact"][m][key] or 0.0 for m in modes]
            ax.bar([x + i * width for x in range(len(modes))], values, width, label=label)
        ax.set_xticks([x + 0.4 - width / 2 for x in range(len(modes))], modes)
        ax.set_ylim(0, 1.15)  # room for the legend above bars at 1.0
        ax.legend(ncol=4, fontsize=8, loc="upper center")
        ax.set_title("SciFact retrieval by mode")
        _save(fig, out_dir / "retrieval.png", plots, "retrieval")
    records = [rec for rec in r.records.get("verifier", []) if "error" not in rec]
    if records:
        fig, axes = plt.subplots(1, 2, figsize=(8, 3.2), sharey=True)
        for ax, key, title in zip(
            axes,
            ("system_score", "baseline_score"),
            (r.verifier["verifier"] or "system", "word overlap"),
            strict=True,
        ):
            for label in VERDICTS:
                scores = [rec[key] for rec in records if rec["gold"] == label]
                if scores:
                    ax.hist(scores, bins=20, range=(0, 1), alpha=0.5, label=label)
            ax.set_title(f"{title} score by gold class")
            ax.set_xlabel("score")
        axes[0].legend(fontsize=8)
        _save(fig, out_dir / "verifier_scores.png", plots, "verifier scores")
    return plots


def _save(fig: Any, path: Path, plots: dict[str, str], name: str) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    plots[name] = path.name


def write_report(r: Results, out_dir: Path) -> Path:
    """Writes report.md, metrics.json (summaries), records.json (per case) and the plots."""
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = write_plots(r, out_dir)
    body = r.to_dict()
    records = body.pop("records")
    (out_dir / "metrics.json").write_text(json.dumps(body, indent=2, default=str))
    (out_dir / "records.json").write_text(json.dumps(records, indent=1, default=str))
    path = out_dir / "report.md"
    path.write_text(render_markdown(r, plots))
    return path
