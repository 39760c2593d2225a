"""Paired KTO: KTO's prospect-theoretic loss on the pairwise pipeline, so a sample scheduler can drive it.

Ethayarajh, Xu, Muennighoff, Jurafsky and Kiela, "KTO: Model Alignment as Prospect Theoretic Optimization",
ICML 2024. `loss: kto` (prefopt.training.kto) runs the unpaired original through TRL's KTOTrainer; this module is the
same value function on pairs, for settings where KTO must share DPO's forward, batches and reference cache
(the SamS paper's Pythia KTO and KTO+SamS rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from prefopt.core.fields import arg

from .base import LossOutput, PairLogps, gather_detached
from .registry import register

REFERENCE_POINTS = ("pooled", "cross_half", "zero")


@dataclass
class KTOPairParams:
    beta: float = arg(0.1, "KTO beta: scale of the implied reward beta*log(pi/pi_ref) in the sigmoid.", gt=0)
    desirable_weight: float = arg(1.0, "lambda_D: weight of each pair's chosen (desirable) term.", ge=0)
    undesirable_weight: float = arg(1.0, "lambda_U: weight of each pair's rejected (undesirable) term.", ge=0)
    reference_point: str = arg(
        "pooled", "How z0 is estimated from the micro-batch, always detached and clamped at 0: 'pooled' (mean "
        "log-ratio of all 2B responses; TRL KTOTrainer's form with matched instead of mismatched pairs), "
        "'cross_half' (chosen terms use the rejected half's mean, rejected terms the chosen half's: TRL's "
        "removed kto_pair) or 'zero' (z0 = 0).", choices=REFERENCE_POINTS,
    )

    def validate(self):
        if self.desirable_weight == 0 and self.undesirable_weight == 0:
            raise ValueError("desirable_weight and undesirable_weight cannot both be 0")


def _batch_mean_log_ratio(r: torch.Tensor) -> torch.Tensor:
    # Over the GLOBAL micro-batch (every rank's pairs), detached: z0 is a constant of the step, as in the paper.
    return gather_detached(r).mean().clamp(min=0)


def reference_points(chosen_logratio, rejected_logratio, how: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(z0 for the chosen terms, z0 for the rejected terms), scalars, detached."""
    if how == "pooled":
        z = _batch_mean_log_ratio(torch.cat([chosen_logratio, rejected_logratio]))
        return z, z
    if how == "cross_half":
        return _batch_mean_log_ratio(rejected_logratio), _batch_mean_log_ratio(chosen_logratio)
    if how == "zero":
        z = chosen_logratio.new_zeros(())
        return z, z
    raise ValueError(f"unknown reference_point {how!r}; use one of {REFERENCE_POINTS}")


@register("kto_pair", hparams=KTOPairParams, needs_reference=True)
def kto_pair(x: PairLogps, state=None, *, beta: float, desirable_weight: float, undesirable_weight: float,
             reference_point: str) -> LossOutput:
    """Paired KTO: (lambda_D (1 - sigma(beta (r_w - z0))) + lambda_U (1 - sigma(beta (z0 - r_l)))) / 2.

    r_w = pw - rw and r_l = pl - rl are the summed log-ratios, z0 the reference point. This is the KTO loss of Ethayarajh
    et al., "KTO: Model Alignment as Prospect Theoretic Optimization", ICML 2024, lambda_y - v(x, y), applied to
    both responses of a pair, with the chosen one desirable and the rejected one undesirable. The halving makes
    the batch mean equal the mean over the 2B unpaired examples, the scale of TRL's KTOTrainer loss.

    z0 (`reference_point`). The paper estimates KL(pi || pi_ref) on MISMATCHED (prompt, response) pairs of the
    micro-batch, which costs a second forward per step on the policy and the reference. Here it comes from the
    pairs the loss already scored: the mean log-ratio over the micro-batch's responses ('pooled', default),
    TRL's old `kto_pair` split ('cross_half') or 0. As in the paper and in TRL's KTOTrainer it is detached
    (no gradient through z0), clamped at 0, and taken over all DDP ranks. Detaching is a change from TRL's
    removed `kto_pair`, which back-propagated through its batch means. Detached, a pair's gradient comes from its
    own loss only, so a sample scheduler that gives a pair weight 0 removes all of that pair's gradient.

    With `reference_point: pooled`, the per-pair mean equals TRL 1.16 KTOTrainer's loss on the same 2B examples
    when its KL completions are the matched ones (tests/test_trl_equality.py). Rewards logged: beta * r_w and
    beta * r_l, as TRL; the metric `kl` is z0 (the chosen terms' z0 under cross_half).
    """
    rw, rl = x.require_reference("kto_pair")
    chosen_logratio, rejected_logratio = x.chosen - rw, x.rejected - rl
    z_chosen, z_rejected = reference_points(chosen_logratio, rejected_logratio, reference_point)
    desirable = 1 - torch.sigmoid(beta * (chosen_logratio - z_chosen))
    undesirable = 1 - torch.sigmoid(beta * (z_rejected - rejected_logratio))
    losses = (desirable_weight * desirable + undesirable_weight * undesirable) / 2
    return LossOutput(losses, (beta * chosen_logratio).detach(), (beta * rejected_logratio).detach(),
                      {"kl": z_chosen.detach()})
