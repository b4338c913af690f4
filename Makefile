# `make run` and `make test` do all the set-up on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint bench-queue clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[embedded,ml,test,bench]'
	touch $(STAMP)

# The tiers (CONTRIBUTING.md): `make test-fast` while editing; `make test` (lint, then every test) before
# a commit, and in CI.
FAST := -m "not (worker or ml or browser or external or slow)" --ignore=tests/ml --ignore=tests/browser

run: $(STAMP)
	$(PY) -m config.embedded run

test: lint
	$(PY) -m config.embedded test

test-fast: $(STAMP)
	$(PY) -m config.embedded test $(FAST)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench-queue: $(STAMP)
	$(PY) -m config.embedded exec $(PY) bench/queue.py

clean:
	rm -rf $(VENV) .data artifacts static_root
