"""Training pairs for the evidence judge, from the train part of the development data only.

A pair is (question or claim, sentence in its context, label) with label NEI, SUPPORT or
CONTRADICT (`veritas_common.judge.LABELS`). Sources, each documented where it is built:
- SciFact train claims: rationale sentences carry their set's label; the other sentences of an
  evidence abstract, every sentence of the abstracts a not-enough-info claim cites (related,
  not deciding: exactly what the answerability gate must learn to refuse) and the closest
  sentences of lexically retrieved other abstracts (TF-IDF hard negatives) are NEI;
- negation perturbations of SciFact claims (`negation.negate`) over the same rationales, with
  the label flipped;
- PubMedQA yes/no questions: sentences of the last context (the results) SUPPORT a yes and
  CONTRADICT a no; earlier contexts (background, methods) and other abstracts are NEI;
- TAT-QA questions: table rows and paragraph sentences holding an answer value or a figure of
  the derivation SUPPORT it; the context's other rows and sentences are NEI.
The tuning part (`veritas_evals.datasets.document_split`) is never read here.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from veritas_common.judge import CONTRADICT, NEI, SUPPORT, judge_text
from veritas_common.sentences import split_sentences
from veritas_evals.datasets import PubMedQA, SciFact, SciFactClaim, Split, document_split
from veritas_training.negation import negate


@dataclass(frozen=True)
class Pair:
    question: str
    text: str
    label: int
    # Where the pair comes from (dataset and kind), for the data card's counts.
    source: str


def data_hash(pairs: Sequence[Pair]) -> str:
    """SHA-256 over the pairs in order: the recipe records it so a rebuild can be checked."""
    digest = hashlib.sha256()
    for pair in pairs:
        digest.update(json.dumps(asdict(pair), sort_keys=True).encode())
        digest.update(b"\n")
    return digest.hexdigest()


class _LexicalIndex:
    """TF-IDF over abstracts (title and text), for hard negatives."""

    def __init__(self, scifact: SciFact, doc_ids: Sequence[str]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.doc_ids = list(doc_ids)
        texts = [
            scifact.corpus[d].title + " " + " ".join(scifact.corpus[d].sentences)
            for d in self.doc_ids
        ]
        self.vectorizer = TfidfVectorizer(sublinear_tf=True, stop_words="english")
        self.matrix = self.vectorizer.fit_transform(texts)

    def top(self, query: str, k: int) -> list[str]:
        scores = (self.matrix @ self.vectorizer.transform([query]).T).toarray().ravel()
        return [self.doc_ids[i] for i in scores.argsort()[::-1][:k]]

    def closest(self, query: str, sentences: Sequence[str], k: int) -> list[int]:
        vectors = self.vectorizer.transform(list(sentences))
        scores = (vectors @ self.vectorizer.transform([query]).T).toarray().ravel()
        return [int(i) for i in scores.argsort()[::-1][:k]]


def scifact_pairs(
    scifact: SciFact,
    claims: Sequence[SciFactClaim],
    rng: random.Random,
    *,
    split: Split = "train",
    hard_negative_docs: int = 3,
    max_context_negatives: int = 4,
    untitled: float = 0.3,
) -> list[Pair]:
    """Pairs of `claims`; hard negatives come from the abstracts of `split` only."""
    index = _LexicalIndex(scifact, scifact.doc_ids_of(split))
    pairs: list[Pair] = []

    def text(doc_id: str, i: int) -> str:
        # A share of sentences go without their title, as quotes reach the Verify tool.
        doc = scifact.corpus[doc_id]
        return judge_text(doc.sentences[i], doc.title if rng.random() >= untitled else "")

    for claim in claims:
        used_docs = {*claim.evidence, *claim.cited_doc_ids}
        for doc_id, sets in claim.evidence.items():
            if doc_id not in scifact.corpus:
                continue
            n = len(scifact.corpus[doc_id].sentences)
            rationale: set[int] = set()
            for rs in sets:
                label = SUPPORT if rs.label == "SUPPORT" else CONTRADICT
                flipped = CONTRADICT if label == SUPPORT else SUPPORT
                negated = negate(claim.claim)
                for i in rs.sentences:
                    if i >= n:
                        continue
                    rationale.add(i)
                    pairs.append(Pair(claim.claim, text(doc_id, i), label, "scifact:rationale"))
                    if negated:
                        pairs.append(Pair(negated, text(doc_id, i), flipped, "scifact:negated"))
            others = [i for i in range(n) if i not in rationale]
            for i in rng.sample(others, min(max_context_negatives, len(others))):
                pairs.append(Pair(claim.claim, text(doc_id, i), NEI, "scifact:same-abstract"))
        if not claim.evidence:
            for doc_id in claim.cited_doc_ids:
                if doc_id not in scifact.corpus:
                    continue
                doc = scifact.corpus[doc_id]
                for i in index.closest(claim.claim, doc.sentences, max_context_negatives + 1):
                    pairs.append(Pair(claim.claim, text(doc_id, i), NEI, "scifact:nei-cited"))
        for doc_id in [
            d for d in index.top(claim.claim, hard_negative_docs + 3) if d not in used_docs
        ][:hard_negative_docs]:
            doc = scifact.corpus[doc_id]
            (i,) = index.closest(claim.claim, doc.sentences, 1)
            pairs.append(Pair(claim.claim, text(doc_id, i), NEI, "scifact:retrieved"))
    return pairs


_RESULT_LABELS = {"RESULTS", "CONCLUSIONS", "FINDINGS", "RESULT", "CONCLUSION"}


def pubmedqa_pairs(pubmedqa: PubMedQA, rng: random.Random) -> list[Pair]:
    items = [
        i
        for i in pubmedqa.items
        if document_split("pubmedqa", i.pmid) == "train" and i.decision != "maybe"
    ]
    pairs: list[Pair] = []
    for item in items:
        label = SUPPORT if item.decision == "yes" else CONTRADICT
        last = len(item.contexts) - 1
        deciding: list[str] = []
        background: list[str] = []
        for index, (section, context) in enumerate(zip(item.labels, item.contexts, strict=True)):
            for sentence in split_sentences(context):
                view = judge_text(sentence.text, "", (section.title(),))
                is_result = index == last or section.upper() in _RESULT_LABELS
                (deciding if is_result else background).append(view)
        for view in deciding[-2:]:
            pairs.append(Pair(item.question, view, label, "pubmedqa:results"))
        for view in rng.sample(background, min(2, len(background))):
            pairs.append(Pair(item.question, view, NEI, "pubmedqa:background"))
        other = rng.choice(items)
        if other is not item:
            sentences = split_sentences(other.contexts[-1])
            if sentences:
                view = judge_text(rng.choice(sentences).text, "", (other.labels[-1].title(),))
                pairs.append(Pair(item.question, view, NEI, "pubmedqa:other-abstract"))
    return pairs


_NUMBER = re.compile(r"-?\d[\d,]*\.?\d*")


def _numbers(text: str) -> set[str]:
    return {m.group().replace(",", "").rstrip(".") for m in _NUMBER.finditer(text)}


def _row_text(header: Sequence[str], row: Sequence[str]) -> str:
    cells = [f"{h}: {c}" if h else c for h, c in zip(header, row, strict=False) if c.strip()]
    return "; ".join(cells) + "."


def tatqa_pairs(path: Path, rng: random.Random, *, negatives: int = 1) -> list[Pair]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    pairs: list[Pair] = []
    for row in raw:
        uid = row["table"]["uid"]
        if document_split("tatqa", uid) != "train":
            continue
        table = [[str(c) for c in r] for r in row["table"]["table"]]
        header = next((r for r in table if any(c.strip() for c in r)), [])
        units: list[tuple[str, set[str], str]] = []  # (view, numbers, paragraph uid or "")
        for r in table:
            if r is header:
                continue
            view = _row_text(header, r)
            units.append((view, _numbers(view), "table"))
        for paragraph in row["paragraphs"]:
            for sentence in split_sentences(paragraph["text"]):
                units.append((sentence.text, _numbers(sentence.text), str(paragraph["order"])))
        for q in row["questions"]:
            answers = q["answer"] if isinstance(q["answer"], list) else [q["answer"]]
            wanted = set().union(*(_numbers(str(a)) for a in answers), _numbers(q["derivation"]))
            spans = [str(a).lower() for a in answers if isinstance(a, str) and len(a) > 3]
            positive: list[str] = []
            negative: list[str] = []
            for view, nums, _ in units:
                hit = (wanted and nums & wanted) or any(s in view.lower() for s in spans)
                (positive if hit else negative).append(view)
            if not positive:
                continue
            for view in positive[:1]:
                pairs.append(Pair(q["question"], view, SUPPORT, "tatqa:answer"))
            for view in rng.sample(negative, min(negatives, len(negative))):
                pairs.append(Pair(q["question"], view, NEI, "tatqa:context"))
    return pairs


def build_pairs(
    data_dir: Path, *, seed: int = 0, sources: Iterable[str] = ("scifact", "pubmedqa", "tatqa")
) -> list[Pair]:
    """Every training pair, in a fixed order for a fixed seed."""
    rng = random.Random(seed)
    chosen = set(sources)
    pairs: list[Pair] = []
    if "scifact" in chosen:
        scifact = SciFact.load(data_dir)
        pairs += scifact_pairs(scifact, scifact.claims_of("train"), rng)
    if "pubmedqa" in chosen:
        pairs += pubmedqa_pairs(PubMedQA.load(data_dir), rng)
    if "tatqa" in chosen:
        pairs += tatqa_pairs(data_dir / "tatqa" / "tatqa_dataset_dev.json", rng)
    return pairs
