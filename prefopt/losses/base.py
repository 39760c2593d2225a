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
        """Build the hparams dataclass; an unknown name is an error that lists the accepted ones."""
        unknown = sorted(set(values) - set(self.hparam_names()))
        if unknown:
            raise TypeError(
                f"loss {self.name!r} has no hyperparameter(s) {unknown}; it takes {self.hparam_names()}"
            )
        hp = self.hparams(**values)
        check_bounds(hp)
        check = getattr(hp, "validate", None)  # rules across fields, beyond per-field bounds
        if check is not None:
            check()
        return hp


def hp(default, help: str, *, gt=None, ge=None, lt=None, choices=None, **kw):
    """A hyperparameter field with its help text (shown by `--help`) and its valid range as data:
    gt / ge / lt bounds and a tuple of choices, checked by `check_bounds` when a config is built."""
    bounds = {k: v for k, v in (("gt", gt), ("ge", ge), ("lt", lt), ("choices", choices)) if v is not None}
    return field(default=default, metadata={"help": help, **bounds, **kw})


_BOUND_TESTS = {
    "gt": (lambda v, b: v > b, "> {}"),
    "ge": (lambda v, b: v >= b, ">= {}"),
    "lt": (lambda v, b: v < b, "< {}"),
    "choices": (lambda v, b: v in b, "one of {}"),
}


def check_bounds(params, names: set[str] | None = None) -> None:
    """ValueError naming the field, the value and the valid range, for the first field out of its bounds
    (only the fields in `names` when given)."""
    for f in dataclasses.fields(params):
        if names is not None and f.name not in names:
            continue
        value = getattr(params, f.name)
        for key, (ok, text) in _BOUND_TESTS.items():
            if key in f.metadata and not ok(value, f.metadata[key]):
                valid = " and ".join(text.format(f.metadata[k]) for k in _BOUND_TESTS if k in f.metadata)
                raise ValueError(f"{f.name} must be {valid}, got {value!r}")


def sigmoid_loss(logits: torch.Tensor, label_smoothing: float) -> torch.Tensor:
    """-(1-eps) log sigma(x) - eps log sigma(-x): the (conservative) Bradley-Terry loss on a logit x.

    Shared by DPO/cDPO, SimPO and AMaPO; computed with log-sigmoid for numerical stability.
    """
    import torch.nn.functional as F

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


def gather_detached(t: torch.Tensor) -> torch.Tensor:
    """A 1-D tensor concatenated over all DDP ranks, detached: for batch statistics that take no gradient.

    Identity when torch.distributed is unavailable or not initialised (single process, unit tests).
    Ranks may hold different numbers of pairs (a smaller last batch), so sizes are exchanged first and
    the padding needed by `all_gather` is trimmed again. Every rank must call it (it is a collective).
    """
    import torch.distributed as dist

    t = t.detach().reshape(-1)
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return t
    world = dist.get_world_size()
    size = torch.tensor([t.numel()], device=t.device)
    sizes = [torch.empty_like(size) for _ in range(world)]
    dist.all_gather(sizes, size)
    counts = [int(s.item()) for s in sizes]
    padded = t.new_zeros(max(counts))
    padded[: t.numel()] = t
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded)
    return torch.cat([p[:n] for p, n in zip(parts, counts)])


def batch_std(t: torch.Tensor) -> torch.Tensor:
    """Unbiased (N-1) standard deviation, as `torch.std` in the authors' code, but 0 (not NaN) for N < 2."""
    if t.numel() < 2:
        return t.new_zeros(())
    return t.std()
