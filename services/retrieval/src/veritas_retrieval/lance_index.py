"""The LanceDB backend of `ChunkIndex`: embedded tables on local disk, one per tenant.

The index stores every chunk field plus its vector. Vectors come from the caller (the retriever
embeds through the embedding service), so the index never loads a model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from veritas_common.contract import SearchMode
from veritas_common.errors import FailedPrecondition
from veritas_retrieval.chunk_index import ChunkIndex
from veritas_retrieval.fusion import relative_score_fusion
from veritas_retrieval.models import (
    CHUNK_FIELDS,
    DEFAULT_TENANT,
    MODALITY_TEXT,
    ChunkRecord,
    ScoredChunk,
    SearchScope,
    SentenceRecord,
)

log = logging.getLogger(__name__)

# Tables are named "chunks_<hash of tenant>".
_TABLE_PREFIX = "chunks_"
_META_FILE = "index.json"
_TEXT = "text"
_VECTOR = "vector"
_SENTENCES = "sentences"
# What ranking reads; sentences (with their vectors) are fetched for the final results only.
_RANKING_COLUMNS = [*CHUNK_FIELDS, _VECTOR]


def _sentence_type() -> Any:
    import pyarrow as pa

    return pa.list_(
        pa.struct(
            [
                pa.field("start", pa.int32()),
                pa.field("end", pa.int32()),
                pa.field("kind", pa.int32()),
                pa.field("header", pa.int32()),
                pa.field("vector", pa.list_(pa.float32())),
            ]
        )
    )


def _schema(dim: int) -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("chunk_id", pa.string(), nullable=False),
            pa.field("doc_id", pa.string(), nullable=False),
            pa.field("text", pa.string(), nullable=False),
            pa.field("ordinal", pa.int32()),
            pa.field("tenant", pa.string(), nullable=False),
            pa.field("collection", pa.string()),
            pa.field("source", pa.string()),
            pa.field("title", pa.string()),
            pa.field("section_path", pa.list_(pa.string())),
            pa.field("page", pa.int32()),
            pa.field("char_start", pa.int32()),
            pa.field("char_end", pa.int32()),
            pa.field("published_at", pa.string()),
            pa.field("ingested_at", pa.string()),
            pa.field("modality", pa.int32()),
            pa.field("confidence", pa.float32()),
            pa.field("language", pa.string()),
            pa.field(_VECTOR, pa.list_(pa.float32(), dim)),
            pa.field(_SENTENCES, _sentence_type()),
        ]
    )


def scope_filter(scope: SearchScope) -> Any:
    """The scope as a typed LanceDB expression: values travel as literals, never as SQL text
    pasted together from user strings. (The tenant is also the table; filtering on it again
    costs nothing and keeps the filter complete on its own.)"""
    from lancedb.expr import col, lit

    expr = col("tenant") == lit(scope.tenant)
    if scope.collection:
        expr = expr & (col("collection") == lit(scope.collection))
    if scope.sources:
        expr = expr & col("source").isin(list(scope.sources))
    if scope.doc_ids:
        expr = expr & col("doc_id").isin(list(scope.doc_ids))
    if scope.modalities:
        expr = expr & col("modality").isin(sorted({m or MODALITY_TEXT for m in scope.modalities}))
    return expr


def tenant_table_name(tenant: str) -> str:
    """Table of a tenant: a hash, so any tenant string is a safe, fixed-length table name."""
    return _TABLE_PREFIX + hashlib.sha256(tenant.encode()).hexdigest()[:32]


@dataclass
class _Candidate:
    chunk: ChunkRecord
    vector: np.ndarray
    bm25: float = 0.0


class LanceChunkIndex(ChunkIndex):
    """Chunks in embedded LanceDB tables under `path`, one table per tenant.

    A table per tenant (like Weaviate's multi-tenancy shards) keeps BM25 statistics (IDF) of one
    tenant independent of every other tenant's documents, and means no filter mistake can ever
    surface another tenant's chunks.

    BM25 is LanceDB's native full-text index on `text` (stemming, stop words, ASCII folding);
    rows written since the last optimize are scanned, so upserts are searchable at once.
    Vectors are searched exactly (flat cosine), and hybrid fusion happens in `fusion.py`.
    """

    def __init__(
        self,
        path: Path,
        *,
        alpha: float = 0.5,
        candidate_pool: int = 50,
        optimize_every: int = 20,
    ) -> None:
        self.path = Path(path)
        self.alpha = alpha
        self.candidate_pool = candidate_pool
        self.optimize_every = optimize_every
        self._db: Any = None
        self._tables: dict[str, Any] = {}  # by table name
        self._meta: dict[str, Any] = {}
        self._writes_since_optimize: dict[str, int] = {}
        # LanceDB commits are optimistic; serialising our own writers avoids retry storms.
        self._write_lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------------

    def open(self) -> None:
        import lancedb

        self.path.mkdir(parents=True, exist_ok=True)
        self._db = lancedb.connect(str(self.path))
        meta_path = self.path / _META_FILE
        self._meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        # This process owns the directory, so the tables found now plus the ones it creates
        # are all there are.
        self._tables = {
            name: self._db.open_table(name)
            for name in self._table_names()
            if name.startswith(_TABLE_PREFIX)
        }
        for table in self._tables.values():
            if _SENTENCES not in table.schema.names:
                # Written before chunks kept their sentences: readers split those chunks
                # themselves until the documents are ingested again.
                import pyarrow as pa

                table.add_columns(pa.field(_SENTENCES, _sentence_type()))
        log.info(
            "index opened",
            extra={"path": str(self.path), "tenants": len(self._tables), "chunks": self.count()},
        )

    def _table_names(self) -> list[str]:
        names: list[str] = []
        page_token = None
        while True:
            page = self._db.list_tables(page_token=page_token)
            names.extend(page.tables)
            page_token = page.page_token
            if not page_token:
                return names

    def close(self) -> None:
        self._tables = {}
        self._db = None

    @property
    def embedding_model(self) -> str | None:
        return self._meta.get("embedding_model")

    def _require_open(self) -> None:
        if self._db is None:
            raise FailedPrecondition("retrieval index is not open yet")

    def _check_vectors(self, dim: int, model: str) -> None:
        """Pins the index to the first model it sees; later vectors must come from it."""
        if not self._meta:
            # Written before any table exists, so a table is never without its model id.
            self._meta = {"embedding_model": model, "dim": dim}
            tmp = self.path / (_META_FILE + ".tmp")
            tmp.write_text(json.dumps(self._meta))
            os.replace(tmp, self.path / _META_FILE)
        elif model != self.embedding_model or dim != self._meta.get("dim"):
            raise FailedPrecondition(
                f"index holds {self._meta.get('dim')}-d vectors from {self.embedding_model}; "
                f"got {dim}-d vectors from {model}. Re-index, or point "
                "VERITAS_EMBEDDING_ADDR at the original model"
            )

    def _tenant_table(self, tenant: str, *, create: bool = False) -> Any:
        name = tenant_table_name(tenant)
        table = self._tables.get(name)
        if table is None and create:
            table = self._db.create_table(name, schema=_schema(int(self._meta["dim"])))
            table.create_fts_index(_TEXT)
            self._tables[name] = table
        return table

    # -- writes --------------------------------------------------------------------------------

    def upsert(self, chunks: Sequence[ChunkRecord], vectors: np.ndarray, model: str) -> int:
        """One `merge_insert` commit per tenant: all of a tenant's chunks or none."""
        self._require_open()
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        if not chunks:
            return 0
        import pyarrow as pa

        dim = int(vectors.shape[1])
        with self._write_lock:
            self._check_vectors(dim, model)
            # The last copy of a chunk wins within one request, as it would across requests.
            latest: dict[str, dict[str, int]] = {}
            for i, chunk in enumerate(chunks):
                latest.setdefault(chunk.tenant or DEFAULT_TENANT, {})[chunk.chunk_id] = i
            written = 0
            for tenant, positions in latest.items():
                rows = [
                    {
                        **asdict(chunks[i]),
                        "tenant": tenant,
                        "modality": chunks[i].modality or MODALITY_TEXT,
                        _VECTOR: vectors[i].astype(np.float32).tolist(),
                    }
                    for i in sorted(positions.values())
                ]
                table = self._tenant_table(tenant, create=True)
                (
                    table.merge_insert("chunk_id")
                    .when_matched_update_all()
                    .when_not_matched_insert_all()
                    .execute(pa.Table.from_pylist(rows, schema=_schema(dim)))
                )
                self._after_write(table)
                written += len(rows)
            return written

    def delete(self, tenant: str, doc_id: str) -> int:
        self._require_open()
        table = self._tenant_table(tenant)
        if table is None:
            return 0
        from lancedb.expr import col, lit

        with self._write_lock:
            result = table.delete(col("doc_id") == lit(doc_id))
            if result.num_deleted_rows:
                self._after_write(table)
            return int(result.num_deleted_rows)

    def _after_write(self, table: Any) -> None:
        """Every `optimize_every` writes to a table: compact fragments, fold new rows into the
        BM25 index and drop old versions, so a table does not grow a fragment per upsert."""
        count = self._writes_since_optimize.get(table.name, 0) + 1
        self._writes_since_optimize[table.name] = count
        if count >= self.optimize_every:
            self._writes_since_optimize[table.name] = 0
            table.optimize(cleanup_older_than=timedelta(minutes=10))

    # -- reads ---------------------------------------------------------------------------------

    def count(self) -> int:
        self._require_open()
        return sum(int(table.count_rows()) for table in self._tables.values())

    def search(
        self,
        query: str,
        query_vector: np.ndarray,
        scope: SearchScope,
        mode: SearchMode,
        top_k: int,
    ) -> list[ScoredChunk]:
        self._require_open()
        table = self._tenant_table(scope.tenant)
        if table is None or top_k <= 0:
            return []
        qvec = np.asarray(query_vector, dtype=np.float32)
        qvec = qvec / (np.linalg.norm(qvec) or 1.0)
        pool = max(self.candidate_pool, top_k)
        where = scope_filter(scope)

        # Every result carries both scores, so callers can threshold either whatever the
        # ranking mode: dense hits get their BM25 score from the lexical candidates.
        lexical = _lexical(table, query, where, top_k if mode == SearchMode.BM25 else pool)
        # BM25 mode needs no vector search: its hits' cosines come from their stored vectors.
        dense_limit = top_k if mode == SearchMode.DENSE else pool
        dense = [] if mode == SearchMode.BM25 else _nearest(table, qvec, where, dense_limit)
        candidates: dict[str, _Candidate] = {}
        for cand in dense:
            candidates[cand.chunk.chunk_id] = cand
        for cand in lexical:
            candidates.setdefault(cand.chunk.chunk_id, cand).bm25 = cand.bm25
        cosine = {key: float(c.vector @ qvec) for key, c in candidates.items()}
        bm25 = {key: c.bm25 for key, c in candidates.items() if c.bm25 > 0}

        if mode == SearchMode.BM25:
            keys = [c.chunk.chunk_id for c in lexical]
            score = bm25
        elif mode == SearchMode.DENSE:
            keys = [c.chunk.chunk_id for c in dense]
            score = cosine
        else:
            keys = list(candidates)
            score = relative_score_fusion(bm25, cosine, self.alpha)
        ranked = sorted(keys, key=lambda k: (-score.get(k, 0.0), k))[:top_k]
        for key, sentences in _sentences(table, ranked).items():
            candidates[key].chunk.sentences = sentences
        return [
            ScoredChunk(
                chunk=candidates[k].chunk,
                score=score.get(k, 0.0),
                bm25_score=bm25.get(k, 0.0),
                dense_score=cosine[k],
            )
            for k in ranked
        ]


def _sentences(table: Any, chunk_ids: list[str]) -> dict[str, list[SentenceRecord]]:
    """The stored sentences of the chunks, by chunk id."""
    if not chunk_ids:
        return {}
    from lancedb.expr import col

    rows = (
        table.search()
        .where(col("chunk_id").isin(chunk_ids))
        .select(["chunk_id", _SENTENCES])
        .limit(len(chunk_ids))
        .to_arrow()
        .to_pylist()
    )
    return {row["chunk_id"]: [SentenceRecord(**s) for s in row[_SENTENCES] or []] for row in rows}


def _lexical(table: Any, query: str, where: Any, limit: int) -> list[_Candidate]:
    from lancedb.query import MatchQuery

    # A MatchQuery is plain terms: the user's text is never parsed as query syntax.
    # (mypy does not see MatchQuery's pydantic defaults.)
    rows = (
        table.search(MatchQuery(query, _TEXT), query_type="fts")  # type: ignore[call-arg]
        .where(where, prefilter=True)
        .select(_RANKING_COLUMNS)
        .limit(limit)
        .to_arrow()
        .to_pylist()
    )
    return [_candidate(row, bm25=float(row["_score"])) for row in rows]


def _nearest(table: Any, qvec: np.ndarray, where: Any, limit: int) -> list[_Candidate]:
    rows = (
        table.search(qvec, query_type="vector", vector_column_name=_VECTOR)
        .distance_type("cosine")
        .where(where, prefilter=True)
        .select(_RANKING_COLUMNS)
        .limit(limit)
        .to_arrow()
        .to_pylist()
    )
    return [_candidate(row) for row in rows]


def _candidate(row: dict[str, Any], bm25: float = 0.0) -> _Candidate:
    chunk = ChunkRecord(**{name: row[name] for name in CHUNK_FIELDS})
    chunk.section_path = list(chunk.section_path or [])
    return _Candidate(chunk, np.asarray(row[_VECTOR], dtype=np.float32), bm25)
