"""Whether a benchmark's model can run on this machine: refuse a large model on CPU before hours are spent.

    check_model_fits("princeton-nlp/Llama-3-Instruct-8B-SimPO")   # InputError on a machine without a GPU
    check_model_fits(..., allow_large=True)                         # a warning instead (ALLOW_LARGE=1)
"""

from __future__ import annotations

import logging

import torch
from transformers import AutoConfig, AutoModelForCausalLM

from prefopt.core.errors import InputError
from prefopt.modeling.loading import resolve

logger = logging.getLogger(__name__)
CPU_MAX_PARAMS = 3e9  # above this, CPU generation of hundreds of long answers takes days


def count_parameters(model: str) -> int | None:
    """Parameters of `model` from its config alone (weights on the meta device: nothing is loaded), or None when
    the config cannot be read offline (the loader reports that itself)."""

    try:
        config = AutoConfig.from_pretrained(resolve(model), local_files_only=True)
        with torch.device("meta"):
            skeleton = AutoModelForCausalLM.from_config(config)
    except Exception:  # noqa: BLE001 (missing files, unknown architectures: not this check's business)
        return None
    return sum(p.numel() for p in skeleton.parameters())


def check_model_fits(model: str, allow_large: bool = False, limit: float = CPU_MAX_PARAMS) -> None:
    """Refuse (InputError) a model above `limit` parameters when no GPU is visible, unless `allow_large`."""
    if torch.cuda.is_available():
        return
    n = count_parameters(model)
    if n is None or n <= limit:
        return
    msg = f"{model} has {n / 1e9:.1f}B parameters and this machine has no GPU"
    if allow_large:
        logger.warning("%s: running on CPU anyway (ALLOW_LARGE=1); expect it to be very slow", msg)
        return
    raise InputError(msg, where="MODEL", fix="run on a CUDA machine (make setup-gpu), or pass ALLOW_LARGE=1 "
                     "(--allow_large) to run on CPU anyway, or LIMIT=<n> with ALLOW_LARGE=1 for a smoke test")
