"""gRPC calls the CLI makes: ingest files with progress, ask questions."""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from veritas.v1 import agent_pb2, agent_pb2_grpc, ingestion_pb2, ingestion_pb2_grpc
from veritas_cli.config import CliSettings
from veritas_common.client import Peer

SUPPORTED_SUFFIXES = {
    ".txt",
    ".md",
    ".markdown",
    ".html",
    ".htm",
    ".pdf",
    ".png",
    ".jpg",
    ".jpeg",
    ".webp",
    ".tif",
    ".tiff",
    ".bmp",
}


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files named directly, plus supported files found under named directories."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(p for p in path.rglob("*") if p.suffix.lower() in SUPPORTED_SUFFIXES)
            )
        elif path.exists():
            files.append(path)
        else:
            raise FileNotFoundError(f"no such file or directory: {path}")
    return files


async def ingest(
    settings: CliSettings,
    files: list[Path],
    collection: str,
    tenant: str,
    on_done: Callable[[ingestion_pb2.IngestResponse], None],
) -> list[ingestion_pb2.IngestResponse]:
    """Streams `files` to the ingestion service; `on_done` runs as each file is acknowledged."""
    peer = Peer.from_settings(
        "ingestion", settings.ingestion_addr, ingestion_pb2_grpc.IngestionServiceStub, settings
    )

    async def requests() -> AsyncIterator[ingestion_pb2.IngestRequest]:
        for path in files:
            yield ingestion_pb2.IngestRequest(
                source=path.name,
                content=path.read_bytes(),
                mime_type=mimetypes.guess_type(path.name)[0] or "",
                tenant=tenant,
                collection=collection,
            )

    results = []
    try:
        async for reply in peer.stream("Ingest", requests(), timeout_s=600):
            results.append(reply)
            on_done(reply)
    finally:
        await peer.close()
    return results


async def ask(
    settings: CliSettings, question: str, collection: str, tenant: str, data_schema: str = ""
) -> agent_pb2.Answer:
    stub = agent_pb2_grpc.AgentServiceStub
    peer = Peer.from_settings("agent", settings.agent_addr, stub, settings)
    try:
        reply = await peer.call(
            "Ask",
            agent_pb2.AskRequest(
                question=question,
                collection=collection,
                tenant=tenant,
                data_schema=data_schema,
                caller="cli",
            ),
            timeout_s=300,
        )
    finally:
        await peer.close()
    return reply.answer
