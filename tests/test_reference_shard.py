"""The reference log-prob pass is sharded over ranks (issue 20, item 2).

A 2-process run must fill the cache with exactly the numbers of a 1-process run while each rank does about half
of the reference forwards, and with `reference_cache: off` the ranks split the work instead of each redoing it.
Each run is a real `scripts/run_po.py` (1 optimizer step); a small driver counts the reference pass's forwards
(calls of `prefopt.modeling.refcache.pair_forward`, the only caller being the reference pass) per rank and writes them out
at exit.
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
from safetensors.torch import load_file
from test_resume import REPO, _cfg

# 48 train pairs and 10 eval pairs in reference batches of 4: 12 + 3 batches, 15 forwards in all.
N_TRAIN, N_EVAL, BATCH = 48, 10, 4
FORWARDS = -(-N_TRAIN // BATCH) + -(-N_EVAL // BATCH)

COUNTER = r"""
import atexit, json, os, runpy, sys
import prefopt.modeling.refcache as R
counts = {"forwards": 0, "pairs": 0}
inner = R.pair_forward
def pair_forward(model, batch, *a, **k):
    counts["forwards"] += 1
    counts["pairs"] += batch["input_ids"].size(0) // 2
    return inner(model, batch, *a, **k)
R.pair_forward = pair_forward
rank = os.environ.get("RANK", "0")
atexit.register(lambda: open(os.path.join(os.environ["COUNT_DIR"], f"rank{rank}.json"), "w").write(json.dumps(counts)))
sys.argv = [sys.argv[1]] + sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("refshard")
    model_dir, data = tiny_model_and_pairs(root, N_TRAIN, N_EVAL)
    (root / "counter.py").write_text(COUNTER)
    return root, model_dir, data


def _env(root: Path, count_dir: Path) -> dict:
    try:  # DeepSpeed's JIT build needs ninja (installed by `make test-slow`); the DDP cases do not
        import ninja

        tools = f"{ninja.BIN_DIR}:"
    except ImportError:
        tools = ""
    count_dir.mkdir(parents=True)
    return {"PATH": f"{tools}{os.path.dirname(sys.executable)}:/usr/bin:/bin", "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
            "OMP_NUM_THREADS": "1", "HOME": os.environ.get("HOME", str(root)), "PREFOPT_CACHE": str(root / "pc"),
            "DS_ACCELERATOR": "cpu", "PYTHONPATH": os.environ.get("PYTHONPATH", ""), "COUNT_DIR": str(count_dir)}


def _config(root, model_dir, data, name: str, **over) -> Path:
    cfg = _cfg(root, model_dir, data, "dpo", beta=0.3, eval_split="test", max_steps=1, save_strategy="no",
               per_device_eval_batch_size=BATCH, reference_cache_dir=str(root / name / "cache"), **over)
    return cfg.rename(root / f"{name}.yaml")


def _run(root: Path, launcher: list[str], cfg: Path, name: str) -> dict:
    out, counts = root / name / "out", root / name / "counts"
    p = subprocess.run([*launcher, str(root / "counter.py"), str(REPO / "scripts/run_po.py"), str(cfg),
                        f"--output_dir={out}"], capture_output=True, text=True, timeout=900, cwd=root,
                       env=_env(root, counts))
    assert p.returncode == 0, p.stderr[-4000:]
    per_rank = [json.loads(f.read_text()) for f in sorted(counts.glob("rank*.json"))]
    entries = {}
    for meta in (root / name / "cache").glob("*/meta.json"):
        n = json.loads(meta.read_text())["n"]
        entries[n] = load_file(meta.parent / "logps.safetensors")
    history = json.loads((out / "log_history.json").read_text())["log_history"]
    return {"ranks": per_rank, "entries": entries, "loss": [r["loss"] for r in history if "loss" in r],
            "stderr": p.stderr}


def _two_ranks_half_each(r: dict) -> None:
    forwards = [c["forwards"] for c in r["ranks"]]
    print("\nreference forwards per rank:", forwards, "pairs per rank:", [c["pairs"] for c in r["ranks"]])
    assert len(forwards) == 2 and sum(forwards) == FORWARDS, "work duplicated or skipped"
    assert abs(forwards[0] - forwards[1]) <= 2, "one rank did most of the reference pass"
    assert sum(c["pairs"] for c in r["ranks"]) == N_TRAIN + N_EVAL


TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
_SINGLE: dict = {}


def _single(setup) -> dict:
    if not _SINGLE:
        root, model_dir, data = setup
        _SINGLE.update(_run(root, [sys.executable], _config(root, model_dir, data, "single"), "single"))
        assert [c["forwards"] for c in _SINGLE["ranks"]] == [FORWARDS]
    return _SINGLE


def _same_entries(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b) == [N_EVAL, N_TRAIN]
    for n in a:
        for k in ("chosen", "rejected"):
            assert torch.equal(a[n][k], b[n][k]), f"{k} log-probs of the {n}-pair entry differ from 1 process"


def test_two_ranks_fill_the_cache_with_one_process_numbers_each_doing_half(setup):
    root, model_dir, data = setup
    single = _single(setup)
    ddp = _run(root, TORCHRUN, _config(root, model_dir, data, "ddp"), "ddp")
    _two_ranks_half_each(ddp)
    _same_entries(single["entries"], ddp["entries"])


@pytest.mark.slow
def test_cache_off_splits_the_work_and_trains_on_the_same_numbers(setup):
    root, model_dir, data = setup
    cached = _run(root, TORCHRUN, _config(root, model_dir, data, "ddp-cached"), "ddp-cached")
    off = _run(root, TORCHRUN, _config(root, model_dir, data, "ddp-off", reference_cache="off"), "ddp-off")
    _two_ranks_half_each(off)
    assert off["entries"] == {}
    assert off["loss"] == cached["loss"] and len(off["loss"]) == 1


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("deepspeed") is None, reason="deepspeed is not installed")
def test_zero3_ranks_each_score_half_with_a_full_reference_copy(setup):
    """Under ZeRO-3 each rank loads its own unpartitioned reference (prefopt.modeling.refshard's docstring says why)."""
    root, model_dir, data = setup
    single = _single(setup)
    launcher = [sys.executable, "-m", "accelerate.commands.launch",
                "--config_file", str(REPO / "accelerate_configs/deepspeed_zero3.yaml"), "--num_processes=2",
                "--mixed_precision=no", "--main_process_port=29741", "--gradient_accumulation_steps=2",
                "--gradient_clipping=1.0"]
    zero3 = _run(root, launcher, _config(root, model_dir, data, "zero3"), "zero3")
    _two_ranks_half_each(zero3)
    _same_entries(single["entries"], zero3["entries"])
