"""Check the Helm chart without a cluster: lint, render, validate every object, test the schema.

For the default values and every file in <chart>/ci/*-values.yaml:
  1. `helm lint --strict`
  2. `helm template` for the given Kubernetes version
  3. strict schema validation of every rendered object (kubernetes-validate, offline schemas;
     an object whose kind has no schema fails too)
Then renders that must fail do fail, naming the offending key: a typo'd key, a wrong type, a
disabled peer.

Usage: python scripts/helm_check.py --helm .tools/helm --chart helm/veritas [--kube-version 1.31]
Exits non-zero with one line per failure.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

try:
    import kubernetes_validate
    from kubernetes_validate.utils import VersionNotSupportedError
except ImportError:  # pragma: no cover - depends on the environment
    sys.exit("helm_check: kubernetes-validate is not installed (pip install kubernetes-validate)")

RELEASE = "veritas"
NAMESPACE = "veritas"


@dataclass(frozen=True)
class MustFail:
    """A render that the chart must refuse, and a word its error must contain."""

    what: str
    args: tuple[str, ...]
    expect_in_error: str


MUST_FAIL = (
    MustFail("typo'd service key", ("--set", "services.gatway.port=1"), "gatway"),
    MustFail("typo'd nested key", ("--set", "services.gateway.replica=2"), "replica"),
    MustFail("unknown top-level key", ("--set", "imagee.tag=x"), "imagee"),
    MustFail("wrong type", ("--set-string", "services.gateway.port=http"), "port"),
    MustFail("bad enum", ("--set", "services.agent.probes.type=exec"), "type"),
    MustFail("disabled peer", ("--set", "services.retrieval.enabled=false"), "retrieval"),
    MustFail(
        "replicas > 1 on a ReadWriteOnce volume",
        ("--set", "services.retrieval.replicas=2"),
        "ReadWriteOnce",
    ),
)


class Checker:
    def __init__(self, helm: Path, chart: Path, kube_version: str) -> None:
        self.helm = str(helm)
        self.chart = str(chart)
        self.kube_version = kube_version
        self.failures: list[str] = []

    def fail(self, message: str) -> None:
        self.failures.append(message)
        print(f"FAIL {message}", flush=True)

    def ok(self, message: str) -> None:
        print(f"ok   {message}", flush=True)

    def helm_run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.helm, *args], capture_output=True, text=True, check=False)

    def template(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.helm_run(
            "template",
            RELEASE,
            self.chart,
            "--namespace",
            NAMESPACE,
            "--kube-version",
            self.kube_version,
            *args,
        )

    def lint(self, label: str, values_args: list[str]) -> None:
        result = self.helm_run("lint", "--strict", self.chart, *values_args)
        if result.returncode != 0:
            self.fail(f"helm lint --strict ({label}):\n{result.stdout}{result.stderr}")
        else:
            self.ok(f"helm lint --strict ({label})")

    def render_and_validate(self, label: str, values_args: list[str]) -> None:
        result = self.template(*values_args)
        if result.returncode != 0:
            self.fail(f"helm template ({label}): {result.stderr.strip()}")
            return
        try:
            objects = [o for o in yaml.safe_load_all(result.stdout) if o]
        except yaml.YAMLError as exc:
            self.fail(f"helm template ({label}) is not valid YAML: {exc}")
            return
        if not any(o.get("kind") == "Deployment" for o in objects):
            self.fail(f"helm template ({label}) rendered no Deployment")
        seen: set[tuple[str, str]] = set()
        bad = 0
        for obj in objects:
            key = (obj.get("kind", "?"), obj.get("metadata", {}).get("name", "?"))
            where = f"{key[0]}/{key[1]}"
            if key in seen:
                self.fail(f"{label}: {where} rendered twice")
                bad += 1
            seen.add(key)
            error = self.validate(obj)
            if error:
                self.fail(f"{label}: {where}: {error}")
                bad += 1
        if not bad:
            self.ok(
                f"{label}: {len(objects)} objects valid against Kubernetes {self.kube_version} "
                "(strict)"
            )

    def validate(self, obj: dict) -> str | None:
        """Returns why the object is invalid, or None."""
        try:
            kubernetes_validate.validate(obj, self.kube_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path) or "(root)"
            return f"{path}: {exc.message}"
        except (
            kubernetes_validate.SchemaNotFoundError,
            kubernetes_validate.InvalidSchemaError,
            VersionNotSupportedError,
        ) as exc:
            return f"cannot validate: {exc.message}"
        return None

    def must_fail(self, case: MustFail) -> None:
        result = self.template(*case.args)
        shown = " ".join(case.args)
        if result.returncode == 0:
            self.fail(f"{case.what}: `helm template {shown}` rendered; the chart must reject it")
        elif case.expect_in_error not in result.stderr:
            self.fail(
                f"{case.what}: `helm template {shown}` failed without naming "
                f"{case.expect_in_error!r}: {result.stderr.strip()}"
            )
        else:
            reason = next(
                line.strip() for line in result.stderr.splitlines() if case.expect_in_error in line
            )
            self.ok(f"rejects {case.what} ({shown}): {reason}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--helm", type=Path, required=True, help="helm binary")
    parser.add_argument("--chart", type=Path, required=True, help="chart directory")
    parser.add_argument(
        "--kube-version",
        default="1.31",
        help="Kubernetes version to render and validate for (default %(default)s)",
    )
    args = parser.parse_args()
    if not args.helm.is_file():
        sys.exit(f"helm_check: no helm binary at {args.helm} (run scripts/fetch_helm.py)")
    if not (args.chart / "Chart.yaml").is_file():
        sys.exit(f"helm_check: {args.chart} is not a chart (no Chart.yaml)")

    try:
        probe = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "probe"}}
        kubernetes_validate.validate(probe, args.kube_version, strict=True)
    except VersionNotSupportedError:
        sys.exit(
            f"helm_check: kubernetes-validate {kubernetes_validate.__version__} has no schemas "
            f"for Kubernetes {args.kube_version} (newest: {kubernetes_validate.latest_version()})"
        )

    checker = Checker(args.helm, args.chart, args.kube_version)
    value_sets: list[tuple[str, list[str]]] = [("default values", [])]
    for values in sorted((args.chart / "ci").glob("*-values.yaml")):
        value_sets.append((values.name, ["--values", str(values)]))
    for label, values_args in value_sets:
        checker.lint(label, values_args)
        checker.render_and_validate(label, values_args)
    for case in MUST_FAIL:
        checker.must_fail(case)

    if checker.failures:
        print(f"\nhelm_check: {len(checker.failures)} check(s) failed", file=sys.stderr)
        return 1
    print("\nhelm_check: chart OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
