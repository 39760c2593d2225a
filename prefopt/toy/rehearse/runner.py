"""Run one cell's rehearsal plan: every step as a process of its own, timed (wall and CPU), its peak RSS taken,
its log kept; then the checks: every loss finite, the killed-and-resumed trajectory equal to the uninterrupted
one, the eval results written. The record of the cell is one JSON file (`<root>/cells/<cell>.json`).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from prefopt.core.paths import REPO_ROOT, cache_dir
from prefopt.core.rehearsal import MIRROR_ENV, MODELS_ENV, is_rehearsal
from prefopt.training.checkpoint import last_complete_checkpoint

from . import shrink
from .checks import template_checks
from .plan import CellPlan, Step

HOOKS = Path(__file__).parent / "hooks"
KILL_ENV = "PREFOPT_REHEARSAL_KILL_AT_STEP"
# Timings and the summary of the end of a run: they differ between a run and its resumed copy by nature.
SESSION_KEYS = ("train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss", "total_flos",
                "eval_runtime", "eval_samples_per_second", "eval_steps_per_second")
TIMEOUT_S = 1800


def environment(root: Path) -> dict:
    """The variables of every step: offline, one thread per process, DeepSpeed on CPU, the two swaps.

    DeepSpeed JIT-builds its CPU ops with ninja into $TORCH_EXTENSIONS_DIR (default ~/.cache/torch_extensions,
    shared by every checkout and virtual environment of the user: each one with other include paths rebuilds the
    op, 2-3 minutes per launch); they go to this checkout's cache instead, built once."""
    env = {k: v for k, v in os.environ.items() if k not in (KILL_ENV,)}
    try:  # ninja comes with requirements/deepspeed-cpu.txt (make test-slow / make rehearse), not with make test
        import ninja  # noqa: PLC0415
        env["PATH"] = f"{ninja.BIN_DIR}:{env.get('PATH', '/usr/bin:/bin')}"
    except ImportError:
        pass
    env.setdefault("TORCH_EXTENSIONS_DIR", str(cache_dir("torch_extensions")))
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               OMP_NUM_THREADS="1", DS_ACCELERATOR="cpu", TRL_EXPERIMENTAL_SILENCE="1",
               **{MIRROR_ENV: str(root / "datasets"), MODELS_ENV: str(root / "models")})
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_step(step: Step, env: dict, log: Path) -> dict:
    """Run one step; wall and CPU seconds and the peak RSS of its largest process (wait4 counts the children
    it reaped: the launcher's ranks)."""
    argv = [a.replace("{port}", str(free_port())) for a in step.argv]
    env = dict(env)
    if step.kind == "kill":
        env[KILL_ENV] = str(shrink.KILL_AT_STEP)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HOOKS), env.get("PYTHONPATH")]))
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    with log.open("w", encoding="utf-8") as f:
        f.write("$ " + " ".join(argv) + "\n\n")
        f.flush()
        proc = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=f, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            _, status, usage = _wait(proc, TIMEOUT_S)
        except TimeoutError:
            os.killpg(proc.pid, 9)
            _, status, usage = os.wait4(proc.pid, 0)
            status = -9
    rc = os.waitstatus_to_exitcode(status) if status != -9 else -9
    return {"name": step.name, "kind": step.kind, "rc": rc, "wall_s": round(time.time() - t0, 1),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 1), "peak_rss_mb": usage.ru_maxrss // 1024,
            "log": str(log)}


def _wait(proc: subprocess.Popen, timeout: float):
    deadline = time.time() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return pid, status, usage
        if time.time() > deadline:
            raise TimeoutError
        time.sleep(0.2)


