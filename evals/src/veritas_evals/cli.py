"""`veritas eval`: evaluates a running stack on real datasets and writes a one-page report.

Importing this module is cheap (the `veritas` CLI builds its parser from it); matplotlib and
the datasets load only when an evaluation runs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from veritas_evals.datasets import SPLITS
from veritas_evals.runner import DATASETS, TASKS
from veritas_evals.tasks.answers import ABLATIONS

# --option -> (dataset, loader keyword) of an explicit dataset file.
FILE_OPTIONS = {
    "scifact_corpus": ("scifact", "corpus"),
    "scifact_claims": ("scifact", "claims"),
    "pubmedqa_file": ("pubmedqa", "file"),
    "tatqa_file": ("tatqa", "file"),
    "convfinqa_file": ("convfinqa", "file"),
}

# evals/src/veritas_evals/cli.py -> the repository root (editable install).
_PACKAGE_REPO = Path(__file__).resolve().parents[3]


def repo_root() -> Path:
    """The repository this package was installed from, else the working directory."""
    if (_PACKAGE_REPO / "evals").is_dir() and (_PACKAGE_REPO / "services").is_dir():
        return _PACKAGE_REPO
    return Path.cwd()


def default_data_dir() -> Path | None:
    """`../shared/data` relative to the repository root, when it is there."""
    for root in (repo_root(), Path.cwd()):
        candidate = (root / ".." / "shared" / "data").resolve()
        if candidate.is_dir():
            return candidate
    return None


def git_commit(root: Path) -> str:
    """Short HEAD of the checkout, "-dirty" when tracked files changed; "unknown" without git."""

    def git(*args: str) -> str:
        run = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
        run.check_returncode()
        return run.stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


def _csv(choices: tuple[str, ...]) -> Any:
    def parse(text: str) -> tuple[str, ...]:
        items = tuple(t.strip() for t in text.split(",") if t.strip())
        unknown = [t for t in items if t not in choices]
        if unknown:
            raise argparse.ArgumentTypeError(
                f"unknown {', '.join(unknown)}; choose from {', '.join(choices)}"
            )
        return items

    return parse


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The eval options (shared by `veritas eval` and `python -m veritas_evals`)."""
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="dataset folder (default: ../shared/data relative to the repository root)",
    )
    parser.add_argument(
        "--split",
        choices=SPLITS,
        default="tuning",
        help="the part of each dataset whose cases run, before --limit: tuning (held back "
        "from training; default), train, or all (no filtering: for held-out files)",
    )
    files = parser.add_argument_group(
        "dataset files",
        "any file of the dataset's format instead of the default one "
        "(a relative path is taken relative to --data)",
    )
    files.add_argument(
        "--scifact-corpus",
        type=Path,
        default=None,
        metavar="PATH",
        help="SciFact corpus (default scifact/corpus.jsonl)",
    )
    files.add_argument(
        "--scifact-claims",
        type=Path,
        default=None,
        metavar="PATH",
        help="SciFact claims, e.g. claims_dev.jsonl or claims_test.jsonl "
        "(default scifact/claims_train.jsonl)",
    )
    files.add_argument(
        "--pubmedqa-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="PubMedQA items, e.g. ori_pqal.json or test_set.json (default pubmedqa/pqal_dev.json)",
    )
    files.add_argument(
        "--tatqa-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="TAT-QA file, e.g. tatqa_dataset_test_gold.json "
        "(default tatqa/tatqa_dataset_dev.json)",
    )
    files.add_argument(
        "--convfinqa-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="ConvFinQA file, e.g. test.json (default convfinqa/convfinqa_dev.json)",
    )
    parser.add_argument(
        "--limit", type=_positive, default=None, help="cases per dataset (default: all)"
    )
    parser.add_argument(
        "--corpus-limit",
        type=_positive,
        default=None,
        help="documents per corpus to ingest: those the cases need plus fixed-seed distractors "
        "(default: 5 x --limit, or the whole corpus without --limit)",
    )
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    parser.add_argument(
        "--tasks",
        type=_csv(TASKS),
        default=TASKS,
        help=f"comma-separated subset of {','.join(TASKS)} (default: all)",
    )
    parser.add_argument(
        "--datasets",
        type=_csv(DATASETS),
        default=DATASETS,
        help=f"comma-separated subset of {','.join(DATASETS)} (default: all)",
    )
    parser.add_argument(
        "--ablate",
        type=_csv(ABLATIONS),
        default=(),
        help=f"re-run the answer cases with each component off: {','.join(ABLATIONS)}",
    )
    parser.add_argument(
        "--ablation-limit",
        type=_positive,
        default=None,
        help="answer cases per dataset the ablations re-run, a fixed-seed subset the full "
        "system's row is also read from (default: every case)",
    )
    parser.add_argument(
        "--concurrency",
        type=_positive,
        default=1,
        help="requests in flight at once (default 1, which also gives the cleanest latencies)",
    )
    parser.add_argument(
        "--rerank-depth",
        type=_positive,
        default=100,
        help="top_k of the hybrid+rerank retrieval run (Recall@100 needs 100; default 100)",
    )
    parser.add_argument(
        "--price-per-hour",
        type=float,
        default=0.0,
        help="accelerator price in $/hour for cost per 1k tokens (default 0: not configured)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for the timestamped report folder (default: <repo>/reports)",
    )


def explicit_files(args: argparse.Namespace, data_dir: Path) -> dict[str, dict[str, Path]]:
    """The dataset files given on the command line, by dataset and loader keyword; a relative
    path is taken relative to `data_dir`."""
    out: dict[str, dict[str, Path]] = {}
    for option, (dataset, key) in FILE_OPTIONS.items():
        path: Path | None = getattr(args, option, None)
        if path is not None:
            out.setdefault(dataset, {})[key] = path if path.is_absolute() else data_dir / path
    return out


