"""The chain on the embedded addition task, shared by `make demo` and `make mini-table`.

    tiny model -> SFT on flawed demonstrations -> on-policy pairs judged by an exact rule
    -> one run per method from training_configs/tiny/<method>.yaml (same SFT model, same pairs, same budget)
    -> greedy accuracy on held-out prompts + held-out preference accuracy

Every step is resumable: a finished step whose config hash matches is reused, so a second `make demo`
(or a mini-table that needs the demo's SFT model) skips straight to what is missing.
"""

from __future__ import annotations

import json
import logging
import math
import random
import statistics
import sys
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from prefopt.config import build_config, config_hash, explicit_values, load_raw
from prefopt.core.errors import InputError
from prefopt.core.manifest import build_manifest, write_json
from prefopt.core.paths import REPO_ROOT
from prefopt.core.plotting import pyplot
from prefopt.core.plugins import get_task
from prefopt.data import PairCollator, load_pairs, tokenize_pairs
from prefopt.modeling.generate import generate
from prefopt.modeling.refcache import compute_logps
from prefopt.training.dispatch import config_class, train_from_config

from .addition import accuracy, build_onpolicy_pairs

logger = logging.getLogger("prefopt.toy.chain")
CONFIGS = REPO_ROOT / "training_configs" / "tiny"
SFT_METHODS = {"sft", "rft"}  # trained by scripts/run_sft.py's entry point; everything else by run_po.py's
# Runs that only produce something a later method needs (sams-pretrain: the SamS scheduler's weights, loaded by
# dpo-sams from the sibling folder; its policy is the frozen SFT model): trained, not evaluated as table rows.
AUXILIARY = {"sams-pretrain"}


def tiny_config(name: str, **overrides):
    """(model_args, data_args, args) of training_configs/tiny/<name>.yaml with overrides applied."""
    raw, source = load_raw([str(CONFIGS / f"{name}.yaml")])
    raw.update(overrides)
    return build_config(raw, source, config_class(raw))


def finished_with_same_config(config) -> bool:
    """True when output_dir holds a finished run of exactly this config (same hash): safe to reuse."""
    out = Path(config[2].output_dir)
    manifest = out / "manifest.json"
    if not (manifest.exists() and (out / "metrics.json").exists()):
        return False
    m = json.loads(manifest.read_text())
    return m.get("status") == "finished" and m.get("config_hash") == config_hash(explicit_values(*config))


def train(name: str, config) -> float:
    """Train `name` with `config` unless a finished identical run exists; returns seconds spent."""
    if finished_with_same_config(config):
        logger.info("%s: reusing the finished run in %s", name, config[2].output_dir)
        return 0.0
    t = time.time()
    train_from_config(*config)
    return time.time() - t


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    tmp.replace(path)


def make_pairs(sft_dir: Path, task, out: Path, seed: int, n_samples: int = 8, temperature: float = 1.5,
               eval_fraction: float = 0.15) -> dict:
    """Sample answers from the SFT model, judge them, keep best-vs-worst pairs (SimPO's on-policy recipe).

    Writes pairs/{train,test}.jsonl and rft/train.jsonl (the chosen answers, for the RFT baseline).
    """

    stats_file = out / "pairs" / "stats.json"
    if stats_file.exists() and json.loads(stats_file.read_text()).get("sft_hash") == _run_hash(sft_dir):
        return json.loads(stats_file.read_text())
    tok = AutoTokenizer.from_pretrained(sft_dir)
    model = AutoModelForCausalLM.from_pretrained(sft_dir)
    prompts = task.splits()["pairs"]
    convs = [[{"role": "user", "content": p}] for p in prompts]
    samples = generate(model, tok, convs, max_new_tokens=task.max_new_tokens(), do_sample=True,
                       temperature=temperature, num_return_sequences=n_samples, seed=seed, progress=True,
                       desc="on-policy samples")
    rows, stats = build_onpolicy_pairs(prompts, samples, task.judge)
    random.Random(seed).shuffle(rows)
    n_eval = max(1, int(len(rows) * eval_fraction))
    write_jsonl(out / "pairs" / "test.jsonl", rows[:n_eval])
    write_jsonl(out / "pairs" / "train.jsonl", rows[n_eval:])
    write_jsonl(out / "rft" / "train.jsonl", [{"prompt": r["prompt"], "completion": r["chosen"]} for r in rows[n_eval:]])
    stats.update(n_train=len(rows) - n_eval, n_test=n_eval, n_samples_per_prompt=n_samples,
                 temperature=temperature, sft_hash=_run_hash(sft_dir))
    write_json(stats_file, stats)
    return stats


def _run_hash(run_dir: Path) -> str | None:
    path = Path(run_dir) / "manifest.json"
    return json.loads(path.read_text()).get("config_hash") if path.exists() else None


