# Two set-up commands from a fresh clone: `make demo` and `make test`. Each creates .venv
# (Python 3.11, pinned by requirements.lock) on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help install test test-fast lint demo bench faults stack-up stack-down clean lock

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	@touch $@

install: $(STAMP)  ## create .venv and install pinned dependencies

test: $(STAMP) lint  ## lint, then every test tier with line coverage
	$(PY) -m pytest --cov --cov-report=term --cov-report=xml

test-fast: $(STAMP)  ## unit tests only
	$(PY) -m pytest -m "not integration and not e2e and not slow and not infra"

lint: $(STAMP)  ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

demo: $(STAMP)  ## the main job on the embedded local stack
	$(VENV)/bin/fraudstream demo

bench: $(STAMP)  ## benchmarks; results in benchmarks/results/ and docs/benchmarks.md
	$(PY) -m benchmarks.run

stack-up: $(STAMP)  ## start the local AWS stack
	$(VENV)/bin/fraudstream stack up

stack-down: $(STAMP)  ## stop the local AWS stack
	$(VENV)/bin/fraudstream stack down

lock:  ## re-pin requirements.lock from a fresh resolve (needs network to PyPI)
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet -e '.[dev]'
	.venv-lock/bin/pip freeze --exclude-editable | grep -v '^-e ' > requirements.lock
	rm -rf .venv-lock

clean:  ## remove caches and local state (keeps .venv)
	rm -rf .fraudstream .pytest_cache .mypy_cache .ruff_cache htmlcov .coverage .coverage.* coverage.xml spark-warehouse
