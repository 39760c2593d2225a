# GENERATED from results/cells.yaml and results/reported/*.csv by scripts/gen_make.py: do not edit.
# Regenerate with `make gen-make` (tests/test_cells.py fails when this file is stale).
#
#   make <cell> [ARGS='--key=value ...'] [ACCELERATE_CONFIG=...] [LAUNCH_ARGS='--num_processes 4']
#       train the cell with accelerate launch (its config and accelerate config from results/cells.yaml)
#   make eval-<cell> [MODEL=<hub id or path>] [JUDGE=...]
#       run every benchmark the papers report for the cell, on its trained model (outputs/...) or on MODEL,
#       e.g. the authors' released checkpoint, with the cell's template and decoding settings; results go to
#       results/reproduced/<cell>/ (or results/reproduced/<MODEL with / as -->/), then `make verify` compares.
#   make onpolicy-<setting> [DECODE_ARGS=...] [ANNOTATE_ARGS=...] [BINARIZE_ARGS=...]
#       the setting's on-policy preference data (results/cells.yaml onpolicy:): decode -> post_process ->
#       annotate -> binarize into outputs/onpolicy/<setting>/dataset, a `dataset:` for the setting's configs
#   make rehearse-<cell> [REHEARSE_ARGS=...]
#       the cell's own rule on 2 CPU processes with its hub models swapped for offline miniatures and its hub
#       datasets for rehearsal copies, only the run shrunk; then kill + resume and its eval targets
#       (prefopt/toy/rehearse; `make rehearse` runs one cell per distinct path)
#   make list       every cell with its status

ACCELERATE ?= $(VENV)/bin/accelerate
# $(call launch,<accelerate config>): the accelerate command line, ACCELERATE_CONFIG and LAUNCH_ARGS applied.
launch = $(strip $(ACCELERATE) launch --config_file $(or $(ACCELERATE_CONFIG),$(1)) $(LAUNCH_ARGS))
# $(call cell_model,<default>) / $(call cell_out,<cell>): what eval-<cell> evaluates and where it writes
# (RESULTS_DIR: another folder than results/reproduced, e.g. a rehearsal's).
RESULTS_DIR ?= results/reproduced
cell_model = $(or $(MODEL),$(1))
cell_out = $(RESULTS_DIR)/$(if $(MODEL),$(subst /,--,$(MODEL)),$(1))
# Where `make onpolicy-<setting>` works (a rehearsal moves it under its own folder).
ONPOLICY_DIR ?= outputs/onpolicy

CELLS := mistral-base-sft mistral-base-rrhf mistral-base-slic-hf mistral-base-dpo mistral-base-ipo mistral-base-cpo \
  mistral-base-kto mistral-base-orpo mistral-base-r-dpo mistral-base-simpo mistral-base-lmpo mistral-base-amapo \
  mistral-instruct-sft mistral-instruct-rrhf mistral-instruct-slic-hf mistral-instruct-dpo mistral-instruct-ipo \
  mistral-instruct-cpo mistral-instruct-kto mistral-instruct-orpo mistral-instruct-r-dpo mistral-instruct-simpo \
  mistral-instruct-lmpo mistral-instruct-amapo mistral-instruct-dpo-random-half mistral-instruct-dpo-sams \
  llama3-base-sft llama3-base-rrhf llama3-base-slic-hf llama3-base-dpo llama3-base-ipo llama3-base-cpo \
  llama3-base-kto llama3-base-orpo llama3-base-r-dpo llama3-base-simpo llama3-base-lmpo llama3-base-amapo \
  llama3-base-amapo-no-znorm llama3-base-amapo-no-exp-scaling llama3-base-amapo-no-znorm-no-exp-scaling \
  llama3-base-amapo-no-zero-margin-correct llama3-instruct-sft llama3-instruct-rrhf llama3-instruct-slic-hf \
  llama3-instruct-dpo llama3-instruct-ipo llama3-instruct-cpo llama3-instruct-kto llama3-instruct-orpo \
  llama3-instruct-r-dpo llama3-instruct-simpo llama3-instruct-lmpo llama3-instruct-amapo \
  llama3-instruct-dpo-random-half llama3-instruct-dpo-sams llama3-instruct-selective-dpo \
  llama3-instruct-selective-dpo-sams llama3-instruct-v0.2-sft llama3-instruct-v0.2-rrhf \
  llama3-instruct-v0.2-slic-hf llama3-instruct-v0.2-dpo llama3-instruct-v0.2-ipo llama3-instruct-v0.2-cpo \
  llama3-instruct-v0.2-kto llama3-instruct-v0.2-orpo llama3-instruct-v0.2-r-dpo llama3-instruct-v0.2-simpo \
  llama3-instruct-v0.2-dpo-random-half llama3-instruct-v0.2-dpo-sams gemma2-it-sft gemma2-it-dpo gemma2-it-simpo \
  gemma2-it-ipo gemma2-it-cpo gemma2-it-kto gemma2-it-orpo gemma2-it-r-dpo gemma2-it-dpo-random-half \
  gemma2-it-dpo-sams pythia-2.8b-hh-dpo pythia-2.8b-hh-dpo-sams pythia-2.8b-hh-kto pythia-2.8b-hh-kto-sams \
  pythia-2.8b-hh-dpo-sams-select25 pythia-2.8b-hh-dpo-sams-select75 pythia-2.8b-hh-dpo-sams-select100 \
  pythia-2.8b-hh-dpo-sams-no-explore pythia-2.8b-shp-dpo pythia-2.8b-shp-dpo-sams pythia-2.8b-shp-kto \
  pythia-2.8b-shp-kto-sams hh-base-rm hh-apo-rm hh-base-rjs hh-apo-rjs

.PHONY: require-accelerate $(CELLS) $(addprefix eval-,$(CELLS))

require-accelerate:
	@command -v $(ACCELERATE) >/dev/null || { echo "$(ACCELERATE) not found: run make setup-gpu (or set ACCELERATE=...)" >&2; exit 1; }

# mistral-base-sft: Mistral-7B Base (zephyr-7b-sft-full) on HuggingFaceH4/ultrafeedback_binarized x sft; tables: simpo/readme-v0.1 simpo/table4; released: alignment-handbook/zephyr-7b-sft-full
mistral-base-sft: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_sft.py training_configs/mistral-base/sft.yaml $(ARGS)
eval-mistral-base-sft:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/mistral-base/sft) CELL=mistral-base-sft OUT=$(call cell_out,mistral-base-sft) TEMPLATE=mistral_base GENERATION='do_sample=true temperature=0.7 top_p=1.0 max_new_tokens=2048'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/mistral-base/sft) CELL=mistral-base-sft OUT=$(call cell_out,mistral-base-sft) TEMPLATE=mistral_base GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=2'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/mistral-base/sft) CELL=mistral-base-sft OUT=$(call cell_out,mistral-base-sft) TEMPLATE=mistral_base GENERATION=fastchat-default

# mistral-base-rrhf: Mistral-7B Base (zephyr-7b-sft-full) on HuggingFaceH4/ultrafeedback_binarized x rrhf; tables: simpo/readme-v0.1 simpo/table4; released: princeton-nlp/Mistral-7B-Base-SFT-RRHF
mistral-base-rrhf: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/mistral-base/rrhf.yaml $(ARGS)
eval-mistral-base-rrhf:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/mistral-base/rrhf) CELL=mistral-base-rrhf OUT=$(call cell_out,mistral-base-rrhf) TEMPLATE=mistral_base GENERATION='do_sample=true temperature=0.7 top_p=1.0 max_new_tokens=2048'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/mistral-base/rrhf) CELL=mistral-base-rrhf OUT=$(call cell_out,mistral-base-rrhf) TEMPLATE=mistral_base GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=2'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/mistral-base/rrhf) CELL=mistral-base-rrhf OUT=$(call cell_out,mistral-base-rrhf) TEMPLATE=mistral_base GENERATION=fastchat-default

# mistral-base-slic-hf: Mistral-7B Base (zephyr-7b-sft-full) on HuggingFaceH4/ultrafeedback_binarized x slic-hf; tables: simpo/readme-v0.1 simpo/table4; released: princeton-nlp/Mistral-7B-Base-SFT-SLiC-HF
mistral-base-slic-hf: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/mistral-base/slic.yaml $(ARGS)
eval-mistral-base-slic-hf:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/mistral-base/slic) CELL=mistral-base-slic-hf OUT=$(call cell_out,mistral-base-slic-hf) TEMPLATE=mistral_base GENERATION='do_sample=true temperature=0.7 top_p=1.0 max_new_tokens=2048'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/mistral-base/slic) CELL=mistral-base-slic-hf OUT=$(call cell_out,mistral-base-slic-hf) TEMPLATE=mistral_base GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=2'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/mistral-base/slic) CELL=mistral-base-slic-hf OUT=$(call cell_out,mistral-base-slic-hf) TEMPLATE=mistral_base GENERATION=fastchat-default

# mistral-base-dpo: Mistral-7B Base (zephyr-7b-sft-full) on HuggingFaceH4/ultrafeedback_binarized x dpo; tables: simpo/readme-v0.1 amapo/main amapo/rm-robustness simpo/table4; released: princeton-nlp/Mistral-7B-Base-SFT-DPO
mistral-base-dpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/mistral-base/dpo.yaml $(ARGS)
eval-mistral-base-dpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/mistral-base/dpo) CELL=mistral-base-dpo OUT=$(call cell_out,mistral-base-dpo) TEMPLATE=mistral_base GENERATION='do_sample=true temperature=0.7 top_p=1.0 max_new_tokens=2048'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/mistral-base/dpo) CELL=mistral-base-dpo OUT=$(call cell_out,mistral-base-dpo) TEMPLATE=mistral_base GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=2'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/mistral-base/dpo) CELL=mistral-base-dpo OUT=$(call cell_out,mistral-base-dpo) TEMPLATE=mistral_base GENERATION=fastchat-default
	$(MAKE) --no-print-directory eval-rm-robustness MODEL=$(call cell_model,outputs/mistral-base/dpo) CELL=mistral-base-dpo OUT=$(call cell_out,mistral-base-dpo) TEMPLATE=mistral_base

# mistral-base-ipo: Mistral-7B Base (zephyr-7b-sft-full) on HuggingFaceH4/ultrafeedback_binarized x ipo; tables: simpo/readme-v0.1 simpo/table4; released: princeton-nlp/Mistral-7B-Base-SFT-IPO
mistral-base-ipo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/mistral-base/ipo.yaml $(ARGS)
eval-mistral-base-ipo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/mistral-base/ipo) CELL=mistral-base-ipo OUT=$(call cell_out,mistral-base-ipo) TEMPLATE=mistral_base GENERATION='do_sample=true temperature=0.7 top_p=1.0 max_new_tokens=2048'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/mistral-base/ipo) CELL=mistral-base-ipo OUT=$(call cell_out,mistral-base-ipo) TEMPLATE=mistral_base GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=2'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/mistral-base/ipo) CELL=mistral-base-ipo OUT=$(call cell_out,mistral-base-ipo) TEMPLATE=mistral_base GENERATION=fastchat-default

# mistral-base-cpo: Mistral-7B Base (zephyr-7b-sft-full) on HuggingFaceH4/ultrafeedback_binarized x cpo; tables: simpo/readme-v0.1 simpo/table4; released: princeton-nlp/Mistral-7B-Base-SFT-CPO
mistral-base-cpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/mistral-base/cpo.yaml $(ARGS)
eval-mistral-base-cpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/mistral-base/cpo) CELL=mistral-base-cpo OUT=$(call cell_out,mistral-base-cpo) TEMPLATE=mistral_base GENERATION='do_sample=true temperature=0.7 top_p=1.0 max_new_tokens=2048'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/mistral-base/cpo) CELL=mistral-base-cpo OUT=$(call cell_out,mistral-base-cpo) TEMPLATE=mistral_base GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=2'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/mistral-base/cpo) CELL=mistral-base-cpo OUT=$(call cell_out,mistral-base-cpo) TEMPLATE=mistral_base GENERATION=fastchat-default

# mistral-base-kto: Mistral-7B Base (zephyr-7b-sft-full) on HuggingFaceH4/ultrafeedback_binarized x kto; tables: simpo/readme-v0.1 simpo/table4; released: princeton-nlp/Mistral-7B-Base-SFT-KTO
mistral-base-kto: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/mistral-base/kto.yaml $(ARGS)
eval-mistral-base-kto:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/mistral-base/kto) CELL=mistral-base-kto OUT=$(call cell_out,mistral-base-kto) TEMPLATE=mistral_base GENERATION='do_sample=true temperature=0.7 top_p=1.0 max_new_tokens=2048'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/mistral-base/kto) CELL=mistral-base-kto OUT=$(call cell_out,mistral-base-kto) TEMPLATE=mistral_base GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=2'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/mistral-base/kto) CELL=mistral-base-kto OUT=$(call cell_out,mistral-base-kto) TEMPLATE=mistral_base GENERATION=fastchat-default

