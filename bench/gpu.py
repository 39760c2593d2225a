#!/usr/bin/env python
"""One unattended GPU comparison at a real vocabulary (run it through bench/gpu.sh; README beside: bench/GPU.md).

    python bench/gpu.py --out DIR [--device cuda] [--quick] [--budget-s 420] [--contenders ...]

A bf16 (mixed precision) Llama-shaped miniature of ~0.5B parameters with V = 128,256 (bench/miniature.py), random
token pairs of `--length` tokens (no data set needed), `--pairs` pairs per step. Every contender runs in its own
process (bench/worker.py `run`): our trainer with the chunked and the full log-prob path, TRL DPOTrainer and
CPO-SimPO, and those two with Liger's layer kernels where liger-kernel imports. Recorded per contender: median step
time, pairs/s, peak CUDA memory (max allocated) and its part above the memory after setup, MFU, first-step loss.

Robust by construction: imports are checked first and a contender whose packages are missing is skipped with the
reason; a contender that fails or times out is recorded with the end of its output and the run goes on; the total
time is bounded by --budget-s (contenders that no longer fit are skipped, not started). Results are written after
every contender: <out>/gpu_results.json and <out>/gpu_results.md.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

WORKER = REPO / "bench" / "worker.py"
# ~0.5B parameters: 131M in the tied embedding / head at V = 128,256 and 24 blocks of 15M.
MODEL = {"hidden": 1024, "layers": 24, "heads": 16, "intermediate": 3584, "tie_word_embeddings": True}
QUICK_MODEL = {"hidden": 64, "layers": 2, "heads": 4, "intermediate": 128, "tie_word_embeddings": True}
CONTENDERS = ["ours-simpo", "ours-simpo+full", "ours-simpo+prefix", "ours-dpo-cache", "ours-dpo-cache+full",
              "trl-dpo", "trl-cpo-simpo", "trl-dpo+liger", "trl-cpo-simpo+liger"]
# What each kind of contender imports (checked once, up front).
NEEDS = {"ours": ["transformers", "accelerate", "datasets", "prefopt"], "trl": ["transformers", "accelerate",
                                                                            "datasets", "trl", "trl.experimental.cpo"],
         "liger": ["liger_kernel"]}
HP = {"learning_rate": 1.0e-6, "dpo_beta": 0.1, "simpo_beta": 2.0, "simpo_gamma": 0.5, "reference_batch_size": 1,
      "seed": 0}


def probe_imports() -> dict:
    """module -> {"ok", "version" | "error"}: what this machine has, read once before anything runs."""
    out = {}
    for name in sorted({m for mods in NEEDS.values() for m in mods} | {"torch"}):
        try:
            mod = importlib.import_module(name)
            out[name] = {"ok": True, "version": getattr(mod, "__version__", "")}
        except Exception as e:  # noqa: BLE001 (any import failure is a reason to skip, never a crash)
            out[name] = {"ok": False, "error": f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"}
    return out


def missing(contender: str, imports: dict, device: str) -> str | None:
    """Why a contender cannot run here (None: it can)."""
    kinds = ["trl" if contender.startswith("trl") else "ours"] + (["liger"] if contender.endswith("+liger") else [])
    lacking = [m for k in kinds for m in NEEDS[k] if not imports[m]["ok"]]
    if lacking:
        return "not importable: " + "; ".join(f"{m} ({imports[m]['error']})" for m in lacking)
    if contender.endswith("+liger") and not device.startswith("cuda"):
        return "Liger's kernels are Triton (GPU) only"
    return None


def device_info(device: str) -> dict:
    import torch  # noqa: PLC0415

    info = {"python": platform.python_version(), "torch": torch.__version__, "device": device}
    if device.startswith("cuda"):
        info.update(name=torch.cuda.get_device_name(), capability=list(torch.cuda.get_device_capability()),
                    memory_gb=round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1))
    return info


def run_worker(args: list[str], timeout_s: float) -> tuple[dict | None, str]:
    """(the worker's JSON result or None, the end of its output)."""
    try:
        p = subprocess.run([sys.executable, str(WORKER), *args], capture_output=True, text=True, timeout=timeout_s,
                           cwd=REPO, env={**os.environ, "PYTHONPATH": os.pathsep.join(
                               [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])})
    except subprocess.TimeoutExpired as e:
        tail = (e.stderr or b"")[-1500:]
        return None, f"timed out after {timeout_s:.0f} s\n" + (tail.decode(errors="replace") if isinstance(tail, bytes) else tail)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        return None, f"exit {p.returncode}\n{(p.stderr or '')[-1500:]}"
    return json.loads(lines[-1]), ""


def markdown(results: dict) -> str:
    cfg, dev = results["config"], results["device"]
    lines = ["# GPU comparison at a real vocabulary", "",
             f"{dev.get('name', dev['device'])}, torch {dev['torch']}; miniature {results.get('n_params', 0) / 1e6:,.0f}M "
             f"params (hidden {cfg['model']['hidden']}, {cfg['model']['layers']} layers, V = {cfg['vocab']:,}), "
             f"{cfg['dtype']}, {cfg['pairs']} pairs x {cfg['length']} tokens, median of {cfg['steps']} steps after "
             f"{cfg['warmup']} warm-up; wall {results.get('wall_s', 0):.0f} s.", "",
             "| contender | status | step s | pairs/s | peak memory MB | above setup MB | MFU | first-step loss |",
             "|---|---|---|---|---|---|---|---|"]
    for name, r in results["contenders"].items():
        if r["status"] != "ok":
            lines.append(f"| {name} | {r['status']}: {r['reason'].splitlines()[0][:120]} | | | | | | |")
            continue
        mfu = f"{r['mfu']:.1%}" if r.get("mfu") is not None else "-"
        lines.append(f"| {name} | ok | {r['median_step_s']:.3f} | {r['pairs_per_s']:.2f} | {r['peak_mb']:,.0f} | "
                     f"{r['peak_above_setup_mb']:,.0f} | {mfu} | {r['first_step_loss']:.4f} |")
    lines += ["", "Imports: " + ", ".join(f"{k} {v.get('version') or ''}".strip() if v["ok"] else f"{k} MISSING"
                                         for k, v in results["imports"].items())]
    return "\n".join(lines) + "\n"


def save(results: dict, out: Path) -> None:
    (out / "gpu_results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (out / "gpu_results.md").write_text(markdown(results))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default=None, help="bf16 (default on cuda) or float32 (default on cpu)")
    ap.add_argument("--quick", action="store_true", help="a tiny model and V = 8,192: a smoke run (CPU)")
    ap.add_argument("--vocab", type=int, default=None)
    ap.add_argument("--length", type=int, default=None)
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--budget-s", type=float, default=420.0, help="stop starting contenders after this (seconds)")
    ap.add_argument("--contender-timeout-s", type=float, default=150.0)
    ap.add_argument("--contenders", nargs="+", default=CONTENDERS)
    ap.add_argument("--workdir", type=Path, default=REPO / ".cache" / "bench-gpu")
    a = ap.parse_args(argv)
    t0 = time.time()
    a.out.mkdir(parents=True, exist_ok=True)
    dtype = a.dtype or ("bf16" if a.device.startswith("cuda") else "float32")
    vocab, length = a.vocab or (8192 if a.quick else 128256), a.length or (64 if a.quick else 1024)
    cfg = {"model": QUICK_MODEL if a.quick else MODEL, "vocab": vocab, "length": length, "pairs": a.pairs,
           "dtype": dtype, "warmup": 1 if a.quick else a.warmup, "steps": 1 if a.quick else a.steps,
           "budget_s": a.budget_s, "contenders": a.contenders}
    imports = probe_imports()
    results = {"config": cfg, "device": {"device": a.device, "torch": imports["torch"].get("version")},
               "imports": imports, "contenders": {}}
    save(results, a.out)
    results["device"] = device_info(a.device)

    from bench.miniature import name  # noqa: PLC0415

    a.workdir.mkdir(parents=True, exist_ok=True)
    spec = {"data": "", "synthetic": True, "device": a.device, "dtype": dtype, "threads": os.cpu_count() or 1,
            "prompt_fraction": 0.5, "hp": HP, "workdir": str(a.workdir), "cache_dir": str(a.workdir / "refcache"),
            "size": "0.2m" if a.quick else "10m", "model_dir": str(a.workdir / "models" / name(cfg["model"], vocab)),
            "warmup_steps": cfg["warmup"], "steps": cfg["steps"]}
    runnable = [c for c in a.contenders if missing(c, imports, a.device) is None]
    impls = sorted({"full" if c.endswith("+full") else None for c in runnable if c.startswith("ours-dpo-cache")},
                   key=str)
    prep, err = run_worker(["prepare", json.dumps({**spec, "miniature": cfg["model"], "vocab": vocab,
                                                   "lengths": [length], "n_pairs": (cfg["warmup"] + cfg["steps"]) *
                                                   a.pairs, "impls": impls})], timeout_s=a.budget_s / 2)
    results["prepare"] = prep or {"error": err}
    for c in a.contenders:
        left = a.budget_s - (time.time() - t0)
        reason = missing(c, imports, a.device) or (None if prep else "prepare failed (see prepare.error)")
        if reason is None and left < 30:
            reason = f"time budget: {left:.0f} s left of {a.budget_s:.0f} s"
        if reason:
            results["contenders"][c] = {"status": "skipped", "reason": reason}
        else:
            print(f"[{time.time() - t0:5.0f}s] {c}", file=sys.stderr, flush=True)
            run, err = run_worker(["run", json.dumps({**spec, "contender": c, "points": [[a.pairs, length]]})],
                                  timeout_s=min(a.contender_timeout_s, left))
            results["contenders"][c] = summary(run, a.device, dtype) if run else {"status": "failed", "reason": err}
            if run:
                results["n_params"] = run["n_params"]
        results["wall_s"] = time.time() - t0
        save(results, a.out)
    print(markdown(results))
    return 0


def summary(run: dict, device: str, dtype: str) -> dict:
    from bench.flops import mfu, peak_flops  # noqa: PLC0415

    point = run["points"][0]
    peak = peak_flops(device, dtype) if device.startswith("cuda") else None
    return {"status": "ok", "median_step_s": point["median_step_s"], "pairs_per_s": point["pairs_per_s"],
            "tokens_per_s": point["tokens_per_s"], "peak_mb": run["peak_mb"], "memory_kind": run["memory_kind"],
            "peak_above_setup_mb": run["peak_mb"] - run["rss_after_setup_mb"],
            "mfu": mfu(point["model_flops_per_s"], peak), "first_step_loss": point["first_step_loss"],
            "step_times": point["step_times"], "losses": point["losses"]}


if __name__ == "__main__":
    sys.exit(main())
