"""The transformers engine on the real embedded model (SmolLM2-135M-Instruct)."""

from __future__ import annotations

import json
import threading
import time

import jsonschema
import pytest
import torch
from prometheus_client import REGISTRY

from veritas_common.errors import InvalidArgument, NotFound, TooLarge
from veritas_generation.convert import EMBEDDED_CHECKPOINT, convert_embedded_model, is_checkpoint
from veritas_generation.engine import ChatMessage, GenerationParams

pytestmark = pytest.mark.slow

CAPITAL = (ChatMessage("user", "What is the capital of France?"),)
STORY = (ChatMessage("user", "Tell me a long story about a brave knight and a dragon."),)


def ask(messages=CAPITAL, **kwargs) -> GenerationParams:
    return GenerationParams(messages=messages, **kwargs)


def test_conversion_leaves_a_complete_checkpoint_and_runs_once(data_dir):
    models = data_dir / "models"
    assert is_checkpoint(models / EMBEDDED_CHECKPOINT)
    assert [p.name for p in models.iterdir()] == [EMBEDDED_CHECKPOINT]  # no partial leftovers
    start = time.perf_counter()
    convert_embedded_model(models / EMBEDDED_CHECKPOINT)
    assert time.perf_counter() - start < 1.0  # found, not converted again


def test_greedy_generation_is_deterministic_and_answers(engine):
    first = engine.generate(ask(max_new_tokens=24))
    second = engine.generate(ask(max_new_tokens=24))
    assert first.text == second.text
    assert "Paris" in first.text
    assert first.finish_reason == "stop"
    assert first.model == "SmolLM2-135M-Instruct"
    usage = first.usage
    assert usage.prompt_tokens > 10  # the ChatML template with its default system prompt
    assert 0 < usage.completion_tokens < 24
    assert usage.prefill_ms > 0 and usage.decode_ms > 0


def test_stream_deltas_concatenate_to_the_unary_text(engine):
    params = ask(STORY, max_new_tokens=20)
    unary = engine.generate(params)
    chunks = list(engine.stream(params))
    assert len(chunks) > 5
    assert [c.is_final for c in chunks] == [False] * (len(chunks) - 1) + [True]
    assert "".join(c.delta for c in chunks) == unary.text
    final = chunks[-1]
    assert final.finish_reason == unary.finish_reason == "length"
    assert final.usage.completion_tokens == unary.usage.completion_tokens == 20


def test_stop_string_ends_generation_before_it(engine):
    full = engine.generate(ask(max_new_tokens=24)).text
    word = full.split()[2]  # "The capital of France is Paris." -> "of"
    cut = engine.generate(ask(max_new_tokens=24, stop=(" " + word,)))
    assert cut.finish_reason == "stop_sequence"
    assert cut.text == full[: full.index(" " + word)]


def test_seeded_sampling_is_reproducible(engine):
    params = ask(STORY, max_new_tokens=12, temperature=1.0, top_p=0.95, seed=42)
    first = engine.generate(params)
    assert engine.generate(params).text == first.text
    others = {
        engine.generate(ask(STORY, max_new_tokens=12, temperature=1.0, seed=s)).text for s in (1, 2)
    }
    assert others != {first.text}


def test_max_new_tokens_above_the_limit_is_invalid_argument(engine, settings):
    limit = settings.max_new_tokens_limit
    with pytest.raises(InvalidArgument, match=f"limit of {limit}"):
        engine.stream(ask(max_new_tokens=limit + 1))


def test_zero_max_new_tokens_uses_the_default(engine, settings):
    result = engine.generate(ask(STORY))
    assert result.finish_reason == "length"
    assert result.usage.completion_tokens == settings.default_max_new_tokens


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (GenerationParams(messages=()), "messages must not be empty"),
        (GenerationParams(messages=(ChatMessage("robot", "hi"),)), "role"),
        (ask(temperature=-1.0), "temperature"),
        (ask(top_p=1.5), "top_p"),
        (ask(max_new_tokens=-3), "max_new_tokens"),
    ],
)
def test_bad_parameters_are_invalid_argument(engine, params, message):
    with pytest.raises(InvalidArgument, match=message):
        engine.stream(params)


def test_too_long_prompt_is_too_large(engine, settings):
    long_prompt = (ChatMessage("user", "word " * (settings.max_prompt_tokens + 10)),)
    with pytest.raises(TooLarge, match="prompt has"):
        engine.stream(ask(long_prompt))


