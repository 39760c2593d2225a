"""results/reproduced/mechanisms/: <claim>.md and <claim>.png per claim, README.md (the verdict table), mechanisms.json."""

from __future__ import annotations

import statistics
from pathlib import Path

from prefopt.core.plotting import pyplot

from .chain import QUALITY
from .claims import CLAIMS, final, margin_effort, needs_reference, sft


def fmt(s: dict, digits: int = 3) -> str:
    return f"{s['mean']:.{digits}f} ± {s['sd']:.{digits}f}"


def _numbers_table(numbers: dict) -> str:
    columns = list(dict.fromkeys(k for row in numbers.values() for k in row if isinstance(row[k], dict)))
    lines = ["| | " + " | ".join(c.replace("_", " ") for c in columns) + " |", "|---|" + "---:|" * len(columns)]
    for name, row in numbers.items():
        cells = [fmt(row[c]) if c in row and "mean" in row[c] else "" for c in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _checks_table(checks: dict) -> str:
    lines = ["| comparison (per-seed paired difference) | mean ± sd | per seed | status |", "|---|---:|---|---|"]
    for name, c in checks.items():
        per_seed = ", ".join(f"{v:+.3f}" for v in c.get("values", []))
        lines.append(f"| {name} | {c['mean']:+.3f} ± {c['sd']:.3f} | {per_seed} | {c['status']} |")
    return "\n".join(lines)


def section(claim, spec, judged: dict, data: dict) -> str:
    extra = ""
    if "per_method" in judged:
        extra = "Per method: " + ", ".join(f"{k}: **{v}**" for k, v in judged["per_method"].items()) + ".\n\n"
    extra += "".join(f"{note}\n\n" for note in judged.get("notes", []))
    return (f"# {claim.title}\n\n**Claim.** {claim.claim}\n\n**Source.** {claim.source}\n\n"
            f"**Design.** {claim.design(spec)}\n\n**Data (per seed).** {data}\n\n"
            f"**Verdict: {judged['verdict']}.**\n\n{extra}{_checks_table(judged['checks'])}\n\n"
            f"**Numbers** (mean ± sample sd over seeds {spec.seeds}):\n\n{_numbers_table(judged['numbers'])}\n\n"
            f"![{claim.name}]({claim.name}.png)\n")


def readme(spec, judged: dict, cost: dict) -> str:
    lines = [f"# Mechanisms: each paper's claim on a controlled CPU task (seeds {spec.seeds})\n",
             "`make mechanisms` (prefopt/toy/mechanisms, design in prefopt/toy/mechanisms/mechanisms.yaml, "
             f"spec sha256 {spec.sha256}). 'Not reproduced' means this controlled task did not show the claimed "
             "effect at this scale; it says nothing about the papers' own settings.\n",
             "| claim | verdict | key numbers |", "|---|---|---|"]
    for name, j in judged.items():
        key = "; ".join(f"{k}: {c['mean']:+.3f} ({c['status']})" for k, c in j["checks"].items())
        lines.append(f"| [{CLAIMS[name].title}]({name}.md) | **{j['verdict']}** | {key} |")
    lines.append("\nCost per seed (sum of its steps; one process, one thread): "
                 + "; ".join(f"{k}: {v['cpu_s (sum of steps)'] / 60:.1f} CPU-min, {v['wall_s (sum of steps)'] / 60:.1f} min wall"
                             for k, v in cost.items())
                 + ". Wall times were taken on a shared machine; CPU time is the comparable number.\n")
    return "\n".join(lines)


# ---- plots ------------------------------------------------------------------------------------------------
def _band(ax, xs, per_seed: list[list[float]], label: str, color: str, marker: str = "o"):
    mean = [statistics.fmean(v) for v in zip(*per_seed)]
    sd = [statistics.stdev(v) if len(v) > 1 else 0.0 for v in zip(*per_seed)]
    ax.plot(xs, mean, marker=marker, ms=3, color=color, label=label)
    ax.fill_between(xs, [m - s for m, s in zip(mean, sd)], [m + s for m, s in zip(mean, sd)], color=color, alpha=0.2)


def _curve(res, run, key):
    return [sft(res, run.pairs)[key]] + [c[key] for c in res["evals"][run.id]["curve"]]


def _steps(res, run):
    return [0] + [c["step"] for c in res["evals"][run.id]["curve"]]


def plot_length(spec, judged, results, out: Path):
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    runs = CLAIMS["length"].runs(spec)
    for i, run in enumerate(runs):
        xs = _steps(results[0], run)
        for ax, key in zip(axes[:2], ("sampled_length", "quality")):
            _band(ax, xs, [_curve(res, run, key) for res in results], run.key, f"C{i}")
    corr = judged["numbers"]
    axes[2].bar(range(len(runs)), [corr[r.key]["reward_length_spearman"]["mean"] for r in runs],
                yerr=[corr[r.key]["reward_length_spearman"]["sd"] for r in runs], capsize=4,
                color=[f"C{i}" for i in range(len(runs))])
    axes[2].set_xticks(range(len(runs)), [r.key for r in runs])
    axes[0].set(title="sampled answer length (chars)", xlabel="step")
    axes[1].set(title="quality (greedy, exact judge)", xlabel="step", ylim=(0, 1))
    axes[2].set(title="Spearman(own implicit reward, length)\nover held-out answers")
    _finish(fig, axes, out)


def plot_control(spec, judged, results, out: Path):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 5))
    n = judged["numbers"]
    for i, family in enumerate(("rdpo", "lmpo")):
        keys = [k for k in n if k.startswith(f"{family} ")]
        xs, ys = [n[k]["length_gain"]["mean"] for k in keys], [n[k]["quality"]["mean"] for k in keys]
        ax.errorbar(xs, ys, xerr=[n[k]["length_gain"]["sd"] for k in keys], yerr=[n[k]["quality"]["sd"] for k in keys],
                    marker="o", color=f"C{i + 2}", label=family, capsize=3)
        for k, x, y in zip(keys, xs, ys):  # R-DPO labels above the points, LMPO's below (they sit close together)
            label = k.split(" ", 1)[1].replace("lmpo_lambda", "λ").replace("alpha", "α")
            ax.annotate(label, (x, y), fontsize=7, xytext=(3, 6 if family == "rdpo" else -12), textcoords="offset points")
    for i, ref in enumerate(("dpo", "simpo")):
        ax.errorbar(n[ref]["length_gain"]["mean"], n[ref]["quality"]["mean"], xerr=n[ref]["length_gain"]["sd"],
                    yerr=n[ref]["quality"]["sd"], marker="s", ms=8, color=f"C{i}", label=ref, capsize=3)
    ax.set(title="length gain vs quality (mean ± sd over seeds)", xlabel="sampled length gain over SFT (chars)",
           ylabel="quality")
    _finish(fig, [ax], out)


