"""PreferenceTrainer restores its extra run state (a stateful loss's statistics, a sample scheduler) on entry to
`train()`, before transformers chooses a launcher-specific load path (issue 20, item 1).

transformers 5.23 (`Trainer.train`, `_prepare_for_training`): plain and DDP runs load weights through
`_load_from_checkpoint`; DeepSpeed through `deepspeed_load_checkpoint` only; FSDP through `_load_from_checkpoint`
after wrapping. The end-to-end ZeRO-3 check is tests/test_resume_deepspeed.py (slow); this one pins the contract
cheaply: the state is in place when `Trainer.train` starts, whichever path it then takes.
"""

from __future__ import annotations

import logging
import os

import pytest
import torch
from conftest import tiny_model_and_pairs
from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer

from prefopt.training.trainer import STATE_FILE, PreferenceTrainer


@pytest.fixture()
def lmpo_trainer(tmp_path):
    from datasets import Dataset
    from test_trainer import MAX_LEN, _config

    from prefopt.data import load_pairs, tokenize_pairs

    model_dir, data = tiny_model_and_pairs(tmp_path, 8)
    _, _, args = _config(tmp_path, model_dir, data, "lmpo", beta=2.0, gamma_beta_ratio=0.5)
    tok = AutoTokenizer.from_pretrained(model_dir)
    rows, _ = tokenize_pairs(load_pairs(str(data), split="train"), tok, max_length=MAX_LEN, max_prompt_length=12)
    return PreferenceTrainer(model=AutoModelForCausalLM.from_pretrained(model_dir), args=args, processing_class=tok,
                             train_dataset=Dataset.from_list(rows))


def test_state_is_restored_before_trainer_train_runs(lmpo_trainer, tmp_path, monkeypatch):
    trainer = lmpo_trainer
    ckpt = tmp_path / "checkpoint-4"
    ckpt.mkdir()
    saved = {"a": torch.tensor([0.25, -1.5]), "b": torch.tensor(3.0)}
    torch.save(saved, ckpt / STATE_FILE)
    seen = {}

    def fake_train(self, resume_from_checkpoint=None, trial=None, ignore_keys_for_eval=None):
        seen["state"] = {k: v.clone() for k, v in self.loss_state.items()}
        seen["resume"] = resume_from_checkpoint

    # stands in for every launcher's path; the DeepSpeed one never calls _load_from_checkpoint
    monkeypatch.setattr(Trainer, "train", fake_train)
    trainer.train(resume_from_checkpoint=str(ckpt))
    assert seen["resume"] == str(ckpt)
    assert seen["state"].keys() == saved.keys() and all(torch.equal(seen["state"][k], saved[k]) for k in saved)


def test_true_resolves_to_the_last_checkpoint_and_a_missing_file_is_reported(lmpo_trainer, monkeypatch, caplog):
    trainer = lmpo_trainer
    out = trainer.args.output_dir
    os.makedirs(os.path.join(out, "checkpoint-2"))
    seen = {}
    monkeypatch.setattr(Trainer, "train", lambda self, r=None, *a: seen.setdefault("resume", r))
    with caplog.at_level(logging.WARNING, logger="prefopt"):
        trainer.train(resume_from_checkpoint=True)
    assert seen["resume"] == os.path.join(out, "checkpoint-2")
    assert f"without {STATE_FILE}" in caplog.text and trainer.loss_state == {}
