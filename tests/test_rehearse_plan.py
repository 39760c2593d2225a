"""What `make rehearse-<cell>` runs (prefopt.toy.rehearse.plan / shrink), checked without running it: the cell's own
make rule with only shrink, relocation and CPU-substitute overrides; chains; eval targets; path keys; the
cluster summary; and the generated make rules."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from prefopt.reproduce.cells import load_registry
from prefopt.toy.rehearse import plan as P
from prefopt.toy.rehearse import shrink

REPO = Path(__file__).resolve().parents[1]
ROOT = Path("/r")


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def _args(step) -> list[str]:
    """The --key=value words of a `make <cell> ARGS=...` step, as the recipe's shell splits them."""
    value = next(a for a in step.argv if a.startswith("ARGS="))[len("ARGS="):]
    return shlex.split(value.replace("$$", "$"))


def test_a_cell_runs_its_own_rule_with_only_shrinking_overrides(registry):
    p = P.plan_cell(registry.cells["llama3-instruct-lmpo"], registry, ROOT)
    full, kill, resume = p.steps[:3]
    assert full.argv[:3] == ["make", "--no-print-directory", "llama3-instruct-lmpo"]
    assert "LAUNCH_ARGS=--num_processes=2 --main_process_port={port}" in full.argv
    assert _args(full) == ["--max_steps=3", "--save_steps=1", "--logging_steps=1", "--eval_steps=2",
                           "--max_eval_samples=4", "--max_length=128", "--max_prompt_length=64",
                           "--gradient_accumulation_steps=2", "--attn_implementation=sdpa", "--use_cpu=true",
                           "--output_dir=/r/outputs/llama3-instruct/lmpo"]
    # per_device_train_batch_size 1 stays: LMPO's statistics are taken over the gathered per-device micro-batch
    assert "per_device_train_batch_size" not in p.changes
    assert {why for _, _, why in p.changes.values()} == {"shrink", "CPU substitute", "relocate"}
    assert (kill.kind, resume.kind) == ("kill", "resume") and kill.argv == resume.argv
    assert _args(kill)[-1] == "--output_dir=/r/outputs/llama3-instruct/lmpo-resumed"
    assert p.launcher == {"config": "accelerate_configs/deepspeed_zero3.yaml", "type": "DEEPSPEED", "zero_stage": 3,
                          "offload": False, "mixed_precision": "bf16", "processes": 2, "cluster_processes": 8}
    assert p.family == "pairwise stateful reference-free"


def test_the_sams_scheduler_shrinks_and_its_pretraining_runs_first(registry):
    p = P.plan_cell(registry.cells["mistral-instruct-dpo-sams"], registry, ROOT)
    stage = p.steps[0]
    assert stage.name == "stage training_configs/mistral-instruct/sams-pretrain.yaml"
    assert stage.argv[1:5] == ["launch", "--config_file", "accelerate_configs/deepspeed_zero3.yaml",
                               "--num_processes=2"] and "scripts/run_po.py" in stage.argv
    block = p.changes["sample_scheduler"][1]
    assert (block["width"], block["depth"], block["connector_dim"], block["pool_size"]) == (64, 3, 32, 8)
    assert block["encoder"] == "minilm" and block["block_size"] == 16  # kept: the real encoder, the released blocks
    assert block["init_from"] == "/r/outputs/mistral-instruct/sams-pretrain" == stage.output_dir
    assert p.family == "pairwise reference-based + sams scheduler"


