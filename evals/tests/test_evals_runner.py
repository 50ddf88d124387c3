"""The runner end to end against a fake gateway on tiny datasets: every task, ablations,
idempotent ingestion, missing endpoints, the report files, and the CLI wiring."""

from __future__ import annotations

import json
import socket
import time

import pytest
from evals_fakes import (
    API_KEY,
    ASK_FIELDS_WITHOUT_SWITCHES,
    CLAIMS,
    FakeGateway,
    write_tiny_datasets,
)

from veritas_evals.cli import add_arguments, main
from veritas_evals.client import GatewayClient, GatewayUnreachable
from veritas_evals.report import ablation_rows, metrics_rows, write_report
from veritas_evals.runner import EvalConfig, Evaluation
from veritas_evals.tasks.answers import rejected_detail
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
        fake,
        EvalConfig(
            data_dir, split="all", ablate=("rerank", "verify", "hybrid"), price_per_hour=3.6
        ),
    )
    assert r.skipped == {}

    assert r.datasets["scifact"] == {
        "corpus_docs": 5,
        "claims": 3,
        "split_claims": 3,
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
        fake,
        EvalConfig(
            data_dir, split="all", tasks=("answers",), ablate=("rerank", "verify", "hybrid")
        ),
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
    r = _evaluate(fake, EvalConfig(data_dir, split="all", tasks=("answers",), ablate=("rerank",)))
    assert list(r.ablations) == ["full", "with rerank (off by default)"]
    assert [a.get("rerank") for a in fake.asks] == [None] * 5 + [True] * 5


def test_selector_and_gate_ablations_send_their_switch_and_appear_in_the_table(data_dir):
    fake = FakeGateway()  # acts on both switches
    config = EvalConfig(data_dir, split="all", tasks=("answers",), ablate=("selector", "gate"))
    r = _evaluate(fake, config)
    assert list(r.ablations) == ["full", "no selector", "no gate"]
    assert r.ablations_not_supported == {}
    # the full system sends neither switch; each ablation sends exactly its own, false
    switches = [(a.get("selector"), a.get("gate")) for a in fake.asks]
    assert switches == [(None, None)] * 5 + [(False, None)] * 5 + [(None, False)] * 5
    assert all("selector" not in a and "gate" not in a for a in fake.asks[:5])
    # without the gate the not-enough-info claim is answered: a decision changes
    gate = r.ablations["no gate"]["scifact"]
    assert gate["decision_accuracy"]["delta"] < 0 and gate["changed_answers"]["value"] == 1
    # without the selector the fake cites a non-rationale sentence
    selector = r.ablations["no selector"]["scifact"]
    assert selector["citation_precision"]["delta"] < 0
    assert selector["changed_answers"]["value"] >= 1
    header, rows = ablation_rows(r)
    assert [row[0] for row in rows] == ["full", "no selector", "no gate"]
    assert "SciFact answers changed" in header
    assert r.warnings == []


def test_an_ablation_the_gateway_rejects_with_422_is_reported_not_supported(data_dir, tmp_path):
    fake = FakeGateway(ask_fields=ASK_FIELDS_WITHOUT_SWITCHES)  # today's request model
    config = EvalConfig(
        data_dir, split="all", tasks=("answers",), ablate=("selector", "verify", "gate")
    )
    r = _evaluate(fake, config)
    assert set(r.ablations_not_supported) == {"no selector", "no gate"}
    for reason in r.ablations_not_supported.values():
        assert reason.startswith("not supported by this server") and "422" in reason
    assert r.ablations["no selector"] == {} and r.ablations["no gate"] == {}
    # the full system and the other ablation are measured as usual
    assert r.answers["scifact"]["decision_accuracy"] == 1.0
    assert r.ablations["no verify"]["scifact"]["cases"]["value"] == 3
    rejected = [x for x in r.records["answers"] if x["config"] in ("no selector", "no gate")]
    assert len(rejected) == 10 and {x["http_status"] for x in rejected} == {422}
    _, rows = ablation_rows(r)
    by_name = {row[0]: row for row in rows}
    assert by_name["no selector"][1] == "not supported by this server"
    assert by_name["no verify"][1] != "not supported by this server"
    r.settings |= {"git_commit": "abc", "started_at": "now", "gateway_url": "fake"}
    report = write_report(r, tmp_path / "out").read_text()
    assert "| no gate | not supported by this server |" in report


def test_only_a_wholly_rejected_ablation_counts_as_not_supported():
    def record(status):
        return {"status": "ERROR", "error": f"POST /v1/ask: HTTP {status}", "http_status": status}

    assert rejected_detail([record(422), record(422)]) == "POST /v1/ask: HTTP 422"
    # one rejected case among answered or otherwise failed ones is an error of that case
    assert rejected_detail([record(422), {"status": "ANSWERED"}]) is None
    assert rejected_detail([record(422), record(503)]) is None
    assert rejected_detail([]) is None


def test_a_switch_the_server_ignores_is_reported(data_dir):
    fake = FakeGateway(switches=frozenset())  # accepts `gate` and ignores it
    r = _evaluate(fake, EvalConfig(data_dir, split="all", tasks=("answers",), ablate=("gate",)))
    assert r.ablations["no gate"]["scifact"]["changed_answers"]["value"] == 0
    assert r.ablations["no gate"]["scifact"]["decision_accuracy"]["delta"] == 0.0
    assert any("`no gate` changed no decision or citation" in w for w in r.warnings)


def test_ablations_on_a_subset_compare_against_the_full_system_on_the_same_cases(data_dir):
    fake = FakeGateway()
    config = EvalConfig(
        data_dir, split="all", tasks=("answers",), ablate=("verify",), ablation_limit=1
    )
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
    one = _evaluate(FakeGateway(), EvalConfig(data_dir, split="all", ablate=("rerank",)))
    four = _evaluate(
        FakeGateway(), EvalConfig(data_dir, split="all", ablate=("rerank",), concurrency=4)
    )
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
    config = EvalConfig(data_dir, split="all", tasks=("retrieval",))
    _evaluate(fake, config)
    assert len(fake.uploaded) == 5
    again = _evaluate(fake, config)
    assert len(fake.uploaded) == 5  # nothing re-sent
    assert (
        again.ingestion["scifact"]["present"] == 5 and again.ingestion["scifact"]["uploaded"] == 0
    )


def test_documents_stored_in_another_collection_are_reported_missing(data_dir):
    fake = FakeGateway()
    first = _evaluate(fake, EvalConfig(data_dir, split="all", tasks=("retrieval",)))
    assert first.warnings == [] and first.ingestion["scifact"]["missing"] == 0
    other = EvalConfig(data_dir, split="all", tasks=("retrieval",), collection_prefix="other-")
    r = _evaluate(fake, other)
    assert r.ingestion["scifact"]["unchanged"] == 5 and r.ingestion["scifact"]["missing"] == 5
    assert "5 scifact documents are not in other-scifact" in r.warnings[0]


def test_limit_and_corpus_limit_sample_with_a_fixed_seed(data_dir):
    fake = FakeGateway()
    r = _evaluate(
        fake, EvalConfig(data_dir, split="all", tasks=("retrieval",), limit=1, corpus_limit=3)
    )
    assert r.datasets["scifact"]["sampled_claims"] == 1
    assert r.ingestion["scifact"]["requested"] == 3
    same = _evaluate(
        FakeGateway(),
        EvalConfig(data_dir, split="all", tasks=("retrieval",), limit=1, corpus_limit=3),
    )
    assert same.records["retrieval"] == r.records["retrieval"]


def test_missing_endpoints_skip_their_task_and_the_rest_still_runs(data_dir):
    fake = FakeGateway(with_verify=False, with_calculate=False)
    r = _evaluate(
        fake, EvalConfig(data_dir, split="all", tasks=("verifier", "calculator", "retrieval"))
    )
    assert "/v1/verify" in r.skipped["verifier"] and "/v1/calculate" in r.skipped["calculator"]
    assert r.verifier == {} and r.calculator == {}
    assert r.retrieval["scifact"]["hybrid"]["queries"] == 2


def test_a_failed_request_is_counted_and_left_out_not_fatal(data_dir, tmp_path):
    nei_claim = CLAIMS[2]["claim"]
    fake = FakeGateway(failing_questions=frozenset({nei_claim}))
    r = _evaluate(
        fake, EvalConfig(data_dir, split="all", tasks=("answers",), datasets=("scifact",))
    )
    sci = r.answers["scifact"]
    assert sci["errors"] == 1 and sci["cases"] == 2
    assert sci["refusal_rate"] is None and sci["decision_accuracy"] == 1.0
    assert write_report(r, tmp_path / "out").exists()


def test_an_unreachable_gateway_stops_the_run_with_a_clear_error(data_dir, tmp_path, capsys):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with GatewayClient(url, API_KEY) as client, pytest.raises(GatewayUnreachable):
        Evaluation(client, EvalConfig(data_dir, split="all", tasks=("retrieval",))).run()
    out = tmp_path / "reports"
    argv = ["--gateway-url", url, "--api-key", "k", "--data", str(data_dir), "--out", str(out)]
    assert main(argv) == 1
    assert "cannot reach the gateway" in capsys.readouterr().out
    assert not out.exists()  # no half report


def test_missing_dataset_folder_is_skipped_with_a_reason(tmp_path):
    r = _evaluate(FakeGateway(), EvalConfig(tmp_path, tasks=("retrieval", "calculator")))
    assert "scifact" in r.skipped["retrieval"] and "tatqa" in r.skipped["calculator"]


def test_report_files_and_table(data_dir, tmp_path):
    r = _evaluate(FakeGateway(), EvalConfig(data_dir, split="all", ablate=("verify",)))
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
    # PubMedQA's gold units are whole contexts: its citation figures are document-level
    doc_level = "PubMedQA citation precision, document-level (gold = whole contexts)"
    assert rows[doc_level] == "1.000" and doc_level in report
    assert "SciFact citation recall, sentence-level (gold = rationale sentences)" in rows
    assert not any(
        name.startswith("PubMedQA citation") and "document-level" not in name for name in rows
    )
    assert rows["cost per 1k completion tokens"] == "n/a"  # no price configured


def test_cli_options_parse_and_reject_unknown_names():
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--limit", "3", "--ablate", "rerank,hybrid", "--tasks", "answers"])
    assert (args.limit, args.ablate, args.tasks) == (3, ("rerank", "hybrid"), ("answers",))
    args = parser.parse_args(["--ablate", "selector,gate,verify"])
    assert args.ablate == ("selector", "gate", "verify")
    for bad in (["--ablate", "rerank,magic"], ["--limit", "0"], ["--tasks", "nope"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


def test_veritas_cli_has_the_eval_subcommand():
    cli = pytest.importorskip("veritas_cli.__main__")
    args = cli.build_parser().parse_args(["eval", "--limit", "2", "--ablate", "verify,gate"])
    assert args.command == "eval" and args.limit == 2 and args.ablate == ("verify", "gate")
    assert args.split == "tuning"
    args = cli.build_parser().parse_args(["eval", "--split", "all", "--tatqa-file", "t.json"])
    assert args.split == "all" and str(args.tatqa_file) == "t.json"
