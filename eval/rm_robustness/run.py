#!/usr/bin/env python
"""AMaPO's rm-robustness ranking accuracy (ID / prompt-OOD / response-OOD / mutual-OOD on UltraFeedback) of a
policy; writes results/reproduced/<run>/rm-robustness.json (prefopt/evaluation/rm_robustness.py: protocol, data,
the pairing choice).

    python eval/rm_robustness/run.py --model outputs/mistral-base/amapo --data /data/rm-robustness
    make eval-rm-robustness MODEL=outputs/mistral-base/amapo [REF=<reference>] [DATA=<folder>] [PAIRING=all-pairs]
        [SETTINGS=response_ood,mutual_ood] [LIMIT=n]

Every option: --help.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from prefopt.core.cli import main  # noqa: E402


def run(argv):
    from prefopt.evaluation.rm_robustness import run as evaluate  # noqa: PLC0415

    result = evaluate(argv)
    print(f"wrote {result['out']}")
    for k, v in result["metrics"].items():
        print(f"  {k}: {v:.2f}")


def usage():
    from prefopt.evaluation.rm_robustness import parser  # noqa: PLC0415

    return parser().format_help()


if __name__ == "__main__":
    sys.exit(main(run, __doc__, usage))
