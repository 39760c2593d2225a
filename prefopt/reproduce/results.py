"""The numbers of the paper-table registry: reported (results/reported/*.csv) and reproduced (results/reproduced/).

Each reported CSV row is one number a paper (or its repository, or a leaderboard) reports, with the columns
`paper, table, setting, method, benchmark, metric, value, source, tolerance, tolerance_source` (see
results/reported/README.md for the vocabulary). A source starting with `secondary` marks a number that does not come
from the authors' paper, README or repository; `tolerance` (optional, with `tolerance_source` saying why) is the
number's own comparison tolerance, e.g. for a value read from a figure. `load_reported()` reads and validates every CSV of the directory; any bad row raises `InputError`
naming the file and line.

A reproduced result is one JSON file per model and benchmark, `results/reproduced/<run>/<benchmark>.json`, where
`<run>` is the cell id for a cell's own model, or any other name (e.g. a released checkpoint's id with `/` as
`--`):

    {"cell": "llama3-instruct-simpo",            # registry cell id (results/cells.yaml); null: not a paper cell
     "benchmark": "alpacaeval2",                 # = the file name; a benchmark id of results/reported/README.md
     "metrics": {"lc_win_rate": 44.1, "lc_win_rate_se": 0.9, "win_rate": 40.2, "length": 1811},
     "manifest": {"model": "outputs/llama3-instruct/simpo", ...}}   # what produced it (prefopt.core.manifest)

Metric ids and units are those of the reported rows (win rates in %, accuracies in %); `<metric>_se` is the
run's standard error of `<metric>`. Without a "cell" key the folder name is taken as the cell id when it is one.
`load_reproduced()` reads every such file; other JSON files (e.g. the demo's metrics_seed0.json) are not results.
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from prefopt.core.errors import InputError
from prefopt.core.paths import REPO_ROOT

REPORTED_DIR = REPO_ROOT / "results" / "reported"

COLUMNS = ("paper", "table", "setting", "method", "benchmark", "metric", "value", "source", "tolerance",
           "tolerance_source")
OPTIONAL_COLUMNS = frozenset({"value", "tolerance", "tolerance_source"})  # may be empty (value: see the parser)
KEY_COLUMNS = COLUMNS[:6]
NOT_YET_TRANSCRIBED = "not-yet-transcribed"

PAPERS = frozenset({"simpo", "lmpo", "amapo", "sams", "apo"})
BENCHMARKS = frozenset({
    "alpacaeval2", "arena-hard", "mt-bench", "gsm8k", "mmlu",          # generation benchmarks
    "hh", "shp", "hh-test", "hh-llm-valid",                             # preference test sets
    "rm-bench", "rm-robustness", "open-llm-leaderboard",
})
# metric -> inclusive (low, high) range of a valid value; None = unbounded on that side.
METRIC_RANGES: dict[str, tuple[float | None, float | None]] = {
    "lc_win_rate": (0.0, 100.0),
    "win_rate": (0.0, 100.0),
    "lc_win_rate_se": (0.0, 100.0),
    "win_rate_se": (0.0, 100.0),
    "score": (0.0, 10.0),                 # MT-Bench, judge not stated by the source
    "score_gpt4_turbo": (0.0, 10.0),      # MT-Bench judged by GPT-4 Turbo
    "score_gpt4": (0.0, 10.0),            # MT-Bench judged by GPT-4
    "length": (0.0, None),                # average output length (> 0), unit as the source prints it
    "accuracy": (0.0, 100.0),             # all accuracies are percentages
    "accuracy_avg": (0.0, 100.0),
    "accuracy_hard": (0.0, 100.0),
    "response_ood_accuracy": (0.0, 100.0),
    "mutual_ood_accuracy": (0.0, 100.0),
    "ece": (0.0, 1.0),                    # expected calibration error as APO prints it: a fraction
    "avg_rank": (1.0, None),
    "avg_score": (None, None),            # mean reward-model logit
}
# Lengths must be strictly positive; every other bound is inclusive.
_STRICTLY_POSITIVE = frozenset({"length"})
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


@dataclass(frozen=True)
class ReportedRow:
    """One reported number. `value` is None only for `source == "not-yet-transcribed"`.

    `tolerance` (None: `make verify`'s rules apply) is this number's own comparison tolerance, `tolerance_source` why.
    `where` ("file:line") is for messages only; it takes no part in equality.
    """

    paper: str
    table: str
    setting: str
    method: str
    benchmark: str
    metric: str
    value: float | None
    source: str
    tolerance: float | None = None
    tolerance_source: str = ""
    where: str = field(default="", compare=False, repr=False)

    @property
    def key(self) -> tuple[str, str, str, str, str, str]:
        """(paper, table, setting, method, benchmark, metric): unique over all reported rows."""
        return (self.paper, self.table, self.setting, self.method, self.benchmark, self.metric)

    @property
    def cell(self) -> str:
        """The default cell id `<setting>-<method>`; results/cells.yaml may name a cell otherwise (APO's cells), so
        look cells up with `prefopt.reproduce.cells.Registry.cell_of(row)`."""
        return f"{self.setting}-{self.method}"

    @property
    def secondary(self) -> bool:
        return self.source.startswith("secondary")

    @property
    def source_class(self) -> str:
        """primary: the authors' paper, README or repository (or an official leaderboard); secondary: anything else."""
        return "secondary" if self.secondary else "primary"


_DOCS = "results/reported/README.md"


def range_problem(metric: str, value: float) -> str | None:
    """Why `value` is not a valid `metric` value ("is out of range [0.0, 100.0] ..."), or None when it is."""
    lo, hi = METRIC_RANGES[metric]
    bad = (lo is not None and value < lo) or (hi is not None and value > hi) or \
          (metric in _STRICTLY_POSITIVE and value <= 0)
    if not bad:
        return None
    rng = "> 0" if metric in _STRICTLY_POSITIVE else f"[{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]"
    return f"is out of range {rng} for metric {metric!r}"


def _parse_row(rec: dict[str, str], where: str) -> ReportedRow:
    for col in COLUMNS:
        v = rec[col]
        if v != v.strip():
            raise InputError(f"column {col!r} has leading/trailing whitespace: {v!r}", where=where,
                             fix="remove the spaces")
        if col not in OPTIONAL_COLUMNS and not v:
            raise InputError(f"column {col!r} is empty", where=where,
                             fix=f"every row needs a {col}; see {_DOCS}")
    for col in ("paper", "table", "setting", "method", "benchmark", "metric"):
        if not _ID.match(rec[col]):
            raise InputError(f"column {col!r} = {rec[col]!r} is not a lower-case id ([a-z0-9._-])", where=where,
                             fix=f"use the vocabulary documented in {_DOCS}")
    if rec["paper"] not in PAPERS:
        raise InputError(f"unknown paper {rec['paper']!r} (known: {', '.join(sorted(PAPERS))})", where=where)
    if rec["benchmark"] not in BENCHMARKS:
        raise InputError(f"unknown benchmark {rec['benchmark']!r} (known: {', '.join(sorted(BENCHMARKS))})",
                         where=where, fix=f"add it to BENCHMARKS in prefopt/results.py and document it in {_DOCS}")
    metric = rec["metric"]
    if metric not in METRIC_RANGES:
        raise InputError(f"unknown metric {metric!r} (known: {', '.join(sorted(METRIC_RANGES))})", where=where,
                         fix=f"add it to METRIC_RANGES in prefopt/results.py and document it in {_DOCS}")

    text, source = rec["value"], rec["source"]
    if source == NOT_YET_TRANSCRIBED:
        if text:
            raise InputError(f"value {text!r} given with source {NOT_YET_TRANSCRIBED!r}", where=where,
                             fix="name the real source of the number, or leave the value empty")
        value = None
    else:
        if not text:
            raise InputError(f"empty value with source {source!r}", where=where,
                             fix=f"fill in the number, or set source to {NOT_YET_TRANSCRIBED!r}")
        try:
            value = float(text)
        except ValueError:
            raise InputError(f"value {text!r} is not a number", where=where,
                             fix="write the number as printed in the source (e.g. 44.7)") from None
        if not math.isfinite(value):
            raise InputError(f"value {text!r} is not finite", where=where)
        problem = range_problem(metric, value)
        if problem:
            raise InputError(f"value {text} {problem}", where=where,
                             fix=f"check the transcription and the metric's unit in {_DOCS}")
    tolerance = _parse_tolerance(rec, value, where)
    return ReportedRow(rec["paper"], rec["table"], rec["setting"], rec["method"], rec["benchmark"], metric,
                       value, source, tolerance, rec["tolerance_source"], where=where)


def _parse_tolerance(rec: dict[str, str], value: float | None, where: str) -> float | None:
    text, why = rec["tolerance"], rec["tolerance_source"]
    if not text:
        if why:
            raise InputError(f"tolerance_source {why!r} given without a tolerance", where=where,
                             fix="fill in the tolerance, or leave both columns empty")
        return None
    try:
        tol = float(text)
    except ValueError:
        raise InputError(f"tolerance {text!r} is not a number", where=where,
                         fix="write the tolerance in the metric's unit (e.g. 2.5)") from None
    if not math.isfinite(tol) or tol <= 0:
        raise InputError(f"tolerance {text!r} must be a positive number", where=where)
    if value is None:
        raise InputError("tolerance given for a number that is not transcribed", where=where,
                         fix="transcribe the value, or leave the tolerance empty")
    if not why:
        raise InputError("tolerance given without tolerance_source", where=where,
                         fix="say where the tolerance comes from (e.g. 'figure reading +-0.5 + default 2.0')")
    return tol


def load_reported_file(path: str | Path) -> list[ReportedRow]:
    """Read and validate one reported-results CSV."""
    path = Path(path)
    rows: list[ReportedRow] = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or tuple(header) != COLUMNS:
            raise InputError(f"header is {header!r}, expected {','.join(COLUMNS)}", where=f"{path}:1",
                             fix="use exactly these columns, in this order")
        for fields in reader:
            where = f"{path}:{reader.line_num}"
            if not fields:
                raise InputError("blank line", where=where, fix="remove it")
            if len(fields) != len(COLUMNS):
                raise InputError(f"{len(fields)} fields, expected {len(COLUMNS)} ({','.join(COLUMNS)})",
                                 where=where, fix="quote fields that contain commas")
            rows.append(_parse_row(dict(zip(COLUMNS, fields)), where))
    return rows


def load_reported(dir: str | Path | None = None) -> list[ReportedRow]:  # noqa: A002 (name fixed by the API)
    """Every row of `<dir>/*.csv` (default results/reported/), validated; keys are unique across files."""
    d = Path(dir) if dir is not None else REPORTED_DIR
    if not d.is_dir():
        raise InputError("reported-results directory not found", where=str(d))
    rows: list[ReportedRow] = []
    seen: dict[tuple, str] = {}
    for path in sorted(d.glob("*.csv")):
        for row in load_reported_file(path):
            if row.key in seen:
                raise InputError(f"duplicate row {','.join(row.key)} (first at {seen[row.key]})", where=row.where,
                                 fix="keep one row per (paper, table, setting, method, benchmark, metric); "
                                     "a number from another source goes in its own table")
            seen[row.key] = row.where
            rows.append(row)
    return rows


# ------------------------------------------------------------------------------------------- reproduced

REPRODUCED_DIR = REPO_ROOT / "results" / "reproduced"


@dataclass(frozen=True)
class ReproducedResult:
    """One `results/reproduced/<run>/<benchmark>.json`. `cell` is None for a model that is not a paper cell."""

    run: str
    cell: str | None
    benchmark: str
    metrics: dict[str, float]
    manifest: dict
    path: Path

    @property
    def model(self) -> str | None:
        return self.manifest.get("model")


def _parse_reproduced(path: Path, cell_ids: set[str]) -> ReproducedResult:
    where = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"not a readable JSON file ({e})", where=where) from None
    fix = "see the format in prefopt/results.py (results/README.md)"
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict) or \
            not isinstance(data.get("manifest"), dict):
        raise InputError('expected an object with "metrics" and "manifest" objects', where=where, fix=fix)
    if data.get("benchmark", path.stem) != path.stem:
        raise InputError(f"benchmark {data['benchmark']!r} does not match the file name", where=where, fix=fix)
    run = path.parent.name
    cell = data["cell"] if "cell" in data else (run if run in cell_ids else None)
    if cell is not None and cell not in cell_ids:
        raise InputError(f"unknown cell {cell!r}", where=where,
                         fix="use a cell id of results/cells.yaml (make list), or null for a model outside the tables")
    metrics = {}
    for metric, value in data["metrics"].items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise InputError(f"metric {metric!r} = {value!r} is not a finite number", where=where, fix=fix)
        if metric in METRIC_RANGES and range_problem(metric, value):
            raise InputError(f"metric {metric!r} = {value} {range_problem(metric, value)}", where=where,
                             fix=f"write it in the unit of {_DOCS} (win rates and accuracies in %)")
        metrics[metric] = float(value)
    return ReproducedResult(run, cell, path.stem, metrics, data["manifest"], path)


def load_reproduced(dir: str | Path | None = None, cell_ids: set[str] | frozenset[str] = frozenset()  # noqa: A002
                    ) -> list[ReproducedResult]:
    """Every `<dir>/<run>/<benchmark>.json` whose name is a benchmark id (default dir: results/reproduced/).

    `cell_ids` are the registry's cells: a file naming another cell is an error (a typo would otherwise hide a
    result). A missing directory holds no results.
    """
    d = Path(dir) if dir is not None else REPRODUCED_DIR
    paths = sorted(p for p in d.glob("*/*.json") if p.stem in BENCHMARKS) if d.is_dir() else []
    return [_parse_reproduced(p, set(cell_ids)) for p in paths]
