"""logprob_impl chunked (prefopt.modeling.fused_logprobs) under 2-process DDP (torchrun, gloo) and DeepSpeed ZeRO-3 on CPU:
the same loss trajectory and final weights as logprob_impl full, through scripts/run_po.py.

The chunked path runs inside the wrapper's forward (DDP prepares its gradient reduction for it; ZeRO-3's hooks are
armed) and reads the LM head's weight directly (gathered under ZeRO-3, in forward and again in backward).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from safetensors.torch import load_file
from test_distributed import DDP_TOLERANCE, _env, _has_deepspeed, _losses, setup  # noqa: F401 (setup: a fixture)
from test_resume import REPO, _cfg

SIMPO = {"beta": 2.0, "gamma_beta_ratio": 0.5}


def _compare(a_dir, b_dir) -> dict:
    a, b = _losses(a_dir), _losses(b_dir)
    wa, wb = load_file(a_dir / "model.safetensors"), load_file(b_dir / "model.safetensors")
    return {"n": (len(a), len(b)), "loss_rel": max(abs(x - y) / max(abs(x), 1e-8) for x, y in zip(a, b)),
            "weight_abs": max((wa[k] - wb[k]).abs().max().item() for k in wa)}


def _torchrun(root, cfg, out):
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           str(REPO / "scripts/run_po.py"), str(cfg), f"--output_dir={out}",
                           "--per_device_train_batch_size=4"], capture_output=True, text=True, timeout=600, cwd=root,
                          env=_env(root))


@pytest.mark.parametrize("loss, over", [("simpo", SIMPO), pytest.param("dpo", {"beta": 0.3}, marks=pytest.mark.slow)])
def test_ddp_chunked_equals_full(setup, loss, over):  # noqa: F811
    root, model_dir, data = setup
    outs = {}
    for impl in ("full", "chunked"):
        cfg = _cfg(root, model_dir, data, loss, save_strategy="no", logprob_impl=impl, **over)
        outs[impl] = root / f"{loss}-ddp-{impl}"
        p = _torchrun(root, cfg, outs[impl])
        assert p.returncode == 0, p.stderr[-3000:]
    r = _compare(outs["full"], outs["chunked"])
    print(f"\nDDP {loss} chunked vs full: max relative loss deviation {r['loss_rel']:.2e}, "
          f"max |weight diff| {r['weight_abs']:.2e}")
    assert r["n"] == (12, 12)
    assert r["loss_rel"] <= DDP_TOLERANCE["loss_rel"] and r["weight_abs"] <= DDP_TOLERANCE["weight_abs"], r


@pytest.mark.slow
@pytest.mark.skipif(not _has_deepspeed(), reason="deepspeed is not installed (pip install deepspeed==0.19.8)")
def test_zero3_chunked_equals_one_process_full(setup):  # noqa: F811
    """ZeRO-3 on 2 CPU ranks: chunked SimPO against one process with full logits. (At this model size DeepSpeed
    holds every weight gathered inside the engine's forward, so the head is not partitioned when the chunked path
    reads it: test_partitioned_head_is_gathered covers that case.)"""
    import ninja

    root, model_dir, data = setup
    env = dict(_env(root), DS_ACCELERATOR="cpu", HOME=os.environ.get("HOME", str(root)),
               PYTHONPATH=os.environ.get("PYTHONPATH", ""))
    env["PATH"] = f"{ninja.BIN_DIR}:{env['PATH']}"
    single, zero = root / "simpo-single-full", root / "simpo-zero3-chunked"
    cfg = _cfg(root, model_dir, data, "simpo", save_strategy="no", logprob_impl="full", **SIMPO)
    p = subprocess.run([sys.executable, str(REPO / "scripts/run_po.py"), str(cfg), f"--output_dir={single}",
                        "--per_device_train_batch_size=8"], capture_output=True, text=True, timeout=600, cwd=root,
                       env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    cfg = _cfg(root, model_dir, data, "simpo", save_strategy="no", logprob_impl="chunked", **SIMPO)
    p = subprocess.run(
        [sys.executable, "-m", "accelerate.commands.launch", "--use_deepspeed", "--zero_stage=3",
         "--zero3_init_flag=true", "--zero3_save_16bit_model=true", "--num_processes=2", "--num_machines=1",
         "--mixed_precision=no", "--dynamo_backend=no", "--main_process_port=29677", "--gradient_accumulation_steps=2",
         "--gradient_clipping=1.0", str(REPO / "scripts/run_po.py"), str(cfg), f"--output_dir={zero}",
         "--per_device_train_batch_size=4"], capture_output=True, text=True, timeout=900, cwd=root, env=env)
    assert p.returncode == 0, p.stderr[-4000:]
    r = _compare(single, zero)
    print(f"\nZeRO-3 chunked vs 1 process full: max relative loss deviation {r['loss_rel']:.2e}, "
          f"max |weight diff| {r['weight_abs']:.2e}")
    assert r["n"] == (12, 12) and r["loss_rel"] <= 1e-5 and r["weight_abs"] <= 2e-6, r


PARTITIONED = r"""
import os, sys, torch
os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=sys.argv[1], RANK="0", LOCAL_RANK="0", WORLD_SIZE="1")
import deepspeed
from torch import nn
deepspeed.init_distributed(dist_backend="gloo")
from prefopt.modeling.fused_logprobs import ResponseTokenLogps, gathered
torch.manual_seed(0)
with deepspeed.zero.Init(config_dict_or_path={"zero_optimization": {"stage": 3}, "train_batch_size": 1}):
    head = nn.Linear(8, 50, bias=True)
