"""JSON-Schema constrained decoding with llguidance: a schema becomes a grammar whose token mask
is applied to the logits before every sampling step, and the finished text is checked against
the schema with `jsonschema` (the validity the metrics report)."""

from __future__ import annotations

import copy
import json
import threading
from collections import OrderedDict
from typing import Any

import jsonschema
import llguidance
import llguidance.hf
import llguidance.numpy
import torch

from veritas_common.errors import InvalidArgument

# Without this the 135M model spends its token budget on free whitespace (TOOLS.md); a caller's
# own "x-guidance" options take precedence.
_COMPACT_JSON = {"whitespace_flexible": False}

# Outcomes of a constrained request, as the metrics label them.
OUTCOME_VALID = "valid"
OUTCOME_INVALID = "invalid"
OUTCOME_TRUNCATED = "truncated"


def parse_schema(schema_text: str) -> dict[str, Any]:
    """Parses and checks a JSON Schema; raises InvalidArgument saying what is wrong."""
    try:
        schema = json.loads(schema_text)
    except json.JSONDecodeError as err:
        raise InvalidArgument(f"json_schema is not valid JSON: {err}") from err
    if not isinstance(schema, dict):
        raise InvalidArgument("json_schema must be a JSON object")
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as err:
        raise InvalidArgument(f"json_schema is not a valid JSON Schema: {err.message}") from err
    return schema


class JsonSchemaConstraint:
    """One compiled schema: makes a fresh matcher per request and validates outputs."""

    def __init__(self, schema: dict[str, Any], grammar: str, tokenizer: llguidance.LLTokenizer):
        self.schema = schema
        self._grammar = grammar
        self._tokenizer = tokenizer
        self._validator = jsonschema.validators.validator_for(schema)(schema)

    def matcher(self) -> JsonMatcher:
        return JsonMatcher(llguidance.LLMatcher(self._tokenizer, self._grammar, log_level=0))

    def outcome(self, text: str, finish_reason: str) -> str:
        """valid / invalid / truncated, for the finished text of a request."""
        if finish_reason == "length":
            return OUTCOME_TRUNCATED
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return OUTCOME_INVALID
        return OUTCOME_VALID if self._validator.is_valid(value) else OUTCOME_INVALID


class JsonMatcher:
    """The grammar state of one request: masks logits and follows the sampled tokens."""

    def __init__(self, matcher: llguidance.LLMatcher) -> None:
        self._matcher = matcher
        self._packed: Any = None  # int32 bits, one per token, as llguidance fills them
        self._bitmask: torch.Tensor | None = None  # the same memory as a tensor
        self._bits = torch.arange(32, dtype=torch.int32)

    def mask_logits(self, logits: torch.Tensor) -> None:
        """Sets the logits of every token the grammar forbids next to -inf, in place (1-D)."""
        # The numpy helpers, viewed as a tensor: llguidance.torch wraps its mask kernel in
        # torch.compile, whose import alone costs ~6 s and whose first call needs a C++ compiler.
        vocab = logits.shape[-1]
        if self._bitmask is None:
            self._packed = llguidance.numpy.allocate_token_bitmask(1, vocab)
            self._bitmask = torch.from_numpy(self._packed)
        llguidance.numpy.fill_next_token_bitmask(self._matcher, self._packed)
        allowed = ((self._bitmask[0].unsqueeze(-1) >> self._bits) & 1).reshape(-1)[:vocab]
        logits.masked_fill_(allowed == 0, float("-inf"))

    def consume(self, token: int) -> None:
        if not self._matcher.consume_token(token):
            raise RuntimeError(f"constrained decoder rejected token {token}: {self.error}")

    @property
    def error(self) -> str:
        return self._matcher.get_error()

    @property
    def is_stopped(self) -> bool:
        """The grammar is complete and allows nothing more (e.g. the JSON object closed)."""
        return bool(self._matcher.is_stopped())


class JsonSchemaCompiler:
    """Compiles schemas for one tokenizer, caching the last few (callers reuse their schemas)."""

    def __init__(self, hf_tokenizer: Any, vocab_size: int, cache_size: int = 64) -> None:
        self._tokenizer = llguidance.hf.from_tokenizer(hf_tokenizer, n_vocab=vocab_size)
        self._cache: OrderedDict[str, JsonSchemaConstraint] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def compile(self, schema_text: str) -> JsonSchemaConstraint:
        """Raises InvalidArgument for a schema that is not JSON, not a valid JSON Schema, or
        uses what the constrained decoder cannot enforce."""
        with self._lock:
            if schema_text in self._cache:
                self._cache.move_to_end(schema_text)
                return self._cache[schema_text]
        schema = parse_schema(schema_text)
        guided = copy.deepcopy(schema)
        guided["x-guidance"] = {**_COMPACT_JSON, **(schema.get("x-guidance") or {})}
        try:
            grammar = llguidance.LLMatcher.grammar_from_json_schema(guided)
        except ValueError as err:
            raise InvalidArgument(f"json_schema cannot be compiled: {err}") from err
        is_error, messages = llguidance.LLMatcher.validate_grammar_with_warnings(
            grammar, self._tokenizer
        )
        if is_error:
            raise InvalidArgument(f"json_schema cannot be enforced: {'; '.join(messages)}")
        constraint = JsonSchemaConstraint(schema, grammar, self._tokenizer)
        with self._lock:
            self._cache[schema_text] = constraint
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return constraint
