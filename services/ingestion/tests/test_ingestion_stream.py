"""Several files of one Ingest stream in flight (`DocumentIngestor.ingest_stream`): answers in
request order, bounded concurrency, a failing file stops the files after it and nothing else,
and the per-document / per-source locks that replaced the per-tenant one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

import pytest
from ingestion_fakes import SAMPLES, FakeIndexWriter

from veritas_common.errors import InvalidArgument, PeerUnavailable
from veritas_ingestion.ingestor import (
    DocumentIngestor,
    IngestItem,
    IngestResult,
    IngestStatus,
    KeyedLocks,
    document_id,
)

ACME = (SAMPLES / "acme-annual-report-2024.md").read_bytes()


def markdown(i: int) -> bytes:
    return f"# Report {i}\n\nRevenue of unit {i} rose by {i} percent. Costs stayed flat.\n".encode()


def item(i: int) -> IngestItem:
    return IngestItem(f"report-{i}.md", markdown(i))


async def feed(items: Iterable[IngestItem]) -> AsyncIterator[IngestItem]:
    for one in items:
        yield one


async def collect(ingestor: DocumentIngestor, items, concurrency: int) -> list[IngestResult]:
    return [r async for r in ingestor.ingest_stream(feed(items), concurrency=concurrency)]


async def collect_with(ingestor: DocumentIngestor, items, **options) -> list[IngestResult]:
    return [r async for r in ingestor.ingest_stream(feed(items), **options)]


async def test_results_come_in_request_order_while_files_overlap(ingestor, index: FakeIndexWriter):
    # The first file is the slowest to index: later ones finish first but wait their turn.
    index.upsert_delay_s = {f"report-{i}.md": 0.05 * (6 - i) for i in range(6)}
    results = await collect(ingestor, [item(i) for i in range(6)], concurrency=4)
    assert [r.source for r in results] == [f"report-{i}.md" for i in range(6)]
    assert all(r.status is IngestStatus.INGESTED for r in results)
    assert index.max_in_flight == 4  # four upserts (embedding requests) at once
    assert index.upserted_sources[0] != "report-0.md"  # the slow first one finished later
    assert len(await ingestor.list()) == 6


async def test_one_at_a_time_never_overlaps(ingestor, index: FakeIndexWriter):
    index.upsert_delay_s = {f"report-{i}.md": 0.01 for i in range(4)}
    results = await collect(ingestor, [item(i) for i in range(4)], concurrency=1)
    assert [r.source for r in results] == [f"report-{i}.md" for i in range(4)]
    assert index.max_in_flight == 1
    assert index.upserted_sources == [f"report-{i}.md" for i in range(4)]


async def test_no_file_starts_more_than_concurrency_ahead_of_the_oldest_unanswered(
    ingestor, index: FakeIndexWriter
):
    index.upsert_delay_s = {"report-0.md": 0.3}
    stream = ingestor.ingest_stream(feed(item(i) for i in range(8)), concurrency=3)
    first = await anext(stream)
    # While file 0 was indexing, only files 1 and 2 could start.
    assert first.source == "report-0.md"
    assert sorted(index.upserted_sources) == ["report-0.md", "report-1.md", "report-2.md"]
    assert index.upserted_sources[-1] == "report-0.md"
    rest = [r.source async for r in stream]
    assert rest == [f"report-{i}.md" for i in range(1, 8)]


async def test_files_indexed_together_fit_one_index_batch_and_a_larger_one_goes_alone(
    ingestor, index: FakeIndexWriter
):
    big = IngestItem("acme.md", ACME)  # more chunks than the budget below
    items = [item(0), item(1), big, item(3), item(4)]
    index.upsert_delay_s = {i.source: 0.05 for i in items}
    results = await collect_with(ingestor, items, concurrency=8, max_chunks_indexing=2)
    assert results[2].chunks > 2 and all(r.chunks == 1 for r in results if r is not results[2])
    assert "acme.md" not in index.overlapped  # indexed alone
    assert index.overlapped["report-0.md"] == {"report-1.md"}  # two one-chunk files together
    assert index.overlapped["report-3.md"] == {"report-4.md"}
    assert [r.source for r in results] == [i.source for i in items]


async def test_a_file_that_cannot_be_read_stops_the_files_after_it(
    ingestor, index: FakeIndexWriter
):
    # The broken file fails at once; the files after it are quick, the one before is slow.
    index.upsert_delay_s = {"report-0.md": 0.2}
    items = [item(0), IngestItem("broken.pdf", b"%PDF-1.5 junk"), item(2), item(3)]
    received = []
    with pytest.raises(InvalidArgument, match=r"^broken\.pdf: malformed PDF"):
        async for result in ingestor.ingest_stream(feed(items), concurrency=4):
            received.append(result.source)
    assert received == ["report-0.md"]
    # Nothing after the broken file was written, though it was read and parsed meanwhile.
    assert [d.source for d in await ingestor.list()] == ["report-0.md"]
    assert index.upserted_sources == ["report-0.md"]
    assert {c.source for c in index.chunks.values()} == {"report-0.md"}


async def test_a_failing_write_leaves_the_concurrent_files_alone(ingestor, index: FakeIndexWriter):
    index.fail_sources = {"report-1.md"}
    outcomes = await asyncio.gather(
        *(ingestor.ingest(item(i)) for i in range(3)), return_exceptions=True
    )
    assert isinstance(outcomes[1], PeerUnavailable)
    assert str(outcomes[1]).startswith("report-1.md: ")
    assert [o.status for o in outcomes if isinstance(o, IngestResult)] == [
        IngestStatus.INGESTED,
        IngestStatus.INGESTED,
    ]
    assert sorted(d.source for d in await ingestor.list()) == ["report-0.md", "report-2.md"]
    # The failed file's partly written chunks were removed; the others' chunks are all there.
    assert not index.of(document_id(markdown(1)))
    assert len(index.of(document_id(markdown(0)))) == outcomes[0].chunks


async def test_requests_are_read_while_answers_are_sent(ingestor):
    # A client that sends the next file only after the previous one was answered.
    answered = asyncio.Event()

    async def ping_pong() -> AsyncIterator[IngestItem]:
        for i in range(3):
            answered.clear()
            yield item(i)
            await answered.wait()

    sources = []
    async with asyncio.timeout(10):
        async for result in ingestor.ingest_stream(ping_pong(), concurrency=4):
            sources.append(result.source)
            answered.set()
    assert sources == ["report-0.md", "report-1.md", "report-2.md"]


async def test_two_versions_of_one_source_in_a_stream_replace_in_order(
    ingestor, index: FakeIndexWriter
):
    old = IngestItem("report.md", markdown(1))
    new = IngestItem("report.md", markdown(2))
    index.upsert_delay_s = {"report.md": 0.05}
    first, second = await collect(ingestor, [old, new], concurrency=4)
    assert second.replaced_doc_id == first.doc_id
    assert [d.doc_id for d in await ingestor.list()] == [second.doc_id]
    assert not index.of(first.doc_id) and index.of(second.doc_id)


async def test_same_bytes_twice_in_a_stream_is_indexed_once(ingestor, index: FakeIndexWriter):
    index.upsert_delay_s = {"a.md": 0.05, "b.md": 0.05}
    a, b = await collect(
        ingestor, [IngestItem("a.md", markdown(1)), IngestItem("b.md", markdown(1))], 4
    )
    assert (a.status, b.status) == (IngestStatus.INGESTED, IngestStatus.UNCHANGED)
    assert index.upserted_sources == ["a.md"]


async def test_keyed_locks_serialise_a_key_and_forget_it_afterwards():
    locks = KeyedLocks()
    order: list[str] = []

    async def hold(name: str, *keys: tuple[str, ...]) -> None:
        async with locks.hold(*keys):
            order.append(f"{name}+")
            await asyncio.sleep(0.02)
            order.append(f"{name}-")

    await asyncio.gather(
        hold("a", ("doc", "x"), ("source", "s")),
        hold("b", ("source", "s")),  # shares a key with a: waits
        hold("c", ("doc", "y")),  # shares none: runs alongside
    )
    assert order.index("a-") < order.index("b+")
    assert order.index("c+") < order.index("a-")
    assert len(locks) == 0
