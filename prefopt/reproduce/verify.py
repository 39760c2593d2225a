"""`make verify`: reproduced numbers (results/reproduced/) against the reported ones (results/reported/).

Every reproduced result file of a registry cell (format: prefopt/results.py, results/README.md) is matched to the
cell's reported rows of the same benchmark. For each metric the papers report, the report gives the reference
value (the first table of `reference_tables` in results/cells.yaml that has a number, the other tables' values
beside it), the reproduced value, delta = reproduced - reported, the tolerance, and whether |delta| <= tolerance.

Tolerance, the first that exists:
  1. the reference row's own `tolerance` (results/reported/*.csv, with its `tolerance_source`, e.g. a value read
     from a figure);
  2. the reported standard error of the metric (a `<metric>_se` row, e.g. the AlpacaEval leaderboard's);
  3. the standard error the run itself reports (`<metric>_se` in its metrics);
  4. the benchmark's default in results/cells.yaml (points of the metric, or a % of the reported value).
Each comparison also shows the reference's source class: primary (the authors' paper, README or repository, or
an official leaderboard) or secondary (a third-party note), so the comparisons that rest on secondary numbers
stand out.

Cells without reproduced results are listed as such, and so are reproduced cells missing some of their
benchmarks and folders of results/reproduced/ that are not paper cells (the demo, the mini-table, evaluations
of other models). Writes results/report.md and results/report.png (per benchmark and metric: reproduced against
reported, with the tolerance band).

Exit code: 0 when every compared number is within tolerance, including when nothing is reproduced yet ("0
numbers compared", every cell listed as not reproduced); 1 when at least one is outside, or with --strict when
any cell lacks a result for one of its benchmarks; 2 when a reproduced file or the registry is malformed.

    python -m prefopt.reproduce.verify [--reproduced DIR] [--report results/report.md] [--plot results/report.png] [--strict]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import textwrap
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from prefopt.core.errors import InputError
from prefopt.core.paths import REPO_ROOT
from prefopt.core.plotting import pyplot
from prefopt.core.rehearsal import is_rehearsal
from prefopt.core.tables import markdown_table, text_table

from .cells import Cell, Registry, load_registry
from .results import ReportedRow, ReproducedResult, load_reported, load_reproduced

REPORT_MD = REPO_ROOT / "results" / "report.md"
REPORT_PNG = REPO_ROOT / "results" / "report.png"
WITHIN, OUTSIDE = "within", "OUTSIDE"


@dataclass(frozen=True)
class Comparison:
    """One reproduced metric of one run against what the papers report for its cell."""

    cell: Cell
    result: ReproducedResult
    metric: str
    rows: tuple[ReportedRow, ...]   # every reported row of the metric, reference order (may be empty)
    tolerance: float | None = None
    tolerance_source: str = ""

    @property
    def reference(self) -> ReportedRow | None:
        return next((r for r in self.rows if r.value is not None), None)

    @property
    def reproduced(self) -> float | None:
        return self.result.metrics.get(self.metric)

    @property
    def delta(self) -> float | None:
        ref = self.reference
        return None if ref is None or self.reproduced is None else self.reproduced - ref.value

    @property
    def status(self) -> str:
        if self.reproduced is None:
            return "missing in the run"
        if not self.rows:
            return "not reported"
        if self.reference is None:
            return "not transcribed yet"
        # The small epsilon keeps a delta equal to the tolerance (up to float rounding) inside.
        return WITHIN if abs(self.delta) <= self.tolerance + 1e-9 else OUTSIDE

    @property
    def run_label(self) -> str:
        released = self.cell.released and self.result.model == self.cell.released
        return self.result.run + (" (released checkpoint)" if released else "")


@dataclass
class Verification:
    registry: Registry
    results: list[ReproducedResult]
    comparisons: list[Comparison]
    # Results of a rehearsal (miniature models, mirrored data): listed, never compared, never count as reproduced.
    rehearsals: list[ReproducedResult] = dataclasses.field(default_factory=list)

    @property
    def compared(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.status in (WITHIN, OUTSIDE)]

    @property
    def outside(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.status == OUTSIDE]

    @property
    def done(self) -> dict[str, set[str]]:
        """cell id -> benchmarks with a reproduced result."""
        out: dict[str, set[str]] = defaultdict(set)
        for r in self.results:
            if r.cell:
                out[r.cell].add(r.benchmark)
        return out

    @property
    def not_reproduced(self) -> list[Cell]:
        return [c for c in self.registry.cells.values() if c.id not in self.done]

    @property
    def partial(self) -> dict[str, list[str]]:
        """Reproduced cells -> their benchmarks without a result."""
        out = {}
        for cid, got in self.done.items():
            missing = [e.benchmark.id for e in self.registry.cells[cid].evals if e.benchmark.id not in got]
            if missing:
                out[cid] = missing
        return out

    def other_runs(self, reproduced_dir: Path) -> list[str]:
        """Folders of results/reproduced/ holding no paper cell's result, with what they hold."""
        cell_runs = {r.run for r in self.results if r.cell} | {r.run for r in self.rehearsals}
        by_run: dict[str, list[str]] = defaultdict(list)
        for r in self.results:
            if not r.cell:
                by_run[r.run].append(r.benchmark)
        names = sorted(p.name for p in reproduced_dir.iterdir() if p.is_dir()) if reproduced_dir.is_dir() else []
        return [f"{n} ({', '.join(by_run[n])})" if by_run.get(n) else f"{n} (no benchmark results)"
                for n in names if n not in cell_runs]

    def exit_code(self, strict: bool = False) -> int:
        if self.outside:
            return 1
        return 1 if strict and (self.not_reproduced or self.partial) else 0


