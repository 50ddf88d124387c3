"""Shared building blocks of every Veritas service."""
