"""results/reported/*.csv: format, ranges, and agreement with the source files in ../shared/data/."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import pytest

from prefopt.core.errors import InputError
from prefopt.reproduce.results import (
    COLUMNS,
    METRIC_RANGES,
    NOT_YET_TRANSCRIBED,
    REPORTED_DIR,
    load_reported,
)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("PREFOPT_SHARED_DATA", REPO.parent / "shared" / "data"))
README_CSV = SHARED_DATA / "simpo_repo_assets" / "readme_results_tables.csv"
LEADERBOARD_CSV = SHARED_DATA / "alpaca_eval" / "leaderboards" / "weighted_alpaca_eval_gpt4_turbo_leaderboard.csv"

README_SOURCE = "simpo-readme@1b3e8f3"
LEADERBOARD_SOURCE = "alpaca-eval-leaderboard@cd543a1"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared source data not found: {path} (set PREFOPT_SHARED_DATA to the shared/data directory)")
    return path


@pytest.fixture(scope="module")
def rows():
    return load_reported()


@pytest.fixture(scope="module")
def by_key(rows):
    return {r.key: r for r in rows}


# ----------------------------------------------------------------------------------------------- format


def test_every_file_has_exact_columns():
    files = sorted(REPORTED_DIR.glob("*.csv"))
    assert {f.name for f in files} >= {"simpo.csv", "sams.csv", "amapo.csv", "lmpo.csv", "apo.csv"}
    for f in files:
        with open(f, newline="") as fh:
            assert tuple(next(csv.reader(fh))) == COLUMNS, f


def test_sources_values_and_ranges(rows):
    assert rows
    for r in rows:
        assert r.source, r.where
        if r.value is None:
            assert r.source == NOT_YET_TRANSCRIBED, r.where
            continue
        assert r.source != NOT_YET_TRANSCRIBED, r.where
        lo, hi = METRIC_RANGES[r.metric]
        if r.metric in ("lc_win_rate", "win_rate"):
            assert 0 <= r.value <= 100, r.where
        if r.benchmark == "mt-bench":
            assert r.metric.startswith("score") and 0 <= r.value <= 10, r.where
        if r.metric == "length":
            assert r.value > 0, r.where
        if "accuracy" in r.metric:
            assert 0 <= r.value <= 100, r.where  # documented: accuracies are percentages
        assert (lo is None or r.value >= lo) and (hi is None or r.value <= hi), r.where


def test_keys_unique(rows):
    keys = [r.key for r in rows]
    assert len(keys) == len(set(keys))


def test_values_kept_as_printed():
    """No re-rounding: the raw text of every value is a plain decimal (e.g. 88.0 keeps its trailing zero)."""
    for f in sorted(REPORTED_DIR.glob("*.csv")):
        with open(f, newline="") as fh:
            for rec in csv.DictReader(fh):
                if rec["value"]:
                    assert re.fullmatch(r"-?\d+(\.\d+)?", rec["value"]), (f.name, rec)


def test_vocabulary_documented(rows):
    doc = (REPORTED_DIR / "README.md").read_text()
    documented = set(re.findall(r"`([^`]+)`", doc))
    for r in rows:
        for col in ("paper", "table", "setting", "method", "benchmark", "metric", "source"):
            assert getattr(r, col) in documented, f"{col} {getattr(r, col)!r} ({r.where}) missing from README.md"


def test_paper_specific_provenance(rows):
    by_paper = {}
    for r in rows:
        by_paper.setdefault(r.paper, []).append(r)
    assert set(by_paper) == {"simpo", "lmpo", "amapo", "sams", "apo"}
    assert all(r.source.startswith("secondary") for r in by_paper["amapo"])
    assert all(r.value is not None for r in by_paper["sams"])
    # LMPO: only the two Arena-Hard bars of the repository's figure, with their reading error in the tolerance.
    lmpo = {(r.setting, r.benchmark): r for r in by_paper["lmpo"] if r.value is not None}
    assert {k: (r.value, r.tolerance) for k, r in lmpo.items()} == {
        ("mistral-instruct", "arena-hard"): (23.4, 2.5), ("llama3-instruct", "arena-hard"): (34.2, 2.5)}
    assert all(r.source.startswith("read-from-figure:") and r.source_class == "primary" and "0.5" in r.tolerance_source
               for r in lmpo.values())
    # APO: HH-Test accuracy (%) and ECE (a fraction, as printed) of both RMs, from a secondary note.
    apo = {(r.method, r.metric): r.value for r in by_paper["apo"] if r.value is not None}
    assert apo == {("rm-base", "accuracy"): 63.04, ("rm-base", "ece"): 0.019, ("rm-apo", "accuracy"): 66.73,
                   ("rm-apo", "ece"): 0.033}
    assert all(r.source_class == "secondary" for r in by_paper["apo"] if r.value is not None)
    empty = [r for r in by_paper["lmpo"] + by_paper["apo"] if r.value is None]
    assert all(r.source == NOT_YET_TRANSCRIBED for r in empty) and len(empty) == 10 + 7


def test_sams_table3_and_ablation(by_key):
    """SamS Table 3, first Llama-3-Instruct setting, and the Pythia HH ablation (research notes B.8)."""
    for method, values in {"selective-dpo": (41.7, 40.9, 7.0), "selective-dpo-sams": (46.5, 44.0, 7.2)}.items():
        got = tuple(by_key[("sams", "table3", "llama3-instruct", method, bench, metric)].value
                    for bench, metric in [("alpacaeval2", "lc_win_rate"), ("alpacaeval2", "win_rate"),
                                          ("mt-bench", "score_gpt4_turbo")])
        assert got == values, method
    ablation = {m: by_key[("sams", "ablation", "pythia-2.8b-hh", m, "hh", "accuracy")] for m in
                ("dpo-sams-select25", "dpo-sams", "dpo-sams-select75", "dpo-sams-select100", "dpo-sams-no-explore")}
    assert [r.value for r in ablation.values()] == [63, 67, 68, 64, 65]
    assert all(r.tolerance == 1.5 for r in ablation.values())   # whole percents: default 1.0 + 0.5


def test_amapo_ablation_mt_bench_is_judged_by_gpt4_turbo(rows):
    """AMaPO's eval README: MT-Bench is the GPT-4 Turbo score (average of two runs)."""
    mt = [r for r in rows if r.paper == "amapo" and r.benchmark == "mt-bench"]
    assert len(mt) == 8 and {r.metric for r in mt} == {"score_gpt4_turbo"}


