#!/usr/bin/env python
r"""Step 4 of the on-policy chain: chosen = highest score, rejected = lowest, ties dropped, train/test split.

    python on_policy_data_gen/binarize.py --input outputs/onpolicy/<setting>/all_outputs_rm.jsonl \
        --test_prompts HuggingFaceH4/ultrafeedback_binarized --test_split test_prefs \
        --out outputs/onpolicy/<setting>/dataset

Split: --test_prompts SOURCE (the `prompt` column of --test_split of a dataset, or a .txt file with one prompt
per line: those prompts form the test split, UltraFeedback's prompt split as the SimPO authors did), else
--test_fraction F with --split_seed. Writes a datasets folder (DatasetDict.save_to_disk) with README.md and
onpolicy_manifest.json; train on it with scripts/run_po.py <config> --dataset=<out>.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from prefopt.core.cli import main  # noqa: E402


def parser():
    import argparse

    ap = argparse.ArgumentParser(prog="on_policy_data_gen/binarize.py")
    ap.add_argument("--input", required=True, help="the output of annotate.py")
    ap.add_argument("--test_prompts", default=None, help="dataset (or .txt) whose prompts form the test split")
    ap.add_argument("--test_split", default="test_prefs")
    ap.add_argument("--test_fraction", type=float, default=0.0)
    ap.add_argument("--split_seed", type=int, default=0)
    ap.add_argument("--out", required=True, help="the dataset folder")
    return ap


def run(argv):
    from prefopt.core.cli import configure_logging
    from prefopt.core.errors import InputError
    from prefopt.onpolicy.binarize import binarize_rows, load_test_prompts, save_dataset
    from prefopt.onpolicy.common import read_rows, read_sidecar

    a = parser().parse_args(argv)
    configure_logging()
    if a.test_prompts and a.test_fraction:
        raise InputError("--test_prompts and --test_fraction both given", fix="split one way: pass only one of them")
    rows = read_rows(a.input, "binarize")
    test = load_test_prompts(a.test_prompts, a.test_split) if a.test_prompts else None
    splits, stats = binarize_rows(rows, test_prompts=test, test_fraction=a.test_fraction, split_seed=a.split_seed,
                                  label=a.input)
    upstream = read_sidecar(a.input)
    if upstream is None:
        print(f"warning: {a.input}.manifest.json not found: the card cannot name the models and seeds",
              file=sys.stderr)
    out = save_dataset(splits, a.out, stats=stats, upstream=upstream, config=vars(a))
    print(f"wrote {out}: {stats['n_pairs']} pairs (train {stats['n_train']}, test {stats['n_test']}) from "
          f"{stats['n_prompts']} prompts; {stats['n_ties_dropped']} ties dropped")
    print(f"train on it: scripts/run_po.py <config> --dataset={out}")


if __name__ == "__main__":
    sys.exit(main(run, __doc__, lambda: parser().format_help()))
