"""python -m prefopt.toy.rehearse [CELL ...] [--all] [--plan] [--force] [--no-resume] [--root DIR] [--report-only]

Without cells: every path covered at the least cost (what `make rehearse` runs: prefopt.toy.rehearse.plan.coverage);
--all: every trainable cell in full. A cell whose record says green is not run again (--force reruns it). Writes <root>/cells/<cell>.json per cell and, after
each cell, results/rehearsal/table.md and rehearsal.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

from prefopt.core.errors import InputError
from prefopt.core.manifest import write_json
from prefopt.core.paths import REPO_ROOT
from prefopt.core.rehearsal import HUB_ID
from prefopt.reproduce.cells import load_registry
from prefopt.toy.miniatures import MINIATURES, build_miniature
from prefopt.toy.rehearsal_data import build_mirror

from . import plan as P
from .report import load_records, write_report
from .runner import environment, run_plan


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m prefopt.toy.rehearse", description=__doc__.split("\n\n")[0])
    ap.add_argument("cells", nargs="*", help="cell ids (default: one per path)")
    ap.add_argument("--all", action="store_true", help="every trainable cell")
    ap.add_argument("--plan", action="store_true", help="print the steps and the cluster summary; run nothing")
    ap.add_argument("--force", action="store_true", help="rerun cells whose record is green")
    ap.add_argument("--no-resume", action="store_true", help="skip the kill-and-resume runs")
    ap.add_argument("--root", default=str(REPO_ROOT / "outputs" / "rehearsal"), help="rehearsal folder")
    ap.add_argument("--report-only", action="store_true", help="rewrite results/rehearsal/ from the records")
    return ap


def select(registry, names: list[str], every: bool, root: Path, resume: bool) -> list:
    """The plans to run: the named cells, every trainable cell (--all), or the coverage of every path."""
    if names:
        unknown = [n for n in names if n not in registry.cells]
        untrainable = [n for n in names if n in registry.cells and registry.cells[n].train != "config"]
        if unknown or untrainable:
            raise InputError(f"cannot rehearse {', '.join(unknown + untrainable)}: "
                             + ("unknown cell" if unknown else "no training config"),
                             fix="make list shows the cells; only cells with a config (train: config) train")
    if not names and not every:
        return P.coverage(registry, root) if resume else \
            [dataclasses.replace(p, steps=[s for s in p.steps if s.kind not in ("kill", "resume")])
             for p in P.coverage(registry, root)]
    cells = [registry.cells[n] for n in names] if names else P.trainable(registry)
    firsts = {s: next(c.id for c in P.trainable(registry) if c.setting == s) for s in registry.onpolicy}
    done: set[str] = set()
    return [P.plan_cell(c, registry, root, resume=resume, onpolicy=c.id in firsts.values(), done=done)
            for c in cells]


def prebuild(raw: dict) -> None:
    """Build the miniatures a cell names here, once, instead of in every rank of its launch."""
    for key in ("model_name_or_path", "tokenizer_name_or_path", "reference_model_name_or_path"):
        value = raw.get(key)
        if value and HUB_ID.match(value) and value in MINIATURES:
            build_miniature(value, cache_dir=Path(os.environ["PREFOPT_MODEL_MINIATURES"]))


def main(argv: list[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    root = Path(a.root).resolve()
    try:
        registry = load_registry()
        shared = P.paths([P.plan_cell(c, registry, root) for c in P.trainable(registry)])
        if a.report_only:
            print(write_report(load_records(root), shared))
            return 0
        plans = select(registry, a.cells, a.all, root, not a.no_resume)
        if a.plan:
            for p in plans:
                print(P.summary_text(p.cell.id, p.cluster))
                for s in p.steps:
                    print(f"  [{s.kind}] {s.name}" + (f"  -- not run: {s.skip}" if s.skip else ""))
                    print("      " + " ".join(s.argv))
            return 0
        os.environ.update({k: v for k, v in environment(root).items() if k.startswith("PREFOPT_")})
        build_mirror(root / "datasets")
        for p in plans:
            record_file = root / "cells" / f"{p.cell.id}.json"
            if not a.force and record_file.exists() and json.loads(record_file.read_text()).get("status") == "green":
                print(f"{p.cell.id}: green in an earlier rehearsal ({record_file}); --force reruns it")
                continue
            print(P.summary_text(p.cell.id, p.cluster), flush=True)
            prebuild(p.raw)
            record = run_plan(p, root)
            write_json(record_file, record)
            print(f"{p.cell.id}: {record['status']} in {record['wall_s']:.0f} s wall, {record['cpu_s']:.0f} s CPU"
                  + (f": {record['failure']}" if record["failure"] else ""), flush=True)
            write_report(load_records(root), shared)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    records = load_records(root)
    print(write_report(records, shared))
    return 0 if all(records[p.cell.id]["status"] == "green" for p in plans if p.cell.id in records) else 1


if __name__ == "__main__":
    sys.exit(main())
