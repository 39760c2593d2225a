#!/usr/bin/env python
"""The embedded demo (`make demo`): tiny model -> SFT -> on-policy pairs -> DPO and SimPO -> evaluation."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from prefopt.toy.demo import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
