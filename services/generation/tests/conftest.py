"""Fixtures: the embedded model is converted once per session into a temporary data directory
with two LoRA adapters beside it, and one generation service process (vLLM) serves the tests
that need the real engine."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from generation_testing import ADAPTERS, SERVICE_ENV, write_lora_adapter

from veritas_common.testing import ServiceProcess
from veritas_generation.convert import EMBEDDED_CHECKPOINT, convert_embedded_model


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("generation-data")
    checkpoint = convert_embedded_model(path / "models" / EMBEDDED_CHECKPOINT)
    for seed, adapter_id in enumerate(ADAPTERS, start=1):
        write_lora_adapter(path / "adapters" / adapter_id, checkpoint, seed)
    return path


@pytest.fixture(scope="session")
def service(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """`python -m veritas_generation` on free ports, started once (vLLM takes 20-45 s)."""
    process = ServiceProcess(
        "generation",
        {"VERITAS_DATA_DIR": str(data_dir), **SERVICE_ENV},
        tmp_path_factory.mktemp("generation-logs"),
    )
    try:
        process.wait_serving(timeout_s=300)
        yield process
    finally:
        process.stop()
