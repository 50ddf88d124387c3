"""Every metric against values computed by hand, edge cases included."""

from __future__ import annotations

import math

import pytest
from evals_fakes import evidence as fake_evidence

from veritas_common.contract import AnswerStatus
from veritas_common.schemas import Answer, Claim, Usage
from veritas_evals import metrics as m
from veritas_evals.baselines import WordOverlapBaseline, content_words

L3, L5 = math.log2(3), math.log2(5)  # discounts of ranks 2 and 4


# ---------------------------------------------------------------------------------- retrieval


def test_ndcg_binary_relevance_by_hand():
    # DCG = 1/log2(3) + 1/log2(5); ideal = 1 + 1/log2(3)
    value = m.ndcg_at_k(["x", "a", "y", "b"], {"a": 1, "b": 1}, 10)
    assert value == pytest.approx((1 / L3 + 1 / L5) / (1 + 1 / L3))
    assert value == pytest.approx(0.650920, abs=1e-6)


def test_ndcg_graded_relevance_uses_linear_gain_and_ideal_from_qrels():
    # ranked b (grade 1) then a (grade 2): DCG = 1 + 2/log2(3); ideal = 2 + 1/log2(3)
    value = m.ndcg_at_k(["b", "a"], {"a": 2, "b": 1, "c": 0}, 10)
    assert value == pytest.approx((1 + 2 / L3) / (2 + 1 / L3))
    # a relevant doc that was not retrieved still counts in the ideal DCG
    assert m.ndcg_at_k(["a"], {"a": 1, "b": 1}, 10) == pytest.approx(1 / (1 + 1 / L3))


def test_ndcg_cuts_at_k_and_ideal_is_truncated_at_k():
    ranked = [f"n{i}" for i in range(10)] + ["a"]
    assert m.ndcg_at_k(ranked, {"a": 1}, 10) == 0.0
    many = {f"r{i}": 1 for i in range(12)}
    assert m.ndcg_at_k([f"r{i}" for i in range(12)], many, 10) == pytest.approx(1.0)


def test_no_relevant_docs_is_excluded_not_zero():
    assert m.ndcg_at_k(["a"], {}, 10) is None
    assert m.ndcg_at_k(["a"], {"a": 0}, 10) is None
    assert m.recall_at_k(["a"], {"a": 0}, 10) is None
    assert m.reciprocal_rank(["a"], {}) is None


def test_recall_at_k_by_hand():
    qrels = {"a": 1, "b": 1, "c": 1}
    assert m.recall_at_k(["a", "x", "b"], qrels, 2) == pytest.approx(1 / 3)
    assert m.recall_at_k(["a", "x", "b"], qrels, 10) == pytest.approx(2 / 3)
    assert m.recall_at_k([], qrels, 10) == 0.0


def test_reciprocal_rank_of_first_relevant():
    assert m.reciprocal_rank(["x", "y", "a", "b"], {"a": 1, "b": 1}) == pytest.approx(1 / 3)
    assert m.reciprocal_rank(["x", "y"], {"a": 1}) == 0.0


def test_repeated_documents_count_once_at_their_first_rank():
    # "x" twice must not push "b" down to rank 3
    assert m.reciprocal_rank(["x", "x", "b"], {"b": 1}) == pytest.approx(1 / 2)
    assert m.ndcg_at_k(["b", "b"], {"b": 1}, 10) == pytest.approx(1.0)
    assert m.recall_at_k(["x"] * 5 + ["b"], {"b": 1}, 2) == 1.0


def test_ties_keep_the_given_order_and_equal_grades_are_interchangeable():
    # Documents with equal scores stay in the API's order: the first one gets rank 1.
    assert m.reciprocal_rank(["b", "a"], {"a": 1}) == pytest.approx(0.5)
    # Two equally relevant docs: swapping them changes nothing.
    qrels = {"a": 1, "b": 1}
    assert m.ndcg_at_k(["a", "b", "x"], qrels, 10) == m.ndcg_at_k(["b", "a", "x"], qrels, 10)


