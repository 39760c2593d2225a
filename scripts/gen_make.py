#!/usr/bin/env python
"""Write make/cells.mk (every cell's `make <cell>` and `make eval-<cell>`) from results/cells.yaml.

    python scripts/gen_make.py           # = make gen-make
    python scripts/gen_make.py --check   # exit 1 if make/cells.mk is out of date
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from prefopt.core.errors import InputError  # noqa: E402
from prefopt.reproduce.cells import GENERATED_MAKEFILE, load_registry  # noqa: E402
from prefopt.reproduce.make_rules import render  # noqa: E402


def main(argv: list[str]) -> int:
    if argv not in ([], ["--check"]):
        print(__doc__)
        return 2
    try:
        text = render(load_registry())
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    current = GENERATED_MAKEFILE.read_text(encoding="utf-8") if GENERATED_MAKEFILE.exists() else None
    if argv == ["--check"]:
        if current != text:
            print(f"{GENERATED_MAKEFILE} is out of date: run make gen-make", file=sys.stderr)
            return 1
        return 0
    if current != text:
        GENERATED_MAKEFILE.parent.mkdir(exist_ok=True)
        GENERATED_MAKEFILE.write_text(text, encoding="utf-8")
    print(f"{GENERATED_MAKEFILE.relative_to(GENERATED_MAKEFILE.parents[1])}: {text.count(chr(10))} lines"
          f"{'' if current != text else ' (unchanged)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
