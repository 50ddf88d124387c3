"""`veritas`: up, down, status, ingest, ask, run, bench, eval."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from veritas_cli import bench, client
from veritas_cli.config import CliSettings, api_key
from veritas_cli.stack import Stack, StackError, default_ports
from veritas_common import schemas
from veritas_common.errors import VeritasError

console = Console()
err_console = Console(stderr=True)

SAMPLE_QUESTIONS = (
    "What was Acme Instruments' total revenue in fiscal 2024?",
    "What is the recommended dose of Zentrivex?",
    "Who won the 1998 FIFA World Cup?",
)


def _status_table(statuses: dict[str, str], stack: Stack) -> Table:
    table = Table("service", "address", "pid", "health")
    colours = {"SERVING": "green", "EXITED": "red", "UNREACHABLE": "yellow"}
    for name, status in statuses.items():
        proc = stack.processes[name]
        colour = colours.get(status, "yellow")
        table.add_row(name, proc.addr, str(proc.pid), f"[{colour}]{status}[/{colour}]")
    return table


def cmd_up(settings: CliSettings, timeout_s: float) -> Stack:
    existing = Stack.load(settings.data_dir)
    if existing is not None and existing.running():
        raise SystemExit(
            f"veritas is already running under {settings.data_dir} "
            f"({len(existing.running())} processes); `veritas down` first"
        )
    key, generated = api_key(settings)
    stack = Stack(
        settings.data_dir,
        ports=default_ports(settings.port_offset),
        env={"VERITAS_API_KEYS": settings.api_keys or key},
    )
    started = time.monotonic()
    stack.start()
    console.print(f"starting {len(stack.processes)} services; logs in {stack.log_dir}")
    with Live(console=console, refresh_per_second=4, transient=False) as live:
        try:
            stack.wait_serving(timeout_s, on_change=lambda s: live.update(_status_table(s, stack)))
        except (StackError, KeyboardInterrupt) as exc:
            stack.stop()
            if isinstance(exc, KeyboardInterrupt):
                raise SystemExit("interrupted; stopped every service") from None
            raise SystemExit(f"start-up failed: {exc}") from None
    console.print()
    console.print(f"[green]all services SERVING[/green] in {time.monotonic() - started:.1f}s")
    console.print(f"gateway: {settings.gateway_url} (OpenAPI docs at {settings.gateway_url}/docs)")
    if generated:
        console.print(f"development API key: [bold]{key}[/bold] (set VERITAS_API_KEYS to choose)")
    return stack


def cmd_down(settings: CliSettings) -> None:
    stack = Stack.load(settings.data_dir)
    if stack is None:
        console.print("nothing to stop")
        return
    stopped = stack.stop()
    names = f": {', '.join(stopped)}" if stopped else ""
    console.print(f"stopped {len(stopped)} services{names}")


def cmd_status(settings: CliSettings) -> int:
    stack = Stack.load(settings.data_dir)
    if stack is None:
        console.print("not running")
        return 1
    statuses = asyncio.run(stack.statuses())
    console.print(_status_table(statuses, stack))
    return 0 if all(s == "SERVING" for s in statuses.values()) else 1


def cmd_ingest(settings: CliSettings, paths: list[Path], collection: str, tenant: str) -> None:
    files = client.expand_paths(paths)
    if not files:
        raise SystemExit("no supported files found")
    table = Table("source", "doc_id", "status", "chunks")
    with Progress(
        TextColumn("ingesting"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("", total=len(files))

        def done(document: schemas.IngestedDocument) -> None:
            table.add_row(document.source, document.doc_id, document.status, str(document.chunks))
            progress.update(task, advance=1, description=document.source)

        asyncio.run(client.ingest(settings, files, collection, tenant, done))
    console.print(table)


def print_answer(answer_json: dict, as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps(answer_json))
        return
    status = answer_json["status"]
    colour = {"ANSWERED": "green", "PARTIAL": "yellow"}.get(status, "red")
    console.print(f"[bold {colour}]{status}[/bold {colour}]  {answer_json['question']}")
    if status == "REFUSED":
        console.print(f"  reason: {answer_json['refusal_reason']}")
    for claim in answer_json["claims"]:
        cites = " ".join(f"[{c}]" for c in claim["citations"])
        console.print(f"  - {claim['text']} {cites}")
    for ev in answer_json["evidence"]:
        where = " > ".join(ev["section_path"]) or "-"
        console.print(
            f"  [{ev['id']}] {ev['source']} | {where} | p.{ev['page']} "
            f"| chars {ev['char_start']}-{ev['char_end']}"
        )
    console.print(f"  total {answer_json['usage']['total_ms']:.0f} ms")


def cmd_ask(
    settings: CliSettings,
    question: str,
    collection: str,
    tenant: str,
    as_json: bool,
    schema_path: Path | None,
) -> dict:
    schema = schema_path.read_text() if schema_path else ""
    answer = asyncio.run(client.ask(settings, question, collection, tenant, schema))
    rendered = answer.model_dump(mode="json")
    print_answer(rendered, as_json)
    return rendered


def cmd_run(settings: CliSettings, samples: Path, timeout_s: float) -> None:
    stack = cmd_up(settings, timeout_s)
    try:
        cmd_ingest(settings, [samples], "default", "default")
        for question in SAMPLE_QUESTIONS:
            console.rule(question)
            answer = asyncio.run(client.ask(settings, question, "", "default"))
            answer_json = answer.model_dump(mode="json")
            print_answer(answer_json, as_json=True)
            print_answer(answer_json, as_json=False)
        key, _ = api_key(settings)
        console.rule("serving")
        console.print(
            f"gateway on {settings.gateway_url}; try:\n  curl -s -X POST {settings.gateway_url}"
            f"/v1/ask -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' "
            f'-d \'{{"question": "What was Acme net income in fiscal 2024?"}}\'\n'
            "Ctrl-C stops every service."
        )
        while stack.running():
            time.sleep(1)
        console.print("[red]services exited[/red]")
    except KeyboardInterrupt:
        pass
    finally:
        stopped = stack.stop()
        console.print(f"stopped {len(stopped)} services")


def cmd_bench(settings: CliSettings, n: int, out: Path | None) -> None:
    stack = Stack.load(settings.data_dir)
    if stack is None or not stack.running():
        raise SystemExit("veritas is not running; `veritas up` (and ingest samples/) first")
    key, _ = api_key(settings)
    result = bench.bench_ask(settings.gateway_url, key, n)
    rss = bench.stack_rss(stack)
    table = Table("metric", "value")
    table.add_row("questions", str(result["n"]))
    table.add_row("/v1/ask p50", f"{result['p50_ms']:.0f} ms")
    table.add_row("/v1/ask p95", f"{result['p95_ms']:.0f} ms")
    table.add_row("statuses", json.dumps(result["statuses"]))
    for name, size in sorted(rss.items()):
        table.add_row(f"RSS {name}", f"{size / 2**20:.0f} MiB")
    table.add_row("RSS all services", f"{sum(rss.values()) / 2**20:.0f} MiB")
    console.print(table)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({**result, "rss_bytes": rss}, indent=2))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="veritas", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start every service as a local process and wait for health")
    up.add_argument("--timeout", type=float, default=600, help="seconds to wait for health")
    sub.add_parser("down", help="stop the processes `up` started")
    sub.add_parser("status", help="show each service's health")
    ingest = sub.add_parser("ingest", help="ingest files or directories")
    ingest.add_argument("paths", nargs="+", type=Path)
    ingest.add_argument("--collection", default="default")
    ingest.add_argument("--tenant", default="default")
    ask = sub.add_parser("ask", help="ask a question; prints the answer and its citations")
    ask.add_argument("question")
    ask.add_argument("--collection", default="", help="collection to search (default: all)")
    ask.add_argument("--tenant", default="default")
    ask.add_argument("--json", action="store_true", help="print the answer JSON")
    ask.add_argument("--schema", type=Path, help="JSON Schema file for structured `data`")
    bench_cmd = sub.add_parser("bench", help="warm /v1/ask latency p50/p95 and services' RSS")
    bench_cmd.add_argument("-n", type=int, default=20, help="timed questions")
    bench_cmd.add_argument("--out", type=Path, help="also write the figures as JSON")
    run = sub.add_parser("run", help="up, ingest samples, ask sample questions, serve until Ctrl-C")
    run.add_argument("samples", type=Path)
    run.add_argument("--timeout", type=float, default=600)
    eval_cmd = sub.add_parser("eval", help="quality on real datasets; writes a report")
    try:  # the harness is its own package (evals/); the CLI works without it
        from veritas_evals.cli import add_arguments as add_eval_arguments
    except ImportError:
        eval_cmd.add_argument("eval_args", nargs=argparse.REMAINDER)
    else:
        add_eval_arguments(eval_cmd)
    return parser


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # SIGTERM and SIGHUP stop `run` and `up` the way Ctrl-C does: every started service too.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    settings = CliSettings()
    try:
        match args.command:
            case "up":
                cmd_up(settings, args.timeout)
            case "down":
                cmd_down(settings)
            case "status":
                return cmd_status(settings)
            case "ingest":
                cmd_ingest(settings, args.paths, args.collection, args.tenant)
            case "ask":
                answer = cmd_ask(
                    settings, args.question, args.collection, args.tenant, args.json, args.schema
                )
                return 0 if answer["status"] != "REFUSED" else 2
            case "bench":
                cmd_bench(settings, args.n, args.out)
            case "run":
                cmd_run(settings, args.samples, args.timeout)
            case "eval":
                try:
                    from veritas_evals.cli import run_from_args
                except ImportError:
                    raise SystemExit(
                        "`veritas eval` needs veritas-evals: pip install -e evals"
                    ) from None
                key, _ = api_key(settings)
                return run_from_args(args, gateway_url=settings.gateway_url, api_key=key)
    except VeritasError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}")
        return 1
    except FileNotFoundError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
