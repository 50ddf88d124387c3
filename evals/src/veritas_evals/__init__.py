"""Veritas evaluation harness: measures a running stack through its public HTTP API."""