def failure_message(log: Path) -> str:
    """The root error of a log: prefopt's `error: ...` line, else the first exception line of a rank (not the
    launcher's ChildFailedError, make's summary or a peer's lost connection), else the last line."""
    lines = [ln.strip() for ln in log.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    noise = ("ChildFailedError", "make: ***", "error_file:", "traceback :", "Connection closed by peer",
             "Connection reset by peer")
    lines = [ln for ln in lines if not any(n in ln for n in noise)]

    def exception(ln: str) -> bool:
        head = ln.split("]: ", 1)[-1].split(":")[0]  # "[rank0]: RuntimeError: ..." -> RuntimeError
        return head.endswith(("Error", "Exception", "Interrupt")) and " " not in head

    for pred in (lambda ln: ln.startswith("error:"), exception, lambda ln: "Error" in ln):
        hits = [ln for ln in lines if pred(ln)]
        if hits:
            return hits[0][:400]  # the first: a crashed rank's own error comes before its peers' reactions
    return (lines[-1] if lines else "(empty log)")[:400]


def trajectory(run: Path) -> list[dict]:
    rows = json.loads((run / "log_history.json").read_text())["log_history"]
    return [{k: v for k, v in r.items() if k not in SESSION_KEYS} for r in rows]


def finite(rows: list[dict]) -> bool:
    values = [v for r in rows for k, v in r.items() if k.endswith("loss") and isinstance(v, int | float)]
    return bool(values) and all(math.isfinite(v) for v in values)


def compare_resume(full: Path, cut: Path) -> dict:
    a, b = trajectory(full), trajectory(cut)
    la, lb = [r["loss"] for r in a if "loss" in r], [r["loss"] for r in b if "loss" in r]
    differ = sorted({k for x, y in zip(a, b, strict=False) for k in set(x) | set(y) if x.get(k) != y.get(k)})
    out = {"losses_uninterrupted": la, "losses_resumed": lb, "identical_losses": la == lb,
           "identical_metrics": a == b, "differing_metrics": differ}
    if la != lb and len(la) == len(lb):
        out["max_abs_loss_diff"] = max(abs(x - y) for x, y in zip(la, lb, strict=True))
    return out


def _clear(folder: str | None) -> None:
    if folder and Path(folder).exists():
        shutil.rmtree(folder)


def _finished(folder: str) -> bool:
    try:
        return json.loads((Path(folder) / "manifest.json").read_text()).get("status") == "finished"
    except (OSError, ValueError):
        return False


def run_plan(plan: CellPlan, root: Path) -> dict:
    """Run every step of `plan` and return the cell's record (also written to <root>/cells/<cell>.json)."""
    cell = plan.cell
    env = environment(root)
    logs = root / "logs" / cell.id
    shutil.rmtree(logs, ignore_errors=True)
    for step in plan.steps:
        if step.kind == "eval":
            shutil.rmtree(step.output_dir, ignore_errors=True)
    record = {"cell": cell.id, "setting": cell.setting, "method": cell.method, "config": cell.config,
              "script": cell.script, "kind": plan.kind, "family": plan.family, "launcher": plan.launcher,
              "overrides": {k: {"config": v[0], "rehearsal": v[1], "why": v[2]} for k, v in plan.changes.items()},
              "cluster": plan.cluster, "steps": [], "evals": {}, "failure": None}
    own = {s.output_dir for s in plan.steps if s.kind in ("kill", "resume") or s.name.startswith("train")}
    for folder in own:
        _clear(folder)  # the cell's own runs start clean; an earlier chain stage is reused when it finished
    blocked = None
    for i, step in enumerate(plan.steps):
        if step.skip:
            record["evals"][step.benchmark] = {"status": "not run", "why": step.skip}
            continue
        if blocked and step.kind != "eval":
            record["steps"].append({"name": step.name, "kind": step.kind, "skipped": f"after: {blocked}"})
            continue
        if blocked and step.kind == "eval":
            record["evals"][step.benchmark] = {"status": "not run", "why": f"no model: {blocked}"}
            continue
        if step.kind in ("train", "prepare") and step.output_dir not in own and step.output_dir and \
                _finished(step.output_dir):
            record["steps"].append({"name": step.name, "kind": step.kind, "reused": step.output_dir})
            continue
        if step.output_dir not in own and step.kind != "eval":
            _clear(step.output_dir)
        result = run_step(step, env, logs / f"{i:02d}-{step.kind}.log")
        record["steps"].append(result)
        if i == _first_own(plan):  # after it: the data a chain writes inside the cell's rule (APO's rjs) exists
            record["template"] = _safe_checks(plan)
        ok = _step_ok(step, result)
        if step.kind == "eval":
            record["evals"][step.benchmark] = _eval_record(step, result, ok, Path(step.output_dir))
        elif not ok:
            blocked = f"{step.name}: {failure_message(Path(result['log']))}"
            record["failure"] = blocked
    _checks(plan, record)
    return record


def _first_own(plan: CellPlan) -> int:
    return next(i for i, s in enumerate(plan.steps) if s.name == "train (uninterrupted)")


def _safe_checks(plan: CellPlan) -> dict:
    try:
        return template_checks(_relocated(plan), plan.kind)
    except Exception as e:  # noqa: BLE001 (a failed check is a finding, recorded; the runs still go)
        return {"checked": False, "why": f"the check failed: {type(e).__name__}: {str(e).splitlines()[0][:300]}"}


def _relocated(plan: CellPlan) -> dict:
    """The config with its paths moved but its lengths as written: the checks see what the real run renders."""
    return {**plan.raw, **{k: v[1] for k, v in plan.changes.items() if v[2] == "relocate"}}


def _step_ok(step: Step, result: dict) -> bool:
    if step.kind != "kill":
        return result["rc"] == 0
    # a kill must land after the first checkpoint and before the end
    ckpt = last_complete_checkpoint(step.output_dir, set_aside=False) if Path(step.output_dir).exists() else None
    result["checkpoint_left"] = ckpt and Path(ckpt).name
    return result["rc"] != 0 and bool(ckpt) and not (Path(step.output_dir) / "log_history.json").exists()


def _eval_record(step: Step, result: dict, ok: bool, out: Path) -> dict:
    if not ok:
        return {"status": "failed", "why": failure_message(Path(result["log"]))}
    path = out / f"{step.benchmark}.json"
    if not path.exists():
        files = sorted(p.name for p in out.glob("*.json")) if out.exists() else []
        return {"status": "failed", "why": f"no {path.name} written (found: {files})"}
    data = json.loads(path.read_text())
    return {"status": "ok", "metrics": data.get("metrics"), "rehearsal": is_rehearsal(data.get("manifest", {}))}


def _checks(plan: CellPlan, record: dict) -> None:
    full = next((s.output_dir for s in plan.steps if s.name == "train (uninterrupted)"), None)
    cut = next((s.output_dir for s in plan.steps if s.kind == "resume"), None)
    if full and (Path(full) / "log_history.json").exists():
        rows = trajectory(Path(full))
        record["steps_run"] = sum("loss" in r for r in rows)
        record["losses_finite"] = finite(rows)
        if not record["losses_finite"] and not record["failure"]:
            record["failure"] = "a logged loss is not finite"
    if cut and full and (Path(cut) / "log_history.json").exists() and (Path(full) / "log_history.json").exists():
        record["resume"] = compare_resume(Path(full), Path(cut))
        res = record["resume"]
        if not res["identical_losses"] and not record["failure"]:
            record["failure"] = "resumed losses differ from the uninterrupted run's"
        elif not res["identical_metrics"] and not record["failure"]:  # e.g. metrics over other rows than the loss's
            record["failure"] = f"resumed run logged other {', '.join(res['differing_metrics'])} than the uninterrupted run"
    bad = [b for b, e in record["evals"].items() if e["status"] == "failed"]
    if bad and not record["failure"]:
        record["failure"] = f"eval {bad[0]}: {record['evals'][bad[0]]['why']}"
    record["wall_s"] = round(sum(s.get("wall_s", 0) for s in record["steps"]), 1)
    record["cpu_s"] = round(sum(s.get("cpu_s", 0) for s in record["steps"]), 1)
    record["peak_rss_mb"] = max((s.get("peak_rss_mb", 0) for s in record["steps"]), default=0)
    record["status"] = "failed" if record["failure"] else "green"
