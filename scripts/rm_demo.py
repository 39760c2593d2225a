#!/usr/bin/env python
"""`make rm-demo`: base RM vs APO RM on the real MiniLM encoder (see prefopt/reward/demo.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from prefopt.reward.demo import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
