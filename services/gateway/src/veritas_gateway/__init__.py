"""Veritas gateway: the HTTP API in front of the agent and ingestion services."""
