# `make run` and `make test` do all the set-up on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench-queue clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[embedded,ml,test,bench]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m config.embedded run

test: $(STAMP)
	$(PY) -m config.embedded test

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench-queue: $(STAMP)
	$(PY) -m config.embedded exec $(PY) bench/queue.py

clean:
	rm -rf $(VENV) .data artifacts static_root
