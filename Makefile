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

## Build every bundled geography into $(DATA)/ and serve on http://$(HOST):$(PORT) with serve's
## defaults, the ones that serve best (a process per core but one, no access log; docs/BENCHMARKS.md)
run: build
	$(BIN)/quartier serve --data $(DATA) --host $(HOST) --port $(PORT)

build: $(STAMP)
	$(BIN)/quartier build-all boundaries --data $(DATA)

serve: $(STAMP)
	$(BIN)/quartier serve --data $(DATA) --host $(HOST) --port $(PORT)

## Debian packages the real-client tests and benchmarks need: Chromium (viewer, maps),
## QGIS (python3-qgis opens our GeoPackage styles and vector tiles), wrk (load benchmarks),
## poppler-utils (pdftotext reads the profile PDFs as a reader would), nginx (the deployment of
## docs/DEPLOY.md in tests/test_deploy.py, static serving in the benchmark)
DEBIAN_PACKAGES := chromium python3-qgis wrk poppler-utils nginx
browser-deps:
	@command -v chromium >/dev/null && command -v wrk >/dev/null && \
	  command -v pdftotext >/dev/null && \
	  { command -v nginx >/dev/null || test -x /usr/sbin/nginx; } && \
	  /usr/bin/python3 -c "import qgis.core" 2>/dev/null || { \
	  echo "installing Debian packages $(DEBIAN_PACKAGES) (once)"; \
	  apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium wrk poppler-utils nginx >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    python3-qgis >/dev/null; }

test: $(STAMP) browser-deps
	$(BIN)/python -m pytest -q -p no:cacheprovider

## Prints every figure; a copy lands in bench-out/ (docs/BENCHMARKS.md records a run)
bench: $(STAMP) browser-deps
	mkdir -p bench-out
	$(BIN)/python -m bench --out bench-out/BENCHMARKS-$$(date +%Y%m%d-%H%M).md

lint: $(STAMP)
	$(BIN)/ruff check geo service tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(DATA) build *.egg-info