# mistral-base-orpo: Mistral-7B Base (zephyr-7b-sft-full) on HuggingFaceH4/ultrafeedback_binarized x orpo; tables: simpo/readme-v0.1 simpo/table4 simpo/alpaca-eval-leaderboard; released: kaist-ai/mistral-orpo-beta
mistral-base-orpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/mistral-base/orpo.yaml $(ARGS)
eval-mistral-base-orpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/mistral-base/orpo) CELL=mistral-base-orpo OUT=$(call cell_out,mistral-base-orpo) TEMPLATE=mistral_base GENERATION='do_sample=true temperature=0.7 top_p=1.0 max_new_tokens=2048'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/mistral-base/orpo) CELL=mistral-base-orpo OUT=$(call cell_out,mistral-base-orpo) TEMPLATE=mistral_base GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=2'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/mistral-base/orpo) CELL=mistral-base-orpo OUT=$(call cell_out,mistral-base-orpo) TEMPLATE=mistral_base GENERATION=fastchat-default

# mistral-base-r-dpo: Mistral-7B Base (zephyr-7b-sft-full) on HuggingFaceH4/ultrafeedback_binarized x r-dpo; tables: simpo/readme-v0.1 simpo/table4; released: princeton-nlp/Mistral-7B-Base-SFT-RDPO
mistral-base-r-dpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/mistral-base/rdpo.yaml $(ARGS)
eval-mistral-base-r-dpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/mistral-base/rdpo) CELL=mistral-base-r-dpo OUT=$(call cell_out,mistral-base-r-dpo) TEMPLATE=mistral_base GENERATION='do_sample=true temperature=0.7 top_p=1.0 max_new_tokens=2048'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/mistral-base/rdpo) CELL=mistral-base-r-dpo OUT=$(call cell_out,mistral-base-r-dpo) TEMPLATE=mistral_base GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=2'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/mistral-base/rdpo) CELL=mistral-base-r-dpo OUT=$(call cell_out,mistral-base-r-dpo) TEMPLATE=mistral_base GENERATION=fastchat-default

# mistral-base-simpo: Mistral-7B Base (zephyr-7b-sft-full) on HuggingFaceH4/ultrafeedback_binarized x simpo; tables: simpo/readme-v0.1 amapo/main amapo/rm-robustness simpo/table4; released: princeton-nlp/Mistral-7B-Base-SFT-SimPO
mistral-base-simpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/mistral-base/simpo.yaml $(ARGS)
eval-mistral-base-simpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/mistral-base/simpo) CELL=mistral-base-simpo OUT=$(call cell_out,mistral-base-simpo) TEMPLATE=mistral_base GENERATION='do_sample=true temperature=0.7 top_p=1.0 max_new_tokens=2048'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/mistral-base/simpo) CELL=mistral-base-simpo OUT=$(call cell_out,mistral-base-simpo) TEMPLATE=mistral_base GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=2'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/mistral-base/simpo) CELL=mistral-base-simpo OUT=$(call cell_out,mistral-base-simpo) TEMPLATE=mistral_base GENERATION=fastchat-default
	$(MAKE) --no-print-directory eval-rm-robustness MODEL=$(call cell_model,outputs/mistral-base/simpo) CELL=mistral-base-simpo OUT=$(call cell_out,mistral-base-simpo) TEMPLATE=mistral_base

# mistral-base-lmpo: Mistral-7B Base (zephyr-7b-sft-full) on HuggingFaceH4/ultrafeedback_binarized x lmpo; tables: lmpo/main
mistral-base-lmpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/mistral-base/lmpo.yaml $(ARGS)
eval-mistral-base-lmpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/mistral-base/lmpo) CELL=mistral-base-lmpo OUT=$(call cell_out,mistral-base-lmpo) TEMPLATE=mistral_base GENERATION='do_sample=true temperature=0.7 top_p=1.0 max_new_tokens=2048'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/mistral-base/lmpo) CELL=mistral-base-lmpo OUT=$(call cell_out,mistral-base-lmpo) TEMPLATE=mistral_base GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=2'

# mistral-base-amapo: Mistral-7B Base (zephyr-7b-sft-full) on HuggingFaceH4/ultrafeedback_binarized x amapo; tables: amapo/main amapo/rm-robustness
mistral-base-amapo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/mistral-base/amapo.yaml $(ARGS)
eval-mistral-base-amapo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/mistral-base/amapo) CELL=mistral-base-amapo OUT=$(call cell_out,mistral-base-amapo) TEMPLATE=mistral_base GENERATION='do_sample=true temperature=0.7 top_p=1.0 max_new_tokens=2048'
	$(MAKE) --no-print-directory eval-rm-robustness MODEL=$(call cell_model,outputs/mistral-base/amapo) CELL=mistral-base-amapo OUT=$(call cell_out,mistral-base-amapo) TEMPLATE=mistral_base

# mistral-instruct-sft: Mistral-7B-Instruct-v0.2 on princeton-nlp/mistral-instruct-ultrafeedback (PairRM) x sft; tables: simpo/readme-v0.1 sams/table1 simpo/table4 simpo/alpaca-eval-leaderboard; released: mistralai/Mistral-7B-Instruct-v0.2
mistral-instruct-sft:
	@echo "mistral-instruct-sft: nothing to train, this table row is mistralai/Mistral-7B-Instruct-v0.2 itself; evaluate it with make eval-mistral-instruct-sft"
eval-mistral-instruct-sft:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,mistralai/Mistral-7B-Instruct-v0.2) CELL=mistral-instruct-sft OUT=$(call cell_out,mistral-instruct-sft) TEMPLATE=mistral_instruct GENERATION='temperature=0.5 max_new_tokens=2048'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,mistralai/Mistral-7B-Instruct-v0.2) CELL=mistral-instruct-sft OUT=$(call cell_out,mistral-instruct-sft) TEMPLATE=mistral_instruct GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=2'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,mistralai/Mistral-7B-Instruct-v0.2) CELL=mistral-instruct-sft OUT=$(call cell_out,mistral-instruct-sft) TEMPLATE=mistral_instruct GENERATION=fastchat-default

# mistral-instruct-rrhf: Mistral-7B-Instruct-v0.2 on princeton-nlp/mistral-instruct-ultrafeedback (PairRM) x rrhf; tables: simpo/readme-v0.1 sams/table1 simpo/table4; released: princeton-nlp/Mistral-7B-Instruct-RRHF
mistral-instruct-rrhf: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/mistral-instruct/rrhf.yaml $(ARGS)
eval-mistral-instruct-rrhf:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/mistral-instruct/rrhf) CELL=mistral-instruct-rrhf OUT=$(call cell_out,mistral-instruct-rrhf) TEMPLATE=mistral_instruct GENERATION='temperature=0.5 max_new_tokens=2048'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/mistral-instruct/rrhf) CELL=mistral-instruct-rrhf OUT=$(call cell_out,mistral-instruct-rrhf) TEMPLATE=mistral_instruct GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=2'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/mistral-instruct/rrhf) CELL=mistral-instruct-rrhf OUT=$(call cell_out,mistral-instruct-rrhf) TEMPLATE=mistral_instruct GENERATION=fastchat-default

# mistral-instruct-slic-hf: Mistral-7B-Instruct-v0.2 on princeton-nlp/mistral-instruct-ultrafeedback (PairRM) x slic-hf; tables: simpo/readme-v0.1 sams/table1 simpo/table4; released: princeton-nlp/Mistral-7B-Instruct-SLiC-HF
mistral-instruct-slic-hf: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/mistral-instruct/slic.yaml $(ARGS)
eval-mistral-instruct-slic-hf:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/mistral-instruct/slic) CELL=mistral-instruct-slic-hf OUT=$(call cell_out,mistral-instruct-slic-hf) TEMPLATE=mistral_instruct GENERATION='temperature=0.5 max_new_tokens=2048'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/mistral-instruct/slic) CELL=mistral-instruct-slic-hf OUT=$(call cell_out,mistral-instruct-slic-hf) TEMPLATE=mistral_instruct GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=2'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/mistral-instruct/slic) CELL=mistral-instruct-slic-hf OUT=$(call cell_out,mistral-instruct-slic-hf) TEMPLATE=mistral_instruct GENERATION=fastchat-default

# mistral-instruct-dpo: Mistral-7B-Instruct-v0.2 on princeton-nlp/mistral-instruct-ultrafeedback (PairRM) x dpo; tables: simpo/readme-v0.1 amapo/rm-robustness amapo/open-llm-leaderboard sams/table1 simpo/table4; released: princeton-nlp/Mistral-7B-Instruct-DPO
mistral-instruct-dpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/mistral-instruct/dpo.yaml $(ARGS)
eval-mistral-instruct-dpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/mistral-instruct/dpo) CELL=mistral-instruct-dpo OUT=$(call cell_out,mistral-instruct-dpo) TEMPLATE=mistral_instruct GENERATION='temperature=0.5 max_new_tokens=2048'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/mistral-instruct/dpo) CELL=mistral-instruct-dpo OUT=$(call cell_out,mistral-instruct-dpo) TEMPLATE=mistral_instruct GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=2'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/mistral-instruct/dpo) CELL=mistral-instruct-dpo OUT=$(call cell_out,mistral-instruct-dpo) TEMPLATE=mistral_instruct GENERATION=fastchat-default
	$(MAKE) --no-print-directory eval-rm-robustness MODEL=$(call cell_model,outputs/mistral-instruct/dpo) CELL=mistral-instruct-dpo OUT=$(call cell_out,mistral-instruct-dpo) TEMPLATE=mistral_instruct
	$(MAKE) --no-print-directory eval-lmeval MODEL=$(call cell_model,outputs/mistral-instruct/dpo) CELL=mistral-instruct-dpo OUT=$(call cell_out,mistral-instruct-dpo) SUITE=leaderboard-v2 TEMPLATE=mistral_instruct

# mistral-instruct-ipo: Mistral-7B-Instruct-v0.2 on princeton-nlp/mistral-instruct-ultrafeedback (PairRM) x ipo; tables: simpo/readme-v0.1 sams/table1 simpo/table4; released: princeton-nlp/Mistral-7B-Instruct-IPO
mistral-instruct-ipo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/mistral-instruct/ipo.yaml $(ARGS)
eval-mistral-instruct-ipo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/mistral-instruct/ipo) CELL=mistral-instruct-ipo OUT=$(call cell_out,mistral-instruct-ipo) TEMPLATE=mistral_instruct GENERATION='temperature=0.5 max_new_tokens=2048'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/mistral-instruct/ipo) CELL=mistral-instruct-ipo OUT=$(call cell_out,mistral-instruct-ipo) TEMPLATE=mistral_instruct GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=2'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/mistral-instruct/ipo) CELL=mistral-instruct-ipo OUT=$(call cell_out,mistral-instruct-ipo) TEMPLATE=mistral_instruct GENERATION=fastchat-default

# mistral-instruct-cpo: Mistral-7B-Instruct-v0.2 on princeton-nlp/mistral-instruct-ultrafeedback (PairRM) x cpo; tables: simpo/readme-v0.1 sams/table1 simpo/table4; released: princeton-nlp/Mistral-7B-Instruct-CPO
mistral-instruct-cpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/mistral-instruct/cpo.yaml $(ARGS)
eval-mistral-instruct-cpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/mistral-instruct/cpo) CELL=mistral-instruct-cpo OUT=$(call cell_out,mistral-instruct-cpo) TEMPLATE=mistral_instruct GENERATION='temperature=0.5 max_new_tokens=2048'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/mistral-instruct/cpo) CELL=mistral-instruct-cpo OUT=$(call cell_out,mistral-instruct-cpo) TEMPLATE=mistral_instruct GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=2'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/mistral-instruct/cpo) CELL=mistral-instruct-cpo OUT=$(call cell_out,mistral-instruct-cpo) TEMPLATE=mistral_instruct GENERATION=fastchat-default

# mistral-instruct-kto: Mistral-7B-Instruct-v0.2 on princeton-nlp/mistral-instruct-ultrafeedback (PairRM) x kto; tables: simpo/readme-v0.1 sams/table1 simpo/table4; released: princeton-nlp/Mistral-7B-Instruct-KTO
mistral-instruct-kto: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/mistral-instruct/kto.yaml $(ARGS)
eval-mistral-instruct-kto:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/mistral-instruct/kto) CELL=mistral-instruct-kto OUT=$(call cell_out,mistral-instruct-kto) TEMPLATE=mistral_instruct GENERATION='temperature=0.5 max_new_tokens=2048'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/mistral-instruct/kto) CELL=mistral-instruct-kto OUT=$(call cell_out,mistral-instruct-kto) TEMPLATE=mistral_instruct GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=2'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/mistral-instruct/kto) CELL=mistral-instruct-kto OUT=$(call cell_out,mistral-instruct-kto) TEMPLATE=mistral_instruct GENERATION=fastchat-default

