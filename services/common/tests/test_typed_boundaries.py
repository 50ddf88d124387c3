"""Calls across service boundaries are type-checked: mypy reads the generated message stubs
and the typed clients, so a misspelt request field, the wrong request message or a field the
response does not have are errors before anything runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

MISUSE = """
from veritas.v1 import agent_pb2
from veritas_common.clients import AgentClient, EmbeddingClient
from veritas_common.contract import EmbedKind


async def misuse(agent: AgentClient, embedder: EmbeddingClient) -> None:
    await agent.ask(agent_pb2.AskRequest(questio="What was revenue?"))  # error
    await agent.ask(agent_pb2.VerifyRequest(claim="x"))  # error
    reply = await agent.search(agent_pb2.AgentServiceSearchRequest(query="x"))
    print(reply.answer)  # error
    await embedder.embed(["x"], "query")  # error


async def correct_use(agent: AgentClient) -> None:
    reply = await agent.ask(agent_pb2.AskRequest(question="What was revenue?"))
    print(reply.answer.claims[0].citations)
"""


@pytest.mark.slow
def test_mypy_rejects_wrong_requests_and_responses_across_a_boundary(tmp_path: Path) -> None:
    snippet = tmp_path / "boundary_misuse.py"
    snippet.write_text(MISUSE)
    command = [
        sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml"),
        "--cache-dir", str(tmp_path / ".mypy_cache"), "--no-error-summary", str(snippet),
    ]  # fmt: skip
    env = {**os.environ, "MYPYPATH": str(REPO / "services" / "common" / "src")}
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    lines = {int(line.split(":")[1]) for line in errors}
    # Each misuse is flagged on its own line (marked `# error`); the correct use is not.
    expected = {n for n, text in enumerate(MISUSE.splitlines(), 1) if text.endswith("# error")}
    assert lines == expected, result.stdout
    assert 'Unexpected keyword argument "questio" for "AskRequest"' in result.stdout
    assert 'incompatible type "VerifyRequest"; expected "AskRequest"' in result.stdout
    assert '"AgentServiceSearchResponse" has no attribute "answer"' in result.stdout
