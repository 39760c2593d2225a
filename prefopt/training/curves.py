"""Training curves of one run or several runs side by side, from what the trainer logged.

    python -m prefopt.training.curves outputs/llama3-instruct/simpo                       # -> <run>/training_curves.png
    python -m prefopt.training.curves outputs/demo/seed0/dpo outputs/demo/seed0/simpo --out compare.png
    make curves RUNS="outputs/a outputs/b" [OUT=compare.png]

Every finished run writes `training_curves.png` beside its `log_history.json` (prefopt.training.run). A run still in
progress (or killed) is read from its newest `checkpoint-*/trainer_state.json`, so curves can be looked at while
a cluster job runs. One panel per logged quantity (PANELS: loss, reward accuracy and margin, chosen vs rejected
rewards, log-probs, gradient norm, learning rate, held-out metrics, task accuracy, the SamS scheduler's
prediction error and selection), one line per run; train values solid, eval values dashed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from prefopt.core.errors import InputError
from prefopt.core.plotting import pyplot

CURVES_FILE = "training_curves.png"

# (title, [logged keys drawn in that panel]); a panel is drawn when any run logged any of its keys.
PANELS: list[tuple[str, list[str]]] = [
    ("loss", ["loss", "eval_loss"]),
    ("reward accuracy", ["rewards/accuracies", "eval_rewards/accuracies", "eval_accuracy"]),
    ("reward margin", ["rewards/margins", "eval_rewards/margins"]),
    ("rewards: chosen / rejected", ["rewards/chosen", "rewards/rejected"]),
    ("log-probs: chosen / rejected", ["logps/chosen", "logps/rejected"]),
    ("task accuracy (held-out, judged)", ["task/accuracy"]),
    ("KL reference point (KTO)", ["kl", "eval_kl"]),
    ("SFT / NLL term", ["sft_loss", "nll_loss"]),
    ("gradient norm", ["grad_norm"]),
    ("learning rate", ["learning_rate"]),
    ("SamS: scheduler prediction MSE", ["sams/pred_mse", "sams/train_mse_f"]),
    ("SamS: loss of all vs selected pairs", ["loss_all_pairs", "loss"]),
]
SAMS_ONLY = {"SamS: loss of all vs selected pairs"}  # drawn only for runs with a scheduler (it repeats `loss`)


def read_history(run: Path) -> list[dict]:
    """The run's logged rows: log_history.json of a finished run, else its newest checkpoint's trainer_state.json."""
    finished = run / "log_history.json"
    if finished.exists():
        return json.loads(finished.read_text())["log_history"]
    checkpoints = sorted(run.glob("checkpoint-*/trainer_state.json"),
                         key=lambda p: int(p.parent.name.removeprefix("checkpoint-")))
    if checkpoints:
        return json.loads(checkpoints[-1].read_text())["log_history"]
    raise InputError("no log_history.json and no checkpoint-*/trainer_state.json: not a training run's output_dir",
                     where=str(run), fix="pass the output_dir of a training run (finished, or with a checkpoint saved)")


def series(history: list[dict], key: str) -> tuple[list[int], list[float]]:
    """(steps, values) of one logged key, skipping rows without it and non-finite values."""
    pts = [(row["step"], row[key]) for row in history
           if isinstance(row.get(key), (int, float)) and "step" in row and math.isfinite(row[key])]
    return [s for s, _ in pts], [v for _, v in pts]


def panels_for(histories: dict[str, list[dict]]) -> list[tuple[str, list[str]]]:
    """The PANELS with data in at least one run (keys without data dropped)."""
    has_scheduler = any(series(h, "loss_all_pairs")[0] for h in histories.values())
    out = []
    for title, keys in PANELS:
        if title in SAMS_ONLY and not has_scheduler:
            continue
        present = [k for k in keys if any(series(h, k)[0] for h in histories.values())]
        if present:
            out.append((title, present))
    return out


def plot_runs(runs: list[Path], out: Path, labels: list[str] | None = None) -> list[tuple[str, list[str]]]:
    """Draw the runs' curves into `out`; returns the panels drawn (title, keys)."""
    labels = labels or _labels(runs)
    histories = {label: read_history(run) for label, run in zip(labels, runs, strict=True)}
    panels = panels_for(histories)
    if not panels:
        raise InputError("nothing to plot: no logged step has a known metric",
                         where=", ".join(map(str, runs)), fix="set logging_steps so that the run logs before it ends")
    plt = pyplot()
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.2 * nrows), squeeze=False)
    for ax, (title, keys) in zip(axes.flat, panels):
        for i, (label, history) in enumerate(histories.items()):
            for j, key in enumerate(keys):
                steps, values = series(history, key)
                if not steps:
                    continue
                style = "--" if key.startswith("eval_") or j > 0 and title.startswith(("rewards:", "log-probs:")) else "-"
                name = f"{label}: {key}" if len(histories) > 1 or len(keys) > 1 else None
                ax.plot(steps, values, style, color=f"C{i}", alpha=1.0 if j == 0 else 0.7,
                        marker="o" if len(steps) < 3 else None, ms=3, label=name)
        ax.set(title=title, xlabel="step")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(" vs ".join(histories) if len(histories) > 1 else labels[0], fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return panels


def _labels(runs: list[Path]) -> list[str]:
    """Shortest distinguishing names: the folder name, or parent/name when folder names repeat."""
    names = [r.resolve().name for r in runs]
    if len(set(names)) == len(names):
        return names
    return [f"{r.resolve().parent.name}/{r.resolve().name}" for r in runs]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="output_dir of each run")
    parser.add_argument("--out", help=f"PNG to write (default: <run>/{CURVES_FILE} for one run, curves.png for several)")
    parser.add_argument("--labels", nargs="+", help="legend names, one per run (default: folder names)")
    args = parser.parse_args(argv)
    runs = [Path(r) for r in args.runs]
    if args.labels and len(args.labels) != len(runs):
        parser.error(f"--labels gives {len(args.labels)} names for {len(runs)} runs")
    out = Path(args.out) if args.out else (runs[0] / CURVES_FILE if len(runs) == 1 else Path("curves.png"))
    try:
        panels = plot_runs(runs, out, args.labels)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {out} ({len(panels)} panels: {', '.join(t for t, _ in panels)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