@pytest.mark.parametrize("tolerance, why, value, message", [
    ("2.5", "", "23.4", "without tolerance_source"),
    ("", "figure reading", "23.4", "given without a tolerance"),
    ("abc", "figure reading", "23.4", "is not a number"),
    ("-1", "figure reading", "23.4", "must be a positive number"),
    ("2.5", "figure reading", "", "not transcribed"),
])
def test_bad_tolerance_columns_name_the_line(tmp_path, tolerance, why, value, message):
    source = "read-from-figure:x" if value else NOT_YET_TRANSCRIBED
    (tmp_path / "x.csv").write_text(",".join(COLUMNS) + "\n"
                                    f"lmpo,main,llama3-instruct,lmpo,arena-hard,win_rate,{value},{source},{tolerance},{why}\n")
    with pytest.raises(InputError, match=message) as e:
        load_reported(tmp_path)
    assert "x.csv:2" in str(e.value)


def test_ece_is_stored_as_the_fraction_apo_prints(tmp_path):
    """ECE 1.9 (a percentage) is out of range: the unit is APO's fraction."""
    (tmp_path / "x.csv").write_text(",".join(COLUMNS) + "\n"
                                    "apo,rm-eval,llama-7b-hh-rm,rm-base,hh-test,ece,1.9,secondary:x,,\n")
    with pytest.raises(InputError, match="out of range"):
        load_reported(tmp_path)


