#!/usr/bin/env python
"""RM-Bench for a reward model or for a policy's implicit reward; writes results/reproduced/<name>/rm-bench.json.

    python eval/rm_bench/run.py --model outputs/demo/seed0/dpo --ref outputs/demo/seed0/sft
    python eval/rm_bench/run.py --model outputs/rm/minilm-base          # a reward model (run_rm.py output)
    make eval-rmbench MODEL=outputs/demo/seed0/dpo REF=outputs/demo/seed0/sft

A folder with reward_config.json is scored as a reward model; anything else as a policy: the length-normalised
log-prob (SimPO/AMaPO) always, the DPO log-ratio against --ref when given. The file follows
prefopt/results.py (metrics in %, benchmark "rm-bench", the manifest inside); `details` keeps every matrix.
Options: --cell ID and --template NAME (what `make eval-<cell>` passes), --data DIR (default ../shared/data/rm_bench; official runs: RM-Bench's data/ folder), --name RUN,
--limit N (records per domain), --max_length, --max_prompt_length, --batch_size, --out FILE.
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from prefopt.core.cli import main  # noqa: E402
from prefopt.core.paths import shared_data_dir  # noqa: E402


def run(argv):
    from prefopt.evaluation.report import run_name  # noqa: PLC0415
    from prefopt.reward.rmbench import evaluate_model  # noqa: PLC0415

    ap = argparse.ArgumentParser(prog="eval/rm_bench/run.py")
    ap.add_argument("--model", required=True)
    ap.add_argument("--ref", default=None)
    ap.add_argument("--data", default=str(shared_data_dir() / "rm_bench"))
    ap.add_argument("--name", default=None)
    ap.add_argument("--out", default=None)
    ap.add_argument("--cell", default=None, help="registry cell id written into the file (make eval-<cell>)")
    ap.add_argument("--template", default=None, help="the registry's template name; recorded (the tokenizer's own "
                                                      "chat template is used)")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--max_length", type=int, default=512)
    ap.add_argument("--max_prompt_length", type=int, default=256)
    ap.add_argument("--batch_size", type=int, default=8)
    a = ap.parse_args(argv)
    out = Path(a.out) if a.out else ROOT / "results" / "reproduced" / (a.name or run_name(a.model)) / "rm-bench.json"
    result = evaluate_model(a.model, a.data, ref=a.ref, limit=a.limit, max_length=a.max_length,
                            max_prompt_length=a.max_prompt_length, batch_size=a.batch_size, out=out,
                            cell=a.cell, template=a.template)
    print(f"wrote {out}")
    for k, v in result["metrics"].items():
        print(f"  {k}: {v:.2f}")


if __name__ == "__main__":
    sys.exit(main(run, __doc__, lambda: ""))
