"""The `vocab` part of bench/preference.py: every contender on miniatures at real vocabulary sizes.

At each (V, length) point (config block `vocab:`), a Llama-shaped miniature with V = 32,000 / 128,256 / 256,000
(bench/miniature.py) trains `pairs` pairs per step; each contender runs in its own process under an RSS cap
(`cap_mb`): a run that passes it stops and counts as "did not fit" (bench/worker.py `watch_rss`). Recorded per
contender: pairs/s, peak RSS, peak RSS above the RSS after setup (model, optimizer, data loaded), the first-step loss
and its difference to the equal-maths contender. Goals (issue 18) are evaluated from these tables (`VOCAB_GOALS`).
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.common import interleaved, log, median_of, run_worker

# (description, numerator, denominator, metric, op, target, where: None = every point, else (V, length))
VOCAB_GOALS = [
    ("peak above setup: our DPO with cache / TRL DPOTrainer", "ours-dpo-cache", "trl-dpo", "peak_above_setup_mb",
     "<=", 0.25, (128256, 1024)),
    ("peak above setup: our SimPO / TRL CPO-SimPO", "ours-simpo", "trl-cpo-simpo", "peak_above_setup_mb",
     "<=", 0.25, (128256, 1024)),
    ("pairs/s: our DPO with cache / TRL DPOTrainer", "ours-dpo-cache", "trl-dpo", "pairs_per_s", ">=", 1.5,
     (128256, 1024)),
    ("pairs/s: our SimPO / TRL CPO-SimPO", "ours-simpo", "trl-cpo-simpo", "pairs_per_s", ">=", 1.5, (128256, 1024)),
    ("pairs/s: our SimPO / TRL CPO-SimPO", "ours-simpo", "trl-cpo-simpo", "pairs_per_s", ">=", 1.2, None),
]
# The fit check (config `vocab.fit`): one batch under a stated RSS cap; met when every "ours" contender runs and
# every "trl" one passes the cap.
FIT = {"ours": ("ours-dpo-cache", "ours-simpo"), "trl": ("trl-dpo", "trl-cpo-simpo")}


def model_dir(cfg: dict, vocab: int) -> str:
    from bench.miniature import name  # noqa: PLC0415 (pure: no torch in the parent)

    return str(Path(cfg["workdir"]) / "models" / name(cfg["vocab"]["model"], vocab))


def _spec(cfg: dict, v: int, **kw) -> dict:
    vc = cfg["vocab"]
    base = {k: cfg[k] for k in ("data", "device", "dtype", "threads", "prompt_fraction")}
    hp = {**cfg["hyperparameters"], "reference_batch_size": vc["reference_batch_size"]}
    return {**base, "hp": hp, "workdir": str(cfg["workdir"]), "cache_dir": str(cfg["cache_dir"]),
            "size": vc["tokenizer_size"], "model_dir": model_dir(cfg, v), "warmup_steps": vc["warmup_steps"],
            "steps": vc["steps"], **kw}


def prepare(cfg: dict, worker: Path) -> None:
    """Build each miniature, tokenize its rows, fill the reference caches our DPO contenders read (one per
    logprob_impl among them)."""
    from bench.contenders import FULL_LOGITS  # noqa: PLC0415 (no torch at import)

    vc = cfg["vocab"]
    fit = vc.get("fit") or {}  # null in the config: no fit check
    n_pairs = (vc["warmup_steps"] + vc["steps"]) * max(vc["pairs"], fit.get("pairs", 0))
    dpo = [c for c in vc["contenders"] + fit.get("contenders", []) if c.startswith("ours-dpo-cache")]
    impls = sorted({"full" if c in FULL_LOGITS else None for c in dpo}, key=str)
    lengths = {v: set(vc["lengths"]) for v in vc["vocabularies"]}
    if fit:
        lengths.setdefault(fit["vocab"], set()).add(fit["length"])
    for vocab, ls in lengths.items():
        log(f"prepare miniature V={vocab:,}: build, tokenize {n_pairs} pairs at lengths {sorted(ls)}, "
            f"reference caches for logprob_impl {[i or 'default' for i in impls]}")
        run_worker(worker, ["prepare", json.dumps(_spec(cfg, vocab, miniature=vc["model"], vocab=vocab,
                                                        lengths=sorted(ls), n_pairs=n_pairs, impls=impls))])


def run(cfg: dict, worker: Path) -> dict:
    vc = cfg["vocab"]
    points = {}
    for vocab in vc["vocabularies"]:
        for length in vc["lengths"]:
            key = f"V={vocab} T={length}"
            log(f"vocab {key}: {vc['contenders']} x {vc['repeats']} rounds, cap {vc['cap_mb']:,} MB RSS")
            runs = interleaved(vc["contenders"], vc["repeats"], lambda c, v=vocab, n=length: run_worker(worker, [
                "run", json.dumps(_spec(cfg, v, contender=c, points=[[vc["pairs"], n]], cap_mb=vc["cap_mb"]))]))
            points[key] = {"vocab": vocab, "max_length": length, "pairs": vc["pairs"], "runs": runs}
    fit = None
    if vc.get("fit"):
        f = vc["fit"]
        log(f"fit check V={f['vocab']} T={f['length']}, {f['pairs']} pairs, under {f['cap_mb']:,} MB RSS: "
            f"{f['contenders']}")
        fit = {c: [run_worker(worker, ["run", json.dumps(_spec(cfg, f["vocab"], contender=c, cap_mb=f["cap_mb"],
                                                              points=[[f["pairs"], f["length"]]]))])]
               for c in f["contenders"]}
    return summarise(points, cfg, fit)


def summarise(points: dict, cfg: dict, fit_runs: dict | None = None) -> dict:
    """Per point: a row per contender and the goals; the fit check's rows and goal."""
    from bench.contenders import EQUAL_MATH  # noqa: PLC0415

    for part in points.values():
        table = {c: _row(rs) for c, rs in part["runs"].items()}
        for c, row in table.items():
            ref = table.get(EQUAL_MATH.get(c, ""), {})
            if "first_step_loss" in row and "first_step_loss" in ref:
                row["first_step_loss_diff"] = abs(row["first_step_loss"] - ref["first_step_loss"])
                row["equal_math_to"] = EQUAL_MATH[c]
        part["contenders"] = table
        part["goals"] = point_goals(table, part["vocab"], part["max_length"])
    out = {"config": cfg["vocab"], "points": points}
    if fit_runs:
        f = cfg["vocab"]["fit"]
        table = {c: _row(rs) for c, rs in fit_runs.items()}
        out["fit"] = {"runs": fit_runs, "contenders": table, **fit_goal(table, f)}
    return out


