"""Metrics, each a pure function of predictions and gold labels (no I/O, no service code).

Retrieval follows BEIR (pytrec_eval) conventions: graded relevance from the qrels, linear gain,
log2 discount, ideal DCG from the qrels, documents absent from the qrels count 0, Recall@k =
relevant retrieved in the top k / all relevant, MRR = 1 / rank of the first relevant document.
Queries without any relevant document are excluded (returned as None). The ranking is taken as
given (the API's order); a repeated document counts once, at its first rank.
"""

from __future__ import annotations

import math
import statistics
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from veritas_common.schemas import Answer, Evidence

# ----------------------------------------------------------------------------------- retrieval


def unique_in_order(items: Iterable[str]) -> list[str]:
    """Keeps the first occurrence of every item."""
    return list(dict.fromkeys(items))


def ndcg_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float | None:
    """nDCG@k with linear gain and log2 discount; None when the qrels hold no relevant doc."""
    ideal = sorted((g for g in qrels.values() if g > 0), reverse=True)[:k]
    if not ideal:
        return None
    gains = [max(qrels.get(doc, 0), 0) for doc in unique_in_order(ranked)[:k]]
    return _dcg(gains) / _dcg(ideal)


def _dcg(gains: Sequence[float]) -> float:
    return sum(g / math.log2(rank + 2) for rank, g in enumerate(gains))


def recall_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float | None:
    relevant = {doc for doc, g in qrels.items() if g > 0}
    if not relevant:
        return None
    return len(relevant & set(unique_in_order(ranked)[:k])) / len(relevant)


def reciprocal_rank(ranked: Sequence[str], qrels: Mapping[str, int]) -> float | None:
    if not any(g > 0 for g in qrels.values()):
        return None
    for rank, doc in enumerate(unique_in_order(ranked), start=1):
        if qrels.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


@dataclass
class RetrievalScores:
    """Means over the evaluated queries (those with at least one relevant document)."""

    ndcg_at_10: float
    recall_at_10: float
    recall_at_100: float
    mrr: float
    queries: int
    excluded: int


def evaluate_run(
    run: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]]
) -> RetrievalScores:
    """Scores a run (query id -> ranked doc ids) against qrels (query id -> doc -> grade).
    A query with qrels but no run entry retrieved nothing (scores 0)."""
    rows: list[tuple[float, float, float, float]] = []
    excluded = 0
    for qid, judged in qrels.items():
        ranked = run.get(qid, [])
        ndcg = ndcg_at_k(ranked, judged, 10)
        if ndcg is None:
            excluded += 1
            continue
        r10 = recall_at_k(ranked, judged, 10)
        r100 = recall_at_k(ranked, judged, 100)
        rr = reciprocal_rank(ranked, judged)
        assert r10 is not None and r100 is not None and rr is not None
        rows.append((ndcg, r10, r100, rr))
    if not rows:
        nan = float("nan")
        return RetrievalScores(nan, nan, nan, nan, 0, excluded)
    ndcg, r10, r100, rr = (statistics.fmean(col) for col in zip(*rows, strict=True))
    return RetrievalScores(ndcg, r10, r100, rr, queries=len(rows), excluded=excluded)


def rank_documents(sources: Iterable[str], doc_id_of: Any) -> list[str]:
    """Chunk results (by their `source`) -> documents, each at its best-ranked chunk. A source
    the dataset does not know keeps its own name, so it still takes up its rank."""
    return unique_in_order((doc_id_of(s) or s) for s in sources)


# ------------------------------------------------------------------------------ classification


@dataclass
class ClassScores:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class ClassificationReport:
    per_class: dict[str, ClassScores]
    macro_f1: float
    accuracy: float
    n: int


