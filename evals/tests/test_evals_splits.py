"""The train/tuning split (documents by a stable hash; SciFact claims by their documents), the
`--split` option filtering every task's cases, and loaders reading explicit (held-out) files."""

from __future__ import annotations

import argparse
import hashlib
import json

import pytest
from evals_fakes import API_KEY, CLAIMS, FakeGateway, write_split_datasets, write_tiny_datasets

from veritas_evals.cli import add_arguments, config_from_args, default_data_dir, main
from veritas_evals.client import GatewayClient
from veritas_evals.datasets import (
    ConvFinQA,
    PubMedQA,
    SciFact,
    TatQA,
    document_split,
    in_split,
)
from veritas_evals.report import split_lines, write_report
from veritas_evals.runner import EvalConfig, Evaluation

DATA = default_data_dir()


@pytest.fixture
def split_data(tmp_path):
    root = tmp_path / "data"
    ids = write_split_datasets(root)
    return root, ids


def _evaluate(fake: FakeGateway, config: EvalConfig):
    with GatewayClient("http://fake-gateway", API_KEY, http=fake.client()) as client:
        return Evaluation(client, config).run()


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


# --------------------------------------------------------------------------------- the rule


def test_document_split_is_the_sha256_rule_stable_and_about_a_fifth():
    ids = [str(i) for i in range(3000)]
    parts = [document_split("scifact", i) for i in ids]
    for doc_id, part in zip(ids, parts, strict=True):
        digest = int(hashlib.sha256(f"scifact:{doc_id}".encode()).hexdigest(), 16)
        assert part == ("tuning" if digest % 5 == 0 else "train")
    assert parts == [document_split("scifact", i) for i in ids]  # deterministic
    share = parts.count("tuning") / len(parts)
    assert 0.17 < share < 0.23
    # the dataset name is part of the key: the same id may land elsewhere in another dataset
    other = [document_split("pubmedqa", i) for i in ids]
    assert other != parts and set(other) == {"train", "tuning"}


def test_in_split_selects_one_part_or_both():
    assert in_split("train", "train") and not in_split("train", "tuning")
    assert in_split("tuning", "tuning") and not in_split("tuning", "train")
    assert in_split("train", "all") and in_split("tuning", "all")


# ------------------------------------------------------------------------ tiny datasets


def _partition(items_of, everything) -> tuple[list, list]:
    train, tuning = items_of("train"), items_of("tuning")
    ids = [id(x) for x in train] + [id(x) for x in tuning]
    assert len(ids) == len(set(ids)), "train and tuning overlap"
    assert sorted(ids) == sorted(id(x) for x in everything), "the parts do not cover everything"
    assert [id(x) for x in items_of("all")] == [id(x) for x in everything]
    return train, tuning


def test_scifact_splits_claims_by_their_documents(split_data):
    root, ids = split_data
    scifact = SciFact.load(root)
    train, tuning = _partition(scifact.claims_of, scifact.claims)
    # claim 10 rests on a tuning document; claim 11's evidence is a train document but it
    # cites a tuning one; everything else touches train documents only
    assert [c.claim_id for c in tuning] == ["10", "11"]
    assert [c.claim_id for c in train] == ["1", "2", "3", "12"]
    for claim in train:
        for doc_id in (*claim.evidence, *claim.cited_doc_ids):
            assert document_split("scifact", doc_id) == "train"
    docs_train, docs_tuning = scifact.doc_ids_of("train"), scifact.doc_ids_of("tuning")
    assert set(docs_tuning) == {ids["scifact_tuning"], ids["scifact_tuning_2"]}
    assert set(docs_train) | set(docs_tuning) == set(scifact.corpus)
    assert not set(docs_train) & set(docs_tuning)