# mistral-instruct-orpo: Mistral-7B-Instruct-v0.2 on princeton-nlp/mistral-instruct-ultrafeedback (PairRM) x orpo; tables: simpo/readme-v0.1 sams/table1 simpo/table4; released: princeton-nlp/Mistral-7B-Instruct-ORPO
mistral-instruct-orpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/mistral-instruct/orpo.yaml $(ARGS)
eval-mistral-instruct-orpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/mistral-instruct/orpo) CELL=mistral-instruct-orpo OUT=$(call cell_out,mistral-instruct-orpo) TEMPLATE=mistral_instruct GENERATION='temperature=0.5 max_new_tokens=2048'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/mistral-instruct/orpo) CELL=mistral-instruct-orpo OUT=$(call cell_out,mistral-instruct-orpo) TEMPLATE=mistral_instruct GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=2'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/mistral-instruct/orpo) CELL=mistral-instruct-orpo OUT=$(call cell_out,mistral-instruct-orpo) TEMPLATE=mistral_instruct GENERATION=fastchat-default

# mistral-instruct-r-dpo: Mistral-7B-Instruct-v0.2 on princeton-nlp/mistral-instruct-ultrafeedback (PairRM) x r-dpo; tables: simpo/readme-v0.1 sams/table1 simpo/table4; released: princeton-nlp/Mistral-7B-Instruct-RDPO
mistral-instruct-r-dpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/mistral-instruct/rdpo.yaml $(ARGS)
eval-mistral-instruct-r-dpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/mistral-instruct/rdpo) CELL=mistral-instruct-r-dpo OUT=$(call cell_out,mistral-instruct-r-dpo) TEMPLATE=mistral_instruct GENERATION='temperature=0.5 max_new_tokens=2048'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/mistral-instruct/rdpo) CELL=mistral-instruct-r-dpo OUT=$(call cell_out,mistral-instruct-r-dpo) TEMPLATE=mistral_instruct GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=2'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/mistral-instruct/rdpo) CELL=mistral-instruct-r-dpo OUT=$(call cell_out,mistral-instruct-r-dpo) TEMPLATE=mistral_instruct GENERATION=fastchat-default

# mistral-instruct-simpo: Mistral-7B-Instruct-v0.2 on princeton-nlp/mistral-instruct-ultrafeedback (PairRM) x simpo; tables: simpo/readme-v0.1 amapo/rm-robustness amapo/open-llm-leaderboard simpo/table4; released: princeton-nlp/Mistral-7B-Instruct-SimPO
mistral-instruct-simpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/mistral-instruct/simpo.yaml $(ARGS)
eval-mistral-instruct-simpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/mistral-instruct/simpo) CELL=mistral-instruct-simpo OUT=$(call cell_out,mistral-instruct-simpo) TEMPLATE=mistral_instruct GENERATION='temperature=0.5 max_new_tokens=2048'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/mistral-instruct/simpo) CELL=mistral-instruct-simpo OUT=$(call cell_out,mistral-instruct-simpo) TEMPLATE=mistral_instruct GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=2'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/mistral-instruct/simpo) CELL=mistral-instruct-simpo OUT=$(call cell_out,mistral-instruct-simpo) TEMPLATE=mistral_instruct GENERATION=fastchat-default
	$(MAKE) --no-print-directory eval-rm-robustness MODEL=$(call cell_model,outputs/mistral-instruct/simpo) CELL=mistral-instruct-simpo OUT=$(call cell_out,mistral-instruct-simpo) TEMPLATE=mistral_instruct
	$(MAKE) --no-print-directory eval-lmeval MODEL=$(call cell_model,outputs/mistral-instruct/simpo) CELL=mistral-instruct-simpo OUT=$(call cell_out,mistral-instruct-simpo) SUITE=leaderboard-v2 TEMPLATE=mistral_instruct

# mistral-instruct-lmpo: Mistral-7B-Instruct-v0.2 on princeton-nlp/mistral-instruct-ultrafeedback (PairRM) x lmpo; tables: lmpo/main
mistral-instruct-lmpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/mistral-instruct/lmpo.yaml $(ARGS)
eval-mistral-instruct-lmpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/mistral-instruct/lmpo) CELL=mistral-instruct-lmpo OUT=$(call cell_out,mistral-instruct-lmpo) TEMPLATE=mistral_instruct GENERATION='temperature=0.5 max_new_tokens=2048'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/mistral-instruct/lmpo) CELL=mistral-instruct-lmpo OUT=$(call cell_out,mistral-instruct-lmpo) TEMPLATE=mistral_instruct GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=2'

# mistral-instruct-amapo: Mistral-7B-Instruct-v0.2 on princeton-nlp/mistral-instruct-ultrafeedback (PairRM) x amapo; tables: amapo/rm-robustness amapo/open-llm-leaderboard
mistral-instruct-amapo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/mistral-instruct/amapo.yaml $(ARGS)
eval-mistral-instruct-amapo:
	$(MAKE) --no-print-directory eval-rm-robustness MODEL=$(call cell_model,outputs/mistral-instruct/amapo) CELL=mistral-instruct-amapo OUT=$(call cell_out,mistral-instruct-amapo) TEMPLATE=mistral_instruct
	$(MAKE) --no-print-directory eval-lmeval MODEL=$(call cell_model,outputs/mistral-instruct/amapo) CELL=mistral-instruct-amapo OUT=$(call cell_out,mistral-instruct-amapo) SUITE=leaderboard-v2 TEMPLATE=mistral_instruct

# mistral-instruct-dpo-random-half: Mistral-7B-Instruct-v0.2 on princeton-nlp/mistral-instruct-ultrafeedback (PairRM) x dpo-random-half; tables: sams/table1
mistral-instruct-dpo-random-half: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/mistral-instruct/dpo-random-half.yaml $(ARGS)
eval-mistral-instruct-dpo-random-half:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/mistral-instruct/dpo-random-half) CELL=mistral-instruct-dpo-random-half OUT=$(call cell_out,mistral-instruct-dpo-random-half) TEMPLATE=mistral_instruct GENERATION='temperature=0.5 max_new_tokens=2048'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/mistral-instruct/dpo-random-half) CELL=mistral-instruct-dpo-random-half OUT=$(call cell_out,mistral-instruct-dpo-random-half) TEMPLATE=mistral_instruct GENERATION=fastchat-default

# mistral-instruct-dpo-sams: Mistral-7B-Instruct-v0.2 on princeton-nlp/mistral-instruct-ultrafeedback (PairRM) x dpo-sams; tables: sams/table1
mistral-instruct-dpo-sams: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/mistral-instruct/dpo-sams.yaml $(ARGS)
eval-mistral-instruct-dpo-sams:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/mistral-instruct/dpo-sams) CELL=mistral-instruct-dpo-sams OUT=$(call cell_out,mistral-instruct-dpo-sams) TEMPLATE=mistral_instruct GENERATION='temperature=0.5 max_new_tokens=2048'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/mistral-instruct/dpo-sams) CELL=mistral-instruct-dpo-sams OUT=$(call cell_out,mistral-instruct-dpo-sams) TEMPLATE=mistral_instruct GENERATION=fastchat-default

# llama3-base-sft: Llama-3-8B Base (princeton-nlp/Llama-3-Base-8B-SFT) on HuggingFaceH4/ultrafeedback_binarized x sft; tables: simpo/readme-v0.1 simpo/table4; released: princeton-nlp/Llama-3-Base-8B-SFT
llama3-base-sft: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_sft.py training_configs/llama3-base/sft.yaml $(ARGS)
eval-llama3-base-sft:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-base/sft) CELL=llama3-base-sft OUT=$(call cell_out,llama3-base-sft) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/llama3-base/sft) CELL=llama3-base-sft OUT=$(call cell_out,llama3-base-sft) TEMPLATE=llama3 GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-base/sft) CELL=llama3-base-sft OUT=$(call cell_out,llama3-base-sft) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-base-rrhf: Llama-3-8B Base (princeton-nlp/Llama-3-Base-8B-SFT) on HuggingFaceH4/ultrafeedback_binarized x rrhf; tables: simpo/readme-v0.1 simpo/table4; released: princeton-nlp/Llama-3-Base-8B-RRHF
llama3-base-rrhf: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-base/rrhf.yaml $(ARGS)
eval-llama3-base-rrhf:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-base/rrhf) CELL=llama3-base-rrhf OUT=$(call cell_out,llama3-base-rrhf) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/llama3-base/rrhf) CELL=llama3-base-rrhf OUT=$(call cell_out,llama3-base-rrhf) TEMPLATE=llama3 GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-base/rrhf) CELL=llama3-base-rrhf OUT=$(call cell_out,llama3-base-rrhf) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-base-slic-hf: Llama-3-8B Base (princeton-nlp/Llama-3-Base-8B-SFT) on HuggingFaceH4/ultrafeedback_binarized x slic-hf; tables: simpo/readme-v0.1 simpo/table4; released: princeton-nlp/Llama-3-Base-8B-SLiC-HF
llama3-base-slic-hf: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-base/slic.yaml $(ARGS)
eval-llama3-base-slic-hf:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-base/slic) CELL=llama3-base-slic-hf OUT=$(call cell_out,llama3-base-slic-hf) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/llama3-base/slic) CELL=llama3-base-slic-hf OUT=$(call cell_out,llama3-base-slic-hf) TEMPLATE=llama3 GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-base/slic) CELL=llama3-base-slic-hf OUT=$(call cell_out,llama3-base-slic-hf) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-base-dpo: Llama-3-8B Base (princeton-nlp/Llama-3-Base-8B-SFT) on HuggingFaceH4/ultrafeedback_binarized x dpo; tables: simpo/readme-v0.1 amapo/main amapo/rm-bench simpo/table4; released: princeton-nlp/Llama-3-Base-8B-SFT-DPO
llama3-base-dpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-base/dpo.yaml $(ARGS)
eval-llama3-base-dpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-base/dpo) CELL=llama3-base-dpo OUT=$(call cell_out,llama3-base-dpo) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/llama3-base/dpo) CELL=llama3-base-dpo OUT=$(call cell_out,llama3-base-dpo) TEMPLATE=llama3 GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-base/dpo) CELL=llama3-base-dpo OUT=$(call cell_out,llama3-base-dpo) TEMPLATE=llama3 GENERATION=fastchat-default
	$(MAKE) --no-print-directory eval-rmbench MODEL=$(call cell_model,outputs/llama3-base/dpo) CELL=llama3-base-dpo OUT=$(call cell_out,llama3-base-dpo) TEMPLATE=llama3

