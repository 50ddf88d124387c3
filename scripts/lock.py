"""Compile every environment of requirements/environments.toml into a hashed lock.

For each environment, the requirements it declares (the dependencies of its projects, their
build requirements, tool files) are written to requirements/locks/<name>.in, then `uv pip
compile` pins every package, transitive ones included, with hashes, into
requirements/locks/<name>.txt. The existing lock is the resolver's preference, so running this
again with nothing declared anew reproduces the locks byte for byte; --upgrade moves every pin to
the newest release that fits.

Installs never use uv: pip installs the bootstrap lock (pip, the build backend) first, then an
environment's lock with --require-hashes and --no-build-isolation (it finds the local CPU torch
wheel through its own find-links), then the project's own packages with --no-deps
(scripts/install_locked.sh).

Usage: python scripts/lock.py [--upgrade] [--check] [ENV ...]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
REGISTRY = Path("requirements/environments.toml")
LOCKS = Path("requirements/locks")
# Where the project's own packages live; a dependency on one of them is followed, not resolved.
LOCAL_PROJECT_GLOBS = ("*/pyproject.toml", "services/*/pyproject.toml")
# Every lock is resolved for the platform the images and the development machines run.
PYTHON_VERSION = "3.11"
PYTHON_PLATFORM = "x86_64-manylinux_2_28"
COMPILE_COMMAND = "make lock"
# Installed first into every venv; every other environment is compiled against its lock.
BOOTSTRAP = "bootstrap"
KEYS = {"projects", "build-projects", "requirements", "constraints", "no-deps", "omit"}
# The lock's last line names what it leaves out; scripts/install_locked.sh reads it.
OMIT_MARKER = "# omit: "


class LockError(Exception):
    """The registry or a pyproject file is inconsistent; the message says where."""


@dataclass(frozen=True)
class Environment:
    """One table of requirements/environments.toml."""

    name: str
    projects: tuple[str, ...] = ()
    build_projects: tuple[str, ...] = ()
    requirements: tuple[str, ...] = ()
    constraints: tuple[str, ...] = ()
    no_deps: bool = False
    omit: tuple[str, ...] = ()

    @property
    def in_path(self) -> Path:
        return LOCKS / f"{self.name}.in"

    @property
    def lock_path(self) -> Path:
        return LOCKS / f"{self.name}.txt"


@dataclass
class Pin:
    """One package of a lock: its exact version, hashes and what pulled it in."""

    name: str
    version: str
    hashes: list[str] = field(default_factory=list)
    via: list[str] = field(default_factory=list)


def load_environments(repo: Path = REPO) -> dict[str, Environment]:
    """The environments of the registry, by name, in the order they are declared."""
    tables = tomllib.loads((repo / REGISTRY).read_text())
    environments = {}
    for name, table in tables.items():
        unknown = set(table) - KEYS
        if unknown:
            raise LockError(f"{REGISTRY} [{name}]: unknown keys {sorted(unknown)}")
        environments[name] = Environment(
            name=name,
            projects=tuple(table.get("projects", ())),
            build_projects=tuple(table.get("build-projects", ())),
            requirements=tuple(table.get("requirements", ())),
            constraints=tuple(table.get("constraints", ())),
            no_deps=bool(table.get("no-deps", False)),
            omit=tuple(sorted(canonicalize_name(n) for n in table.get("omit", ()))),
        )
    return environments


def local_projects(repo: Path = REPO) -> dict[str, Path]:
    """The project's own packages: canonical distribution name -> folder (relative to repo)."""
    found = {}
    for pattern in LOCAL_PROJECT_GLOBS:
        for pyproject in sorted(repo.glob(pattern)):
            if pyproject.parent == repo:
                continue
            name = tomllib.loads(pyproject.read_text())["project"]["name"]
            found[canonicalize_name(name)] = pyproject.parent.relative_to(repo)
    return found


def _pyproject(repo: Path, folder: Path) -> dict:
    path = repo / folder / "pyproject.toml"
    if not path.is_file():
        raise LockError(f"{REGISTRY}: {folder} has no pyproject.toml")
    return tomllib.loads(path.read_text())


def _split_extras(spec: str) -> tuple[Path, frozenset[str]]:
    match = re.fullmatch(r"([^\[\]]+)(?:\[([^\]]*)\])?", spec.strip())
    if not match:
        raise LockError(f"{REGISTRY}: cannot read project {spec!r}")
    extras = frozenset(e.strip() for e in (match.group(2) or "").split(",") if e.strip())
    return Path(match.group(1)), extras


