#!/usr/bin/env python
"""A policy's answers scored by a (testing) reward model: APO's LLM evaluation, benchmark hh-test of the
alpaca-7b-hh cells (prefopt/reward/score_eval.py).

    python scripts/eval_rm_score.py --model outputs/alpaca-7b-hh/rjs --rm outputs/llama-7b-hh-rm/rm-testing \
        --data hh-test --template hh --generation 'do_sample=true temperature=0.3 top_k=5 top_p=0.85 ...'
    make eval-rm-score MODEL=... RM=... [DATA=hh-test] [TEMPLATE=hh] [GENERATION='...'] [BASELINE=<answers>]
    make eval-hh-apo-rjs RM=outputs/llama-7b-hh-rm/rm-testing BASELINE=results/reproduced/hh-base-rjs

--data: `hh-test` (APO's hh_cleaned_origin.test.json under data/apo/hh-split/eval_data/) or any query file
(prefopt.reward.sampling.load_queries). Writes results/reproduced/<run>/<data>.json (avg_score, with --baseline
also win_rate; each with its _se) and <data>.answers.jsonl beside it. Options: --out_dir DIR, --cell ID,
--split (default test), --limit N, --seed, --batch_size, --rm_batch_size, --rm_max_length, --dtype, --device.
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from prefopt.core.cli import main  # noqa: E402


def run(argv):
    ap = argparse.ArgumentParser(prog="scripts/eval_rm_score.py")
    ap.add_argument("--model", required=True, help="the policy")
    ap.add_argument("--rm", required=True, help="the testing reward model (an output_dir of scripts/run_rm.py)")
    ap.add_argument("--data", default="hh-test")
    ap.add_argument("--split", default="test")
    ap.add_argument("--template", default=None, help="hh, tokenizer, or a Jinja chat template")
    ap.add_argument("--generation", default=None, help="'key=value ...' decoding settings (the registry's)")
    ap.add_argument("--max_new_tokens", type=int, default=None, help="replace the settings' answer length")
    ap.add_argument("--baseline", default=None, help="answers file (or its folder) of the policy to compare with")
    ap.add_argument("--out_dir", default=None)
    ap.add_argument("--cell", default=None)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--seed", type=int, help="sampling seed (default: GENERATION's seed=, else 0)")
    ap.add_argument("--batch_size", type=int, default=16)
    ap.add_argument("--rm_batch_size", type=int, default=16)
    ap.add_argument("--rm_max_length", type=int, default=None)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--device", default="auto")
    a = ap.parse_args(argv)

    from prefopt.core.cli import configure_logging
    from prefopt.evaluation.settings import with_max_new_tokens
    from prefopt.reward.score_eval import data_source, evaluate_policy

    configure_logging()
    out = Path(a.out_dir) / f"{data_source(a.data)[1]}.json" if a.out_dir else None
    res, path = evaluate_policy(a.model, a.rm, a.data, split=a.split, template=a.template, generation=with_max_new_tokens(a.generation, a.max_new_tokens),
                          baseline=a.baseline, out=out, cell=a.cell, limit=a.limit, seed=a.seed,
                          batch_size=a.batch_size, rm_batch_size=a.rm_batch_size, rm_max_length=a.rm_max_length,
                          dtype=a.dtype, device=a.device)
    print(f"wrote {path}: "
          + ", ".join(f"{k} {v:.3f}" for k, v in res["metrics"].items()))


if __name__ == "__main__":
    sys.exit(main(run, __doc__, lambda: ""))
