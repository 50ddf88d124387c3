"""Veritas embedding service: dense vectors for queries and passages."""
