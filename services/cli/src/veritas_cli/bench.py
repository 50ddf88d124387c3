"""`veritas bench`: warm `/v1/ask` latency percentiles and the memory of the running stack."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import httpx

from veritas_cli.stack import Stack

# Questions over the bundled samples, answerable and not, so both paths are measured.
BENCH_QUESTIONS = (
    "What was Acme Instruments' total revenue in fiscal 2024?",
    "What was Acme's net income in fiscal 2024?",
    "How much cash did Acme hold at the end of fiscal 2024?",
    "Where did Acme open a second manufacturing plant?",
    "What is the recommended dose of Zentrivex?",
    "Who should not take Zentrivex?",
    "What are the most common adverse reactions to Zentrivex?",
    "What was Northwind Freight's quarterly revenue?",
    "What was the patient's glucose result?",
    "Who won the 1998 FIFA World Cup?",
)


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in [0, 100])."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q / 100
    low, high = int(pos), min(int(pos) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def process_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants."""
    total = 0
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
        stack.extend(int(c) for c in children)
    return total


def stack_rss(stack: Stack) -> dict[str, int]:
    return {p.name: process_rss_bytes(p.pid) for p in stack.processes.values() if p.alive()}


def bench_ask(gateway_url: str, key: str, n: int, warmup: int = 2) -> dict[str, object]:
    """Asks `n` questions (cycling BENCH_QUESTIONS) after `warmup` untimed ones."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=gateway_url, headers=headers, timeout=300) as client:
        for i in range(warmup + n):
            question = BENCH_QUESTIONS[i % len(BENCH_QUESTIONS)]
            start = time.perf_counter()
            reply = client.post("/v1/ask", json={"question": question})
            elapsed = time.perf_counter() - start
            reply.raise_for_status()
            if i >= warmup:
                latencies.append(elapsed * 1000)
                status = reply.json()["status"]
                statuses[status] = statuses.get(status, 0) + 1
    return {
        "n": n,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "mean_ms": statistics.fmean(latencies),
        "statuses": statuses,
    }
