# SRE Workbook. `make demo` and `make test` are all a new user needs (README).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TOOLS := $(CURDIR)/.tools/bin
FERRETDB_VERSION := v1.24.2
DEBIAN_PACKAGES := prometheus prometheus-alertmanager redis-server chromium
PYTEST_ARGS ?=

.PHONY: setup python-env system-packages ferretdb demo test lint typecheck lab bench clean

setup: python-env system-packages ferretdb

python-env: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# Debian's servers and browser, installed as root where missing (prometheus-alertmanager's
# binary is `prometheus-alertmanager`, chromium's is `chromium`).
system-packages:
	@missing=""; \
	for cmd in prometheus promtool prometheus-alertmanager redis-server chromium; do \
	  command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$cmd"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian packages for:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $(DEBIAN_PACKAGES) >/dev/null; \
	else \
	  echo "missing:$$missing — install the Debian packages $(DEBIAN_PACKAGES) (or use environment.yml)"; \
	fi

# A MongoDB-compatible server for the sandbox: mongod if present, else FerretDB built with Go.
ferretdb:
	@if command -v mongod >/dev/null 2>&1 || [ -x $(TOOLS)/ferretdb ]; then exit 0; fi; \
	if command -v go >/dev/null 2>&1; then \
	  echo "building FerretDB $(FERRETDB_VERSION) into .tools/bin"; \
	  mkdir -p $(TOOLS) && GOBIN=$(TOOLS) go install \
	    github.com/FerretDB/FerretDB/cmd/ferretdb@$(FERRETDB_VERSION); \
	else \
	  echo "no mongod and no Go: the sandbox will report MongoDB as not started"; \
	fi

demo: setup
	$(BIN)/sreworkbook demo

lint: python-env
	$(BIN)/ruff check lib tests bench
	$(BIN)/ruff format --check lib tests bench

typecheck: python-env
	$(BIN)/mypy

test: setup lint typecheck
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lab: setup
	$(BIN)/jupyter lab --notebook-dir=notebooks

bench: setup
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .tools .sandbox .pytest_cache .mypy_cache .ruff_cache
