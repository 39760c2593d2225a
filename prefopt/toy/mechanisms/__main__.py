"""`make mechanisms` / `python -m prefopt.toy.mechanisms`: run the claims of mechanisms.yaml and write the report.

    python -m prefopt.toy.mechanisms                          # every claim, the spec's seeds
    python -m prefopt.toy.mechanisms --claims length --seeds 0

Work (models, pairs, checkpoints, evaluations) goes to --work and is reused by the next invocation (a rerun with
nothing changed only rewrites the report); the report (results/reproduced/mechanisms/) holds only summaries.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from prefopt.core.cli import configure_logging
from prefopt.core.errors import InputError
from prefopt.core.manifest import build_manifest, write_json
from prefopt.core.paths import REPO_ROOT
from prefopt.toy.chain import AUXILIARY

from .chain import Run, SeedChain
from .claims import CLAIMS, enabled
from .report import PLOTS, readme, section
from .spec import DEFAULT_SPEC, load_spec


def plan(spec, names: list[str] | None):
    claims = [c for c in enabled(spec) if names is None or c.name in names]
    runs: dict[str, Run] = {}  # one run per id, in first-use order (pretraining before SamS); a curve if any claim
    for run in (r for c in claims for r in c.runs(spec)):  # needs one (the same run, one more config setting)
        runs[run.id] = dataclasses.replace(run, curve=run.curve or runs[run.id].curve) if run.id in runs else run
    return claims, list(runs.values())


def run_seed(spec, seed: int, work: Path, claims, runs) -> dict:
    t, c = time.time(), time.process_time()
    chain = SeedChain(spec, seed, work / f"seed{seed}")
    pair_sets = {r.pairs for r in runs}
    apo = spec.claims.apo.queries if any(cl.name == "apo" for cl in claims) else 0
    data = chain.prepare(pair_sets, apo_queries=apo)
    for run in runs:
        chain.train(run)
    evals = {f"{p}/sft": chain.evaluate(None, p) for p in sorted(pair_sets)}
    evals.update({r.id: chain.evaluate(r) for r in runs if r.key not in AUXILIARY})
    cost = record_cost(work / f"seed{seed}" / "cost.json", chain.timings,
                       {"wall_s": time.time() - t, "cpu_s": time.process_time() - c})
    return {"seed": seed, "data": data, "evals": evals, **cost}


def record_cost(path: Path, timings: dict, total: dict, min_cpu_s: float = 1.0) -> dict:
    """Merge this invocation's step costs into path: a step that did real work (>= min_cpu_s) replaces the stored
    one, a reused step keeps it; `total` is the sum of the stored steps (what a fresh run of this seed costs)."""
    stored = json.loads(path.read_text())["timings"] if path.exists() else {}
    stored.update({k: v for k, v in timings.items() if v["cpu_s"] >= min_cpu_s or k not in stored})
    cost = {"timings": stored, "total": {k: sum(v[k] for v in stored.values()) for k in ("wall_s", "cpu_s")},
            "this_invocation": total}
    write_json(path, cost)
    return cost


def run_parallel(args, spec, jobs: int) -> None:
    """Each seed in its own process (jobs at a time, the CPU threads shared out), training and evaluating; the
    report is then written from their cached results."""
    env = dict(os.environ, OMP_NUM_THREADS=str(max(1, (os.cpu_count() or 1) // jobs)))
    pending, running = list(spec.seeds), []
    while pending or running:
        while pending and len(running) < jobs:
            seed = pending.pop(0)
            cmd = [sys.executable, "-m", "prefopt.toy.mechanisms", "--spec", args.spec, "--seeds", str(seed), "--work",
                   args.work, "--train_only", *(["--claims", *args.claims] if args.claims else [])]
            running.append((seed, subprocess.Popen(cmd, env=env)))
        seed, proc = running.pop(0)
        if proc.wait() != 0:
            raise InputError(f"seed {seed} failed (exit {proc.returncode})", fix="see its log above; rerun resumes")


def data_line(results: list[dict]) -> str:
    parts = []
    for res in results:
        d = res["data"]
        bits = [f"{name}: {s['n_train']} train / {s['n_test']} held-out pairs, chosen longer in "
                f"{s['chosen_longer']:.0%} (mean gap {s['mean_length_gap']:+.2f} chars)"
                for name, s in d.items() if "chosen_longer" in s]
        parts.append(f"seed {res['seed']}: " + "; ".join(bits))
    return " ".join(parts)


def write_report(spec, claims, results: list[dict], out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    judged = {}
    for claim in claims:
        judged[claim.name] = claim.judge(spec, results)
        PLOTS[claim.name](spec, judged[claim.name], results, out / f"{claim.name}.png")
        (out / f"{claim.name}.md").write_text(section(claim, spec, judged[claim.name], data_line(results)),
                                              encoding="utf-8")
    cost = {f"seed {r['seed']}": {f"{k} (sum of steps)": round(v) for k, v in r["total"].items()} for r in results}
    (out / "README.md").write_text(readme(spec, judged, cost), encoding="utf-8")
    payload = {"spec": dataclasses.asdict(spec), "claims": {
        name: {"title": CLAIMS[name].title, "claim": CLAIMS[name].claim, "source": CLAIMS[name].source, **j}
        for name, j in judged.items()},
        "per_seed": {r["seed"]: {"data": r["data"], "timings": r["timings"], "total": r["total"]} for r in results},
        "manifest": build_manifest("mechanisms", config_hash=spec.sha256)}
    write_json(out / "mechanisms.json", payload)
    return judged


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m prefopt.toy.mechanisms", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spec", default=str(DEFAULT_SPEC), help="the experiment design (YAML)")
    ap.add_argument("--seeds", type=int, nargs="+", default=None, help="override the spec's seeds")
    ap.add_argument("--claims", nargs="+", default=None, choices=sorted(CLAIMS), help="a subset of the claims")
    ap.add_argument("--out", default=str(REPO_ROOT / "results" / "reproduced" / "mechanisms"))
    ap.add_argument("--work", default=str(REPO_ROOT / "outputs" / "mechanisms"), help="models, data, evaluations")
    ap.add_argument("--jobs", type=int, default=1, help="seeds trained at the same time, one process each")
    ap.add_argument("--train_only", action="store_true", help="train and evaluate; write no report")
    args = ap.parse_args(argv)
    configure_logging()
    try:
        spec = load_spec(args.spec, args.seeds)
        claims, runs = plan(spec, args.claims)
        if not claims:
            raise InputError("no claim to run", where=args.spec, fix="enable a claim under `claims:` or fix --claims")
        if args.jobs > 1 and len(spec.seeds) > 1:
            run_parallel(args, spec, args.jobs)
        results = [run_seed(spec, seed, Path(args.work), claims, runs) for seed in spec.seeds]
        if args.train_only:
            return 0
        judged = write_report(spec, claims, results, Path(args.out))
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for name, j in judged.items():
        print(f"{name}: {j['verdict']}")
    print(f"wrote {args.out}/README.md, <claim>.md/.png and mechanisms.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
