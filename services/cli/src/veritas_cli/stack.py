"""Runs every Veritas service as its own local process and keeps track of exactly those.

`veritas up`, `veritas run` and the integration tests share this launcher. The state file under
`<data_dir>/run/stack.json` records the process ids so `veritas down` stops the processes this
launcher started and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from veritas_common.client import check_health
from veritas_common.settings import DEFAULT_PORTS, default_metrics_port

# Start order matters only for log readability: every service finds its peers lazily.
SERVICES = (
    "embedding",
    "vision",
    "generation",
    "retrieval",
    "rerank",
    "ingestion",
    "agent",
    "gateway",
    "mcp",
)
HTTP_SERVICES = ("gateway", "mcp")
EXTRA_ARGS = {"mcp": ["--transport", "http"]}


@dataclass
class ServiceProcess:
    """One launched service: where it listens and which process group it is."""

    name: str
    port: int
    metrics_port: int
    pid: int = 0
    log: str = ""

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def alive(self) -> bool:
        """True while the recorded pid is still this service (guards against pid reuse)."""
        if self.pid <= 0:
            return False
        try:
            cmdline = Path(f"/proc/{self.pid}/cmdline").read_bytes()
        except OSError:
            return False
        # Empty while the kernel is still exec'ing the child (seen right after Popen returns on
        # a loaded machine) and for a zombie: the state below decides those.
        if cmdline and f"veritas_{self.name}".encode() not in cmdline:
            return False
        try:
            state = Path(f"/proc/{self.pid}/stat").read_text().split(")")[-1].split()[0]
        except OSError:
            return False
        return state != "Z"


def default_ports(offset: int = 0) -> dict[str, tuple[int, int]]:
    """(port, metrics port) of every service on the embedded default, shifted by `offset`."""
    return {
        name: (
            DEFAULT_PORTS[name] + offset,
            default_metrics_port(name) + offset if name not in HTTP_SERVICES else -1,
        )
        for name in SERVICES
    }


class Stack:
    """The set of service processes under one data directory."""

    def __init__(
        self,
        data_dir: Path,
        ports: Mapping[str, tuple[int, int]] | None = None,
        env: Mapping[str, str] | None = None,
        services: tuple[str, ...] = SERVICES,
    ) -> None:
        self.data_dir = data_dir.resolve()
        ports = dict(ports or default_ports())
        self.processes = {
            name: ServiceProcess(name, ports[name][0], ports[name][1]) for name in services
        }
        self.env = dict(env or {})
        self.state_path = self.data_dir / "run" / "stack.json"
        self.log_dir = self.data_dir / "logs"

    # ---- state -------------------------------------------------------------------------------
    @classmethod
    def load(cls, data_dir: Path) -> Stack | None:
        """The stack recorded under `data_dir`, or None when none was started there."""
        path = data_dir.resolve() / "run" / "stack.json"
        if not path.exists():
            return None
        state = json.loads(path.read_text())
        stack = cls(data_dir, ports={}, services=())
        stack.processes = {p["name"]: ServiceProcess(**p) for p in state["processes"]}
        return stack

    def _save(self) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        state = {"processes": [asdict(p) for p in self.processes.values()]}
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_path)

    def running(self) -> list[ServiceProcess]:
        return [p for p in self.processes.values() if p.alive()]

    # ---- lifecycle ---------------------------------------------------------------------------
    def peer_env(self) -> dict[str, str]:
        return {f"VERITAS_{p.name.upper()}_ADDR": p.addr for p in self.processes.values()}

    def start(self) -> None:
        """Launches every service in its own session (Ctrl-C on the CLI does not reach them;
        the CLI stops them itself)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        base_env = {**os.environ, **self.peer_env(), **self.env}
        base_env["VERITAS_DATA_DIR"] = str(self.data_dir)
        base_env.setdefault("HF_HUB_OFFLINE", "1")
        base_env.setdefault("TRANSFORMERS_OFFLINE", "1")
        base_env.setdefault("TOKENIZERS_PARALLELISM", "false")
        for proc in self.processes.values():
            env = {
                **base_env,
                "VERITAS_PORT": str(proc.port),
                "VERITAS_METRICS_PORT": str(proc.metrics_port),
            }
            log_path = self.log_dir / f"{proc.name}.log"
            with log_path.open("ab") as log:
                popen = subprocess.Popen(
                    [sys.executable, "-m", f"veritas_{proc.name}", *EXTRA_ARGS.get(proc.name, [])],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            proc.pid = popen.pid
            proc.log = str(log_path)
        self._save()

    async def health(self, proc: ServiceProcess) -> str:
        """SERVING, NOT_SERVING, UNREACHABLE or EXITED."""
        if not proc.alive():
            return "EXITED"
        if proc.name not in HTTP_SERVICES:
            return await check_health(proc.addr)
        path = "/healthz"
        try:
            async with httpx.AsyncClient(timeout=1.0) as client:
                await client.get(f"http://{proc.addr}{path}")
        except httpx.HTTPError:
            return "UNREACHABLE"
        return "SERVING"

    async def statuses(self) -> dict[str, str]:
        names = list(self.processes)
        results = await asyncio.gather(*(self.health(self.processes[n]) for n in names))
        return dict(zip(names, results, strict=True))

    def wait_serving(
        self, timeout_s: float = 300.0, on_change: Callable[[dict[str, str]], None] | None = None
    ) -> None:
        """Blocks until every service is SERVING; raises with the failing service's log tail
        when one exits or the timeout passes."""
        deadline = time.monotonic() + timeout_s
        last: dict[str, str] = {}
        while True:
            statuses = asyncio.run(self.statuses())
            if statuses != last and on_change is not None:
                on_change(statuses)
            last = statuses
            exited = [n for n, s in statuses.items() if s == "EXITED"]
            if exited:
                raise StackError(exited[0], "exited during start-up", self.log_tail(exited[0]))
            if all(s == "SERVING" for s in statuses.values()):
                return
            if time.monotonic() > deadline:
                slow = next(n for n, s in statuses.items() if s != "SERVING")
                raise StackError(slow, f"not SERVING after {timeout_s:.0f}s", self.log_tail(slow))
            time.sleep(0.3)

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = Path(self.processes[name].log or self.log_dir / f"{name}.log")
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, grace_s: float = 10.0) -> list[str]:
        """SIGTERM every recorded process group, SIGKILL what is left after `grace_s`.
        Returns the names that were running."""
        targets = self.running()
        for proc in targets:
            _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and any(p.alive() for p in targets):
            _reap(targets)
            time.sleep(0.1)
        for proc in targets:
            if proc.alive():
                _signal_group(proc.pid, signal.SIGKILL)
        _reap(targets)
        self.state_path.unlink(missing_ok=True)
        return [p.name for p in targets]


class StackError(RuntimeError):
    """A service failed to start; carries its log tail."""

    def __init__(self, service: str, problem: str, log_tail: str) -> None:
        super().__init__(f"{service} {problem}\n--- last lines of its log ---\n{log_tail}")
        self.service = service


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def _reap(procs: list[ServiceProcess]) -> None:
    """Collects exit statuses of our own children so they do not linger as zombies."""
    for proc in procs:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(proc.pid, os.WNOHANG)
