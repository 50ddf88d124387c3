"""The runner end to end against a fake gateway on tiny datasets: every task, ablations,
idempotent ingestion, missing endpoints, the report files, and the CLI wiring."""

from __future__ import annotations

import json
import socket
import time

import pytest
from evals_fakes import API_KEY, CLAIMS, FakeGateway, write_tiny_datasets

from veritas_evals.cli import add_arguments, main
from veritas_evals.client import GatewayClient, GatewayUnreachable
from veritas_evals.report import metrics_rows, write_report
from veritas_evals.runner import EvalConfig, Evaluation
from veritas_evals.tasks.base import ordered_map


@pytest.fixture
def data_dir(tmp_path):
    return write_tiny_datasets(tmp_path / "data")


def _evaluate(fake: FakeGateway, config: EvalConfig):
    with GatewayClient("http://fake-gateway", API_KEY, http=fake.client()) as client:
        return Evaluation(client, config).run()


def test_full_run_measures_every_task_against_the_gold(data_dir):
    fake = FakeGateway()
    r = _evaluate(
        fake, EvalConfig(data_dir, ablate=("rerank", "verify", "hybrid"), price_per_hour=3.6)
    )
    assert r.skipped == {}

    assert r.datasets["scifact"] == {
        "corpus_docs": 5,
        "claims": 3,
        "sampled_claims": 3,
        "sampled_with_evidence": 2,
    }
    assert r.ingestion["scifact"]["collection_docs"] == 5
    for mode in ("bm25", "dense", "hybrid", "hybrid+rerank"):
        scores = r.retrieval["scifact"][mode]
        assert scores["queries"] == 2 and scores["excluded"] == 0
        assert scores["mrr"] == scores["ndcg_at_10"] == scores["recall_at_100"] == 1.0

    sci = r.answers["scifact"]
    assert sci["decision_accuracy"] == 1.0 and sci["refusal_rate"] == 1.0
    assert sci["citation_precision"] == sci["citation_recall"] == 1.0
    assert sci["unsupported_claim_rate"] == 0.0
    pub = r.answers["pubmedqa"]
    assert pub["answer_rate"] == 1.0 and pub["uncertain_cases"] == 1
    assert pub["uncertain_answer_rate"] == 1.0

    # fake verifier is right on all four pairs; word overlap calls the contradiction SUPPORTED
    v = r.verifier
    assert v["pairs"] == 4 and v["verifier"] == "fake-overlap"
    assert v["gold"] == {"SUPPORTED": 1, "UNSUPPORTED": 2, "CONTRADICTED": 1}
    assert v["system"]["macro_f1"] == pytest.approx(1.0)
    assert v["baseline"]["macro_f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert v["baseline"]["per_class"]["CONTRADICTED"]["recall"] == 0.0

    assert r.calculator["tatqa"] == {
        "cases": 2,
        "accuracy": 1.0,
        "exact_reference_accuracy": 1.0,
        "errors": 0,
        "rule": r.calculator["tatqa"]["rule"],
    }
    assert r.calculator["convfinqa"]["cases"] == 2 and r.calculator["convfinqa"]["accuracy"] == 1.0

    s = r.structured
    assert (s["requests"], s["attempted"], s["refused"]) == (3, 3, 0)
    assert s["json_parse_rate"] == s["schema_valid_rate"] == s["data_returned_rate"] == 1.0
    assert s["value_accuracy"] == pytest.approx(1 / 3)  # only the span question's number fits
    assert s["schemas"] == ["metric_value", "numeric_fact", "value_list"]
    assert {name: v["attempted"] for name, v in s["by_schema"].items()} == dict.fromkeys(
        s["schemas"], 1
    )

    assert r.latency["stages"]["total_ms"] == {"p50": 100.0, "p95": 100.0, "requests": 8}
    # the fake calls its model only for the 3 structured asks: the others are left out
    assert r.latency["stages"]["prefill_ms"] == {"p50": 20.0, "p95": 20.0, "requests": 3}
    assert r.latency["throughput"]["decode_tokens_per_s"] == pytest.approx(100.0)
    assert r.latency["cost_per_1k_completion_tokens"] == pytest.approx(0.01)


def test_ablations_switch_one_component_off_and_report_deltas(data_dir):
    fake = FakeGateway()
    r = _evaluate(
        fake, EvalConfig(data_dir, tasks=("answers",), ablate=("rerank", "verify", "hybrid"))
    )
    assert list(r.ablations) == ["full", "no rerank", "no verify", "no hybrid (dense only)"]
    # The full system leaves rerank to the server's default; the ablation turns it off.
    switches = {(a.get("rerank"), a["verify"], a["search_mode"]) for a in fake.asks}
    assert switches == {
        (None, True, "hybrid"),
        (False, True, "hybrid"),
        (None, False, "hybrid"),
        (None, True, "dense"),
    }
    assert len(fake.asks) == 4 * 5  # the same 3 SciFact + 2 PubMedQA cases per configuration
    full = r.ablations["full"]["scifact"]["decision_accuracy"]
    assert full == {"value": 1.0, "delta": 0.0}
    assert r.ablations["no verify"]["scifact"]["decision_accuracy"]["delta"] == 0.0


def test_rerank_ablation_turns_reranking_on_where_the_server_does_not_rerank(data_dir):
    fake = FakeGateway(rerank_by_default=False)
    r = _evaluate(fake, EvalConfig(data_dir, tasks=("answers",), ablate=("rerank",)))
    assert list(r.ablations) == ["full", "with rerank (off by default)"]
    assert [a.get("rerank") for a in fake.asks] == [None] * 5 + [True] * 5


def test_ablations_on_a_subset_compare_against_the_full_system_on_the_same_cases(data_dir):
    fake = FakeGateway()
    config = EvalConfig(data_dir, tasks=("answers",), ablate=("verify",), ablation_limit=1)
    r = _evaluate(fake, config)
    assert len(fake.asks) == 5 + 2  # every case once, then one case per dataset without verify
    assert r.answers["scifact"]["cases"] == 3 and r.answers["pubmedqa"]["cases"] == 2
    for name in ("full", "no verify"):
        assert r.ablations[name]["scifact"]["cases"]["value"] == 1
        assert r.ablations[name]["pubmedqa"]["cases"]["value"] == 1
    ablated = {a["question"] for a in fake.asks if not a["verify"]}
    full_rows = [x for x in r.records["answers"] if x["config"] == "full"]
    assert len(full_rows) == 5 and len(ablated) == 2
    assert r.settings["ablation_limit"] == 1


def test_concurrent_requests_measure_the_same_as_one_at_a_time(data_dir):
    one = _evaluate(FakeGateway(), EvalConfig(data_dir, ablate=("rerank",)))
    four = _evaluate(FakeGateway(), EvalConfig(data_dir, ablate=("rerank",), concurrency=4))
    for task in ("answers", "structured", "verifier", "calculator"):
        assert four.records[task] == one.records[task], task
    for mode, scores in one.retrieval["scifact"].items():
        timing = {"search_p50_ms", "search_p95_ms"}
        same = {k: v for k, v in scores.items() if k not in timing}
        assert {k: v for k, v in four.retrieval["scifact"][mode].items() if k not in timing} == same
    assert four.answers == one.answers and four.verifier == one.verifier


def test_ordered_map_keeps_input_order_and_stops_at_the_first_error():
    assert ordered_map(lambda x: x * x, range(20), 4) == [x * x for x in range(20)]
    assert ordered_map(lambda x: x + 1, [1, 2], 1) == [2, 3]
    started = []

    def fail_on_three(x: int) -> int:
        started.append(x)
        if x == 3:
            raise ValueError("three")
        time.sleep(0.005)  # slower than the error's way out, as a real request is
        return x

    with pytest.raises(ValueError, match="three"):
        ordered_map(fail_on_three, range(1000), 2)
    assert len(started) < 100  # the work not yet started was cancelled


def test_ingestion_is_idempotent(data_dir):
    fake = FakeGateway()
    config = EvalConfig(data_dir, tasks=("retrieval",))
    _evaluate(fake, config)
    assert len(fake.uploaded) == 5
    again = _evaluate(fake, config)
    assert len(fake.uploaded) == 5  # nothing re-sent
    assert (
        again.ingestion["scifact"]["present"] == 5 and again.ingestion["scifact"]["uploaded"] == 0
    )


def test_documents_stored_in_another_collection_are_reported_missing(data_dir):
    fake = FakeGateway()
    first = _evaluate(fake, EvalConfig(data_dir, tasks=("retrieval",)))
    assert first.warnings == [] and first.ingestion["scifact"]["missing"] == 0
    other = EvalConfig(data_dir, tasks=("retrieval",), collection_prefix="other-")
    r = _evaluate(fake, other)
    assert r.ingestion["scifact"]["unchanged"] == 5 and r.ingestion["scifact"]["missing"] == 5
    assert "5 scifact documents are not in other-scifact" in r.warnings[0]


def test_limit_and_corpus_limit_sample_with_a_fixed_seed(data_dir):
    fake = FakeGateway()
    r = _evaluate(fake, EvalConfig(data_dir, tasks=("retrieval",), limit=1, corpus_limit=3))
    assert r.datasets["scifact"]["sampled_claims"] == 1
    assert r.ingestion["scifact"]["requested"] == 3
    same = _evaluate(
        FakeGateway(), EvalConfig(data_dir, tasks=("retrieval",), limit=1, corpus_limit=3)
    )
    assert same.records["retrieval"] == r.records["retrieval"]


def test_missing_endpoints_skip_their_task_and_the_rest_still_runs(data_dir):
    fake = FakeGateway(with_verify=False, with_calculate=False)
    r = _evaluate(fake, EvalConfig(data_dir, tasks=("verifier", "calculator", "retrieval")))
    assert "/v1/verify" in r.skipped["verifier"] and "/v1/calculate" in r.skipped["calculator"]
    assert r.verifier == {} and r.calculator == {}
    assert r.retrieval["scifact"]["hybrid"]["queries"] == 2


def test_a_failed_request_is_counted_and_left_out_not_fatal(data_dir, tmp_path):
    nei_claim = CLAIMS[2]["claim"]
    fake = FakeGateway(failing_questions=frozenset({nei_claim}))
    r = _evaluate(fake, EvalConfig(data_dir, tasks=("answers",), datasets=("scifact",)))
    sci = r.answers["scifact"]
    assert sci["errors"] == 1 and sci["cases"] == 2
    assert sci["refusal_rate"] is None and sci["decision_accuracy"] == 1.0
    assert write_report(r, tmp_path / "out").exists()


def test_an_unreachable_gateway_stops_the_run_with_a_clear_error(data_dir, tmp_path, capsys):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with GatewayClient(url, API_KEY) as client, pytest.raises(GatewayUnreachable):
        Evaluation(client, EvalConfig(data_dir, tasks=("retrieval",))).run()
    out = tmp_path / "reports"
    argv = ["--gateway-url", url, "--api-key", "k", "--data", str(data_dir), "--out", str(out)]
    assert main(argv) == 1
    assert "cannot reach the gateway" in capsys.readouterr().out
    assert not out.exists()  # no half report


def test_missing_dataset_folder_is_skipped_with_a_reason(tmp_path):
    r = _evaluate(FakeGateway(), EvalConfig(tmp_path, tasks=("retrieval", "calculator")))
    assert "scifact" in r.skipped["retrieval"] and "tatqa" in r.skipped["calculator"]


def test_report_files_and_table(data_dir, tmp_path):
    r = _evaluate(FakeGateway(), EvalConfig(data_dir, ablate=("verify",)))
    r.settings |= {"git_commit": "abc1234", "started_at": "now", "gateway_url": "fake"}
    path = write_report(r, tmp_path / "out")
    names = {p.name for p in path.parent.iterdir()}
    assert {"report.md", "metrics.json", "records.json"} <= names
    assert {"latency.png", "retrieval.png", "verifier_scores.png"} <= names
    assert (path.parent / "latency.png").read_bytes()[:4] == b"\x89PNG"
    report = path.read_text()
    for heading in ("**Retrieval**", "**Metrics**", "**Verifier**", "**Ablations**", "abc1234"):
        assert heading in report
    assert "| no verify |" in report
    body = json.loads((path.parent / "metrics.json").read_text())
    assert "records" not in body and body["answers"]["scifact"]["decision_accuracy"] == 1.0
    rows = {name: value for name, value, _ in metrics_rows(r)}
    assert rows["SciFact decision accuracy (answer/refuse)"] == "1.000"
    assert rows["cost per 1k completion tokens"] == "n/a"  # no price configured


def test_cli_options_parse_and_reject_unknown_names():
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--limit", "3", "--ablate", "rerank,hybrid", "--tasks", "answers"])
    assert (args.limit, args.ablate, args.tasks) == (3, ("rerank", "hybrid"), ("answers",))
    for bad in (["--ablate", "rerank,magic"], ["--limit", "0"], ["--tasks", "nope"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


def test_veritas_cli_has_the_eval_subcommand():
    cli = pytest.importorskip("veritas_cli.__main__")
    args = cli.build_parser().parse_args(["eval", "--limit", "2", "--ablate", "verify"])
    assert args.command == "eval" and args.limit == 2 and args.ablate == ("verify",)
