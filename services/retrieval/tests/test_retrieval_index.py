"""The chunk index contract, run against every backend in `BACKENDS` with real MiniLM vectors
on a small corpus with clear answers; then the LanceDB backend's own storage details."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from veritas_common.contract import EmbedKind, SearchMode
from veritas_common.errors import FailedPrecondition
from veritas_embedding.embedder import BUNDLED_MODEL_ID
from veritas_retrieval.chunk_index import ChunkIndex
from veritas_retrieval.lance_index import LanceChunkIndex, tenant_table_name
from veritas_retrieval.models import ChunkRecord, SearchScope

TEXT, TABLE, OCR = 1, 2, 3
DEFAULT = SearchScope(tenant="default")

IndexFactory = Callable[[Path], ChunkIndex]


def make_lance_index(path: Path) -> ChunkIndex:
    # optimize_every=2 so the tests also cover compaction and BM25 re-indexing.
    return LanceChunkIndex(path, alpha=0.5, candidate_pool=20, optimize_every=2)


LANCEDB = pytest.param(make_lance_index, id="lancedb")
# Every backend runs the whole contract; a new backend is one more entry here.
BACKENDS = [LANCEDB]


@pytest.fixture(params=BACKENDS)
def make_index(request) -> IndexFactory:
    """The backend under test: builds an index in a directory, not opened yet."""
    return request.param


@pytest.fixture
def embed(minilm):
    def embed(texts, kind=EmbedKind.PASSAGE):
        return minilm.embed(texts, kind)

    return embed


@pytest.fixture
def index(make_index, tmp_path, corpus, embed):
    """An open index holding the corpus, from the backend under test."""
    index = make_index(tmp_path / "index")
    index.open()
    index.upsert(corpus, embed([c.text for c in corpus]), BUNDLED_MODEL_ID)
    yield index
    index.close()


@pytest.fixture
def search(index, embed):
    def search(query, mode=SearchMode.HYBRID, scope=DEFAULT, top_k=5):
        qvec = embed([query], EmbedKind.QUERY)[0]
        return index.search(query, qvec, scope, mode, top_k)

    return search


# == The contract: behaviour every `ChunkIndex` backend must have ==================================

# -- ranking ---------------------------------------------------------------------------------------


def test_bm25_finds_the_chunk_with_the_rare_term(search):
    results = search("warfarin bleeding", SearchMode.BM25)
    assert results[0].chunk.chunk_id == "med:0"
    assert all(r.bm25_score > 0 for r in results)  # BM25 mode returns lexical hits only
    assert results[0].score == results[0].bm25_score


def test_dense_finds_a_paraphrase_without_shared_words(search):
    results = search("How much did sales grow last year?", SearchMode.DENSE)
    assert results[0].chunk.chunk_id == "fin:0"
    assert results[0].score == pytest.approx(results[0].dense_score)
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True)


def test_hybrid_finds_the_answer_and_reports_both_scores(search):
    results = search("ibuprofen dose for adults")
    assert results[0].chunk.chunk_id == "med:1"
    assert results[0].bm25_score > 0 and results[0].dense_score > 0.3
    assert 0.0 <= results[-1].score <= results[0].score <= 1.0


def test_every_result_carries_its_exact_cosine(search, embed, corpus):
    qvec = embed(["warfarin bleeding"], EmbedKind.QUERY)[0]
    mine = [c for c in corpus if c.tenant == "default"]
    cosines = embed([c.text for c in mine]) @ qvec
    expected = {c.chunk_id: float(cos) for c, cos in zip(mine, cosines, strict=True)}
    for mode in SearchMode:
        for result in search("warfarin bleeding", mode):
            assert result.dense_score == pytest.approx(expected[result.chunk.chunk_id], 1e-4)


def test_dense_hits_that_also_match_lexically_carry_their_bm25_score(search):
    dense = {r.chunk.chunk_id: r for r in search("warfarin bleeding", SearchMode.DENSE)}
    bm25 = {r.chunk.chunk_id: r for r in search("warfarin bleeding", SearchMode.BM25)}
    assert dense["med:0"].bm25_score == pytest.approx(bm25["med:0"].bm25_score)


def test_results_round_trip_every_chunk_field(search, corpus):
    result = search("headaches and blurred vision", SearchMode.DENSE, top_k=1)[0]
    expected = next(c for c in corpus if c.chunk_id == "scan:0")
    # confidence is a 32-bit float, as in the proto
    assert result.chunk.confidence == pytest.approx(expected.confidence)
    assert dataclasses.replace(result.chunk, confidence=expected.confidence) == expected
    assert result.chunk.section_path == ["Warnings"]
    assert result.chunk.modality == OCR


def test_top_k_bounds_the_results(search):
    assert len(search("revenue", SearchMode.DENSE, top_k=2)) == 2
    assert len(search("revenue", SearchMode.HYBRID, top_k=3)) == 3


def test_stop_words_only_query_has_no_lexical_hits_but_dense_still_answers(search):
    assert search("the of and", SearchMode.BM25) == []
    assert len(search("the of and", SearchMode.HYBRID)) == 5


# -- scoping and filters ---------------------------------------------------------------------------


def test_tenants_are_isolated(search):
    default = search("revenue", SearchMode.BM25)
    acme = search("revenue", SearchMode.BM25, SearchScope(tenant="acme"))
    assert [r.chunk.tenant for r in default] == ["default"]
    assert [(r.chunk.chunk_id, r.chunk.tenant) for r in acme] == [("fin:0", "acme")]
    assert "Acme" in acme[0].chunk.text and "Acme" not in default[0].chunk.text
    assert search("revenue", SearchMode.DENSE, SearchScope(tenant="nobody")) == []


def test_collection_scopes_and_unknown_collection_is_empty(search):
    medical = search("revenue", SearchMode.DENSE, SearchScope(collection="medical"))
    assert {r.chunk.collection for r in medical} == {"medical"}
    assert search("revenue", SearchMode.HYBRID, SearchScope(collection="nope")) == []


def test_filters_by_source_doc_and_modality(search):
    def ids(**filters):
        scope = SearchScope(**filters)
        return sorted(r.chunk.chunk_id for r in search("report", SearchMode.DENSE, scope))

    assert ids(sources=("label.xml",)) == ["med:0", "med:1"]
    assert ids(doc_ids=("fin", "scan")) == ["fin:0", "fin:1", "scan:0"]
    assert ids(modalities=(TABLE, OCR)) == ["fin:1", "scan:0"]
    # UNSPECIFIED is treated as text, on write and in filters
    assert ids(modalities=(0,)) == ["fin:0", "med:0", "med:1"]
    assert ids(sources=("label.xml",), modalities=(OCR,)) == []


def test_hostile_filter_values_are_literals_not_sql(search):
    for value in ("x' OR '1'='1", "a\\'b", "') OR (1=1) OR source IN ('", '"; DROP'):
        scope = SearchScope(tenant=value, collection=value, sources=(value,))
        assert search("revenue", SearchMode.HYBRID, scope) == []
        assert search("revenue", SearchMode.BM25, SearchScope(sources=(value,))) == []


# -- writes ----------------------------------------------------------------------------------------


def test_upsert_replaces_by_chunk_id_and_bm25_sees_it_at_once(index, search, embed):
    before = index.count()
    replacement = ChunkRecord(
        chunk_id="med:0",
        doc_id="med",
        text="Methotrexate toxicity rises with concurrent trimethoprim.",
        source="label.xml",
        collection="medical",
    )
    assert index.upsert([replacement], embed([replacement.text]), BUNDLED_MODEL_ID) == 1
    assert index.count() == before
    assert search("warfarin", SearchMode.BM25) == []
    hits = search("methotrexate trimethoprim", SearchMode.BM25)
    assert [h.chunk.chunk_id for h in hits] == ["med:0"]
    # the other tenant's chunk with the same id is untouched
    acme = search("supply chain", SearchMode.BM25, SearchScope(tenant="acme"))
    assert [h.chunk.chunk_id for h in acme] == ["fin:0"]


def test_new_rows_are_found_by_bm25_before_and_after_optimize(make_index, tmp_path, embed):
    index = make_index(tmp_path / "fresh")
    index.open()
    words = ["alpha", "bravo", "charlie", "delta", "echo"]
    for i, word in enumerate(words):  # one write each crosses the optimize threshold
        chunk = ChunkRecord(chunk_id=f"d:{i}", doc_id="d", text=f"The code word is {word}.")
        index.upsert([chunk], embed([chunk.text]), BUNDLED_MODEL_ID)
        qvec = embed([word], EmbedKind.QUERY)[0]
        hits = index.search(word, qvec, DEFAULT, SearchMode.BM25, 3)
        assert [h.chunk.chunk_id for h in hits] == [f"d:{i}"], word
    index.close()


def test_unset_tenant_and_modality_get_their_defaults(make_index, tmp_path, embed):
    index = make_index(tmp_path / "defaults")
    index.open()
    chunk = ChunkRecord(chunk_id="u:0", doc_id="u", text="unlabelled", tenant="", modality=0)
    index.upsert([chunk], embed([chunk.text]), BUNDLED_MODEL_ID)
    qvec = embed(["unlabelled"], EmbedKind.QUERY)[0]
    scope = SearchScope(tenant="default", modalities=(TEXT,))
    [hit] = index.search("unlabelled", qvec, scope, SearchMode.BM25, 5)
    assert (hit.chunk.tenant, hit.chunk.modality) == ("default", TEXT)
    index.close()


def test_last_copy_wins_within_one_upsert(make_index, tmp_path, embed):
    index = make_index(tmp_path / "dup")
    index.open()
    first = ChunkRecord(chunk_id="x:0", doc_id="x", text="first version")
    second = dataclasses.replace(first, text="second version")
    vectors = embed([first.text, second.text])
    assert index.upsert([first, second], vectors, BUNDLED_MODEL_ID) == 1
    qvec = embed(["version"], EmbedKind.QUERY)[0]
    hits = index.search("version", qvec, DEFAULT, SearchMode.BM25, 5)
    assert [h.chunk.text for h in hits] == ["second version"]
    index.close()


def test_delete_removes_one_tenants_document(index, search):
    assert index.delete("default", "fin") == 2
    assert index.delete("default", "fin") == 0
    assert index.delete("default", "never-ingested") == 0
    assert all(r.chunk.doc_id != "fin" for r in search("revenue", SearchMode.DENSE))
    acme = search("revenue", SearchMode.DENSE, SearchScope(tenant="acme"))
    assert [r.chunk.doc_id for r in acme] == ["fin"]


def test_vectors_from_another_model_are_refused(index, embed):
    chunk = ChunkRecord(chunk_id="z:0", doc_id="z", text="text")
    with pytest.raises(FailedPrecondition, match="Re-index"):
        index.upsert([chunk], embed([chunk.text]), "some-other-model")
    with pytest.raises(FailedPrecondition, match="Re-index"):
        index.upsert([chunk], np.ones((1, 8), dtype=np.float32), BUNDLED_MODEL_ID)


# -- lifecycle -------------------------------------------------------------------------------------


def test_empty_index_returns_no_results(make_index, tmp_path, embed):
    index = make_index(tmp_path / "empty")
    index.open()
    qvec = embed(["anything"], EmbedKind.QUERY)[0]
    for mode in SearchMode:
        assert index.search("anything", qvec, DEFAULT, mode, 5) == []
    assert index.count() == 0 and index.delete("default", "d") == 0
    assert index.embedding_model is None
    index.close()


def test_index_survives_a_restart(make_index, tmp_path, corpus, embed):
    path = tmp_path / "persistent"
    index = make_index(path)
    index.open()
    index.upsert(corpus, embed([c.text for c in corpus]), BUNDLED_MODEL_ID)
    index.delete("default", "scan")
    index.close()
    del index

    reopened = make_index(path)
    reopened.open()
    assert reopened.count() == len(corpus) - 1
    assert reopened.embedding_model == BUNDLED_MODEL_ID
    qvec = embed(["warfarin bleeding"], EmbedKind.QUERY)[0]
    for mode in SearchMode:
        hits = reopened.search("warfarin bleeding", qvec, DEFAULT, mode, 3)
        assert hits[0].chunk.chunk_id == "med:0", mode
    qvec = embed(["blurred vision"], EmbedKind.QUERY)[0]
    hits = reopened.search("blurred vision", qvec, DEFAULT, SearchMode.DENSE, 10)
    assert "scan:0" not in {h.chunk.chunk_id for h in hits}
    reopened.close()


def test_using_a_closed_index_is_a_failed_precondition(make_index, tmp_path):
    index = make_index(tmp_path / "closed")
    with pytest.raises(FailedPrecondition, match="not open"):
        index.count()


# == LanceDB only: its table per tenant and files on disk ==========================================

# Parametrising `make_index` overrides the fixture, so `index` and `search` are LanceDB here.
lancedb_only = pytest.mark.parametrize("make_index", [LANCEDB])


@lancedb_only
def test_data_lives_under_the_given_directory(index, tmp_path):
    assert (tmp_path / "index" / "index.json").is_file()
    tables = sorted(p.name for p in (tmp_path / "index").glob("chunks_*.lance"))
    assert tables == sorted(f"{tenant_table_name(t)}.lance" for t in ("default", "acme"))


@lancedb_only
def test_bm25_statistics_do_not_leak_across_tenants(index, search, embed):
    before = search("revenue", SearchMode.BM25)[0].bm25_score
    noise = [
        ChunkRecord(chunk_id=f"n:{i}", doc_id="n", text=f"revenue revenue note {i}", tenant="acme")
        for i in range(20)
    ]
    index.upsert(noise, embed([c.text for c in noise]), BUNDLED_MODEL_ID)
    assert search("revenue", SearchMode.BM25)[0].bm25_score == pytest.approx(before)


def test_stored_sentences_come_back_with_the_results_that_hold_them(tmp_path, corpus, embed):
    from veritas_retrieval.models import SentenceRecord

    index = make_lance_index(tmp_path / "index")
    index.open()
    first = dataclasses.replace(
        corpus[0],
        sentences=[SentenceRecord(0, 5, 1, 0, [0.5] * 4), SentenceRecord(6, 9, 5, 0, [])],
    )
    index.upsert([first, *corpus[1:]], embed([c.text for c in corpus]), BUNDLED_MODEL_ID)
    qvec = embed([corpus[0].text], EmbedKind.QUERY)[0]
    hits = index.search(corpus[0].text, qvec, DEFAULT, SearchMode.HYBRID, 3)
    by_id = {h.chunk.chunk_id: h.chunk for h in hits}
    assert by_id[first.chunk_id].sentences == first.sentences
    assert all(c.sentences == [] for k, c in by_id.items() if k != first.chunk_id)


def test_a_table_written_before_sentences_were_stored_gains_the_column(tmp_path, corpus, embed):
    import lancedb

    index = make_lance_index(tmp_path / "index")
    index.open()
    index.upsert(corpus, embed([c.text for c in corpus]), BUNDLED_MODEL_ID)
    index.close()
    # Rewrite the tenant's table without the sentences column, as older versions wrote it.
    db = lancedb.connect(str(tmp_path / "index"))
    name = tenant_table_name("default")
    old = db.open_table(name).to_arrow().drop_columns(["sentences"])
    db.drop_table(name)
    db.create_table(name, old).create_fts_index("text")
    assert "sentences" not in db.open_table(name).schema.names

    reopened = make_lance_index(tmp_path / "index")
    reopened.open()
    qvec = embed(["ibuprofen"], EmbedKind.QUERY)[0]
    hits = reopened.search("ibuprofen", qvec, DEFAULT, SearchMode.HYBRID, 3)
    assert hits and all(h.chunk.sentences == [] for h in hits)
    assert reopened.upsert(corpus[:1], embed([corpus[0].text]), BUNDLED_MODEL_ID) == 1