def _row(runs: list[dict]) -> dict:
    over = [r for r in runs if r.get("over_cap")]
    if over:  # any round over the cap: the contender does not fit this point
        return {"over_cap": True, "cap_mb": over[0]["cap_mb"], "rss_at_stop_mb": max(r["rss_at_stop_mb"] for r in over)}
    pts = [r["points"][0] for r in runs]
    return {"pairs_per_s": median_of(pts, "pairs_per_s"), "median_step_s": median_of(pts, "median_step_s"),
            "tokens_per_s": median_of(pts, "tokens_per_s"), "peak_mb": median_of(runs, "peak_mb"),
            "rss_after_setup_mb": median_of(runs, "rss_after_setup_mb"),
            "peak_above_setup_mb": median_of([{"d": r["peak_mb"] - r["rss_after_setup_mb"]} for r in runs], "d"),
            "first_step_loss": pts[0]["first_step_loss"], "n_params": runs[0]["n_params"], "repeats": len(runs)}


def point_goals(table: dict, vocab: int, length: int) -> list[dict]:
    out = []
    for what, num, den, key, op, target, where in VOCAB_GOALS:
        if where is not None and tuple(where) != (vocab, length) or num not in table or den not in table:
            continue
        a, b = table[num], table[den]
        if a.get("over_cap") or b.get("over_cap"):
            out.append({"goal": what, "metric": key, "ratio": None, "target": f"{op} {target}",
                        "met": not a.get("over_cap"), "note": f"{num if a.get('over_cap') else den} did not fit"})
            continue
        ratio = a[key] / b[key]
        out.append({"goal": what, "metric": key, "ratio": ratio, "target": f"{op} {target}",
                    "met": ratio >= target if op == ">=" else ratio <= target})
    return out