def test_sams_table1_shape(by_key):
    settings = ["mistral-instruct", "llama3-instruct", "llama3-instruct-v0.2"]
    for m in ["sft", "ipo", "kto", "r-dpo", "dpo", "dpo-random-half", "dpo-sams", "rrhf", "slic-hf", "cpo", "orpo"]:
        for s in settings:
            for bench, metric in [("alpacaeval2", "lc_win_rate"), ("alpacaeval2", "win_rate"),
                                  ("mt-bench", "score_gpt4_turbo")]:
                assert ("sams", "table1", s, m, bench, metric) in by_key
        has_gemma = m not in ("rrhf", "slic-hf")
        assert (("sams", "table1", "gemma2-it", m, "alpacaeval2", "lc_win_rate") in by_key) == has_gemma
    assert by_key[("sams", "table1", "llama3-instruct", "dpo-sams", "alpacaeval2", "lc_win_rate")].value == 42.2
    assert by_key[("sams", "table1", "mistral-instruct", "dpo-random-half", "alpacaeval2", "lc_win_rate")].value == 25.2
    for data in ("hh", "shp"):
        for m in ("dpo", "dpo-sams", "kto", "kto-sams"):
            assert ("sams", "table2", f"pythia-2.8b-{data}", m, data, "accuracy") in by_key


# ------------------------------------------------------------------------------- SimPO README vs ours

_SETTINGS = {"Mistral Base 7B": "mistral-base", "Mistral Instruct 7B": "mistral-instruct",
             "Llama3 Base 8B": "llama3-base", "Llama3 Instruct 8B": "llama3-instruct",
             "Llama 3 Instruct 8B": "llama3-instruct-v0.2"}
_METHODS = {"SFT": "sft", "RRHF": "rrhf", "SLiC-HF": "slic-hf", "DPO": "dpo", "DPO (Zephyr)": "dpo", "IPO": "ipo",
            "CPO": "cpo", "KTO": "kto", "ORPO": "orpo", "R-DPO": "r-dpo", "SimPO": "simpo"}
_GEMMA = {"google/gemma-2-9b-it": "sft", "princeton-nlp/gemma-2-9b-it-DPO": "dpo",
          "princeton-nlp/gemma-2-9b-it-SimPO": "simpo"}
_TABLES = {"v0.1": "readme-v0.1", "v0.2": "readme-v0.2", "Gemma": "readme-gemma"}
_COLS = {"AE2_LC": ("alpacaeval2", "lc_win_rate"), "AE2_WR": ("alpacaeval2", "win_rate"),
         "AE2_length": ("alpacaeval2", "length"), "ArenaHard_WR": ("arena-hard", "win_rate"),
         "AH_length": ("arena-hard", "length"), "GSM": ("gsm8k", "accuracy"), "GSM_length": ("gsm8k", "length"),
         "MMLU": ("mmlu", "accuracy"), "MMLU_length": ("mmlu", "length")}


def _readme_cells() -> dict[tuple, str]:
    """readme_results_tables.csv as {our key: value text}."""
    out = {}
    with open(_need(README_CSV), newline="") as fh:
        recs = list(csv.DictReader(fh))
    assert len(recs) == 52
    for rec in recs:
        if rec["readme_section"] == "Gemma":
            setting, method = "gemma2-it", _GEMMA[rec["model_label"]]
        else:
            label = rec["model_label"].removesuffix(" v0.2")
            prefix = next(p for p in _SETTINGS if label.startswith(p + " "))
            setting, method = _SETTINGS[prefix], _METHODS[label[len(prefix) + 1:]]
        for col, (bench, metric) in _COLS.items():
            if rec[col]:
                key = ("simpo", _TABLES[rec["readme_section"]], setting, method, bench, metric)
                assert key not in out, key
                out[key] = rec[col]
    return out


def _raw_values() -> dict[tuple, tuple[str, str]]:
    out = {}
    for f in sorted(REPORTED_DIR.glob("*.csv")):
        with open(f, newline="") as fh:
            for rec in csv.DictReader(fh):
                out[tuple(rec[c] for c in COLUMNS[:6])] = (rec["value"], rec["source"])
    return out


def test_simpo_readme_rows_match_source():
    src = _readme_cells()
    ours = {k: v for k, v in _raw_values().items() if v[1] == README_SOURCE}
    missing = sorted(set(src) - set(ours))
    extra = sorted(set(ours) - set(src))
    assert not missing, f"README numbers missing from simpo.csv: {missing}"
    assert not extra, f"rows claiming {README_SOURCE} that the README does not have: {extra}"
    for k, text in src.items():
        assert ours[k][0] == text, (k, ours[k][0], text)  # same text, hence same number and same precision
    assert len(src) == 174