def plot_gamma(spec, judged, results, out: Path):
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    n, grid = judged["numbers"], spec.claims.gamma.gamma_beta_ratio
    for ax, key, title in zip(axes, ("reward_accuracy", "quality", "chosen_mean_logp"),
                              ("held-out reward accuracy", "quality", "chosen answers' mean log-prob (held-out)")):
        ax.errorbar(grid, [n[f"{g:g}"][key]["mean"] for g in grid], yerr=[n[f"{g:g}"][key]["sd"] for g in grid],
                    marker="o", capsize=3)
        ax.set(title=title, xlabel="gamma / beta")
    _finish(fig, axes, out, legend=False)


def plot_margin(spec, judged, results, out: Path):
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    runs = [r for r in CLAIMS["adaptive_margin"].runs(spec) if not needs_reference(r.config)]
    for i, run in enumerate(runs):
        steps = _steps(results[0], run)
        data = [[m for res in results for m in _margins_at(res, run, k)] for k in range(len(steps))]
        pos = [s + (i - 0.5) * 2.5 for s in steps]
        parts = axes[0].violinplot(data, positions=pos, widths=2.2, showmedians=True)
        for body in parts["bodies"]:
            body.set_color(f"C{i}")
        axes[0].plot([], [], color=f"C{i}", label=run.key)
        efforts = [[margin_effort(e, sft(res, run.pairs), "test_pairs") for e in _points(res, run)] for res in results]
        _band(axes[1], steps, [[e["misranked"] for e in eff] for eff in efforts], run.key, f"C{i}")
        _band(axes[2], steps, [[e["gain_right"] for e in eff] for eff in efforts], f"{run.key}: already right",
              f"C{i}", marker="^")
        _band(axes[2], steps, [[e["gain_wrong"] for e in eff] for eff in efforts], f"{run.key}: misranked",
              f"C{i}", marker="v")
    axes[0].axhline(0, color="gray", lw=0.8)
    axes[0].set(title="held-out margins (mean log-prob, chosen - rejected)", xlabel="step")
    axes[1].set(title="held-out pairs misranked", xlabel="step")
    axes[2].set(title="mean margin gain since SFT, by SFT ranking", xlabel="step")
    _finish(fig, axes, out)


