"""Veritas retrieval service: a persistent hybrid BM25 + vector index of chunks."""
