"""bench/: the helpers and the report, fast (no timing thresholds anywhere); the whole bench as a slow smoke run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import interleaved, run_worker  # noqa: E402
from bench.preference import goals, growth  # noqa: E402
from bench.report import write_report  # noqa: E402


def test_child_peak_rss_is_the_childs_own(tmp_path):
    """Each worker's peak RSS is its own: a 300 MB child is seen as such, a small one is not (whatever the parent's
    size: this test runs inside pytest, which may already hold torch and models)."""
    script = tmp_path / "alloc.py"
    script.write_text(f"import sys, json\nsys.path.insert(0, {str(REPO)!r})\nfrom bench.common import peak_memory_mb\n"
                      "b = bytearray(int(sys.argv[1]) * 2**20)\nb[::4096] = b'x' * len(b[::4096])\n"
                      "print(json.dumps({'peak': peak_memory_mb('cpu')[0]}))\n")
    big = run_worker(script, ["300"])
    small = run_worker(script, ["1"])
    assert big["peak"] >= 300 and small["peak"] < big["peak"] - 250
    assert big["child_peak_rss_mb"] >= 300  # ru_maxrss from os.wait4: at least the child's own peak


def test_run_worker_reports_a_failing_child(tmp_path):
    script = tmp_path / "fail.py"
    script.write_text("print('partial'); raise SystemExit(3)\n")
    with pytest.raises(RuntimeError, match="exited with 3"):
        run_worker(script, [])


def test_interleaved_rotates_the_starting_contender():
    order = []
    interleaved(["a", "b", "c"], 3, lambda n: order.append(n) or {})
    assert order == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]


def _row(step_s, peak, loss):
    return {"pairs_per_s": 4 / step_s, "tokens_per_s": 1000 / step_s, "median_step_s": step_s, "peak_mb": peak,
            "reference_model_in_memory": False, "first_step_loss": loss, "mfu": None, "n_params": 1e7}


def test_goals_and_report(tmp_path):
    table = {"ours-dpo-cache": _row(1.0, 900, 0.69), "trl-dpo": _row(1.5, 1000, 0.69),
             "ours-simpo": _row(1.0, 900, 0.9), "trl-cpo-simpo": _row(1.1, 900, 0.9)}
    by_goal = {g["goal"]: g for g in goals(table)}
    dpo = by_goal["pairs/s: our DPO with cache / TRL DPOTrainer (default layout)"]
    assert dpo["ratio"] == pytest.approx(1.5) and dpo["met"]
    assert not by_goal["pairs/s: our SimPO / TRL CPO-SimPO (default layout)"]["met"]  # 1.1 < 1.2
    assert not any("shared prefix" in g for g in by_goal)  # no +prefix contenders, no +prefix goals

    cfg = {"pairs": 2, "max_length": 64, "dtype": "float32", "threads": 1, "device": "cpu", "repeats": 1, "steps": 1}
    rows = [{"pairs": p, "max_length": n, "median_step_s": p * n / 64, "pairs_per_s": 1.0, "tokens_per_s": 1.0}
            for p, n in [(1, 64), (2, 64), (2, 128)]]
    grown = growth({"ours": rows}, cfg)["ours"]
    assert grown == {"batch": {1: 1.0, 2: 2.0}, "length": {64: 1.0, 128: 2.0}}
    results = {"config": cfg, "wall_s": 1.0,
               "compare": {"10m": {"contenders": table, "goals": goals(table)}},
               "scaling": {"size": "10m", "points": [[1, 64], [2, 64], [2, 128]], "contenders": {"ours": rows},
                           "growth": {"ours": grown}},
               "levers": {"size": "10m", "contender": "ours-simpo", "variants": {
                   "kept": {**_row(1.0, 900, 0.9), "padding_fraction": 0.05, "step_time_vs_kept": 1.0,
                            "peak_mb_vs_kept": 1.0}}}}
    md = write_report(json.loads(json.dumps(results)), tmp_path)
    assert "| ours-dpo-cache | 4.00 |" in md and (tmp_path / "results.png").stat().st_size > 1000


@pytest.mark.slow
def test_quick_bench_runs_end_to_end(tmp_path):
    """`bench/preference.py --quick`: every contender, the scaling grid and two lever variants on the 0.2m model."""
    subprocess.run([sys.executable, str(REPO / "bench" / "preference.py"), "--quick", "--out", str(tmp_path)],
                   check=True, cwd=REPO, timeout=900)
    results = json.loads((tmp_path / "results.json").read_text())
    table = results["compare"]["0.2m"]["contenders"]
    for name, row in table.items():
        if "first_step_loss_diff" in row:  # equal maths, same first batch, same weights: the same first loss
            assert row["first_step_loss_diff"] < 1e-4, name
    assert (tmp_path / "results.md").exists() and (tmp_path / "results.png").exists()
