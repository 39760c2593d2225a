#!/usr/bin/env python
"""Preference accuracy, average score and calibration of a trained reward model on one comparison set.

    python scripts/eval_rm.py --model outputs/llama-7b-hh-rm/rm-base --data hh-test
    make eval-rm MODEL=outputs/rm_demo/seed0/base_rm DATA=../shared/data/hh-rlhf/harmless-base-test.jsonl.gz

--data: `hh-test` / `hh-llm-valid` (APO's eval sets, expected under data/apo/hh-split/eval_data/), or any file or
folder prefopt.reward.data reads. Writes results/reproduced/<run>/<data>.json in the registry format of
prefopt/results.py (accuracy in %; ECE, ACE and MCE as fractions, the unit APO prints; avg_score), the manifest
inside. --out FILE, --cell ID, --split (default test), --max_length (default: the model's training max_length),
--limit N, --batch_size.
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from prefopt.core.cli import main  # noqa: E402


def run(argv):
    from prefopt.config import ModelArguments
    from prefopt.core.manifest import build_manifest, write_json
    from prefopt.evaluation.report import run_name
    from prefopt.modeling.loading import load_tokenizer
    from prefopt.reward.data import RewardCollator, RewardTokenizer, load_items
    from prefopt.reward.model import load_reward_model, reward_settings
    from prefopt.reward.score_eval import data_source
    from prefopt.reward.train import evaluate_sets

    ap = argparse.ArgumentParser(prog="scripts/eval_rm.py")
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--split", default="test")
    ap.add_argument("--out", default=None)
    ap.add_argument("--cell", default=None)
    ap.add_argument("--max_length", type=int, default=None)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--batch_size", type=int, default=16)
    a = ap.parse_args(argv)
    source, name = data_source(a.data)
    settings = reward_settings(a.model)
    max_length = a.max_length or settings.get("max_length") or 512
    tok = load_tokenizer(ModelArguments(model_name_or_path=a.model), require_chat_template=False)
    rt = RewardTokenizer(tok, max_length=max_length, add_sep_token=settings.get("add_sep_token", False))
    items, dropped = load_items(source, a.split, bad_rows="drop", limit=a.limit)
    m = evaluate_sets(load_reward_model(a.model), {"x": [rt.item(it) for it in items]}, RewardCollator(tok.pad_token_id),
                      a.batch_size, [10])
    metrics = {"accuracy": 100 * m["eval_x_accuracy"], "ece": m["eval_x_ECE10"], "ace": m["eval_x_ACE10"],
               "mce": m["eval_x_MCE10"], "avg_score": m["eval_x_avg_score"]}
    out = Path(a.out) if a.out else ROOT / "results" / "reproduced" / run_name(a.model) / f"{name}.json"
    write_json(out, {"cell": a.cell, "benchmark": name, "metrics": metrics, "pairs": m["eval_x_pairs"],
                     "manifest": build_manifest("rm-eval", config=vars(a), model=a.model, data=source, dropped=dropped,
                                                max_length=max_length, truncated=rt.stats)})
    print(f"wrote {out}: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))


if __name__ == "__main__":
    sys.exit(main(run, __doc__, lambda: ""))