def test_rank_documents_takes_each_docs_best_chunk():
    sources = ["scifact-1.md", "scifact-2.md", "scifact-1.md", "other.pdf", "scifact-3.md"]

    def doc_id_of(source):
        return source.removeprefix("scifact-").removesuffix(".md") if "scifact" in source else None

    assert m.rank_documents(sources, doc_id_of) == ["1", "2", "other.pdf", "3"]


def test_evaluate_run_averages_and_excludes_queries_without_relevant_docs():
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {}}
    run = {"q1": ["a"], "q2": ["x", "b"], "q3": ["a"]}
    scores = m.evaluate_run(run, qrels)
    assert scores.queries == 2 and scores.excluded == 1
    assert scores.mrr == pytest.approx((1 + 0.5) / 2)
    assert scores.ndcg_at_10 == pytest.approx((1 + 1 / L3) / 2)
    assert scores.recall_at_10 == scores.recall_at_100 == 1.0
    # a judged query the run has no entry for retrieved nothing
    missing = m.evaluate_run({"q1": ["a"]}, {"q1": {"a": 1}, "q2": {"b": 1}})
    assert missing.mrr == pytest.approx(0.5) and missing.queries == 2


def test_evaluate_run_with_nothing_to_evaluate_is_nan():
    scores = m.evaluate_run({}, {"q": {}})
    assert scores.queries == 0 and scores.excluded == 1 and math.isnan(scores.ndcg_at_10)


# ----------------------------------------------------------------------------- classification


def test_classification_report_by_hand():
    gold = ["S", "S", "U", "C", "C", "U"]
    pred = ["S", "U", "U", "C", "S", "U"]
    report = m.classification_report(gold, pred, ["S", "U", "C"])
    s, u, c = (report.per_class[k] for k in "SUC")
    assert (s.precision, s.recall, s.f1, s.support) == (0.5, 0.5, 0.5, 2)
    assert (u.precision, u.recall, u.f1) == pytest.approx((2 / 3, 1.0, 0.8))
    assert (c.precision, c.recall, c.f1) == pytest.approx((1.0, 0.5, 2 / 3))
    assert report.macro_f1 == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert report.accuracy == pytest.approx(4 / 6)


def test_classification_zero_division_is_zero():
    # CONTRADICTED never predicted (a word-overlap baseline cannot) -> precision 0;
    # a label never in gold -> recall 0.
    report = m.classification_report(["C", "S"], ["S", "S"], ["S", "C", "U"])
    assert report.per_class["C"].precision == 0.0 and report.per_class["C"].recall == 0.0
    assert report.per_class["U"].f1 == 0.0 and report.per_class["U"].support == 0
    assert report.per_class["S"].precision == 0.5 and report.per_class["S"].recall == 1.0
    with pytest.raises(ValueError):
        m.classification_report(["S"], [], ["S"])


# ---------------------------------------------------------------------------------- citations

GOLD_1 = "Aspirin lowered stroke risk by 20% in the treated group."
GOLD_2 = "Bleeding events were rare."
OTHER = "The trial enrolled 400 adults aged 50 and over."


def test_overlap_after_whitespace_normalisation():
    assert m.overlaps("Aspirin  lowered\nstroke risk by 20%\tin the treated group.", GOLD_1)
    # a quote spanning the gold sentence and its neighbour still covers the (shorter) gold
    assert m.overlaps(f"{OTHER} {GOLD_1}", GOLD_1)
    # a fragment of at least half the gold sentence
    assert m.overlaps("Aspirin lowered stroke risk by 20%", GOLD_1)
    # sharing a few boundary characters is not an overlap
    assert not m.overlaps("treated group. Bleeding events were rare.", GOLD_1)
    assert not m.overlaps(OTHER, GOLD_1)
    assert not m.overlaps("", GOLD_1) and not m.overlaps(GOLD_1, "   ")
    assert m.character_overlap("abcXdef", "zzabcdefzz") == 3


