"""bench/ at real vocabularies (bench/vocab.py, bench/miniature.py, the RSS cap) and the GPU script (bench/gpu.sh):
the goal arithmetic and reports on hand-made runs (fast), the cap on a real child process, and gpu.sh end to end on
CPU with --device cpu --quick."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import vocab  # noqa: E402
from bench.common import run_worker  # noqa: E402
from bench.worker import synthetic_rows  # noqa: E402


def _run(pairs_per_s: float, peak: float, setup: float = 1000.0, loss: float = 0.69) -> dict:
    point = {"pairs_per_s": pairs_per_s, "median_step_s": 2 / pairs_per_s, "tokens_per_s": 100 * pairs_per_s,
             "first_step_loss": loss}
    return {"points": [point], "peak_mb": peak, "rss_after_setup_mb": setup, "n_params": 5e7}


def _over(rss: float = 16100.0) -> dict:
    return {"over_cap": True, "cap_mb": 16000, "rss_at_stop_mb": rss}


def test_vocab_goals_fit_and_report(tmp_path):
    runs_128k = {"ours-dpo-cache": [_run(3.0, 1500)], "trl-dpo": [_run(1.5, 3000)],  # 2x faster, 500 / 2000 above
                 "ours-simpo": [_run(3.0, 1400, loss=0.95)], "trl-cpo-simpo": [_run(2.8, 9000, loss=0.95)]}
    runs_256k = {"ours-dpo-cache": [_run(2.0, 2000)], "trl-dpo": [_over()],
                 "ours-simpo": [_run(2.0, 1900, loss=0.95)], "trl-cpo-simpo": [_over(), _run(1.0, 15000)]}
    points = {"V=128256 T=1024": {"vocab": 128256, "max_length": 1024, "pairs": 2, "runs": runs_128k},
              "V=256000 T=1024": {"vocab": 256000, "max_length": 1024, "pairs": 2, "runs": runs_256k}}
    fit = {"vocab": 256000, "length": 1024, "pairs": 4, "cap_mb": 4000}
    cfg = {"vocab": {"cap_mb": 16000, "model": {"hidden": 256, "layers": 2}, "pairs": 2, "repeats": 1, "steps": 1,
                     "warmup_steps": 1, "contenders": list(runs_128k), "fit": fit},
           "dtype": "float32", "threads": 1}
    fit_runs = {"ours-dpo-cache": [_run(1.0, 3500)], "ours-simpo": [_run(1.0, 3400)], "trl-dpo": [_over(4100)],
                "trl-cpo-simpo": [_over(4050)]}
    out = vocab.summarise(json.loads(json.dumps(points)), cfg, fit_runs)
    p128 = out["points"]["V=128256 T=1024"]
    goals = {(g["goal"], g["target"]): g for g in p128["goals"]}
    mem = goals[("peak above setup: our DPO with cache / TRL DPOTrainer", "<= 0.25")]
    assert mem["ratio"] == pytest.approx(500 / 2000) and mem["met"]
    assert goals[("pairs/s: our DPO with cache / TRL DPOTrainer", ">= 1.5")]["ratio"] == pytest.approx(2.0)
    simpo = goals[("pairs/s: our SimPO / TRL CPO-SimPO", ">= 1.5")]
    assert simpo["ratio"] == pytest.approx(3.0 / 2.8) and not simpo["met"]
    assert p128["contenders"]["trl-cpo-simpo"]["first_step_loss_diff"] == pytest.approx(0.0)
    # at 256k: TRL over the cap (one round over is enough), ours fit -> the fit goal is met; ratios say why not
    p256 = out["points"]["V=256000 T=1024"]
    assert p256["contenders"]["trl-cpo-simpo"]["over_cap"] and p256["contenders"]["trl-cpo-simpo"]["rss_at_stop_mb"] == 16100
    only = [g for g in p256["goals"] if g["target"] == ">= 1.2"]
    assert only[0]["met"] and only[0]["note"] == "trl-cpo-simpo did not fit"
    assert out["fit"]["met"] and out["fit"]["ours_fit"] == {"ours-dpo-cache": True, "ours-simpo": True}
    fit_runs["trl-dpo"] = [_run(0.5, 3900)]  # one TRL trainer fits: not met
    assert not vocab.summarise(json.loads(json.dumps(points)), cfg, fit_runs)["fit"]["met"]
    md = "\n".join(vocab.markdown({"vocab": out, "config": cfg}))
    assert "| trl-dpo | did not fit |" in md and "| ours-dpo-cache | 3.00 |" in md
    assert "V=256000 T=1024, 4 pairs: a batch TRL cannot fit under 4,000 MB RSS runs with ours: **met**" in md


def test_rss_cap_stops_a_child_and_reports_it(tmp_path):
    """bench/worker.py watch_rss: a process that passes its cap reports over_cap as its result and exits."""
    script = tmp_path / "grow.py"
    script.write_text(f"import sys, json, time\nsys.path.insert(0, {str(REPO)!r})\n"
                      "from bench.common import current_rss_mb\nfrom bench.worker import watch_rss\n"
                      "watch_rss(current_rss_mb() + 150, {'contender': 'grow'})\n"
                      "blocks = []\nfor _ in range(40):\n    b = bytearray(20 * 2**20); b[::4096] = b'x' * len(b[::4096])\n"
                      "    blocks.append(b); time.sleep(0.05)\nprint(json.dumps({'finished': True}))\n")
    result = run_worker(script, [])
    assert result.get("over_cap") and not result.get("finished")
    assert result["rss_at_stop_mb"] > result["cap_mb"] and result["contender"] == "grow"


def test_synthetic_rows_fill_the_length():
    rows = synthetic_rows(5, 100, 0.5, 300, seed=0)
    assert rows == synthetic_rows(5, 100, 0.5, 300, seed=0) and len(rows) == 5
    for r in rows:
        assert len(r["prompt_ids"]) == 50 and len(r["chosen_ids"]) == 50 and 37 <= len(r["rejected_ids"]) <= 50
        assert all(8 <= t < 300 for t in r["prompt_ids"] + r["chosen_ids"] + r["rejected_ids"])


def test_miniature_name_is_stable():
    from bench.miniature import name

    dims = {"hidden": 256, "layers": 2, "heads": 4, "intermediate": 1024}
    assert name(dims, 128256) == "mini-h256-l2-h4-i1024-tied-v128256-float32"


@pytest.mark.slow
def test_gpu_script_runs_on_cpu_quick(tmp_path):
    """bench/gpu.sh --device cpu --quick: every contender either runs (same first loss as its equal-maths
    counterpart) or is skipped with a reason (Liger: GPU only); JSON and markdown are written."""
    out = tmp_path / "gpu"
    p = subprocess.run([str(REPO / "bench" / "gpu.sh"), "--out", str(out), "--device", "cpu", "--quick",
                        "--workdir", str(tmp_path / "work")], capture_output=True, text=True, timeout=600, cwd=REPO)
    assert p.returncode == 0, p.stderr[-3000:]
    results = json.loads((out / "gpu_results.json").read_text())
    table = results["contenders"]
    assert {c for c, r in table.items() if r["status"] == "ok"} >= {"ours-simpo", "ours-simpo+full",
                                                                    "ours-dpo-cache", "trl-dpo", "trl-cpo-simpo"}
    assert table["trl-dpo+liger"]["status"] == "skipped" and table["trl-dpo+liger"]["reason"]
    loss = {c: r["first_step_loss"] for c, r in table.items() if r["status"] == "ok"}
    assert loss["ours-simpo"] == pytest.approx(loss["trl-cpo-simpo"], abs=1e-4)
    assert loss["ours-simpo"] == pytest.approx(loss["ours-simpo+full"], abs=1e-5)
    assert loss["ours-dpo-cache"] == pytest.approx(loss["trl-dpo"], abs=1e-4)
    assert "| ours-simpo | ok |" in (out / "gpu_results.md").read_text()
