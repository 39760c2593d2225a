"""results/rehearsal/table.md and rehearsal.json: every rehearsed cell's record, the cells that share each path,
and which tokenizers are real."""

from __future__ import annotations

import json
from pathlib import Path

from prefopt.core.manifest import git_state, write_json
from prefopt.core.paths import REPO_ROOT
from prefopt.core.tables import markdown_table
from prefopt.toy import miniatures

from .checks import check_text
from .plan import OFFLINE_ONLY, summary_text

OUT = REPO_ROOT / "results" / "rehearsal"


def load_records(root: Path) -> dict[str, dict]:
    folder = root / "cells"
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))} if folder.is_dir() else {}


def _launcher(r: dict) -> str:
    lc = r["launcher"]
    kind = {"DEEPSPEED": f"DeepSpeed ZeRO-{lc['zero_stage']}" + (" offload" if lc.get("offload") else ""),
            "FSDP": "FSDP", "MULTI_GPU": "DDP"}.get(lc["type"], str(lc["type"]))
    return f"{kind}, {lc['processes']} CPU procs, {lc['mixed_precision']}"


def _resume(r: dict) -> str:
    res = r.get("resume")
    if not res:
        return "-"
    if res["identical_losses"]:
        return "identical" + ("" if res["identical_metrics"] else
                              f" losses; differ: {', '.join(res.get('differing_metrics', [])) or '?'}")
    return f"DIFFERENT (max {res.get('max_abs_loss_diff', '?')})"


def _evals(r: dict) -> str:
    marks = {"ok": "ok", "failed": "FAILED", "not run": "not run"}
    return "; ".join(f"{b} {marks[e['status']]}" + (f" ({e['why']})" if e["status"] != "ok" else "")
                     for b, e in r["evals"].items()) or "-"


def cell_row(r: dict) -> list[str]:
    steps = r.get("steps_run", "-")
    return [r["cell"], r["status"].upper() if r["status"] != "green" else "green", _launcher(r), str(steps), _resume(r),
            {True: "yes", False: "NO"}.get(r.get("losses_finite"), "-"),
            check_text(r.get("template") or {"checked": False, "why": "not reached"}), _evals(r),
            str(r.get("peak_rss_mb", "-")), f"{r.get('wall_s', 0):.0f}", f"{r.get('cpu_s', 0):.0f}",
            r.get("failure") or "-"]


HEADERS = ("cell", "status", "launcher", "steps", "kill + resume", "losses finite", "template (real rows)",
           "eval targets", "peak RSS MB", "wall s", "CPU s", "failure")


def path_row(key: tuple, cells: list[str], ran: list[dict]) -> list[str]:
    """Which rehearsed cell covered each part of a path: its training run, its resume, its benchmarks."""
    setting, family, launcher, benches = key
    train = next((r for r in ran if (r["setting"], r["family"], r["launcher"]["config"]) == key[:3]), None)
    resume = next((r for r in ran if (r["launcher"]["config"], r["family"]) == (launcher, family) and r.get("resume")),
                  None)
    runs = []
    for b in benches:
        hit = next((r["evals"][b] for r in ran if r["setting"] == setting and b in r["evals"]), None)
        runs.append(f"{b}: {hit['status'] if hit else 'not rehearsed'}")
    return [setting, family, launcher.split("/")[-1], ", ".join(benches) or "-",
            f"{train['cell']} ({train['status']})" if train else "not rehearsed",
            f"{resume['cell']} ({_resume(resume)})" if resume else "not rehearsed", "; ".join(runs) or "-",
            ", ".join(cells)]


def write_report(records: dict[str, dict], shared: dict[tuple, list[str]], out: Path = OUT) -> Path:
    """table.md and rehearsal.json under `out`; `shared` maps each path key to the cells that share it."""
    out.mkdir(parents=True, exist_ok=True)
    ran = list(records.values())
    total_wall = sum(r.get("wall_s", 0) for r in ran)
    total_cpu = sum(r.get("cpu_s", 0) for r in ran)
    green = [r["cell"] for r in ran if r["status"] == "green"]
    slow = sorted(ran, key=lambda r: -r.get("cpu_s", 0))[:5]
    lines = ["# Rehearsal of the table cells on CPU", "",
             "Written by `make rehearse` (prefopt/toy/rehearse). Each cell runs its own `make <cell>` rule (the same "
             "`accelerate launch --config_file <its accelerate config>`) on 2 CPU processes, with its hub models "
             "swapped for offline miniatures (same class, vocabulary, special ids, attention layout; width and depth "
             "shrunk) and its hub datasets for real rows in the hub schema (PREFOPT_MODEL_MINIATURES, "
             "PREFOPT_DATASET_MIRROR); only the run is shrunk (3 steps, lengths 128, a checkpoint per step). The run is "
             "then killed at the end of step 2 on every rank and resumed under the same launcher, and its eval targets "
             "run with the cell's TEMPLATE and GENERATION on 2 prompts with the offline judge rule:length. "
             "Nothing here is a result: `make verify` lists rehearsal outputs and never compares them.", "",
             f"**{len(green)} of {len(ran)} rehearsed cells green; {len(shared)} distinct paths cover "
             f"{sum(len(v) for v in shared.values())} trainable cells.** Total wall {total_wall / 60:.1f} min, CPU "
             f"{total_cpu / 60:.1f} min (wall times were taken on a shared machine; CPU time is the steadier figure). "
             f"Git: {git_state().get('sha')}.", "",
             "Slowest cells (CPU s): " + ", ".join(f"{r['cell']} {r.get('cpu_s', 0):.0f}" for r in slow) + ".", "",
             "## Cells", "", markdown_table(HEADERS, [cell_row(r) for r in ran]) if ran else "Nothing rehearsed yet.",
             "", "## Paths (setting x loss family x launcher x benchmarks)", "",
             "`make rehearse` covers every path: one cell per setting x loss family x launcher trains; the kill and "
             "resume run on the first cell of each launcher x loss family; each benchmark of a setting is evaluated "
             "once, on a model of that setting. `make rehearse REHEARSE_ARGS=--all` runs every cell in full.", "",
             markdown_table(("setting", "loss family", "launcher", "benchmarks", "trained by", "kill + resume by",
                             "benchmarks run", "cells sharing the path"),
                            [path_row(k, v, ran) for k, v in shared.items()]),
             "", "## Eval targets that cannot run offline (listed, not run)", "",
             *[f"- `make {target}`: {why}." for target, why in OFFLINE_ONLY.items()],
             "", "## What the real runs do (dry run)", "",
             *[f"- {summary_text(r['cell'], r['cluster'])}" for r in ran], "",
             "## Which tokenizers are real", "", miniatures.table_markdown(miniatures.describe()), ""]
    (out / "table.md").write_text("\n".join(lines), encoding="utf-8")
    write_json(out / "rehearsal.json", {"git": git_state(), "total_wall_s": round(total_wall, 1),
                                        "total_cpu_s": round(total_cpu, 1), "cells": records,
                                        "paths": [{"setting": k[0], "family": k[1], "launcher": k[2],
                                                   "benchmarks": list(k[3]), "cells": v} for k, v in shared.items()],
                                        "tokenizers": miniatures.describe()})
    return out / "table.md"
