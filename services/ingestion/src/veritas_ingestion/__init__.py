"""Veritas ingestion service: parse, chunk and index documents."""
