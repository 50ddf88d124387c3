"""`python -m veritas_agent` as a real process: settings from the environment, health, and
answers through fake peers."""

from __future__ import annotations

import asyncio
import threading

import grpc
import pytest
from agent_fakes import FakeEmbedding, FakeGeneration, FakeRerank, FakeRetrieval, all_chunks

from veritas.v1 import (
    agent_pb2,
    agent_pb2_grpc,
    embedding_pb2_grpc,
    generation_pb2_grpc,
    rerank_pb2_grpc,
    retrieval_pb2_grpc,
)
from veritas_common.server import start_server
from veritas_common.settings import VeritasSettings
from veritas_common.testing import ServiceProcess, free_port

pytestmark = pytest.mark.integration


class FakePeersThread:
    """The fake peers on a grpc.aio server in a thread of their own (the test is sync)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.port = free_port()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        def register(server):
            retrieval_pb2_grpc.add_RetrievalServiceServicer_to_server(
                FakeRetrieval(all_chunks()), server
            )
            rerank_pb2_grpc.add_RerankServiceServicer_to_server(FakeRerank(), server)
            generation_pb2_grpc.add_GenerationServiceServicer_to_server(FakeGeneration(), server)
            embedding_pb2_grpc.add_EmbeddingServiceServicer_to_server(FakeEmbedding(), server)
            return []

        settings = VeritasSettings(port=self.port, metrics_port=-1)
        self.server, *_ = self.loop.run_until_complete(
            start_server("fake-peers", settings, register)
        )
        self.ready.set()
        self.loop.run_forever()

    def __enter__(self) -> str:
        self.thread.start()
        assert self.ready.wait(30)
        return f"127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(0), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def test_agent_process_answers_through_its_peers(tmp_path):
    with FakePeersThread() as peers_addr:
        env = {
            "VERITAS_DATA_DIR": str(tmp_path),
            "VERITAS_RETRIEVAL_ADDR": peers_addr,
            "VERITAS_RERANK_ADDR": peers_addr,
            "VERITAS_GENERATION_ADDR": peers_addr,
            "VERITAS_EMBEDDING_ADDR": peers_addr,
            "VERITAS_RELEVANCE_THRESHOLD": "0.3",
            "VERITAS_PEER_RETRIES": "0",
        }
        agent = ServiceProcess("agent", env, tmp_path)
        try:
            agent.wait_serving(60)
            with grpc.insecure_channel(agent.addr) as channel:
                stub = agent_pb2_grpc.AgentServiceStub(channel)
                search = stub.Search(
                    agent_pb2.AgentServiceSearchRequest(query="Zentrivex dose", rerank=True),
                    timeout=10,
                )
                assert search.results and search.results[0].chunk.doc_id == "zent0001"
                reply = stub.Ask(
                    agent_pb2.AskRequest(question="What is the recommended dose of Zentrivex?"),
                    timeout=10,
                )
                assert reply.answer.status == agent_pb2.ANSWER_STATUS_ANSWERED
                assert "40 mg" in reply.answer.answer
                with pytest.raises(grpc.RpcError) as err:
                    stub.Ask(agent_pb2.AskRequest(question=" "), timeout=10)
                assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        finally:
            agent.stop()
        log = agent.log_path.read_text()
        assert '"service": "agent"' in log and "serving" in log
