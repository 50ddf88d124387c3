"""Fakes of the agent's peers, served over real gRPC in tests. Deterministic and tiny: they
stand in for the real services, never for them in production."""

from __future__ import annotations

import json
import math
import re
import zlib
from collections.abc import Callable

from veritas.v1 import (
    common_pb2,
    embedding_pb2,
    embedding_pb2_grpc,
    generation_pb2,
    generation_pb2_grpc,
    rerank_pb2,
    rerank_pb2_grpc,
    retrieval_pb2,
    retrieval_pb2_grpc,
)
from veritas_agent.lexical import content_words
from veritas_common.judge import judge_text
from veritas_common.sentences import sentences_to_proto, split_sentences

ACME_TEXT = """# Acme Instruments Annual Report 2024

## Letter to Shareholders

Fiscal 2024 was a year of steady growth. Total revenue rose 12.4% to $482.6 million in \
fiscal 2024. Net income was $61.3 million, compared with $52.8 million in fiscal 2023.

We opened a plant in Tampere, Finland. The plant employs 210 people.

## Results

| Line item (USD millions) | Fiscal 2024 | Fiscal 2023 |
|---|---|---|
| Revenue | 482.6 | 429.4 |
| Net income | 61.3 | 52.8 |

## Liquidity

Capital expenditures were $41.5 million, most of it for the Tampere plant.
"""

LABEL_TEXT = """Zentrivex Prescribing Information

Dosage and Administration

The recommended dose of Zentrivex is 40 mg taken orally once daily. In patients with \
moderate hepatic impairment, reduce the dose to 20 mg once daily.

Adverse Reactions

- Headache occurred in 7% of patients taking Zentrivex.
- Nausea occurred in 5% of patients taking Zentrivex.
"""

DOCUMENTS = {
    "acme0001": ("acme-annual-report-2024.md", "Acme Instruments Annual Report 2024", ACME_TEXT),
    "zent0001": ("zentrivex-label.html", "Zentrivex Prescribing Information", LABEL_TEXT),
}


def make_chunks(doc_id: str, tenant: str = "default") -> list[common_pb2.Chunk]:
    """Paragraph chunks (a heading joins the paragraph after it) with real offsets."""
    source, title, text = DOCUMENTS[doc_id]
    paragraphs = [(m.start(), m.end()) for m in re.finditer(r"\S(?:.|\n(?!\n))*", text)]
    chunks: list[common_pb2.Chunk] = []
    section: list[str] = []
    pending: int | None = None
    for start, end in paragraphs:
        body = text[start:end]
        is_heading = body.startswith("#") or (
            "\n" not in body and not body.rstrip().endswith(".") and len(body.split()) <= 5
        )
        if is_heading:
            section = [body.lstrip("# ").strip()]
            pending = start if pending is None else pending
            continue
        begin = start if pending is None else pending
        pending = None
        chunks.append(
            with_sentences(
                common_pb2.Chunk(
                    chunk_id=f"{doc_id}:{len(chunks):04d}",
                    doc_id=doc_id,
                    ordinal=len(chunks),
                    tenant=tenant,
                    collection="samples",
                    source=source,
                    title=title,
                    section_path=section,
                    page=1,
                    char_start=begin,
                    char_end=end,
                    text=text[begin:end],
                    modality=common_pb2.MODALITY_TEXT,
                )
            )
        )
    return chunks


def with_sentences(chunk: common_pb2.Chunk) -> common_pb2.Chunk:
    """The chunk with its sentences as ingestion and retrieval store them: split once, each
    claimable one with the vector of its text in context (here the bag-of-words fake's)."""
    split = split_sentences(chunk.text, table=chunk.modality == common_pb2.MODALITY_TABLE)
    for sentence, stored in zip(split, sentences_to_proto(split), strict=True):
        if sentence.claimable:
            context = judge_text(sentence.claim_text(), chunk.title, chunk.section_path)
            stored.vector.extend(FakeEmbedding.vector(context))
        chunk.sentences.append(stored)
    return chunk


