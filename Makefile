# Thin aliases. Every target creates or reuses the local virtual environment itself.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= data
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run build serve test bench lint browser-deps clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

## Build every bundled geography into $(DATA)/ and serve on http://$(HOST):$(PORT)
run: build
	$(BIN)/quartier serve --data $(DATA) --host $(HOST) --port $(PORT)

build: $(STAMP)
	$(BIN)/quartier build-all boundaries --data $(DATA)

serve: $(STAMP)
	$(BIN)/quartier serve --data $(DATA) --host $(HOST) --port $(PORT)

## Debian packages the browser tests and benchmarks need (Chromium, wrk); installed once
browser-deps:
	@command -v chromium >/dev/null && command -v wrk >/dev/null || { \
	  echo "installing Debian packages chromium, wrk"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium wrk >/dev/null; }

test: $(STAMP) browser-deps
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: $(STAMP) browser-deps
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check geo service tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(DATA) build *.egg-info
