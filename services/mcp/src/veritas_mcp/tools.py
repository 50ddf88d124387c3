"""The work behind the MCP tools: requests to the agent, answers as the same JSON the gateway
returns (`veritas_common.schemas`). No MCP types here, so it tests without MCP."""

from __future__ import annotations

from typing import Any

from veritas.v1 import agent_pb2
from veritas_common import schemas
from veritas_common.clients import AgentClient, ask_request, search_request
from veritas_common.contract import MAX_QUESTION_CHARS, MAX_TOP_K, SearchMode
from veritas_common.errors import InvalidArgument
from veritas_mcp.config import McpSettings


def _text(name: str, value: str, max_chars: int | None = None) -> str:
    value = value.strip()
    if not value:
        raise InvalidArgument(f"{name} must not be empty")
    if max_chars is not None and len(value) > max_chars:
        raise InvalidArgument(f"{name} is longer than {max_chars} characters")
    return value


class AgentTools:
    """`search`, `ask` and `calculate` against the agent service (its channel opens on the
    first call, in the event loop that makes it)."""

    def __init__(self, settings: McpSettings) -> None:
        self.settings = settings
        self.agent = AgentClient(settings.agent_addr, settings)

    async def close(self) -> None:
        await self.agent.close()

    async def search(
        self,
        query: str,
        top_k: int = 5,
        collection: str = "",
        mode: SearchMode | str = SearchMode.HYBRID,
        rerank: bool = True,
    ) -> list[dict[str, Any]]:
        """Chunks most relevant to `query`, best first, as the gateway's /v1/search results."""
        query = _text("query", query, MAX_QUESTION_CHARS)
        if not 1 <= top_k <= MAX_TOP_K:
            raise InvalidArgument(f"top_k must be between 1 and {MAX_TOP_K}, got {top_k}")
        try:
            search_mode = SearchMode(mode)
        except ValueError:
            names = ", ".join(SearchMode)
            raise InvalidArgument(f"mode must be one of {names}, got {mode!r}") from None
        request = search_request(
            query,
            top_k=top_k,
            tenant=self.settings.tenant,
            collection=collection.strip(),
            mode=search_mode,
            rerank=rerank,
        )
        reply = await self.agent.search(request)
        return [schemas.SearchResult.from_proto(r).model_dump(mode="json") for r in reply.results]

    async def ask(self, question: str, collection: str = "") -> dict[str, Any]:
        """A cited, verified answer, as the gateway's /v1/ask body."""
        request = ask_request(
            _text("question", question, MAX_QUESTION_CHARS),
            tenant=self.settings.tenant,
            caller=self.settings.caller,
            collection=collection.strip(),
        )
        reply = await self.agent.ask(request, timeout_s=self.settings.ask_timeout_s)
        return schemas.Answer.from_proto(reply.answer).model_dump(mode="json")

    async def calculate(self, expression: str) -> dict[str, Any]:
        """The calculator's result, as the gateway's /v1/calculate body."""
        request = agent_pb2.CalculateRequest(expression=_text("expression", expression))
        reply = await self.agent.calculate(request)
        return schemas.CalculateResponse.from_proto(reply).model_dump(mode="json")
