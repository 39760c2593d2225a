"""`make demo`: the whole pipeline on the embedded addition task, on a CPU, in a few minutes.

    tiny model -> SFT on flawed demonstrations -> on-policy pairs judged by an exact rule
    -> DPO and SimPO (same pairs, same trainer), and RFT (SFT on the chosen answers) as a baseline
    -> greedy accuracy on held-out prompts + held-out preference accuracy

What it shows, honestly framed: the SFT data drops the carry in 60% of carry problems, so the SFT model
learns a systematic error. Sampling from it and judging the samples with an exact check yields pairs whose
chosen answers carry correctly; preference optimization on those pairs fixes the learned error.

Outputs in results/reproduced/demo/: metrics_seed<N>.json (with a run manifest) per seed, and table.md,
curves.png over every seed run so far (`make demo SEED=1` adds a seed).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from prefopt.core.cli import configure_logging
from prefopt.core.paths import REPO_ROOT

from .chain import aggregate, load_results, plot_curves, render_markdown, run_seeds

METHODS = ["dpo", "simpo", "rft"]


def write_report(out: Path) -> str:
    results = load_results(out)
    table = aggregate(results)
    plot_curves(results, out / "curves.png")
    seeds = [r["seed"] for r in results]
    p = results[-1]["pairs"]
    text = (
        f"# Embedded demo: SFT vs DPO vs SimPO on 2-digit addition (seeds {seeds})\n\n"
        "A 1M-parameter char-level Llama is fine-tuned on addition demonstrations that drop the carry in 60% of "
        "carry problems; preference pairs are sampled from it and judged by an exact check "
        f"(last seed: {p['n_pairs']} pairs from {p['n_prompts']} prompts, {p['n_test']} held out). "
        "DPO and SimPO train 50 steps of 32 pairs from the SFT model; RFT fine-tunes on the chosen answers for the "
        "same budget. Test accuracy: greedy answers to 500 held-out prompts, judged exactly. Cells: mean ± sample "
        "std (min–max) over seeds.\n\n"
        "How to read it: the judge is exact, so every chosen answer is correct and RFT (imitating them) is a strong "
        "baseline on this task; the preference methods must beat the SFT model, and RFT is the bar above that. "
        "Preference accuracy ranks held-out pairs by mean token log-prob, and by log-ratio against the SFT model.\n\n"
        f"{render_markdown(table)}\n\n![curves](curves.png)\n"
    )
    (out / "table.md").write_text(text, encoding="utf-8")
    return render_markdown(table)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, nargs="+", default=[0], help="one or more seeds, run one after another")
    parser.add_argument("--out", default=str(REPO_ROOT / "results" / "reproduced" / "demo"))
    parser.add_argument("--work", default=str(REPO_ROOT / "outputs" / "demo"), help="checkpoints and data")
    args = parser.parse_args(argv)
    configure_logging()
    out = Path(args.out)
    if run_seeds("demo", args.seed, METHODS, out, Path(args.work)):
        return 2
    table = write_report(out)
    print("\n" + table + f"\n\nwrote {out}/table.md, curves.png and metrics_seed<N>.json")
    return 0
