# prefopt: `make demo` and `make test` work on a fresh machine (they create .venv first).
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
# The stamp is keyed on the requirement files: edit a pin and the next make re-installs.
REQS := requirements/torch.txt requirements/train.txt requirements/dev.txt pyproject.toml
STAMP := $(VENV)/.stamp-$(shell cat $(REQS) 2>/dev/null | sha256sum | cut -c1-12)
# Nothing is fetched from a model or dataset hub: tests and the demo build tiny models offline.
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export TRL_EXPERIMENTAL_SILENCE := 1
SEED ?= 0

SEEDS ?= 0 1 2

.PHONY: help setup setup-gpu demo mini-table test test-slow lint clean

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_%.-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s $$'\t'

setup: $(STAMP) ## create .venv with the pinned versions (idempotent)

$(STAMP): $(REQS)
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements/torch.txt
	$(PY) -m pip install -q -r requirements/train.txt -r requirements/dev.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	rm -f $(VENV)/.stamp-*
	touch $@

setup-gpu: setup ## add the GPU-only extras (deepspeed, flash-attn, vllm) on a CUDA machine
	$(PY) -m pip install -r requirements/gpu.txt

demo: setup ## the whole pipeline on the embedded task: tiny model -> SFT -> on-policy pairs -> DPO/SimPO -> eval
	$(PY) scripts/demo.py --seed $(SEED)

mini-table: setup ## every method from the same tiny SFT model, seeds $(SEEDS) -> results/reproduced/mini/ (~30 min)
	$(PY) scripts/mini_table.py --seeds $(SEEDS)

test: setup ## the test suite (CPU, offline; under 20 minutes on 2 cores)
	$(PY) -m pytest -q

test-slow: setup ## slower end-to-end checks excluded from `make test`
	$(PY) -m pytest -q -m slow

lint: setup
	$(VENV)/bin/ruff check prefopt scripts tests bench

clean: ## remove run outputs and caches (keeps .venv)
	rm -rf outputs .cache

# ---- paper tables: the cell registry results/cells.yaml (README: "Reproducing a table") ----
.PHONY: list verify gen-make

list: setup ## every paper-table cell with its status (training config, eval entry points, reproduced)
	@$(PY) -m prefopt.cells list

verify: setup ## results/reproduced vs results/reported -> results/report.md + .png; exit 1 if a number is off
	@$(PY) -m prefopt.verify $(VERIFY_ARGS)

gen-make: setup ## regenerate make/cells.mk from results/cells.yaml (commit it with the registry)
	$(PY) scripts/gen_make.py

# `make <cell>` and `make eval-<cell>` for every cell, generated from the registry.
include make/cells.mk
