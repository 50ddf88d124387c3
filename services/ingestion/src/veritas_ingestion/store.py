"""Document store: one SQLite file with every ingested document and its normalised text.

Methods are synchronous and short; the ingestor calls them through `asyncio.to_thread`. Each
call opens its own connection, so calls from different threads never share one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    tenant       TEXT NOT NULL,
    doc_id       TEXT NOT NULL,
    collection   TEXT NOT NULL,
    source       TEXT NOT NULL,
    title        TEXT NOT NULL,
    mime_type    TEXT NOT NULL,
    text         TEXT NOT NULL,
    chunk_count  INTEGER NOT NULL,
    page_count   INTEGER NOT NULL,
    language     TEXT NOT NULL DEFAULT '',
    published_at TEXT NOT NULL DEFAULT '',
    ingested_at  TEXT NOT NULL,
    PRIMARY KEY (tenant, doc_id)
);
-- One current document per source in a collection: a new version replaces the old row.
CREATE UNIQUE INDEX IF NOT EXISTS documents_source
    ON documents (tenant, collection, source);
CREATE INDEX IF NOT EXISTS documents_listing
    ON documents (tenant, collection, ingested_at);
"""

_COLUMNS = (
    "tenant, doc_id, collection, source, title, mime_type, text, chunk_count, page_count, "
    "language, published_at, ingested_at"
)


@dataclass(frozen=True)
class StoredDocument:
    """A row of the documents table (`text` is empty in listings)."""

    tenant: str
    doc_id: str
    collection: str
    source: str
    title: str
    mime_type: str
    text: str
    chunk_count: int
    page_count: int
    language: str
    published_at: str
    ingested_at: str


class DocumentStore:
    """SQLite-backed store of ingested documents, keyed by (tenant, doc_id)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def open(self) -> None:
        """Creates the database file and schema if needed."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    def get(self, tenant: str, doc_id: str) -> StoredDocument | None:
        with self._connect() as db:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM documents WHERE tenant = ? AND doc_id = ?",
                (tenant, doc_id),
            ).fetchone()
        return StoredDocument(*row) if row else None

    def get_by_source(self, tenant: str, collection: str, source: str) -> StoredDocument | None:
        with self._connect() as db:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM documents "
                "WHERE tenant = ? AND collection = ? AND source = ?",
                (tenant, collection, source),
            ).fetchone()
        return StoredDocument(*row) if row else None

    def list(self, tenant: str, collection: str = "") -> list[StoredDocument]:
        """Documents of a tenant (one collection, or all when empty), newest first, no text."""
        columns = _COLUMNS.replace("text,", "'' AS text,")
        query = f"SELECT {columns} FROM documents WHERE tenant = ?"
        params: tuple[str, ...] = (tenant,)
        if collection:
            query += " AND collection = ?"
            params += (collection,)
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY ingested_at DESC, rowid DESC", params).fetchall()
        return [StoredDocument(*row) for row in rows]

    def put(self, document: StoredDocument, replaces: str | None = None) -> None:
        """Inserts `document` and, in the same transaction, deletes the document it replaces."""
        with self._connect() as db:
            if replaces is not None:
                db.execute(
                    "DELETE FROM documents WHERE tenant = ? AND doc_id = ?",
                    (document.tenant, replaces),
                )
            db.execute(
                f"INSERT INTO documents ({_COLUMNS}) VALUES ({', '.join('?' * 12)})",
                (
                    document.tenant,
                    document.doc_id,
                    document.collection,
                    document.source,
                    document.title,
                    document.mime_type,
                    document.text,
                    document.chunk_count,
                    document.page_count,
                    document.language,
                    document.published_at,
                    document.ingested_at,
                ),
            )

    def delete(self, tenant: str, doc_id: str) -> bool:
        with self._connect() as db:
            cursor = db.execute(
                "DELETE FROM documents WHERE tenant = ? AND doc_id = ?", (tenant, doc_id)
            )
        return cursor.rowcount > 0

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection whose block is one transaction: committed on success, rolled back on
        any error."""
        db = sqlite3.connect(self.path, timeout=30)
        try:
            with db:
                yield db
        finally:
            db.close()
