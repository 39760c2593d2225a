"""Distributed correctness on CPU: 2-process DDP (torchrun -> accelerate MULTI_CPU, gloo) follows the same loss
trajectory as 1 process with the same global batch (per-device batch x processes x accumulation).

`accelerate launch --cpu` silently runs ONE process (../shared/docs/research/env_probe.md §5); torchrun (or
`accelerate launch --config_file accelerate_configs/cpu_ddp.yaml`) gives two real ranks.

LMPO runs with its running statistics gathered across ranks; DPO reads the reference cache. The measured
deviation is in DDP_TOLERANCE's comment.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from conftest import tiny_model_and_pairs
from safetensors.torch import load_file
from test_resume import LMPO, REPO, _cfg  # the same tiny task and config

# Two ranks reduce gradients in a different order (gloo all-reduce of two half-batch means vs one mean of the
# whole batch), so equality is up to float32 rounding, carried through 12 Adam steps. Measured (2026-11-23,
# torch 2.13 CPU, OMP_NUM_THREADS=1; print with -s): LMPO max relative loss deviation 7.9e-7, max |weight
# difference| 1.2e-7; DPO 9.8e-8 and 1.7e-7. The bounds below leave 10x or more headroom.
DDP_TOLERANCE = {"loss_rel": 1e-5, "weight_abs": 2e-6}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    model_dir, data = tiny_model_and_pairs(root, 48)
    return root, model_dir, data


def _env(root: Path) -> dict:
    return {"PATH": os.path.dirname(sys.executable) + ":/usr/bin:/bin", "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
            "OMP_NUM_THREADS": "1", "HOME": str(root)}


def _losses(out: Path) -> list[float]:
    return [r["loss"] for r in json.loads((out / "log_history.json").read_text())["log_history"] if "loss" in r]


def run_pair(root: Path, model_dir: Path, data: Path, loss: str, over: dict) -> dict:
    """1 process (batch 8 x accumulation 2) vs 2 processes (batch 4 x 2 ranks x accumulation 2): global 16."""
    import subprocess

    single, ddp = root / f"{loss}-single", root / f"{loss}-ddp"
    cfg = _cfg(root, model_dir, data, loss, save_strategy="no", **over)
    script = str(REPO / "scripts/run_po.py")
    p1 = subprocess.run([sys.executable, script, str(cfg), f"--output_dir={single}",
                         "--per_device_train_batch_size=8"], capture_output=True, text=True, timeout=600,
                        cwd=root, env=_env(root))
    assert p1.returncode == 0, p1.stderr[-3000:]
    p2 = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", script,
                         str(cfg), f"--output_dir={ddp}", "--per_device_train_batch_size=4"],
                        capture_output=True, text=True, timeout=600, cwd=root, env=_env(root))
    assert p2.returncode == 0, p2.stderr[-3000:]
    manifest = json.loads((ddp / "manifest.json").read_text())
    a, b = _losses(single), _losses(ddp)
    wa, wb = load_file(single / "model.safetensors"), load_file(ddp / "model.safetensors")
    return {"single": a, "ddp": b, "manifest": manifest,
            "loss_rel": max(abs(x - y) / max(abs(x), 1e-8) for x, y in zip(a, b)),
            "weight_abs": max((wa[k] - wb[k]).abs().max().item() for k in wa)}


@pytest.mark.parametrize("loss, over", [pytest.param("lmpo", LMPO, marks=pytest.mark.slow), ("dpo", {"beta": 0.3})])
def test_two_process_ddp_matches_one_process(setup, loss, over):
    root, model_dir, data = setup
    r = run_pair(root, model_dir, data, loss, over)
    print(f"\n{loss}: max relative loss deviation {r['loss_rel']:.2e}, max |weight diff| {r['weight_abs']:.2e}")
    print("single:", [f"{x:.6f}" for x in r["single"]])
    print("ddp:   ", [f"{x:.6f}" for x in r["ddp"]])
    assert len(r["single"]) == len(r["ddp"]) == 12
    assert r["loss_rel"] <= DDP_TOLERANCE["loss_rel"] and r["weight_abs"] <= DDP_TOLERANCE["weight_abs"], r
    assert r["manifest"]["launch"] == {"world_size": 2, "distributed_type": "MULTI_CPU", "global_batch": 16}


# ---- DeepSpeed ZeRO-2 / ZeRO-3 on CPU (DS_ACCELERATOR=cpu, gloo) ------------------------------------------------
# deepspeed is not in the CPU venv (requirements/gpu.txt); these tests run where it is importable, e.g.
#   .venv/bin/pip install deepspeed==0.19.8   (or: pip install --target DIR ... and PYTHONPATH=DIR make test-slow)
# The first run JIT-compiles DeepSpeed's shared-memory comm op (~40 s+, cached in ~/.cache/torch_extensions).
# Measured (2026-11-23, 2 ranks x batch 4 x accumulation 2 vs 1 process x batch 8 x accumulation 2, 12 steps):
# ZeRO-3 SimPO max relative loss deviation 2.2e-7, ZeRO-3 DPO (reference cache, no reference model) 1.2e-7.
DS_TOLERANCE = {"loss_rel": 1e-5, "weight_abs": 2e-6}
_SINGLE: dict[str, Path] = {}


def _has_deepspeed() -> bool:
    import importlib.util

    return importlib.util.find_spec("deepspeed") is not None


@pytest.mark.slow
@pytest.mark.skipif(not _has_deepspeed(), reason="deepspeed is not installed (pip install deepspeed==0.19.8)")
@pytest.mark.parametrize("stage, loss, over", [(3, "simpo", {"beta": 2.0, "gamma_beta_ratio": 0.5}),
                                               (3, "dpo", {"beta": 0.3}),
                                               (2, "simpo", {"beta": 2.0, "gamma_beta_ratio": 0.5})])
def test_deepspeed_on_cpu_matches_one_process(setup, stage, loss, over):
    import subprocess

    import ninja

    root, model_dir, data = setup
    cfg = _cfg(root, model_dir, data, loss, save_strategy="no", **over)
    script = str(REPO / "scripts/run_po.py")
    env = dict(_env(root), DS_ACCELERATOR="cpu", HOME=os.environ.get("HOME", str(root)),
               PYTHONPATH=os.environ.get("PYTHONPATH", ""))
    env["PATH"] = f"{ninja.BIN_DIR}:{env['PATH']}"
    if loss not in _SINGLE:
        out = root / f"{loss}-single-ds"
        p1 = subprocess.run([sys.executable, script, str(cfg), f"--output_dir={out}", "--per_device_train_batch_size=8"],
                            capture_output=True, text=True, timeout=600, cwd=root, env=env)
        assert p1.returncode == 0, p1.stderr[-3000:]
        _SINGLE[loss] = out
    single, zero = _SINGLE[loss], root / f"{loss}-zero{stage}"
    p2 = subprocess.run(
        [sys.executable, "-m", "accelerate.commands.launch", "--use_deepspeed", f"--zero_stage={stage}",
         "--zero3_init_flag=false", "--zero3_save_16bit_model=true", "--num_processes=2", "--num_machines=1",
         "--mixed_precision=no", "--dynamo_backend=no", f"--main_process_port={29600 + stage * 10 + len(loss)}",
         "--gradient_accumulation_steps=2", "--gradient_clipping=1.0",
         script, str(cfg), f"--output_dir={zero}", "--per_device_train_batch_size=4"],
        capture_output=True, text=True, timeout=600, cwd=root, env=env)
    assert p2.returncode == 0, p2.stderr[-4000:]
    launch = json.loads((zero / "manifest.json").read_text())["launch"]
    assert launch == {"world_size": 2, "distributed_type": "DEEPSPEED", "global_batch": 16}
    a, b = _losses(single), _losses(zero)
    rel = max(abs(x - y) / max(abs(x), 1e-8) for x, y in zip(a, b))
    wa, wb = load_file(single / "model.safetensors"), load_file(zero / "model.safetensors")
    wdiff = max((wa[k] - wb[k]).abs().max().item() for k in wa)
    print(f"\nZeRO-{stage} {loss}: max relative loss deviation {rel:.2e}, max |weight diff| {wdiff:.2e}")
    print("single:", [f"{x:.6f}" for x in a])
    print(f"zero{stage}: ", [f"{x:.6f}" for x in b])
    assert len(a) == len(b) == 12 and rel <= DS_TOLERANCE["loss_rel"] and wdiff <= DS_TOLERANCE["weight_abs"]
    if loss == "dpo":  # the reference log-probs came from the on-disk cache (filled by rank 0, read by both)
        assert list((root / "refcache").glob("*/logps.safetensors"))


@pytest.mark.slow
def test_two_process_resume_is_bitwise_identical(setup):
    """DDP: every rank's RNG state is in the checkpoint before it is marked complete; a 2-rank run restarted
    from its checkpoint-8 alone ends bit-identical to the uninterrupted 2-rank run."""
    import shutil
    import subprocess

    import torch

    root, model_dir, data = setup
    cfg = _cfg(root, model_dir, data, "dpo", beta=0.3, save_total_limit=2)
    script = str(REPO / "scripts/run_po.py")
    full, resumed = root / "ddp-full", root / "ddp-resumed"

    def launch(out):
        return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                               script, str(cfg), f"--output_dir={out}", "--per_device_train_batch_size=4"],
                              capture_output=True, text=True, timeout=600, cwd=root, env=_env(root))

    p = launch(full)
    assert p.returncode == 0, p.stderr[-3000:]
    ckpt = full / "checkpoint-8"
    assert {"rng_state_0.pth", "rng_state_1.pth", "prefopt_complete.json"} <= {f.name for f in ckpt.iterdir()}
    resumed.mkdir()
    shutil.copytree(ckpt, resumed / "checkpoint-8")
    p = launch(resumed)
    assert p.returncode == 0 and "resuming from" in p.stderr, p.stderr[-3000:]
    wa, wb = load_file(full / "model.safetensors"), load_file(resumed / "model.safetensors")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert _losses(full) == _losses(resumed) and len(_losses(full)) == 12


def test_two_process_train_metrics_are_the_same_after_a_resume(tmp_path):
    """15 pairs on 2 ranks x batch 4: the second batch of each epoch is padded with a pair from its start (even
    batches). The logged training metrics once dropped that pair through gather_for_metrics, by a remainder that a
    resumed dataloader no longer knows: a run resumed from checkpoint-1 logged the same losses but other
    rewards/* and logps/* at step 2 (the ZeRO-3 rehearsals of the DPO cells showed it). Training metrics now
    describe every row the loss trained on, in either run."""
    import shutil
    import subprocess

    model_dir, data = tiny_model_and_pairs(tmp_path, 15)
    cfg = _cfg(tmp_path, model_dir, data, "dpo", beta=0.3, gradient_accumulation_steps=1, max_steps=4,
               save_steps=1, save_total_limit=4, warmup_steps=0)
    script = str(REPO / "scripts/run_po.py")
    full, resumed = tmp_path / "full", tmp_path / "resumed"

    def launch(out):
        return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                               script, str(cfg), f"--output_dir={out}"],
                              capture_output=True, text=True, timeout=600, cwd=tmp_path, env=_env(tmp_path))

    p = launch(full)
    assert p.returncode == 0, p.stderr[-3000:]
    resumed.mkdir()
    shutil.copytree(full / "checkpoint-1", resumed / "checkpoint-1")
    p = launch(resumed)
    assert p.returncode == 0 and "resuming from" in p.stderr, p.stderr[-3000:]

    def steps(out):
        rows = json.loads((out / "log_history.json").read_text())["log_history"]
        return [{k: v for k, v in r.items() if k.startswith(("loss", "rewards/", "logps/"))} for r in rows if "loss" in r]

    a, b = steps(full), steps(resumed)
    assert len(a) == 4 and all("rewards/margins" in r and "logps/chosen" in r for r in a)
    assert a == b
