"""Exact resume under DeepSpeed ZeRO-3 (2 CPU ranks, gloo) for methods with extra run state (issue 20, item 1).

transformers 5.23's `Trainer.train` loads a DeepSpeed checkpoint with `deepspeed_load_checkpoint` and never calls
`_load_from_checkpoint` on that path, so state restored only there (LMPO's running margin statistics, a SamS
scheduler's networks and replay pool) would silently restart from scratch. Each run here is a real
`accelerate launch --config_file accelerate_configs/deepspeed_zero3.yaml scripts/run_po.py`; the killed run is
SIGKILLed on both ranks after step 6 (last checkpoint: step 4), resumed, and must log bit-identical per-step
losses and metrics to the uninterrupted run under the same launcher.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import tiny_model_and_pairs
from test_resume import DRIVER, LMPO, REPO, STEPS, _cfg, _trajectory

from prefopt.training.checkpoint import last_complete_checkpoint
from prefopt.training.trainer import SAMPLE_SCHEDULER_STATE_FILE, STATE_FILE

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("deepspeed") is None,
                       reason="deepspeed is not installed (make test-slow installs requirements/deepspeed-cpu.txt)"),
]

# A small SamS scheduler trained from scratch (no pretraining run needed): its networks, pool and RNG all change
# every step, so a resume that forgets them picks different pairs and logs different losses.
SAMS = {"encoder_dim": 16, "encoder_heads": 2, "connector_dim": 32, "width": 32, "depth": 3, "block_size": 4,
        "pool_size": 8, "pool_batches": 2, "train_steps": 2, "select_ratio": 0.5, "selection": "sample"}
CASES = {"lmpo": ("lmpo", LMPO, STATE_FILE), "dpo-sams": ("dpo", {"beta": 0.3, "sample_scheduler": SAMS}, SAMPLE_SCHEDULER_STATE_FILE)}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds-resume")
    model_dir, data = tiny_model_and_pairs(root, 48)
    (root / "driver.py").write_text(DRIVER)
    return root, model_dir, data


def _launch(root: Path, cfg: Path, out: Path, port: int, kill_at: int = 0):
    import ninja  # DeepSpeed JIT-compiles its CPU comm op with ninja (cached under ~/.cache/torch_extensions)

    env = {"PATH": f"{ninja.BIN_DIR}:{os.path.dirname(sys.executable)}:/usr/bin:/bin", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "OMP_NUM_THREADS": "1", "DS_ACCELERATOR": "cpu", "HOME": os.environ.get("HOME", str(root)),
           "PREFOPT_CACHE": str(root / "cache"), "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
           "KILL_AT_STEP": str(kill_at), "KILL_DURING_SAVE": "0",
           # the JIT-built comm op: `make test-slow` keeps it in the checkout's cache (see the Makefile)
           **{k: os.environ[k] for k in ("TORCH_EXTENSIONS_DIR",) if k in os.environ}}
    # The cluster config itself, scaled to 2 CPU ranks in fp32 (bit-exactness; bf16 on CPU is not the point here).
    cmd = [sys.executable, "-m", "accelerate.commands.launch",
           "--config_file", str(REPO / "accelerate_configs/deepspeed_zero3.yaml"),
           "--num_processes=2", "--mixed_precision=no", f"--main_process_port={port}",
           "--gradient_accumulation_steps=2", "--gradient_clipping=1.0",
           str(root / "driver.py"), str(REPO / "scripts/run_po.py"), str(cfg), f"--output_dir={out}"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=root, env=env)


@pytest.mark.parametrize("case", list(CASES))
def test_zero3_sigkill_then_resume_is_bitwise_identical(setup, case):
    root, model_dir, data = setup
    loss, over, state_file = CASES[case]
    cfg = _cfg(root, model_dir, data, loss, **over)
    cfg = cfg.rename(root / f"{case}.yaml")
    port = 29700 + 10 * list(CASES).index(case)
    full, cut = root / f"{case}-full", root / f"{case}-cut"

    p = _launch(root, cfg, full, port)
    assert p.returncode == 0, p.stderr[-4000:]
    assert json.loads((full / "manifest.json").read_text())["launch"]["distributed_type"] == "DEEPSPEED"
    killed = _launch(root, cfg, cut, port + 1, kill_at=6)
    assert killed.returncode != 0 and not (cut / "model.safetensors").exists(), killed.stderr[-4000:]
    ckpt = last_complete_checkpoint(str(cut), set_aside=False)
    assert ckpt and ckpt.endswith("checkpoint-4") and (Path(ckpt) / state_file).exists()
    resumed = _launch(root, cfg, cut, port + 2)
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    assert "resuming from" in resumed.stderr and "checkpoint-4" in resumed.stderr

    a, b = _without_flos(_trajectory(full)), _without_flos(_trajectory(cut))
    print(f"\n{case} ZeRO-3 losses, uninterrupted:", [r["loss"] for r in a if "loss" in r])
    print(f"{case} ZeRO-3 losses, killed at 6 + resumed from 4:", [r["loss"] for r in b if "loss" in r])
    assert [r.get("loss") for r in a] == [r.get("loss") for r in b]
    assert a == b  # every logged metric, LMPO's statistics and SamS's selection metrics included
    # the extra state at the end is the uninterrupted run's too
    sa = _flat(torch.load(full / f"checkpoint-{STEPS}" / state_file, weights_only=True))
    sb = _flat(torch.load(cut / f"checkpoint-{STEPS}" / state_file, weights_only=True))
    assert sa.keys() == sb.keys() and sa
    for k, v in sa.items():
        assert _equal(v, sb[k]), f"{state_file}: {k} differs after resume"


def _without_flos(rows: list[dict]) -> list[dict]:
    """total_flos, an accounting figure of the end-of-run summary, differs between a ZeRO-3 run and its resumed
    copy (4345396224 vs 4156191744 here; not investigated further); every per-step value is compared."""
    return [{k: v for k, v in row.items() if k != "total_flos"} for row in rows]


def _flat(state, prefix: str = "") -> dict:
    if isinstance(state, dict):
        return {k2: v2 for k, v in state.items() for k2, v2 in _flat(v, f"{prefix}{k}.").items()}
    if isinstance(state, (list, tuple)):
        return {k2: v2 for i, v in enumerate(state) for k2, v2 in _flat(v, f"{prefix}{i}.").items()}
    return {prefix: state}


def _equal(a, b) -> bool:
    if torch.is_tensor(a):
        return torch.is_tensor(b) and a.shape == b.shape and torch.equal(a, b)
    return a == b
