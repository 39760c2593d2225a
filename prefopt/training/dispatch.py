"""Which runner trains a config: the one place that turns a config into a training run.

    train_from_config(model_args, data_args, args)   # SFT, RM, or the method `loss:` names (its table row's runner)
    config_class(raw)                               # which entry point (config class) a YAML belongs to
"""

from __future__ import annotations

from prefopt.config import PreferenceConfig, SFTConfig, get_method
from prefopt.config.reward import RewardConfig
from prefopt.core.plugins import load_object

SFT_RUNNER = "prefopt.training.sft:train_sft"
RM_RUNNER = "prefopt.reward.train:train_rm"


def config_class(raw: dict) -> type:
    """Which entry point a YAML belongs to, from its keys: `task_type` -> scripts/run_rm.py (RewardConfig),
    `loss` -> scripts/run_po.py (PreferenceConfig), neither -> scripts/run_sft.py (SFTConfig)."""
    if "task_type" in raw:
        return RewardConfig
    return PreferenceConfig if "loss" in raw else SFTConfig


def runner_of(args) -> str:
    """The "module:function" that trains `args`."""
    if isinstance(args, RewardConfig):
        return RM_RUNNER
    if isinstance(args, SFTConfig):
        return SFT_RUNNER
    return get_method(args.loss).runner


def train_from_config(model_args, data_args, args) -> dict:
    """Train whatever the config describes; returns the final metrics."""
    return load_object(runner_of(args))(model_args, data_args, args)
