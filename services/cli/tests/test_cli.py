"""CLI pieces that need no running stack, and the launcher against one real service."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest

from veritas_cli.bench import percentile, process_rss_bytes
from veritas_cli.client import expand_paths
from veritas_cli.config import CliSettings, api_key
from veritas_cli.stack import Stack
from veritas_common.testing import free_port


def test_expand_paths_finds_supported_files_and_rejects_missing(tmp_path):
    (tmp_path / "a.md").write_text("# A")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.pdf").write_bytes(b"%PDF")
    (tmp_path / "notes.xyz").write_text("skip me")
    found = expand_paths([tmp_path])
    assert [p.name for p in found] == ["a.md", "b.pdf"]
    with pytest.raises(FileNotFoundError):
        expand_paths([tmp_path / "missing.txt"])


def test_dev_api_key_is_generated_once_and_private(tmp_path):
    settings = CliSettings(data_dir=tmp_path)
    key, generated = api_key(settings)
    again, _ = api_key(settings)
    assert generated and key == again and len(key) > 20
    assert stat.S_IMODE((tmp_path / "dev-api-key").stat().st_mode) == 0o600


def test_configured_api_key_wins(tmp_path):
    key, generated = api_key(CliSettings(data_dir=tmp_path, api_keys=" k1 , k2"))
    assert (key, generated) == ("k1", False)
    assert not (tmp_path / "dev-api-key").exists()


def test_percentile_interpolates():
    assert percentile([10, 20, 30, 40], 50) == 25
    assert percentile([5], 95) == 5
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 95) == pytest.approx(10.5)


def test_rss_of_this_process_is_positive():
    import os

    assert process_rss_bytes(os.getpid()) > 10 * 2**20


@pytest.mark.integration
def test_launcher_starts_and_stops_exactly_its_processes(tmp_path):
    ports = {"agent": (free_port(), free_port())}
    stack = Stack(tmp_path, ports=ports, services=("agent",))
    stack.start()
    try:
        stack.wait_serving(timeout_s=120)
        loaded = Stack.load(tmp_path)
        assert loaded is not None and [p.name for p in loaded.running()] == ["agent"]
        assert asyncio.run(loaded.statuses()) == {"agent": "SERVING"}
    finally:
        stopped = stack.stop()
    assert stopped == ["agent"]
    pid = stack.processes["agent"].pid
    assert not Path(f"/proc/{pid}").exists()
    assert Stack.load(tmp_path) is None


def test_port_offset_shifts_every_default_address(tmp_path):
    from veritas_cli.stack import default_ports

    settings = CliSettings(data_dir=tmp_path, port_offset=1000)
    assert settings.agent_addr == "127.0.0.1:51057"
    assert settings.ingestion_addr == "127.0.0.1:51051"
    assert settings.gateway_url == "http://127.0.0.1:9080"
    ports = default_ports(1000)
    assert ports["agent"] == (51057, 10157) and ports["gateway"] == (9080, -1)
    explicit = CliSettings(data_dir=tmp_path, port_offset=1000, agent_addr="10.0.0.1:1")
    assert explicit.agent_addr == "10.0.0.1:1"
