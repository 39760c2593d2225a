#!/usr/bin/env python
"""Local copies of the SamS Table 2 data (Pythia-2.8B on Anthropic HH / Stanford SHP), in prefopt's formats.

    python scripts/prepare_pref_data.py hh  data/pythia-2.8b-hh     # needs Anthropic/hh-rlhf in the hub cache
    python scripts/prepare_pref_data.py shp data/pythia-2.8b-shp    # stanfordnlp/SHP

Writes <out>/pairs/{train,test}.jsonl (preference pairs as {prompt, chosen, rejected} message lists) and
<out>/sft/{train,test}.jsonl ({messages}: the prompt and the CHOSEN response), the SFT stage that
eric-mitchell/direct-preference-optimization (the codebase SamS builds on) runs first: SFT on the preferred
responses. The rows are read exactly as `make eval-pref-accuracy DATA=hh|shp` reads them (prefopt/prefacc.py:
rows prefopt.data cannot use are dropped and counted; SHP keeps pairs with a score ratio >= 2).
HH needs no pairs copy (the configs read Anthropic/hh-rlhf directly); it is written anyway so both settings look
the same. The training configs under training_configs/pythia-2.8b-{hh,shp}/ point at these folders.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from prefopt.core.cli import main  # noqa: E402


def run(argv):
    from prefopt.evaluation.preference_accuracy import load_test_pairs
    from prefopt.toy.chain import write_jsonl

    ap = argparse.ArgumentParser(prog="scripts/prepare_pref_data.py")
    ap.add_argument("data", help="hh | shp | a file or folder of pairs")
    ap.add_argument("out")
    ap.add_argument("--splits", nargs="+", default=["train", "test"])
    ap.add_argument("--min_score_ratio", type=float, default=2.0, help="shp only (eric-mitchell: 2)")
    ap.add_argument("--limit", type=int, default=None, help="first N pairs per split (smoke tests)")
    a = ap.parse_args(argv)
    out = Path(a.out)
    stats = {}
    for split in a.splits:
        pairs, source, _ = load_test_pairs(a.data, split, a.min_score_ratio, "drop")
        dropped = dict(pairs.dropped)
        pairs = pairs[: a.limit] if a.limit else pairs
        write_jsonl(out / "pairs" / f"{split}.jsonl",
                    [{"prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected} for p in pairs])
        write_jsonl(out / "sft" / f"{split}.jsonl", [{"messages": p.prompt + p.chosen} for p in pairs])
        stats[split] = {"source": source, "pairs": len(pairs), "dropped": dropped}
    (out / "stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    print(f"wrote {out}/pairs and {out}/sft: {stats}")


if __name__ == "__main__":
    sys.exit(main(run, __doc__, lambda: ""))