# --------------------------------------------------------------------- AlpacaEval leaderboard vs ours

_LB_MODELS = {"gemma-2-9b-it-SimPO": ("gemma2-it", "simpo"), "gemma-2-9b-it-DPO": ("gemma2-it", "dpo"),
              "Llama-3-Instruct-8B-SimPO": ("llama3-instruct", "simpo"),
              "Meta-Llama-3-8B-Instruct": ("llama3-instruct", "sft"),
              "Mistral-7B-Instruct-v0.2": ("mistral-instruct", "sft"),
              "mistral-orpo-beta": ("mistral-base", "orpo")}
_LB_COLS = {"length_controlled_winrate": "lc_win_rate", "lc_standard_error": "lc_win_rate_se",
            "win_rate": "win_rate", "standard_error": "win_rate_se", "avg_length": "length"}
# README number vs official leaderboard number that differ by more than README rounding (documented in README.md).
_KNOWN_README_VS_LEADERBOARD = {("gemma2-it", "dpo", "lc_win_rate"), ("llama3-instruct", "sft", "lc_win_rate"),
                                ("llama3-instruct", "sft", "win_rate"), ("mistral-base", "orpo", "win_rate")}


@pytest.fixture(scope="module")
def leaderboard():
    with open(_need(LEADERBOARD_CSV), newline="") as fh:
        return {rec[""]: rec for rec in csv.DictReader(fh)}


def test_leaderboard_rows_match_source(rows, leaderboard):
    ours = {(r.setting, r.method, r.metric): r for r in rows
            if r.source == LEADERBOARD_SOURCE}
    assert all(r.paper == "simpo" and r.table == "alpaca-eval-leaderboard" and r.benchmark == "alpacaeval2"
               for r in ours.values())
    expected = {}
    for model, (setting, method) in _LB_MODELS.items():
        rec = leaderboard[model]
        for col, metric in _LB_COLS.items():
            if rec[col]:
                expected[(setting, method, metric)] = float(rec[col])
    assert set(ours) == set(expected)
    for k, v in expected.items():
        assert ours[k].value == v, (k, ours[k].value, v)
    # spot checks of the headline numbers
    assert round(ours[("gemma2-it", "simpo", "lc_win_rate")].value, 2) == 72.35
    assert round(ours[("llama3-instruct", "simpo", "lc_win_rate")].value, 2) == 44.65


def test_every_princeton_nlp_leaderboard_model_is_transcribed(rows):
    """The website leaderboard links each model to its checkpoint: every princeton-nlp one has its rows here,
    with the same LC and raw win rates as the repository CSV."""
    website = LEADERBOARD_CSV.with_name("website_" + LEADERBOARD_CSV.name)
    with open(_need(website), newline="") as fh:
        recs = {rec["name"]: rec for rec in csv.DictReader(fh) if "huggingface.co/princeton-nlp/" in rec["link"]}
    assert set(recs) == {"gemma-2-9b-it-SimPO", "gemma-2-9b-it-DPO", "Llama-3-Instruct-8B-SimPO"}
    ours = {(r.setting, r.method, r.metric): r.value for r in rows if r.source == LEADERBOARD_SOURCE}
    for name, rec in recs.items():
        setting, method = _LB_MODELS[name]
        assert ours[(setting, method, "lc_win_rate")] == float(rec["length_controlled_winrate"]), name
        assert ours[(setting, method, "win_rate")] == float(rec["win_rate"]), name


def test_readme_vs_leaderboard_discrepancies_are_the_documented_ones(by_key, rows):
    tables = {"gemma2-it": "readme-gemma"}
    found = set()
    for r in rows:
        if r.source != LEADERBOARD_SOURCE or r.metric.endswith("_se"):
            continue
        key = ("simpo", tables.get(r.setting, "readme-v0.1"), r.setting, r.method, r.benchmark, r.metric)
        readme = by_key.get(key)
        if readme is None:
            continue
        ndigits = 0 if r.metric == "length" else 1
        if round(r.value, ndigits) != readme.value:
            found.add((r.setting, r.method, r.metric))
    assert found == _KNOWN_README_VS_LEADERBOARD


