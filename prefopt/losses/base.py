"""What every pairwise loss receives and returns, and the registry entry that describes a loss.

A loss is a pure function of per-pair sequence statistics, never of the model:

    fn(x: PairLogps, state: dict | None, **hparams) -> LossOutput

`PairLogps` holds SUMMED response-token log-probs and response token counts of the policy (and of the
frozen reference when the loss needs one). Everything the five papers' losses use (length-averaged
log-probs, log-ratios, SFT terms) is a function of these six tensors, so one forward pass serves all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from prefopt.core.dist import gather_detached
from prefopt.core.fields import make_checked

__all__ = ["LossOutput", "LossSpec", "PairLogps", "add_chosen_nll", "batch_std", "gather_detached", "sigmoid_loss"]


@dataclass
class PairLogps:
    """Per-pair sequence statistics, each of shape (B,)."""

    chosen: torch.Tensor  # pw: summed log-probs of the chosen response tokens
    rejected: torch.Tensor  # pl
    chosen_lengths: torch.Tensor  # Lw: number of chosen response tokens
    rejected_lengths: torch.Tensor  # Ll
    ref_chosen: torch.Tensor | None = None  # rw: the reference's summed log-probs
    ref_rejected: torch.Tensor | None = None  # rl

    @property
    def chosen_avg(self) -> torch.Tensor:
        """sw = pw / Lw, the length-normalised log-prob (SimPO's implicit reward / beta)."""
        return self.chosen / self.chosen_lengths.to(self.chosen.dtype)

    @property
    def rejected_avg(self) -> torch.Tensor:
        return self.rejected / self.rejected_lengths.to(self.rejected.dtype)

    def require_reference(self, loss: str) -> tuple[torch.Tensor, torch.Tensor]:
        if self.ref_chosen is None or self.ref_rejected is None:
            raise ValueError(
                f"loss {loss!r} needs reference log-probs: pass ref_chosen_logps and ref_rejected_logps"
            )
        return self.ref_chosen, self.ref_rejected


@dataclass
class LossOutput:
    """Per-pair losses plus the implicit rewards the papers log (rewards/chosen, rewards/rejected)."""

    losses: torch.Tensor  # (B,)
    chosen_rewards: torch.Tensor  # (B,), detached
    rejected_rewards: torch.Tensor  # (B,), detached
    metrics: dict[str, torch.Tensor] = field(default_factory=dict)  # extra scalars to log (e.g. sft_loss)


@dataclass(frozen=True)
class LossSpec:
    """A registry entry: everything the pipeline needs to know about a loss, so the trainer needs no names.

    needs_reference: the trainer must supply reference log-probs (from the on-disk cache or a frozen copy).
    hparams: a dataclass whose fields (with help text) are the loss's YAML keys and their defaults.
    stateful: the loss keeps running statistics in `state` (saved in checkpoints).
    """

    name: str
    fn: Callable[..., LossOutput]
    hparams: type
    needs_reference: bool
    stateful: bool = False
    summary: str = ""

    def hparam_names(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self.hparams)]

    def make_hparams(self, values: dict) -> object:
        """Build the hparams dataclass: an unknown name is a TypeError that lists the accepted ones, a value out
        of its bounds (or a broken rule across fields) a ValueError."""
        return make_checked(self.hparams, values, owner=f"loss {self.name!r}")


def sigmoid_loss(logits: torch.Tensor, label_smoothing: float) -> torch.Tensor:
    """-(1-eps) log sigma(x) - eps log sigma(-x): the (conservative) Bradley-Terry loss on a logit x.

    Shared by DPO/cDPO, SimPO and AMaPO; computed with log-sigmoid for numerical stability.
    """
    return -(1 - label_smoothing) * F.logsigmoid(logits) - label_smoothing * F.logsigmoid(-logits)


def add_chosen_nll(
    losses: torch.Tensor, x: PairLogps, weight: float, metrics: dict, key: str = "nll_loss"
) -> torch.Tensor:
    """losses + weight * (-sw): the SFT / NLL regulariser on the chosen response, logged under `key`.

    Shared by SimPO (sft_weight), CPO, ORPO, RRHF and SLiC-HF. The term is the per-pair token-mean NLL
    -sw = -pw / Lw, so every pair counts equally. The authors' and TRL's `CrossEntropyLoss` instead average
    over all chosen tokens of the micro-batch (long responses weigh more); the two agree when all Lw are
    equal. Papers that write a summed likelihood (CPO, RRHF, SLiC-HF) are noted at each loss.
    """
    nll = -x.chosen_avg
    metrics[key] = nll.detach().mean()
    return losses + weight * nll


def batch_std(t: torch.Tensor) -> torch.Tensor:
    """Unbiased (N-1) standard deviation, as `torch.std` in the authors' code, but 0 (not NaN) for N < 2."""
    if t.numel() < 2:
        return t.new_zeros(())
    return t.std()