def fit_goal(table: dict, fit: dict) -> dict:
    ours = {c: not table[c].get("over_cap") for c in FIT["ours"] if c in table}
    trl = {c: not table[c].get("over_cap") for c in FIT["trl"] if c in table}
    where = f"V={fit['vocab']} T={fit['length']}, {fit['pairs']} pairs"
    return {"goal": f"{where}: a batch TRL cannot fit under {fit['cap_mb']:,} MB RSS runs with ours",
            "ours_fit": ours, "trl_fit": trl,
            "met": bool(ours) and all(ours.values()) and bool(trl) and not any(trl.values())}


def markdown(results: dict) -> list[str]:
    from bench.report import _fmt, _table  # noqa: PLC0415

    part, cfg = results["vocab"], results["vocab"]["config"]
    m = cfg["model"]
    lines = [f"### Real vocabularies: Llama-shaped miniature (hidden {m['hidden']}, {m['layers']} layers, "
             f"{'tied' if m.get('tie_word_embeddings', True) else 'untied'} head), {cfg['pairs']} pairs per step, "
             f"{results['config']['dtype']}, {results['config']['threads']} thread(s), median of {cfg['repeats']} "
             f"run(s) x {cfg['steps']} step(s) after {cfg['warmup_steps']} warm-up; RSS cap {cfg['cap_mb']:,} MB", ""]
    for key, p in part["points"].items():
        n_params = next((r["n_params"] for r in p["contenders"].values() if "n_params" in r), 0)
        lines += [f"#### {key} ({_fmt(n_params / 1e6)}M params)", ""] + _contender_table(p["contenders"]) + [""]
        if p["goals"]:
            lines += _table(["goal", "ratio", "target", "met", "note"],
                            [[g["goal"], g["ratio"], g["target"], g["met"], g.get("note", "")] for g in p["goals"]])
            lines.append("")
    if part.get("fit"):
        f = part["fit"]
        lines += [f"#### Fit check: {f['goal']}: **{'met' if f['met'] else 'not met'}**", ""]
        lines += _contender_table(f["contenders"]) + [""]
    return lines + [""]


def _contender_table(table: dict) -> list[str]:
    from bench.report import _table  # noqa: PLC0415

    rows = []
    for c, r in table.items():
        if r.get("over_cap"):
            rows.append([c, "did not fit", "-", "-", f"> {r['cap_mb']:,} (stopped at {r['rss_at_stop_mb']:,.0f})",
                         "-", "-", "-"])
            continue
        rows.append([c, r["pairs_per_s"], r["median_step_s"], r["rss_after_setup_mb"], r["peak_mb"],
                     r["peak_above_setup_mb"], r["first_step_loss"], r.get("first_step_loss_diff")])
    return _table(["contender", "pairs/s", "step s", "RSS after setup MB", "peak RSS MB", "peak above setup MB",
                   "first-step loss", "loss diff vs equal-maths"], rows)


def plot(ax_speed, ax_mem, results: dict) -> None:
    """pairs/s and peak above setup against V at the longest length, one line per contender (log scales)."""
    part = results["vocab"]
    if not part["points"]:
        return
    longest = max(p["max_length"] for p in part["points"].values())
    pts = sorted((p for p in part["points"].values() if p["max_length"] == longest), key=lambda p: p["vocab"])
    for c in part["config"]["contenders"]:
        for ax, key in ((ax_speed, "pairs_per_s"), (ax_mem, "peak_above_setup_mb")):
            xy = [(p["vocab"], p["contenders"][c][key]) for p in pts if key in p["contenders"].get(c, {})]
            if xy:
                ax.plot([x for x, _ in xy], [y for _, y in xy], marker="o", label=c)
    for ax, label in ((ax_speed, "pairs / s"), (ax_mem, "peak RSS above setup, MB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("vocabulary size V")
        ax.set_ylabel(label)
        ax.set_title(f"real vocabularies, length {longest} (missing: did not fit)")
        ax.legend(fontsize=6)