# llama3-base-ipo: Llama-3-8B Base (princeton-nlp/Llama-3-Base-8B-SFT) on HuggingFaceH4/ultrafeedback_binarized x ipo; tables: simpo/readme-v0.1 simpo/table4; released: princeton-nlp/Llama-3-Base-8B-SFT-IPO
llama3-base-ipo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-base/ipo.yaml $(ARGS)
eval-llama3-base-ipo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-base/ipo) CELL=llama3-base-ipo OUT=$(call cell_out,llama3-base-ipo) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/llama3-base/ipo) CELL=llama3-base-ipo OUT=$(call cell_out,llama3-base-ipo) TEMPLATE=llama3 GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-base/ipo) CELL=llama3-base-ipo OUT=$(call cell_out,llama3-base-ipo) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-base-cpo: Llama-3-8B Base (princeton-nlp/Llama-3-Base-8B-SFT) on HuggingFaceH4/ultrafeedback_binarized x cpo; tables: simpo/readme-v0.1 simpo/table4; released: princeton-nlp/Llama-3-Base-8B-SFT-CPO
llama3-base-cpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-base/cpo.yaml $(ARGS)
eval-llama3-base-cpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-base/cpo) CELL=llama3-base-cpo OUT=$(call cell_out,llama3-base-cpo) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/llama3-base/cpo) CELL=llama3-base-cpo OUT=$(call cell_out,llama3-base-cpo) TEMPLATE=llama3 GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-base/cpo) CELL=llama3-base-cpo OUT=$(call cell_out,llama3-base-cpo) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-base-kto: Llama-3-8B Base (princeton-nlp/Llama-3-Base-8B-SFT) on HuggingFaceH4/ultrafeedback_binarized x kto; tables: simpo/readme-v0.1 simpo/table4; released: princeton-nlp/Llama-3-Base-8B-SFT-KTO
llama3-base-kto: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-base/kto.yaml $(ARGS)
eval-llama3-base-kto:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-base/kto) CELL=llama3-base-kto OUT=$(call cell_out,llama3-base-kto) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/llama3-base/kto) CELL=llama3-base-kto OUT=$(call cell_out,llama3-base-kto) TEMPLATE=llama3 GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-base/kto) CELL=llama3-base-kto OUT=$(call cell_out,llama3-base-kto) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-base-orpo: Llama-3-8B Base (princeton-nlp/Llama-3-Base-8B-SFT) on HuggingFaceH4/ultrafeedback_binarized x orpo; tables: simpo/readme-v0.1 simpo/table4; released: princeton-nlp/Llama-3-Base-8B-SFT-ORPO
llama3-base-orpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-base/orpo.yaml $(ARGS)
eval-llama3-base-orpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-base/orpo) CELL=llama3-base-orpo OUT=$(call cell_out,llama3-base-orpo) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/llama3-base/orpo) CELL=llama3-base-orpo OUT=$(call cell_out,llama3-base-orpo) TEMPLATE=llama3 GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-base/orpo) CELL=llama3-base-orpo OUT=$(call cell_out,llama3-base-orpo) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-base-r-dpo: Llama-3-8B Base (princeton-nlp/Llama-3-Base-8B-SFT) on HuggingFaceH4/ultrafeedback_binarized x r-dpo; tables: simpo/readme-v0.1 simpo/table4; released: princeton-nlp/Llama-3-Base-8B-SFT-RDPO
llama3-base-r-dpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-base/rdpo.yaml $(ARGS)
eval-llama3-base-r-dpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-base/rdpo) CELL=llama3-base-r-dpo OUT=$(call cell_out,llama3-base-r-dpo) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/llama3-base/rdpo) CELL=llama3-base-r-dpo OUT=$(call cell_out,llama3-base-r-dpo) TEMPLATE=llama3 GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-base/rdpo) CELL=llama3-base-r-dpo OUT=$(call cell_out,llama3-base-r-dpo) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-base-simpo: Llama-3-8B Base (princeton-nlp/Llama-3-Base-8B-SFT) on HuggingFaceH4/ultrafeedback_binarized x simpo; tables: simpo/readme-v0.1 amapo/main amapo/rm-bench simpo/table4; released: princeton-nlp/Llama-3-Base-8B-SFT-SimPO
llama3-base-simpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-base/simpo.yaml $(ARGS)
eval-llama3-base-simpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-base/simpo) CELL=llama3-base-simpo OUT=$(call cell_out,llama3-base-simpo) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/llama3-base/simpo) CELL=llama3-base-simpo OUT=$(call cell_out,llama3-base-simpo) TEMPLATE=llama3 GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-base/simpo) CELL=llama3-base-simpo OUT=$(call cell_out,llama3-base-simpo) TEMPLATE=llama3 GENERATION=fastchat-default
	$(MAKE) --no-print-directory eval-rmbench MODEL=$(call cell_model,outputs/llama3-base/simpo) CELL=llama3-base-simpo OUT=$(call cell_out,llama3-base-simpo) TEMPLATE=llama3

# llama3-base-lmpo: Llama-3-8B Base (princeton-nlp/Llama-3-Base-8B-SFT) on HuggingFaceH4/ultrafeedback_binarized x lmpo; tables: lmpo/main
llama3-base-lmpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-base/lmpo.yaml $(ARGS)
eval-llama3-base-lmpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-base/lmpo) CELL=llama3-base-lmpo OUT=$(call cell_out,llama3-base-lmpo) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/llama3-base/lmpo) CELL=llama3-base-lmpo OUT=$(call cell_out,llama3-base-lmpo) TEMPLATE=llama3 GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009'

# llama3-base-amapo: Llama-3-8B Base (princeton-nlp/Llama-3-Base-8B-SFT) on HuggingFaceH4/ultrafeedback_binarized x amapo; tables: amapo/main amapo/ablation amapo/rm-bench
llama3-base-amapo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-base/amapo.yaml $(ARGS)
eval-llama3-base-amapo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-base/amapo) CELL=llama3-base-amapo OUT=$(call cell_out,llama3-base-amapo) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-base/amapo) CELL=llama3-base-amapo OUT=$(call cell_out,llama3-base-amapo) TEMPLATE=llama3 GENERATION=fastchat-default
	$(MAKE) --no-print-directory eval-rmbench MODEL=$(call cell_model,outputs/llama3-base/amapo) CELL=llama3-base-amapo OUT=$(call cell_out,llama3-base-amapo) TEMPLATE=llama3

# llama3-base-amapo-no-znorm: Llama-3-8B Base (princeton-nlp/Llama-3-Base-8B-SFT) on HuggingFaceH4/ultrafeedback_binarized x amapo-no-znorm; tables: amapo/ablation
llama3-base-amapo-no-znorm: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-base/amapo-no-znorm.yaml $(ARGS)
eval-llama3-base-amapo-no-znorm:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-base/amapo-no-znorm) CELL=llama3-base-amapo-no-znorm OUT=$(call cell_out,llama3-base-amapo-no-znorm) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-base/amapo-no-znorm) CELL=llama3-base-amapo-no-znorm OUT=$(call cell_out,llama3-base-amapo-no-znorm) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-base-amapo-no-exp-scaling: Llama-3-8B Base (princeton-nlp/Llama-3-Base-8B-SFT) on HuggingFaceH4/ultrafeedback_binarized x amapo-no-exp-scaling; tables: amapo/ablation
llama3-base-amapo-no-exp-scaling: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-base/amapo-no-exp-scaling.yaml $(ARGS)
eval-llama3-base-amapo-no-exp-scaling:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-base/amapo-no-exp-scaling) CELL=llama3-base-amapo-no-exp-scaling OUT=$(call cell_out,llama3-base-amapo-no-exp-scaling) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-base/amapo-no-exp-scaling) CELL=llama3-base-amapo-no-exp-scaling OUT=$(call cell_out,llama3-base-amapo-no-exp-scaling) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-base-amapo-no-znorm-no-exp-scaling: Llama-3-8B Base (princeton-nlp/Llama-3-Base-8B-SFT) on HuggingFaceH4/ultrafeedback_binarized x amapo-no-znorm-no-exp-scaling; tables: amapo/ablation
llama3-base-amapo-no-znorm-no-exp-scaling: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-base/amapo-no-znorm-no-exp-scaling.yaml $(ARGS)
eval-llama3-base-amapo-no-znorm-no-exp-scaling:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-base/amapo-no-znorm-no-exp-scaling) CELL=llama3-base-amapo-no-znorm-no-exp-scaling OUT=$(call cell_out,llama3-base-amapo-no-znorm-no-exp-scaling) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-base/amapo-no-znorm-no-exp-scaling) CELL=llama3-base-amapo-no-znorm-no-exp-scaling OUT=$(call cell_out,llama3-base-amapo-no-znorm-no-exp-scaling) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-base-amapo-no-zero-margin-correct: Llama-3-8B Base (princeton-nlp/Llama-3-Base-8B-SFT) on HuggingFaceH4/ultrafeedback_binarized x amapo-no-zero-margin-correct; tables: amapo/ablation
llama3-base-amapo-no-zero-margin-correct: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-base/amapo-no-zero-margin-correct.yaml $(ARGS)
eval-llama3-base-amapo-no-zero-margin-correct:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-base/amapo-no-zero-margin-correct) CELL=llama3-base-amapo-no-zero-margin-correct OUT=$(call cell_out,llama3-base-amapo-no-zero-margin-correct) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-base/amapo-no-zero-margin-correct) CELL=llama3-base-amapo-no-zero-margin-correct OUT=$(call cell_out,llama3-base-amapo-no-zero-margin-correct) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-instruct-sft: Meta-Llama-3-8B-Instruct on princeton-nlp/llama3-ultrafeedback (PairRM) x sft; tables: simpo/readme-v0.1 sams/table1 simpo/table4 simpo/alpaca-eval-leaderboard; released: meta-llama/Meta-Llama-3-8B-Instruct
llama3-instruct-sft:
	@echo "llama3-instruct-sft: nothing to train, this table row is meta-llama/Meta-Llama-3-8B-Instruct itself; evaluate it with make eval-llama3-instruct-sft"
eval-llama3-instruct-sft:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,meta-llama/Meta-Llama-3-8B-Instruct) CELL=llama3-instruct-sft OUT=$(call cell_out,llama3-instruct-sft) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,meta-llama/Meta-Llama-3-8B-Instruct) CELL=llama3-instruct-sft OUT=$(call cell_out,llama3-instruct-sft) TEMPLATE=llama3 GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,meta-llama/Meta-Llama-3-8B-Instruct) CELL=llama3-instruct-sft OUT=$(call cell_out,llama3-instruct-sft) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-instruct-rrhf: Meta-Llama-3-8B-Instruct on princeton-nlp/llama3-ultrafeedback (PairRM) x rrhf; tables: simpo/readme-v0.1 sams/table1 simpo/table4; released: princeton-nlp/Llama-3-Instruct-8B-RRHF
llama3-instruct-rrhf: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-instruct/rrhf.yaml $(ARGS)
eval-llama3-instruct-rrhf:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-instruct/rrhf) CELL=llama3-instruct-rrhf OUT=$(call cell_out,llama3-instruct-rrhf) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/llama3-instruct/rrhf) CELL=llama3-instruct-rrhf OUT=$(call cell_out,llama3-instruct-rrhf) TEMPLATE=llama3 GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-instruct/rrhf) CELL=llama3-instruct-rrhf OUT=$(call cell_out,llama3-instruct-rrhf) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-instruct-slic-hf: Meta-Llama-3-8B-Instruct on princeton-nlp/llama3-ultrafeedback (PairRM) x slic-hf; tables: simpo/readme-v0.1 sams/table1 simpo/table4; released: princeton-nlp/Llama-3-Instruct-8B-SLiC-HF
llama3-instruct-slic-hf: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-instruct/slic.yaml $(ARGS)
eval-llama3-instruct-slic-hf:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-instruct/slic) CELL=llama3-instruct-slic-hf OUT=$(call cell_out,llama3-instruct-slic-hf) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/llama3-instruct/slic) CELL=llama3-instruct-slic-hf OUT=$(call cell_out,llama3-instruct-slic-hf) TEMPLATE=llama3 GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-instruct/slic) CELL=llama3-instruct-slic-hf OUT=$(call cell_out,llama3-instruct-slic-hf) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-instruct-dpo: Meta-Llama-3-8B-Instruct on princeton-nlp/llama3-ultrafeedback (PairRM) x dpo; tables: simpo/readme-v0.1 amapo/main sams/table1 simpo/table4; released: princeton-nlp/Llama-3-Instruct-8B-DPO
llama3-instruct-dpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-instruct/dpo.yaml $(ARGS)
eval-llama3-instruct-dpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-instruct/dpo) CELL=llama3-instruct-dpo OUT=$(call cell_out,llama3-instruct-dpo) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/llama3-instruct/dpo) CELL=llama3-instruct-dpo OUT=$(call cell_out,llama3-instruct-dpo) TEMPLATE=llama3 GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-instruct/dpo) CELL=llama3-instruct-dpo OUT=$(call cell_out,llama3-instruct-dpo) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-instruct-ipo: Meta-Llama-3-8B-Instruct on princeton-nlp/llama3-ultrafeedback (PairRM) x ipo; tables: simpo/readme-v0.1 sams/table1 simpo/table4; released: princeton-nlp/Llama-3-Instruct-8B-IPO
llama3-instruct-ipo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-instruct/ipo.yaml $(ARGS)
eval-llama3-instruct-ipo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-instruct/ipo) CELL=llama3-instruct-ipo OUT=$(call cell_out,llama3-instruct-ipo) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/llama3-instruct/ipo) CELL=llama3-instruct-ipo OUT=$(call cell_out,llama3-instruct-ipo) TEMPLATE=llama3 GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-instruct/ipo) CELL=llama3-instruct-ipo OUT=$(call cell_out,llama3-instruct-ipo) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-instruct-cpo: Meta-Llama-3-8B-Instruct on princeton-nlp/llama3-ultrafeedback (PairRM) x cpo; tables: simpo/readme-v0.1 sams/table1 simpo/table4; released: princeton-nlp/Llama-3-Instruct-8B-CPO
llama3-instruct-cpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-instruct/cpo.yaml $(ARGS)
eval-llama3-instruct-cpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-instruct/cpo) CELL=llama3-instruct-cpo OUT=$(call cell_out,llama3-instruct-cpo) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/llama3-instruct/cpo) CELL=llama3-instruct-cpo OUT=$(call cell_out,llama3-instruct-cpo) TEMPLATE=llama3 GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-instruct/cpo) CELL=llama3-instruct-cpo OUT=$(call cell_out,llama3-instruct-cpo) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-instruct-kto: Meta-Llama-3-8B-Instruct on princeton-nlp/llama3-ultrafeedback (PairRM) x kto; tables: simpo/readme-v0.1 sams/table1 simpo/table4; released: princeton-nlp/Llama-3-Instruct-8B-KTO
llama3-instruct-kto: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-instruct/kto.yaml $(ARGS)
eval-llama3-instruct-kto:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-instruct/kto) CELL=llama3-instruct-kto OUT=$(call cell_out,llama3-instruct-kto) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/llama3-instruct/kto) CELL=llama3-instruct-kto OUT=$(call cell_out,llama3-instruct-kto) TEMPLATE=llama3 GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-instruct/kto) CELL=llama3-instruct-kto OUT=$(call cell_out,llama3-instruct-kto) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-instruct-orpo: Meta-Llama-3-8B-Instruct on princeton-nlp/llama3-ultrafeedback (PairRM) x orpo; tables: simpo/readme-v0.1 sams/table1 simpo/table4; released: princeton-nlp/Llama-3-Instruct-8B-ORPO
llama3-instruct-orpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-instruct/orpo.yaml $(ARGS)
eval-llama3-instruct-orpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-instruct/orpo) CELL=llama3-instruct-orpo OUT=$(call cell_out,llama3-instruct-orpo) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/llama3-instruct/orpo) CELL=llama3-instruct-orpo OUT=$(call cell_out,llama3-instruct-orpo) TEMPLATE=llama3 GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-instruct/orpo) CELL=llama3-instruct-orpo OUT=$(call cell_out,llama3-instruct-orpo) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-instruct-r-dpo: Meta-Llama-3-8B-Instruct on princeton-nlp/llama3-ultrafeedback (PairRM) x r-dpo; tables: simpo/readme-v0.1 sams/table1 simpo/table4; released: princeton-nlp/Llama-3-Instruct-8B-RDPO
llama3-instruct-r-dpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-instruct/rdpo.yaml $(ARGS)
eval-llama3-instruct-r-dpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-instruct/rdpo) CELL=llama3-instruct-r-dpo OUT=$(call cell_out,llama3-instruct-r-dpo) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/llama3-instruct/rdpo) CELL=llama3-instruct-r-dpo OUT=$(call cell_out,llama3-instruct-r-dpo) TEMPLATE=llama3 GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-instruct/rdpo) CELL=llama3-instruct-r-dpo OUT=$(call cell_out,llama3-instruct-r-dpo) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-instruct-simpo: Meta-Llama-3-8B-Instruct on princeton-nlp/llama3-ultrafeedback (PairRM) x simpo; tables: simpo/readme-v0.1 amapo/main simpo/table4 simpo/alpaca-eval-leaderboard; released: princeton-nlp/Llama-3-Instruct-8B-SimPO
llama3-instruct-simpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-instruct/simpo.yaml $(ARGS)
eval-llama3-instruct-simpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-instruct/simpo) CELL=llama3-instruct-simpo OUT=$(call cell_out,llama3-instruct-simpo) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/llama3-instruct/simpo) CELL=llama3-instruct-simpo OUT=$(call cell_out,llama3-instruct-simpo) TEMPLATE=llama3 GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-instruct/simpo) CELL=llama3-instruct-simpo OUT=$(call cell_out,llama3-instruct-simpo) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-instruct-lmpo: Meta-Llama-3-8B-Instruct on princeton-nlp/llama3-ultrafeedback (PairRM) x lmpo; tables: lmpo/main
llama3-instruct-lmpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-instruct/lmpo.yaml $(ARGS)
eval-llama3-instruct-lmpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-instruct/lmpo) CELL=llama3-instruct-lmpo OUT=$(call cell_out,llama3-instruct-lmpo) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/llama3-instruct/lmpo) CELL=llama3-instruct-lmpo OUT=$(call cell_out,llama3-instruct-lmpo) TEMPLATE=llama3 GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009'