# -------------------------------------------------------------------------- cross-paper consistency

def test_sams_baselines_match_simpo_readme_except_known(rows, by_key):
    """SamS Table 1 reuses SimPO's instruct-setting baselines; the one known difference is Llama3-Instruct CPO."""
    table = {"mistral-instruct": "readme-v0.1", "llama3-instruct": "readme-v0.1", "llama3-instruct-v0.2": "readme-v0.2"}
    diffs, compared = set(), 0
    for r in rows:
        if r.paper != "sams" or r.setting not in table or r.benchmark != "alpacaeval2":
            continue
        other = by_key.get(("simpo", table[r.setting], r.setting, r.method, r.benchmark, r.metric))
        if other is None:
            continue
        compared += 1
        if other.value != r.value:
            diffs.add((r.setting, r.method))
    assert compared >= 48
    assert diffs == {("llama3-instruct", "cpo")}
    paper = by_key[("simpo", "table4", "llama3-instruct", "cpo", "alpacaeval2", "lc_win_rate")]
    assert paper.value == by_key[("sams", "table1", "llama3-instruct", "cpo", "alpacaeval2", "lc_win_rate")].value


# ----------------------------------------------------------------------------------- loader errors

HEADER = ",".join(COLUMNS) + "\n"
GOOD = "simpo,readme-v0.1,llama3-instruct,simpo,alpacaeval2,lc_win_rate,44.7,simpo-readme@1b3e8f3,,\n"


def _write(tmp_path, body, name="x.csv", header=HEADER):
    (tmp_path / name).write_text(header + body)
    return tmp_path


def test_loader_reads_good_file(tmp_path):
    [row] = load_reported(_write(tmp_path, GOOD))
    assert row.value == 44.7 and row.cell == "llama3-instruct-simpo" and not row.secondary
    assert row.where.endswith("x.csv:2")


@pytest.mark.parametrize("body, message", [
    (GOOD.replace("44.7", "abc"), "not a number"),
    (GOOD.replace("44.7", "144.7"), "out of range"),
    (GOOD.replace("44.7", ""), "empty value"),
    (GOOD.replace("simpo-readme@1b3e8f3", NOT_YET_TRANSCRIBED), "given with source"),
    (GOOD.replace("simpo-readme@1b3e8f3", ""), "'source' is empty"),
    (GOOD.replace("lc_win_rate", "lc_winrate"), "unknown metric"),
    (GOOD.replace("alpacaeval2", "alpaca_eval"), "unknown benchmark"),
    (GOOD.replace("llama3-instruct", "Llama3-Instruct"), "lower-case id"),
    (GOOD.replace(",44.7,", ",44.7,extra,"), "11 fields"),
    (GOOD.replace("lc_win_rate,44.7", "length,0"), "out of range > 0"),
    (GOOD.replace("alpacaeval2,lc_win_rate,44.7", "mt-bench,score_gpt4,10.5"), "out of range"),
])
def test_loader_errors_name_file_and_line(tmp_path, body, message):
    _write(tmp_path, GOOD + body)
    with pytest.raises(InputError) as e:
        load_reported(tmp_path)
    assert message in str(e.value)
    assert f"{tmp_path / 'x.csv'}:3" in str(e.value)


def test_loader_bad_header(tmp_path):
    _write(tmp_path, GOOD, header=HEADER.replace("value", "val"))
    with pytest.raises(InputError, match=r"x\.csv:1"):
        load_reported(tmp_path)


def test_loader_duplicate_across_files(tmp_path):
    _write(tmp_path, GOOD, name="a.csv")
    _write(tmp_path, GOOD.replace("44.7", "44.65"), name="b.csv")
    with pytest.raises(InputError, match=r"b\.csv:2: duplicate row .*first at .*a\.csv:2"):
        load_reported(tmp_path)


def test_loader_missing_dir(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_reported(tmp_path / "nope")