def all_chunks() -> list[common_pb2.Chunk]:
    return [chunk for doc_id in DOCUMENTS for chunk in make_chunks(doc_id)]


class FakeRetrieval(retrieval_pb2_grpc.RetrievalServiceServicer):
    """Scores chunks by the number of query content words they contain."""

    def __init__(self, chunks: list[common_pb2.Chunk]) -> None:
        self.chunks = chunks
        self.requests: list[retrieval_pb2.SearchRequest] = []

    async def Search(self, request, context):
        self.requests.append(request)
        query = content_words(request.query)
        results = []
        for chunk in self.chunks:
            if request.filter.doc_ids and chunk.doc_id not in request.filter.doc_ids:
                continue
            shared = len(query & content_words(chunk.text))
            if shared:
                results.append(
                    retrieval_pb2.ScoredChunk(
                        chunk=chunk, score=float(shared), bm25_score=float(shared), dense_score=0.5
                    )
                )
        results.sort(key=lambda r: r.score, reverse=True)
        return retrieval_pb2.SearchResponse(
            results=results[: request.top_k or 10],
            query_vector=FakeEmbedding.vector(request.query),
        )


class FakeRerank(rerank_pb2_grpc.RerankServiceServicer):
    """Scores by the share of query words in the candidate, plus a per-id `boost` tests set."""

    def __init__(self) -> None:
        self.boost: dict[str, float] = {}
        self.requests: list[rerank_pb2.RerankRequest] = []

    async def Rerank(self, request, context):
        self.requests.append(request)
        query = content_words(request.query)
        results = []
        for cand in request.candidates:
            share = len(query & content_words(cand.text)) / max(len(query), 1)
            results.append(
                rerank_pb2.RerankResult(id=cand.id, score=share + self.boost.get(cand.id, 0.0))
            )
        return rerank_pb2.RerankResponse(results=results, model="fake-rerank")


class FakeEmbedding(embedding_pb2_grpc.EmbeddingServiceServicer):
    """Bag-of-words hashing embedder: cosine of two texts ~ their shared content words."""

    DIM = 512

    def __init__(self) -> None:
        self.requests: list[embedding_pb2.EmbedRequest] = []

    @classmethod
    def vector(cls, text: str) -> list[float]:
        vec = [0.0] * cls.DIM
        for word in content_words(text):
            vec[zlib.crc32(word.encode()) % cls.DIM] += 1.0
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
        return [v / norm for v in vec]

    async def Embed(self, request, context):
        self.requests.append(request)
        return embedding_pb2.EmbedResponse(
            vectors=[embedding_pb2.Vector(values=self.vector(t)) for t in request.texts],
            model="fake-bow",
            dim=self.DIM,
        )


def _reverse_ranking(params: generation_pb2.GenerationParams) -> str | None:
    """For a ranking schema, selects every allowed id in reverse order (so tests can tell the
    model's order from the similarity order)."""
    schema = json.loads(params.json_schema or "{}")
    selected = schema.get("properties", {}).get("selected")
    if selected is None:
        return None
    ids = selected["items"]["enum"]
    return json.dumps({"selected": list(reversed(ids))[: selected["maxItems"]]})


class FakeGeneration(generation_pb2_grpc.GenerationServiceServicer):
    """Replies with `responder(params)` when set; by default reverses rankings and returns
    `data_reply` for any other schema."""

    def __init__(self) -> None:
        self.responder: Callable[[generation_pb2.GenerationParams], str] | None = None
        self.data_reply = "{}"
        self.requests: list[generation_pb2.GenerateRequest] = []

    async def Generate(self, request, context):
        self.requests.append(request)
        params = request.params
        if self.responder is not None:
            text = self.responder(params)
        else:
            text = _reverse_ranking(params) or self.data_reply
        prompt = " ".join(m.content for m in params.messages)
        return generation_pb2.GenerateResponse(
            text=text,
            finish_reason="stop",
            model="fake-generation",
            usage=generation_pb2.GenerationUsage(
                prompt_tokens=len(prompt.split()),
                completion_tokens=max(1, len(text) // 4),
                prefill_ms=5.0,
                decode_ms=10.0,
            ),
        )
