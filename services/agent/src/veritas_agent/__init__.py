"""Veritas agent: answers questions with cited, verified claims (ARCHITECTURE §2)."""