def _tolerance(registry: Registry, cell: Cell, result: ReproducedResult, metric: str, ref: ReportedRow
               ) -> tuple[float, str]:
    if ref.tolerance is not None:
        return ref.tolerance, f"{ref.paper}/{ref.table}: {ref.tolerance_source}"
    reported = ref.value
    se = f"{metric}_se"
    for r in registry.rows_of(cell):
        if r.benchmark == result.benchmark and r.metric == se and r.value is not None:
            return r.value, f"SE {r.paper}/{r.table}"
    if se in result.metrics:
        return result.metrics[se], "SE of the run"
    bench = registry.benchmarks[result.benchmark]
    rule = bench.tolerance[metric]
    return bench.default_tolerance(metric, reported), f"default {rule} of reported" if isinstance(rule, str) else "default"


def compare(registry: Registry, results: list[ReproducedResult]) -> Verification:
    order = {cid: i for i, cid in enumerate(registry.cells)}
    results = sorted(results, key=lambda r: (order.get(r.cell, len(order)), r.run, r.benchmark))
    rehearsals = [r for r in results if is_rehearsal(r.manifest)]
    results = [r for r in results if not is_rehearsal(r.manifest)]
    comparisons = []
    for res in results:
        if res.cell is None:
            continue
        cell = registry.cells[res.cell]
        by_metric: dict[str, list[ReportedRow]] = defaultdict(list)
        for r in registry.rows_of(cell):
            if r.benchmark == res.benchmark and not r.metric.endswith("_se"):
                by_metric[r.metric].append(r)
        extra = [m for m in res.metrics if not m.endswith("_se") and m not in by_metric]
        for metric in [*by_metric, *extra]:
            c = Comparison(cell, res, metric, tuple(by_metric.get(metric, ())))
            if c.reference is not None and c.reproduced is not None:
                tol, src = _tolerance(registry, cell, res, metric, c.reference)
                c = Comparison(cell, res, metric, c.rows, tol, src)
            comparisons.append(c)
    return Verification(registry, results, comparisons, rehearsals)


# --------------------------------------------------------------------------------------------- output

