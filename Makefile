# SRE Workbook. `make demo` and `make test` are all a new user needs (README).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TOOLS := $(CURDIR)/.tools/bin
FERRETDB_VERSION := v1.24.2
TOXIPROXY_VERSION := v2.5.0
# The real mongodump/mongorestore are built from the source kept in ../shared/third_party
# (the Go module proxy refuses github.com/mongodb/mongo-tools); see the mongo-tools target.
MONGO_TOOLS_TARBALL := $(firstword $(wildcard $(CURDIR)/../shared/third_party/mongo-tools-*.tar.gz))
MONGO_TOOLS_COMMIT := 8fa3cfc8263b9cead37912d7b0447766143c3e3a
MONGO_TOOLS_RELEASE := 100.18.0
# Last resort only: mongo-tools tags are not semver, so the Go command resolves one as a revision.
MONGO_TOOLS_MODULE_VERSION := 100.12.0
DEBIAN_PACKAGES := prometheus prometheus-alertmanager redis-server chromium
CONTAINER_PACKAGES := podman buildah mmdebstrap uidmap fuse-overlayfs slirp4netns runc \
	containernetworking-plugins
PYTEST_ARGS ?=

.PHONY: setup python-env demo-env lab-env system-packages container-tools ferretdb mongo-tools toxiproxy \
	demo demo-incident test test-core test-slow lint typecheck lab bench install-sizes clean

# The package's extras (pyproject.toml): the base is what a production run needs; `make demo`
# adds the sandbox's servers and the columnar log engine, `make lab` JupyterLab, and
# `make test` everything (`[test]` pulls in every other extra).
EXTRAS_test := test
EXTRAS_demo := sandbox,fast
EXTRAS_lab := lab,sandbox,fast

setup: python-env system-packages ferretdb mongo-tools toxiproxy

python-env: $(VENV)/.installed-test
demo-env: $(VENV)/.installed-demo
lab-env: $(VENV)/.installed-lab

$(VENV)/.installed-%: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS_$*)]'
	touch $@

# $(call apt-install,COMMANDS,PACKAGES,HINT): as root, apt-get install PACKAGES when one of
# COMMANDS is missing; otherwise say what to install.
define apt-install
	@missing=""; \
	for cmd in $(1); do command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$cmd"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian packages for:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $(2) >/dev/null; \
	else \
	  echo "missing:$$missing — install the Debian packages $(2)$(3)"; \
	fi
endef

# Debian's servers and browser, installed as root where missing (prometheus-alertmanager's
# binary is `prometheus-alertmanager`, chromium's is `chromium`).
system-packages:
	$(call apt-install,prometheus promtool prometheus-alertmanager redis-server chromium,$(DEBIAN_PACKAGES), (or use environment.yml))

# The container tier (tests/install/test_container.py): Debian's podman and buildah build and
# run the image here without a Docker engine or a registry; mmdebstrap makes its base from
# Debian packages (../shared/notes/containers.md).
container-tools:
	$(call apt-install,podman buildah mmdebstrap runc,$(CONTAINER_PACKAGES))

# A MongoDB-compatible server for the sandbox: mongod if present, else FerretDB built with Go.
# `go install` alone yields a binary that panics at start (its build/version/version.txt is
# empty outside a git checkout), so the module is copied, stamped with its version and built.
ferretdb:
	@if command -v mongod >/dev/null 2>&1 || $(TOOLS)/ferretdb --version >/dev/null 2>&1; then \
	  exit 0; fi; \
	if ! command -v go >/dev/null 2>&1; then \
	  echo "no mongod and no Go: the sandbox will report MongoDB as not started"; exit 0; fi; \
	echo "building FerretDB $(FERRETDB_VERSION) into .tools/bin"; \
	src=$$(go mod download -json github.com/FerretDB/FerretDB@$(FERRETDB_VERSION) | \
	  $(PYTHON) -c 'import json, sys; print(json.load(sys.stdin)["Dir"])') && \
	work=$$(mktemp -d) && cp -r "$$src"/. "$$work" && chmod -R u+w "$$work" && \
	echo $(FERRETDB_VERSION) > "$$work/build/version/version.txt" && mkdir -p $(TOOLS) && \
	(cd "$$work" && go build -o $(TOOLS)/ferretdb ./cmd/ferretdb); status=$$?; \
	rm -rf "$$work"; exit $$status

