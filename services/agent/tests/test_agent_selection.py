"""Evidence selection, the ranking reply parser, citations and structured-data checks, without
gRPC. Stored sentence vectors are the bag-of-words fake's; the judge's gate and candidate rules
run against a scripted judge (the real judge has its own tests: test_agent_calibration)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from agent_fakes import ACME_TEXT, FakeEmbedding, make_chunks, with_sentences

from veritas.v1 import common_pb2
from veritas_agent.citations import CitationError, CitationLedger, DraftClaim
from veritas_agent.evidence import EvidenceSelector, Span
from veritas_agent.models import Evidence, Hit
from veritas_agent.ranking import parse_selection, ranking_schema
from veritas_agent.structured import DataExtractor, parse_schema
from veritas_common.errors import InvalidArgument


class ScriptedJudge:
    """P(decides) by the first scripted phrase a text contains (else `default`); records what
    it was asked. Stands in for the model only where a test checks the selector's rules."""

    name = "scripted-judge"

    def __init__(self, script: dict[str, float], default: float = 0.05) -> None:
        self.script = script
        self.default = default
        self.asked: list[list[str]] = []

    async def probabilities(self, question, texts):
        self.asked.append(list(texts))
        rows = []
        for text in texts:
            p = next((v for k, v in self.script.items() if k in text), self.default)
            rows.append([1 - p, p, 0.0])
        return np.array(rows, dtype=np.float32)


def hits(doc_id: str = "acme0001") -> list[Hit]:
    return [Hit(chunk=c, retrieval_score=1.0) for c in make_chunks(doc_id)]


def qvec(question: str) -> np.ndarray:
    return np.array(FakeEmbedding.vector(question), dtype=np.float32)


class FallbackSelector:
    """The bi-encoder fallback (no judge), called like the agent calls it."""

    def __init__(self, **kwargs) -> None:
        options = {"relevance_threshold": 0.5, "min_similarity": 0.3, **kwargs}
        self.selector = EvidenceSelector(None, **options)

    async def select(self, question, chosen_hits):
        return await self.selector.select(question, chosen_hits, qvec(question))


def selector(**kwargs) -> tuple[FallbackSelector, None]:
    return FallbackSelector(**kwargs), None


async def test_candidates_are_ranked_above_the_threshold_with_document_offsets():
    sel, _ = selector()
    selection = await sel.select("What was Acme's total revenue in fiscal 2024?", hits())
    assert selection.ranked_by == EvidenceSelector.FALLBACK and selection.judged == 0
    assert selection.candidates, selection
    assert [c.id for c in selection.candidates] == [
        f"S{i}" for i in range(1, len(selection.candidates) + 1)
    ]
    scores = [c.score for c in selection.candidates]
    assert scores == sorted(scores, reverse=True) and scores[0] == selection.best_score
    assert all(c.score >= 0.5 and c.similarity >= 0.3 for c in selection.candidates)
    best = selection.candidates[0]
    assert "482.6" in best.text
    for span in best.spans:
        assert ACME_TEXT[span.char_start : span.char_end] == span.quote


async def test_threshold_and_similarity_floor_both_apply():
    question = "What was Acme's total revenue in fiscal 2024?"
    everything, _ = selector(relevance_threshold=0.0, min_similarity=-1.0, relevance_margin=1.0)
    strict, _ = selector(relevance_threshold=0.99)
    no_floor_only, _ = selector(relevance_threshold=0.0, min_similarity=0.99)
    loose = await everything.select(question, hits())
    assert len(loose.candidates) == min(8, loose.sentences_scored)
    assert (await strict.select(question, hits())).candidates == []
    assert (await no_floor_only.select(question, hits())).candidates == []


async def test_unrelated_question_has_no_candidates():
    sel, _ = selector()
    selection = await sel.select("Who won the 1998 football World Cup?", hits())
    assert selection.candidates == [] and selection.sentences_scored > 0


async def test_only_the_top_context_chunks_are_read():
    sel, _ = selector(context_chunks=1)
    selection = await sel.select("Capital expenditures Tampere plant", hits())
    assert selection.chunks_used == 1
    assert all(c.hit.chunk.ordinal == 0 for c in selection.candidates)


async def test_overlapping_chunks_do_not_repeat_a_sentence():
    [first, *_] = make_chunks("acme0001")
    overlap_chunk = common_pb2.Chunk()
    overlap_chunk.CopyFrom(first)
    overlap_chunk.chunk_id = "acme0001:dup"
    sel, _ = selector(relevance_threshold=0.0, min_similarity=-1.0, max_candidates=50)
    selection = await sel.select("revenue", [Hit(first, 2.0), Hit(overlap_chunk, 1.0)])
    spans = [(c.hit.chunk.doc_id, c.spans[0].char_start) for c in selection.candidates]
    assert len(spans) == len(set(spans))
    assert all(c.hit.chunk.chunk_id == first.chunk_id for c in selection.candidates)


