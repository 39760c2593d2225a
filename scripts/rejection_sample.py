#!/usr/bin/env python
"""Rejection sampling with a reward model: a policy samples n answers per query, the RM scores them, and the best of
each query becomes an SFT row for scripts/run_sft.py (APO's LLM side; prefopt/reward/rjs.py).

    python scripts/rejection_sample.py sampling_configs/alpaca-7b-hh/rjs.yaml [--key=value ...]
    python scripts/rejection_sample.py sampling_configs/tiny/rjs.yaml          # CPU, after make demo
    make rejection-sample CONFIG=sampling_configs/tiny/rjs.yaml

Writes <output_dir>/samples.jsonl (resumable, chunk by chunk), train.jsonl (the SFT rows) and manifest.json.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from prefopt.config import describe  # noqa: E402
from prefopt.core.cli import main  # noqa: E402


def run(argv):
    from prefopt.core.cli import configure_logging
    from prefopt.reward.rjs import parse_rjs_config, run_rejection_sampling

    configure_logging()
    return run_rejection_sampling(parse_rjs_config(argv))


def help_text():
    from prefopt.reward.rjs import RejectionSamplingConfig

    return describe([RejectionSamplingConfig])


if __name__ == "__main__":
    sys.exit(main(run, __doc__, help_text))