class HeldOutPairs:
    """The held-out pairs, tokenized once, with the SFT model's log-probs computed once: every method is then
    ranked by two method-neutral scores, mean log-prob and log-ratio against the SFT model."""

    def __init__(self, sft_dir: Path, pairs_dir: Path, max_length: int, split: str = "test"):

        # Every run keeps the SFT model's tokenizer, so the SFT folder's tokenizes the pairs for all of them.
        tok = AutoTokenizer.from_pretrained(sft_dir)
        self.rows, _ = tokenize_pairs(load_pairs(str(pairs_dir), split=split), tok, max_length=max_length,
                                      max_prompt_length=max_length // 2)
        self.collator = PairCollator(pad_token_id=tok.pad_token_id)
        self.lengths_c = torch.tensor([len(r["chosen_ids"]) for r in self.rows], dtype=torch.float32)
        self.lengths_r = torch.tensor([len(r["rejected_ids"]) for r in self.rows], dtype=torch.float32)
        self.sft_dir = Path(sft_dir)
        self.sft_logps = self.logps(sft_dir)

    @torch.no_grad()
    def logps(self, model_dir: Path):
        """Summed response log-probs (chosen (N,), rejected (N,)) of a model folder on these pairs."""

        return compute_logps(AutoModelForCausalLM.from_pretrained(model_dir), self.rows, self.collator, batch_size=64)

    def accuracy(self, model_dir: Path) -> dict:
        pc, pr = self.sft_logps if Path(model_dir) == self.sft_dir else self.logps(model_dir)
        out = {"pref_acc_mean_logp": ((pc / self.lengths_c) > (pr / self.lengths_r)).float().mean().item(),
               "n_pairs": len(self.rows)}
        if Path(model_dir) != self.sft_dir:  # against itself every log-ratio is 0: no ranking to report
            rc, rr = self.sft_logps
            out["pref_acc_logratio_vs_sft"] = ((pc - rc) > (pr - rr)).float().mean().item()
        return out


def task_accuracy(model_dir: Path, task, split: str) -> dict:

    return accuracy(AutoModelForCausalLM.from_pretrained(model_dir), AutoTokenizer.from_pretrained(model_dir),
                    task.splits()[split], task)


def read_curve(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / "task_eval.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def run_chain(seed: int, work: Path, methods: list[str]) -> dict:
    """SFT -> pairs -> every method -> evaluation, for one seed. Returns rows, pair stats, timings, curves."""
    t0 = time.time()
    task = get_task("addition", seed=seed)
    data_dir = work / "data"
    sft_rows, _ = task.sft_rows()
    write_jsonl(data_dir / "sft" / "train.jsonl", sft_rows)
    timings = {}
    sft_dir = work / "sft"
    timings["sft"] = train("sft", tiny_config("sft", dataset=str(data_dir / "sft"), output_dir=str(sft_dir),
                                              seed=seed, resume="never"))
    t = time.time()
    pair_stats = make_pairs(sft_dir, task, data_dir, seed)
    timings["pairs"] = time.time() - t
    logger.info("on-policy pairs: %s", pair_stats)

    runs = {}
    for method in methods:
        runs[method] = work / method
        dataset = data_dir / ("rft" if method == "rft" else "pairs")
        cfg = tiny_config(method, model_name_or_path=str(sft_dir), dataset=str(dataset), output_dir=str(runs[method]),
                          seed=seed, resume="never", **({} if method in SFT_METHODS else
                                                        {"reference_cache_dir": str(work / "refcache")}))
        timings[method] = train(method, cfg)

    held_out = HeldOutPairs(sft_dir, data_dir / "pairs", tiny_config("dpo")[1].max_length)
    rows = []
    runs = {m: d for m, d in runs.items() if m not in AUXILIARY}
    for name, model_dir in [("sft", sft_dir), *runs.items()]:
        logger.info("evaluating %s", name)
        row = {"method": name, **task_accuracy(model_dir, task, "test"), **held_out.accuracy(model_dir)}
        row["train_s"] = timings.get(name, 0.0)
        rows.append(row)
    return {"seed": seed, "rows": rows, "pairs": pair_stats, "timings_s": timings,
            "curves": {m: read_curve(d) for m, d in [("sft", sft_dir), *runs.items()]},
            "log_history": {m: json.loads((d / "log_history.json").read_text())["log_history"] for m, d in runs.items()},
            "wall_s": time.time() - t0}


def run_seeds(kind: str, seeds: list[int], methods: list[str], out: Path, work: Path) -> int:
    """run_chain for each seed, writing out/metrics_seed<N>.json with a manifest; 2 (and a short message, not
    a traceback) on bad input, else 0."""
    configs = {m: (CONFIGS / f"{m}.yaml").read_text() for m in ("sft", *methods)}
    for seed in seeds:
        try:
            result = run_chain(seed, work / f"seed{seed}", methods)
        except InputError as e:  # names the file and the fix
            print(f"error: {e}", file=sys.stderr)
            return 2
        write_json(out / f"metrics_seed{seed}.json",
                   {**result, "manifest": build_manifest(kind, config={"tiny_configs": configs}, seed=seed)})
        print(f"seed {seed}: wall {result['wall_s']:.0f} s")
    return 0


# ---- reporting across seeds ----------------------------------------------------------------------------
COLUMNS = [("accuracy", "test accuracy"), ("carry_accuracy", "carry"), ("no_carry_accuracy", "no carry"),
           ("pref_acc_mean_logp", "pref. acc. (mean log-prob)"), ("pref_acc_logratio_vs_sft", "pref. acc. (log-ratio vs SFT)")]
DISPLAY = {"sft": "SFT", "rft": "RFT (SFT on chosen)", "dpo": "DPO", "simpo": "SimPO", "ipo": "IPO", "rdpo": "R-DPO",
           "cpo": "CPO", "orpo": "ORPO", "rrhf": "RRHF", "slic": "SLiC-HF", "lmpo": "LMPO", "amapo": "AMaPO",
           "kto": "KTO", "cdpo": "cDPO", "dpo-sams": "DPO + SamS", "dpo-random-half": "DPO (random 50%)",
           "kto-pair": "KTO (paired)", "kto-sams": "KTO (paired) + SamS"}


def aggregate(results: list[dict]) -> list[dict]:
    """Per method: mean, sample std and min/max of every column over seeds (seed order preserved)."""
    methods = list(dict.fromkeys(r["method"] for res in results for r in res["rows"]))
    table = []
    for m in methods:
        rows = [r for res in results for r in res["rows"] if r["method"] == m]
        entry = {"method": m, "n_seeds": len(rows)}
        for key, _ in COLUMNS:
            vals = [r[key] for r in rows if r.get(key) is not None]
            if vals:
                entry[key] = {"mean": statistics.fmean(vals), "std": statistics.stdev(vals) if len(vals) > 1 else 0.0,
                              "min": min(vals), "max": max(vals), "values": vals}
        table.append(entry)
    return table


def render_markdown(table: list[dict]) -> str:
    """mean ± std (min–max) per cell; a single seed shows its value only."""
    head = "| method | seeds | " + " | ".join(label for _, label in COLUMNS) + " |"
    lines = [head, "|---|---:|" + "---:|" * len(COLUMNS)]
    for e in table:
        cells = []
        for key, _ in COLUMNS:
            s = e.get(key)
            if s is None:
                cells.append("n/a")
            elif e["n_seeds"] == 1:
                cells.append(f"{s['mean']:.3f}")
            else:
                cells.append(f"{s['mean']:.3f} ± {s['std']:.3f} ({s['min']:.3f}–{s['max']:.3f})")
        lines.append(f"| {DISPLAY.get(e['method'], e['method'])} | {e['n_seeds']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def load_results(out: Path) -> list[dict]:
    """Every metrics_seed*.json in `out` (one per seed run so far), in seed order."""
    files = sorted(out.glob("metrics_seed*.json"), key=lambda p: int(p.stem.removeprefix("metrics_seed")))
    return [json.loads(p.read_text()) for p in files]


def plot_curves(results: list[dict], out: Path) -> None:
    """Validation accuracy and train reward accuracy against steps, one line per method and seed."""
    plt = pyplot()

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    colors = {}
    for res in results:
        for method, curve in res["curves"].items():
            if method == "sft" or not curve:
                continue
            color = colors.setdefault(method, f"C{len(colors)}")
            label = DISPLAY.get(method, method) if res is results[0] else None
            axes[0].plot([c["step"] for c in curve], [c["task/accuracy"] for c in curve], marker="o", ms=3,
                         color=color, alpha=0.8, label=label)
            acc = [(r["step"], r["rewards/accuracies"]) for r in res["log_history"].get(method, [])
                   if "rewards/accuracies" in r]
            axes[1].plot([s for s, _ in acc], [a for _, a in acc], color=color, alpha=0.8, label=label)
        sft_curve = res["curves"].get("sft") or []
        if sft_curve:
            axes[0].axhline(sft_curve[-1]["task/accuracy"], color="gray", linestyle="--", alpha=0.6,
                            label="SFT" if res is results[0] else None)
    axes[0].set(title=f"validation accuracy (greedy, rule judge), {len(results)} seed(s)", xlabel="step",
                ylabel="accuracy", ylim=(0, 1))
    axes[1].set(title="train reward accuracy", xlabel="step", ylabel="rewards/accuracies", ylim=(0, 1.05))
    for ax in axes:
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_bars(table: list[dict], out: Path) -> None:
    """Held-out judge accuracy and preference accuracy per method: mean with min–max whiskers."""
    plt = pyplot()

    keys = [("accuracy", "test accuracy (rule judge)"), ("pref_acc_mean_logp", "held-out pref. acc. (mean log-prob)")]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    names = [DISPLAY.get(e["method"], e["method"]) for e in table]
    for ax, (key, title) in zip(axes, keys):
        means = [e[key]["mean"] if key in e else math.nan for e in table]
        lo = [e[key]["mean"] - e[key]["min"] if key in e else 0 for e in table]
        hi = [e[key]["max"] - e[key]["mean"] if key in e else 0 for e in table]
        ax.bar(range(len(table)), means, yerr=[lo, hi], capsize=3,
               color=["gray" if e["method"] in SFT_METHODS else "C0" for e in table])
        ax.set_xticks(range(len(table)), names, rotation=45, ha="right", fontsize=8)
        ax.set(title=title, ylim=(0, 1))
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
