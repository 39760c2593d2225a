#!/usr/bin/env python
"""Implicit-reward preference accuracy of a policy vs its reference on HH / SHP test pairs (SamS Table 2).

    python scripts/eval_pref_accuracy.py --model outputs/pythia-2.8b-hh/dpo --data hh [--ref <reference>]
    make eval-pref-accuracy MODEL=outputs/pythia-2.8b-hh/dpo DATA=hh

Details (tie rule, defaults, what is reused): prefopt/prefacc.py; every option: --help.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from prefopt.core.cli import main  # noqa: E402
from prefopt.evaluation.preference_accuracy import parser, run  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(run, __doc__, parser().format_help))
