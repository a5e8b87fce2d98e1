# One entry point for developers, CI and newcomers. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "python3 (>=3.11) is required"; exit 1; }
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev,ml]"
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

.PHONY: help setup up down status env

# ---------------------------------------------------------------------------
# The two commands of the README
# ---------------------------------------------------------------------------
DEMO_SCALE ?= 0.05
DEMO_SEED ?= 42

demo: up ## THE MAIN COMMAND: stack up, demo data, load, dbt build, docs, publish, print the analyses
	$(VENV)/bin/loaders generate --scale $(DEMO_SCALE) --seed $(DEMO_SEED) --reset
	$(VENV)/bin/loaders run

test: up lint ## THE TEST COMMAND: stack up, lint, k8s validation, every test against the real servers
	bash k8s/validate.sh
	$(VENV)/bin/pytest

lint: setup ## sqlfluff on the dbt models (duckdb dialect, dbt templater)
	DBT_SEND_ANONYMOUS_USAGE_STATS=false $(VENV)/bin/sqlfluff lint models

.PHONY: demo test lint

DOCS_PORT ?= 8080
docs: ## serve the last published dbt docs on http://127.0.0.1:$(DOCS_PORT) (read-only static site)
	@test -e warehouse/published/docs/index.html || { echo "no published docs yet: run 'make demo'" >&2; exit 1; }
	$(PY) -m http.server --bind 127.0.0.1 --directory warehouse/published/docs $(DOCS_PORT)

.PHONY: docs
