"""The SamS scheduler pretrained during SFT (`sample_scheduler: {mode: sft}` in an SFT config, SamS App. F.3 for an
existing preference data set): SFT trains exactly as without it, the scheduler's networks learn, its label is the
SFT-loss reward worked out by hand, and a dpo-sams run loads what the SFT run wrote."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch
from conftest import tiny_model_and_pairs
from safetensors.torch import load_file

from prefopt.config import PreferenceConfig, SFTConfig, build_config
from prefopt.core.errors import InputError
from prefopt.training.sams import WEIGHTS_FILE, SampleSchedulerHook, SamSScheduler

TINY_SCHED = {"mode": "sft", "reward_loss": "sft", "encoder_dim": 16, "encoder_heads": 2, "connector_dim": 32,
              "width": 32, "depth": 3, "block_size": 4, "pool_size": 8, "pool_batches": 2, "train_steps": 2,
              "dropout": 0.3}   # dropout draws random numbers: they must not disturb SFT's


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny model, its preference pairs, and SFT rows made of the pairs' chosen responses."""
    root = tmp_path_factory.mktemp("sams-sft")
    model_dir, pairs = tiny_model_and_pairs(root, 64, 16)
    sft = root / "sft-data"
    sft.mkdir()
    rows = [json.loads(line) for line in (pairs / "train.jsonl").read_text().splitlines()]
    (sft / "train.jsonl").write_text("".join(json.dumps({"messages": r["prompt"] + r["chosen"]}) + "\n" for r in rows))
    return root, model_dir, pairs, sft


def _sft(root: Path, model_dir, sft_data, name: str, **extra):
    from prefopt.training.sft import train_sft

    raw = {"model_name_or_path": str(model_dir), "dataset": str(sft_data), "eval_split": None, "max_length": 32,
           "learning_rate": 1e-3, "lr_scheduler_type": "constant", "max_steps": 16, "per_device_train_batch_size": 8,
           "logging_steps": 2, "save_strategy": "no", "report_to": "none", "use_cpu": True, "seed": 0,
           "output_dir": str(root / name), **extra}
    metrics = train_sft(*build_config(raw, f"{name}.yaml", SFTConfig))
    return metrics, json.loads((root / name / "log_history.json").read_text())["log_history"]


def test_sft_mode_leaves_sft_unchanged_and_trains_the_scheduler(tiny):
    root, model_dir, _, sft = tiny
    # attention dropout in the policy: SFT's random draws would shift if the scheduler's dropout shared its stream
    noisy = root / "tiny-dropout"
    shutil.copytree(model_dir, noisy, dirs_exist_ok=True)
    config = json.loads((noisy / "config.json").read_text())
    (noisy / "config.json").write_text(json.dumps(dict(config, attention_dropout=0.2)))
    _, plain_log = _sft(root, noisy, sft, "plain")
    _, sched_log = _sft(root, noisy, sft, "with-scheduler", sample_scheduler=TINY_SCHED)
    # the same SFT, bit for bit: every logged loss and every final weight (16 steps of 8 sequences, 2 epochs)
    assert [r["loss"] for r in plain_log if "loss" in r] == [r["loss"] for r in sched_log if "loss" in r]
    a, b = load_file(root / "plain" / "model.safetensors"), load_file(root / "with-scheduler" / "model.safetensors")
    assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)
    assert not (root / "plain" / WEIGHTS_FILE).exists()
    # the scheduler learned: its networks moved from their seeded initialisation, it logged its fit
    saved = torch.load(root / "with-scheduler" / WEIGHTS_FILE, weights_only=True)
    hook = SampleSchedulerHook(dict(TINY_SCHED, seed=0), saved["d_model"])
    fresh = hook.scheduler.f.state_dict()
    moved = [k for k in fresh if not torch.equal(fresh[k], saved["f"][k])]
    assert any(k.startswith("encoder.") for k in moved) and any(k.startswith("out.") for k in moved)
    assert saved["config"]["mode"] == "sft"
    logged = [r for r in sched_log if "sams/train_mse_f" in r]
    assert logged and all(r["sams/selected_fraction"] == 1.0 for r in logged)


