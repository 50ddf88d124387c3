"""RetrievalService over a real grpc.aio server, with a real embedding service in-process."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from prometheus_client import REGISTRY

from veritas.v1 import common_pb2, retrieval_pb2
from veritas_common.client import wait_healthy
from veritas_common.clients import EmbeddingClient, RetrievalClient
from veritas_common.contract import EmbedKind
from veritas_common.errors import FailedPrecondition, InvalidArgument, PeerUnavailable, TooLarge
from veritas_common.server import start_server
from veritas_common.settings import VeritasSettings
from veritas_common.testing import ServiceProcess, free_port
from veritas_embedding.testing import embedding_server
from veritas_retrieval import metrics
from veritas_retrieval.lance_index import LanceChunkIndex
from veritas_retrieval.retriever import Retriever
from veritas_retrieval.servicer import chunk_to_proto, registrar

BM25, DENSE = retrieval_pb2.SEARCH_MODE_BM25, retrieval_pb2.SEARCH_MODE_DENSE


async def retrieval_server(data_dir, embedding_addr):
    embeddings = EmbeddingClient(
        embedding_addr, settings=VeritasSettings(peer_retries=0, peer_timeout_s=5)
    )
    retriever = Retriever(LanceChunkIndex(data_dir), embeddings, max_top_k=50)
    await retriever.warm_up()
    settings = VeritasSettings(port=free_port(), metrics_port=-1)
    server, _health, _names, port = await start_server("retrieval", settings, registrar(retriever))
    return server, embeddings, f"127.0.0.1:{port}"


@pytest.fixture
async def embedding_addr(minilm):
    async with embedding_server(minilm) as addr:
        yield addr


@pytest.fixture
async def stub(tmp_path, embedding_addr):
    server, embeddings, addr = await retrieval_server(tmp_path / "retrieval", embedding_addr)
    peer = RetrievalClient(addr, VeritasSettings(peer_retries=0))
    yield peer
    await peer.close()
    await server.stop(0)
    await embeddings.close()


async def upsert_corpus(peer, corpus):
    reply = await peer.upsert(
        retrieval_pb2.UpsertRequest(chunks=[chunk_to_proto(c) for c in corpus])
    )
    assert reply.upserted == len(corpus)


def search_request(query, **kwargs):
    return retrieval_pb2.SearchRequest(query=query, **kwargs)


async def test_upsert_then_search_in_every_mode(stub, corpus):
    await upsert_corpus(stub, corpus)
    hybrid = await stub.search(search_request("ibuprofen dose for adults", top_k=3))
    assert hybrid.results[0].chunk.chunk_id == "med:1"
    top = hybrid.results[0]
    assert top.bm25_score > 0 and top.dense_score > 0.3 and 0 < top.score <= 1
    assert list(top.chunk.section_path) == ["Warnings"]
    assert top.chunk.modality == common_pb2.MODALITY_TEXT

    bm25 = await stub.search(search_request("warfarin", mode=BM25))
    assert [r.chunk.chunk_id for r in bm25.results] == ["med:0"]
    assert bm25.results[0].dense_score > 0  # computed for lexical hits too

    dense = await stub.search(search_request("How much did sales grow?", mode=DENSE))
    assert dense.results[0].chunk.chunk_id == "fin:0"
    assert len(dense.results) == 5  # default top_k 10, five chunks in the default tenant


async def test_tenant_collection_and_filters_reach_the_index(stub, corpus):
    await upsert_corpus(stub, corpus)
    acme = await stub.search(search_request("revenue", tenant="acme"))
    assert [(r.chunk.chunk_id, r.chunk.source) for r in acme.results] == [("fin:0", "acme.pdf")]
    ocr = await stub.search(
        search_request(
            "symptoms",
            collection="medical",
            filter=common_pb2.Filter(modalities=[common_pb2.MODALITY_OCR]),
        ),
    )
    assert [r.chunk.chunk_id for r in ocr.results] == ["scan:0"]
    unknown = await stub.search(search_request("revenue", collection="unknown"))
    assert list(unknown.results) == []


async def test_empty_index_gives_empty_results_and_bad_queries_are_refused(stub):
    empty = await stub.search(search_request("anything at all"))
    assert list(empty.results) == []
    with pytest.raises(InvalidArgument, match="query is empty"):
        await stub.search(search_request("   "))
    with pytest.raises(TooLarge, match="top_k"):
        await stub.search(search_request("revenue", top_k=51))
    with pytest.raises(InvalidArgument, match="no text"):
        chunk = common_pb2.Chunk(chunk_id="a:0", doc_id="a", text=" ")
        await stub.upsert(retrieval_pb2.UpsertRequest(chunks=[chunk]))
    with pytest.raises(InvalidArgument, match="doc_id"):
        await stub.delete(retrieval_pb2.DeleteRequest(tenant="default"))


async def test_delete_and_metrics(stub, corpus):
    before_upserted = REGISTRY.get_sample_value("veritas_retrieval_upserted_chunks_total") or 0
    await upsert_corpus(stub, corpus)
    assert REGISTRY.get_sample_value("veritas_retrieval_index_chunks") == len(corpus)
    assert REGISTRY.get_sample_value("veritas_retrieval_upserted_chunks_total") == (
        before_upserted + len(corpus)
    )
    reply = await stub.delete(retrieval_pb2.DeleteRequest(doc_id="med"))  # tenant default
    assert reply.deleted == 2
    assert REGISTRY.get_sample_value("veritas_retrieval_index_chunks") == len(corpus) - 2
    after = await stub.search(search_request("warfarin", mode=BM25))
    assert list(after.results) == []
    searches = REGISTRY.get_sample_value(
        "veritas_retrieval_search_duration_seconds_count", {"mode": "bm25"}
    )
    assert searches and searches >= 1


async def test_index_written_through_the_service_survives_a_restart(
    tmp_path, embedding_addr, corpus
):
    server, embeddings, addr = await retrieval_server(tmp_path / "r", embedding_addr)
    peer = RetrievalClient(addr)
    await upsert_corpus(peer, corpus)
    await peer.close()
    await server.stop(0)
    await embeddings.close()

    server, embeddings, addr = await retrieval_server(tmp_path / "r", embedding_addr)
    peer = RetrievalClient(addr)
    reply = await peer.search(search_request("warfarin bleeding", top_k=1))
    assert reply.results[0].chunk.chunk_id == "med:0"
    await peer.close()
    await server.stop(0)
    await embeddings.close()


async def test_a_different_embedding_model_is_refused(tmp_path, embedding_addr, corpus, minilm):
    server, embeddings, addr = await retrieval_server(tmp_path / "r", embedding_addr)
    peer = RetrievalClient(addr)
    await upsert_corpus(peer, corpus)
    await peer.close()
    await server.stop(0)
    await embeddings.close()

    class RenamedModel:
        """Test fake: MiniLM under another model id, as if the embedding service changed."""

        model_id, dim = "another/model", 384

        def warm_up(self):
            pass

        def embed(self, texts, kind):
            return minilm.embed(texts, kind)

    async with embedding_server(RenamedModel()) as other_addr:
        server, embeddings, addr = await retrieval_server(tmp_path / "r", other_addr)
        peer = RetrievalClient(addr)
        with pytest.raises(FailedPrecondition, match="another/model"):
            await peer.search(search_request("warfarin"))
        await peer.close()
        await server.stop(0)
        await embeddings.close()


async def test_unreachable_embedding_service_is_reported_as_unavailable(tmp_path, corpus):
    server, embeddings, addr = await retrieval_server(tmp_path / "r", f"127.0.0.1:{free_port()}")
    peer = RetrievalClient(addr, VeritasSettings(peer_retries=0))
    with pytest.raises(PeerUnavailable, match="embedding"):
        await upsert_corpus(peer, corpus)
    await peer.close()
    await server.stop(0)
    await embeddings.close()


def test_metrics_are_declared_with_units_and_labels():
    assert metrics.SEARCH_DURATION._labelnames == ("mode",)
    assert metrics.SEARCH_RESULTS._labelnames == ("mode",)
    assert metrics.SEARCH_DURATION._name.endswith("_seconds")
    assert metrics.INDEX_CHUNKS._labelnames == ()


@pytest.mark.integration
@pytest.mark.slow
async def test_service_process_indexes_and_searches(tmp_path, embedding_addr, corpus):
    env = {"VERITAS_DATA_DIR": str(tmp_path), "VERITAS_EMBEDDING_ADDR": embedding_addr}
    proc = ServiceProcess("retrieval", env, tmp_path)
    try:
        await wait_healthy("retrieval", proc.addr, timeout_s=60)
        peer = RetrievalClient(proc.addr)
        await upsert_corpus(peer, corpus)
        reply = await peer.search(search_request("warfarin", top_k=1))
        assert reply.results[0].chunk.chunk_id == "med:0"
        await peer.close()
        assert (tmp_path / "retrieval" / "index.json").is_file()
    finally:
        proc.stop()


async def test_concurrent_upserts_all_land(stub):
    def doc(n):
        chunks = [
            common_pb2.Chunk(chunk_id=f"doc{n}:{i}", doc_id=f"doc{n}", text=f"note {n} part {i}")
            for i in range(3)
        ]
        return retrieval_pb2.UpsertRequest(chunks=chunks)

    replies = await asyncio.gather(*(stub.upsert(doc(n)) for n in range(6)))
    assert [r.upserted for r in replies] == [3] * 6
    assert REGISTRY.get_sample_value("veritas_retrieval_index_chunks") == 18


async def test_sentences_come_back_with_vectors_of_their_text_in_context(stub, minilm):
    from veritas_common.sentences import sentences_to_proto, split_sentences

    text = (
        "Dosage\n\nTake 200 mg every 4 hours. Do not exceed 1200 mg a day.\n\n"
        "| Age | Dose |\n| --- | --- |\n| Adults | 400 mg |\n"
    )
    chunk = common_pb2.Chunk(
        chunk_id="lbl:0",
        doc_id="lbl",
        title="Ibuprofen label",
        text=text,
        char_end=len(text),
        sentences=sentences_to_proto(split_sentences(text)),
    )
    await stub.upsert(retrieval_pb2.UpsertRequest(chunks=[chunk]))
    reply = await stub.search(search_request("most ibuprofen per day", top_k=1))
    (result,) = reply.results
    stored = result.chunk.sentences
    spans = [text[s.start : s.end] for s in stored]
    assert spans == [
        "Dosage",
        "Take 200 mg every 4 hours.",
        "Do not exceed 1200 mg a day.",
        "| Age | Dose |",
        "| Adults | 400 mg |",
    ]
    heading, _, limit, header, row = stored
    assert heading.kind == common_pb2.SENTENCE_KIND_HEADING and not heading.vector
    assert header.kind == common_pb2.SENTENCE_KIND_TABLE_HEADER and not header.vector
    assert row.kind == common_pb2.SENTENCE_KIND_TABLE_ROW and row.header == 4
    # The stored vector is the sentence read in its context, and the query's vector comes back
    # with the results, so a reader compares them without embedding anything.
    expected = minilm.embed(["Ibuprofen label: Do not exceed 1200 mg a day."], EmbedKind.PASSAGE)[0]
    assert np.dot(np.array(limit.vector), expected) > 0.999
    query = np.array(reply.query_vector)
    assert len(query) == 384 and np.dot(query, np.array(limit.vector)) > np.dot(
        query, np.array(row.vector)
    )


async def test_sentence_spans_outside_the_chunk_are_rejected_and_nothing_is_written(stub):
    chunk = common_pb2.Chunk(
        chunk_id="bad:0",
        doc_id="bad",
        text="Short text.",
        sentences=[common_pb2.ChunkSentence(start=0, end=40)],
    )
    with pytest.raises(InvalidArgument, match="sentence spans outside its text"):
        await stub.upsert(retrieval_pb2.UpsertRequest(chunks=[chunk]))
    reply = await stub.search(search_request("short text"))
    assert not reply.results
