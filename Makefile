# Two set-up commands from a fresh clone: `make demo` and `make test`. Each creates .venv
# (Python 3.11, pinned by requirements.lock) on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Infrastructure linters (checkov, kubernetes-validate, hadolint, yamllint, actionlint) in their own
# venv: checkov's pins clash with requirements.lock. tests/infrastructure finds them here.
TOOLS := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help install tools browser test test-fast test-infra lint demo dashboard bench faults soak handbook-data stack-up stack-down clean lock lock-hashes lock-tools

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

# Every dependency, the build backend included, is checked against the lock's sha256 hashes; the
# project itself is then installed editable with no dependencies and no isolated build (whose
# setuptools would come unhashed from the index).
$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

install: $(STAMP)  ## create .venv and install pinned dependencies

$(TOOLS_STAMP): requirements-tools.lock
	@test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --upgrade "pip>=24"
	$(TOOLS)/bin/python -m pip install --quiet -r requirements-tools.lock
	@touch $@

tools: $(TOOLS_STAMP)  ## create .venv-tools with the pinned infrastructure linters

# The dashboard's browser test drives Debian's Chromium (tests/fraudstream/live/test_browser.py);
# it skips, saying so, where there is none. Needs root (CI) or sudo.
browser:  ## install Debian's chromium for the browser test, unless it is there already
	@if command -v chromium >/dev/null 2>&1; then echo "chromium: $$(command -v chromium)"; \
	else SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; fi

# Two workers (pytest-xdist): the suite waits on servers, processes and Spark's batches as much
# as it computes, so two at once on two cores took 1,267 s where one took ~1,770 s.
TEST_WORKERS ?= 2
test: $(STAMP) $(TOOLS_STAMP) lint  ## lint, then every test tier (infra checks included) with line coverage
	$(PY) -m pytest -n $(TEST_WORKERS) --cov --cov-report=term --cov-report=xml

test-fast: $(STAMP)  ## unit tests only
	$(PY) -m pytest -m "not integration and not e2e and not slow and not infra"

test-infra: $(STAMP) $(TOOLS_STAMP)  ## only the infrastructure checks (terraform, checkov, manifests, images, workflows)
	$(PY) -m pytest -m infra

lint: $(STAMP)  ## ruff, mypy and the layer contracts (pyproject's [tool.importlinter])
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

demo: $(STAMP)  ## the main job on the embedded local stack (DEMO_ARGS="--drift fraud_x5": watch drift)
	$(VENV)/bin/fraudstream demo $(DEMO_ARGS)

dashboard: $(STAMP)  ## the live web dashboard of a running processor (http://127.0.0.1:8765/)
	$(VENV)/bin/fraudstream dashboard

bench: $(STAMP)  ## benchmarks; results in benchmarks/results/ and docs/benchmarks.md
	$(PY) -m benchmarks.run

faults: $(STAMP)  ## fault-tolerance suite (kill -9, model down, throttling, malformed flood, duplicates); docs/reliability.md
	$(PY) -m benchmarks.faults $(FAULTS_ARGS)

soak: $(STAMP)  ## an hour at 1,000/s: memory, state, files and latency per 5 minutes (benchmarks/results/soak.json)
	$(PY) -m benchmarks.soak $(SOAK_ARGS)

# The handbook dataset the `data` tests read (tests/conftest.py), built from the handbook's public
# repository at a pinned commit; needs network access to GitHub.
HANDBOOK_DATA ?= $(or $(FRAUD_HANDBOOK_PARQUET),../shared/datasets/fraud-handbook/transactions_2018-04_2018-07.parquet)
handbook-data: $(STAMP)  ## download and build the handbook dataset (scripts/handbook_dataset.py)
	@if [ -f "$(HANDBOOK_DATA)" ]; then echo "present: $(HANDBOOK_DATA)"; \
	else $(PY) scripts/handbook_dataset.py --out "$(HANDBOOK_DATA)"; fi

stack-up: $(STAMP)  ## start the local AWS stack
	$(VENV)/bin/fraudstream stack up

stack-down: $(STAMP)  ## stop the local AWS stack
	$(VENV)/bin/fraudstream stack down

lock:  ## re-pin requirements.lock from a fresh resolve, then hash it (needs network to PyPI)
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet --upgrade "pip>=24" "setuptools>=69" wheel
	.venv-lock/bin/pip install --quiet -e '.[dev]'
	.venv-lock/bin/pip freeze --all --exclude-editable | grep -v -e '^-e ' -e '^pip==' > requirements.lock
	rm -rf .venv-lock
	$(MAKE) lock-hashes

# After adding or changing a `name==version` pin by hand (or merging branches that did), this
# writes the sha256 of every file pip may install for each pin: this machine, Linux x86_64 and
# aarch64, macOS arm64; CPython 3.11 and 3.12 (tools/hash_lock.py).
lock-hashes:  ## (re)write the sha256 hashes of every pin in requirements.lock (needs network to PyPI)
	rm -rf .venv-hash && $(PYTHON) -m venv .venv-hash
	.venv-hash/bin/pip install --quiet --upgrade "pip>=24"
	.venv-hash/bin/python -m tools.hash_lock requirements.lock
	rm -rf .venv-hash

lock-tools:  ## re-pin requirements-tools.lock from requirements-tools.in (needs network to PyPI)
	rm -rf .venv-lock-tools && $(PYTHON) -m venv .venv-lock-tools
	.venv-lock-tools/bin/pip install --quiet -r requirements-tools.in
	( echo "# Pinned by 'make lock-tools' from requirements-tools.in; installed into .venv-tools."; \
	  .venv-lock-tools/bin/pip freeze ) > requirements-tools.lock
	rm -rf .venv-lock-tools

clean:  ## remove caches and local state (keeps .venv)
	rm -rf .fraudstream .pytest_cache .mypy_cache .ruff_cache htmlcov .coverage .coverage.* coverage.xml spark-warehouse