def runtime_requirements(
    projects: tuple[str, ...], repo: Path = REPO
) -> list[tuple[str, list[str]]]:
    """Third-party requirements of projects and of the local packages they depend on.

    Returns (section, requirements) pairs in a stable order: each local project once, the
    projects it depends on before it.
    """
    local = local_projects(repo)
    sections: list[tuple[str, list[str]]] = []
    seen: set[tuple[Path, frozenset[str]]] = set()

    def visit(folder: Path, extras: frozenset[str], chain: tuple[Path, ...]) -> None:
        if (folder, extras) in seen:
            return
        if folder in chain:
            raise LockError(f"dependency cycle: {' -> '.join(map(str, [*chain, folder]))}")
        project = _pyproject(repo, folder)["project"]
        optional = project.get("optional-dependencies", {})
        missing = extras - set(optional)
        if missing:
            raise LockError(f"{folder}: no extras {sorted(missing)} in its pyproject.toml")
        declared = list(project.get("dependencies", []))
        for extra in sorted(extras):
            declared += optional[extra]
        third_party = []
        for text in declared:
            requirement = Requirement(text)
            name = canonicalize_name(requirement.name)
            if name in local:
                visit(local[name], frozenset(requirement.extras), (*chain, folder))
            else:
                third_party.append(str(requirement))
        seen.add((folder, extras))
        label = str(folder) + (f"[{','.join(sorted(extras))}]" if extras else "")
        sections.append((label, third_party))

    for spec in projects:
        visit(*_split_extras(spec), ())
    return sections


def build_requirements(projects: tuple[str, ...], repo: Path = REPO) -> list[str]:
    """The union of the [build-system] requires of projects, in first-seen order."""
    found: list[str] = []
    for spec in projects:
        folder, _ = _split_extras(spec)
        for text in _pyproject(repo, folder).get("build-system", {}).get("requires", []):
            requirement = str(Requirement(text))
            if requirement not in found:
                found.append(requirement)
    return found


def requirement_file_lines(path: Path, repo: Path = REPO) -> list[str]:
    """The requirements of a requirements/*.in file, without comments and blank lines."""
    if not (repo / path).is_file():
        raise LockError(f"{REGISTRY}: {path} does not exist")
    lines = []
    for raw in (repo / path).read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            lines.append(str(Requirement(line)))
    return lines


def declared_sections(env: Environment, repo: Path = REPO) -> list[tuple[str, list[str]]]:
    """What an environment declares, by where it is declared; each requirement listed once."""
    sections = runtime_requirements(env.projects, repo)
    if env.build_projects:
        sections.append(("[build-system] requires", build_requirements(env.build_projects, repo)))
    sections += [(str(path), requirement_file_lines(path, repo)) for path in env.requirements]
    seen: set[str] = set()
    unique = []
    for label, requirements in sections:
        fresh = [r for r in requirements if r not in seen]
        seen.update(fresh)
        if fresh:
            unique.append((label, fresh))
    return unique


def render_in(env: Environment, repo: Path = REPO) -> str:
    """The text of requirements/locks/<env>.in."""
    lines = [
        f"# Written by `{COMPILE_COMMAND}` from {REGISTRY} [{env.name}]: what the environment",
        "# declares. Edit the pyproject.toml files or requirements/*.in, never this file.",
    ]
    for label, requirements in declared_sections(env, repo):
        lines += ["", f"# {label}", *requirements]
    return "\n".join(lines) + "\n"


def read_in(path: Path) -> list[Requirement]:
    """The requirements listed in an .in file."""
    return [
        Requirement(line)
        for line in (raw.strip() for raw in path.read_text().splitlines())
        if line and not line.startswith("#")
    ]


