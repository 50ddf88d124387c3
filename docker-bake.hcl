# Builds every service image from the repository root (docker buildx bake reads this file):
#   docker buildx bake                    # the nine images: veritas-<name>:${TAG}
#   docker buildx bake cuda               # GPU variants:   veritas-<name>:${TAG}-cuda
#   docker buildx bake all                # both
#   docker buildx bake generation vision-cuda
#   REGISTRY=registry.example.com/veritas/ TAG=0.1.0 docker buildx bake all --push
# Each services/<name>/Dockerfile starts FROM the named contexts veritas-builder and
# veritas-runtime, which point at the two stages of services/common/Dockerfile, so those are
# built once and shared by every image.

# Registry and path put in front of every image name, with a trailing slash: the chart's
# image.registry plus "/" (empty: local names, as the chart's default values expect).
variable "REGISTRY" {
  default = ""
}

# The chart's appVersion (helm/veritas/Chart.yaml), its default image tag.
variable "TAG" {
  default = "0.1.0"
}

# The chart's gpu.imageTagSuffix: GPU services run the images tagged with it.
variable "CUDA_SUFFIX" {
  default = "-cuda"
}

variable "PYTHON_IMAGE" {
  default = "python:3.11-slim"
}

group "default" {
  targets = ["services"]
}

group "cuda" {
  targets = ["services-cuda"]
}

group "all" {
  targets = ["services", "services-cuda"]
}

target "builder" {
  context    = "."
  dockerfile = "services/common/Dockerfile"
  target     = "builder"
  args = {
    PYTHON_IMAGE = PYTHON_IMAGE
  }
}

target "runtime" {
  context    = "."
  dockerfile = "services/common/Dockerfile"
  target     = "runtime"
  args = {
    PYTHON_IMAGE = PYTHON_IMAGE
  }
}

# What every service image shares: the repository root as context, the shared stages.
target "_service" {
  context = "."
  contexts = {
    veritas-builder = "target:builder"
    veritas-runtime = "target:runtime"
  }
}

target "services" {
  name     = svc
  inherits = ["_service"]
  matrix = {
    svc = ["ingestion", "embedding", "retrieval", "rerank", "vision", "generation", "agent",
           "gateway", "mcp"]
  }
  dockerfile = "services/${svc}/Dockerfile"
  tags       = ["${REGISTRY}veritas-${svc}:${TAG}"]
}

# The images of services the chart runs with gpu.enabled: each installs its -cuda lock
# (requirements/locks/<svc>-cuda.txt): PyPI's CUDA torch build for the torch services,
# ONNX Runtime with the CUDA provider for vision.
target "services-cuda" {
  name     = "${svc}-cuda"
  inherits = ["_service"]
  matrix = {
    svc = ["embedding", "rerank", "generation", "vision"]
  }
  dockerfile = "services/${svc}/Dockerfile"
  args       = { LOCK = "${svc}-cuda" }
  tags       = ["${REGISTRY}veritas-${svc}:${TAG}${CUDA_SUFFIX}"]
}
