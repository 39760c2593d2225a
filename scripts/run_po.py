#!/usr/bin/env python
"""Train any pairwise preference method (DPO, SimPO, IPO, ...), or KTO (`loss: kto`, via TRL), from one YAML config.

    accelerate launch --config_file accelerate_configs/deepspeed_zero3.yaml scripts/run_po.py \
        training_configs/<cell>.yaml [--key=value ...]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from prefopt.config import DataArguments, ModelArguments, PreferenceConfig, describe, parse_config  # noqa: E402
from prefopt.core.cli import main  # noqa: E402


def run(argv):
    from prefopt.training.dispatch import train_from_config  # the method table's runner: pairwise, or TRL's KTO

    return train_from_config(*parse_config(argv, PreferenceConfig))


if __name__ == "__main__":
    sys.exit(main(run, __doc__, lambda: describe([ModelArguments, DataArguments, PreferenceConfig])))