# llama3-instruct-amapo: Meta-Llama-3-8B-Instruct on princeton-nlp/llama3-ultrafeedback (PairRM) x amapo; tables: amapo/main
llama3-instruct-amapo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-instruct/amapo.yaml $(ARGS)
eval-llama3-instruct-amapo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-instruct/amapo) CELL=llama3-instruct-amapo OUT=$(call cell_out,llama3-instruct-amapo) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-instruct/amapo) CELL=llama3-instruct-amapo OUT=$(call cell_out,llama3-instruct-amapo) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-instruct-dpo-random-half: Meta-Llama-3-8B-Instruct on princeton-nlp/llama3-ultrafeedback (PairRM) x dpo-random-half; tables: sams/table1
llama3-instruct-dpo-random-half: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-instruct/dpo-random-half.yaml $(ARGS)
eval-llama3-instruct-dpo-random-half:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-instruct/dpo-random-half) CELL=llama3-instruct-dpo-random-half OUT=$(call cell_out,llama3-instruct-dpo-random-half) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-instruct/dpo-random-half) CELL=llama3-instruct-dpo-random-half OUT=$(call cell_out,llama3-instruct-dpo-random-half) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-instruct-dpo-sams: Meta-Llama-3-8B-Instruct on princeton-nlp/llama3-ultrafeedback (PairRM) x dpo-sams; tables: sams/table1
llama3-instruct-dpo-sams: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-instruct/dpo-sams.yaml $(ARGS)
eval-llama3-instruct-dpo-sams:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-instruct/dpo-sams) CELL=llama3-instruct-dpo-sams OUT=$(call cell_out,llama3-instruct-dpo-sams) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-instruct/dpo-sams) CELL=llama3-instruct-dpo-sams OUT=$(call cell_out,llama3-instruct-dpo-sams) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-instruct-selective-dpo: Meta-Llama-3-8B-Instruct on princeton-nlp/llama3-ultrafeedback (PairRM) x selective-dpo; tables: sams/table3
llama3-instruct-selective-dpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-instruct/selective-dpo.yaml $(ARGS)
eval-llama3-instruct-selective-dpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-instruct/selective-dpo) CELL=llama3-instruct-selective-dpo OUT=$(call cell_out,llama3-instruct-selective-dpo) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-instruct/selective-dpo) CELL=llama3-instruct-selective-dpo OUT=$(call cell_out,llama3-instruct-selective-dpo) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-instruct-selective-dpo-sams: Meta-Llama-3-8B-Instruct on princeton-nlp/llama3-ultrafeedback (PairRM) x selective-dpo-sams; tables: sams/table3
llama3-instruct-selective-dpo-sams: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-instruct/selective-dpo-sams.yaml $(ARGS)
eval-llama3-instruct-selective-dpo-sams:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-instruct/selective-dpo-sams) CELL=llama3-instruct-selective-dpo-sams OUT=$(call cell_out,llama3-instruct-selective-dpo-sams) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-instruct/selective-dpo-sams) CELL=llama3-instruct-selective-dpo-sams OUT=$(call cell_out,llama3-instruct-selective-dpo-sams) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-instruct-v0.2-sft: Meta-Llama-3-8B-Instruct on princeton-nlp/llama3-ultrafeedback-armorm (ArmoRM) x sft; tables: sams/table1; released: meta-llama/Meta-Llama-3-8B-Instruct
llama3-instruct-v0.2-sft:
	@echo "llama3-instruct-v0.2-sft: nothing to train, this table row is meta-llama/Meta-Llama-3-8B-Instruct itself; evaluate it with make eval-llama3-instruct-v0.2-sft"
eval-llama3-instruct-v0.2-sft:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,meta-llama/Meta-Llama-3-8B-Instruct) CELL=llama3-instruct-v0.2-sft OUT=$(call cell_out,llama3-instruct-v0.2-sft) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,meta-llama/Meta-Llama-3-8B-Instruct) CELL=llama3-instruct-v0.2-sft OUT=$(call cell_out,llama3-instruct-v0.2-sft) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-instruct-v0.2-rrhf: Meta-Llama-3-8B-Instruct on princeton-nlp/llama3-ultrafeedback-armorm (ArmoRM) x rrhf; tables: simpo/readme-v0.2 sams/table1; released: princeton-nlp/Llama-3-Instruct-8B-RRHF-v0.2
llama3-instruct-v0.2-rrhf: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-instruct-v0.2/rrhf.yaml $(ARGS)
eval-llama3-instruct-v0.2-rrhf:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-instruct-v0.2/rrhf) CELL=llama3-instruct-v0.2-rrhf OUT=$(call cell_out,llama3-instruct-v0.2-rrhf) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/llama3-instruct-v0.2/rrhf) CELL=llama3-instruct-v0.2-rrhf OUT=$(call cell_out,llama3-instruct-v0.2-rrhf) TEMPLATE=llama3 GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-instruct-v0.2/rrhf) CELL=llama3-instruct-v0.2-rrhf OUT=$(call cell_out,llama3-instruct-v0.2-rrhf) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-instruct-v0.2-slic-hf: Meta-Llama-3-8B-Instruct on princeton-nlp/llama3-ultrafeedback-armorm (ArmoRM) x slic-hf; tables: simpo/readme-v0.2 sams/table1; released: princeton-nlp/Llama-3-Instruct-8B-SLiC-HF-v0.2
llama3-instruct-v0.2-slic-hf: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-instruct-v0.2/slic.yaml $(ARGS)
eval-llama3-instruct-v0.2-slic-hf:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-instruct-v0.2/slic) CELL=llama3-instruct-v0.2-slic-hf OUT=$(call cell_out,llama3-instruct-v0.2-slic-hf) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/llama3-instruct-v0.2/slic) CELL=llama3-instruct-v0.2-slic-hf OUT=$(call cell_out,llama3-instruct-v0.2-slic-hf) TEMPLATE=llama3 GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-instruct-v0.2/slic) CELL=llama3-instruct-v0.2-slic-hf OUT=$(call cell_out,llama3-instruct-v0.2-slic-hf) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-instruct-v0.2-dpo: Meta-Llama-3-8B-Instruct on princeton-nlp/llama3-ultrafeedback-armorm (ArmoRM) x dpo; tables: simpo/readme-v0.2 sams/table1; released: princeton-nlp/Llama-3-Instruct-8B-DPO-v0.2
llama3-instruct-v0.2-dpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-instruct-v0.2/dpo.yaml $(ARGS)
eval-llama3-instruct-v0.2-dpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-instruct-v0.2/dpo) CELL=llama3-instruct-v0.2-dpo OUT=$(call cell_out,llama3-instruct-v0.2-dpo) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/llama3-instruct-v0.2/dpo) CELL=llama3-instruct-v0.2-dpo OUT=$(call cell_out,llama3-instruct-v0.2-dpo) TEMPLATE=llama3 GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-instruct-v0.2/dpo) CELL=llama3-instruct-v0.2-dpo OUT=$(call cell_out,llama3-instruct-v0.2-dpo) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-instruct-v0.2-ipo: Meta-Llama-3-8B-Instruct on princeton-nlp/llama3-ultrafeedback-armorm (ArmoRM) x ipo; tables: simpo/readme-v0.2 sams/table1; released: princeton-nlp/Llama-3-Instruct-8B-IPO-v0.2
llama3-instruct-v0.2-ipo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-instruct-v0.2/ipo.yaml $(ARGS)
eval-llama3-instruct-v0.2-ipo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-instruct-v0.2/ipo) CELL=llama3-instruct-v0.2-ipo OUT=$(call cell_out,llama3-instruct-v0.2-ipo) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/llama3-instruct-v0.2/ipo) CELL=llama3-instruct-v0.2-ipo OUT=$(call cell_out,llama3-instruct-v0.2-ipo) TEMPLATE=llama3 GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-instruct-v0.2/ipo) CELL=llama3-instruct-v0.2-ipo OUT=$(call cell_out,llama3-instruct-v0.2-ipo) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-instruct-v0.2-cpo: Meta-Llama-3-8B-Instruct on princeton-nlp/llama3-ultrafeedback-armorm (ArmoRM) x cpo; tables: simpo/readme-v0.2 sams/table1; released: princeton-nlp/Llama-3-Instruct-8B-CPO-v0.2
llama3-instruct-v0.2-cpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-instruct-v0.2/cpo.yaml $(ARGS)
eval-llama3-instruct-v0.2-cpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-instruct-v0.2/cpo) CELL=llama3-instruct-v0.2-cpo OUT=$(call cell_out,llama3-instruct-v0.2-cpo) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/llama3-instruct-v0.2/cpo) CELL=llama3-instruct-v0.2-cpo OUT=$(call cell_out,llama3-instruct-v0.2-cpo) TEMPLATE=llama3 GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-instruct-v0.2/cpo) CELL=llama3-instruct-v0.2-cpo OUT=$(call cell_out,llama3-instruct-v0.2-cpo) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-instruct-v0.2-kto: Meta-Llama-3-8B-Instruct on princeton-nlp/llama3-ultrafeedback-armorm (ArmoRM) x kto; tables: simpo/readme-v0.2 sams/table1; released: princeton-nlp/Llama-3-Instruct-8B-KTO-v0.2
llama3-instruct-v0.2-kto: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-instruct-v0.2/kto.yaml $(ARGS)
eval-llama3-instruct-v0.2-kto:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-instruct-v0.2/kto) CELL=llama3-instruct-v0.2-kto OUT=$(call cell_out,llama3-instruct-v0.2-kto) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/llama3-instruct-v0.2/kto) CELL=llama3-instruct-v0.2-kto OUT=$(call cell_out,llama3-instruct-v0.2-kto) TEMPLATE=llama3 GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-instruct-v0.2/kto) CELL=llama3-instruct-v0.2-kto OUT=$(call cell_out,llama3-instruct-v0.2-kto) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-instruct-v0.2-orpo: Meta-Llama-3-8B-Instruct on princeton-nlp/llama3-ultrafeedback-armorm (ArmoRM) x orpo; tables: simpo/readme-v0.2 sams/table1; released: princeton-nlp/Llama-3-Instruct-8B-ORPO-v0.2
llama3-instruct-v0.2-orpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-instruct-v0.2/orpo.yaml $(ARGS)
eval-llama3-instruct-v0.2-orpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-instruct-v0.2/orpo) CELL=llama3-instruct-v0.2-orpo OUT=$(call cell_out,llama3-instruct-v0.2-orpo) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/llama3-instruct-v0.2/orpo) CELL=llama3-instruct-v0.2-orpo OUT=$(call cell_out,llama3-instruct-v0.2-orpo) TEMPLATE=llama3 GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-instruct-v0.2/orpo) CELL=llama3-instruct-v0.2-orpo OUT=$(call cell_out,llama3-instruct-v0.2-orpo) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-instruct-v0.2-r-dpo: Meta-Llama-3-8B-Instruct on princeton-nlp/llama3-ultrafeedback-armorm (ArmoRM) x r-dpo; tables: simpo/readme-v0.2 sams/table1; released: princeton-nlp/Llama-3-Instruct-8B-RDPO-v0.2
llama3-instruct-v0.2-r-dpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-instruct-v0.2/rdpo.yaml $(ARGS)
eval-llama3-instruct-v0.2-r-dpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-instruct-v0.2/rdpo) CELL=llama3-instruct-v0.2-r-dpo OUT=$(call cell_out,llama3-instruct-v0.2-r-dpo) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/llama3-instruct-v0.2/rdpo) CELL=llama3-instruct-v0.2-r-dpo OUT=$(call cell_out,llama3-instruct-v0.2-r-dpo) TEMPLATE=llama3 GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-instruct-v0.2/rdpo) CELL=llama3-instruct-v0.2-r-dpo OUT=$(call cell_out,llama3-instruct-v0.2-r-dpo) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-instruct-v0.2-simpo: Meta-Llama-3-8B-Instruct on princeton-nlp/llama3-ultrafeedback-armorm (ArmoRM) x simpo; tables: simpo/readme-v0.2; released: princeton-nlp/Llama-3-Instruct-8B-SimPO-v0.2
llama3-instruct-v0.2-simpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-instruct-v0.2/simpo.yaml $(ARGS)
eval-llama3-instruct-v0.2-simpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-instruct-v0.2/simpo) CELL=llama3-instruct-v0.2-simpo OUT=$(call cell_out,llama3-instruct-v0.2-simpo) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/llama3-instruct-v0.2/simpo) CELL=llama3-instruct-v0.2-simpo OUT=$(call cell_out,llama3-instruct-v0.2-simpo) TEMPLATE=llama3 GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009'