def _answer(claims, evidence) -> Answer:
    """An /v1/ask answer: claims as (text, citation ids), evidence E1.. as (source, quote)."""
    return Answer(
        answer_id="a",
        question="q",
        status=AnswerStatus.ANSWERED,
        answer=" ".join(t for t, _ in claims),
        claims=[Claim(text=t, citations=c, support=None, score=0.0) for t, c in claims],
        evidence=[fake_evidence(f"E{i}", s, q) for i, (s, q) in enumerate(evidence, 1)],
        refusal_reason=None,
        data=None,
        usage=Usage(
            prompt_tokens=0, completion_tokens=0, retrieve_ms=0, rerank_ms=0,
            prefill_ms=0, decode_ms=0, verify_ms=0, total_ms=0,
        ),
        trace=[],
    )  # fmt: skip


def test_citation_precision_recall_and_unsupported_by_hand():
    gold = {"doc-a.md": (GOLD_1, GOLD_2, "A third rationale sentence that nobody cites.")}
    answer = _answer(
        [("c1", ["E1"]), ("c2", ["E2", "E3"]), ("c3", ["E3"]), ("c4", [])],
        [("doc-a.md", GOLD_1), ("doc-a.md", OTHER), ("doc-b.md", GOLD_2)],
    )
    counts = m.score_citations(answer, gold)
    # E1 correct; E2 wrong text; E3 right text but another document
    assert (counts.cited, counts.correct) == (3, 1)
    assert (counts.gold_units, counts.gold_found) == (3, 1)
    # c2, c3 and the citation-less c4 rest on no correct citation
    assert (counts.claims, counts.unsupported_claims) == (4, 3)
    assert counts.precision == pytest.approx(1 / 3)
    assert counts.recall == pytest.approx(1 / 3)
    assert counts.unsupported_rate == pytest.approx(3 / 4)


def test_uncited_evidence_and_repeated_citations_count_once():
    gold = {"doc-a.md": (GOLD_1,)}
    answer = _answer([("c1", ["E1"]), ("c2", ["E1"])], [("doc-a.md", GOLD_1), ("doc-a.md", OTHER)])
    counts = m.score_citations(answer, gold)
    assert (counts.cited, counts.correct, counts.gold_found, counts.unsupported_claims) == (
        1,
        1,
        1,
        0,
    )


def test_refused_answer_has_no_precision_and_zero_recall():
    counts = m.score_citations(_answer([], []), {"doc-a.md": (GOLD_1,)})
    assert counts.precision is None and counts.unsupported_rate is None
    assert counts.recall == 0.0
    # not-enough-info case: no gold at all, any claim is unsupported
    nei = m.score_citations(_answer([("c", ["E1"])], [("doc-a.md", GOLD_1)]), {})
    assert nei.recall is None and nei.unsupported_rate == 1.0 and nei.precision == 0.0


def test_citation_counts_pool_micro_averaged():
    a = m.CitationCounts(cited=2, correct=2, gold_units=2, gold_found=2, claims=2)
    b = m.CitationCounts(
        cited=2, correct=0, gold_units=6, gold_found=0, claims=2, unsupported_claims=2
    )
    pooled = a + b
    assert pooled.precision == 0.5 and pooled.recall == 0.25 and pooled.unsupported_rate == 0.5


# ---------------------------------------------------------------------------------- decisions


def test_decisions_answered_partial_refused_and_uncertain():
    d = m.DecisionCounts()
    for expected, status in [
        ("answer", "ANSWERED"),
        ("answer", "PARTIAL"),
        ("answer", "REFUSED"),
        ("refuse", "REFUSED"),
        ("refuse", "ANSWERED"),
        ("uncertain", "REFUSED"),
        ("uncertain", "ANSWERED"),
        ("uncertain", "PARTIAL"),
    ]:
        d.add(expected, status)
    assert d.total == 5 and d.accuracy == pytest.approx(3 / 5)
    assert d.answer_rate == pytest.approx(2 / 3) and d.refusal_rate == 0.5
    assert d.uncertain == 3 and d.uncertain_answer_rate == pytest.approx(2 / 3)
    assert d.by_status == {"ANSWERED": 3, "PARTIAL": 2, "REFUSED": 3}
    empty = m.DecisionCounts()
    assert empty.accuracy is None and empty.refusal_rate is None


