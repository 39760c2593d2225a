"""The paper-table registry: reported numbers (results/reported/*.csv).

Each CSV row is one number a paper (or its repository, or a leaderboard) reports, with the columns
`paper, table, setting, method, benchmark, metric, value, source` (see results/reported/README.md for the
vocabulary). `load_reported()` reads and validates every CSV of the directory; any bad row raises `InputError`
naming the file and line.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from prefopt.errors import InputError

REPO_ROOT = Path(__file__).resolve().parents[1]
REPORTED_DIR = REPO_ROOT / "results" / "reported"

COLUMNS = ("paper", "table", "setting", "method", "benchmark", "metric", "value", "source")
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
    "ece": (0.0, 100.0),
    "avg_rank": (1.0, None),
    "avg_score": (None, None),            # mean reward-model logit
}
# Lengths must be strictly positive; every other bound is inclusive.
_STRICTLY_POSITIVE = frozenset({"length"})
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


@dataclass(frozen=True)
class ReportedRow:
    """One reported number. `value` is None only for `source == "not-yet-transcribed"`.

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
    where: str = field(default="", compare=False, repr=False)

    @property
    def key(self) -> tuple[str, str, str, str, str, str]:
        """(paper, table, setting, method, benchmark, metric): unique over all reported rows."""
        return (self.paper, self.table, self.setting, self.method, self.benchmark, self.metric)

    @property
    def cell(self) -> str:
        """The training cell this number belongs to, `<setting>-<method>` (training_configs/<cell>.yaml)."""
        return f"{self.setting}-{self.method}"

    @property
    def secondary(self) -> bool:
        return self.source.startswith("secondary")


_DOCS = "results/reported/README.md"


def _parse_row(rec: dict[str, str], where: str) -> ReportedRow:
    for col in COLUMNS:
        v = rec[col]
        if v != v.strip():
            raise InputError(f"column {col!r} has leading/trailing whitespace: {v!r}", where=where,
                             fix="remove the spaces")
        if col != "value" and not v:
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
        lo, hi = METRIC_RANGES[metric]
        bad = (lo is not None and value < lo) or (hi is not None and value > hi) or \
              (metric in _STRICTLY_POSITIVE and value <= 0)
        if bad:
            rng = f"[{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]"
            if metric in _STRICTLY_POSITIVE:
                rng = "> 0"
            raise InputError(f"value {text} is out of range {rng} for metric {metric!r}", where=where,
                             fix=f"check the transcription and the metric's unit in {_DOCS}")
    return ReportedRow(rec["paper"], rec["table"], rec["setting"], rec["method"], rec["benchmark"], metric,
                       value, source, where=where)


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
