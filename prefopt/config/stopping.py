"""The `epoch_stopping:` config block: multi-epoch training until a held-out metric stops improving.

    num_train_epochs: 10                              # E_max
    eval_strategy: epoch                              # the metric is measured after every epoch
    metric_for_best_model: eval_rewards/accuracies    # which metric (transformers' key; greater_is_better says which way)
    load_best_model_at_end: true                      # keep the best epoch's weights (save_strategy: epoch)
    epoch_stopping:
      patience: 2                                     # P
      min_delta: 0.005                                # epsilon, in the metric's units
      split: test                                     # or validation: a seeded slice of the training rows

Stop after epoch e when the best value so far gained less than epsilon over the best value up to epoch e - P
(prefopt.training.stopping). The metric, its direction and keeping the best weights are transformers' own keys, so
each is said once; this block holds the rule and where the metric is measured.
"""

from __future__ import annotations

from dataclasses import dataclass

from prefopt.core.errors import InputError
from prefopt.core.fields import arg, build_checked

from .reward import RewardConfig

STOPPING_SPLITS = ("test", "validation")


@dataclass
class EpochStoppingConfig:
    patience: int = arg(2, "P: stop after epoch e when the best metric up to e beats the best up to e - P by less "
                           "than min_delta (so at least P + 1 epochs run).", ge=1)
    min_delta: float = arg(0.005, "epsilon: the smallest gain over P epochs that counts as progress, in the metric's "
                                  "units (eval_rewards/accuracies is a fraction: 0.005 = 0.5 points).", ge=0)
    split: str = arg("test", "Where the per-epoch metric is measured. test: the config's eval split (the SamS paper's "
                             "'until test accuracy converges'; the epoch is then picked on the reported set). "
                             "validation: validation_fraction of the training rows, held out by a seeded permutation "
                             "(data_seed, else seed) and not trained on.", choices=STOPPING_SPLITS)
    validation_fraction: float = arg(0.02, "Share of the training rows held out when split is validation.", gt=0,
                                     lt=0.5)


def make_stopping_config(values: dict, source: str = "<config>") -> EpochStoppingConfig:
    """EpochStoppingConfig from an `epoch_stopping:` mapping, checked like every config group."""
    return build_checked(EpochStoppingConfig, values, source=source, prefix="epoch_stopping.",
                         what="epoch_stopping key")


def check_stopping(train, data, source: str) -> EpochStoppingConfig | None:
    """The block's rules across groups: per-epoch evaluation, a named metric, an eval set to measure it on."""
    if not train.epoch_stopping:
        return None
    cfg = make_stopping_config(train.epoch_stopping, source)
    strategy = str(getattr(train.eval_strategy, "value", train.eval_strategy))
    if strategy != "epoch":
        raise InputError(f"epoch_stopping needs the metric after every epoch, but eval_strategy is {strategy!r}",
                         where=source, fix="set eval_strategy: epoch")
    if not train.metric_for_best_model:
        raise InputError("epoch_stopping needs metric_for_best_model (the metric the rule watches)", where=source,
                         fix="set metric_for_best_model, e.g. eval_rewards/accuracies (and greater_is_better)")
    if cfg.split == "validation" and isinstance(train, RewardConfig):  # reward models load their data their own way
        raise InputError("epoch_stopping.split: validation is not available for reward models", where=source,
                         fix="use split: test (the eval split)")
    if cfg.split == "test" and not data.eval_split:
        raise InputError("epoch_stopping.split is test but eval_split is null", where=source,
                         fix="set eval_split, or epoch_stopping.split: validation")
    return cfg
