"""Every loader on the real files in ../shared/data (skipped when the folder is absent)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from veritas_evals.cli import default_data_dir
from veritas_evals.datasets import (
    ConvFinQA,
    PubMedQA,
    SciFact,
    TatQA,
    decimal_places,
    markdown_escape,
    markdown_table,
)
from veritas_evals.metrics import matches_relative

DATA = default_data_dir()
pytestmark = pytest.mark.skipif(
    DATA is None, reason="../shared/data (evaluation datasets) is not present on this machine"
)


@pytest.fixture(scope="module")
def scifact():
    return SciFact.load(DATA)


@pytest.fixture(scope="module")
def pubmedqa():
    return PubMedQA.load(DATA)


@pytest.fixture(scope="module")
def tatqa():
    return TatQA.load(DATA)


@pytest.fixture(scope="module")
def convfinqa():
    return ConvFinQA.load(DATA)


def _markdown_text(source: str) -> str:
    """The text CommonMark gives back (what ingestion's Markdown parser reads)."""
    markdown_it = pytest.importorskip("markdown_it")
    tokens = markdown_it.MarkdownIt("commonmark").enable(["table"]).parse(source)
    parts = []
    for token in tokens:
        if token.type == "inline":
            parts.append("".join(c.content for c in token.children if c.type == "text"))
    return "\n".join(parts)


# ------------------------------------------------------------------------------------ SciFact


def test_scifact_counts(scifact):
    assert len(scifact.corpus) == 5183
    assert len(scifact.claims) == 809
    with_evidence = [c for c in scifact.claims if c.evidence]
    assert len(with_evidence) == 505 and len(scifact.claims) - len(with_evidence) == 304
    labels = Counter(rs.label for c in with_evidence for sets in c.evidence.values() for rs in sets)
    assert labels == {"SUPPORT": 616, "CONTRADICT": 341}


def test_scifact_cases_carry_the_gold(scifact):
    claim = next(c for c in scifact.claims if c.claim_id == "2")
    assert claim.claim == "1 in 5 million in UK have abnormal PrP positivity."
    assert list(claim.evidence) == ["13734012"]
    doc = scifact.corpus["13734012"]
    assert scifact.rationale_sentences(claim, "13734012") == (doc.sentences[4],)
    (retrieval,) = scifact.retrieval_cases([claim])
    assert retrieval.query == claim.claim and retrieval.qrels == {"13734012": 1}
    (answer,) = scifact.answer_cases([claim])
    assert answer.expected == "answer"
    assert answer.gold == {"scifact-13734012.md": (doc.sentences[4],)}
    verifier = scifact.verifier_cases([claim], seed=0)
    assert [v.label for v in verifier] == ["CONTRADICTED", "UNSUPPORTED"]
    assert verifier[0].evidence == (doc.sentences[4],)
    assert verifier[1].evidence[0] in doc.sentences and verifier[1].evidence[0] != doc.sentences[4]
    assert len(scifact.retrieval_cases(scifact.claims)) == 505
    expected = Counter(c.expected for c in scifact.answer_cases(scifact.claims))
    assert expected == {"answer": 505, "refuse": 304}


def test_scifact_document_name_maps_back_and_text_survives_markdown(scifact):
    doc = scifact.document("4983")
    assert doc.source == "scifact-4983.md" and scifact.doc_id_of(doc.source) == "4983"
    assert scifact.doc_id_of("pubmedqa-1.md") is None
    text = _markdown_text(doc.text)
    corpus_doc = scifact.corpus["4983"]
    assert corpus_doc.title in text
    for sentence in corpus_doc.sentences:  # "(n = 17)", "+/-", "1.8 microm2/ms" unchanged
        assert " ".join(sentence.split()) in text


def test_scifact_corpus_subset_has_every_needed_doc_and_fixed_distractors(scifact):
    claims = scifact.claims[:20]
    subset = scifact.corpus_subset(claims, 60, seed=0)
    needed = {d for c in claims for d in (*c.evidence, *c.cited_doc_ids)}
    assert needed <= set(subset) and len(subset) == 60 == len(set(subset))
    assert subset == scifact.corpus_subset(claims, 60, seed=0)
    assert subset != scifact.corpus_subset(claims, 60, seed=1)
    assert len(scifact.corpus_subset(claims, None, seed=0)) == 5183
    # a limit below what the claims need still ingests everything they need
    assert set(scifact.corpus_subset(claims, 1, seed=0)) == needed


# ----------------------------------------------------------------------------------- PubMedQA


def test_pubmedqa_counts_and_cases(pubmedqa):
    assert len(pubmedqa.items) == 500
    assert Counter(i.decision for i in pubmedqa.items) == {"yes": 276, "no": 169, "maybe": 55}
    cases = pubmedqa.answer_cases(pubmedqa.items)
    assert Counter(c.expected for c in cases) == {"answer": 445, "uncertain": 55}
    item = pubmedqa.items[0]
    case = cases[0]
    assert case.question == item.question
    assert case.gold == {f"pubmedqa-{item.pmid}.md": item.contexts}


def test_pubmedqa_document_has_contexts_not_the_conclusion(pubmedqa):
    raw = json.loads((DATA / "pubmedqa" / "pqal_dev.json").read_text())
    item = pubmedqa.items[0]
    text = _markdown_text(pubmedqa.document(item).text)
    for context in item.contexts:
        assert " ".join(context.split()) in text
    assert raw[item.pmid]["LONG_ANSWER"] not in text


# ------------------------------------------------------------------------------------- TAT-QA


def test_tatqa_counts(tatqa):
    assert len(tatqa.contexts) == 278
    assert len(tatqa.questions) == 1668
    assert Counter(q.answer_type for q in tatqa.questions)["arithmetic"] == 718


def test_tatqa_calculation_cases_reproduce_the_gold(tatqa):
    cases = tatqa.calculation_cases()
    # nearly every arithmetic derivation is a plain expression (comparisons and words are not)
    assert 700 <= len(cases) <= 718
    case = next(c for c in cases if c.case_id == "tatqa-eb787966-fa02-401f-bfaf-ccabf3828b23")
    assert (case.expression, case.gold, case.decimals) == ("44.1-56.7", -12.6, 1)
    from veritas_evals.tasks.calculator import calculation_correct

    # the exact value of the derivation matches the gold under the stated rounding rule
    reproduced = sum(calculation_correct(c, c.exact) for c in cases) / len(cases)
    assert reproduced > 0.95


def test_tatqa_document_keeps_table_and_paragraphs(tatqa):
    ctx = tatqa.contexts[0]
    text = _markdown_text(tatqa.document(ctx).text)
    assert "$1,496.5" in text and "Total sales" in text
    assert ctx.paragraphs[0] in text
    assert len(tatqa.extraction_cases()) > 900


# ---------------------------------------------------------------------------------- ConvFinQA


def test_convfinqa_counts(convfinqa):
    assert len(convfinqa.conversations) == 421
    assert convfinqa.turns == 1490
    assert all(len(c.questions) == len(c.programs) for c in convfinqa.conversations)


def test_convfinqa_programs_become_expressions_with_the_programs_value(convfinqa):
    cases = convfinqa.calculation_cases()
    first = [c for c in cases if c.case_id.startswith("convfinqa-Single_MRO/2007/page_134.pdf-1#")]
    assert [c.expression for c in first] == ["60.94 - 25.14", "(60.94 - 25.14) / 25.14"]
    assert first[-1].gold == 1.42403  # the dataset's answer for the last turn
    conv_by_id = {c.conv_id: c for c in convfinqa.conversations}
    for case in cases[::25]:
        conv_id, turn = case.case_id.removeprefix("convfinqa-").rsplit("#", 1)
        scope: dict = {}
        exec(conv_by_id[conv_id].programs[int(turn)], {}, scope)  # trusted dataset text
        assert case.exact == pytest.approx(scope["ans"], rel=1e-12)
        assert matches_relative(case.exact, case.gold)


def test_convfinqa_document(convfinqa):
    conv = convfinqa.conversations[0]
    doc = convfinqa.document(conv)
    assert doc.source == "convfinqa-Single_MRO_2007_page_134.pdf-1.md"
    assert "weighted average exercise price per share" in _markdown_text(doc.text)


# ------------------------------------------------------------------------------------ helpers


def test_markdown_escape_and_table_round_trip():
    text = "*not emphasis* [no link](x) <b>no html</b> # 1. a_b `c` \\ 5 | 6"
    assert _markdown_text(markdown_escape(text)) == text
    table = markdown_table([["", "2019"], ["Total | net", "$1,496.5", "extra"]])
    assert table.splitlines()[1] == "| --- | --- | --- |"
    assert "Total | net" in _markdown_text(table)


def test_decimal_places():
    assert decimal_places(22.22) == 2
    assert decimal_places(45) == 0
    assert decimal_places(-6.7) == 1
    assert decimal_places(["1.50"]) == 2