# ---------------------------------------------------------------------------- latency and cost


def test_percentile_interpolates_linearly():
    assert m.percentile([4, 1, 3, 2], 50) == pytest.approx(2.5)
    assert m.percentile([1, 2, 3, 4], 95) == pytest.approx(3.85)
    assert m.percentile([7], 95) == 7
    assert m.percentile([], 50) is None


def test_throughput_pools_requests_that_ran_the_model():
    usages = [
        {"prompt_tokens": 100, "completion_tokens": 10, "prefill_ms": 250, "decode_ms": 500},
        {"prompt_tokens": 0, "completion_tokens": 30, "prefill_ms": 250, "decode_ms": 1500},
        {"prompt_tokens": 0, "completion_tokens": 0, "prefill_ms": 0, "decode_ms": 0},
    ]
    t = m.throughput(usages)
    assert t.decode_tokens_per_s == pytest.approx(40 / 2.0)
    assert t.tokens_per_s == pytest.approx(140 / 2.5)
    assert t.requests_with_generation == 2
    none = m.throughput(usages[2:])
    assert none.decode_tokens_per_s is None and none.requests_with_generation == 0


def test_cost_per_1k_tokens():
    # $3.60/h at 20 tokens/s = 72,000 tokens/h -> $0.05 per 1,000
    assert m.cost_per_1k_tokens(3.6, 20.0) == pytest.approx(0.05)
    assert m.cost_per_1k_tokens(0.0, 20.0) == 0.0
    assert m.cost_per_1k_tokens(3.6, None) is None and m.cost_per_1k_tokens(3.6, 0) is None


# ------------------------------------------------------------------------------------ numbers


def test_matches_rounded_at_the_gold_decimals():
    assert m.matches_rounded(22.2222, 22.22, 2)
    assert not m.matches_rounded(22.226, 22.22, 2)
    assert m.matches_rounded(-6.7039, -6.7, 1)
    assert m.matches_rounded(425855.0, 425855, 0)
    assert not m.matches_rounded(425856.0, 425855, 0)
    assert m.matches_rounded(0.1 + 0.2, 0.3, 1)


def test_matches_tatqa_percent_allows_ratio_times_100():
    assert m.matches_tatqa(126 / 67 - 1, 88.06, 2, percent=True)
    assert not m.matches_tatqa(126 / 67 - 1, 88.06, 2, percent=False)
    assert m.matches_tatqa(45.0, 45, 0, percent=True)


def test_matches_relative():
    assert m.matches_relative(1.42403 * (1 + 9e-4), 1.42403)
    assert not m.matches_relative(1.42403 * (1 + 1.1e-3), 1.42403)
    assert m.matches_relative(0.0, 0.0) and not m.matches_relative(1e-6, 0.0)


# ----------------------------------------------------------------------------------- baseline


def test_word_overlap_baseline_by_hand():
    baseline = WordOverlapBaseline(threshold=0.5)
    assert content_words("The risk of stroke") == {"risk", "stroke"}
    # claim words: aspirin, reduces, risk, stroke; found: aspirin, risk, stroke -> 3/4
    label, score = baseline.verify(
        "Aspirin reduces the risk of stroke", ["aspirin reduced stroke risk"]
    )
    assert (label, score) == ("SUPPORTED", 0.75)
    assert baseline.verify("Aspirin reduces the risk of stroke", []) == ("UNSUPPORTED", 0.0)
    assert baseline.verify("the of", ["anything"]) == ("UNSUPPORTED", 0.0)
    assert baseline.verify("Aspirin cures colds", ["aspirin"])[0] == "UNSUPPORTED"  # 1/3