def _points(res, run):
    return [final(res, f"{run.pairs}/sft")] + res["evals"][run.id]["curve"]


def _margins_at(res, run, k):
    return _points(res, run)[k]["test_pairs"]["avg_margin"]


def plot_noise(spec, judged, results, out: Path):
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    n, c = judged["numbers"], spec.claims.label_noise
    rates = [0.0, *c.flip_rates]
    sets = [QUALITY] + [f"{QUALITY}_flip{r:g}" for r in c.flip_rates]
    for i, m in enumerate(c.methods):
        axes[0].errorbar(rates, [n[f"{m} {s}"]["pref_accuracy"]["mean"] for s in sets],
                         yerr=[n[f"{m} {s}"]["pref_accuracy"]["sd"] for s in sets], marker="o", capsize=3,
                         color=f"C{i}", label=m)
        if "selected_if_flipped" in n[f"{m} {sets[-1]}"]:
            for key, style in (("selected_if_flipped", "-"), ("selected_if_clean", ":")):
                axes[1].errorbar(c.flip_rates, [n[f"{m} {s}"][key]["mean"] for s in sets[1:]],
                                 yerr=[n[f"{m} {s}"][key]["sd"] for s in sets[1:]], marker="o", capsize=3,
                                 color=f"C{i}", ls=style, label=f"{m}: {key.replace('_', ' ')}")
    axes[1].axhline(0.5, color="gray", lw=0.8)
    axes[0].set(title="held-out preference accuracy (clean labels)", xlabel="fraction of training pairs flipped")
    axes[1].set(title="fraction of pairs the scheduler selects", xlabel="fraction flipped", ylim=(0, 1))
    _finish(fig, axes, out)


def plot_apo(spec, judged, results, out: Path):
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    n = judged["numbers"]
    for ax, key in zip(axes, ("accuracy", "ECE10")):
        names = [k for k in n if key in n[k] and "mean" in n[k][key] and k != "apo - base"]
        ax.bar(range(len(names)), [n[k][key]["mean"] for k in names], yerr=[n[k][key]["sd"] for k in names],
               capsize=4, color=["C0", "C1"])
        ax.set_xticks(range(len(names)), names)
        ax.set(title=f"held-out {key}")
    _finish(fig, axes, out, legend=False)


def _finish(fig, axes, out: Path, legend: bool = True):
    for ax in axes:
        ax.grid(alpha=0.3)
        if legend and ax.get_legend_handles_labels()[1]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    pyplot().close(fig)


PLOTS = {"length": plot_length, "length_control": plot_control, "gamma": plot_gamma, "adaptive_margin": plot_margin,
         "label_noise": plot_noise, "apo": plot_apo}
