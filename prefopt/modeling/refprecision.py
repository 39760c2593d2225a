"""The reference pass runs with the numerics of the policy's training forward.

At step 0 the policy is the reference, so DPO-style log-ratios should start at exactly 0. They do only if both
forwards use the same arithmetic. What the policy's forward uses depends on the launcher (accelerate 1.15):
- `bf16: true` / `fp16: true` without DeepSpeed: weights as loaded (`torch_dtype`), forward under autocast
  (`Accelerator.prepare` wraps `model.forward`);
- the same under DeepSpeed: no autocast; the engine casts the weights to bf16 / fp16;
- neither: weights as loaded, no autocast.
The reference pass copies that choice (TRL's precomputed reference does the same: accelerator.autocast() and the
DeepSpeed engine). Measured on CPU (bench/reference_precision.py, 10M tiny model, 256-token answers): a float32
reference against a bf16-autocast policy is off by up to 0.96 nats per sequence (mean 0.089) and DPO margins start
at up to 0.26; with matched numerics the gap is 0 on short answers and at most 0.023 nats (mean 9e-4) on long ones,
left by the different padding of training and reference batches.
The choice is part of the cache key, so a bf16 run never reads a float32 run's entry.
"""

from __future__ import annotations

import contextlib

import torch

HALF = {"bf16": torch.bfloat16, "fp16": torch.float16}


def _half(args) -> str | None:
    return "bf16" if getattr(args, "bf16", False) else "fp16" if getattr(args, "fp16", False) else None


def reference_numerics(args) -> str:
    """'as_loaded', 'autocast_bf16' / 'autocast_fp16', or 'weights_bf16' / 'weights_fp16' (DeepSpeed)."""
    half = _half(args)
    if half is None:
        return "as_loaded"
    return f"weights_{half}" if getattr(args, "deepspeed_plugin", None) is not None else f"autocast_{half}"


def prepare_reference(model, args):
    """The model cast as the training forward's weights will be (DeepSpeed with half precision only)."""
    numerics = reference_numerics(args)
    return model.to(HALF[numerics.split("_")[1]]) if numerics.startswith("weights_") else model


def reference_forward_context(args):
    """Autocast as the training forward has it (mixed precision without DeepSpeed), else nothing."""
    numerics = reference_numerics(args)
    if not numerics.startswith("autocast_"):
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(args.device).type, dtype=HALF[numerics.split("_")[1]])
