"""The work behind the MCP tools: requests to the agent, answers rendered as the same JSON the
gateway returns (`veritas_common.rendering`). No MCP types here, so it tests without MCP."""

from __future__ import annotations

from typing import Any, Literal

from veritas.v1 import agent_pb2, agent_pb2_grpc, retrieval_pb2
from veritas_common.client import Peer
from veritas_common.errors import InvalidArgument
from veritas_common.rendering import answer_to_dict, calculation_to_dict, search_result_to_dict
from veritas_mcp.config import McpSettings

SearchModeName = Literal["hybrid", "bm25", "dense"]

_SEARCH_MODES: dict[str, retrieval_pb2.SearchMode] = {
    "hybrid": retrieval_pb2.SEARCH_MODE_HYBRID,
    "bm25": retrieval_pb2.SEARCH_MODE_BM25,
    "dense": retrieval_pb2.SEARCH_MODE_DENSE,
}
MAX_TOP_K = 100


class AgentTools:
    """`search`, `ask` and `calculate` against the agent service. Config in `__init__`; the
    gRPC channel opens in `open()`, inside the event loop that will use it."""

    def __init__(self, settings: McpSettings) -> None:
        self.settings = settings
        self._agent: Peer[agent_pb2_grpc.AgentServiceStub] | None = None

    async def open(self) -> None:
        self._agent = Peer.from_settings(
            "agent", self.settings.agent_addr, agent_pb2_grpc.AgentServiceStub, self.settings
        )

    async def close(self) -> None:
        if self._agent is not None:
            await self._agent.close()
            self._agent = None

    @property
    def agent(self) -> Peer[agent_pb2_grpc.AgentServiceStub]:
        if self._agent is None:
            raise RuntimeError("AgentTools.open() was not called")
        return self._agent

    async def search(
        self,
        query: str,
        top_k: int = 5,
        collection: str = "",
        mode: SearchModeName = "hybrid",
        rerank: bool = True,
    ) -> list[dict[str, Any]]:
        """Chunks most relevant to `query`, best first, as the gateway's /v1/search results."""
        query = query.strip()
        if not query:
            raise InvalidArgument("query must not be empty")
        if not 1 <= top_k <= MAX_TOP_K:
            raise InvalidArgument(f"top_k must be between 1 and {MAX_TOP_K}, got {top_k}")
        if mode not in _SEARCH_MODES:
            raise InvalidArgument(f"mode must be one of {', '.join(_SEARCH_MODES)}, got {mode!r}")
        request = agent_pb2.AgentServiceSearchRequest(
            query=query,
            top_k=top_k,
            tenant=self.settings.tenant,
            collection=collection.strip(),
            mode=_SEARCH_MODES[mode],
            rerank=rerank,
        )
        reply = await self.agent.call("Search", request)
        return [search_result_to_dict(result) for result in reply.results]

    async def ask(self, question: str, collection: str = "") -> dict[str, Any]:
        """A cited, verified answer, as the gateway's /v1/ask body."""
        question = question.strip()
        if not question:
            raise InvalidArgument("question must not be empty")
        request = agent_pb2.AskRequest(
            question=question,
            tenant=self.settings.tenant,
            collection=collection.strip(),
            caller=self.settings.caller,
        )
        reply = await self.agent.call("Ask", request, timeout_s=self.settings.ask_timeout_s)
        return answer_to_dict(reply.answer)

    async def calculate(self, expression: str) -> dict[str, Any]:
        """The calculator's result, as the gateway's /v1/calculate body."""
        expression = expression.strip()
        if not expression:
            raise InvalidArgument("expression must not be empty")
        reply = await self.agent.call(
            "Calculate", agent_pb2.CalculateRequest(expression=expression)
        )
        return calculation_to_dict(reply)
