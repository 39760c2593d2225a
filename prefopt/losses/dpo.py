"""The reference-based family: DPO / cDPO, IPO and R-DPO (each needs the frozen reference's log-probs).

Rafailov et al., "Direct Preference Optimization: Your Language Model is Secretly a Reward Model",
NeurIPS 2023; cDPO: Mitchell, "A note on DPO with noisy preferences" (2023). IPO and R-DPO are the
SimPO paper's reference-based baselines; their papers are cited at each function.
"""

from __future__ import annotations

from dataclasses import dataclass

from prefopt.core.fields import arg

from .base import LossOutput, PairLogps, sigmoid_loss
from .registry import register


@dataclass
class DPOParams:
    beta: float = arg(0.1, "KL strength: scale of the implicit reward beta * log(pi/pi_ref).", gt=0)
    label_smoothing: float = arg(
        0.0, "cDPO: assumed probability eps that a preference label is flipped (0 = plain DPO).", ge=0, lt=0.5
    )


@register("dpo", hparams=DPOParams, needs_reference=True)
def dpo(x: PairLogps, state=None, *, beta: float, label_smoothing: float) -> LossOutput:
    """DPO / cDPO: -(1-eps) log sigma(beta h) - eps log sigma(-beta h), h = (pw - rw) - (pl - rl).

    With eps = 0 this is eq. 7 of Rafailov et al., "Direct Preference Optimization: Your Language Model
    is Secretly a Reward Model", NeurIPS 2023; eps > 0 is cDPO (Mitchell, "A note on DPO with noisy
    preferences", 2023). The implicit rewards are beta * (pw - rw) and beta * (pl - rl).
    """
    rw, rl = x.require_reference("dpo")
    chosen_logratio, rejected_logratio = x.chosen - rw, x.rejected - rl
    losses = sigmoid_loss(beta * (chosen_logratio - rejected_logratio), label_smoothing)
    return LossOutput(losses, (beta * chosen_logratio).detach(), (beta * rejected_logratio).detach())


@dataclass
class IPOParams:
    tau: float = arg(0.1, "IPO regularisation tau: the target length-averaged log-ratio margin is 1/(2 tau).", gt=0)


@register("ipo", hparams=IPOParams, needs_reference=True)
def ipo(x: PairLogps, state=None, *, tau: float) -> LossOutput:
    """IPO: (h - 1/(2 tau))^2 with h = (pw - rw)/Lw - (pl - rl)/Ll, length-averaged log-ratios.

    Azar et al., "A General Theoretical Paradigm to Understand Learning from Human Preferences",
    AISTATS 2024 (eq. 17). Paper vs code: the paper's h uses summed log-ratios; TRL's `loss_type="ipo"` and
    the SimPO paper's IPO baseline average each log-prob over its response tokens first, and we follow
    them, so tau is comparable with those runs (tests/test_trl_equality.py checks the per-pair losses).
    Rewards logged: tau * (pw - rw)/Lw and tau * (pl - rl)/Ll, the length-averaged log-ratios the loss
    uses (TRL 0.x logged these; TRL 1.16 logs beta * the summed log-ratio for every DPO loss type).
    """
    rw, rl = x.require_reference("ipo")
    chosen_logratio = (x.chosen - rw) / x.chosen_lengths.to(x.chosen.dtype)
    rejected_logratio = (x.rejected - rl) / x.rejected_lengths.to(x.rejected.dtype)
    losses = (chosen_logratio - rejected_logratio - 1 / (2 * tau)) ** 2
    return LossOutput(losses, (tau * chosen_logratio).detach(), (tau * rejected_logratio).detach())


@dataclass
class RDPOParams:
    beta: float = arg(0.1, "KL strength: scale of the implicit reward beta * log(pi/pi_ref).", gt=0)
    alpha: float = arg(
        0.05, "Length regulariser: alpha * (Lw - Ll) (token counts) is added to the DPO logit; 0 = plain DPO "
        "(>= 0: a negative alpha would reward length).", ge=0,
    )


@register("rdpo", hparams=RDPOParams, needs_reference=True)
def rdpo(x: PairLogps, state=None, *, beta: float, alpha: float) -> LossOutput:
    """R-DPO: -log sigma(beta h + alpha (Lw - Ll)), h = (pw - rw) - (pl - rl).

    Park, Rafailov, Ermon and Finn, "Disentangling Length from Quality in Direct Preference
    Optimization", Findings of ACL 2024. Sign: the length term is PLUS alpha (|yw| - |yl|), as written in
    that paper and in the SimPO paper's table of baselines. It follows from subtracting alpha |y| from the
    reward: the implicit reward becomes beta log(pi/pi_ref) + alpha |y|, so a longer chosen response
    starts with a larger logit and is pushed up less, and alpha > 0 counteracts length exploitation.
    We found no released R-DPO code to check this against (no surveyed framework implements it).
    alpha is in logit units per token (not multiplied by beta). Rewards logged as DPO's, without the
    length term: beta * (pw - rw) and beta * (pl - rl).
    """
    rw, rl = x.require_reference("rdpo")
    chosen_logratio, rejected_logratio = x.chosen - rw, x.rejected - rl
    length_gap = (x.chosen_lengths - x.rejected_lengths).to(chosen_logratio.dtype)
    losses = sigmoid_loss(beta * (chosen_logratio - rejected_logratio) + alpha * length_gap, 0.0)
    return LossOutput(losses, (beta * chosen_logratio).detach(), (beta * rejected_logratio).detach())