def test_sft_mode_label_is_the_batch_reward_by_hand():
    # Two micro-batches of 2 sequences. Token-mean NLLs [1, 2] then [0.5, 1]:
    # C_1 = (e^1 + e^2)/2 = (2.718282 + 7.389056)/2 = 5.053669, C_2 = (e^0.5 + e^1)/2 = (1.648721 + 2.718282)/2
    # = 2.183502; r_B = (C_1 - C_2)/max(|C_1|, |C_2|) = 2.870167/5.053669 = 0.567937.
    # The sample term's two parts carry the same quantity (log pi(y|x) = [-8, -3]): with delta 0.5,
    # 0.5 g(s) + 0.5 (1 - g(s)) = 0.5 for both. y = 0.5 sigma(50 * 0.567937 + 0.5) + 0.5 sigma(0.5)
    # = 0.5 * 1.0000000 + 0.5 * 0.6224593 = 0.8112297 for both sequences of batch 1.
    hook = SampleSchedulerHook(dict(TINY_SCHED, train_steps=0), d_model=4)
    hidden = (torch.zeros(2, 3, 4), torch.randn(2, 3, 4))
    mask = torch.tensor([[0, 1, 1], [0, 1, 1]])
    hook.observe_sft(hidden, mask, torch.tensor([1.0, 2.0]), torch.tensor([-8.0, -3.0]))
    c1 = (math.e + math.e**2) / 2
    assert hook.scheduler.prev["stat"] == pytest.approx(c1)
    c2 = (math.exp(0.5) + math.e) / 2
    y, r_b = hook.scheduler.labels(c2)
    assert r_b == pytest.approx(0.567937, abs=1e-6)
    assert y.tolist() == pytest.approx([0.8112297, 0.8112297], abs=1e-6)


def test_sft_mode_does_not_advance_the_global_rng():
    hook = SampleSchedulerHook(TINY_SCHED, d_model=4)
    hidden = (torch.zeros(4, 3, 4), torch.randn(4, 3, 4))
    mask = torch.ones(4, 3, dtype=torch.long)
    nlls = [torch.rand(4) for _ in range(3)]
    torch.manual_seed(1)
    for nll in nlls:  # from the second call on the networks train, with dropout 0.3
        hook.observe_sft(hidden, mask, nll, -4 * nll)
    assert hook.scheduler.metrics["sams/train_mse_f"] > 0   # they did train
    after = torch.rand(1)
    torch.manual_seed(1)
    assert torch.equal(after, torch.rand(1))


def test_sft_then_dpo_sams_loads_the_scheduler_the_sft_run_wrote(tiny):
    """The Pythia chain in small: SFT(+scheduler) writes <sft>/sams_scheduler.pt; dpo-sams starts from the SFT model
    and loads exactly those networks through init_from (freeze_encoder, as the configs do)."""
    from prefopt.training.preference import train_preference

    root, model_dir, pairs, sft = tiny
    _sft(root, model_dir, sft, "chain-sft", sample_scheduler=TINY_SCHED)
    network = {k: v for k, v in TINY_SCHED.items() if k not in ("mode", "reward_loss")}
    loaded = []
    original = SamSScheduler.load_weights

    def spy(self, path):
        original(self, path)
        loaded.append({k: v.clone() for k, v in self.f.state_dict().items()})

    raw = {"model_name_or_path": str(root / "chain-sft"), "dataset": str(pairs), "eval_split": None, "loss": "dpo",
           "beta": 0.5, "max_length": 32, "max_prompt_length": 12, "learning_rate": 1e-3, "max_steps": 2,
           "per_device_train_batch_size": 8, "report_to": "none", "use_cpu": True, "save_strategy": "no",
           "reference_cache": "off", "output_dir": str(root / "chain-dpo-sams"),
           "sample_scheduler": {**network, "init_from": str(root / "chain-sft"), "freeze_encoder": True}}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(SamSScheduler, "load_weights", spy)
        train_preference(*build_config(raw, "dpo-sams.yaml", PreferenceConfig))
    saved = torch.load(root / "chain-sft" / WEIGHTS_FILE, weights_only=True)
    assert len(loaded) == 1 and all(torch.equal(loaded[0][k], saved["f"][k]) for k in saved["f"])


def test_the_modes_belong_to_their_scripts():
    sft = {"model_name_or_path": "m", "dataset": "d", "report_to": "none", "use_cpu": True}
    with pytest.raises(InputError, match="sample_scheduler.mode must be 'sft'"):
        build_config(dict(sft, sample_scheduler={"mode": "select"}), "sft.yaml", SFTConfig)
    with pytest.raises(InputError, match="sample_scheduler.reward_loss must be 'sft'"):
        build_config(dict(sft, sample_scheduler={"mode": "sft"}), "sft.yaml", SFTConfig)
    with pytest.raises(InputError, match="sample_scheduler.name must be 'sams'"):
        build_config(dict(sft, sample_scheduler={"name": "random", "mode": "sft", "reward_loss": "sft"}), "sft.yaml",
                     SFTConfig)
    with pytest.raises(InputError, match="mode sft belongs to an SFT config"):
        build_config(dict(sft, loss="dpo", sample_scheduler={"mode": "sft", "reward_loss": "sft"}), "dpo.yaml",
                     PreferenceConfig)
    _, _, train = build_config(dict(sft, sample_scheduler={"mode": "sft", "reward_loss": "sft"}), "sft.yaml", SFTConfig)
    assert train.sample_scheduler["mode"] == "sft"
