#!/usr/bin/env python
"""Train a reward model (APO's base / testing / APO RM) from one YAML config.

    accelerate launch --config_file accelerate_configs/deepspeed_zero3_offload.yaml scripts/run_rm.py \
        training_configs/<cell>.yaml [--key=value ...]
    python scripts/run_rm.py training_configs/tiny/rm.yaml          # CPU
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from prefopt.config import DataArguments, ModelArguments, describe, parse_config  # noqa: E402
from prefopt.core.cli import main  # noqa: E402


def run(argv):
    from prefopt.config.reward import RewardConfig
    from prefopt.reward.train import train_rm

    return train_rm(*parse_config(argv, RewardConfig))


def help_text():
    from prefopt.config.reward import RewardConfig

    return describe([ModelArguments, DataArguments, RewardConfig])


if __name__ == "__main__":
    sys.exit(main(run, __doc__, help_text))
