# One entry point for developers, CI and newcomers. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# Every dependency is installed from requirements-dev.lock: exact versions with their hashes
# (pip --require-hashes); the project itself then without dependencies. `make lock` renews it.
$(STAMP): pyproject.toml requirements-dev.lock
	@command -v $(PYTHON) >/dev/null || { echo "python3 (>=3.11) is required"; exit 1; }
	@bash stack/check_disk.sh 3 "installing the project's Python packages (about 1.2 GB)"
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --require-hashes -r requirements-dev.lock
	$(PY) -m pip install -q --no-deps -e .
	@touch $(STAMP)

setup: $(STAMP) ## create .venv and install the project with its dev tools

up: setup ## start local PostgreSQL and Cassandra (idempotent)
	@bash stack/postgres.sh up
	@bash stack/cassandra.sh up

down: ## stop the local stack (no process left behind)
	@bash stack/cassandra.sh down
	@bash stack/postgres.sh down

status: ## say what runs where
	@bash stack/postgres.sh status || true
	@bash stack/cassandra.sh status || true

env: ## print export lines for the local stack's connection settings
	@test -f .stack/env || { echo "no local stack yet: run 'make up'" >&2; exit 1; }
	@grep '^export ' .stack/env

# The lock files: pyproject.toml's ranges resolved to exact versions with hashes, by uv (from PyPI,
# in a throw-away venv). Versions already locked are kept; `make lock UPGRADE=1` takes the newest.
UV_VERSION ?= 0.13.9
lock: ## renew requirements.lock (the image) and requirements-dev.lock (CI, make setup), with hashes
	@tmp=$$(mktemp -d) && $(PYTHON) -m venv $$tmp && $$tmp/bin/pip install -q uv==$(UV_VERSION) && \
	for target in "requirements.lock:" "requirements-dev.lock:--extra dev --extra ml"; do \
	  $$tmp/bin/uv -q pip compile pyproject.toml $${target#*:} --generate-hashes --no-header --no-annotate \
	    --python-version 3.11.7 --python-platform x86_64-manylinux_2_28 $(if $(UPGRADE),--upgrade) \
	    -o $${target%%:*} || exit 1; \
	done; rm -rf $$tmp

.PHONY: help setup up down status env lock

# ---------------------------------------------------------------------------
# The two commands of the README
# ---------------------------------------------------------------------------
DEMO_SCALE ?= 0.05
DOCS_PORT ?= 8080
DEMO_SEED ?= 42
# the history ends two days ago, so the demo's tables are fresh (within the freshness warning)
# and `datagen --continue` appends days that have passed; deterministic per seed and end
DEMO_END ?= $(shell date -u -d '2 days ago' +%Y-%m-%dT23:59:59Z)

demo: up ## THE MAIN COMMAND: stack up, demo data, load, dbt build, docs, publish, print the analyses
	$(VENV)/bin/datagen --scale $(DEMO_SCALE) --seed $(DEMO_SEED) --end $(DEMO_END) --reset
	$(VENV)/bin/loaders run
	@echo "status page: $${PUBLISHED_DIR:-warehouse/published}/monitoring/status.html (browse it: make docs, then http://127.0.0.1:$(DOCS_PORT)/status.html; terminal: .venv/bin/loaders status)"

# The Kubernetes validators are Go builds (minutes on a cold machine): they build in the
# background while the stack starts and the tests run; tests/k8s and validate.sh wait for them.
test: setup ## THE TEST COMMAND: stack up, lint, every test against the real servers, k8s validation
	@bash stack/check_disk.sh 4 "make test (the stack, the test warehouses, the k8s tools)"
	@mkdir -p .stack
	@bash k8s/validate.sh --tools > .stack/k8s-tools.log 2>&1 & tools=$$!; \
	status=0; \
	$(MAKE) --no-print-directory up lint || status=$$?; \
	if [ $$status -eq 0 ]; then $(VENV)/bin/pytest || status=$$?; fi; \
	wait $$tools || { echo "k8s tools install failed (.stack/k8s-tools.log):"; tail -n 20 .stack/k8s-tools.log; status=1; }; \
	if [ $$status -eq 0 ]; then bash k8s/validate.sh || status=$$?; fi; \
	exit $$status

k8s: setup ## validate the Helm chart and the Dockerfile offline (helm, kubeconform, kube-score, checkov, hadolint)
	bash k8s/validate.sh

# Python: ruff (lint, then the formatter's check: `make format` applies it) and mypy (strict, on
# loaders/ and datagen/; pyproject.toml). SQL: sqlfluff on the dbt models (duckdb dialect, dbt templater).
lint: setup ## ruff and mypy on the Python, sqlfluff on the dbt models
	$(VENV)/bin/ruff check
	$(VENV)/bin/ruff format --check
	$(VENV)/bin/mypy
	DBT_SEND_ANONYMOUS_USAGE_STATS=false $(VENV)/bin/sqlfluff lint models

format: setup ## apply ruff's formatter and its safe fixes to the Python
	$(VENV)/bin/ruff format
	$(VENV)/bin/ruff check --fix

.PHONY: demo test lint format k8s

docs: ## serve the published dbt docs, /status.html and /metrics on http://127.0.0.1:8080 (DOCS_PORT=…; read-only)
	@test -e $${PUBLISHED_DIR:-warehouse/published}/docs/index.html || { echo "no published docs yet: run 'make demo'" >&2; exit 1; }
	$(VENV)/bin/loaders serve --port $(DOCS_PORT)

.PHONY: docs