def test_pubmedqa_tatqa_and_convfinqa_split_by_their_own_ids(split_data):
    root, ids = split_data
    pubmedqa = PubMedQA.load(root)
    _, tuning = _partition(pubmedqa.items_of, pubmedqa.items)
    assert [i.pmid for i in tuning] == [ids["pubmedqa"]]

    tatqa = TatQA.load(root)
    _, contexts = _partition(tatqa.contexts_of, tatqa.contexts)
    assert [c.uid for c in contexts] == [ids["tatqa"]]
    # all questions of a context go together
    assert [q.uid for q in tatqa.questions_of("tuning")] == [q.uid for q in contexts[0].questions]
    assert {q.context_uid for q in tatqa.questions_of("train")} == {"t-1"}
    assert {c.case_id for c in tatqa.calculation_cases("tuning")} == {
        f"tatqa-{ids['tatqa']}-q-2",
        f"tatqa-{ids['tatqa']}-q-3",
    }
    all_cases = tatqa.extraction_cases("all")
    assert all_cases == tatqa.extraction_cases()
    assert len(tatqa.extraction_cases("train")) + len(tatqa.extraction_cases("tuning")) == len(
        all_cases
    )

    convfinqa = ConvFinQA.load(root)
    _, conversations = _partition(convfinqa.conversations_of, convfinqa.conversations)
    assert [c.conv_id for c in conversations] == [ids["convfinqa"]]
    prefix = f"convfinqa-{ids['convfinqa']}#"
    tuning_cases = convfinqa.calculation_cases("tuning")
    assert tuning_cases and all(c.case_id.startswith(prefix) for c in tuning_cases)
    assert not any(c.case_id.startswith(prefix) for c in convfinqa.calculation_cases("train"))


@pytest.mark.skipif(DATA is None, reason="../shared/data (evaluation datasets) is not present")
def test_the_real_development_data_splits_disjointly_with_no_tuning_document_in_train():
    assert DATA is not None
    scifact = SciFact.load(DATA)
    train, tuning = _partition(scifact.claims_of, scifact.claims)
    assert 0.1 < len(tuning) / len(scifact.claims) < 0.3
    tuning_docs = set(scifact.doc_ids_of("tuning"))
    assert 0.17 < len(tuning_docs) / len(scifact.corpus) < 0.23
    for claim in train:
        assert not tuning_docs & {*claim.evidence, *claim.cited_doc_ids}, claim.claim_id
    for claim in tuning:
        assert {*claim.evidence, *claim.cited_doc_ids} & tuning_docs, claim.claim_id
    for loader, items_of, everything in (
        (PubMedQA, "items_of", "items"),
        (TatQA, "contexts_of", "contexts"),
        (ConvFinQA, "conversations_of", "conversations"),
    ):
        dataset = loader.load(DATA)
        _, part = _partition(getattr(dataset, items_of), getattr(dataset, everything))
        assert 0.1 < len(part) / len(getattr(dataset, everything)) < 0.3, loader.name


# --------------------------------------------------------------------- explicit files


