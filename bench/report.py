"""results.json of bench/preference.py -> results.md (tables) and results.png (throughput, scaling, levers)."""

from __future__ import annotations

from pathlib import Path


def _fmt(x, digits=2) -> str:
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return f"{x:.{digits}g}" if abs(x) < 1e-2 and x else f"{x:,.{digits}f}"
    return str(x)


def _table(header: list[str], rows: list[list]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]


def compare_md(results: dict) -> list[str]:
    cfg, lines = results["config"], []
    for size, part in results["compare"].items():
        lines += [f"### {size} model ({_fmt(next(iter(part['contenders'].values()))['n_params'] / 1e6)}M params), "
                  f"{cfg['pairs']} pairs x {cfg['max_length']} tokens, {cfg['dtype']}, {cfg['threads']} threads, "
                  f"{cfg['device']}, median of {cfg['repeats']} interleaved runs x {cfg['steps']} steps", ""]
        rows = [[c, r["pairs_per_s"], r["tokens_per_s"], r["median_step_s"], r["peak_mb"],
                 r["peak_mb"] - r.get("rss_after_setup_mb", r["peak_mb"]), r["reference_model_in_memory"],
                 r["first_step_loss"], r.get("first_step_loss_diff"), r["mfu"]]
                for c, r in part["contenders"].items()]
        lines += _table(["contender", "pairs/s", "tokens/s", "step s", "peak RSS MB", "peak - RSS after setup MB",
                         "ref model in memory", "first-step loss", "loss diff vs equal-maths", "MFU"], rows) + [""]
        lines += _table(["goal", "ratio of medians", "target", "met", "ratio of fastest steps"],
                        [[g["goal"], g["ratio"], g["target"], g["met"], g.get("ratio_fastest_steps")]
                         for g in part["goals"]]) + [""]
    return lines


def scaling_md(results: dict) -> list[str]:
    sc = results["scaling"]
    lines = [f"### Scaling ({sc['size']}): median step seconds (growth vs the smallest point)", ""]
    contenders = list(sc["contenders"])
    rows = []
    for i, (p, n) in enumerate(sc["points"]):
        row = [p, n]
        for c in contenders:
            r = sc["contenders"][c][i]
            g = sc["growth"][c]
            factor = g["batch"].get(p) if n == results["config"]["max_length"] else g["length"].get(n)
            row.append(f"{r['median_step_s']:.3f} (x{factor:.2f})" if factor is not None else f"{r['median_step_s']:.3f}")
        if len(contenders) == 2:
            row.append(sc["contenders"][contenders[1]][i]["median_step_s"] / sc["contenders"][contenders[0]][i]["median_step_s"])
        rows.append(row)
    header = ["pairs", "max_length", *contenders] + ([f"{contenders[1]} / {contenders[0]}"] if len(contenders) == 2 else [])
    return lines + _table(header, rows) + [""]


def levers_md(results: dict) -> list[str]:
    lv = results["levers"]
    lines = [f"### Levers ({lv['size']}, {lv['contender']}): each switched off (or on) vs the shipped code", ""]
    rows = [[v, r["median_step_s"], r.get("step_time_vs_kept"), r["peak_mb"], r.get("peak_mb_vs_kept"),
             r["peak_mb"] - r.get("rss_after_setup_mb", r["peak_mb"]), r["padding_fraction"]]
            for v, r in lv["variants"].items()]
    return lines + _table(["variant", "step s", "step time vs kept", "peak RSS MB", "peak vs kept",
                           "peak - RSS after setup MB", "padding fraction"], rows) + [""]


def plot(results: dict, path: Path) -> None:
    from prefopt.core.plotting import pyplot  # noqa: PLC0415 (bench/ scripts put the checkout on sys.path)

    plt = pyplot()
    panels = [p for p in ("compare", "scaling", "levers") if p in results]
    panels += ["vocab", "vocab_memory"] if "vocab" in results else []
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.5), squeeze=False)
    for ax, part in zip(axes[0], panels):
        if part == "vocab":
            from bench.vocab import plot as plot_vocab  # noqa: PLC0415

            plot_vocab(ax, axes[0][panels.index("vocab_memory")], results)
        elif part == "vocab_memory":
            continue
        elif part == "compare":
            sizes = list(results["compare"])
            names = list(results["compare"][sizes[0]]["contenders"])
            width = 0.8 / len(sizes)
            for j, size in enumerate(sizes):
                vals = [results["compare"][size]["contenders"][c]["pairs_per_s"] for c in names]
                ax.bar([i + j * width for i in range(len(names))], vals, width, label=size)
            ax.set_xticks([i + width * (len(sizes) - 1) / 2 for i in range(len(names))], names, rotation=30,
                          ha="right")
            ax.set_ylabel("pairs / s")
            ax.set_title("throughput (higher is better)")
        elif part == "scaling":
            sc = results["scaling"]
            for c, rows in sc["contenders"].items():
                for key, fixed, marker in (("pairs", "max_length", "o"), ("max_length", "pairs", "s")):
                    cfg_fixed = results["config"][fixed]
                    pts = sorted((r[key], r["median_step_s"]) for r in rows
                                 if r[fixed] == cfg_fixed)
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=marker, label=f"{c} vs {key}")
            ax.set_xscale("log", base=2)
            ax.set_xlabel("pairs (o) or max_length (s)")
            ax.set_ylabel("median step s")
            ax.set_title(f"scaling ({sc['size']})")
        else:
            lv = results["levers"]["variants"]
            names = list(lv)
            ax.bar(names, [lv[v].get("step_time_vs_kept", 1.0) for v in names])
            ax.axhline(1.0, color="k", lw=0.8)
            ax.set_ylabel("step time / kept")
            ax.set_title("levers (>1: the shipped code is faster)")
            ax.tick_params(axis="x", rotation=30)
        ax.legend(fontsize=7) if part in ("compare", "scaling") else None
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(results: dict, out: Path) -> str:
    lines = ["# Preference-training benchmark", ""]
    from bench.vocab import markdown as vocab_md  # noqa: PLC0415

    for part, fn in (("compare", compare_md), ("scaling", scaling_md), ("levers", levers_md), ("vocab", vocab_md)):
        if part in results:
            lines += fn(results)
    lines.append(f"Wall time of the whole bench: {results['wall_s']:.0f} s.")
    md = "\n".join(lines) + "\n"
    (out / "results.md").write_text(md)
    plot(results, out / "results.png")
    return md