assert head.weight.numel() == 0 and head.weight.ds_status.name == "NOT_AVAILABLE"  # an empty shard
with deepspeed.zero.GatheredParameters([head.weight, head.bias]):
    w, b = head.weight.detach().clone(), head.bias.detach().clone()
hidden, labels = torch.randn(6, 8, requires_grad=True), torch.randint(0, 50, (6,))
with gathered(head.weight, head.bias):
    out = ResponseTokenLogps.apply(hidden, head.weight, head.bias, labels, 4, 2.0)
assert head.weight.numel() == 0  # partitioned again after the forward; backward gathers it once more
grad = torch.autograd.grad(out.sum(), [hidden])[0]
h = hidden.detach().clone().requires_grad_()
ref = torch.log_softmax(torch.tanh((h @ w.t() + b) / 2.0) * 2.0, -1).gather(1, labels[:, None]).squeeze(1)
print("DIFF", (out - ref).abs().max().item(), (grad - torch.autograd.grad(ref.sum(), [h])[0]).abs().max().item())
"""


@pytest.mark.slow
@pytest.mark.skipif(not _has_deepspeed(), reason="deepspeed is not installed (pip install deepspeed==0.19.8)")
def test_partitioned_head_is_gathered(tmp_path):
    """A ZeRO-3 partitioned head (deepspeed.zero.Init: the weight is an empty shard): the chunked kernel gathers it
    for forward and again for backward, and gives the log-probs and gradients of the gathered weight."""
    import ninja

    script = tmp_path / "partitioned.py"
    script.write_text(PARTITIONED)
    env = dict(_env(tmp_path), DS_ACCELERATOR="cpu", HOME=os.environ.get("HOME", str(tmp_path)),
               PYTHONPATH=str(REPO))
    env["PATH"] = f"{ninja.BIN_DIR}:{env['PATH']}"
    p = subprocess.run([sys.executable, str(script), "29683"], capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    logp_diff, grad_diff = map(float, next(ln for ln in p.stdout.splitlines() if ln.startswith("DIFF")).split()[1:])
    assert logp_diff < 1e-5 and grad_diff < 1e-5
