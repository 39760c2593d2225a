"""DPO and its conservative variant cDPO (label smoothing).

Rafailov et al., "Direct Preference Optimization: Your Language Model is Secretly a Reward Model",
NeurIPS 2023; cDPO: Mitchell, "A note on DPO with noisy preferences" (2023).
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import LossOutput, PairLogps, hp, sigmoid_loss
from .registry import register


@dataclass
class DPOParams:
    beta: float = hp(0.1, "KL strength: scale of the implicit reward beta * log(pi/pi_ref).")
    label_smoothing: float = hp(
        0.0, "cDPO: assumed probability eps that a preference label is flipped (0 = plain DPO)."
    )

    def validate(self):
        if self.beta <= 0:
            raise ValueError(f"beta must be > 0, got {self.beta}")
        if not 0 <= self.label_smoothing < 0.5:
            raise ValueError(f"label_smoothing must be in [0, 0.5), got {self.label_smoothing}")


@register("dpo", hparams=DPOParams, needs_reference=True)
def dpo(x: PairLogps, state=None, *, beta: float, label_smoothing: float) -> LossOutput:
    """DPO / cDPO: -(1-eps) log sigma(beta h) - eps log sigma(-beta h), h = (pw - rw) - (pl - rl).

    With eps = 0 this is the DPO loss of Rafailov et al. (2023), eq. 7; eps > 0 is cDPO. The
    implicit rewards are beta * (pw - rw) and beta * (pl - rl).
    """
    rw, rl = x.require_reference("dpo")
    chosen_logratio, rejected_logratio = x.chosen - rw, x.rejected - rl
    losses = sigmoid_loss(beta * (chosen_logratio - rejected_logratio), label_smoothing)
    return LossOutput(losses, (beta * chosen_logratio).detach(), (beta * rejected_logratio).detach())
