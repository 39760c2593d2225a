#!/usr/bin/env python
"""`make mini-table`: every method from the same tiny SFT model on the embedded task, >= 3 seeds."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from prefopt.toy.minitable import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