# Shopify's Toxiproxy for the fault matrix (tests/faults): `go install` through the module proxy
# into .tools/bin (shared by every worktree: built beside the target under a lock, renamed into
# place). Under CI=true, ending without it fails the run; elsewhere the fault tier is skipped.
toxiproxy:
	@stamp="$(TOOLS)/../toxiproxy.version"; \
	have() { [ -x "$(TOOLS)/toxiproxy-server" ] && grep -qx "$(TOXIPROXY_VERSION)" "$$stamp" 2>/dev/null; }; \
	if have; then exit 0; fi; \
	mkdir -p $(TOOLS); exec 9>"$(TOOLS)/../toxiproxy.lock"; flock 9; if have; then exit 0; fi; \
	if command -v go >/dev/null 2>&1; then \
	  echo "building Toxiproxy $(TOXIPROXY_VERSION) into .tools/bin"; \
	  work=$$(mktemp -d); trap 'rm -rf "$$work"' EXIT; \
	  GOBIN="$$work" go install github.com/Shopify/toxiproxy/v2/cmd/server@$(TOXIPROXY_VERSION) \
	    && mv -f "$$work/server" "$(TOOLS)/toxiproxy-server" && echo "$(TOXIPROXY_VERSION)" > "$$stamp"; \
	fi; \
	if have; then echo "toxiproxy: $(TOXIPROXY_VERSION) in .tools/bin"; \
	elif [ "$$CI" = true ]; then echo "toxiproxy: cannot build $(TOXIPROXY_VERSION) (CI=true: failing)"; exit 1; \
	else echo "toxiproxy: not built; the fault matrix tier will be skipped"; fi

# The real mongodump/mongorestore for the backup drills and `backups take`, found in this order:
# on PATH (MongoDB's Database Tools packages) → already in .tools/bin → built offline from the
# source tarball in ../shared/third_party (no network: GOFLAGS=-mod=vendor GOPROXY=off) → built
# with `go install` through the module proxy. .tools is shared by every worktree: the build
# holds a lock, writes beside the target and renames into place, and stamps the tarball it
# came from in .tools/mongo-tools.stamp (a changed tarball is built again). Under CI=true,
# ending without both tools fails the run; elsewhere the pure-pymongo engine is used.
mongo-tools:
	@set -o pipefail; \
	have() { [ -x "$(TOOLS)/mongodump" ] && [ -x "$(TOOLS)/mongorestore" ]; }; \
	if command -v mongodump >/dev/null 2>&1 && command -v mongorestore >/dev/null 2>&1; then \
	  exit 0; fi; \
	mkdir -p $(TOOLS); exec 9>"$(TOOLS)/../mongo-tools.lock"; flock 9; \
	tarball="$(MONGO_TOOLS_TARBALL)"; stamp="$(TOOLS)/../mongo-tools.stamp"; \
	sum=""; [ -n "$$tarball" ] && sum=$$(sha256sum "$$tarball" | cut -d' ' -f1); \
	if have && { [ -z "$$sum" ] || [ ! -f "$$stamp" ] || grep -q "$$sum" "$$stamp"; }; then \
	  exit 0; fi; \
	failed() { \
	  if [ "$$CI" = true ]; then echo "mongo-tools: $$1 — required when CI=true" >&2; exit 1; fi; \
	  echo "mongo-tools: $$1 (the pure-pymongo engine is used)"; exit 0; }; \
	command -v go >/dev/null 2>&1 || failed "not on PATH, not in .tools/bin, and no Go to build them"; \
	work=$$(mktemp -d); \
	trap 'rm -rf "$$work" "$(TOOLS)/.mongodump.partial" "$(TOOLS)/.mongorestore.partial"' EXIT; \
	from_tarball() { \
	  short=$$(basename "$$tarball" .tar.gz); short=$${short#mongo-tools-}; \
	  case "$(MONGO_TOOLS_COMMIT)" in \
	    "$$short"*) version="$(MONGO_TOOLS_RELEASE)-$$short"; commit="$(MONGO_TOOLS_COMMIT)";; \
	    *) version="dev-$$short"; commit="$$short";; esac; \
	  echo "building mongo-tools $$version (mongodump, mongorestore) offline from $$(basename "$$tarball")"; \
	  mkdir "$$work/src" && tar -xzf "$$tarball" -C "$$work/src" || return 1; \
	  for tool in mongodump mongorestore; do \
	    (cd "$$work/src" && GOFLAGS=-mod=vendor GOPROXY=off CGO_ENABLED=0 go build \
	      -ldflags "-X main.VersionStr=$$version -X main.GitCommit=$$commit" \
	      -o "$(TOOLS)/.$$tool.partial" ./$$tool/main) || return 1; \
	  done; }; \
	from_module_proxy() { \
	  version="$(MONGO_TOOLS_MODULE_VERSION)"; sum="module proxy"; \
	  echo "building mongo-tools $$version with go install (through the Go module proxy)"; \
	  for tool in mongodump mongorestore; do \
	    GOBIN="$$work/$$tool" CGO_ENABLED=0 go install \
	      "github.com/mongodb/mongo-tools/$$tool/main@$$version" \
	      && mv "$$work/$$tool/main" "$(TOOLS)/.$$tool.partial" || return 1; \
	  done; }; \
	{ [ -n "$$tarball" ] && from_tarball; } || \
	  { [ -n "$$tarball" ] && echo "mongo-tools: the build from $$tarball failed (above)"; from_module_proxy; } || \
	  failed "no source tarball built and go install failed (above)"; \
	for tool in mongodump mongorestore; do mv -f "$(TOOLS)/.$$tool.partial" "$(TOOLS)/$$tool"; done; \
	echo "$$version $$sum" > "$$stamp"; \
	echo "mongo-tools: $$("$(TOOLS)/mongodump" --version | head -1) in .tools/bin"