def read_lock(path: Path) -> dict[str, Pin]:
    """The pins of a lock written by `uv pip compile --generate-hashes`, by canonical name."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not line.startswith((" ", "#")):
            name, _, version = stripped.removesuffix("\\").strip().partition("==")
            current = Pin(canonicalize_name(name), version)
            pins[current.name] = current
        elif current is None:
            continue  # the header
        elif stripped.startswith("--hash="):
            current.hashes.append(stripped.removeprefix("--hash=").removesuffix("\\").strip())
        elif stripped.startswith("# via") and stripped != "# via":
            current.via.append(stripped.removeprefix("# via").strip())
        elif stripped.startswith("#   "):
            current.via.append(stripped.removeprefix("#").strip())
    return pins


def uv_binary() -> str:
    """uv next to the running interpreter (the dev venv pins it), else on PATH."""
    beside = Path(sys.executable).with_name("uv")
    found = str(beside) if beside.is_file() else shutil.which("uv")
    if not found:
        raise LockError("uv is not installed: run `make setup` (the dev lock pins it)")
    return found


def compile_command(
    env: Environment,
    *,
    upgrade: bool = False,
    find_links: list[str] | None = None,
    extra_index_urls: list[str] | None = None,
) -> list[str]:
    """The `uv pip compile` command that writes an environment's lock."""
    command = [
        uv_binary(), "pip", "compile", str(env.in_path), "--output-file", str(env.lock_path),
        "--generate-hashes", "--python-version", PYTHON_VERSION,
        "--python-platform", PYTHON_PLATFORM, "--custom-compile-command", COMPILE_COMMAND,
        "--quiet", "--no-progress",
    ]  # fmt: skip
    constraints = list(env.constraints)
    if env.name != BOOTSTRAP:
        constraints.append(str(LOCKS / f"{BOOTSTRAP}.txt"))
    for constraint in constraints:
        command += ["--constraint", constraint]
    if env.no_deps:
        command.append("--no-deps")
    for name in env.omit:
        command += ["--no-emit-package", name]
    if upgrade:
        command.append("--upgrade")
    for link in find_links or []:
        command += ["--find-links", link]
    for url in extra_index_urls or []:
        command += ["--extra-index-url", url]
    return command


def mark_omitted(lock_path: Path, omit: tuple[str, ...]) -> None:
    """Appends the names the lock leaves out, so the installer can tell `pip check` they are
    missing on purpose."""
    with lock_path.open("a") as lock_file:
        lock_file.write(
            f"\n# Asked for by a locked package but never installed ({REGISTRY} omit):\n"
            f"{OMIT_MARKER}{' '.join(omit)}\n"
        )


def omitted(lock_path: Path) -> tuple[str, ...]:
    """The names a lock leaves out (its omit line), empty when it leaves out nothing."""
    for line in lock_path.read_text().splitlines():
        if line.startswith(OMIT_MARKER):
            return tuple(line.removeprefix(OMIT_MARKER).split())
    return ()


def stale(environments: dict[str, Environment], repo: Path = REPO) -> list[str]:
    """Environments whose committed .in or lock does not match what they declare."""
    problems = []
    for env in environments.values():
        in_file = repo / env.in_path
        if not in_file.is_file() or in_file.read_text() != render_in(env, repo):
            problems.append(f"{env.in_path} differs from what [{env.name}] declares")
        if not (repo / env.lock_path).is_file():
            problems.append(f"{env.lock_path} is missing")
        elif omitted(repo / env.lock_path) != env.omit:
            problems.append(f"{env.lock_path} does not leave out what [{env.name}] omits")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("envs", nargs="*", help="environments to lock (default: every one)")
    parser.add_argument(
        "--upgrade", action="store_true", help="move every pin to the newest release that fits"
    )
    parser.add_argument(
        "--check", action="store_true", help="only check that every .in and lock is current"
    )
    parser.add_argument(
        "--find-links",
        action="append",
        default=(os.environ.get("PIP_FIND_LINKS") or "").split(),
        help="a folder of local wheels, e.g. the CPU torch (default: pip's PIP_FIND_LINKS)",
    )
    parser.add_argument(
        "--extra-index-url",
        action="append",
        default=[],
        help="another index, e.g. https://download.pytorch.org/whl/cpu where no local torch is",
    )
    args = parser.parse_args(argv)
    try:
        environments = load_environments()
        unknown = set(args.envs) - set(environments)
        if unknown:
            raise LockError(f"no environment {sorted(unknown)} in {REGISTRY}")
        chosen = {n: e for n, e in environments.items() if not args.envs or n in args.envs}
        if args.check:
            problems = stale(chosen)
            for problem in problems:
                print(f"lock: {problem}; run `make lock`", file=sys.stderr)
            return 1 if problems else 0
        (REPO / LOCKS).mkdir(parents=True, exist_ok=True)
        for env in chosen.values():
            print(f"lock: {env.lock_path}", flush=True)
            (REPO / env.in_path).write_text(render_in(env))
            command = compile_command(
                env,
                upgrade=args.upgrade,
                find_links=args.find_links,
                extra_index_urls=args.extra_index_url,
            )
            result = subprocess.run(command, cwd=REPO, check=False)
            if result.returncode:
                raise LockError(f"uv pip compile failed for [{env.name}]")
            if env.omit:
                mark_omitted(REPO / env.lock_path, env.omit)
    except LockError as error:
        print(f"lock: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
