"""Helpers every benchmark in bench/ shares: child processes with their own peak RSS, interleaved rounds,
step timers, medians.

Why each contender runs in its own process: a peak RSS only ever grows, so two contenders in one process would
report the larger one's peak for both. Each worker is a fresh `python <script> ...` that reports its own peak
(`peak_memory_mb`: VmHWM, the high-water mark of the memory map exec gave it). The parent also reaps it with
os.wait4 and records that child's ru_maxrss as a cross-check; on Linux ru_maxrss survives exec, so it also
counts the parent's RSS at fork time: it is a fair figure only while the parent stays small (bench parents do
not import torch). Why interleave: the machine is shared, so load drifts; running A, B, A, B (rotating who goes
first each round) makes drift hit every contender alike, and the ratios of medians stay meaningful.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def log(msg: str) -> None:
    """Progress on stderr (stdout of a worker carries its JSON result)."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run_worker(script: str | Path, args: Sequence[str], env: dict | None = None) -> dict:
    """Run `python script *args` as a child; return its last stdout JSON line plus `child_peak_rss_mb`
    (its ru_maxrss: see the module docstring for why the worker's own VmHWM is the primary figure).

    The child's stderr is passed through (its progress shows live); its stdout goes to a temp file so that
    reaping it with os.wait4 (which gives this child's own rusage) cannot deadlock on a full pipe.
    """
    with tempfile.TemporaryFile(mode="w+") as out:
        proc = subprocess.Popen([sys.executable, str(script), *args], stdout=out, stderr=None, text=True,
                                env={**os.environ, **(env or {})}, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if proc.returncode != 0:
        raise RuntimeError(f"worker {script} {' '.join(args)} exited with {proc.returncode}:\n{text[-2000:]}")
    lines = [ln for ln in text.splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError(f"worker {script} {' '.join(args)} printed no JSON result:\n{text[-2000:]}")
    result = json.loads(lines[-1])
    result["child_peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux reports KiB
    return result


def interleaved(names: Sequence[str], repeats: int, run: Callable[[str], dict]) -> dict[str, list[dict]]:
    """Run every name `repeats` times, round-robin, rotating the starting contender each round."""
    results: dict[str, list[dict]] = {n: [] for n in names}
    total, done = repeats * len(names), 0
    for r in range(repeats):
        order = list(names[r % len(names):]) + list(names[: r % len(names)])
        for name in order:
            done += 1
            log(f"run {done}/{total}: {name} (round {r + 1}/{repeats})")
            results[name].append(run(name))
    return results


def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


class StepTimer:
    """Wall time of a block, synchronising CUDA first so that queued kernels are counted in the step."""

    def __init__(self, device: str):
        self.cuda = device.startswith("cuda")
        self.times: list[float] = []

    def _sync(self) -> None:
        if self.cuda:
            import torch  # noqa: PLC0415

            torch.cuda.synchronize()

    def __enter__(self):
        self._sync()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self._sync()
        self.times.append(time.perf_counter() - self._t0)


def peak_memory_mb(device: str) -> tuple[float, str]:
    """(peak, what it is): CUDA max allocated on GPU, else this process's own peak RSS since exec (VmHWM)."""
    if device.startswith("cuda"):
        import torch  # noqa: PLC0415

        return torch.cuda.max_memory_allocated() / 2**20, "cuda max_memory_allocated"
    return _proc_status_kb("VmHWM") / 1024, "peak RSS of the process (VmHWM)"


def _proc_status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def current_rss_mb() -> float:
    """Resident set size right now (to tell the fixed cost of imports and weights from the step's peak)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def memory_now_mb(device: str) -> float:
    """The baseline that peak_memory_mb is compared with: CUDA memory allocated now, else the RSS now."""
    if device.startswith("cuda"):
        import torch  # noqa: PLC0415

        return torch.cuda.memory_allocated() / 2**20
    return current_rss_mb()
