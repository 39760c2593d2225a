"""Reference-free baselines of the SimPO paper that add an NLL term: CPO, ORPO, RRHF and SLiC-HF.

Each loss is a ranking term on the policy's own log-probs plus the chosen response's token-mean NLL -sw
(`base.add_chosen_nll`). None needs a reference model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from prefopt.core.fields import arg

from .base import LossOutput, PairLogps, add_chosen_nll, sigmoid_loss
from .registry import register


@dataclass
class CPOParams:
    beta: float = arg(0.1, "Scale of the preference logit beta * (pw - pl) on summed log-probs.", gt=0)
    cpo_alpha: float = arg(1.0, "Weight of the chosen response's token-mean NLL (the paper's BC regulariser).", ge=0)


@register("cpo", hparams=CPOParams, needs_reference=False)
def cpo(x: PairLogps, state=None, *, beta: float, cpo_alpha: float) -> LossOutput:
    """CPO: -log sigma(beta (pw - pl)) + cpo_alpha * (-sw).

    Xu et al., "Contrastive Preference Optimization: Pushing the Boundaries of LLM Performance in
    Machine Translation", ICML 2024: DPO with a uniform reference, plus NLL on the chosen. The paper
    writes the NLL as the summed -log pi(yw|x); TRL's CPOTrainer uses the token-mean cross-entropy, which
    we follow. Rewards logged as TRL: beta * pw and beta * pl.
    """
    metrics: dict = {}
    losses = sigmoid_loss(beta * (x.chosen - x.rejected), 0.0)
    losses = add_chosen_nll(losses, x, cpo_alpha, metrics)
    return LossOutput(losses, (beta * x.chosen).detach(), (beta * x.rejected).detach(), metrics)


@dataclass
class ORPOParams:
    orpo_lambda: float = arg(0.1, "Weight lambda of the odds-ratio term (TRL's ORPO `beta`).", ge=0)


def _log_one_minus_exp(s: torch.Tensor) -> torch.Tensor:
    """log(1 - e^s) for s < 0, as log1p(-exp(s)) like TRL (more accurate than log(1 - exp(s))); -inf at s = 0."""
    return torch.log1p(-torch.exp(s))


@register("orpo", hparams=ORPOParams, needs_reference=False)
def orpo(x: PairLogps, state=None, *, orpo_lambda: float) -> LossOutput:
    """ORPO: -sw - orpo_lambda * log sigma(log_odds), log_odds = (sw - sl) - (log(1 - e^sw) - log(1 - e^sl)).

    Hong, Lee and Thorne, "ORPO: Monolithic Preference Optimization without Reference Model",
    EMNLP 2024. The odds use the length-averaged log-probs sw, sl (odds(y) = P/(1 - P) with
    P = e^s), as in the authors' code and TRL's ORPOTrainer (log(1 - e^s) as log1p(-exp(s)), as TRL does);
    the odds-ratio term equals TRL 1.16's per pair (tests/test_trl_equality.py).
    Difference, on purpose: the SFT term here is -sw, the token-mean NLL of the chosen RESPONSE, the one
    convention of every NLL regulariser in prefopt. The authors' code and TRL's ORPOTrainer average the NLL
    over prompt AND response tokens of the chosen sequence (TRL PR #1516 matched the authors), so their
    total loss differs from ours by that term; the test pins the size of the difference.
    Rewards logged as TRL: orpo_lambda * sw and orpo_lambda * sl. Metrics as TRL: `log_odds_ratio` (mean
    log sigma(log_odds)) and `log_odds_chosen` (mean log_odds).
    """
    sw, sl = x.chosen_avg, x.rejected_avg
    log_odds = (sw - sl) - (_log_one_minus_exp(sw) - _log_one_minus_exp(sl))
    ratio = F.logsigmoid(log_odds)
    metrics = {"log_odds_ratio": ratio.detach().mean(), "log_odds_chosen": log_odds.detach().mean()}
    losses = add_chosen_nll(-orpo_lambda * ratio, x, 1.0, metrics)
    return LossOutput(losses, (orpo_lambda * sw).detach(), (orpo_lambda * sl).detach(), metrics)


@dataclass
class RRHFParams:
    rrhf_lambda: float = arg(1.0, "Weight of the chosen response's token-mean NLL (the paper's L_ft weight is 1).",
                            ge=0)


@register("rrhf", hparams=RRHFParams, needs_reference=False)
def rrhf(x: PairLogps, state=None, *, rrhf_lambda: float) -> LossOutput:
    """RRHF: max(0, sl - sw) + rrhf_lambda * (-sw).

    Yuan et al., "RRHF: Rank Responses to Align Language Models with Human Feedback without tears",
    NeurIPS 2023, with two responses per prompt: the ranking loss on length-normalised
    log-probs, plus the fine-tuning loss on the best (chosen) response. The paper writes L_ft as a summed
    log-likelihood; we use the token-mean NLL -sw like every other SFT term here. Rewards logged: the
    paper's scores sw and sl (no scale).
    """
    sw, sl = x.chosen_avg, x.rejected_avg
    metrics: dict = {}
    losses = add_chosen_nll(torch.relu(sl - sw), x, rrhf_lambda, metrics)
    return LossOutput(losses, sw.detach(), sl.detach(), metrics)


@dataclass
class SLiCParams:
    slic_delta: float = arg(1.0, "Hinge margin delta on summed log-probs: max(0, delta - (pw - pl)).", ge=0)
    slic_lambda: float = arg(0.1, "Weight of the chosen response's token-mean NLL.", ge=0)


@register("slic", hparams=SLiCParams, needs_reference=False)
def slic(x: PairLogps, state=None, *, slic_delta: float, slic_lambda: float) -> LossOutput:
    """SLiC-HF: max(0, slic_delta - (pw - pl)) + slic_lambda * (-sw).

    Zhao et al., "SLiC-HF: Sequence Likelihood Calibration with Human Feedback", arXiv 2305.10425 (2023):
    the rank calibration loss. The paper's regulariser is -lambda log pi(y_ref|x) on an SFT target,
    summed over tokens; like the SimPO paper's baseline we put it on the chosen response, and take the
    token-mean NLL -sw. Rewards logged: the summed log-probs pw and pl that the hinge compares.
    """
    metrics: dict = {}
    losses = add_chosen_nll(torch.relu(slic_delta - (x.chosen - x.rejected)), x, slic_lambda, metrics)
    return LossOutput(losses, x.chosen.detach(), x.rejected.detach(), metrics)
