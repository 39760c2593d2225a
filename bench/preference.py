#!/usr/bin/env python
"""`make bench`: our PreferenceTrainer against TRL 1.16, side by side in one run, on the UltraFeedback sample.

    .venv/bin/python bench/preference.py [--config bench/config.yaml] [--set key=value ...] [--only compare ...]
                                         [--device cuda --dtype bf16] [--quick] [--out bench]

Three parts (bench/config.yaml sets their sizes, batches and repetitions):
  compare  every contender (bench/contenders.py) per model size, one fresh process per run, interleaved
           rounds after warm-up steps: pairs/s, tokens/s, peak RSS of that process, first-step loss and its
           difference to the equal-maths contender, and the ratios the goals are stated on
  scaling  step time over batch size and over sequence length (one process per contender and round)
  levers   each speed/memory lever switched off against the shipped code (bench/levers.py)
  vocab    every contender on miniatures at real vocabularies (32,000 / 128,256 / 256,000) under an RSS cap
           (bench/vocab.py): pairs/s, peak memory above the post-setup baseline, the issue-18 goals
Writes <out>/results.json, <out>/results.md and <out>/results.png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import vocab  # noqa: E402
from bench.common import REPO, interleaved, log, median_of, run_worker  # noqa: E402
from bench.contenders import EQUAL_MATH, FULL_LOGITS  # noqa: E402

HERE = Path(__file__).resolve().parent
WORKER = HERE / "worker.py"
PARTS = ("compare", "scaling", "levers", "vocab")
# --quick: a smoke run (tests/test_bench.py, or a first look); the comparison keeps every contender.
QUICK = {"sizes": ["0.2m"], "repeats": 1, "warmup_steps": 1, "steps": 1, "pairs": 2, "max_length": 48,
         "scaling": {"size": "0.2m", "pairs": [1, 2], "lengths": [32, 48], "repeats": 1, "steps": 1},
         "levers": {"size": "0.2m", "variants": ["kept", "log_softmax"], "repeats": 1},
         "vocab": {"model": {"hidden": 32, "layers": 1, "heads": 2, "intermediate": 64}, "vocabularies": [3000],
                   "lengths": [48], "pairs": 1, "repeats": 1, "warmup_steps": 1, "steps": 1, "tokenizer_size": "0.2m",
                   "fit": {"vocab": 3000, "length": 48, "pairs": 2, "cap_mb": 4000,
                           "contenders": ["ours-simpo", "trl-cpo-simpo"]}}}
# The goals: (description, numerator, denominator, what the ratio must satisfy)
# (each stated for the default layout and for the shared-prefix one, `+prefix`).
GOALS = [(f"{what} ({layout})", num + suffix, den if den.startswith("trl") else den + suffix, key, op, target)
         for suffix, layout in (("", "default layout"), ("+prefix", "shared prefix"))
         for what, num, den, key, op, target in [
             ("pairs/s: our DPO with cache / TRL DPOTrainer", "ours-dpo-cache", "trl-dpo", "pairs_per_s", ">=", 1.3),
             ("pairs/s: our SimPO / TRL CPO-SimPO", "ours-simpo", "trl-cpo-simpo", "pairs_per_s", ">=", 1.2),
             ("peak RSS: our DPO with cache / TRL DPOTrainer", "ours-dpo-cache", "trl-dpo", "peak_mb", "<=", 1.0),
             ("peak RSS: our SimPO / TRL CPO-SimPO", "ours-simpo", "trl-cpo-simpo", "peak_mb", "<=", 1.0),
             ("step time: our DPO with cache / our SimPO", "ours-dpo-cache", "ours-simpo", "median_step_s", "<=", 1.1),
         ]]


def load_config(path: Path, sets: list[str], quick: bool) -> dict:
    cfg = yaml.safe_load(path.read_text())
    if quick:
        for key, value in QUICK.items():
            cfg[key] = {**cfg[key], **value} if isinstance(value, dict) else value
    for item in sets:
        key, _, raw = item.partition("=")
        node, *path_keys = key.split(".")
        target = cfg
        for k in [node, *path_keys][:-1]:
            target = target[k]
        target[[node, *path_keys][-1]] = yaml.safe_load(raw)
    return cfg


def _spec(cfg: dict, **kw) -> dict:
    base = {k: cfg[k] for k in ("data", "device", "dtype", "threads", "warmup_steps", "steps", "prompt_fraction")}
    return {**base, "hp": cfg["hyperparameters"], "workdir": str(cfg["workdir"]), "cache_dir": str(cfg["cache_dir"]),
            **kw}


def prepare(cfg: dict, parts: list[str]) -> None:
    """Tokenized rows per (size, length) and the filled reference cache, once, before anything is timed."""
    lengths: dict[str, set[int]] = {}
    most_pairs = cfg["pairs"]
    if "compare" in parts:
        for size in cfg["sizes"]:
            lengths.setdefault(size, set()).add(cfg["max_length"])
    if "scaling" in parts:
        sc = cfg["scaling"]
        lengths.setdefault(sc["size"], set()).update([*sc["lengths"], cfg["max_length"]])
        most_pairs = max(most_pairs, *sc["pairs"])
    if "levers" in parts:
        lengths.setdefault(cfg["levers"]["size"], set()).add(cfg["max_length"])
    n_pairs = (cfg["warmup_steps"] + max(cfg["steps"], cfg["scaling"]["steps"])) * most_pairs
    impls = sorted({"full" if c in FULL_LOGITS else None for c in cfg["contenders"]}, key=str)  # cache keys
    for size, ls in lengths.items():
        log(f"prepare {size}: tokenize {n_pairs} pairs at lengths {sorted(ls)}, fill the reference cache")
        run_worker(WORKER, ["prepare", json.dumps(_spec(cfg, size=size, lengths=sorted(ls), n_pairs=n_pairs,
                                                        impls=impls))])
    if "vocab" in parts:
        vocab.prepare(cfg, WORKER)


def _run(cfg: dict, size: str, contender: str, points: list, **kw) -> dict:
    return run_worker(WORKER, ["run", json.dumps(_spec(cfg, size=size, contender=contender, points=points, **kw))])


def _summary(runs: list[dict]) -> dict:
    points = [r["points"][0] for r in runs]
    out = {k: median_of(points, k) for k in ("median_step_s", "pairs_per_s", "tokens_per_s", "model_flops_per_s",
                                              "padding_fraction")}
    # Load from other processes only ever slows a step down, so the fastest step is a second, load-robust
    # estimate of a contender's own cost (reported beside the medians, never instead of them).
    fastest = min(t for p in points for t in p["step_times"])
    out.update(fastest_step_s=fastest, pairs_per_s_fastest=points[0]["pairs"] / fastest,
               peak_mb=median_of(runs, "peak_mb"), child_ru_maxrss_mb=median_of(runs, "child_peak_rss_mb"),
               rss_after_setup_mb=median_of(runs, "rss_after_setup_mb"),
               first_step_loss=points[0]["first_step_loss"], n_params=runs[0]["n_params"],
               reference_model_in_memory=runs[0]["reference_model_in_memory"], repeats=len(runs))
    return out


def compare(cfg: dict) -> dict:
    by_size = {}
    for size in cfg["sizes"]:
        log(f"compare on {size}: {cfg['contenders']} x {cfg['repeats']} rounds")
        by_size[size] = {"runs": interleaved(cfg["contenders"], cfg["repeats"], lambda c, size=size: _run(
            cfg, size, c, [[cfg["pairs"], cfg["max_length"]]]))}
    return summarise_compare(by_size, cfg)


def summarise_compare(by_size: dict, cfg: dict) -> dict:
    """Tables and goals from the raw runs (also used by --report-only on a saved results.json)."""
    from bench.flops import mfu, peak_flops  # noqa: PLC0415

    peak = peak_flops(cfg["device"], cfg["dtype"], cfg["peak_tflops"]) if cfg["device"] != "cpu" else None
    for part in by_size.values():
        table = {c: _summary(rs) for c, rs in part["runs"].items()}
        for c, row in table.items():
            row["mfu"] = mfu(row["model_flops_per_s"], peak)
            if c in EQUAL_MATH and EQUAL_MATH[c] in table:
                row["first_step_loss_diff"] = abs(row["first_step_loss"] - table[EQUAL_MATH[c]]["first_step_loss"])
                row["equal_math_to"] = EQUAL_MATH[c]
        part.update(contenders=table, goals=goals(table))
    return by_size


FASTEST = {"pairs_per_s": "pairs_per_s_fastest", "median_step_s": "fastest_step_s", "peak_mb": "peak_mb"}


def goals(table: dict) -> list[dict]:
    out = []
    for what, num, den, key, op, target in GOALS:
        if num in table and den in table:
            ratio = table[num][key] / table[den][key]
            fast = FASTEST[key]
            ratio_fastest = table[num].get(fast, table[num][key]) / table[den].get(fast, table[den][key])
            met = ratio >= target if op == ">=" else ratio <= target
            out.append({"goal": what, "metric": key, "ratio": ratio, "ratio_fastest_steps": ratio_fastest,
                        "target": f"{op} {target}", "met": met})
    return out


def scaling(cfg: dict) -> dict:
    sc = cfg["scaling"]
    points = [[p, cfg["max_length"]] for p in sc["pairs"]]
    points += [[cfg["pairs"], n] for n in sc["lengths"] if [cfg["pairs"], n] not in points]
    log(f"scaling on {sc['size']}: {len(points)} (pairs, length) points x {sc['contenders']} x {sc['repeats']} rounds")
    runs = interleaved(sc["contenders"], sc["repeats"], lambda c: _run(
        {**cfg, "steps": sc["steps"]}, sc["size"], c, points))
    table = {}
    for c, rs in runs.items():
        table[c] = [{"pairs": p, "max_length": n,
                     **{k: median_of([r["points"][i] for r in rs], k) for k in ("median_step_s", "pairs_per_s",
                                                                               "tokens_per_s")}}
                    for i, (p, n) in enumerate(points)]
    return {"size": sc["size"], "points": points, "contenders": table, "growth": growth(table, cfg)}


def growth(table: dict, cfg: dict) -> dict:
    """Step time relative to the smallest point, along batch (at max_length) and along length (at pairs)."""
    out = {}
    for c, rows in table.items():
        along_b = sorted((r for r in rows if r["max_length"] == cfg["max_length"]), key=lambda r: r["pairs"])
        along_t = sorted((r for r in rows if r["pairs"] == cfg["pairs"]), key=lambda r: r["max_length"])
        out[c] = {"batch": {r["pairs"]: r["median_step_s"] / along_b[0]["median_step_s"] for r in along_b},
                  "length": {r["max_length"]: r["median_step_s"] / along_t[0]["median_step_s"] for r in along_t}}
    return out


def levers(cfg: dict) -> dict:
    lv = cfg["levers"]
    log(f"levers on {lv['size']} ({lv['contender']}): {lv['variants']} x {lv['repeats']} rounds")
    runs = interleaved(lv["variants"], lv["repeats"], lambda v: _run(
        cfg, lv["size"], lv["contender"], [[cfg["pairs"], cfg["max_length"]]], variant=v))
    table = {v: _summary(rs) for v, rs in runs.items()}
    kept = table.get("kept")
    for row in table.values():
        if kept:
            row["step_time_vs_kept"] = row["median_step_s"] / kept["median_step_s"]
            row["peak_mb_vs_kept"] = row["peak_mb"] / kept["peak_mb"]
    return {"size": lv["size"], "contender": lv["contender"], "variants": table}


def report_only(out: Path) -> int:
    from bench.report import write_report  # noqa: PLC0415

    results = json.loads((out / "results.json").read_text())
    if "compare" in results:
        results["compare"] = summarise_compare(results["compare"], results["config"])
    if "vocab" in results:
        fit = results["vocab"].get("fit")
        results["vocab"] = vocab.summarise(results["vocab"]["points"], results["config"],
                                           fit.get("runs") if isinstance(fit, dict) else None)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(write_report(results, out))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=HERE / "config.yaml")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    ap.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS))
    ap.add_argument("--device", default=None, help="cpu | cuda (overrides the config)")
    ap.add_argument("--dtype", default=None, help="float32 | bf16 (overrides the config)")
    ap.add_argument("--quick", action="store_true", help="a seconds-long smoke run on the 0.2m model")
    ap.add_argument("--out", type=Path, default=HERE)
    ap.add_argument("--report-only", action="store_true",
                    help="re-summarise <out>/results.json's stored runs into results.md/.png; measures nothing")
    a = ap.parse_args(argv)
    if a.report_only:
        return report_only(a.out)
    cfg = load_config(a.config, a.set, a.quick)
    cfg["device"], cfg["dtype"] = a.device or cfg["device"], a.dtype or cfg["dtype"]
    cfg["data"] = str((REPO / cfg["data"]).resolve())  # an absolute path stays as it is
    cfg["workdir"] = REPO / ".cache" / "bench"
    cfg["cache_dir"] = cfg["workdir"] / "refcache"
    cfg["workdir"].mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    prepare(cfg, a.only)
    results = {"config": {k: v for k, v in cfg.items() if k not in ("workdir", "cache_dir")},
               "machine": {"python": platform.python_version(), "platform": platform.platform(),
                           "cpu_count": os.cpu_count()}}
    from bench.report import write_report  # noqa: PLC0415

    a.out.mkdir(parents=True, exist_ok=True)
    for part in a.only:  # results are written after every part: a long run stopped midway keeps what it measured
        results[part] = {"compare": compare, "scaling": scaling, "levers": levers,
                         "vocab": lambda c: vocab.run(c, WORKER)}[part](cfg)
        results["wall_s"] = time.time() - t0
        (a.out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
        md = write_report(results, a.out)
    print(md)
    log(f"done in {results['wall_s']:.0f}s: {a.out / 'results.json'}, results.md, results.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
