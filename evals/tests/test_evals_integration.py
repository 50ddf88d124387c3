"""A small slice of the harness against a real stack: every service a process on free ports,
the harness a process talking to the gateway over HTTP (retrieval and answer metrics on ~16
SciFact claims with a small corpus)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from veritas_evals.cli import default_data_dir

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
API_KEY = "eval-test-key"
DATA = default_data_dir()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if DATA is None:
        pytest.skip("../shared/data (evaluation datasets) is not present on this machine")
    testing = pytest.importorskip("veritas_cli.testing")
    data_dir = tmp_path_factory.mktemp("veritas-eval-data")
    with testing.running_stack(data_dir, {"VERITAS_API_KEYS": API_KEY}, repo=REPO) as stack:
        yield stack


def _in_unit_interval(value) -> bool:
    return isinstance(value, int | float) and 0.0 <= value <= 1.0


def test_harness_slice_writes_a_report_with_metrics_in_range(stack, tmp_path):
    gateway = f"http://{stack.processes['gateway'].addr}"
    command = [
        sys.executable,
        "-m",
        "veritas_evals",
        "--gateway-url",
        gateway,
        "--api-key",
        API_KEY,
        "--data",
        str(DATA),
        "--datasets",
        "scifact",
        "--tasks",
        "retrieval,answers",
        "--limit",
        "16",
        "--corpus-limit",
        "30",
        "--rerank-depth",
        "20",
        "--out",
        str(tmp_path),
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (folder,) = tmp_path.iterdir()
    assert f"report: {folder / 'report.md'}" in run.stdout
    for name in ("report.md", "metrics.json", "records.json", "latency.png", "retrieval.png"):
        assert (folder / name).stat().st_size > 0, name

    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["ingestion"]["scifact"]["collection_docs"] == 30
    retrieval = metrics["retrieval"]["scifact"]
    assert set(retrieval) == {"bm25", "dense", "hybrid", "hybrid+rerank"}
    for mode, scores in retrieval.items():
        assert scores["queries"] >= 5, mode
        for key in ("ndcg_at_10", "recall_at_10", "mrr"):
            assert _in_unit_interval(scores[key]), (mode, key, scores[key])
    assert _in_unit_interval(retrieval["hybrid"]["recall_at_100"])
    # With the claim's own abstracts among 30 documents, retrieval must find most of them.
    assert retrieval["hybrid"]["recall_at_10"] >= 0.5

    answers = metrics["answers"]["scifact"]
    assert answers["cases"] == 16
    for key in ("decision_accuracy", "citation_precision", "citation_recall"):
        assert answers[key] is None or _in_unit_interval(answers[key]), key
    assert _in_unit_interval(answers["decision_accuracy"])
    assert metrics["latency"]["stages"]["total_ms"]["p50"] > 0
    assert "SciFact decision accuracy" in (folder / "report.md").read_text()