def test_loaders_read_explicit_files_of_their_format(tmp_path):
    root = write_tiny_datasets(tmp_path / "data")
    heldout = tmp_path / "heldout"
    heldout.mkdir()
    # SciFact's test split has neither `evidence` nor `cited_doc_ids`
    with (heldout / "claims_test.jsonl").open("w") as f:
        f.write(json.dumps({"id": 77, "claim": "Aspirin prevents strokes."}) + "\n")
    (heldout / "claims_dev.jsonl").write_text(json.dumps(CLAIMS[0]) + "\n")
    test = SciFact.load(root, claims=heldout / "claims_test.jsonl")
    assert len(test.corpus) == 5  # the default corpus under the data folder
    (claim,) = test.claims
    assert (claim.claim_id, claim.evidence, claim.cited_doc_ids) == ("77", {}, ())
    assert not claim.labelled
    # a relative path is taken relative to the data folder
    dev = SciFact.load(root, claims="../heldout/claims_dev.jsonl")
    assert [c.claim_id for c in dev.claims] == ["1"] and dev.claims[0].labelled
    assert list(dev.claims[0].evidence) == ["101"]
    # no data folder at all: both files explicit
    bare = SciFact.load(
        corpus=root / "scifact" / "corpus.jsonl", claims=heldout / "claims_dev.jsonl"
    )
    assert len(bare.corpus) == 5 and len(bare.claims) == 1
    with pytest.raises(ValueError, match="corpus"):
        SciFact.load(claims=heldout / "claims_dev.jsonl")

    pubmedqa = json.loads((root / "pubmedqa" / "pqal_dev.json").read_text())
    (heldout / "test_set.json").write_text(json.dumps({"9001": pubmedqa["9001"]}))
    assert [i.pmid for i in PubMedQA.load(file=heldout / "test_set.json").items] == ["9001"]
    assert len(PubMedQA.load(root).items) == 2  # the default file

    tatqa = json.loads((root / "tatqa" / "tatqa_dataset_dev.json").read_text())
    tatqa[0]["table"]["uid"] = "gold-1"
    (heldout / "tatqa_dataset_test_gold.json").write_text(json.dumps(tatqa))
    gold = TatQA.load(root, file=heldout / "tatqa_dataset_test_gold.json")
    assert [c.uid for c in gold.contexts] == ["gold-1"] and len(gold.questions) == 3

    convfinqa = json.loads((root / "convfinqa" / "convfinqa_dev.json").read_text())
    convfinqa[0]["id"] = "Single_T/2021/page_9.pdf-2"
    (heldout / "test.json").write_text(json.dumps(convfinqa))
    test_conv = ConvFinQA.load(file=heldout / "test.json")
    assert [c.conv_id for c in test_conv.conversations] == ["Single_T/2021/page_9.pdf-2"]
    assert len(test_conv.calculation_cases()) == 2


def test_cli_split_and_file_options_build_the_config(tmp_path):
    args = _parse([])
    assert args.split == "tuning"  # honest by default
    config = config_from_args(args, tmp_path)
    assert config.split == "tuning" and config.files == {}
    absolute = tmp_path / "elsewhere" / "test_set.json"
    args = _parse(
        [
            "--split",
            "all",
            "--scifact-claims",
            "heldout/claims_test.jsonl",
            "--pubmedqa-file",
            str(absolute),
            "--tatqa-file",
            "tatqa_dataset_test_gold.json",
            "--convfinqa-file",
            "test.json",
        ]
    )
    config = config_from_args(args, tmp_path)
    assert config.split == "all"
    assert config.files == {
        "scifact": {"claims": tmp_path.resolve() / "heldout" / "claims_test.jsonl"},
        "pubmedqa": {"file": absolute},
        "tatqa": {"file": tmp_path.resolve() / "tatqa_dataset_test_gold.json"},
        "convfinqa": {"file": tmp_path.resolve() / "test.json"},
    }
    with pytest.raises(SystemExit):
        _parse(["--split", "dev"])


def test_a_missing_explicit_file_stops_before_any_request(tmp_path, capsys):
    root = write_tiny_datasets(tmp_path / "data")
    argv = ["--gateway-url", "http://127.0.0.1:9", "--api-key", "k", "--data", str(root)]
    argv += ["--scifact-claims", "nope.jsonl", "--out", str(tmp_path / "reports")]
    assert main(argv) == 2
    assert "nope.jsonl" in capsys.readouterr().out
    assert not (tmp_path / "reports").exists()


# ---------------------------------------------------------------------------- the runner


