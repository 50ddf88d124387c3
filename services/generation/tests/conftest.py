"""Fixtures: the embedded model is converted once per session into a temporary data
directory, and one warmed-up engine is shared by the tests that need the real model."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from veritas_generation.config import GenerationSettings
from veritas_generation.convert import EMBEDDED_CHECKPOINT, convert_embedded_model
from veritas_generation.engine import GenerationEngine
from veritas_generation.metrics import PrometheusStatLogger
from veritas_generation.service import build_engine


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("generation-data")
    convert_embedded_model(path / "models" / EMBEDDED_CHECKPOINT)
    return path


@pytest.fixture(scope="session")
def settings(data_dir: Path) -> GenerationSettings:
    return GenerationSettings(
        data_dir=data_dir,
        metrics_port=-1,
        default_max_new_tokens=16,
        max_new_tokens_limit=64,  # small bounds keep the suite fast
        max_queue_length=4,
    )


@pytest.fixture(scope="session")
def engine(settings: GenerationSettings) -> Iterator[GenerationEngine]:
    engine = build_engine(settings, PrometheusStatLogger())
    engine.warm_up()
    yield engine
    engine.close()