# llama3-instruct-v0.2-dpo-random-half: Meta-Llama-3-8B-Instruct on princeton-nlp/llama3-ultrafeedback-armorm (ArmoRM) x dpo-random-half; tables: sams/table1
llama3-instruct-v0.2-dpo-random-half: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-instruct-v0.2/dpo-random-half.yaml $(ARGS)
eval-llama3-instruct-v0.2-dpo-random-half:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-instruct-v0.2/dpo-random-half) CELL=llama3-instruct-v0.2-dpo-random-half OUT=$(call cell_out,llama3-instruct-v0.2-dpo-random-half) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-instruct-v0.2/dpo-random-half) CELL=llama3-instruct-v0.2-dpo-random-half OUT=$(call cell_out,llama3-instruct-v0.2-dpo-random-half) TEMPLATE=llama3 GENERATION=fastchat-default

# llama3-instruct-v0.2-dpo-sams: Meta-Llama-3-8B-Instruct on princeton-nlp/llama3-ultrafeedback-armorm (ArmoRM) x dpo-sams; tables: sams/table1
llama3-instruct-v0.2-dpo-sams: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/llama3-instruct-v0.2/dpo-sams.yaml $(ARGS)
eval-llama3-instruct-v0.2-dpo-sams:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/llama3-instruct-v0.2/dpo-sams) CELL=llama3-instruct-v0.2-dpo-sams OUT=$(call cell_out,llama3-instruct-v0.2-dpo-sams) TEMPLATE=llama3 GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
	$(MAKE) --no-print-directory eval-mtbench MODEL=$(call cell_model,outputs/llama3-instruct-v0.2/dpo-sams) CELL=llama3-instruct-v0.2-dpo-sams OUT=$(call cell_out,llama3-instruct-v0.2-dpo-sams) TEMPLATE=llama3 GENERATION=fastchat-default

# gemma2-it-sft: gemma-2-9b-it on princeton-nlp/gemma2-ultrafeedback-armorm (ArmoRM) x sft; tables: simpo/readme-gemma sams/table1; released: google/gemma-2-9b-it
gemma2-it-sft:
	@echo "gemma2-it-sft: nothing to train, this table row is google/gemma-2-9b-it itself; evaluate it with make eval-gemma2-it-sft"
eval-gemma2-it-sft:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,google/gemma-2-9b-it) CELL=gemma2-it-sft OUT=$(call cell_out,gemma2-it-sft) TEMPLATE=gemma GENERATION='do_sample=true temperature=0.5 top_p=1.0 max_new_tokens=4096 stop_token_ids=1,107'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,google/gemma-2-9b-it) CELL=gemma2-it-sft OUT=$(call cell_out,gemma2-it-sft) TEMPLATE=gemma GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=1,107'
	$(MAKE) --no-print-directory eval-zeroeval MODEL=$(call cell_model,google/gemma-2-9b-it) CELL=gemma2-it-sft OUT=$(call cell_out,gemma2-it-sft) TASKS=gsm8k TEMPLATE=gemma GENERATION=zeroeval-default
	$(MAKE) --no-print-directory eval-zeroeval MODEL=$(call cell_model,google/gemma-2-9b-it) CELL=gemma2-it-sft OUT=$(call cell_out,gemma2-it-sft) TASKS=mmlu TEMPLATE=gemma GENERATION=zeroeval-default

# gemma2-it-dpo: gemma-2-9b-it on princeton-nlp/gemma2-ultrafeedback-armorm (ArmoRM) x dpo; tables: simpo/readme-gemma sams/table1 simpo/alpaca-eval-leaderboard; released: princeton-nlp/gemma-2-9b-it-DPO
gemma2-it-dpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/gemma2-9b-it/dpo.yaml $(ARGS)
eval-gemma2-it-dpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/gemma2-9b-it/dpo) CELL=gemma2-it-dpo OUT=$(call cell_out,gemma2-it-dpo) TEMPLATE=gemma GENERATION='do_sample=true temperature=0.5 top_p=1.0 max_new_tokens=4096 stop_token_ids=1,107'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/gemma2-9b-it/dpo) CELL=gemma2-it-dpo OUT=$(call cell_out,gemma2-it-dpo) TEMPLATE=gemma GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=1,107'
	$(MAKE) --no-print-directory eval-zeroeval MODEL=$(call cell_model,outputs/gemma2-9b-it/dpo) CELL=gemma2-it-dpo OUT=$(call cell_out,gemma2-it-dpo) TASKS=gsm8k TEMPLATE=gemma GENERATION=zeroeval-default
	$(MAKE) --no-print-directory eval-zeroeval MODEL=$(call cell_model,outputs/gemma2-9b-it/dpo) CELL=gemma2-it-dpo OUT=$(call cell_out,gemma2-it-dpo) TASKS=mmlu TEMPLATE=gemma GENERATION=zeroeval-default

# gemma2-it-simpo: gemma-2-9b-it on princeton-nlp/gemma2-ultrafeedback-armorm (ArmoRM) x simpo; tables: simpo/readme-gemma simpo/alpaca-eval-leaderboard; released: princeton-nlp/gemma-2-9b-it-SimPO
gemma2-it-simpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/gemma2-9b-it/simpo.yaml $(ARGS)
eval-gemma2-it-simpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/gemma2-9b-it/simpo) CELL=gemma2-it-simpo OUT=$(call cell_out,gemma2-it-simpo) TEMPLATE=gemma GENERATION='do_sample=true temperature=0.5 top_p=1.0 max_new_tokens=4096 stop_token_ids=1,107'
	$(MAKE) --no-print-directory eval-arenahard MODEL=$(call cell_model,outputs/gemma2-9b-it/simpo) CELL=gemma2-it-simpo OUT=$(call cell_out,gemma2-it-simpo) TEMPLATE=gemma GENERATION='temperature=0.0 max_new_tokens=4096 stop_token_ids=1,107'
	$(MAKE) --no-print-directory eval-zeroeval MODEL=$(call cell_model,outputs/gemma2-9b-it/simpo) CELL=gemma2-it-simpo OUT=$(call cell_out,gemma2-it-simpo) TASKS=gsm8k TEMPLATE=gemma GENERATION=zeroeval-default
	$(MAKE) --no-print-directory eval-zeroeval MODEL=$(call cell_model,outputs/gemma2-9b-it/simpo) CELL=gemma2-it-simpo OUT=$(call cell_out,gemma2-it-simpo) TASKS=mmlu TEMPLATE=gemma GENERATION=zeroeval-default

# gemma2-it-ipo: gemma-2-9b-it on princeton-nlp/gemma2-ultrafeedback-armorm (ArmoRM) x ipo; tables: sams/table1
gemma2-it-ipo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/gemma2-9b-it/ipo.yaml $(ARGS)
eval-gemma2-it-ipo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/gemma2-9b-it/ipo) CELL=gemma2-it-ipo OUT=$(call cell_out,gemma2-it-ipo) TEMPLATE=gemma GENERATION='do_sample=true temperature=0.5 top_p=1.0 max_new_tokens=4096 stop_token_ids=1,107'

# gemma2-it-cpo: gemma-2-9b-it on princeton-nlp/gemma2-ultrafeedback-armorm (ArmoRM) x cpo; tables: sams/table1
gemma2-it-cpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/gemma2-9b-it/cpo.yaml $(ARGS)
eval-gemma2-it-cpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/gemma2-9b-it/cpo) CELL=gemma2-it-cpo OUT=$(call cell_out,gemma2-it-cpo) TEMPLATE=gemma GENERATION='do_sample=true temperature=0.5 top_p=1.0 max_new_tokens=4096 stop_token_ids=1,107'

# gemma2-it-kto: gemma-2-9b-it on princeton-nlp/gemma2-ultrafeedback-armorm (ArmoRM) x kto; tables: sams/table1
gemma2-it-kto: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/gemma2-9b-it/kto.yaml $(ARGS)
eval-gemma2-it-kto:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/gemma2-9b-it/kto) CELL=gemma2-it-kto OUT=$(call cell_out,gemma2-it-kto) TEMPLATE=gemma GENERATION='do_sample=true temperature=0.5 top_p=1.0 max_new_tokens=4096 stop_token_ids=1,107'

# gemma2-it-orpo: gemma-2-9b-it on princeton-nlp/gemma2-ultrafeedback-armorm (ArmoRM) x orpo; tables: sams/table1
gemma2-it-orpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/gemma2-9b-it/orpo.yaml $(ARGS)
eval-gemma2-it-orpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/gemma2-9b-it/orpo) CELL=gemma2-it-orpo OUT=$(call cell_out,gemma2-it-orpo) TEMPLATE=gemma GENERATION='do_sample=true temperature=0.5 top_p=1.0 max_new_tokens=4096 stop_token_ids=1,107'

# gemma2-it-r-dpo: gemma-2-9b-it on princeton-nlp/gemma2-ultrafeedback-armorm (ArmoRM) x r-dpo; tables: sams/table1
gemma2-it-r-dpo: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/gemma2-9b-it/rdpo.yaml $(ARGS)
eval-gemma2-it-r-dpo:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/gemma2-9b-it/rdpo) CELL=gemma2-it-r-dpo OUT=$(call cell_out,gemma2-it-r-dpo) TEMPLATE=gemma GENERATION='do_sample=true temperature=0.5 top_p=1.0 max_new_tokens=4096 stop_token_ids=1,107'

# gemma2-it-dpo-random-half: gemma-2-9b-it on princeton-nlp/gemma2-ultrafeedback-armorm (ArmoRM) x dpo-random-half; tables: sams/table1
gemma2-it-dpo-random-half: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/gemma2-9b-it/dpo-random-half.yaml $(ARGS)
eval-gemma2-it-dpo-random-half:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/gemma2-9b-it/dpo-random-half) CELL=gemma2-it-dpo-random-half OUT=$(call cell_out,gemma2-it-dpo-random-half) TEMPLATE=gemma GENERATION='do_sample=true temperature=0.5 top_p=1.0 max_new_tokens=4096 stop_token_ids=1,107'

