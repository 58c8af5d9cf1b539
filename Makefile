# The two commands of the README: `make demo` and `make test`. Both install what they need first
# (scripts/setup.sh skips whatever is already in place), so both work on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export DAGSTER_HOME := $(CURDIR)
export DAYSTOSELL_DAGSTER_STORAGE := $(CURDIR)/.state/dagster
export SPARK_LOCAL_IP ?= 127.0.0.1
export PYSPARK_PYTHON := $(CURDIR)/.venv/bin/python
PY := .venv/bin/python

.PHONY: help setup demo test lint ui stop

help:
	@echo "make demo   install everything, run the whole system on embedded defaults, print predictions"
	@echo "make test   install everything, lint and type-check, run every test"
	@echo "make lint   ruff and mypy"
	@echo "make ui     the Dagster UI on http://127.0.0.1:3000 (with the local registry the release pushes to)"
	@echo "make stop   stop what the demo and the UI left serving: local environments and registry"

setup:
	@bash scripts/setup.sh

demo: setup
	@$(PY) scripts/demo.py

test: lint
	@$(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	@.venv/bin/ruff check . && .venv/bin/mypy daystosell_assets daystosell_service scripts benchmarks

ui: setup
	@$(PY) scripts/registry.py ensure
	@.venv/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

stop:
	@$(PY) -m daystosell_assets.release.local_rollout stop
	@$(PY) scripts/registry.py stop || true