def test_chains_prepare_sft_and_rejection_sampling(registry):
    p = P.plan_cell(registry.cells["pythia-2.8b-shp-kto-sams"], registry, ROOT)
    names = [s.name for s in p.steps[:3]]
    # the SFT stage pretrains the SamS scheduler (sample_scheduler mode sft); kto-sams loads both from its folder
    assert names == ["prepare data/pythia-2.8b-shp", "stage training_configs/pythia-2.8b-shp/sft.yaml",
                     "train (uninterrupted)"]
    assert p.steps[0].argv[1:4] == ["scripts/prepare_pref_data.py", "shp", "/r/data/pythia-2.8b-shp"]
    assert "--config_file" in p.steps[1].argv and "accelerate_configs/fsdp.yaml" in p.steps[1].argv
    stage_block = next(w for w in p.steps[1].argv if w.startswith("--sample_scheduler="))
    assert '"mode":"sft"' in stage_block and '"width":64' in stage_block  # shrunk as the policy's scheduler is
    assert p.changes["sample_scheduler"][1]["init_from"] == "/r/outputs/pythia-2.8b-shp/sft" == p.steps[1].output_dir
    done: set[str] = set()
    first = P.plan_cell(registry.cells["pythia-2.8b-shp-dpo"], registry, ROOT, done=done)
    again = P.plan_cell(registry.cells["pythia-2.8b-shp-kto"], registry, ROOT, done=done)
    assert first.steps[0].kind == "prepare" and again.steps[0].name == "train (uninterrupted)"  # built once

    rjs = P.plan_cell(registry.cells["hh-apo-rjs"], registry, ROOT)
    assert rjs.steps[0].name == "stage training_configs/llama-7b-hh-rm/rm-apo.yaml"
    assert "accelerate_configs/deepspeed_zero3_offload.yaml" in rjs.steps[0].argv  # the RM cell's own launcher
    make_vars = dict(a.split("=", 1) for a in rjs.steps[1].argv[3:] if a.startswith("RJS"))
    assert make_vars["RJS_DATA"] == "/r/outputs/alpaca-7b-hh/rjs-data"
    assert "--reward_model=/r/outputs/llama-7b-hh-rm/rm-apo" in make_vars["RJS_ARGS"]


def test_eval_targets_use_the_cells_template_generation_and_an_offline_judge(registry):
    p = P.plan_cell(registry.cells["gemma2-it-simpo"], registry, ROOT)
    evals = {s.benchmark: s for s in p.steps if s.kind == "eval"}
    alpaca = evals["alpacaeval2"].argv
    assert alpaca[:3] == ["make", "--no-print-directory", "eval-alpaca"]
    assert "TEMPLATE=gemma" in alpaca and "MODEL=/r/outputs/gemma2-9b-it/simpo" in alpaca
    assert ("GENERATION=do_sample=true temperature=0.5 top_p=1.0 max_new_tokens=4096 stop_token_ids=1,107"
            in alpaca)
    assert "JUDGE=hf:meta-llama/Meta-Llama-3-8B-Instruct" in alpaca and "MAX_NEW_TOKENS=16" in alpaca
    assert "JUDGE=rule:length" in evals["arena-hard"].argv
    # ZeroEval's rows are a hub dataset with no offline copy: listed with the reason, not run
    assert "yuchenlin/zero-eval" in evals["gsm8k"].skip and evals["gsm8k"].argv[2] == "eval-zeroeval"
    rm = {s.benchmark: s for s in P.plan_cell(registry.cells["mistral-base-dpo"], registry, ROOT).steps}
    assert rm["rm-robustness"].skip is None and rm["rm-robustness"].argv[2] == "eval-rm-robustness"
    lmeval = {s.benchmark: s for s in P.plan_cell(registry.cells["mistral-instruct-dpo"], registry, ROOT).steps}
    assert "hub" in lmeval["open-llm-leaderboard"].skip


def test_per_epoch_cells_keep_their_epoch_rules_with_one_step_per_epoch(registry):
    p = P.plan_cell(registry.cells["pythia-2.8b-hh-dpo"], registry, ROOT)
    # epoch_stopping and load_best_model_at_end need saving and evaluating per epoch: kept; 4 per device x 2
    # ranks x 2 accumulation = 16 rows make an epoch one step, so 3 steps are 3 epochs with a checkpoint each
    assert "save_strategy" not in p.changes and "save_steps" not in p.changes
    assert p.changes["max_train_samples"][1] == 16 and p.changes["max_steps"][1] == 3


