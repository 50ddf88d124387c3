"""RetrievalService: proto <-> domain translation only."""

from __future__ import annotations

from typing import cast

import grpc

from veritas.v1 import common_pb2, retrieval_pb2, retrieval_pb2_grpc
from veritas_common.contract import SearchMode
from veritas_retrieval.models import (
    CHUNK_FIELDS,
    DEFAULT_TENANT,
    ChunkRecord,
    ScoredChunk,
    SearchScope,
    SentenceRecord,
)
from veritas_retrieval.retriever import Retriever


def chunk_from_proto(chunk: common_pb2.Chunk) -> ChunkRecord:
    values = {name: getattr(chunk, name) for name in CHUNK_FIELDS}
    values["section_path"] = list(chunk.section_path)
    # Vectors are the retriever's to compute; whatever a caller sends is ignored.
    values["sentences"] = [
        SentenceRecord(s.start, s.end, s.kind, s.header) for s in chunk.sentences
    ]
    return ChunkRecord(**values)


def chunk_to_proto(chunk: ChunkRecord) -> common_pb2.Chunk:
    return common_pb2.Chunk(
        **{name: getattr(chunk, name) for name in CHUNK_FIELDS},
        sentences=[
            common_pb2.ChunkSentence(
                start=s.start,
                end=s.end,
                kind=cast(common_pb2.SentenceKind, s.kind),
                header=s.header,
                vector=s.vector,
            )
            for s in chunk.sentences
        ],
    )


def scored_to_proto(result: ScoredChunk) -> retrieval_pb2.ScoredChunk:
    return retrieval_pb2.ScoredChunk(
        chunk=chunk_to_proto(result.chunk),
        score=result.score,
        bm25_score=result.bm25_score,
        dense_score=result.dense_score,
    )


class RetrievalServicer(retrieval_pb2_grpc.RetrievalServiceServicer):
    """Serves Upsert, Delete and Search through the `Retriever`."""

    def __init__(self, retriever: Retriever) -> None:
        self.retriever = retriever

    async def Upsert(
        self, request: retrieval_pb2.UpsertRequest, context: grpc.aio.ServicerContext
    ) -> retrieval_pb2.UpsertResponse:
        written = await self.retriever.upsert([chunk_from_proto(c) for c in request.chunks])
        return retrieval_pb2.UpsertResponse(upserted=written)

    async def Delete(
        self, request: retrieval_pb2.DeleteRequest, context: grpc.aio.ServicerContext
    ) -> retrieval_pb2.DeleteResponse:
        deleted = await self.retriever.delete(request.tenant, request.doc_id)
        return retrieval_pb2.DeleteResponse(deleted=deleted)

    async def Search(
        self, request: retrieval_pb2.SearchRequest, context: grpc.aio.ServicerContext
    ) -> retrieval_pb2.SearchResponse:
        scope = SearchScope(
            tenant=request.tenant or DEFAULT_TENANT,
            collection=request.collection,
            sources=tuple(request.filter.sources),
            doc_ids=tuple(request.filter.doc_ids),
            modalities=tuple(request.filter.modalities),
        )
        results, query_vector = await self.retriever.search(
            request.query,
            top_k=request.top_k,
            scope=scope,
            # UNSPECIFIED (and a mode this build does not know) means the default, hybrid.
            mode=SearchMode.from_proto(request.mode) or SearchMode.HYBRID,
        )
        return retrieval_pb2.SearchResponse(
            results=[scored_to_proto(r) for r in results], query_vector=query_vector
        )


def registrar(retriever: Retriever):
    """Returns the `register` callable `run_service`/`start_server` expect."""

    def register(server: grpc.aio.Server) -> list[str]:
        retrieval_pb2_grpc.add_RetrievalServiceServicer_to_server(
            RetrievalServicer(retriever), server
        )
        return [retrieval_pb2.DESCRIPTOR.services_by_name["RetrievalService"].full_name]

    return register
