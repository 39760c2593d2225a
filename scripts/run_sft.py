#!/usr/bin/env python
"""Supervised fine-tuning (the starting point of every preference run) from one YAML config.

    accelerate launch --config_file accelerate_configs/deepspeed_zero3.yaml scripts/run_sft.py \
        training_configs/<cell>.yaml [--key=value ...]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from prefopt.config import DataArguments, ModelArguments, SFTConfig, describe, parse_config  # noqa: E402
from prefopt.core.cli import main  # noqa: E402


def run(argv):
    from prefopt.training.sft import train_sft

    return train_sft(*parse_config(argv, SFTConfig))


if __name__ == "__main__":
    sys.exit(main(run, __doc__, lambda: describe([ModelArguments, DataArguments, SFTConfig])))