# gemma2-it-dpo-sams: gemma-2-9b-it on princeton-nlp/gemma2-ultrafeedback-armorm (ArmoRM) x dpo-sams; tables: sams/table1
gemma2-it-dpo-sams: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_po.py training_configs/gemma2-9b-it/dpo-sams.yaml $(ARGS)
eval-gemma2-it-dpo-sams:
	$(MAKE) --no-print-directory eval-alpaca MODEL=$(call cell_model,outputs/gemma2-9b-it/dpo-sams) CELL=gemma2-it-dpo-sams OUT=$(call cell_out,gemma2-it-dpo-sams) TEMPLATE=gemma GENERATION='do_sample=true temperature=0.5 top_p=1.0 max_new_tokens=4096 stop_token_ids=1,107'

# pythia-2.8b-hh-dpo: Pythia-2.8B (SFT on the preferred responses first) on Anthropic HH (SamS Table 2) x dpo; tables: sams/table2
pythia-2.8b-hh-dpo: | require-accelerate
	$(call launch,accelerate_configs/fsdp.yaml) scripts/run_po.py training_configs/pythia-2.8b-hh/dpo.yaml $(ARGS)
eval-pythia-2.8b-hh-dpo:
	$(MAKE) --no-print-directory eval-pref-accuracy MODEL=$(call cell_model,outputs/pythia-2.8b-hh/dpo) CELL=pythia-2.8b-hh-dpo OUT=$(call cell_out,pythia-2.8b-hh-dpo) DATA=hh

# pythia-2.8b-hh-dpo-sams: Pythia-2.8B (SFT on the preferred responses first) on Anthropic HH (SamS Table 2) x dpo-sams; tables: sams/table2 sams/ablation
pythia-2.8b-hh-dpo-sams: | require-accelerate
	$(call launch,accelerate_configs/fsdp.yaml) scripts/run_po.py training_configs/pythia-2.8b-hh/dpo-sams.yaml $(ARGS)
eval-pythia-2.8b-hh-dpo-sams:
	$(MAKE) --no-print-directory eval-pref-accuracy MODEL=$(call cell_model,outputs/pythia-2.8b-hh/dpo-sams) CELL=pythia-2.8b-hh-dpo-sams OUT=$(call cell_out,pythia-2.8b-hh-dpo-sams) DATA=hh

# pythia-2.8b-hh-kto: Pythia-2.8B (SFT on the preferred responses first) on Anthropic HH (SamS Table 2) x kto; tables: sams/table2
pythia-2.8b-hh-kto: | require-accelerate
	$(call launch,accelerate_configs/fsdp.yaml) scripts/run_po.py training_configs/pythia-2.8b-hh/kto.yaml $(ARGS)
eval-pythia-2.8b-hh-kto:
	$(MAKE) --no-print-directory eval-pref-accuracy MODEL=$(call cell_model,outputs/pythia-2.8b-hh/kto) CELL=pythia-2.8b-hh-kto OUT=$(call cell_out,pythia-2.8b-hh-kto) DATA=hh

# pythia-2.8b-hh-kto-sams: Pythia-2.8B (SFT on the preferred responses first) on Anthropic HH (SamS Table 2) x kto-sams; tables: sams/table2
pythia-2.8b-hh-kto-sams: | require-accelerate
	$(call launch,accelerate_configs/fsdp.yaml) scripts/run_po.py training_configs/pythia-2.8b-hh/kto-sams.yaml $(ARGS)
eval-pythia-2.8b-hh-kto-sams:
	$(MAKE) --no-print-directory eval-pref-accuracy MODEL=$(call cell_model,outputs/pythia-2.8b-hh/kto-sams) CELL=pythia-2.8b-hh-kto-sams OUT=$(call cell_out,pythia-2.8b-hh-kto-sams) DATA=hh

# pythia-2.8b-hh-dpo-sams-select25: Pythia-2.8B (SFT on the preferred responses first) on Anthropic HH (SamS Table 2) x dpo-sams-select25; tables: sams/ablation
pythia-2.8b-hh-dpo-sams-select25: | require-accelerate
	$(call launch,accelerate_configs/fsdp.yaml) scripts/run_po.py training_configs/pythia-2.8b-hh/dpo-sams-select25.yaml $(ARGS)
eval-pythia-2.8b-hh-dpo-sams-select25:
	$(MAKE) --no-print-directory eval-pref-accuracy MODEL=$(call cell_model,outputs/pythia-2.8b-hh/dpo-sams-select25) CELL=pythia-2.8b-hh-dpo-sams-select25 OUT=$(call cell_out,pythia-2.8b-hh-dpo-sams-select25) DATA=hh

# pythia-2.8b-hh-dpo-sams-select75: Pythia-2.8B (SFT on the preferred responses first) on Anthropic HH (SamS Table 2) x dpo-sams-select75; tables: sams/ablation
pythia-2.8b-hh-dpo-sams-select75: | require-accelerate
	$(call launch,accelerate_configs/fsdp.yaml) scripts/run_po.py training_configs/pythia-2.8b-hh/dpo-sams-select75.yaml $(ARGS)
eval-pythia-2.8b-hh-dpo-sams-select75:
	$(MAKE) --no-print-directory eval-pref-accuracy MODEL=$(call cell_model,outputs/pythia-2.8b-hh/dpo-sams-select75) CELL=pythia-2.8b-hh-dpo-sams-select75 OUT=$(call cell_out,pythia-2.8b-hh-dpo-sams-select75) DATA=hh

# pythia-2.8b-hh-dpo-sams-select100: Pythia-2.8B (SFT on the preferred responses first) on Anthropic HH (SamS Table 2) x dpo-sams-select100; tables: sams/ablation
pythia-2.8b-hh-dpo-sams-select100: | require-accelerate
	$(call launch,accelerate_configs/fsdp.yaml) scripts/run_po.py training_configs/pythia-2.8b-hh/dpo-sams-select100.yaml $(ARGS)
eval-pythia-2.8b-hh-dpo-sams-select100:
	$(MAKE) --no-print-directory eval-pref-accuracy MODEL=$(call cell_model,outputs/pythia-2.8b-hh/dpo-sams-select100) CELL=pythia-2.8b-hh-dpo-sams-select100 OUT=$(call cell_out,pythia-2.8b-hh-dpo-sams-select100) DATA=hh

# pythia-2.8b-hh-dpo-sams-no-explore: Pythia-2.8B (SFT on the preferred responses first) on Anthropic HH (SamS Table 2) x dpo-sams-no-explore; tables: sams/ablation
pythia-2.8b-hh-dpo-sams-no-explore: | require-accelerate
	$(call launch,accelerate_configs/fsdp.yaml) scripts/run_po.py training_configs/pythia-2.8b-hh/dpo-sams-no-explore.yaml $(ARGS)
eval-pythia-2.8b-hh-dpo-sams-no-explore:
	$(MAKE) --no-print-directory eval-pref-accuracy MODEL=$(call cell_model,outputs/pythia-2.8b-hh/dpo-sams-no-explore) CELL=pythia-2.8b-hh-dpo-sams-no-explore OUT=$(call cell_out,pythia-2.8b-hh-dpo-sams-no-explore) DATA=hh

# pythia-2.8b-shp-dpo: Pythia-2.8B (SFT on the preferred responses first) on Stanford SHP (SamS Table 2) x dpo; tables: sams/table2
pythia-2.8b-shp-dpo: | require-accelerate
	$(call launch,accelerate_configs/fsdp.yaml) scripts/run_po.py training_configs/pythia-2.8b-shp/dpo.yaml $(ARGS)
eval-pythia-2.8b-shp-dpo:
	$(MAKE) --no-print-directory eval-pref-accuracy MODEL=$(call cell_model,outputs/pythia-2.8b-shp/dpo) CELL=pythia-2.8b-shp-dpo OUT=$(call cell_out,pythia-2.8b-shp-dpo) DATA=shp

# pythia-2.8b-shp-dpo-sams: Pythia-2.8B (SFT on the preferred responses first) on Stanford SHP (SamS Table 2) x dpo-sams; tables: sams/table2
pythia-2.8b-shp-dpo-sams: | require-accelerate
	$(call launch,accelerate_configs/fsdp.yaml) scripts/run_po.py training_configs/pythia-2.8b-shp/dpo-sams.yaml $(ARGS)
eval-pythia-2.8b-shp-dpo-sams:
	$(MAKE) --no-print-directory eval-pref-accuracy MODEL=$(call cell_model,outputs/pythia-2.8b-shp/dpo-sams) CELL=pythia-2.8b-shp-dpo-sams OUT=$(call cell_out,pythia-2.8b-shp-dpo-sams) DATA=shp

# pythia-2.8b-shp-kto: Pythia-2.8B (SFT on the preferred responses first) on Stanford SHP (SamS Table 2) x kto; tables: sams/table2
pythia-2.8b-shp-kto: | require-accelerate
	$(call launch,accelerate_configs/fsdp.yaml) scripts/run_po.py training_configs/pythia-2.8b-shp/kto.yaml $(ARGS)
eval-pythia-2.8b-shp-kto:
	$(MAKE) --no-print-directory eval-pref-accuracy MODEL=$(call cell_model,outputs/pythia-2.8b-shp/kto) CELL=pythia-2.8b-shp-kto OUT=$(call cell_out,pythia-2.8b-shp-kto) DATA=shp

# pythia-2.8b-shp-kto-sams: Pythia-2.8B (SFT on the preferred responses first) on Stanford SHP (SamS Table 2) x kto-sams; tables: sams/table2
pythia-2.8b-shp-kto-sams: | require-accelerate
	$(call launch,accelerate_configs/fsdp.yaml) scripts/run_po.py training_configs/pythia-2.8b-shp/kto-sams.yaml $(ARGS)
eval-pythia-2.8b-shp-kto-sams:
	$(MAKE) --no-print-directory eval-pref-accuracy MODEL=$(call cell_model,outputs/pythia-2.8b-shp/kto-sams) CELL=pythia-2.8b-shp-kto-sams OUT=$(call cell_out,pythia-2.8b-shp-kto-sams) DATA=shp

# hh-base-rm: APO reward models, LLaMA-7B on the HH split (hh_split_rm.train.json) x rm-base; tables: apo/rm-eval
hh-base-rm: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3_offload.yaml) scripts/run_rm.py training_configs/llama-7b-hh-rm/rm-base.yaml $(ARGS)
eval-hh-base-rm:
	$(MAKE) --no-print-directory eval-rm MODEL=$(call cell_model,outputs/llama-7b-hh-rm/rm-base) CELL=hh-base-rm OUT=$(call cell_out,hh-base-rm) DATA=hh-test
	$(MAKE) --no-print-directory eval-rm MODEL=$(call cell_model,outputs/llama-7b-hh-rm/rm-base) CELL=hh-base-rm OUT=$(call cell_out,hh-base-rm) DATA=hh-llm-valid

# hh-apo-rm: APO reward models, LLaMA-7B on the HH split (hh_split_rm.train.json) x rm-apo; tables: apo/rm-eval
hh-apo-rm: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3_offload.yaml) scripts/run_rm.py training_configs/llama-7b-hh-rm/rm-apo.yaml $(ARGS)
eval-hh-apo-rm:
	$(MAKE) --no-print-directory eval-rm MODEL=$(call cell_model,outputs/llama-7b-hh-rm/rm-apo) CELL=hh-apo-rm OUT=$(call cell_out,hh-apo-rm) DATA=hh-test
	$(MAKE) --no-print-directory eval-rm MODEL=$(call cell_model,outputs/llama-7b-hh-rm/rm-apo) CELL=hh-apo-rm OUT=$(call cell_out,hh-apo-rm) DATA=hh-llm-valid

# hh-base-rjs: APO policies, chavinlo/alpaca-native aligned by rejection sampling on HH queries x rjs; tables: apo/llm-eval
hh-base-rjs: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_sft.py training_configs/alpaca-7b-hh/rjs.yaml $(ARGS)
eval-hh-base-rjs:
	$(MAKE) --no-print-directory eval-rm-score MODEL=$(call cell_model,outputs/alpaca-7b-hh/rjs) CELL=hh-base-rjs OUT=$(call cell_out,hh-base-rjs) DATA=hh-test TEMPLATE=hh GENERATION='do_sample=true temperature=0.3 top_k=5 top_p=0.85 max_new_tokens=512 repetition_penalty=1.05'

# hh-apo-rjs: APO policies, chavinlo/alpaca-native aligned by rejection sampling on HH queries x rjs-apo; tables: apo/llm-eval
hh-apo-rjs: | require-accelerate
	$(call launch,accelerate_configs/deepspeed_zero3.yaml) scripts/run_sft.py training_configs/alpaca-7b-hh/rjs-apo.yaml $(ARGS)
