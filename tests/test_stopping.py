"""Multi-epoch training with a stopping rule on a held-out metric (`epoch_stopping:`, prefopt.training.stopping):
the rule worked out by hand on scripted metric sequences, the callback on a scripted run, the config checks, and a
tiny DPO run that stops early and keeps its best epoch's weights."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import tiny_model_and_pairs
from transformers import TrainerControl, TrainerState

from prefopt.config import PreferenceConfig, build_config
from prefopt.config.stopping import EpochStoppingConfig
from prefopt.core.errors import InputError
from prefopt.training.stopping import EpochStoppingCallback, best_epoch, gain, hold_out, should_stop

# The worked example of the rule (epsilon 0.5 points, P 2): accuracies after epochs 1..5.
PAPER_LIKE = [60.1, 63.0, 64.2, 64.3, 64.25]


def test_rule_on_the_worked_example():
    # epoch 3: best 64.2 vs best up to epoch 1 (60.1): gain 4.1 -> go on
    # epoch 4: best 64.3 vs best up to epoch 2 (63.0): gain 1.3 -> go on
    # epoch 5: best 64.3 vs best up to epoch 3 (64.2): gain 0.1 < 0.5 -> stop; the best epoch is 4
    decisions = [should_stop(PAPER_LIKE[:e], patience=2, min_delta=0.5) for e in range(1, 6)]
    assert decisions == [False, False, False, False, True]
    assert [gain(PAPER_LIKE[:e], 2) for e in (1, 2)] == [None, None]   # nothing to compare before epoch P + 1
    assert gain(PAPER_LIKE[:3], 2) == pytest.approx(4.1)
    assert gain(PAPER_LIKE[:4], 2) == pytest.approx(1.3)
    assert gain(PAPER_LIKE, 2) == pytest.approx(0.1)
    assert best_epoch(PAPER_LIKE) == 4


def test_rule_edges():
    # patience 1 = "the last epoch did not beat the best before it by min_delta"
    assert not should_stop([0.5, 0.6], 1, 0.05)            # +0.10
    assert should_stop([0.5, 0.6, 0.62], 1, 0.05)           # +0.02
    # a drop counts as no gain (the best so far stays the earlier one): 0.6 -> 0.55 gains 0
    assert gain([0.5, 0.6, 0.55], 1) == 0.0 and should_stop([0.5, 0.6, 0.55], 1, 0.01)
    # min_delta 0: only an exact plateau or a drop of the best... which cannot happen: it never stops
    assert not any(should_stop([0.5, 0.5, 0.5][:e], 1, 0.0) for e in range(1, 4))
    # the first best wins a tie (transformers replaces the best checkpoint only on a strict improvement)
    assert best_epoch([0.7, 0.8, 0.8]) == 2
    # a metric where lower is better (eval_loss): 0.70, 0.60, 0.58 -> the best fell by 0.02 < 0.05: stop
    assert gain([0.7, 0.6, 0.58], 1, greater_is_better=False) == pytest.approx(0.02)
    assert should_stop([0.7, 0.6, 0.58], 1, 0.05, greater_is_better=False)
    assert best_epoch([0.7, 0.6, 0.58], greater_is_better=False) == 3


def test_hold_out_is_seeded_disjoint_and_keeps_order():
    rows = list(range(100))
    train, val = hold_out(rows, 0.1, seed=3)
    assert len(val) == 10 and len(train) == 90 and sorted(train + val) == rows
    assert val == sorted(val) and train == sorted(train)
    assert hold_out(rows, 0.1, seed=3) == (train, val) and hold_out(rows, 0.1, seed=4)[1] != val
    assert len(hold_out(list(range(10)), 0.01, seed=0)[1]) == 1   # at least one row
    with pytest.raises(ValueError):
        hold_out([1], 0.4, seed=0)


def _drive(values, cfg, tmp_path, resume_from=None):
    """Run the callback over scripted end-of-epoch evaluations; returns (epochs it let run, callback)."""
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"status": "running"}))
    cb = EpochStoppingCallback(cfg, "eval_rewards/accuracies", True, manifest)
    state, control = TrainerState(), TrainerControl()
    state.log_history = list(resume_from or [])

    class Args:
        num_train_epochs, load_best_model_at_end = 10, True

    cb.on_train_begin(Args, state, control)
    ran = len(state.log_history)
    for epoch, value in enumerate(values, 1):
        if epoch <= ran:
            continue
        state.epoch, state.global_step = float(epoch), 10 * epoch
        metrics = {"eval_rewards/accuracies": value, "eval_loss": 0.5}
        state.log_history.append({"epoch": float(epoch), "step": 10 * epoch, **metrics})
        cb.on_evaluate(Args, state, control, metrics=metrics)
        if control.should_training_stop:
            break
    cb.on_train_end(Args, state, control)
    cb.on_evaluate(Args, state, control, metrics={"eval_rewards/accuracies": 0.0})   # the final evaluation: ignored
    return epoch, state, json.loads(manifest.read_text())


def test_callback_stops_on_the_scripted_sequence_and_records_it(tmp_path):
    cfg = EpochStoppingConfig(patience=2, min_delta=0.005)
    fractions = [v / 100 for v in PAPER_LIKE] + [0.9, 0.9]   # epochs 6, 7 would have been better: never run
    epochs, state, manifest = _drive(fractions, cfg, tmp_path)
    assert epochs == 5
    rows = [r for r in state.log_history if "stopping/stop" in r]
    assert [r["stopping/stop"] for r in rows] == [0, 0, 0, 0, 1]
    assert rows[-1]["stopping/best_epoch"] == 4 and rows[-1]["stopping/gain"] == pytest.approx(0.001)
    record = manifest["epoch_stopping"]
    assert record["stopped_early"] and record["epochs_run"] == 5 and record["best_epoch"] == 4
    assert record["best"] == pytest.approx(0.643) and record["history"]["5"] == pytest.approx(0.6425)
    assert manifest["status"] == "running"   # the rest of the manifest is kept


def test_callback_continues_the_rule_after_a_resume(tmp_path):
    cfg = EpochStoppingConfig(patience=2, min_delta=0.005)
    fractions = [v / 100 for v in PAPER_LIKE]
    before = [{"epoch": float(e), "step": 10 * e, "eval_rewards/accuracies": v} for e, v in enumerate(fractions[:3], 1)]
    epochs, _, manifest = _drive(fractions, cfg, tmp_path, resume_from=before)
    assert epochs == 5 and manifest["epoch_stopping"]["history"] == pytest.approx(
        {str(e): v for e, v in enumerate(fractions, 1)})


def test_callback_without_a_plateau_runs_every_epoch(tmp_path):
    epochs, _, manifest = _drive([0.5, 0.6, 0.7, 0.8], EpochStoppingConfig(patience=1, min_delta=0.05), tmp_path)
    assert epochs == 4 and not manifest["epoch_stopping"]["stopped_early"]


# ---- config checks ---------------------------------------------------------------------------------------------

BASE = {"model_name_or_path": "m", "dataset": "d", "loss": "dpo", "report_to": "none", "use_cpu": True,
        "eval_strategy": "epoch", "save_strategy": "epoch", "metric_for_best_model": "eval_rewards/accuracies",
        "load_best_model_at_end": True, "epoch_stopping": {"patience": 2, "min_delta": 0.005}}


@pytest.mark.parametrize("change, message", [
    ({"eval_strategy": "steps", "save_strategy": "steps", "load_best_model_at_end": False}, "eval_strategy: epoch"),
    ({"metric_for_best_model": None, "load_best_model_at_end": False}, "metric_for_best_model"),
    ({"eval_split": None}, "eval_split is null"),
    ({"epoch_stopping": {"patience": 0}}, "epoch_stopping.patience must be >= 1"),
    ({"epoch_stopping": {"patiense": 2}}, "did you mean epoch_stopping.patience"),
    ({"epoch_stopping": {"split": "dev"}}, "epoch_stopping.split must be one of"),
])
def test_config_errors_name_the_key(change, message):
    with pytest.raises(InputError, match=message.replace(".", r"\.")):
        build_config(dict(BASE, **change), "stop.yaml", PreferenceConfig)


def test_a_valid_block_parses():
    _, _, train = build_config(dict(BASE), "stop.yaml", PreferenceConfig)
    assert train.epoch_stopping == {"patience": 2, "min_delta": 0.005}


# ---- end to end: a tiny DPO run that stops early ---------------------------------------------------------------


def test_tiny_dpo_stops_when_test_accuracy_converges_and_keeps_the_best_epoch(tmp_path):
    """The tiny model learns 'stop after the answer' in an epoch or two, then test accuracy stops rising (at this lr it
    falls back: 0.78, 0.84, 0.78, 0.72 on 2 cores). The run stops at the first epoch the rule names, long before its
    8 epochs, and saves the best epoch's weights, not the last ones (about 2 s of CPU)."""
    from safetensors.torch import load_file

    from prefopt.training.preference import train_preference

    model_dir, data = tiny_model_and_pairs(tmp_path, 64, 32)
    out = tmp_path / "run"
    raw = {"model_name_or_path": str(model_dir), "dataset": str(data), "eval_split": "test", "loss": "dpo",
           "beta": 0.1, "learning_rate": 2e-4, "lr_scheduler_type": "constant", "num_train_epochs": 8,
           "per_device_train_batch_size": 16, "per_device_eval_batch_size": 32, "max_length": 32,
           "max_prompt_length": 16, "use_cpu": True, "report_to": "none", "seed": 0, "logging_steps": 4,
           "eval_strategy": "epoch", "save_strategy": "epoch", "load_best_model_at_end": True,
           "metric_for_best_model": "eval_rewards/accuracies", "greater_is_better": True,
           "reference_cache": "off", "output_dir": str(out),
           "epoch_stopping": {"patience": 2, "min_delta": 0.02}}
    train_preference(*build_config(raw, "tiny-stop.yaml", PreferenceConfig))
    record = json.loads((out / "manifest.json").read_text())["epoch_stopping"]
    epochs = record["epochs_run"]
    history = [record["history"][str(e)] for e in range(1, epochs + 1)]
    assert record["stopped_early"] and epochs < 8
    # it stopped at the first epoch where the rule says so
    assert [should_stop(history[:e], 2, 0.02) for e in range(1, epochs + 1)] == [False] * (epochs - 1) + [True]
    assert record["best_epoch"] == best_epoch(history) and record["best"] == max(history) > 0.7
    log = json.loads((out / "log_history.json").read_text())["log_history"]
    assert max(r["epoch"] for r in log if "loss" in r) <= epochs   # no training step after the stop
    assert [r["stopping/stop"] for r in log if "stopping/stop" in r] == [0] * (epochs - 1) + [1]
    # the saved model is the best epoch's checkpoint (4 steps per epoch), and the final evaluation scores it
    best_ckpt = out / f"checkpoint-{4 * record['best_epoch']}"
    saved, best = load_file(out / "model.safetensors"), load_file(best_ckpt / "model.safetensors")
    assert all(torch.equal(saved[k], best[k]) for k in best)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["eval_rewards/accuracies"] == pytest.approx(record["best"])
    if record["best_epoch"] < epochs:   # the last epoch was worse: its weights were not the ones kept
        last = load_file(out / f"checkpoint-{4 * epochs}" / "model.safetensors")
        assert any(not torch.equal(saved[k], last[k]) for k in last)


def test_validation_split_holds_out_training_rows_instead_of_the_eval_split():
    from types import SimpleNamespace

    from prefopt.training.run import load_splits

    class Report:
        def as_dict(self):
            return {}

    calls = []

    def load(source, split, limit):
        calls.append(split)
        return [f"{split}-{i}" for i in range(50)], Report()

    data = SimpleNamespace(dataset="d", train_split="train", eval_split="test", eval_dataset=None,
                           max_train_samples=None, max_eval_samples=None)
    args = SimpleNamespace(epoch_stopping={"split": "validation", "validation_fraction": 0.1}, data_seed=None, seed=7)
    train, val, report = load_splits(data, load, args)
    assert calls == ["train"]                       # the test split is not read: it stays out of epoch selection
    assert (train, val) == hold_out([f"train-{i}" for i in range(50)], 0.1, 7) and len(val) == 5
    assert report["eval"] == {"held_out_from": "train", "fraction": 0.1, "seed": 7, "rows": 5, "train_rows_left": 45}
    args.epoch_stopping = {"split": "test"}
    train, val, _ = load_splits(data, load, args)
    assert len(train) == 50 and val[0] == "test-0"
