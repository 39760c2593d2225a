"""SimPO: reference-free, length-normalised reward with a target margin.

Meng, Xia and Chen, "SimPO: Simple Preference Optimization with a Reference-Free Reward",
NeurIPS 2024. Parametrised as in the authors' trainer (scripts/simpo_trainer.py after commit 15c4ff8):
the margin is given as gamma_beta_ratio = gamma / beta.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from prefopt.core.fields import arg

from .base import LossOutput, PairLogps, add_chosen_nll, sigmoid_loss
from .registry import register


@dataclass
class SimPOParams:
    beta: float = arg(2.0, "Reward scale beta: the reward is beta * (mean response log-prob).", gt=0)
    gamma_beta_ratio: float = arg(0.25, "Target margin as a ratio gamma/beta (the paper's gamma = beta * this).")
    label_smoothing: float = arg(0.0, "Label smoothing eps for the sigmoid loss (ignored by hinge).", ge=0, lt=0.5)
    loss_type: str = arg("sigmoid", "'sigmoid' (the paper) or 'hinge' (max(0, 1 - beta z)).",
                        choices=("sigmoid", "hinge"))
    sft_weight: float = arg(0.0, "Weight of the chosen response's token-mean NLL added to the loss.", ge=0)


@register("simpo", hparams=SimPOParams, needs_reference=False)
def simpo(
    x: PairLogps,
    state=None,
    *,
    beta: float,
    gamma_beta_ratio: float,
    label_smoothing: float,
    loss_type: str,
    sft_weight: float,
) -> LossOutput:
    """SimPO: z = sw - sl - gamma_beta_ratio; sigmoid -(1-eps) log sigma(beta z) - eps log sigma(-beta z),
    hinge max(0, 1 - beta z); plus sft_weight * (-sw).

    Meng, Xia and Chen, "SimPO: Simple Preference Optimization with a Reference-Free Reward", NeurIPS
    2024. sw, sl are the length-averaged log-probs (paper eq. 6 with gamma = beta * gamma_beta_ratio).
    The SFT term is the token-mean NLL of the chosen response (`base.add_chosen_nll`), which is what the
    authors' `sft_weight` adds, up to how CrossEntropyLoss weighs pairs of different lengths.
    Rewards logged: beta * sw and beta * sl.
    """
    sw, sl = x.chosen_avg, x.rejected_avg
    z = sw - sl - gamma_beta_ratio
    if loss_type == "hinge":
        losses = torch.relu(1 - beta * z)
    else:
        losses = sigmoid_loss(beta * z, label_smoothing)
    metrics = {}
    if sft_weight:
        losses = add_chosen_nll(losses, x, sft_weight, metrics, key="sft_loss")
    return LossOutput(losses, (beta * sw).detach(), (beta * sl).detach(), metrics)