def test_split_filters_every_tasks_cases(split_data, tmp_path):
    root, ids = split_data
    fake = FakeGateway()
    r = _evaluate(fake, EvalConfig(root))  # the default split: tuning
    assert r.skipped == {}
    asked = [a["question"] for a in fake.asks if not a.get("data_schema")]
    scifact = SciFact.load(root)
    tuning_claims = {c.claim: c.claim_id for c in scifact.claims if c.claim_id in ("10", "11")}
    pubmedqa_question = PubMedQA.load(root).items[-1].question
    assert sorted(asked) == sorted([*tuning_claims, pubmedqa_question])
    assert {x["case_id"] for x in r.records["retrieval"]} == {"10", "11"}
    assert {x["case_id"].split(":")[0] for x in r.records["verifier"]} == {"10", "11"}
    structured = {x["case_id"] for x in r.records["structured"]}
    assert structured and all(c.startswith(f"tatqa-{ids['tatqa']}-") for c in structured)
    calculated = {x["case_id"] for x in r.records["calculator"]}
    tuning_prefixes = (f"tatqa-{ids['tatqa']}-", f"convfinqa-{ids['convfinqa']}#")
    assert calculated and all(c.startswith(tuning_prefixes) for c in calculated)
    assert r.datasets["scifact"]["split_claims"] == 2
    assert r.splits["scifact"] == {"claims": [2, 6], "documents": [2, 8]}
    assert r.splits["pubmedqa"] == {"items": [1, 3]}

    # the report states the split and what it kept, in Markdown and JSON
    r.settings |= {"git_commit": "abc", "started_at": "now", "gateway_url": "fake"}
    path = write_report(r, tmp_path / "out")
    report = path.read_text()
    assert "split **tuning**" in report and "SciFact claims: 2 of 6 (tuning)" in report
    assert "PubMedQA items: 1 of 3 (tuning)" in report
    body = json.loads((path.parent / "metrics.json").read_text())
    assert body["settings"]["split"] == "tuning"
    assert body["splits"]["scifact"]["claims"] == [2, 6]

    train = FakeGateway()
    r = _evaluate(train, EvalConfig(root, split="train", tasks=("answers",)))
    asked = {a["question"] for a in train.asks}
    assert not asked & {*tuning_claims, pubmedqa_question} and len(asked) == 4 + 2
    assert split_lines(r)[0] == "SciFact claims: 4 of 6 (train); documents 6 of 8"

    everything = FakeGateway()
    _evaluate(everything, EvalConfig(root, split="all", tasks=("answers",)))
    assert len(everything.asks) == 6 + 3


def test_limit_samples_within_the_split_and_distractors_come_from_any_part(split_data):
    root, _ = split_data
    fake = FakeGateway()
    config = EvalConfig(root, tasks=("retrieval",), limit=1, corpus_limit=4)
    r = _evaluate(fake, config)
    (case_id,) = {x["case_id"] for x in r.records["retrieval"]}
    assert case_id in ("10", "11")
    scifact = SciFact.load(root)
    claim = next(c for c in scifact.claims if c.claim_id == case_id)
    ingested = {scifact.doc_id_of(s) for s in fake.uploaded}
    assert len(ingested) == 4 and set(claim.doc_ids) <= ingested
    distractors = ingested - set(claim.doc_ids)
    assert any(document_split("scifact", d) == "train" for d in distractors)


def test_explicit_files_run_whole_with_split_all_and_the_report_names_them(tmp_path):
    root = write_tiny_datasets(tmp_path / "data")
    heldout = root / "scifact" / "claims_dev.jsonl"
    heldout.write_text(json.dumps(CLAIMS[0] | {"id": 501}) + "\n")
    fake = FakeGateway()
    config = EvalConfig(
        root, split="all", tasks=("answers",), files={"scifact": {"claims": heldout}}
    )
    r = _evaluate(fake, config)
    assert [x["case_id"] for x in r.records["answers"] if x["dataset"] == "scifact"] == [
        "scifact-501"
    ]
    assert r.settings["files"]["scifact"]["claims"] == str(heldout)
    assert r.warnings == []

    # an unlabelled file (no `evidence`) and a split other than all: both said in the report
    unlabelled = root / "scifact" / "claims_test.jsonl"
    unlabelled.write_text(json.dumps({"id": 900, "claim": "Aspirin lowers stroke risk."}) + "\n")
    config = EvalConfig(root, tasks=("answers",), files={"scifact": {"claims": unlabelled}})
    r = _evaluate(FakeGateway(), config)
    assert any("--split all" in w for w in r.warnings)
    assert any("1 SciFact claims have no `evidence`" in w for w in r.warnings)


def test_a_missing_default_file_skips_with_its_path(tmp_path):
    root = write_tiny_datasets(tmp_path / "data")
    (root / "scifact" / "claims_train.jsonl").unlink()
    r = _evaluate(FakeGateway(), EvalConfig(root, split="all", tasks=("retrieval",)))
    assert "claims_train.jsonl" in r.skipped["retrieval"]