def classification_report(
    gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]
) -> ClassificationReport:
    """Per-class precision, recall, F1 and macro-F1 over `labels`. A class never predicted has
    precision 0, one never in gold recall 0 (scikit-learn's zero_division=0)."""
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted differ in length")
    per_class = {}
    for label in labels:
        tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label and p == label)
        predicted_n = sum(1 for p in predicted if p == label)
        support = sum(1 for g in gold if g == label)
        precision = tp / predicted_n if predicted_n else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = ClassScores(precision, recall, f1, support)
    macro = statistics.fmean(c.f1 for c in per_class.values()) if per_class else float("nan")
    correct = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p)
    accuracy = correct / len(gold) if gold else float("nan")
    return ClassificationReport(per_class, macro, accuracy, len(gold))


# ----------------------------------------------------------------------------------- citations

# A citation is correct when its quote and a gold unit (rationale sentence, context) from the
# same document share a run of characters, after whitespace normalisation, at least this share
# of the shorter of the two. Sentence splitters disagree at the edges; a shared boundary of a
# few characters is not an overlap, a whole sentence inside a context is.
MIN_OVERLAP_SHARE = 0.5


def normalise_whitespace(text: str) -> str:
    """NFC, invisible format characters dropped, whitespace runs as one space (what ingestion
    does to document text)."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return " ".join(text.split())


def character_overlap(a: str, b: str) -> int:
    """Length of the longest run of characters `a` and `b` share, after normalisation."""
    a, b = normalise_whitespace(a), normalise_whitespace(b)
    if not a or not b:
        return 0
    if a in b or b in a:
        return min(len(a), len(b))
    match = SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b))
    return match.size


def overlaps(quote: str, gold: str, share: float = MIN_OVERLAP_SHARE) -> bool:
    shorter = min(len(normalise_whitespace(quote)), len(normalise_whitespace(gold)))
    return shorter > 0 and character_overlap(quote, gold) >= share * shorter


@dataclass
class CitationCounts:
    """Citation counts of one or more answers (sums, so they pool micro-averaged)."""

    cited: int = 0  # distinct evidence spans cited by some claim
    correct: int = 0  # of those, spans overlapping a gold unit of their document
    gold_units: int = 0
    gold_found: int = 0  # gold units overlapped by at least one cited span
    claims: int = 0
    unsupported_claims: int = 0  # claims none of whose citations is correct

    def __add__(self, other: CitationCounts) -> CitationCounts:
        return CitationCounts(
            *(getattr(self, f) + getattr(other, f) for f in self.__dataclass_fields__)
        )

    @property
    def precision(self) -> float | None:
        return self.correct / self.cited if self.cited else None

    @property
    def recall(self) -> float | None:
        return self.gold_found / self.gold_units if self.gold_units else None

    @property
    def unsupported_rate(self) -> float | None:
        return self.unsupported_claims / self.claims if self.claims else None


def judge_citations(
    answer: Answer, gold: Mapping[str, Sequence[str]]
) -> list[tuple[Evidence, bool]]:
    """Each distinct evidence span some claim cites, in citation order, and whether it is
    correct (overlaps a gold unit of its own document)."""
    evidence = {ev.id: ev for ev in answer.evidence}
    cited = unique_in_order(c for claim in answer.claims for c in claim.citations if c in evidence)
    return [
        (
            evidence[cid],
            any(overlaps(evidence[cid].quote, u) for u in gold.get(evidence[cid].source, ())),
        )
        for cid in cited
    ]


def score_citations(answer: Answer, gold: Mapping[str, Sequence[str]]) -> CitationCounts:
    """Scores an /v1/ask answer's citations against gold units keyed by document source."""
    judged = judge_citations(answer, gold)
    good = {ev.id for ev, ok in judged if ok}
    units = [(source, unit) for source, group in gold.items() for unit in group]
    found = sum(
        1
        for source, unit in units
        if any(ev.source == source and overlaps(ev.quote, unit) for ev, _ in judged)
    )
    claims = answer.claims
    unsupported = sum(1 for claim in claims if not any(c in good for c in claim.citations))
    return CitationCounts(len(judged), len(good), len(units), found, len(claims), unsupported)


# ------------------------------------------------------------------------------------ decisions


def decision(status: str) -> str:
    """ANSWERED and PARTIAL answer; REFUSED refuses."""
    return "refuse" if status == "REFUSED" else "answer"