SCHEMAS = {
    "object with enum": (
        {
            "type": "object",
            "properties": {"sentiment": {"enum": ["positive", "negative", "neutral"]}},
            "required": ["sentiment"],
            "additionalProperties": False,
        },
        "Classify the sentiment of: 'I love this product!' Answer in JSON.",
    ),
    "integer": (
        {
            "type": "object",
            "properties": {"year": {"type": "integer", "minimum": 1900, "maximum": 2100}},
            "required": ["year"],
            "additionalProperties": False,
        },
        "In which year did World War II end? Answer in JSON.",
    ),
    "array with maxItems": (
        {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 4},
        "Give the first four prime numbers as a JSON array.",
    ),
    "nested": (
        {
            "type": "object",
            "properties": {
                "company": {"type": "string", "maxLength": 30},
                "revenue": {
                    "type": "object",
                    "properties": {
                        "value": {"type": "number"},
                        "unit": {"enum": ["USD", "EUR"]},
                    },
                    "required": ["value", "unit"],
                    "additionalProperties": False,
                },
                "segments": {
                    "type": "array",
                    "items": {"type": "string", "maxLength": 12},
                    "maxItems": 2,
                },
            },
            "required": ["company", "revenue", "segments"],
            "additionalProperties": False,
        },
        "Acme Corp had revenue of 12.5 million USD in 2023 from tools and toys. "
        "Extract it as JSON.",
    ),
}


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_constrained_output_parses_and_validates(engine, name):
    schema, question = SCHEMAS[name]
    valid_before = REGISTRY.get_sample_value(
        "veritas_generation_constrained_outputs_total", {"outcome": "valid"}
    )
    result = engine.generate(
        ask((ChatMessage("user", question),), max_new_tokens=60, json_schema=json.dumps(schema))
    )
    assert result.finish_reason == "stop", result.text
    jsonschema.validate(json.loads(result.text), schema)
    assert result.text == result.text.strip() and "\n" not in result.text  # compact JSON
    valid_after = REGISTRY.get_sample_value(
        "veritas_generation_constrained_outputs_total", {"outcome": "valid"}
    )
    assert valid_after == (valid_before or 0) + 1


def test_truncated_constrained_output_is_reported_as_length(engine):
    schema = {"type": "object", "properties": {"story": {"type": "string"}}, "required": ["story"]}
    result = engine.generate(ask(STORY, max_new_tokens=6, json_schema=json.dumps(schema)))
    assert result.finish_reason == "length"
    assert result.usage.completion_tokens == 6
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.text)


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ('{"type": "object", ', "not valid JSON"),
        ('"just a string"', "must be a JSON object"),
        ('{"type": "nonsense"}', "not a valid JSON Schema"),
        ('{"type": "array", "maxItems": -1}', "not a valid JSON Schema"),
    ],
)
def test_invalid_schema_is_invalid_argument(engine, schema, message):
    with pytest.raises(InvalidArgument, match=message):
        engine.stream(ask(json_schema=schema))


def test_unknown_adapter_is_not_found(engine):
    with pytest.raises(NotFound, match="adapter 'no-such-adapter' not found"):
        engine.stream(ask(adapter_id="no-such-adapter"))


def test_lora_adapter_by_id_changes_the_output_and_base_stays_intact(engine, data_dir):
    peft = pytest.importorskip("peft")
    from transformers import AutoModelForCausalLM

    base_model = AutoModelForCausalLM.from_pretrained(data_dir / "models" / EMBEDDED_CHECKPOINT)
    # Random (not zero) LoRA weights on every projection: an adapter that visibly changes output.
    torch.manual_seed(0)
    config = peft.LoraConfig(
        r=8,
        lora_alpha=64,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "up_proj", "down_proj"],
        init_lora_weights=False,
    )
    peft.get_peft_model(base_model, config).save_pretrained(data_dir / "adapters" / "noisy-lora")

    params = ask(max_new_tokens=8)
    base = engine.generate(params).text
    adapted = engine.generate(ask(max_new_tokens=8, adapter_id="noisy-lora")).text
    assert adapted != base
    assert engine.generate(params).text == base  # the adapter is off again for base requests


def test_stats_show_the_running_request_its_kv_cache_and_the_fifo_queue(engine):
    before = engine.stats()
    assert (before.running, before.queue_length, before.kv_cache.used_bytes) == (0, 0, 0)
    assert (before.engine, before.kv_cache.total_bytes) == ("transformers", 0)

    first = engine.stream(ask(STORY, max_new_tokens=16))
    second = engine.stream(ask(max_new_tokens=8))
    third = engine.stream(ask(max_new_tokens=8))
    chunk = next(first)
    during = engine.stats()
    third.cancel()
    assert during.running == 1
    assert during.queue_length == 2

    # KV cache of the running request: keys and values of every layer for every position.
    config = engine._model.config
    per_token = 2 * config.num_hidden_layers * config.num_key_value_heads * config.head_dim * 2
    assert during.kv_cache.used_bytes % per_token == 0
    positions = during.kv_cache.used_bytes // per_token
    assert 10 < positions <= 16 + 60

    seen: list[tuple[str, float]] = []

    def consume(name, stream):
        for _ in stream:
            seen.append((name, time.perf_counter()))

    threads = [
        threading.Thread(target=consume, args=args)
        for args in (("first", first), ("second", second), ("third", third))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert chunk.delta
    names = [name for name, _ in seen]
    assert "third" not in names  # cancelled while queued: never decoded
    assert names.index("second") > max(i for i, n in enumerate(names) if n == "first")  # FIFO

    after = engine.stats()
    assert (after.running, after.queue_length, after.kv_cache.used_bytes) == (0, 0, 0)
    assert after.generated_tokens_total >= before.generated_tokens_total + 16


def test_full_queue_is_rejected_with_too_large(engine, settings):
    streams = []
    try:
        with pytest.raises(TooLarge, match="queue is full"):
            for _ in range(settings.max_queue_length + 2):
                streams.append(engine.stream(ask(max_new_tokens=4)))
    finally:
        for stream in streams:
            stream.cancel()
        for stream in streams:
            list(stream)
    assert engine.stats().queue_length == 0
