"""The ingestion use cases: ingest a file, get, list and delete documents.

Nothing is half-written: a file is parsed and chunked completely before the index is touched,
the store row is written only after the index write succeeded, and a replaced document's old
chunks are removed before its row is swapped (in one transaction) for the new one.

Files are independent unless they share bytes or a source: the check-index-store section of a
file holds a lock on its document id and one on its (tenant, collection, source), so different
files commit concurrently (their chunks reach the embedding service together) while two
uploads of one source, or of the same bytes, still take turns. Within one Ingest stream a file
starts its commit only after the file before it started its own (`StreamTurn`), so a file that
cannot be read keeps every file after it from being written, as when files went one by one;
and the files being indexed together hold at most one index batch of chunks (`ChunkBudget`;
a larger file is indexed alone), so no Upsert waits behind more embedding work than before.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import time
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum

from veritas_common.errors import InvalidArgument, NotFound, TooLarge, VeritasError
from veritas_common.sentences import split_sentences
from veritas_ingestion import detect, language, metrics
from veritas_ingestion.chunker import StructureChunker
from veritas_ingestion.document import Modality, ParsedDocument
from veritas_ingestion.images import ImageReader
from veritas_ingestion.index import Chunk, IndexWriter
from veritas_ingestion.parsers import TEXT_PARSERS, ocr_document
from veritas_ingestion.store import DocumentStore, StoredDocument

log = logging.getLogger(__name__)

DEFAULT_TENANT = "default"
DEFAULT_COLLECTION = "default"
# Tenant and collection names end up in index filters and paths: keep them plain.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")


class IngestStatus(Enum):
    INGESTED = 1
    UNCHANGED = 2


@dataclass(frozen=True)
class IngestItem:
    """One file to ingest."""

    source: str
    content: bytes
    mime_type: str = ""
    tenant: str = ""
    collection: str = ""
    published_at: str = ""


@dataclass(frozen=True)
class IngestResult:
    source: str
    doc_id: str
    status: IngestStatus
    chunks: int
    title: str
    # Id of the previous version of the same source that this document replaced.
    replaced_doc_id: str | None = None


def document_id(content: bytes) -> str:
    """Content hash: the first 32 hex digits of the SHA-256 of the bytes."""
    return hashlib.sha256(content).hexdigest()[:32]


def tenant_name(value: str) -> str:
    return _checked_name("tenant", value or DEFAULT_TENANT)


def collection_name(value: str) -> str:
    return _checked_name("collection", value or DEFAULT_COLLECTION)


def _checked_name(kind: str, value: str) -> str:
    if not _NAME.fullmatch(value):
        raise InvalidArgument(
            f"invalid {kind} {value!r}: use 1-64 letters, digits, '_', '-' or '.'"
        )
    return value


def _published_at(value: str) -> str:
    value = value.strip()
    if value:
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidArgument(f"published_at {value!r} is not an ISO 8601 date") from exc
    return value


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ChunkBudget:
    """Chunks of one stream being indexed at once: files are indexed together while their
    chunks fit in `capacity`; a file larger than that waits until it is alone. Files ask in
    stream order (one at a time), so a large one is never passed over."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self.used = 0
        self._released = asyncio.Event()

    @contextlib.asynccontextmanager
    async def hold(self, chunks: int) -> AsyncIterator[None]:
        while self.used and self.used + chunks > self.capacity:
            self._released.clear()
            await self._released.wait()
        self.used += chunks
        try:
            yield
        finally:
            # Synchronous, so a cancelled file gives its share back too.
            self.used -= chunks
            self._released.set()


@dataclass
class StreamTurn:
    """A file's place in an Ingest stream: it may commit once the file before it started
    committing or finished without writing (`before`); it sets `reached` when it does. Its
    chunks count against the stream's `budget` while they are being indexed."""

    before: asyncio.Event | None = None
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    budget: ChunkBudget | None = None

    async def wait(self) -> None:
        if self.before is not None:
            await self.before.wait()

    def indexing(self, chunks: int) -> contextlib.AbstractAsyncContextManager[None]:
        return self.budget.hold(chunks) if self.budget else contextlib.nullcontext()