@dataclass
class DecisionCounts:
    """How often the answer/refuse decision matched the gold expectation."""

    correct: int = 0
    total: int = 0
    answerable: int = 0
    answered_answerable: int = 0
    unanswerable: int = 0
    refused_unanswerable: int = 0
    uncertain: int = 0
    answered_uncertain: int = 0
    by_status: dict[str, int] = field(default_factory=dict)

    def add(self, expected: str, status: str) -> None:
        self.by_status[status] = self.by_status.get(status, 0) + 1
        made = decision(status)
        if expected == "uncertain":
            self.uncertain += 1
            self.answered_uncertain += made == "answer"
            return
        self.total += 1
        self.correct += made == expected
        if expected == "answer":
            self.answerable += 1
            self.answered_answerable += made == "answer"
        else:
            self.unanswerable += 1
            self.refused_unanswerable += made == "refuse"

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.total if self.total else None

    @property
    def answer_rate(self) -> float | None:
        return self.answered_answerable / self.answerable if self.answerable else None

    @property
    def refusal_rate(self) -> float | None:
        return self.refused_unanswerable / self.unanswerable if self.unanswerable else None

    @property
    def uncertain_answer_rate(self) -> float | None:
        return self.answered_uncertain / self.uncertain if self.uncertain else None


# ------------------------------------------------------------------------------ latency, cost


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in [0, 100]); None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    pos = (len(ordered) - 1) * q / 100
    low, high = math.floor(pos), min(math.floor(pos) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


STAGES = ("retrieve_ms", "rerank_ms", "prefill_ms", "decode_ms", "verify_ms", "total_ms")


@dataclass
class Throughput:
    """Generation throughput from `usage` (sequential requests, one at a time)."""

    decode_tokens_per_s: float | None  # completion tokens / decode seconds
    tokens_per_s: float | None  # (prompt + completion) tokens / (prefill + decode) seconds
    requests_with_generation: int


def throughput(usages: Iterable[Mapping[str, float]]) -> Throughput:
    """Pooled over the requests that ran the model (decode_ms > 0)."""
    generated = [u for u in usages if u.get("decode_ms", 0) > 0]
    completion = sum(u.get("completion_tokens", 0) for u in generated)
    prompt = sum(u.get("prompt_tokens", 0) for u in generated)
    decode_s = sum(u["decode_ms"] for u in generated) / 1000
    model_s = decode_s + sum(u.get("prefill_ms", 0) for u in generated) / 1000
    return Throughput(
        completion / decode_s if decode_s > 0 else None,
        (prompt + completion) / model_s if model_s > 0 else None,
        len(generated),
    )


def cost_per_1k_tokens(price_per_hour: float, tokens_per_s: float | None) -> float | None:
    """Accelerator price per hour over tokens produced per hour, per 1,000 tokens."""
    if tokens_per_s is None or tokens_per_s <= 0:
        return None
    return price_per_hour / (tokens_per_s * 3600) * 1000


# ------------------------------------------------------------------------------------- numbers


def matches_rounded(value: float, gold: float, decimals: int) -> bool:
    """True when `value` rounds to `gold` at `decimals` places: within half a unit of the last
    place (a relative 1e-9 absorbs binary floating point)."""
    half_unit = 0.5 * 10.0**-decimals
    return abs(value - gold) <= half_unit + 1e-9 * max(1.0, abs(gold))


def matches_tatqa(value: float, gold: float, decimals: int, percent: bool) -> bool:
    """TAT-QA: the value, or for percent-scale answers the ratio x 100, rounds to the gold."""
    candidates = [value, value * 100] if percent else [value]
    return any(matches_rounded(c, gold, decimals) for c in candidates)


def matches_relative(value: float, gold: float, rel: float = 1e-3) -> bool:
    """Within a relative `rel` of `gold` (absolute 1e-9 when gold is 0)."""
    return math.isclose(value, gold, rel_tol=rel, abs_tol=1e-9)
