"""Selective DPO under `accelerate launch` with the cells' DeepSpeed ZeRO-3 config on 2 CPU ranks (slow; needs
deepspeed). The selection trains its reference runs in the cell's own process, then the cell: three Trainers, so
three Accelerators, in one DeepSpeed launch. The first fresh-clone rehearsal stopped both Selective DPO cells at
the cell's own trainer with accelerate's "You cannot pass in a `deepspeed_plugin` when creating a second
`Accelerator`", after both reference runs had finished."""

from __future__ import annotations

import importlib.util
import json

import pytest
from conftest import tiny_model_and_pairs
from test_resume import DRIVER
from test_resume_deepspeed import _launch
from test_selection import _short_selection, _tiny_source

from prefopt.toy.rehearse.runner import free_port
from prefopt.training.selection import SELECTION_FILE

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("deepspeed") is None,
                       reason="deepspeed is not installed (make test-slow installs requirements/deepspeed-cpu.txt)"),
]


def test_selective_dpo_selects_then_trains_in_one_zero3_launch(tmp_path):
    model_dir, _ = tiny_model_and_pairs(tmp_path, 1)
    source = _tiny_source(tmp_path, 16)
    (tmp_path / "driver.py").write_text(DRIVER)
    raw, selected = _short_selection(tmp_path, model_dir, source, max_steps=2, per_device_train_batch_size=2,
                                        gradient_accumulation_steps=2)  # as _launch passes to accelerate
    cfg = tmp_path / "selective-dpo.yaml"
    cfg.write_text(json.dumps(raw))  # JSON is YAML
    out = tmp_path / "cell"
    p = _launch(tmp_path, cfg, out, free_port())
    assert p.returncode == 0, p.stderr[-4000:]
    record = json.loads((selected / SELECTION_FILE).read_text())
    assert record["kept"] == 8 and len(record["reference_runs"]) == 2
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["launch"]["distributed_type"] == "DEEPSPEED"
    assert manifest["data"]["train"]["kept"] == 8