def test_selective_dpo_runs_its_selection_shrunk_as_a_path_of_its_own(registry):
    p = P.plan_cell(registry.cells["llama3-instruct-selective-dpo"], registry, ROOT)
    block = p.changes["data_selection"][1]
    assert block["seeds"] == [0] and block["evals_per_run"] == 2 and block["keep_fraction"] == 0.5
    assert block["work_dir"] == "/r/outputs/llama3-instruct/selective-dpo-selection"
    assert p.changes["dataset"][1] == "/r/outputs/llama3-instruct/selective-dpo-selection/selected"
    assert p.family == "pairwise reference-based + data selection"


def test_every_trainable_cell_is_on_exactly_one_path(registry):
    cells = P.trainable(registry)
    shared = P.paths([P.plan_cell(c, registry, ROOT) for c in cells])
    listed = [c for v in shared.values() for c in v]
    assert sorted(listed) == sorted(c.id for c in cells) and len(listed) == len(set(listed))
    key = next(k for k, v in shared.items() if "mistral-base-ipo" in v)
    assert key[1] == "pairwise reference-based" and shared[key] == ["mistral-base-ipo", "mistral-base-r-dpo"]
    # DPO also trains the same way, but AMaPO's table adds rm-robustness to its benchmarks: a path of its own
    assert next(k for k, v in shared.items() if "mistral-base-dpo" in v)[3][-1] == "rm-robustness"
    assert len(shared) < len(cells)


def test_cluster_summary_by_hand(registry):
    p = P.plan_cell(registry.cells["mistral-base-dpo"], registry, ROOT)
    c = p.cluster
    # 8 GPUs x 8 per device x 2 accumulation = 128; 61,135 train_prefs rows -> ceil(61135 / 128) = 478 steps
    assert (c["gpus"], c["global_batch"], c["train_rows"], c["steps"]) == (8, 128, 61135, 478)
    assert c["max_tokens"] == 478 * 128 * 1024 * 2
    text = P.summary_text("mistral-base-dpo", c)
    assert "global batch 128" in text and "about 478 steps" in text


def test_relocation_moves_outputs_and_prepared_data_but_not_mirrored_files():
    raw = {"output_dir": "outputs/a/b", "dataset": "data/pythia-2.8b-hh/sft", "apo_dataset": "data/apo/hh-split/x.json",
           "model_name_or_path": "meta-llama/Meta-Llama-3-8B", "sample_scheduler": {"init_from": "outputs/a/pre"}}
    moved = shrink.relocate(raw, ROOT)
    assert moved["output_dir"] == "/r/outputs/a/b" and moved["dataset"] == "/r/data/pythia-2.8b-hh/sft"
    assert moved["apo_dataset"] == raw["apo_dataset"] and moved["model_name_or_path"] == raw["model_name_or_path"]
    assert moved["sample_scheduler"]["init_from"] == "/r/outputs/a/pre"


def test_generated_rules_have_a_rehearsal_per_trainable_cell(registry):
    text = (REPO / "make" / "cells.mk").read_text()
    for c in registry.cells.values():
        assert (f"rehearse-{c.id}" in text) == (c.train == "config"), c.id
    assert "$(REHEARSE): rehearse-%: | rehearse-setup" in text
    assert "--out $(ONPOLICY_DIR)/gemma2-it/dataset" in text and "RESULTS_DIR ?= results/reproduced" in text


def test_an_sft_cell_caps_the_prompt_budget_too(registry):
    """SFT configs leave max_prompt_length at its default (512) and write it to the manifest; the rm-robustness eval
    of mistral-base-sft tokenized like that training (max_length 128, prompt budget 512) and stopped with "no room
    for the response" on the first fresh-clone rehearsal. Every shrunk config caps both."""
    p = P.plan_cell(registry.cells["mistral-base-sft"], registry, ROOT)
    words = _args(p.steps[0])
    assert "--max_length=128" in words and "--max_prompt_length=64" in words