def config_from_args(args: argparse.Namespace, data_dir: Path) -> Any:
    """The EvalConfig the parsed options describe."""
    from veritas_evals.runner import EvalConfig

    data_dir = data_dir.resolve()
    return EvalConfig(
        data_dir=data_dir,
        split=args.split,
        files=explicit_files(args, data_dir),
        limit=args.limit,
        corpus_limit=args.corpus_limit,
        seed=args.seed,
        tasks=tuple(args.tasks),
        datasets=tuple(args.datasets),
        ablate=tuple(args.ablate),
        ablation_limit=args.ablation_limit,
        concurrency=args.concurrency,
        rerank_depth=args.rerank_depth,
        price_per_hour=args.price_per_hour,
    )


def run_from_args(args: argparse.Namespace, *, gateway_url: str, api_key: str) -> int:
    """Runs an evaluation with parsed arguments; prints the report path and the tables."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from veritas_evals.client import GatewayClient, GatewayError, GatewayUnreachable
    from veritas_evals.report import write_report
    from veritas_evals.runner import Evaluation
    from veritas_evals.tasks.base import StepProgress

    # Piped output (make, CI logs) gets room for the tables instead of rich's 80 columns.
    console = Console(width=None if sys.stdout.isatty() else 132)
    data_dir = args.data if args.data is not None else default_data_dir()
    if data_dir is None or not data_dir.is_dir():
        console.print(
            f"[red]error:[/red] dataset folder {data_dir or '../shared/data'} not found; "
            "pass --data DIR"
        )
        return 2
    config = config_from_args(args, data_dir)
    absent = [str(p) for paths in config.files.values() for p in paths.values() if not p.is_file()]
    if absent:
        console.print(f"[red]error:[/red] dataset file not found: {', '.join(absent)}")
        return 2
    started = datetime.now(UTC)
    # The checkout as the run starts: a long run must not record commits made while it ran.
    commit = git_commit(repo_root())
    out_root = args.out if args.out is not None else repo_root() / "reports"
    out_dir = out_root / f"eval-{started:%Y%m%d-%H%M%S}"
    columns = (
        TextColumn("{task.description:<32}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    clock = time.monotonic()
    try:
        with (
            GatewayClient(gateway_url, api_key) as client,
            Progress(*columns, console=console) as bar,
        ):
            results = Evaluation(client, config, StepProgress(bar)).run()
    except GatewayUnreachable as err:
        console.print(f"[red]error:[/red] cannot reach the gateway at {gateway_url}: {err}")
        console.print("is the stack running? `veritas up` starts it")
        return 1
    except GatewayError as err:
        console.print(f"[red]error:[/red] {err}")
        return 1
    results.settings |= {
        "started_at": f"{started:%Y-%m-%d %H:%M:%S} UTC",
        "duration_s": time.monotonic() - clock,
        "git_commit": commit,
        "gateway_url": gateway_url,
    }
    path = write_report(results, out_dir)
    print_tables(console, results)
    console.print(f"report: [bold]{path}[/bold]", soft_wrap=True)
    return 0


def print_tables(console: Any, results: Any) -> None:
    from rich.table import Table

    from veritas_evals.report import (
        RETRIEVAL_HEADER,
        ablation_rows,
        metrics_rows,
        retrieval_rows,
        split_lines,
    )

    for line in split_lines(results):
        console.print(f"split: {line}")
    if results.retrieval:
        table = Table(*RETRIEVAL_HEADER, title="SciFact retrieval")
        for row in retrieval_rows(results):
            table.add_row(*row)
        console.print(table)
    if rows := metrics_rows(results):
        table = Table("metric", "value", "n / note", title="Veritas evaluation")
        for metric_row in rows:
            table.add_row(*metric_row)
        console.print(table)
    if results.ablations:
        header, ablations = ablation_rows(results)
        table = Table(*header, title="Ablations (delta vs full)")
        for row in ablations:
            table.add_row(*row)
        console.print(table)
    for warning in results.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    for task, reason in results.skipped.items():
        console.print(f"[yellow]skipped {task}:[/yellow] {reason}")


def _default_api_key() -> str:
    if key := os.environ.get("VERITAS_API_KEY", "").strip():
        return key
    keys = [k.strip() for k in os.environ.get("VERITAS_API_KEYS", "").split(",") if k.strip()]
    if keys:
        return keys[0].rpartition(":")[2]
    data_dir = Path(os.environ.get("VERITAS_DATA_DIR", repo_root() / ".veritas"))
    path = data_dir / "dev-api-key"
    return path.read_text().strip() if path.exists() else ""


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point (`veritas-eval`, `python -m veritas_evals`)."""
    parser = argparse.ArgumentParser(prog="veritas-eval", description=__doc__)
    add_arguments(parser)
    parser.add_argument(
        "--gateway-url",
        default=os.environ.get("VERITAS_GATEWAY_URL", "http://127.0.0.1:8080"),
        help="gateway base URL (default: $VERITAS_GATEWAY_URL or http://127.0.0.1:8080)",
    )
    parser.add_argument(
        "--api-key",
        default=None,
        help="API key (default: $VERITAS_API_KEY, the first of $VERITAS_API_KEYS, or the "
        "development key under $VERITAS_DATA_DIR)",
    )
    args = parser.parse_args(argv)
    key = args.api_key or _default_api_key()
    if not key:
        parser.error("no API key: pass --api-key or start the stack with `veritas up`")
    return run_from_args(args, gateway_url=args.gateway_url, api_key=key)


if __name__ == "__main__":
    sys.exit(main())
