"""Pairwise preference losses: one pure function per loss, a registry, and the functional `compute` API.

    from prefopt.losses import compute, LOSSES
    per_pair = compute("simpo", chosen_logps=pw, rejected_logps=pl, chosen_lengths=Lw,
                       rejected_lengths=Ll, beta=2.0, gamma_beta_ratio=0.5)

Log-probs are SUMMED over response tokens; lengths are response token counts; all of shape (B,).
"""

from __future__ import annotations

import torch

# Importing the family modules registers their losses.
from prefopt.losses import adaptive_margin as _adaptive_margin  # noqa: F401
from prefopt.losses import dpo as _dpo  # noqa: F401
from prefopt.losses import kto_pair as _kto_pair  # noqa: F401
from prefopt.losses import reference_free as _reference_free  # noqa: F401
from prefopt.losses import simpo as _simpo  # noqa: F401

from .base import LossOutput, LossSpec, PairLogps
from .registry import LOSSES, get_loss, register

__all__ = ["LOSSES", "LossOutput", "LossSpec", "PairLogps", "compute", "evaluate", "get_loss", "register"]


def evaluate(name: str, x: PairLogps, state: dict | None = None, **hparams) -> LossOutput:
    """Run a registered loss with hparams (defaults filled in) and return losses, rewards and metrics."""
    spec = get_loss(name)
    params = spec.make_hparams(hparams)
    return spec.fn(x, state, **vars(params))


def compute(
    name: str,
    *,
    chosen_logps: torch.Tensor,
    rejected_logps: torch.Tensor,
    chosen_lengths: torch.Tensor,
    rejected_lengths: torch.Tensor,
    ref_chosen_logps: torch.Tensor | None = None,
    ref_rejected_logps: torch.Tensor | None = None,
    state: dict | None = None,
    **hparams,
) -> torch.Tensor:
    """Per-pair losses, shape (B,); their mean is the batch loss. See the module docstring."""
    x = PairLogps(chosen_logps, rejected_logps, chosen_lengths, rejected_lengths, ref_chosen_logps, ref_rejected_logps)
    return evaluate(name, x, state, **hparams).losses
