"""Fakes for the ingestion tests. They implement the same small interfaces the domain code
uses (`IndexWriter`, `ImageReader`) and are named as fakes: nothing here ships."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from veritas_common.errors import PeerUnavailable
from veritas_ingestion.images import OcrLine, OcrPage
from veritas_ingestion.index import Chunk

SAMPLES = Path(__file__).resolve().parents[3] / "samples"


class FakeIndexWriter:
    """In-memory index keyed by (tenant, chunk_id); can be told to fail the next call."""

    def __init__(self) -> None:
        self.chunks: dict[tuple[str, str], Chunk] = {}
        self.calls: list[str] = []
        self.fail_upsert_after: int | None = None  # chunks written before an upsert fails
        self.fail_delete = False
        # Per source: seconds an upsert takes (as embedding does), and sources whose upsert fails.
        self.upsert_delay_s: dict[str, float] = {}
        self.fail_sources: set[str] = set()
        # Upserts running at once, now and at most (concurrent ingestion overlaps them), and
        # per source the sources whose upserts overlapped its own.
        self.in_flight: set[str] = set()
        self.max_in_flight = 0
        self.overlapped: dict[str, set[str]] = {}
        self.upserted_sources: list[str] = []

    async def upsert(self, chunks: Sequence[Chunk]) -> int:
        self.calls.append("upsert")
        source = chunks[0].source if chunks else ""
        for other in self.in_flight:
            self.overlapped.setdefault(other, set()).add(source)
            self.overlapped.setdefault(source, set()).add(other)
        self.in_flight.add(source)
        self.max_in_flight = max(self.max_in_flight, len(self.in_flight))
        try:
            await asyncio.sleep(self.upsert_delay_s.get(source, 0.0))
        finally:
            self.in_flight.discard(source)
        self.upserted_sources.append(source)
        if source in self.fail_sources:
            self.chunks.update({(c.tenant, c.chunk_id): c for c in chunks[:1]})  # partly written
            raise PeerUnavailable("retrieval", "fake outage")
        for n, chunk in enumerate(chunks):
            if self.fail_upsert_after is not None and n >= self.fail_upsert_after:
                raise PeerUnavailable("retrieval", "fake outage")
            self.chunks[(chunk.tenant, chunk.chunk_id)] = chunk
        return len(chunks)

    async def delete(self, doc_id: str, tenant: str) -> int:
        self.calls.append("delete")
        if self.fail_delete:
            raise PeerUnavailable("retrieval", "fake outage")
        keys = [k for k, c in self.chunks.items() if c.doc_id == doc_id and c.tenant == tenant]
        for key in keys:
            del self.chunks[key]
        return len(keys)

    def of(self, doc_id: str, tenant: str = "default") -> list[Chunk]:
        found = [c for c in self.chunks.values() if c.doc_id == doc_id and c.tenant == tenant]
        return sorted(found, key=lambda c: c.ordinal)


class FakeImageReader:
    """Returns fixed OCR lines for any image, as the vision service would."""

    def __init__(self, lines: list[OcrLine] | None = None) -> None:
        self.lines = lines if lines is not None else LAB_LINES
        self.seen: list[tuple[int, str]] = []

    async def read(self, image: bytes, mime_type: str) -> OcrPage:
        self.seen.append((len(image), mime_type))
        return OcrPage(self.lines, width=1100, height=520, model="fake-ocr")


LAB_LINES = [
    OcrLine("Northfield Clinical Laboratory", 0.99, 37, 30, 490, 71),
    OcrLine("Comprehensive Metabolic Panel", 0.98, 38, 151, 455, 183),
    OcrLine("Glucose 98 mg/dL", 0.97, 38, 208, 250, 240),
    OcrLine("(reference 70-99)", 0.62, 260, 210, 472, 239),
    OcrLine("Potassium 4.2 mmol/L (reference 3.5-5.1)", 0.95, 38, 375, 523, 407),
]