demo: demo-env system-packages ferretdb mongo-tools
	$(BIN)/sreworkbook demo

# The alert responder's loop: a fault, the runbook's report in Slack, the resolution.
demo-incident: demo-env system-packages ferretdb mongo-tools
	$(BIN)/sreworkbook demo --incident

# ruff, and the import contract in pyproject.toml (the layering ARCHITECTURE.md draws).
lint: python-env
	$(BIN)/ruff check lib tests bench
	$(BIN)/ruff format --check lib tests bench
	$(BIN)/lint-imports --no-cache

typecheck: python-env
	$(BIN)/mypy

# The slowest tiers (JupyterLab, the fault matrix, the install builds, Airflow) run beside the
# rest: two pytest sessions, each with a sandbox of its own (tests/conftest.py gives each a
# slot of ports). The slow session's output goes to outputs/test-slow.log, shown when it ends.
SLOW_TIERS := lab or faults or install or airflow

test: setup container-tools lint typecheck
	@$(MAKE) --no-print-directory -j2 test-core test-slow

# Exit 5 (nothing selected, e.g. PYTEST_ARGS naming one file of the other session) is fine.
test-core:
	@status=0; $(BIN)/python -m pytest -m "not ($(SLOW_TIERS))" $(PYTEST_ARGS) || status=$$?; \
	[ $$status = 5 ] && status=0; exit $$status

test-slow:
	@mkdir -p outputs; echo "slow tiers ($(SLOW_TIERS)) running beside the rest: outputs/test-slow.log"
	@status=0; $(BIN)/python -m pytest -p no:cacheprovider -m "$(SLOW_TIERS)" \
	  --basetemp="$${TMPDIR:-/tmp}/sreworkbook-slow-tiers" $(PYTEST_ARGS) \
	  > outputs/test-slow.log 2>&1 || status=$$?; [ $$status = 5 ] && status=0; \
	echo "== slow tiers ($(SLOW_TIERS)), exit $$status; the end of outputs/test-slow.log:"; \
	tail -n 80 outputs/test-slow.log; exit $$status

lab: lab-env system-packages ferretdb mongo-tools
	$(BIN)/jupyter lab --notebook-dir=notebooks \
	  --ServerApp.contents_manager_class=sreworkbook.labserver.WorkbookContentsManager

# How many packages and MiB each install profile brings (base, lab, sandbox, bench, test).
install-sizes: python-env
	$(BIN)/python bench/bench_install.py

bench: setup
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .tools .sandbox .pytest_cache .mypy_cache .ruff_cache