def _num(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "-"
    digits = 2 if x == 0 or abs(x) >= 0.1 else 3  # small metrics (ECE as a fraction) keep a third decimal
    text = f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text and not signed else text


def _row(c: Comparison) -> list[str]:
    ref = c.reference
    reported = f"{_num(ref.value)} ({ref.paper}/{ref.table})" if ref else c.status if c.rows else "-"
    others = "; ".join(f"{_num(r.value)} {r.paper}/{r.table}" for r in c.rows if r.value is not None and r is not ref)
    tol = f"{_num(c.tolerance)} ({c.tolerance_source})" if c.tolerance is not None else "-"
    source = (f"SECONDARY ({ref.source})" if ref.secondary else "primary") if ref else "-"
    return [c.cell.id, c.run_label, c.result.benchmark, c.metric, reported, source, _num(c.reproduced),
            _num(c.delta, signed=True), tol, c.status, others or "-"]


HEADERS = ("cell", "run", "benchmark", "metric", "reported (reference)", "source", "reproduced", "delta",
           "tolerance", "verdict", "also reported")


def secondary_note(v: Verification) -> str:
    """How many compared numbers rest on a secondary source, and which."""
    sec = [c for c in v.compared if c.reference.secondary]
    if not sec:
        return "No compared number rests on a secondary source."
    return (f"{len(sec)} of the {len(v.compared)} compared numbers {'rests' if len(sec) == 1 else 'rest'} on a "
            f"SECONDARY source (not the authors' "
            f"paper, README or repository): " + ", ".join(f"{c.cell.id} {c.result.benchmark}/{c.metric}" for c in sec))


def summary(v: Verification) -> str:
    n_cells = len(v.registry.cells)
    return (f"{len(v.compared)} numbers compared: {len(v.compared) - len(v.outside)} within tolerance, "
            f"{len(v.outside)} outside; {len(v.done)} of {n_cells} cells have reproduced results, "
            f"{len(v.not_reproduced)} not reproduced yet")


def _missing_groups(v: Verification) -> dict[str, list[Cell]]:
    groups: dict[str, list[Cell]] = defaultdict(list)
    for c in v.not_reproduced:
        groups[c.train_status].append(c)
    return groups


def text_report(v: Verification, reproduced_dir: Path) -> str:
    lines = [summary(v), secondary_note(v), ""]
    if v.comparisons:
        lines += [text_table(HEADERS[:-1], [r[:-1] for r in map(_row, v.comparisons)]), ""]
    lines.append(f"Not reproduced yet ({len(v.not_reproduced)} cells), by training status:")
    for status, cells in _missing_groups(v).items():
        lines.append(textwrap.fill(f"{status} ({len(cells)}): {' '.join(c.id for c in cells)}", width=116,
                                   initial_indent="  ", subsequent_indent="      ", break_on_hyphens=False))
    for cid, missing in v.partial.items():
        lines.append(f"Reproduced without every benchmark: {cid} lacks {', '.join(missing)}")
    others = v.other_runs(reproduced_dir)
    if others:
        lines.append(f"Not paper cells (ignored): {'; '.join(others)}")
    if v.rehearsals:
        lines.append(f"Rehearsal results (never compared with the papers): {'; '.join(rehearsal_lines(v))}")
    return "\n".join(lines)


def rehearsal_lines(v: Verification) -> list[str]:
    """One entry per rehearsal result: its run, cell and benchmark."""
    return [f"{r.run} {r.benchmark}" + (f" (cell {r.cell})" if r.cell else "") for r in v.rehearsals]


def markdown_report(v: Verification, reproduced_dir: Path, png: Path | None, md_path: Path) -> str:
    out = ["# Reproduced vs reported", "",
           "Written by `make verify` (prefopt/verify.py) from results/reproduced/ and results/reported/, cells from "
           "results/cells.yaml. Tolerance: the reference number's own (column `tolerance` of results/reported, "
           "with its reason), else the reported standard error of the metric, else the run's own, else the "
           "benchmark's default in results/cells.yaml. Reference: the first table of `reference_tables` with a "
           "value; the others are under \"also reported\". Source: primary (the authors' paper, README or "
           "repository, or an official leaderboard) or SECONDARY (a third-party note; treat such comparisons "
           "as provisional).", "", f"**{summary(v)}.** {secondary_note(v)}", ""]
    if png is not None:
        out += [f"![reproduced vs reported]({os.path.relpath(png, md_path.parent)})", ""]
    out += ["## Compared numbers", ""]
    out += [markdown_table(HEADERS, [_row(c) for c in v.comparisons]) if v.comparisons else "Nothing reproduced yet.",
            ""]
    if v.partial:
        out += ["## Reproduced cells without every benchmark", "",
                markdown_table(("cell", "benchmarks without a result"),
                               [(cid, ", ".join(m)) for cid, m in v.partial.items()]), ""]
    out += [f"## Not reproduced yet ({len(v.not_reproduced)} cells)", "",
            markdown_table(("cell", "training", "benchmarks", "tables"),
                           [(c.id, c.train_status, ", ".join(e.benchmark.id for e in c.evals), " ".join(c.tables))
                            for c in v.not_reproduced]), ""]
    others = v.other_runs(reproduced_dir)
    if others:
        out += ["## Folders of results/reproduced that are not paper cells", "", *[f"- {o}" for o in others], ""]
    if v.rehearsals:
        out += ["## Rehearsal results (never compared with the papers)", "",
                "Their manifests say a rehearsal produced them (miniature models or mirrored data: "
                "prefopt.core.rehearsal); their numbers mean nothing about the method.", "",
                *[f"- {line}" for line in rehearsal_lines(v)], ""]
    return "\n".join(out)


def plot(v: Verification, path: Path) -> None:
    """Per benchmark and metric, one line per run: the reported value with its tolerance band, and the
    reproduced value (green inside the band, red outside)."""
    plt = pyplot()

    panels: dict[tuple[str, str], list[Comparison]] = defaultdict(list)
    for c in v.compared:
        panels[(c.result.benchmark, c.metric)].append(c)
    if not panels:
        fig, ax = plt.subplots(figsize=(7, 2))
        ax.axis("off")
        ax.text(0.5, 0.5, f"Nothing reproduced yet\n{len(v.registry.cells)} cells in results/cells.yaml "
                          "(make list)", ha="center", va="center", fontsize=12)
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return
    keys = sorted(panels)
    ncols = min(2, len(keys))
    nrows = math.ceil(len(keys) / ncols)
    heights = [max(len(panels[k]) for k in keys[i * ncols:(i + 1) * ncols]) * 0.45 + 1.2 for i in range(nrows)]
    fig, axes = plt.subplots(nrows, ncols, figsize=(7.5 * ncols, sum(heights)), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    for ax, key in zip(axes.flat, keys):
        items = panels[key]
        for y, c in enumerate(items):
            ref, tol = c.reference.value, c.tolerance
            color = "#2a9d2a" if c.status == WITHIN else "#d62728"
            ax.barh(y, 2 * tol, left=ref - tol, height=0.6, color="#cfe8cf", edgecolor="#7fb77f")
            ax.plot([ref, ref], [y - 0.3, y + 0.3], color="black", lw=1.5)
            ax.plot(c.reproduced, y, "o", ms=7, color=color)
            ax.annotate(f"{c.delta:+.2f}", (1.01, y), xycoords=("axes fraction", "data"), va="center", fontsize=8,
                        color=color)
        # Bars pin the autoscaled limits to their edges: set them with a margin so every band shows whole.
        lo = min(min(c.reference.value - c.tolerance, c.reproduced) for c in items)
        hi = max(max(c.reference.value + c.tolerance, c.reproduced) for c in items)
        ax.set_xlim(lo - 0.08 * (hi - lo), hi + 0.08 * (hi - lo))
        ax.set_yticks(range(len(items)), [f"{c.cell.id}\n{c.result.run}" if c.result.run != c.cell.id else c.cell.id
                                          for c in items], fontsize=8)
        ax.invert_yaxis()
        ax.set_title(f"{key[0]}: {key[1]}", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    fig.suptitle("Reproduced (dot; delta at the right) vs reported (black tick), with the tolerance band (green)",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _shown(path: Path) -> str:
    """A path as the user would type it: relative to the current directory when under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def run(reproduced_dir: Path, report: Path | None, png: Path | None, strict: bool = False,
        registry: Registry | None = None) -> tuple[int, str]:
    """Compare, write the report and the plot; returns (exit code, the text printed by `make verify`)."""
    registry = registry or load_registry(reported=load_reported())
    v = compare(registry, load_reproduced(reproduced_dir, cell_ids=set(registry.cells)))
    text = text_report(v, reproduced_dir)
    if png is not None:
        png.parent.mkdir(parents=True, exist_ok=True)
        plot(v, png)
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(markdown_report(v, reproduced_dir, png, report), encoding="utf-8")
        text += f"\nReport: {_shown(report)}" + (f" (plot: {_shown(png)})" if png else "")
    code = v.exit_code(strict)
    if code == 0:
        why = f"no number outside tolerance ({len(v.compared)} compared)"
    else:
        why = f"{len(v.outside)} numbers outside tolerance" if v.outside else "--strict: some cell is not reproduced"
    return code, f"{text}\nexit {code}: {why}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reproduced", type=Path, default=REPO_ROOT / "results" / "reproduced")
    p.add_argument("--report", type=Path, default=REPORT_MD)
    p.add_argument("--plot", type=Path, default=REPORT_PNG)
    p.add_argument("--strict", action="store_true", help="also exit 1 when a cell is not (fully) reproduced")
    args = p.parse_args(argv)
    try:
        code, text = run(args.reproduced, args.report, args.plot, args.strict)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(text)
    return code


if __name__ == "__main__":
    sys.exit(main())
