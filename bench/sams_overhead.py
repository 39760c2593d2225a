#!/usr/bin/env python
"""Peak memory and step time of DPO + SamS vs DPO on the 10M tiny model, measured side by side.

Each configuration runs in its own fresh process (same model, same synthetic batches, same seed), alternating
A, B, A, B for `--repeats` rounds; a step is PreferenceTrainer.compute_loss + backward + AdamW step. Reported per
configuration: median step time and peak memory (CUDA: torch.cuda.max_memory_allocated; CPU: the process's peak
resident set size), and the SamS / DPO ratios.

    .venv/bin/python bench/sams_overhead.py [--pairs 16] [--length 128] [--steps 12] [--repeats 2] [--out FILE]

Why SamS cannot save activation memory here: the arm context and the losses come from the one forward over all
B pairs (no second forward), so autograd keeps the whole batch's activations and the backward runs through the
batched matmuls for every pair; unselected pairs only get a zero loss weight. The scheduler adds its networks,
their Adam state, the replay pool and one (B, L, d) context tensor.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import StepTimer, interleaved, peak_memory_mb, run_worker  # noqa: E402

TINY_SCHEDULER = {  # training_configs/tiny/dpo-sams.yaml's networks, without a pretrained init
    "name": "sams", "select_ratio": 0.5, "encoder": "scratch", "encoder_dim": 64, "encoder_layers": 1,
    "encoder_heads": 4, "connector_dim": 128, "width": 128, "depth": 4, "block_size": 4, "train_steps": 4,
    "pool_size": 64, "pool_batches": 8}
CONFIGS = {"dpo": {}, "dpo-sams": TINY_SCHEDULER, "dpo-random-half": {"name": "random", "select_ratio": 0.5}}


def worker(name: str, pairs: int, length: int, steps: int) -> dict:
    import torch
    from prefopt.toy.addition.tiny import build_tiny
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from prefopt.config import PreferenceConfig, build_config
    from prefopt.training.trainer import PreferenceTrainer

    torch.manual_seed(0)
    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    model_dir = build_tiny("10m", "bpe")
    tmp = tempfile.mkdtemp()
    raw = {"model_name_or_path": str(model_dir), "dataset": "unused", "loss": "dpo", "beta": 0.1, "output_dir": tmp,
           "report_to": "none", "use_cpu": not cuda, "learning_rate": 1e-5, "per_device_train_batch_size": pairs}
    if CONFIGS[name]:
        raw["sample_scheduler"] = CONFIGS[name]
    _, _, args = build_config(raw, "<bench>", PreferenceConfig)
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).to(device)
    trainer = PreferenceTrainer(model=model, args=args, processing_class=tok, ref_model=None,
                                train_dataset=None)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    g = torch.Generator().manual_seed(1)
    vocab = model.config.vocab_size
    batches = []
    for _ in range(steps):
        ids = torch.randint(7, vocab, (2 * pairs, length), generator=g)
        resp = torch.zeros(2 * pairs, length, dtype=torch.long)
        resp[:, length // 2:] = 1
        batches.append({"input_ids": ids.to(device), "attention_mask": torch.ones_like(ids).to(device),
                        "response_mask": resp.to(device),
                        "ref_chosen_logps": (-torch.rand(pairs, generator=g) * 50 - 300).to(device),
                        "ref_rejected_logps": (-torch.rand(pairs, generator=g) * 50 - 300).to(device)})
    model.train()
    hook_timer = StepTimer(device)
    if trainer.sample_scheduler is not None:  # the scheduler's own share of a step, timed in-process
        hook, original = trainer.sample_scheduler, trainer.sample_scheduler.weights

        def timed(*args, **kw):
            with hook_timer:
                return original(*args, **kw)

        hook.weights = timed
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    step_timer = StepTimer(device)
    for batch in batches:
        with step_timer:
            loss = trainer.compute_loss(model, batch)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
    times, hook_times = step_timer.times, hook_timer.times
    peak, memory_kind = peak_memory_mb(device)
    return {"config": name, "device": device, "median_step_s": statistics.median(times[2:]), "peak_mb": peak,
            "median_scheduler_s": statistics.median(hook_times[2:]) if hook_times else 0.0,
            "scheduler_share_of_step": (sum(hook_times[2:]) / sum(times[2:])) if hook_times else 0.0,
            "memory_kind": memory_kind}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=16)
    ap.add_argument("--length", type=int, default=128)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--configs", nargs="+", default=["dpo", "dpo-sams"])
    ap.add_argument("--out", default=None)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(a.worker, a.pairs, a.length, a.steps)))
        return 0
    # alternate (bench.common.interleaved), so drifting machine load hits every configuration alike
    results = interleaved(a.configs, a.repeats, lambda c: run_worker(
        __file__, ["--worker", c, "--pairs", str(a.pairs), "--length", str(a.length), "--steps", str(a.steps)]))
    summary = {"pairs": a.pairs, "length": a.length, "steps": a.steps, "repeats": a.repeats, "runs": results}
    for c in a.configs:
        summary[c] = {"median_step_s": statistics.median(r["median_step_s"] for r in results[c]),
                      "peak_mb": statistics.median(r["peak_mb"] for r in results[c]),
                      "scheduler_share_of_step": statistics.median(r["scheduler_share_of_step"] for r in results[c])}
    base = summary[a.configs[0]]
    for c in a.configs[1:]:
        summary[f"{c}/{a.configs[0]}"] = {"step_time_ratio": summary[c]["median_step_s"] / base["median_step_s"],
                                          "peak_memory_ratio": summary[c]["peak_mb"] / base["peak_mb"]}
    text = json.dumps(summary, indent=2)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