async def test_chunks_whose_offsets_do_not_match_their_text_are_skipped():
    [bad, good, *_] = make_chunks("acme0001")
    bad.char_end += 5  # text no longer fits [char_start:char_end]
    sel, _ = selector()
    selection = await sel.select("Tampere plant people", [Hit(bad, 2.0), Hit(good, 1.0)])
    assert selection.inconsistent_chunks == [bad.chunk_id]
    assert all(c.hit.chunk.chunk_id == good.chunk_id for c in selection.candidates)


async def test_table_chunks_split_by_row():
    text = "Test\tResult\nHemoglobin\t13.5 g/dL\nPlatelets\t250"
    chunk = with_sentences(common_pb2.Chunk(
        chunk_id="lab:0", doc_id="lab", char_start=100, char_end=100 + len(text), text=text,
        modality=common_pb2.MODALITY_TABLE,
    ))  # fmt: skip
    sel, _ = selector(relevance_threshold=0.3, min_similarity=0.1)
    selection = await sel.select("hemoglobin level", [Hit(chunk, 1.0)])
    [candidate] = selection.candidates
    assert candidate.text == "Test: Hemoglobin; Result: 13.5 g/dL."
    assert [s.quote for s in candidate.spans] == ["Hemoglobin\t13.5 g/dL", "Test\tResult"]
    assert candidate.spans[0].char_start == 100 + len("Test\tResult\n")


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('{"selected": ["S2", "S1"]}', ["S2", "S1"]),
        ('{"selected": ["S2", "S2", "S9", 3, null, "S3", "S1"]}', ["S2", "S3", "S1"]),
        ('{"selected": ["S1", "S2", "S3", "S4"]}', ["S1", "S2", "S3"]),
        ('{"selected": []}', "reply selects no valid id"),
        ('{"selected": ["S9"]}', "reply selects no valid id"),
        ('{"chosen": ["S1"]}', "reply has no 'selected' list"),
        ('["S1"]', "reply has no 'selected' list"),
        ('{"selected": ["S1"', "reply is not JSON"),
        ("", "reply is not JSON"),
    ],
)
def test_parse_selection(reply, expected):
    result = parse_selection(reply, ["S1", "S2", "S3", "S4"], max_claims=3)
    if isinstance(expected, list):
        assert result == expected
    else:
        assert isinstance(result, str) and result.startswith(expected)


def test_ranking_schema_allows_only_candidate_ids():
    from jsonschema import Draft202012Validator

    schema = ranking_schema(["S1", "S2"], max_claims=1)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    assert validator.is_valid({"selected": ["S2"]})
    assert not validator.is_valid({"selected": ["S3"]})
    assert not validator.is_valid({"selected": ["S1", "S2"]})
    assert not validator.is_valid({"selected": []})  # at least one: all cleared the bar
    assert not validator.is_valid({})


def test_ledger_numbers_evidence_in_order_of_first_citation():
    all_hits = hits()
    ledger = CitationLedger(all_hits)
    a = Span(all_hits[0], 0, 10)
    b = Span(all_hits[1], 0, 9)
    evidence, citations = ledger.number(
        [DraftClaim("x", [b]), DraftClaim("y", [a, b]), DraftClaim("z", [a])]
    )
    assert [e.id for e in evidence] == ["E1", "E2"]
    assert (evidence[0].chunk_id, evidence[1].chunk_id) == (
        all_hits[1].chunk.chunk_id, all_hits[0].chunk.chunk_id
    )  # fmt: skip
    assert citations == [["E1"], ["E2", "E1"], ["E2"]]
    assert evidence[0].char_start == all_hits[1].chunk.char_start
    assert isinstance(evidence[0], Evidence) and evidence[0].rerank_score == 0.0


def test_ledger_refuses_spans_not_retrieved_for_the_question():
    retrieved, other = hits("acme0001"), hits("zent0001")
    ledger = CitationLedger(retrieved)
    with pytest.raises(CitationError, match="was not retrieved"):
        ledger.number([DraftClaim("x", [Span(other[0], 0, 5)])])
    with pytest.raises(CitationError, match="outside chunk"):
        ledger.number([DraftClaim("x", [Span(retrieved[0], 0, 10_000)])])
    # Same chunk id, different object: not the hit retrieved for this question.
    lookalike = Hit(chunk=retrieved[0].chunk, retrieval_score=9.0)
    with pytest.raises(CitationError):
        ledger.number([DraftClaim("x", [Span(lookalike, 0, 5)])])


def test_parse_schema_accepts_draft_2020_12_and_rejects_the_rest():
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "prefixItems": [{"type": "string"}],
        "properties": {"v": {"type": ["number", "null"]}},
    }
    assert parse_schema(json.dumps(schema), 10_000) == schema
    with pytest.raises(InvalidArgument, match="at properties/v/type"):
        parse_schema('{"properties": {"v": {"type": "decimal"}}}', 10_000)


