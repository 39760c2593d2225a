"""The one method table: every name `loss:` accepts, what its hyperparameters are, and which runner trains it.

    get_method("simpo").runner  -> "prefopt.training.preference:train_preference"  (the one pairwise pipeline)
    get_method("kto").runner    -> "prefopt.training.kto:train_kto"                 (TRL's unpaired KTOTrainer)

Rows come from two places: every registered pairwise loss (`prefopt.losses.LOSSES`, which also says whether
it needs reference log-probs or keeps state), and the few methods that run in a trainer of their own (rows of
`OWN_TRAINER` below). Runners are "module:function" strings, so this table imports no training code: the
config layer can validate `loss:` and its hyperparameters before anything heavy is loaded, and
`prefopt.training.dispatch` is the only place that imports a runner.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from prefopt.core.fields import arg, make_checked
from prefopt.losses import LOSSES, LossSpec

PAIRWISE_RUNNER = "prefopt.training.preference:train_preference"


@dataclass(frozen=True)
class Method:
    """One row of the table. `loss` is the pairwise loss's registry entry (None for an own-trainer method)."""

    name: str
    hparams: type
    runner: str
    summary: str = ""
    loss: LossSpec | None = None

    @property
    def takes_sample_scheduler(self) -> bool:
        """A sample scheduler weights the per-pair losses of the pairwise pipeline: only pairwise methods take one."""
        return self.loss is not None

    def hparam_names(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self.hparams)]

    def make_hparams(self, values: dict) -> object:
        return make_checked(self.hparams, values, owner=f"loss {self.name!r}")


# ---- methods with their own trainer -------------------------------------------------------------------------
KTO_LOSS_TYPES = ("kto", "apo_zero_unpaired")


@dataclass
class KTOParams:
    """KTO (Ethayarajh et al. 2024) through TRL's KTOTrainer: each pair gives one desirable and one undesirable
    example (`prefopt.training.kto`)."""

    beta: float = arg(0.1, "KTO beta: scale of the implied reward beta*log(pi/pi_ref) in the sigmoid (TRL default 0.1).",
                      gt=0)
    desirable_weight: float = arg(1.0, "lambda_D: weight of the desirable (chosen) examples' losses; 1 for pairs.",
                                  ge=0)
    undesirable_weight: float = arg(1.0, "lambda_U: weight of the undesirable (rejected) examples' losses; 1 for "
                                         "pairs.", ge=0)
    loss_type: str = arg("kto", "'kto' (the paper: reference point z0 = batch KL estimate) or 'apo_zero_unpaired' "
                                "(TRL's unpaired APO-zero: no KL term).", choices=KTO_LOSS_TYPES)
    precompute_ref_log_probs: bool = arg(False, "Score the data with the reference once before training (TRL) instead "
                                                "of keeping the reference model in memory.")

    def validate(self):
        if self.desirable_weight == 0 and self.undesirable_weight == 0:
            raise ValueError("desirable_weight and undesirable_weight cannot both be 0")


OWN_TRAINER = {
    "kto": Method("kto", KTOParams, "prefopt.training.kto:train_kto",
                  "KTO (Ethayarajh et al. 2024) via trl.KTOTrainer; each pair -> one desirable + one undesirable example."),
}


def methods() -> dict[str, Method]:
    """The table, built from the loss registry as it stands (a loss registered later is included)."""
    clash = sorted(set(LOSSES) & set(OWN_TRAINER))
    if clash:
        raise ValueError(f"{clash} registered both as a pairwise loss and as a method with its own trainer")
    pairwise = {name: Method(name, spec.hparams, PAIRWISE_RUNNER, spec.summary, spec) for name, spec in LOSSES.items()}
    return {**pairwise, **OWN_TRAINER}


def get_method(name: str) -> Method:
    table = methods()
    if name not in table:
        raise KeyError(f"unknown method {name!r}; use one of: {', '.join(sorted(table))}")
    return table[name]
