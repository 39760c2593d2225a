"""`make verify` (prefopt.reproduce.verify) on synthetic results/reproduced/ folders, and on the repository itself."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from prefopt.core.errors import InputError
from prefopt.reproduce.cells import load_registry
from prefopt.reproduce.results import load_reproduced
from prefopt.reproduce.verify import OUTSIDE, WITHIN, compare, run

REPO = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def _write(root: Path, run_name: str, benchmark: str, metrics: dict, cell: str | None = "", **manifest) -> Path:
    path = root / run_name / f"{benchmark}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"benchmark": benchmark, "metrics": metrics, "manifest": manifest}
    if cell != "":
        data["cell"] = cell
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def synthetic(tmp_path):
    """One cell within tolerance, one outside; gemma2-it-simpo (and every other cell) missing."""
    root = tmp_path / "reproduced"
    # README 44.7 / 40.5; the leaderboard's standard errors 0.88 / 1.42 are the tolerances.
    _write(root, "llama3-instruct-simpo", "alpacaeval2", {"lc_win_rate": 44.2, "win_rate": 39.4},
           cell="llama3-instruct-simpo", model="outputs/llama3-instruct/simpo")
    # README 21.4: 3.4 points below, no reported SE, default tolerance 1.0. No "cell" key: the folder names it.
    _write(root, "mistral-base-simpo", "alpacaeval2", {"lc_win_rate": 18.0, "win_rate": 20.5},
           model="outputs/mistral-base/simpo")
    (root / "demo").mkdir()
    (root / "demo" / "metrics_seed0.json").write_text("{}")       # not a benchmark file: ignored
    return root


def test_synthetic_within_outside_missing(synthetic, tmp_path, registry):
    report, png = tmp_path / "out" / "report.md", tmp_path / "out" / "report.png"
    code, text = run(synthetic, report, png, registry=registry)
    assert code == 1
    assert "4 numbers compared: 3 within tolerance, 1 outside" in text
    n = len(registry.cells)
    assert f"2 of {n} cells have reproduced results, {n - 2} not reproduced yet" in text
    assert "gemma2-it-simpo" in text.split("Not reproduced yet")[1]            # missing: listed, not skipped
    assert "Not paper cells (ignored): demo (no benchmark results)" in text
    assert "exit 1: 1 numbers outside tolerance" in text

    md = report.read_text()
    assert md.startswith("# Reproduced vs reported")
    assert "![reproduced vs reported](report.png)" in md
    assert ("| llama3-instruct-simpo | llama3-instruct-simpo | alpacaeval2 | lc_win_rate | 44.7 (simpo/readme-v0.1) "
            "| primary | 44.2 | -0.50 | 0.88 (SE simpo/alpaca-eval-leaderboard) | within | 44.7 amapo/main; "
            "44.65 simpo/alpaca-eval-leaderboard |") in md
    assert "| mistral-base-simpo | mistral-base-simpo | alpacaeval2 | lc_win_rate | 21.4 (simpo/readme-v0.1) | primary " \
           "| 18 | -3.40 | 1 (default) | OUTSIDE |" in md
    assert "No compared number rests on a secondary source." in md
    assert "| gemma2-it-simpo | config ready | alpacaeval2, arena-hard, gsm8k, mmlu |" in md
    assert "| llama3-instruct-simpo | arena-hard, mt-bench |" in md             # reproduced, not every benchmark
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 10_000


def test_exit_codes(synthetic, tmp_path, registry):
    (synthetic / "mistral-base-simpo" / "alpacaeval2.json").unlink()
    code, text = run(synthetic, None, None, registry=registry)
    assert code == 0 and "exit 0: no number outside tolerance (2 compared)" in text
    code, text = run(synthetic, None, None, strict=True, registry=registry)
    assert code == 1 and "--strict" in text
    code, text = run(tmp_path / "absent", None, None, registry=registry)
    assert code == 0 and "0 numbers compared" in text


def test_tolerance_sources(tmp_path, registry):
    root = tmp_path / "r"
    # No reported SE for Arena-Hard: the run's own SE comes before the default.
    _write(root, "mistral-base-simpo", "arena-hard", {"win_rate": 14.0, "win_rate_se": 3.0})
    # A length: 10% of the reported 1833.
    _write(root, "gemma-run", "alpacaeval2", {"length": 2100, "lc_win_rate": 60.0}, cell="gemma2-it-simpo",
           model="princeton-nlp/gemma-2-9b-it-SimPO")
    # A metric no paper reports for the cell, and an LMPO number nobody transcribed yet.
    _write(root, "llama3-base-lmpo", "alpacaeval2", {"lc_win_rate": 25.0, "discrete_win_rate": 20.0})
    v = compare(registry, load_reproduced(root, set(registry.cells)))
    by = {(c.cell.id, c.metric): c for c in v.comparisons}
    c = by[("mistral-base-simpo", "win_rate")]
    assert (c.tolerance, c.tolerance_source, c.status) == (3.0, "SE of the run", WITHIN)
    c = by[("gemma2-it-simpo", "length")]
    assert c.tolerance == pytest.approx(183.3) and c.status == OUTSIDE and "(released checkpoint)" in c.run_label
    assert by[("gemma2-it-simpo", "lc_win_rate")].status == OUTSIDE            # 72.4 +- 0.52
    assert by[("gemma2-it-simpo", "win_rate")].status == "missing in the run"
    assert by[("llama3-base-lmpo", "lc_win_rate")].status == "not transcribed yet"
    assert by[("llama3-base-lmpo", "discrete_win_rate")].status == "not reported"
    assert len(v.compared) == 3


@pytest.mark.parametrize("write, message", [
    (lambda p: p.write_text("{not json"), "not a readable JSON file"),
    (lambda p: p.write_text(json.dumps({"cell": "llama3-instruct-simpo", "metrics": {}})), '"manifest"'),
    (lambda p: p.write_text(json.dumps({"cell": "llama3-instruct-simpoo", "metrics": {}, "manifest": {}})),
     "unknown cell 'llama3-instruct-simpoo'"),
    (lambda p: p.write_text(json.dumps({"cell": None, "metrics": {"win_rate": 145}, "manifest": {}})),
     "out of range"),                                   # win rates are in %, at most 100
    (lambda p: p.write_text(json.dumps({"benchmark": "arena-hard", "metrics": {}, "manifest": {}})),
     "does not match the file name"),
])
def test_malformed_results_name_the_file(tmp_path, registry, write, message):
    path = tmp_path / "r" / "some-run" / "alpacaeval2.json"
    path.parent.mkdir(parents=True)
    write(path)
    with pytest.raises(InputError, match="alpacaeval2.json") as e:
        run(tmp_path / "r", None, None, registry=registry)
    assert message in str(e.value)


def test_cli_exit_code_2_on_malformed(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "mt-bench.json").write_text("[]")
    out = subprocess.run([str(REPO / ".venv/bin/python"), "-m", "prefopt.reproduce.verify", "--reproduced", str(tmp_path),
                          "--report", str(tmp_path / "r.md"), "--plot", str(tmp_path / "r.png")],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "mt-bench.json" in out.stderr


def test_verify_on_the_repository(tmp_path, registry):
    """The real results/reproduced/: demo and mini are not cells; nothing reproduced yet is exit 0, listed."""
    code, text = run(REPO / "results" / "reproduced", tmp_path / "report.md", tmp_path / "report.png",
                     registry=registry)
    assert code == 0
    missing = text.split("Not reproduced yet")[1]
    not_done = [cid for cid in registry.cells if cid not in text.split("Not reproduced yet")[0]]
    assert all(cid in missing for cid in not_done)
    assert "demo" in text.split("Not paper cells (ignored):")[1]
    assert (tmp_path / "report.png").read_bytes()[:8] == PNG_MAGIC


def test_source_class_and_the_rows_own_tolerance(tmp_path, registry):
    """Issue 17: each comparison shows whether its reference is primary or SECONDARY; a reported row's own
    tolerance (an LMPO bar read from a figure) beats the benchmark default; APO's ECE tolerance can fail."""
    root = tmp_path / "r"
    # AMaPO's numbers come from a third-party note: Llama3-Base AMaPO LC 26.4 (amapo/main, secondary).
    _write(root, "llama3-base-amapo", "alpacaeval2", {"lc_win_rate": 26.0})
    # LMPO Mistral-Instruct Arena-Hard 23.4 read from lmpo.png: tolerance 2.5 (default 2.0 + 0.5 reading).
    _write(root, "mistral-instruct-lmpo", "arena-hard", {"win_rate": 21.2})
    _write(root, "llama3-instruct-lmpo", "arena-hard", {"win_rate": 31.6})
    # APO base RM: HH-Test ECE 0.019 (a fraction, secondary), tolerance 0.01.
    _write(root, "hh-base-rm", "hh-test", {"accuracy": 63.5, "ece": 0.027})
    _write(root, "hh-apo-rm", "hh-test", {"accuracy": 66.0, "ece": 0.047})
    code, text = run(root, tmp_path / "report.md", None, registry=registry)
    v = compare(registry, load_reproduced(root, set(registry.cells)))
    by = {(c.cell.id, c.metric): c for c in v.compared}

    c = by[("llama3-base-amapo", "lc_win_rate")]
    assert c.reference.table == "main" and c.reference.source_class == "secondary" and c.status == WITHIN
    c = by[("mistral-instruct-lmpo", "win_rate")]
    assert (c.tolerance, c.status) == (2.5, WITHIN)                     # -2.2: inside 2.5 (outside the default 2.0)
    assert c.tolerance_source.startswith("lmpo/main: arena-hard default 2.0 + 0.5 figure reading")
    assert by[("llama3-instruct-lmpo", "win_rate")].status == OUTSIDE    # -2.6: outside 2.5
    assert by[("hh-base-rm", "ece")].status == WITHIN                   # +0.008 <= 0.01
    c = by[("hh-apo-rm", "ece")]
    assert (c.tolerance, c.status) == (0.01, OUTSIDE)                   # +0.014: the ECE tolerance can fail
    assert code == 1

    md = (tmp_path / "report.md").read_text()
    assert "| hh-apo-rm | hh-apo-rm | hh-test | ece | 0.033 (apo/rm-eval) | SECONDARY " \
           "(secondary:issue-17-note-on-acl2024) | 0.047 | +0.014 | 0.01 (default) | OUTSIDE |" in md
    assert "| mistral-instruct-lmpo | mistral-instruct-lmpo | arena-hard | win_rate | 23.4 (lmpo/main) | primary |" in md
    assert ("5 of the 7 compared numbers rest on a SECONDARY source (not the authors' paper, README or repository): "
            "llama3-base-amapo alpacaeval2/lc_win_rate, hh-base-rm hh-test/accuracy") in md
    assert "rest on a SECONDARY source" in text
