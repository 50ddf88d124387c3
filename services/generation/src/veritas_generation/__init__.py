"""Veritas generation service: an LLM behind an engine interface, with JSON-Schema constrained
decoding, LoRA adapters by id, streaming, and KV-cache and queue statistics."""