eval-hh-apo-rjs:
	$(MAKE) --no-print-directory eval-rm-score MODEL=$(call cell_model,outputs/alpaca-7b-hh/rjs-apo) CELL=hh-apo-rjs OUT=$(call cell_out,hh-apo-rjs) DATA=hh-test TEMPLATE=hh GENERATION='do_sample=true temperature=0.3 top_k=5 top_p=0.85 max_new_tokens=512 repetition_penalty=1.05'

# On-policy preference data, one target per setting with an onpolicy: recipe in results/cells.yaml.
ONPOLICY := onpolicy-mistral-instruct onpolicy-llama3-instruct onpolicy-llama3-instruct-v0.2 onpolicy-gemma2-it
.PHONY: $(ONPOLICY)

# onpolicy-mistral-instruct: on-policy data of mistral-instruct (regenerates princeton-nlp/mistral-instruct-ultrafeedback)
onpolicy-mistral-instruct: setup
	$(PY) on_policy_data_gen/decode.py --model mistralai/Mistral-7B-Instruct-v0.2 --data HuggingFaceH4/ultrafeedback_binarized --splits train_prefs test_prefs --seeds 13 21 42 79 100 --temperature 0.8 --top_p 0.95 --max_new_tokens 4096 --out $(ONPOLICY_DIR)/mistral-instruct/generations $(DECODE_ARGS)
	$(PY) on_policy_data_gen/post_process.py --generations $(ONPOLICY_DIR)/mistral-instruct/generations --out $(ONPOLICY_DIR)/mistral-instruct/all_outputs.jsonl
	$(PY) on_policy_data_gen/annotate.py --input $(ONPOLICY_DIR)/mistral-instruct/all_outputs.jsonl --kind pairrm --reward_model llm-blender/PairRM --out $(ONPOLICY_DIR)/mistral-instruct/all_outputs_rm.jsonl $(ANNOTATE_ARGS)
	$(PY) on_policy_data_gen/binarize.py --input $(ONPOLICY_DIR)/mistral-instruct/all_outputs_rm.jsonl --test_prompts HuggingFaceH4/ultrafeedback_binarized --test_split test_prefs --out $(ONPOLICY_DIR)/mistral-instruct/dataset $(BINARIZE_ARGS)

# onpolicy-llama3-instruct: on-policy data of llama3-instruct (regenerates princeton-nlp/llama3-ultrafeedback)
onpolicy-llama3-instruct: setup
	$(PY) on_policy_data_gen/decode.py --model meta-llama/Meta-Llama-3-8B-Instruct --data HuggingFaceH4/ultrafeedback_binarized --splits train_prefs test_prefs --seeds 13 21 42 79 100 --temperature 0.8 --top_p 0.95 --max_new_tokens 4096 --out $(ONPOLICY_DIR)/llama3-instruct/generations $(DECODE_ARGS)
	$(PY) on_policy_data_gen/post_process.py --generations $(ONPOLICY_DIR)/llama3-instruct/generations --out $(ONPOLICY_DIR)/llama3-instruct/all_outputs.jsonl
	$(PY) on_policy_data_gen/annotate.py --input $(ONPOLICY_DIR)/llama3-instruct/all_outputs.jsonl --kind pairrm --reward_model llm-blender/PairRM --out $(ONPOLICY_DIR)/llama3-instruct/all_outputs_rm.jsonl $(ANNOTATE_ARGS)
	$(PY) on_policy_data_gen/binarize.py --input $(ONPOLICY_DIR)/llama3-instruct/all_outputs_rm.jsonl --test_prompts HuggingFaceH4/ultrafeedback_binarized --test_split test_prefs --out $(ONPOLICY_DIR)/llama3-instruct/dataset $(BINARIZE_ARGS)

# onpolicy-llama3-instruct-v0.2: on-policy data of llama3-instruct-v0.2 (regenerates princeton-nlp/llama3-ultrafeedback-armorm)
onpolicy-llama3-instruct-v0.2: setup
	$(PY) on_policy_data_gen/decode.py --model meta-llama/Meta-Llama-3-8B-Instruct --data HuggingFaceH4/ultrafeedback_binarized --splits train_prefs test_prefs --seeds 13 21 42 79 100 --temperature 0.8 --top_p 0.95 --max_new_tokens 4096 --out $(ONPOLICY_DIR)/llama3-instruct-v0.2/generations $(DECODE_ARGS)
	$(PY) on_policy_data_gen/post_process.py --generations $(ONPOLICY_DIR)/llama3-instruct-v0.2/generations --out $(ONPOLICY_DIR)/llama3-instruct-v0.2/all_outputs.jsonl
	$(PY) on_policy_data_gen/annotate.py --input $(ONPOLICY_DIR)/llama3-instruct-v0.2/all_outputs.jsonl --kind armorm --reward_model RLHFlow/ArmoRM-Llama3-8B-v0.1 --out $(ONPOLICY_DIR)/llama3-instruct-v0.2/all_outputs_rm.jsonl $(ANNOTATE_ARGS)
	$(PY) on_policy_data_gen/binarize.py --input $(ONPOLICY_DIR)/llama3-instruct-v0.2/all_outputs_rm.jsonl --test_prompts HuggingFaceH4/ultrafeedback_binarized --test_split test_prefs --out $(ONPOLICY_DIR)/llama3-instruct-v0.2/dataset $(BINARIZE_ARGS)

# onpolicy-gemma2-it: on-policy data of gemma2-it (regenerates princeton-nlp/gemma2-ultrafeedback-armorm)
onpolicy-gemma2-it: setup
	VLLM_ATTENTION_BACKEND=FLASHINFER $(PY) on_policy_data_gen/decode.py --model google/gemma-2-9b-it --data HuggingFaceH4/ultrafeedback_binarized --splits train_prefs test_prefs --seeds 13 21 42 79 100 --temperature 0.8 --top_p 0.95 --max_new_tokens 4096 --out $(ONPOLICY_DIR)/gemma2-it/generations $(DECODE_ARGS)
	$(PY) on_policy_data_gen/post_process.py --generations $(ONPOLICY_DIR)/gemma2-it/generations --out $(ONPOLICY_DIR)/gemma2-it/all_outputs.jsonl
	$(PY) on_policy_data_gen/annotate.py --input $(ONPOLICY_DIR)/gemma2-it/all_outputs.jsonl --kind armorm --reward_model RLHFlow/ArmoRM-Llama3-8B-v0.1 --out $(ONPOLICY_DIR)/gemma2-it/all_outputs_rm.jsonl $(ANNOTATE_ARGS)
	$(PY) on_policy_data_gen/binarize.py --input $(ONPOLICY_DIR)/gemma2-it/all_outputs_rm.jsonl --test_prompts HuggingFaceH4/ultrafeedback_binarized --test_split test_prefs --out $(ONPOLICY_DIR)/gemma2-it/dataset $(BINARIZE_ARGS)

# Rehearsals on CPU (prefopt/toy/rehearse): the cell's own rule with miniature models and mirrored data.
REHEARSE := rehearse-mistral-base-sft rehearse-mistral-base-rrhf rehearse-mistral-base-slic-hf rehearse-mistral-base-dpo \
  rehearse-mistral-base-ipo rehearse-mistral-base-cpo rehearse-mistral-base-kto rehearse-mistral-base-orpo \
  rehearse-mistral-base-r-dpo rehearse-mistral-base-simpo rehearse-mistral-base-lmpo rehearse-mistral-base-amapo \
  rehearse-mistral-instruct-rrhf rehearse-mistral-instruct-slic-hf rehearse-mistral-instruct-dpo \
  rehearse-mistral-instruct-ipo rehearse-mistral-instruct-cpo rehearse-mistral-instruct-kto \
  rehearse-mistral-instruct-orpo rehearse-mistral-instruct-r-dpo rehearse-mistral-instruct-simpo \
  rehearse-mistral-instruct-lmpo rehearse-mistral-instruct-amapo rehearse-mistral-instruct-dpo-random-half \
  rehearse-mistral-instruct-dpo-sams rehearse-llama3-base-sft rehearse-llama3-base-rrhf \
  rehearse-llama3-base-slic-hf rehearse-llama3-base-dpo rehearse-llama3-base-ipo rehearse-llama3-base-cpo \
  rehearse-llama3-base-kto rehearse-llama3-base-orpo rehearse-llama3-base-r-dpo rehearse-llama3-base-simpo \
  rehearse-llama3-base-lmpo rehearse-llama3-base-amapo rehearse-llama3-base-amapo-no-znorm \
  rehearse-llama3-base-amapo-no-exp-scaling rehearse-llama3-base-amapo-no-znorm-no-exp-scaling \
  rehearse-llama3-base-amapo-no-zero-margin-correct rehearse-llama3-instruct-rrhf \
  rehearse-llama3-instruct-slic-hf rehearse-llama3-instruct-dpo rehearse-llama3-instruct-ipo \
  rehearse-llama3-instruct-cpo rehearse-llama3-instruct-kto rehearse-llama3-instruct-orpo \
  rehearse-llama3-instruct-r-dpo rehearse-llama3-instruct-simpo rehearse-llama3-instruct-lmpo \
  rehearse-llama3-instruct-amapo rehearse-llama3-instruct-dpo-random-half rehearse-llama3-instruct-dpo-sams \
  rehearse-llama3-instruct-selective-dpo rehearse-llama3-instruct-selective-dpo-sams \
  rehearse-llama3-instruct-v0.2-rrhf rehearse-llama3-instruct-v0.2-slic-hf rehearse-llama3-instruct-v0.2-dpo \
  rehearse-llama3-instruct-v0.2-ipo rehearse-llama3-instruct-v0.2-cpo rehearse-llama3-instruct-v0.2-kto \
  rehearse-llama3-instruct-v0.2-orpo rehearse-llama3-instruct-v0.2-r-dpo rehearse-llama3-instruct-v0.2-simpo \
  rehearse-llama3-instruct-v0.2-dpo-random-half rehearse-llama3-instruct-v0.2-dpo-sams rehearse-gemma2-it-dpo \
  rehearse-gemma2-it-simpo rehearse-gemma2-it-ipo rehearse-gemma2-it-cpo rehearse-gemma2-it-kto \
  rehearse-gemma2-it-orpo rehearse-gemma2-it-r-dpo rehearse-gemma2-it-dpo-random-half \
  rehearse-gemma2-it-dpo-sams rehearse-pythia-2.8b-hh-dpo rehearse-pythia-2.8b-hh-dpo-sams \
  rehearse-pythia-2.8b-hh-kto rehearse-pythia-2.8b-hh-kto-sams rehearse-pythia-2.8b-hh-dpo-sams-select25 \
  rehearse-pythia-2.8b-hh-dpo-sams-select75 rehearse-pythia-2.8b-hh-dpo-sams-select100 \
  rehearse-pythia-2.8b-hh-dpo-sams-no-explore rehearse-pythia-2.8b-shp-dpo rehearse-pythia-2.8b-shp-dpo-sams \
  rehearse-pythia-2.8b-shp-kto rehearse-pythia-2.8b-shp-kto-sams rehearse-hh-base-rm rehearse-hh-apo-rm \
  rehearse-hh-base-rjs rehearse-hh-apo-rjs
.PHONY: $(REHEARSE)

$(REHEARSE): rehearse-%: | rehearse-setup
	$(PY) -m prefopt.toy.rehearse $* $(REHEARSE_ARGS)

# Benchmark entry points that no Makefile defines yet answer with what is missing (see the docstring of
# prefopt/cells_make.py); a typo in a cell name gets the last line.
pending_eval-alpaca := benchmark alpacaeval2 is not implemented yet (issue 5): no make target eval-alpaca
pending_eval-arenahard := benchmark arena-hard is not implemented yet (issue 5): no make target eval-arenahard
pending_eval-lmeval := benchmark open-llm-leaderboard is not implemented yet (issue 5): no make target eval-lmeval
pending_eval-mtbench := benchmark mt-bench is not implemented yet (issue 5): no make target eval-mtbench
pending_eval-pref-accuracy := benchmarks hh, shp are not implemented yet (issue 6): no make target eval-pref-accuracy
pending_eval-rm := benchmarks hh-test, hh-llm-valid are not implemented yet (issue 7): no make target eval-rm
pending_eval-rm-robustness := benchmark rm-robustness is not implemented yet (issue 17 (item 13)): no make target eval-rm-robustness
pending_eval-rm-score := benchmark hh-test is not implemented yet (issue 7): no make target eval-rm-score
pending_eval-rmbench := benchmark rm-bench is not implemented yet (issue 7): no make target eval-rmbench
pending_eval-zeroeval := benchmarks gsm8k, mmlu are not implemented yet (issue 17): no make target eval-zeroeval

eval-%:
	@echo "$(or $(pending_$@),no rule for $@: make list shows the cells)" >&2; exit 1
