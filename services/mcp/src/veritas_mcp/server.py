"""The MCP server: tools `search`, `ask` and `calculate` over the agent, plus /healthz and
/metrics on the streamable HTTP transport."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from veritas_common.contract import MAX_QUESTION_CHARS, MAX_TOP_K, SearchMode
from veritas_common.errors import InvalidArgument, PeerUnavailable, VeritasError
from veritas_common.logs import new_request_id, request_id_var
from veritas_mcp.config import McpSettings
from veritas_mcp.metrics import TOOL_CALLS, TOOL_DURATION
from veritas_mcp.tools import AgentTools

log = logging.getLogger(__name__)

T = TypeVar("T")

INSTRUCTIONS = """\
Veritas answers questions only from the documents ingested into it. `ask` returns claims that
each cite evidence down to the character span (status ANSWERED, PARTIAL or REFUSED; a refusal
means the documents do not support an answer). `search` returns the most relevant passages.
`calculate` evaluates arithmetic on numbers taken from the evidence, so computed figures are
exact rather than guessed.
"""

# Every tool only reads: none changes the index.
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)


async def _observed(tool: str, work: Awaitable[T]) -> T:
    """Runs one tool call under its own request id (forwarded to the agent), counts and times
    it, and turns domain errors into tool errors the client sees as text."""
    request_id_var.set(new_request_id())
    start = time.perf_counter()
    outcome = "ok"
    try:
        return await work
    except InvalidArgument as err:
        outcome = "invalid"
        raise ToolError(err.message) from err
    except PeerUnavailable as err:
        outcome = "unavailable"
        log.warning("peer unavailable", extra={"tool": tool, "error": err.message})
        raise ToolError(err.message) from err
    except VeritasError as err:
        outcome = "error"
        raise ToolError(err.message) from err
    finally:
        TOOL_CALLS.labels(tool, outcome).inc()
        TOOL_DURATION.labels(tool).observe(time.perf_counter() - start)


# The search modes, inline in the tool's input schema (AgentTools.search validates them).
MODES: dict[str, Any] = {"enum": [mode.value for mode in SearchMode]}


def build_server(settings: McpSettings) -> MCPServer[None]:
    """The MCP server with its tools; the agent channel lives for the server's lifespan."""
    tools = AgentTools(settings)

    @asynccontextmanager
    async def lifespan(_server: MCPServer[None]) -> AsyncIterator[None]:
        try:
            yield None
        finally:
            await tools.close()

    server: MCPServer[None] = MCPServer(
        "veritas", instructions=INSTRUCTIONS, version="0.1.0", lifespan=lifespan
    )

    @server.tool(annotations=READ_ONLY, structured_output=True)
    async def search(
        query: Annotated[
            str, Field(max_length=MAX_QUESTION_CHARS, description="What to look for.")
        ],
        top_k: Annotated[int, Field(ge=1, le=MAX_TOP_K, description="Number of results.")] = 5,
        collection: Annotated[str, Field(description="Collection; all when empty.")] = "",
        mode: Annotated[str, Field(description="Retrieval scoring.", json_schema_extra=MODES)] = (
            SearchMode.HYBRID.value
        ),
        rerank: Annotated[bool, Field(description="Rerank candidates first.")] = True,
    ) -> list[dict[str, Any]]:
        """Searches the ingested documents. Returns passages best first, each with chunk_id,
        doc_id, source, title, section_path, page, char_start, char_end, text and score."""
        return await _observed("search", tools.search(query, top_k, collection, mode, rerank))

    @server.tool(annotations=READ_ONLY, structured_output=True)
    async def ask(
        question: Annotated[
            str, Field(max_length=MAX_QUESTION_CHARS, description="The question to answer.")
        ],
        collection: Annotated[str, Field(description="Collection; all when empty.")] = "",
    ) -> dict[str, Any]:
        """Answers a question from the ingested documents only. Returns answer_id, status
        (ANSWERED, PARTIAL or REFUSED), answer, claims (text, citations, support, score),
        evidence (id, doc_id, source, char_start, char_end, quote, ...), refusal_reason, data,
        usage and trace. Every claim's citations name evidence ids."""
        return await _observed("ask", tools.ask(question, collection))

    @server.tool(annotations=READ_ONLY, structured_output=True)
    async def calculate(
        expression: Annotated[
            str,
            Field(
                description='Arithmetic such as "(3,233 - 2,977) / 2,977" (thousands '
                "separators, %, parentheses, + - * /), or a program: "
                '"subtract(5829, 5735), divide(#0, 5735)" or '
                '"x0 = 60.94 - 25.14; ans = x0 / 25.14".'
            ),
        ],
    ) -> dict[str, Any]:
        """Evaluates arithmetic exactly. Returns value, expression (as evaluated) and steps (each
        step's value; one for a plain expression). Malformed input, division by zero and unknown
        operations are errors with the reason."""
        return await _observed("calculate", tools.calculate(expression))

    @server.custom_route("/healthz", methods=["GET"])
    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @server.custom_route("/metrics", methods=["GET"])
    async def metrics(_request: Request) -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return server
