"""Fixtures: the fake peers on one real grpc.aio server, an agent wired to them over gRPC,
and the agent's own gRPC server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from agent_fakes import FakeEmbedding, FakeGeneration, FakeRerank, FakeRetrieval, all_chunks

from veritas.v1 import (
    agent_pb2_grpc,
    embedding_pb2_grpc,
    generation_pb2_grpc,
    rerank_pb2_grpc,
    retrieval_pb2_grpc,
)
from veritas_agent.agent import Agent
from veritas_agent.config import AgentSettings
from veritas_agent.judging import CachedJudge
from veritas_agent.peers import Peers
from veritas_agent.servicer import AgentServicer
from veritas_common.judge import EvidenceJudge
from veritas_common.server import start_server
from veritas_common.settings import VeritasSettings
from veritas_common.testing import free_port


@dataclass
class FakePeers:
    addr: str
    retrieval: FakeRetrieval
    rerank: FakeRerank
    generation: FakeGeneration
    embedding: FakeEmbedding


@pytest.fixture
async def fake_peers():
    peers = FakePeers(
        "", FakeRetrieval(all_chunks()), FakeRerank(), FakeGeneration(), FakeEmbedding()
    )

    def register(server):
        retrieval_pb2_grpc.add_RetrievalServiceServicer_to_server(peers.retrieval, server)
        rerank_pb2_grpc.add_RerankServiceServicer_to_server(peers.rerank, server)
        generation_pb2_grpc.add_GenerationServiceServicer_to_server(peers.generation, server)
        embedding_pb2_grpc.add_EmbeddingServiceServicer_to_server(peers.embedding, server)
        return []

    server, _, _, port = await start_server(
        "fake-peers", VeritasSettings(port=free_port(), metrics_port=-1), register
    )
    peers.addr = f"127.0.0.1:{port}"
    yield peers
    await server.stop(0)


def agent_settings(addr: str, tmp_path: Path, **overrides) -> AgentSettings:
    """Settings pointing every peer at the fakes. The bag-of-words FakeEmbedding puts
    cosines on a lower scale than all-MiniLM-L6-v2 (whose calibration sets the defaults), so
    the relevance bar is lowered for it here. Ask reranks, as it does with a cross-encoder,
    so the whole pipeline runs; the embedded default (off) has its own test."""
    values = dict(
        ask_rerank=True,
        retrieval_addr=addr,
        rerank_addr=addr,
        generation_addr=addr,
        embedding_addr=addr,
        relevance_threshold=0.3,
        min_similarity=0.3,
        peer_retries=0,
        peer_timeout_s=5.0,
        generation_timeout_s=5.0,
        port=free_port(),
        metrics_port=-1,
        data_dir=tmp_path,
    )
    values.update(overrides)
    return AgentSettings(**values)


@pytest.fixture(scope="session")
def evidence_judge() -> CachedJudge:
    """The bundled evidence judge, loaded once for every agent of the session."""
    judge = CachedJudge(EvidenceJudge())
    judge.warm_up()
    return judge


@pytest.fixture
async def make_agent(fake_peers, tmp_path, evidence_judge):
    """Builds agents (settings overridable) whose peers are the fakes, warmed up like the
    service does; closes them after."""
    opened: list[Peers] = []

    def build(verifier=None, **overrides) -> Agent:
        settings = agent_settings(fake_peers.addr, tmp_path, **overrides)
        peers = Peers.from_settings(settings)
        opened.append(peers)
        agent = Agent.from_settings(settings, peers, verifier=verifier, judge=evidence_judge)
        agent.warm_up()
        return agent

    yield build
    for peers in opened:
        await peers.close()


@pytest.fixture
async def agent_stub(make_agent):
    """An AgentService stub talking to a real agent server backed by the fakes."""
    agent = make_agent()

    def register(server):
        agent_pb2_grpc.add_AgentServiceServicer_to_server(AgentServicer(agent), server)
        return ["veritas.v1.AgentService"]

    server, _, _, port = await start_server("agent", agent.settings, register)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    yield agent_pb2_grpc.AgentServiceStub(channel)
    await channel.close()
    await server.stop(0)
