"""Veritas rerank service: query-candidate relevance scoring."""
