"""A named fake of the agent servicer on a real grpc.aio server, for the MCP server's tests."""

from __future__ import annotations

import asyncio

import grpc
from grpc_health.v1 import health_pb2

from veritas.v1 import agent_pb2, agent_pb2_grpc, common_pb2, retrieval_pb2
from veritas_common.errors import InvalidArgument
from veritas_common.logs import request_id_var
from veritas_common.server import start_server
from veritas_common.settings import VeritasSettings
from veritas_common.testing import free_port

TEXT = "Zentrivex: the recommended dose is 20 mg once daily."


def sample_answer(question: str) -> agent_pb2.Answer:
    return agent_pb2.Answer(
        answer_id="ans-7",
        question=question,
        status=agent_pb2.ANSWER_STATUS_ANSWERED,
        answer=TEXT,
        claims=[
            agent_pb2.Claim(
                text=TEXT, citations=["E1"], support=agent_pb2.SUPPORT_SUPPORTED, score=0.5
            )
        ],
        evidence=[
            common_pb2.Evidence(
                id="E1",
                chunk_id="lbl:0001",
                doc_id="lbl",
                source="zentrivex.xml",
                title="Zentrivex label",
                section_path=["Dosage"],
                page=1,
                char_start=10,
                char_end=10 + len(TEXT),
                quote=TEXT,
                retrieval_score=0.25,
            )
        ],
        usage=agent_pb2.Usage(total_ms=8.0),
        trace=[agent_pb2.TraceStep(name="verify", detail="1 claim kept", duration_ms=1.5)],
    )


class FakeAgent(agent_pb2_grpc.AgentServiceServicer):
    """Fake agent recording requests and the request id each arrived with."""

    def __init__(self) -> None:
        self.asks: list[agent_pb2.AskRequest] = []
        self.searches: list[agent_pb2.AgentServiceSearchRequest] = []
        self.calculations: list[agent_pb2.CalculateRequest] = []
        self.request_ids: list[str] = []

    async def Ask(self, request, context):
        self.asks.append(request)
        self.request_ids.append(request_id_var.get())
        if request.question == "bad question":
            raise InvalidArgument("question names no document")
        return agent_pb2.AskResponse(answer=sample_answer(request.question))

    async def Search(self, request, context):
        self.searches.append(request)
        self.request_ids.append(request_id_var.get())
        results = [
            retrieval_pb2.ScoredChunk(
                chunk=common_pb2.Chunk(
                    chunk_id=f"lbl:{i:04d}",
                    doc_id="lbl",
                    source="zentrivex.xml",
                    title="Zentrivex label",
                    section_path=["Dosage"],
                    page=1,
                    char_start=i * 100,
                    char_end=i * 100 + len(TEXT),
                    text=TEXT,
                ),
                score=1.0 / (i + 1),
            )
            for i in range(request.top_k)
        ]
        await asyncio.sleep(0)
        return agent_pb2.AgentServiceSearchResponse(results=results)

    async def Calculate(self, request, context):
        """Knows one program; anything else is refused as the real calculator would."""
        self.calculations.append(request)
        if request.expression == "subtract(5829, 5735), divide(#0, 5735)":
            return agent_pb2.CalculateResponse(
                value=94 / 5735, expression=request.expression, steps=[94.0, 94 / 5735]
            )
        raise InvalidArgument("division by zero")


async def start_fake_agent() -> tuple[str, grpc.aio.Server, FakeAgent]:
    fake = FakeAgent()

    def register(server: grpc.aio.Server) -> list[str]:
        agent_pb2_grpc.add_AgentServiceServicer_to_server(fake, server)
        return []

    settings = VeritasSettings(port=free_port(), metrics_port=-1)
    server, health, _names, port = await start_server("agent", settings, register)
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    return f"127.0.0.1:{port}", server, fake
