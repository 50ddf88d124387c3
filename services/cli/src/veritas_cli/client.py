"""gRPC calls the CLI makes: ingest files with progress, ask questions."""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from veritas.v1 import ingestion_pb2
from veritas_cli.config import CliSettings
from veritas_common import schemas
from veritas_common.clients import AgentClient, IngestionClient, ask_request

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
    on_done: Callable[[schemas.IngestedDocument], None],
) -> list[schemas.IngestedDocument]:
    """Streams `files` to the ingestion service; `on_done` runs as each file is acknowledged."""
    ingestion = IngestionClient(settings.ingestion_addr, settings)

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
        async for reply in ingestion.ingest(requests(), timeout_s=600):
            document = schemas.IngestedDocument.from_proto(reply)
            results.append(document)
            on_done(document)
    finally:
        await ingestion.close()
    return results


async def ask(
    settings: CliSettings, question: str, collection: str, tenant: str, data_schema: str = ""
) -> schemas.Answer:
    agent = AgentClient(settings.agent_addr, settings)
    request = ask_request(
        question, tenant=tenant, caller="cli", collection=collection, data_schema=data_schema
    )
    try:
        reply = await agent.ask(request, timeout_s=300)
    finally:
        await agent.close()
    return schemas.Answer.from_proto(reply.answer)
