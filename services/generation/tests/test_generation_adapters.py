from __future__ import annotations

import pytest

from veritas_common.errors import FailedPrecondition, InvalidArgument, NotFound
from veritas_generation.adapters import ADAPTER_CONFIG, AdapterRegistry


def test_unknown_adapter_is_not_found_and_names_what_exists(tmp_path):
    (tmp_path / "finance-v1").mkdir()
    (tmp_path / "finance-v1" / ADAPTER_CONFIG).write_text("{}")
    registry = AdapterRegistry(tmp_path)
    with pytest.raises(NotFound, match=r"adapter 'medical' not found .*available: finance-v1"):
        registry.resolve("medical")
    assert registry.resolve("finance-v1") == tmp_path / "finance-v1"


def test_missing_adapters_root_means_no_adapters(tmp_path):
    registry = AdapterRegistry(tmp_path / "adapters")
    assert registry.available() == []
    with pytest.raises(NotFound, match="available: none"):
        registry.resolve("any")


@pytest.mark.parametrize("bad_id", ["../models", "a/b", ".hidden", "", "x" * 200])
def test_ids_cannot_escape_the_adapters_directory(tmp_path, bad_id):
    with pytest.raises(InvalidArgument, match="malformed"):
        AdapterRegistry(tmp_path).resolve(bad_id)


def test_directory_without_adapter_config_is_a_failed_precondition(tmp_path):
    (tmp_path / "half-written").mkdir()
    with pytest.raises(FailedPrecondition, match=ADAPTER_CONFIG):
        AdapterRegistry(tmp_path).resolve("half-written")


def test_rank_is_read_from_the_adapter_config(tmp_path):
    (tmp_path / "finance-v1").mkdir()
    (tmp_path / "finance-v1" / ADAPTER_CONFIG).write_text('{"r": 8, "lora_alpha": 16}')
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / ADAPTER_CONFIG).write_text('{"lora_alpha": 16}')
    registry = AdapterRegistry(tmp_path)
    assert registry.rank("finance-v1") == 8
    with pytest.raises(FailedPrecondition, match="cannot read its rank"):
        registry.rank("broken")
