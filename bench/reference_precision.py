#!/usr/bin/env python
"""Reference vs policy numerics at step 0 (issue 20, item 6): how far a reference scored in one precision is from
the policy's training forward in another, on a tiny model.

    .venv/bin/python bench/reference_precision.py [--size 10m] [--pairs 32] [--max-length 512]

The policy at step 0 IS the reference, so every nonzero log-ratio is numerical noise. Policy forwards use training
batches (8, shuffled); reference forwards use the reference pass's batches (4, in order). Rows:
  fp32 reference (no autocast) vs policy under bf16 autocast (plain/DDP with bf16: true) and with bf16 weights
  (DeepSpeed bf16), then the same with the reference scored under the policy's numerics (prefopt.modeling.refprecision).
Data: the UltraFeedback sample in ../shared/data or $PREFOPT_SHARED_DATA (long answers) when present, else the tiny addition pairs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
UF = Path(os.environ.get("PREFOPT_SHARED_DATA", REPO.parent / "shared" / "data")) / "ultrafeedback_binarized_sample"


def rows_and_model(size: str, n: int, max_length: int, work: Path):
    from prefopt.toy.addition.tiny import build_tiny
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from prefopt.data import load_pairs, tokenize_pairs

    if UF.exists():
        model_dir = build_tiny(size, "bpe", cache_dir=work)
        pairs = load_pairs(str(UF), split="eval_clean", bad_rows="drop")[:n]
    else:
        sys.path.insert(0, str(REPO / "tests"))
        from conftest import tiny_model_and_pairs

        _, data = tiny_model_and_pairs(work, n)
        model_dir = build_tiny(size, "char", cache_dir=work)
        pairs = load_pairs(str(data), split="train")
    tok = AutoTokenizer.from_pretrained(model_dir)
    rows, _ = tokenize_pairs(pairs, tok, max_length=max_length, max_prompt_length=max_length // 4)
    return rows, AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32), tok


def scores(model, rows, collate, batch: int, shuffle: bool, ctx=contextlib.nullcontext):
    from prefopt.modeling.refcache import compute_logps

    order = list(range(len(rows)))
    if shuffle:
        random.Random(0).shuffle(order)
    chosen, rejected = torch.empty(len(rows)), torch.empty(len(rows))
    with ctx():
        c, r = compute_logps(model, [rows[i] for i in order], collate, batch_size=batch)
    chosen[order], rejected[order] = c, r
    return chosen, rejected


def compare(name: str, policy, reference, beta: float = 0.1) -> dict:
    dc, dr = policy[0] - reference[0], policy[1] - reference[1]
    margin = dc - dr
    return {"case": name, "max_abs_logp_gap": max(dc.abs().max().item(), dr.abs().max().item()),
            "mean_abs_logp_gap": torch.cat([dc, dr]).abs().mean().item(),
            "max_abs_init_margin": margin.abs().max().item(), "mean_abs_init_margin": margin.abs().mean().item(),
            "init_reward_accuracy": (margin > 0).float().mean().item(),
            f"dpo_loss_at_init_beta{beta}": -F.logsigmoid(beta * margin).mean().item()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="10m")
    ap.add_argument("--pairs", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--work", default=str(REPO / ".cache" / "bench-refprec"))
    a = ap.parse_args()
    torch.manual_seed(0)
    from prefopt.data import PairCollator

    rows, model, tok = rows_and_model(a.size, a.pairs, a.max_length, Path(a.work))
    collate = PairCollator(tok.pad_token_id)
    bf16_weights = type(model)(model.config).to(torch.bfloat16)
    bf16_weights.load_state_dict(model.state_dict())
    autocast = lambda: torch.autocast("cpu", dtype=torch.bfloat16)  # noqa: E731
    ref_fp32 = scores(model, rows, collate, 4, False)
    pol_autocast = scores(model, rows, collate, 8, True, autocast)
    pol_bf16 = scores(bf16_weights, rows, collate, 8, True)
    results = [
        compare("policy fp32 vs reference fp32", scores(model, rows, collate, 8, True), ref_fp32),
        compare("policy bf16 autocast vs reference fp32", pol_autocast, ref_fp32),
        compare("policy bf16 weights vs reference fp32", pol_bf16, ref_fp32),
        compare("policy bf16 autocast vs reference bf16 autocast", pol_autocast,
                scores(model, rows, collate, 4, False, autocast)),
        compare("policy bf16 weights vs reference bf16 weights", pol_bf16, scores(bf16_weights, rows, collate, 4, False)),
    ]
    tokens = sum(len(r["chosen_ids"]) + len(r["rejected_ids"]) for r in rows) / (2 * len(rows))
    print(f"tiny {a.size}, {len(rows)} pairs, mean answer length {tokens:.1f} tokens, torch {torch.__version__}, CPU")
    keys = list(results[0])[1:]
    print("| case | " + " | ".join(keys) + " |\n|---|" + "---|" * len(keys))
    for r in results:
        print(f"| {r['case']} | " + " | ".join(f"{r[k]:.3g}" for k in keys) + " |")


if __name__ == "__main__":
    main()
