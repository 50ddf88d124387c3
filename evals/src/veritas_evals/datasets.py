"""Dataset loaders: each turns a source format into documents to ingest and cases with gold labels.

Formats are described in `../shared/data/DATA.md`. Every document is a small Markdown file whose
name (the `source` the API reports back) encodes the dataset's own id, so search results and
cited evidence map back to the gold labels without any service internals.

Each loader's `load` reads the default files under a data folder, or any file of the dataset's
format given explicitly (a held-out split such as SciFact's `claims_test.jsonl`).

The split (`Split`, `document_split`) is a small public API: training recipes in other packages
import it, so that a model is trained on the `train` part and every figure can be reported on
the `tuning` part it never saw.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from veritas_evals.expressions import (
    ExpressionError,
    evaluate,
    program_expression,
    tatqa_expression,
)

Expected = Literal["answer", "refuse", "uncertain"]
Support = Literal["SUPPORTED", "UNSUPPORTED", "CONTRADICTED"]

# ------------------------------------------------------------------------------------- splits

Split = Literal["train", "tuning", "all"]
"""Which cases to use: the `train` part (what a model may be trained or calibrated on), the
`tuning` part (held back from training: the honest figures), or `all` (no filtering: for
held-out files the system never saw)."""
Part = Literal["train", "tuning"]
SPLITS: tuple[Split, ...] = ("train", "tuning", "all")
TUNING_SHARE = 5  # one document in TUNING_SHARE (about 20 %) is in the tuning part


def document_split(dataset: str, doc_id: str) -> Part:
    """The part a document of `dataset` belongs to, from a stable hash of "dataset:doc_id":
    tuning when sha256 of it, read as an integer, is divisible by 5 (about 20 %), else train.
    Stable across machines, Python versions and dataset orderings; a new file of the same
    dataset keeps every document where it was."""
    digest = hashlib.sha256(f"{dataset}:{doc_id}".encode()).hexdigest()
    return "tuning" if int(digest, 16) % TUNING_SHARE == 0 else "train"


def in_split(part: Part, split: Split) -> bool:
    """Whether a case or document of `part` is selected by `split` (`all` selects both)."""
    return split == "all" or part == split


_MD_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def markdown_escape(text: str) -> str:
    """Backslash-escapes every ASCII punctuation character (CommonMark allows it for all of
    them), so the parsed text equals the input: no stray emphasis, lists, links or HTML."""
    return _MD_PUNCTUATION.sub(r"\\\1", " ".join(text.split()))


def markdown_table(rows: Sequence[Sequence[str]]) -> str:
    """A GFM table with the first row as header; ragged rows are padded."""
    width = max((len(r) for r in rows), default=0)
    if width == 0:
        return ""
    cells = [[markdown_escape(c) for c in row] + [""] * (width - len(row)) for row in rows]
    lines = ["| " + " | ".join(cells[0]) + " |", "|" + " --- |" * width]
    lines += ["| " + " | ".join(row) + " |" for row in cells[1:]]
    return "\n".join(lines)


@dataclass(frozen=True)
class Document:
    """One file to upload; its `source` (file name) is how results map back to the dataset."""

    source: str
    text: str
    mime_type: str = "text/markdown"


@dataclass(frozen=True)
class RetrievalCase:
    """A query and its graded relevance judgements (qrels: dataset doc id -> grade)."""

    case_id: str
    query: str
    qrels: dict[str, int]


@dataclass(frozen=True)
class AnswerCase:
    """A question for /v1/ask and what a correct answer looks like.

    `expected`: "answer" (ANSWERED or PARTIAL is right), "refuse" (REFUSED is right) or
    "uncertain" (PubMedQA `maybe`: reported separately). `gold` maps a document source to the
    text units (rationale sentences, contexts) a correct citation must overlap.
    """

    case_id: str
    dataset: str
    question: str
    expected: Expected
    gold: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class VerifierCase:
    """A claim, the evidence texts shown to the verifier, and the gold verdict."""

    case_id: str
    claim: str
    evidence: tuple[str, ...]
    label: Support


@dataclass(frozen=True)
class CalculationCase:
    """A calculation for /v1/calculate and the gold value. `text` is what is sent: the
    dataset's own notation (a TAT-QA derivation, a ConvFinQA program); `expression` is the same
    as a plain expression, which `exact` evaluates here.

    `rule` "rounded": correct when the value rounds to `gold` at `decimals` places (TAT-QA;
    with `percent`, value x 100 may match, as ratios are reported in percent).
    `rule` "relative": correct within relative 1e-3 of `gold` (ConvFinQA).
    `exact` is the expression evaluated locally (the ceiling a perfect calculator reaches).
    """

    case_id: str
    dataset: str
    text: str
    expression: str
    gold: float
    exact: float
    rule: Literal["rounded", "relative"]
    decimals: int = 0
    percent: bool = False


@dataclass(frozen=True)
class ExtractionCase:
    """A TAT-QA question asked with a data_schema; `gold_value` is its numeric answer."""

    case_id: str
    question: str
    gold_value: float
    scale: str
    source: str


def sample(items: Sequence[Any], n: int | None, seed: int) -> list[Any]:
    """`n` items drawn with a fixed seed (all of them, in order, when n is None)."""
    if n is None or n >= len(items):
        return list(items)
    return random.Random(seed).sample(list(items), n)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def dataset_files(
    defaults: dict[str, str], data_dir: Path | None, given: dict[str, Path | str | None]
) -> dict[str, Path]:
    """The files a loader reads: each given path (a relative one is taken relative to
    `data_dir` when there is one), else its default name under `data_dir`."""
    unknown = set(given) - set(defaults)
    if unknown:
        raise TypeError(f"unknown dataset file {', '.join(sorted(unknown))}")
    out: dict[str, Path] = {}
    for key, default in defaults.items():
        path = given.get(key)
        if path is None:
            if data_dir is None:
                raise ValueError(f"no {key} file: pass data_dir or {key}=PATH")
            out[key] = data_dir / default
        else:
            path = Path(path)
            out[key] = data_dir / path if data_dir is not None and not path.is_absolute() else path
    return out


# ------------------------------------------------------------------------------------ SciFact


@dataclass(frozen=True)
class SciFactDoc:
    doc_id: str
    title: str
    sentences: tuple[str, ...]


@dataclass(frozen=True)
class RationaleSet:
    sentences: tuple[int, ...]
    label: Literal["SUPPORT", "CONTRADICT"]


@dataclass(frozen=True)
class SciFactClaim:
    """A claim; `labelled` is False when its file had no `evidence` key (SciFact's test split):
    such a claim reads as not-enough-info, which says nothing about its truth."""

    claim_id: str
    claim: str
    evidence: dict[str, tuple[RationaleSet, ...]]  # doc id -> rationale sets; empty = NEI
    cited_doc_ids: tuple[str, ...]
    labelled: bool = True

    @property
    def doc_ids(self) -> tuple[str, ...]:
        """Every document the claim rests on or cites, each once."""
        return tuple(dict.fromkeys((*self.evidence, *self.cited_doc_ids)))


class SciFact:
    """SciFact corpus (abstracts as sentence lists) and claims with rationale sentences.

    Split by document: a claim is in the tuning part when any of its evidence or cited
    documents is a tuning document, else in train, so train claims touch train documents only.
    """

    name = "scifact"
    prefix = "scifact-"
    default_files = {"corpus": "scifact/corpus.jsonl", "claims": "scifact/claims_train.jsonl"}

    def __init__(self, corpus: dict[str, SciFactDoc], claims: list[SciFactClaim]) -> None:
        self.corpus = corpus
        self.claims = claims

    @classmethod
    def files(
        cls,
        data_dir: Path | None = None,
        *,
        corpus: Path | str | None = None,
        claims: Path | str | None = None,
    ) -> dict[str, Path]:
        """The files `load` reads with the same arguments."""
        return dataset_files(cls.default_files, data_dir, {"corpus": corpus, "claims": claims})

    @classmethod
    def load(
        cls,
        data_dir: Path | None = None,
        *,
        corpus: Path | str | None = None,
        claims: Path | str | None = None,
    ) -> SciFact:
        """Reads `corpus` and `claims` (any SciFact claims file: train, dev or test), by
        default `scifact/corpus.jsonl` and `scifact/claims_train.jsonl` under `data_dir`; a
        relative path is taken relative to `data_dir`. A claim without `evidence` (the test
        split's files) has none, and none cited without `cited_doc_ids`."""
        paths = cls.files(data_dir, corpus=corpus, claims=claims)
        docs = {}
        for row in _read_jsonl(paths["corpus"]):
            doc_id = str(row["doc_id"])
            docs[doc_id] = SciFactDoc(doc_id, row["title"].strip(), tuple(row["abstract"]))
        rows = []
        for row in _read_jsonl(paths["claims"]):
            evidence = {
                str(doc): tuple(RationaleSet(tuple(s["sentences"]), s["label"]) for s in sets)
                for doc, sets in (row.get("evidence") or {}).items()
            }
            cited = tuple(str(d) for d in row.get("cited_doc_ids") or ())
            labelled = "evidence" in row
            rows.append(SciFactClaim(str(row["id"]), row["claim"], evidence, cited, labelled))
        return cls(docs, rows)

    def doc_split(self, doc_id: str) -> Part:
        """The part a corpus document belongs to."""
        return document_split(self.name, doc_id)

    def claim_split(self, claim: SciFactClaim) -> Part:
        """tuning when any evidence or cited document of the claim is a tuning document."""
        tuning = any(self.doc_split(d) == "tuning" for d in claim.doc_ids)
        return "tuning" if tuning else "train"

    def claims_of(self, split: Split) -> list[SciFactClaim]:
        """The claims of `split`, in file order."""
        return [c for c in self.claims if in_split(self.claim_split(c), split)]

    def doc_ids_of(self, split: Split) -> list[str]:
        """The corpus document ids of `split`, in corpus order."""
        return [d for d in self.corpus if in_split(self.doc_split(d), split)]

    def source(self, doc_id: str) -> str:
        return f"{self.prefix}{doc_id}.md"

    def doc_id_of(self, source: str) -> str | None:
        if source.startswith(self.prefix) and source.endswith(".md"):
            return source[len(self.prefix) : -3]
        return None

    def document(self, doc_id: str) -> Document:
        doc = self.corpus[doc_id]
        body = markdown_escape(" ".join(doc.sentences))
        return Document(self.source(doc_id), f"# {markdown_escape(doc.title)}\n\n{body}\n")

    def corpus_subset(
        self, claims: Iterable[SciFactClaim], limit: int | None, seed: int
    ) -> list[str]:
        """Doc ids to ingest: every doc the claims cite or rest on, then distractors drawn with
        a fixed seed until `limit` (the whole corpus when limit is None)."""
        if limit is None:
            return list(self.corpus)
        needed: list[str] = []
        for claim in claims:
            for doc_id in claim.doc_ids:
                if doc_id in self.corpus and doc_id not in needed:
                    needed.append(doc_id)
        others = sorted(set(self.corpus) - set(needed), key=int)
        extra = max(0, limit - len(needed))
        return needed + sample(others, extra, seed)

    def retrieval_cases(self, claims: Iterable[SciFactClaim]) -> list[RetrievalCase]:
        """BEIR convention: query = claim, relevant (grade 1) = the docs with evidence."""
        return [
            RetrievalCase(c.claim_id, c.claim, dict.fromkeys(c.evidence, 1))
            for c in claims
            if c.evidence
        ]

    def rationale_sentences(self, claim: SciFactClaim, doc_id: str) -> tuple[str, ...]:
        sentences = self.corpus[doc_id].sentences
        indices = sorted({i for rs in claim.evidence[doc_id] for i in rs.sentences})
        return tuple(sentences[i] for i in indices if i < len(sentences))

    def answer_cases(self, claims: Iterable[SciFactClaim]) -> list[AnswerCase]:
        """Claims with evidence should be answered, claims without refused; citations must
        overlap the rationale sentences."""
        cases = []
        for c in claims:
            gold = {self.source(d): self.rationale_sentences(c, d) for d in c.evidence}
            expected: Expected = "answer" if c.evidence else "refuse"
            cases.append(AnswerCase(f"scifact-{c.claim_id}", self.name, c.claim, expected, gold))
        return cases

    def verifier_cases(self, claims: Iterable[SciFactClaim], seed: int) -> list[VerifierCase]:
        """Per rationale set: the claim with its rationale sentences (SUPPORT -> SUPPORTED,
        CONTRADICT -> CONTRADICTED); per evidence doc: the claim with one non-rationale sentence
        of the same abstract, drawn with a fixed seed (-> UNSUPPORTED)."""
        rng = random.Random(seed)
        cases: list[VerifierCase] = []
        for c in claims:
            for doc_id, sets in c.evidence.items():
                sentences = self.corpus[doc_id].sentences
                for i, rs in enumerate(sets):
                    texts = tuple(sentences[j] for j in rs.sentences if j < len(sentences))
                    label: Support = "SUPPORTED" if rs.label == "SUPPORT" else "CONTRADICTED"
                    cases.append(VerifierCase(f"{c.claim_id}:{doc_id}:{i}", c.claim, texts, label))
                used = {j for rs in sets for j in rs.sentences}
                rest = [j for j in range(len(sentences)) if j not in used]
                if rest:
                    j = rng.choice(rest)
                    case_id = f"{c.claim_id}:{doc_id}:not-{j}"
                    cases.append(VerifierCase(case_id, c.claim, (sentences[j],), "UNSUPPORTED"))
        return cases


# ----------------------------------------------------------------------------------- PubMedQA


@dataclass(frozen=True)
class PubMedQAItem:
    pmid: str
    question: str
    contexts: tuple[str, ...]
    labels: tuple[str, ...]
    decision: Literal["yes", "no", "maybe"]


class PubMedQA:
    """PubMedQA expert-labelled items: a question, its abstract's contexts, yes/no/maybe.
    Split by PMID (an item is its own document)."""

    name = "pubmedqa"
    prefix = "pubmedqa-"
    default_files = {"file": "pubmedqa/pqal_dev.json"}

    def __init__(self, items: list[PubMedQAItem]) -> None:
        self.items = items

    @classmethod
    def files(
        cls, data_dir: Path | None = None, *, file: Path | str | None = None
    ) -> dict[str, Path]:
        """The files `load` reads with the same arguments."""
        return dataset_files(cls.default_files, data_dir, {"file": file})

    @classmethod
    def load(cls, data_dir: Path | None = None, *, file: Path | str | None = None) -> PubMedQA:
        """Reads `file` (any file of the `{PMID: {...}}` format: `pqal_dev.json`,
        `ori_pqal.json`, `test_set.json`), by default `pubmedqa/pqal_dev.json` under `data_dir`;
        a relative path is taken relative to `data_dir`."""
        raw = _read_json(cls.files(data_dir, file=file)["file"])
        items = [
            PubMedQAItem(
                str(pmid),
                row["QUESTION"],
                tuple(row["CONTEXTS"]),
                tuple(row["LABELS"]),
                row["final_decision"],
            )
            for pmid, row in raw.items()
        ]
        return cls(items)

    def item_split(self, item: PubMedQAItem) -> Part:
        return document_split(self.name, item.pmid)

    def items_of(self, split: Split) -> list[PubMedQAItem]:
        """The items of `split`, in file order."""
        return [i for i in self.items if in_split(self.item_split(i), split)]

    def source(self, pmid: str) -> str:
        return f"{self.prefix}{pmid}.md"

    def document(self, item: PubMedQAItem) -> Document:
        """The contexts under their section labels; LONG_ANSWER (the conclusion) is left out,
        as in the dataset's reasoning-required setting."""
        parts = [
            f"## {markdown_escape(label.title())}\n\n{markdown_escape(text)}"
            for label, text in zip(item.labels, item.contexts, strict=True)
        ]
        return Document(self.source(item.pmid), "\n\n".join(parts) + "\n")

    def corpus_subset(
        self, items: Sequence[PubMedQAItem], limit: int | None, seed: int
    ) -> list[PubMedQAItem]:
        if limit is None:
            return list(self.items)
        chosen = {i.pmid for i in items}
        others = [i for i in self.items if i.pmid not in chosen]
        return list(items) + sample(others, max(0, limit - len(items)), seed)

    def answer_cases(self, items: Iterable[PubMedQAItem]) -> list[AnswerCase]:
        """yes/no questions should be answered from their contexts; `maybe` is uncertain."""
        return [
            AnswerCase(
                f"pubmedqa-{i.pmid}",
                self.name,
                i.question,
                "uncertain" if i.decision == "maybe" else "answer",
                {self.source(i.pmid): i.contexts},
            )
            for i in items
        ]


# -------------------------------------------------------------------------------------- TAT-QA


@dataclass(frozen=True)
class TatQAQuestion:
    uid: str
    context_uid: str
    question: str
    answer: Any
    answer_type: str
    derivation: str
    scale: str


@dataclass(frozen=True)
class TatQAContext:
    uid: str
    table: tuple[tuple[str, ...], ...]
    paragraphs: tuple[str, ...]
    questions: tuple[TatQAQuestion, ...]


def _number(value: Any) -> float | None:
    """A gold answer as a number: JSON numbers, or a one-element list holding a number-like
    string such as "$1,496.5" or "(12.3)"."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        text = value[0].strip().replace("$", "").replace(",", "").replace("%", "").strip()
        negative = text.startswith("(") and text.endswith(")")
        text = text.strip("()").strip()
        if re.fullmatch(r"-?\d+(\.\d+)?", text):
            return -float(text) if negative else float(text)
    return None


class TatQA:
    """TAT-QA: financial report tables with paragraphs, questions, derivations and scales.
    Split by table context uid: all questions of a context go together."""

    name = "tatqa"
    prefix = "tatqa-"
    default_files = {"file": "tatqa/tatqa_dataset_dev.json"}

    def __init__(self, contexts: list[TatQAContext]) -> None:
        self.contexts = contexts

    @property
    def questions(self) -> list[TatQAQuestion]:
        return [q for ctx in self.contexts for q in ctx.questions]

    @classmethod
    def files(
        cls, data_dir: Path | None = None, *, file: Path | str | None = None
    ) -> dict[str, Path]:
        """The files `load` reads with the same arguments."""
        return dataset_files(cls.default_files, data_dir, {"file": file})

    @classmethod
    def load(cls, data_dir: Path | None = None, *, file: Path | str | None = None) -> TatQA:
        """Reads `file` (any TAT-QA file with answers, e.g. `tatqa_dataset_test_gold.json`),
        by default `tatqa/tatqa_dataset_dev.json` under `data_dir`; a relative path is taken
        relative to `data_dir`."""
        raw = _read_json(cls.files(data_dir, file=file)["file"])
        contexts = []
        for row in raw:
            uid = row["table"]["uid"]
            table = tuple(tuple(str(c) for c in r) for r in row["table"]["table"])
            paragraphs = tuple(
                p["text"] for p in sorted(row["paragraphs"], key=lambda p: int(p["order"]))
            )
            questions = tuple(
                TatQAQuestion(
                    q["uid"],
                    uid,
                    q["question"],
                    q["answer"],
                    q["answer_type"],
                    q.get("derivation", "") or "",
                    q.get("scale", "") or "",
                )
                for q in sorted(row["questions"], key=lambda q: int(q["order"]))
            )
            contexts.append(TatQAContext(uid, table, paragraphs, questions))
        return cls(contexts)

    def context_split(self, context_uid: str) -> Part:
        return document_split(self.name, context_uid)

    def contexts_of(self, split: Split) -> list[TatQAContext]:
        """The table contexts of `split`, in file order."""
        return [c for c in self.contexts if in_split(self.context_split(c.uid), split)]

    def questions_of(self, split: Split) -> list[TatQAQuestion]:
        """The questions of the contexts of `split`."""
        return [q for ctx in self.contexts_of(split) for q in ctx.questions]

    def source(self, context_uid: str) -> str:
        return f"{self.prefix}{context_uid}.md"

    def document(self, ctx: TatQAContext) -> Document:
        parts = [markdown_table(ctx.table)] + [markdown_escape(p) for p in ctx.paragraphs]
        return Document(self.source(ctx.uid), "\n\n".join(p for p in parts if p) + "\n")

    def context(self, uid: str) -> TatQAContext:
        return next(c for c in self.contexts if c.uid == uid)

    def corpus_subset(
        self, questions: Sequence[TatQAQuestion], limit: int | None, seed: int
    ) -> list[TatQAContext]:
        if limit is None:
            return list(self.contexts)
        needed = list(dict.fromkeys(q.context_uid for q in questions))
        others = [c.uid for c in self.contexts if c.uid not in needed]
        uids = needed + sample(others, max(0, limit - len(needed)), seed)
        return [self.context(uid) for uid in uids]

    def calculation_cases(self, split: Split = "all") -> list[CalculationCase]:
        """Arithmetic questions of `split` whose derivation is a plain expression over
        numbers."""
        cases = []
        for q in self.questions_of(split):
            if q.answer_type != "arithmetic":
                continue
            gold = _number(q.answer)
            expression = tatqa_expression(q.derivation)
            if gold is None or expression is None:
                continue
            try:
                exact = evaluate(expression)
            except ExpressionError:
                continue
            cases.append(
                CalculationCase(
                    f"tatqa-{q.uid}",
                    self.name,
                    " ".join(q.derivation.split()),
                    expression,
                    gold,
                    exact,
                    "rounded",
                    decimals=decimal_places(q.answer),
                    percent=q.scale == "percent",
                )
            )
        return cases

    def extraction_cases(self, split: Split = "all") -> list[ExtractionCase]:
        """Questions of `split` with a single numeric answer (arithmetic or a numeric span)."""
        cases = []
        for q in self.questions_of(split):
            if q.answer_type not in ("arithmetic", "span"):
                continue
            value = _number(q.answer)
            if value is None:
                continue
            cases.append(
                ExtractionCase(
                    f"tatqa-{q.uid}", q.question, value, q.scale, self.source(q.context_uid)
                )
            )
        return cases


def decimal_places(value: Any) -> int:
    """Decimal places a gold answer is written with: 22.22 -> 2, 45 -> 0, ["1.5"] -> 1."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    text = value if isinstance(value, str) else repr(value)
    match = re.search(r"\.(\d+)", text)
    return len(match.group(1)) if match else 0


# ---------------------------------------------------------------------------------- ConvFinQA


@dataclass(frozen=True)
class Conversation:
    conv_id: str
    questions: tuple[str, ...]
    programs: tuple[str, ...]
    answer: Any  # the gold answer of the last turn
    text: str
    table: str


class ConvFinQA:
    """ConvFinQA conversations: turns with a program each; the last turn's answer is given.
    Split by conversation id."""

    name = "convfinqa"
    prefix = "convfinqa-"
    default_files = {"file": "convfinqa/convfinqa_dev.json"}

    def __init__(self, conversations: list[Conversation]) -> None:
        self.conversations = conversations

    @property
    def turns(self) -> int:
        return sum(len(c.questions) for c in self.conversations)

    @classmethod
    def files(
        cls, data_dir: Path | None = None, *, file: Path | str | None = None
    ) -> dict[str, Path]:
        """The files `load` reads with the same arguments."""
        return dataset_files(cls.default_files, data_dir, {"file": file})

    @classmethod
    def load(cls, data_dir: Path | None = None, *, file: Path | str | None = None) -> ConvFinQA:
        """Reads `file` (any file of the format, e.g. `test.json`), by default
        `convfinqa/convfinqa_dev.json` under `data_dir`; a relative path is taken relative
        to `data_dir`."""
        raw = _read_json(cls.files(data_dir, file=file)["file"])
        conversations = [
            Conversation(
                row["id"],
                tuple(row["questions"]),
                tuple(row["programs"]),
                row["answer"],
                row.get("text", ""),
                row.get("table", ""),
            )
            for row in raw
        ]
        return cls(conversations)

    def conversation_split(self, conv_id: str) -> Part:
        return document_split(self.name, conv_id)

    def conversations_of(self, split: Split) -> list[Conversation]:
        """The conversations of `split`, in file order."""
        return [
            c for c in self.conversations if in_split(self.conversation_split(c.conv_id), split)
        ]

    def source(self, conv_id: str) -> str:
        return self.prefix + re.sub(r"[^A-Za-z0-9._-]+", "_", conv_id) + ".md"

    def document(self, conv: Conversation) -> Document:
        rows = [line.split(" | ") for line in conv.table.splitlines() if line.strip()]
        parts = [markdown_table(rows), markdown_escape(conv.text)]
        return Document(self.source(conv.conv_id), "\n\n".join(p for p in parts if p) + "\n")

    def calculation_cases(self, split: Split = "all") -> list[CalculationCase]:
        """Every turn of the conversations of `split` whose program does arithmetic (lookups,
        comparisons and percent literals are not calculations); gold = the program evaluated
        exactly, and for the last turn the dataset's answer when it is a number."""
        cases = []
        for conv in self.conversations_of(split):
            last = len(conv.programs) - 1
            for turn, program in enumerate(conv.programs):
                expression = program_expression(program)
                if expression is None:
                    continue
                try:
                    exact = evaluate(expression)
                except ExpressionError:
                    continue
                gold = exact
                if turn == last and isinstance(conv.answer, int | float):
                    gold = float(conv.answer)
                cases.append(
                    CalculationCase(
                        f"convfinqa-{conv.conv_id}#{turn}",
                        self.name,
                        program,
                        expression,
                        gold,
                        exact,
                        "relative",
                    )
                )
        return cases