def test_data_check_reports_why_output_is_rejected():
    extractor = DataExtractor(generator=None)  # type: ignore[arg-type]
    schema = {"type": "object", "properties": {"value": {"type": "number"},
              "unit": {"type": "string"}, "year": {"type": "integer"}}}  # fmt: skip
    evidence = ["Total revenue rose 12.4% to $482.6 million in fiscal 2024."]
    assert extractor.check('{"value": 482.6, "unit": "USD millions", "year": 2024}', schema,
                           evidence) == ""  # fmt: skip
    assert extractor.check('{"value": 482.60}', schema, evidence) == ""
    assert "numbers not in the evidence: 2025" in extractor.check(
        '{"year": 2025}', schema, evidence
    )
    assert "numbers not in the evidence: 9" in extractor.check(
        '{"unit": "9 USD"}', schema, evidence
    )
    assert extractor.check('{"year": 20.5}', schema, evidence).startswith("output invalid at year")
    assert extractor.check("  ", schema, evidence) == "empty output"
    # A figure the calculator re-derives from two cited ones is grounded; a near miss is not.
    table = ["| Revenue | 482.6 | 429.4 |"]
    assert extractor.check('{"value": 53.2}', schema, table) == ""
    assert "numbers not in the evidence: 53.9" in extractor.check('{"value": 53.9}', schema, table)
    lenient = DataExtractor(generator=None, require_grounded_numbers=False)  # type: ignore[arg-type]
    assert lenient.check('{"year": 2025}', schema, evidence) == ""


async def test_only_sentences_near_the_best_are_kept():
    question = "What was Acme's total revenue in fiscal 2024?"
    wide, _ = selector(relevance_threshold=0.0, min_similarity=-1.0, relevance_margin=1.0)
    narrow, _ = selector(relevance_threshold=0.0, min_similarity=-1.0, relevance_margin=0.05)
    all_scores = [c.score for c in (await wide.select(question, hits())).candidates]
    kept = [c.score for c in (await narrow.select(question, hits())).candidates]
    assert kept == [s for s in all_scores if s >= all_scores[0] - 0.05]
    assert len(kept) < len(all_scores)


async def test_stored_vectors_are_used_and_a_chunk_without_them_is_split_here():
    question = "What was Acme's total revenue in fiscal 2024?"
    stored = hits()
    bare = hits()
    for hit in bare:
        del hit.chunk.sentences[:]  # indexed before sentences were stored
    with_vectors = await FallbackSelector().select(question, stored)
    without = await FallbackSelector(relevance_threshold=0.3).select(question, bare)
    assert with_vectors.sentences_scored == without.sentences_scored > 0
    assert with_vectors.candidates[0].similarity > 0
    assert without.candidates and all(c.similarity == 0 for c in without.candidates)
    assert "482.6" in without.candidates[0].text


async def test_the_gate_refuses_when_no_sentence_decides_the_question():
    judge = ScriptedJudge({"482.6": 0.3})
    sel = EvidenceSelector(judge, gate_threshold=0.6)  # type: ignore[arg-type]
    question = "What was Acme's total revenue in fiscal 2024?"
    selection = await sel.select(question, hits(), qvec(question))
    assert selection.candidates == [] and selection.best_score == pytest.approx(0.3)
    assert "answerability gate 0.60" in selection.refusal
    assert selection.ranked_by == "scripted-judge"
    # Switched off (the ablation), the best sentence is taken however weak.
    ungated = await sel.select(question, hits(), qvec(question), gate=False)
    assert ungated.refusal == "" and "482.6" in ungated.candidates[0].text


async def test_judge_ranks_candidates_within_its_margin_and_above_its_floor():
    judge = ScriptedJudge({"482.6": 0.9, "61.3": 0.6, "Tampere": 0.3, "growth": 0.15})
    sel = EvidenceSelector(  # type: ignore[arg-type]
        judge, gate_threshold=0.5, judge_margin=0.65, candidate_floor=0.2, judge_limit=50
    )
    question = "What was Acme's total revenue in fiscal 2024?"
    selection = await sel.select(question, hits(), qvec(question))
    scores = [round(c.score, 2) for c in selection.candidates]
    assert scores == sorted(scores, reverse=True) and scores[0] == 0.9
    assert min(scores) >= 0.25  # best - margin, above the floor: "growth" (0.15) is out
    assert "482.6" in selection.candidates[0].text
    # The judge read the sentences in context (title and headings), once each.
    (asked,) = judge.asked
    assert all(t.startswith("Acme Instruments Annual Report 2024") for t in asked)
    assert len(asked) == len(set(asked)) == selection.judged


async def test_only_the_prefilters_best_sentences_are_judged():
    judge = ScriptedJudge({})
    sel = EvidenceSelector(  # type: ignore[arg-type]
        judge, judge_limit=3, relevance_threshold=0.0, min_similarity=-1.0
    )
    question = "Capital expenditures Tampere plant"
    selection = await sel.select(question, hits(), qvec(question))
    assert selection.judged == 3 and selection.sentences_scored > 3
    assert any("Capital expenditures" in t for t in judge.asked[0])