@dataclass
class _KeyLock:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0  # holders and waiters


class KeyedLocks:
    """One asyncio lock per key, forgotten when nobody holds or waits for it (a corpus of
    documents must not leave a lock per document behind)."""

    def __init__(self) -> None:
        self._locks: dict[tuple[str, ...], _KeyLock] = {}

    def __len__(self) -> int:
        return len(self._locks)

    @contextlib.asynccontextmanager
    async def hold(self, *keys: tuple[str, ...]) -> AsyncIterator[None]:
        """Holds every lock of `keys`; taken in sorted order, so two callers never each hold
        a lock the other waits for."""
        entries = []
        for key in sorted(set(keys)):
            entry = self._locks.setdefault(key, _KeyLock())
            entry.users += 1
            entries.append((key, entry))
        held: list[_KeyLock] = []
        try:
            for _, entry in entries:
                await entry.lock.acquire()
                held.append(entry)
            yield
        finally:
            for entry in reversed(held):
                entry.lock.release()
            for key, entry in entries:
                entry.users -= 1
                if entry.users == 0:
                    del self._locks[key]


@dataclass
class DocumentIngestor:
    """Parses, chunks, indexes and stores documents (see module docstring)."""

    store: DocumentStore
    index: IndexWriter
    images: ImageReader | None
    chunker: StructureChunker = field(default_factory=StructureChunker)
    max_document_bytes: int = 50 * 1024 * 1024
    # Serialise the check-index-store section per document id and per source, so two uploads
    # of one source (or of the same bytes) cannot interleave their replacements.
    _locks: KeyedLocks = field(default_factory=KeyedLocks, init=False, repr=False)

    def warm_up(self) -> None:
        """Creates the store and loads the language profiles (blocking; run in a thread)."""
        self.store.open()
        language.warm_up()

    async def ingest_stream(
        self,
        items: AsyncIterable[IngestItem],
        *,
        concurrency: int = 1,
        max_chunks_indexing: int = 64,
    ) -> AsyncGenerator[IngestResult, None]:
        """Ingests `items` with up to `concurrency` files in flight and yields their results in
        the order of `items`; files are indexed together while their chunks add up to at most
        `max_chunks_indexing` (a larger file alone).

        A failing file raises its error once every file before it has been yielded, and the
        files after it are cancelled: none of them has written anything when the failure came
        before the failing file's commit (bad input), since each file commits in its turn
        (`StreamTurn`); a failure while writing (a peer outage) may leave files after it that
        were being written at the same time ingested, unanswered. A slot frees when a result
        is yielded, so no file starts more than `concurrency` - 1 ahead of the oldest
        unanswered one."""
        slots = asyncio.Semaphore(max(1, concurrency))
        budget = ChunkBudget(max_chunks_indexing)
        # Started files in order; None after the last one, or the error reading `items` raised.
        started: asyncio.Queue[asyncio.Task[IngestResult] | BaseException | None] = asyncio.Queue()
        running: set[asyncio.Task[IngestResult]] = set()

        def finished(task: asyncio.Task[IngestResult]) -> None:
            running.discard(task)
            if not task.cancelled():
                task.exception()  # one failing after an earlier one ended the stream: seen

        async def read() -> None:
            # Requests are read while results are being sent: a client may wait for an answer
            # before it sends the next file.
            before: asyncio.Event | None = None
            try:
                async for item in items:
                    await slots.acquire()
                    turn = StreamTurn(before, budget=budget)
                    before = turn.reached
                    task = asyncio.create_task(self.ingest(item, turn))
                    running.add(task)
                    task.add_done_callback(finished)
                    started.put_nowait(task)
                started.put_nowait(None)
            except Exception as exc:
                started.put_nowait(exc)

        reader = asyncio.create_task(read())
        try:
            while (next_ := await started.get()) is not None:
                if isinstance(next_, BaseException):
                    raise next_
                result = await next_
                yield result
                slots.release()
        finally:
            reader.cancel()
            for task in running:
                task.cancel()
            if running:
                # wait() does not cancel them again if this stream is cancelled meanwhile: a
                # cancelled file's clean-up (removing its chunks) runs to the end.
                await asyncio.wait(set(running))

    async def ingest(self, item: IngestItem, turn: StreamTurn | None = None) -> IngestResult:
        """Ingests one file; errors name the file (`source`) in their message. With a `turn`,
        it commits (or answers UNCHANGED) only after the stream's previous file began to."""
        turn = turn or StreamTurn()
        mime_type = "unknown"
        try:
            source = item.source
            if not source.strip():
                raise InvalidArgument("source is required (a file name or URI)")
            tenant, collection = tenant_name(item.tenant), collection_name(item.collection)
            published_at = _published_at(item.published_at)
            if len(item.content) > self.max_document_bytes:
                raise TooLarge(
                    f"file is {len(item.content)} bytes, above the limit of "
                    f"{self.max_document_bytes} bytes"
                )
            if not item.content:
                raise InvalidArgument("file is empty")
            doc_id = document_id(item.content)
            existing = await asyncio.to_thread(self.store.get, tenant, doc_id)
            if existing is not None:
                await turn.wait()
                turn.reached.set()
                metrics.DOCUMENTS.labels("unchanged", existing.mime_type).inc()
                return self._unchanged(source, existing)
            mime_type = detect.detect_mime_type(source, item.content, item.mime_type)
            metrics.DOCUMENT_BYTES.labels(mime_type).observe(len(item.content))
            result = await self._ingest_new(
                doc_id, source, item.content, mime_type, tenant, collection, published_at, turn
            )
        except VeritasError as exc:
            metrics.DOCUMENTS.labels("failed", mime_type).inc()
            exc.message = f"{item.source or '<no source>'}: {exc.message}"
            exc.args = (exc.message,)
            raise
        except Exception as exc:
            # A bug, not bad input: log the traceback, tell the caller which file without
            # leaking internals (VeritasError itself maps to INTERNAL).
            metrics.DOCUMENTS.labels("failed", mime_type).inc()
            log.exception("ingest failed", extra={"source": item.source})
            raise VeritasError(f"{item.source}: internal error while ingesting") from exc
        outcome = (
            "unchanged"
            if result.status is IngestStatus.UNCHANGED
            else "replaced"
            if result.replaced_doc_id
            else "ingested"
        )
        metrics.DOCUMENTS.labels(outcome, mime_type).inc()
        return result

    async def _ingest_new(
        self,
        doc_id: str,
        source: str,
        content: bytes,
        mime_type: str,
        tenant: str,
        collection: str,
        published_at: str,
        turn: StreamTurn,
    ) -> IngestResult:
        start = time.perf_counter()
        parsed = await self._parse(source, content, mime_type)
        spans = await asyncio.to_thread(self.chunker.chunk, parsed)
        metrics.PARSE_DURATION.labels(mime_type).observe(time.perf_counter() - start)
        if not spans:
            raise InvalidArgument(f"no text found in the {mime_type} file")

        ingested_at = _now()
        lang = await asyncio.to_thread(language.detect_language, parsed.text)
        texts = [parsed.text[span.start : span.end] for span in spans]
        sentences = await asyncio.to_thread(
            lambda: [
                tuple(split_sentences(text, table=span.modality is Modality.TABLE))
                for span, text in zip(spans, texts, strict=True)
            ]
        )
        chunks = [
            Chunk(
                chunk_id=f"{doc_id}:{span.ordinal:04d}",
                doc_id=doc_id,
                ordinal=span.ordinal,
                tenant=tenant,
                collection=collection,
                source=source,
                title=parsed.title,
                section_path=span.section_path,
                page=span.page,
                char_start=span.start,
                char_end=span.end,
                text=text,
                published_at=published_at,
                ingested_at=ingested_at,
                modality=span.modality,
                confidence=span.confidence,
                language=lang,
                sentences=split,
            )
            for span, text, split in zip(spans, texts, sentences, strict=True)
        ]
        document = StoredDocument(
            tenant=tenant,
            doc_id=doc_id,
            collection=collection,
            source=source,
            title=parsed.title,
            mime_type=mime_type,
            text=parsed.text,
            chunk_count=len(chunks),
            page_count=parsed.page_count,
            language=lang,
            published_at=published_at,
            ingested_at=ingested_at,
        )
        await turn.wait()
        async with (
            turn.indexing(len(chunks)),
            self._locks.hold(("doc", tenant, doc_id), ("source", tenant, collection, source)),
        ):
            turn.reached.set()
            # Another request may have stored the same bytes while this one was parsing.
            existing = await asyncio.to_thread(self.store.get, tenant, doc_id)
            if existing is not None:
                return self._unchanged(source, existing)
            previous = await asyncio.to_thread(self.store.get_by_source, tenant, collection, source)
            await self._commit(document, chunks, previous)
        metrics.CHUNKS.labels(mime_type).inc(len(chunks))
        log.info(
            "ingested",
            extra={
                "source": source,
                "doc_id": doc_id,
                "chunks": len(chunks),
                "mime_type": mime_type,
                "replaced": previous.doc_id if previous else None,
            },
        )
        return IngestResult(
            source=source,
            doc_id=doc_id,
            status=IngestStatus.INGESTED,
            chunks=len(chunks),
            title=parsed.title,
            replaced_doc_id=previous.doc_id if previous else None,
        )

    async def _parse(self, source: str, content: bytes, mime_type: str) -> ParsedDocument:
        if mime_type in detect.IMAGE_TYPES:
            if self.images is None:
                raise InvalidArgument("images are not supported: no vision service configured")
            page = await self.images.read(content, mime_type)
            return ocr_document(page, source)
        # Parsing is CPU-bound (pypdf, lxml): keep the event loop serving other requests.
        return await asyncio.to_thread(TEXT_PARSERS[mime_type], content, source)

    async def _commit(
        self, document: StoredDocument, chunks: list[Chunk], previous: StoredDocument | None
    ) -> None:
        """Index first, then store; undo the index write when a later step fails."""
        try:
            await self.index.upsert(chunks)
            if previous is not None:
                await self.index.delete(previous.doc_id, previous.tenant)
        except BaseException:  # cancellation included: no orphan chunks either way
            await self._forget_chunks(document.doc_id, document.tenant)
            raise
        replaces = previous.doc_id if previous else None
        try:
            # Shielded: once the index holds the new chunks the row must land, even if the
            # caller goes away meanwhile.
            await asyncio.shield(asyncio.to_thread(self.store.put, document, replaces))
        except asyncio.CancelledError:
            raise
        except Exception:
            await self._forget_chunks(document.doc_id, document.tenant)
            raise

    async def _forget_chunks(self, doc_id: str, tenant: str) -> None:
        """Best effort: the new document's (possibly partial) chunks must not stay searchable
        without a store row. Failure is logged; the original error is what the caller sees."""
        try:
            await self.index.delete(doc_id, tenant)
        except Exception:
            log.exception("could not remove chunks of a failed ingest", extra={"doc_id": doc_id})

    @staticmethod
    def _unchanged(source: str, existing: StoredDocument) -> IngestResult:
        return IngestResult(
            source=source,
            doc_id=existing.doc_id,
            status=IngestStatus.UNCHANGED,
            chunks=existing.chunk_count,
            title=existing.title,
        )

    async def get(self, doc_id: str, tenant: str = "") -> StoredDocument:
        document = await asyncio.to_thread(self.store.get, tenant_name(tenant), doc_id)
        if document is None:
            raise NotFound(f"document {doc_id!r} not found in tenant {tenant_name(tenant)!r}")
        return document

    async def list(self, tenant: str = "", collection: str = "") -> list[StoredDocument]:
        """Documents without their text, newest first; all collections when `collection` is
        empty."""
        if collection:
            collection = collection_name(collection)
        return await asyncio.to_thread(self.store.list, tenant_name(tenant), collection)

    async def delete(self, doc_id: str, tenant: str = "") -> int:
        """Removes the document's chunks from the index, then its row; returns the number of
        chunks removed."""
        document = await self.get(doc_id, tenant)
        async with self._locks.hold(("doc", document.tenant, document.doc_id)):
            deleted = await self.index.delete(document.doc_id, document.tenant)
            await asyncio.to_thread(self.store.delete, document.tenant, document.doc_id)
        return deleted
