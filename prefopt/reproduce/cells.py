"""The cell registry: every training run behind a reported number (data: results/cells.yaml).

A cell is one row of a paper table, a setting and a method (`llama3-instruct-simpo`). The registry maps it to its
training config and accelerate config, its SFT starting point, its benchmarks with their Makefile entry points,
generation settings and templates, and the authors' released checkpoint. Its reported numbers are the rows of
results/reported/*.csv with the same setting and method, so one cell collects the same run across papers (the
SimPO README, SamS Table 1 and AMaPO all report `llama3-instruct-dpo`).

`load_registry()` validates the data file against the reported rows: every reported (setting, method) must be a
cell and every cell must have reported rows, so a table row can never be silently left out. make/cells.mk is
generated from the registry (prefopt.reproduce.make_rules, `make gen-make`).

    python -m prefopt.reproduce.cells list      # = make list: every cell with its training, eval and reproduction status
    python -m prefopt.reproduce.cells table     # the cells table of README.md ("Reproducing a table")
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

from prefopt.core.errors import InputError
from prefopt.core.paths import REPO_ROOT
from prefopt.core.tables import markdown_table, text_table
from prefopt.onpolicy.annotate import REWARD_KINDS

from .results import BENCHMARKS, METRIC_RANGES, ReportedRow, ReproducedResult, load_reported, load_reproduced

CELLS_FILE = REPO_ROOT / "results" / "cells.yaml"
MAKE_DIR = REPO_ROOT / "make"
GENERATED_MAKEFILE = MAKE_DIR / "cells.mk"
TRAIN_STATES = ("config", "pending", "none")

_TOP_KEYS = {"defaults", "methods", "reference_tables", "benchmarks", "shared_evals", "onpolicy", "settings"}
_BENCHMARK_KEYS = {"name", "target", "args", "issue", "generates", "protocol", "tolerance", "open"}
_METHOD_KEYS = {"script", "config_name"}
_SETTING_KEYS = {"label", "config_dir", "start", "start_cell", "evals", "cells"}
_EVAL_KEYS = {"template", "generation", "source", "target", "args"}
_CELL_KEYS = {"id", "train", "issue", "released", "start", "note", "accelerate_config"}
_PERCENT = re.compile(r"^\d+(\.\d+)?%$")
_ONPOLICY_KEYS = {"generator", "prompts", "seeds", "sampling", "reward_model", "split", "env", "replaces", "source",
                  "note"}


def issue_text(issue: str, short: bool = False) -> str:
    """"5" -> "issue 5"; "17 (item 7): why" -> "issue 17 (item 7): why", or "issue 17" when `short`; other free
    text (e.g. "no issue plans it; ...") as it is, or "no issue" when `short`."""
    number = re.match(r"\d+\b", issue)
    if number:
        return f"issue {number.group()}" if short else f"issue {issue}"
    return "no issue" if short else issue


@dataclass(frozen=True)
class Benchmark:
    id: str
    name: str
    target: str            # Makefile entry point, e.g. eval-alpaca
    args: str              # extra make variables for it, e.g. SUITE=leaderboard-v2
    issue: str             # what implements the entry point
    generates: bool        # samples answers: needs a template and decoding settings per setting
    protocol: str
    tolerance: dict[str, float | str]   # metric -> absolute points, or "N%" of the reported value
    open: str = ""         # what of the protocol no source gives, and the choice (a parameter) the entry point makes

    def default_tolerance(self, metric: str, reported: float) -> float | None:
        tol = self.tolerance.get(metric)
        if tol is None:
            return None
        if isinstance(tol, str):
            return abs(reported) * float(tol[:-1]) / 100
        return float(tol)


@dataclass(frozen=True)
class EvalSpec:
    """How one cell runs one benchmark."""

    benchmark: Benchmark
    target: str
    args: str
    template: str | None
    generation: str | None   # "key=value ..." decoding settings, or a named default such as fastchat-default
    source: str

    @property
    def make_vars(self) -> str:
        """The benchmark-specific make variables passed to the entry point."""
        parts = [self.args] if self.args else []
        if self.template:
            parts.append(f"TEMPLATE={self.template}")
        if self.generation:
            parts.append(f"GENERATION='{self.generation}'" if " " in self.generation else f"GENERATION={self.generation}")
        return " ".join(parts)


@dataclass(frozen=True)
class Cell:
    id: str
    setting: str
    method: str
    setting_label: str
    train: str                 # config | pending | none (TRAIN_STATES)
    issue: str                 # for train == pending: what will add the config
    config: str                # repo-relative training config (it exists iff train == config)
    script: str
    accelerate_config: str
    output_dir: str            # where `make <cell>` writes the model
    start: str                 # SFT starting point
    start_cell: str | None     # the cell that reproduces `start`
    released: str | None       # the authors' checkpoint
    note: str
    tables: tuple[str, ...]    # "paper/table" of its reported rows, in reference order
    evals: tuple[EvalSpec, ...]

    @property
    def papers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.split("/")[0] for t in self.tables))

    @property
    def default_model(self) -> str:
        """What `make eval-<cell>` evaluates without MODEL=: the trained model, or the released one if untrained."""
        return self.released if self.train == "none" else self.output_dir

    @property
    def train_status(self) -> str:
        if self.train == "config":
            return "config ready"
        if self.train == "pending":
            return f"config pending ({issue_text(self.issue, short=True)})"
        return "no training (released model)"


ONPOLICY_ROOT = "outputs/onpolicy"  # where `make onpolicy-<setting>` works (the rules' $(ONPOLICY_DIR) default)


@dataclass(frozen=True)
class OnPolicyRecipe:
    """How a setting's on-policy preference data is made (`make onpolicy-<setting>`, on_policy_data_gen/)."""

    setting: str
    generator: str             # the model that samples: the setting's SFT start unless the recipe says otherwise
    prompts: dict              # data, splits, (field)
    seeds: tuple[int, ...]
    sampling: dict             # temperature, top_p, max_new_tokens (decode.py flags)
    reward_model: dict         # kind (prefopt.onpolicy.annotate.REWARD_KINDS), model
    split: dict                # test_prompts + test_split, or test_fraction (+ split_seed)
    env: dict                  # environment variables for the commands (e.g. VLLM_ATTENTION_BACKEND)
    replaces: str              # the published dataset this regenerates
    source: str
    note: str

    @property
    def work_dir(self) -> str:
        return f"{ONPOLICY_ROOT}/{self.setting}"

    @property
    def dataset_dir(self) -> str:
        """The binarized dataset: a `dataset:` for the setting's training configs."""
        return f"{self.work_dir}/dataset"


class Registry:
    """The cells (in data-file order), the benchmarks, and the reported rows they were validated against."""

    def __init__(self, cells: list[Cell], benchmarks: dict[str, Benchmark], reference_tables: tuple[str, ...],
                 reported: list[ReportedRow], onpolicy: dict[str, OnPolicyRecipe] | None = None):
        self.onpolicy = dict(onpolicy or {})
        self.cells = {c.id: c for c in cells}
        self.benchmarks = benchmarks
        self.reference_tables = reference_tables
        self.reported = reported
        self._by_pair = {(c.setting, c.method): c for c in cells}

    def cell_of(self, setting: str, method: str) -> Cell | None:
        return self._by_pair.get((setting, method))

    def rows_of(self, cell: Cell) -> list[ReportedRow]:
        """The cell's reported rows, most authoritative table first (reference_tables; unlisted tables last)."""
        t = self.reference_tables
        rows = [r for r in self.reported if (r.setting, r.method) == (cell.setting, cell.method)]
        return sorted(rows, key=lambda r: t.index(f"{r.paper}/{r.table}") if f"{r.paper}/{r.table}" in t else len(t))


# ------------------------------------------------------------------------------------------- loading


def _check_keys(obj: object, allowed: set[str], where: str) -> dict:
    if not isinstance(obj, dict):
        raise InputError(f"expected a mapping, got {type(obj).__name__}", where=where)
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise InputError(f"unknown key(s) {', '.join(unknown)}", where=where,
                         fix=f"allowed: {', '.join(sorted(allowed))}")
    return obj


def _render_generation(gen: object, where: str) -> str | None:
    if gen is None or isinstance(gen, str):
        return gen
    if not isinstance(gen, dict):
        raise InputError("generation must be a mapping or a named default", where=where)

    def text(v: object) -> str:
        if isinstance(v, bool):
            return str(v).lower()
        if isinstance(v, list):
            return ",".join(text(x) for x in v)
        return str(v)

    return " ".join(f"{k}={text(v)}" for k, v in gen.items())


def _load_benchmarks(data: dict, where: str) -> dict[str, Benchmark]:
    out = {}
    for bid, b in _check_keys(data, BENCHMARKS, where).items():
        w = f"{where}.{bid}"
        b = _check_keys(b, _BENCHMARK_KEYS, w)
        for key in ("name", "target", "issue", "generates", "tolerance"):
            if key not in b:
                raise InputError(f"missing {key!r}", where=w)
        for metric, tol in b["tolerance"].items():
            ok = isinstance(tol, int | float) and tol > 0 or isinstance(tol, str) and _PERCENT.match(tol)
            if metric not in METRIC_RANGES or not ok:
                raise InputError(f"tolerance {metric}: {tol!r}: needs a known metric and a positive number or 'N%'",
                                 where=w)
        out[bid] = Benchmark(bid, b["name"], b["target"], b.get("args", ""), str(b["issue"]), bool(b["generates"]),
                             b.get("protocol", ""), dict(b["tolerance"]), str(b.get("open", "")))
    return out


def _eval_specs(benchmarks: list[Benchmark], setting_evals: dict, where: str) -> tuple[EvalSpec, ...]:
    specs = []
    for b in benchmarks:
        e = setting_evals.get(b.id, {})
        generation = _render_generation(e.get("generation"), where)
        if b.generates and not (e.get("template") and generation):
            raise InputError(f"benchmark {b.id} samples answers but the setting's evals give no template and "
                             f"generation settings for it", where=where)
        specs.append(EvalSpec(b, e.get("target", b.target), e.get("args", b.args), e.get("template"), generation,
                              e.get("source", "")))
    return tuple(specs)


@dataclass(frozen=True)
class _Context:
    """What every cell of the data file is built with."""

    defaults: dict
    methods: dict
    benchmarks: dict[str, Benchmark]
    reference_tables: tuple[str, ...]

    def rank(self, table: str) -> int:
        t = self.reference_tables
        return t.index(table) if table in t else len(t)


def _load_cell(ctx: _Context, setting: str, s: dict, method: str, c: dict, rows: list[ReportedRow], where: str
               ) -> Cell:
    train = c.get("train", "config")
    if train not in TRAIN_STATES:
        raise InputError(f"train: {train!r} is not one of {', '.join(TRAIN_STATES)}", where=where)
    if train == "pending" and not c.get("issue"):
        raise InputError("a pending cell needs `issue:` (what will add its config)", where=where)
    if train == "none" and not c.get("released"):
        raise InputError("a cell without training needs `released:` (the model the row is)", where=where)
    if not rows:
        raise InputError(f"no reported row has setting {setting} and method {method}", where=where,
                         fix="remove the cell, or add its numbers to results/reported/")
    bench_ids = {r.benchmark for r in rows}
    if bench_ids - set(ctx.benchmarks):
        raise InputError(f"its reported benchmarks {sorted(bench_ids - set(ctx.benchmarks))} are not described",
                         where=where, fix="add them under benchmarks:")
    no_tol = sorted({f"{r.benchmark}/{r.metric}" for r in rows
                     if not r.metric.endswith("_se") and r.metric not in ctx.benchmarks[r.benchmark].tolerance})
    if no_tol:
        raise InputError(f"no default tolerance for its reported metrics {', '.join(no_tol)}", where=where,
                         fix="add them to the benchmark's tolerance: (make verify needs one)")
    m = ctx.methods.get(method, {})
    folder, name = s.get("config_dir", setting), m.get("config_name", method)
    return Cell(
        id=c.get("id", f"{setting}-{method}"), setting=setting, method=method, setting_label=s.get("label", ""),
        train=train, issue=str(c.get("issue", "")), config=f"training_configs/{folder}/{name}.yaml",
        script=m.get("script", ctx.defaults.get("script", "scripts/run_po.py")),
        accelerate_config=c.get("accelerate_config", ctx.defaults.get("accelerate_config", "")),
        output_dir=f"outputs/{folder}/{name}", start=c.get("start", s.get("start", "")),
        # A cell with its own starting model (an SFT stage, ORPO) does not start from the setting's SFT cell.
        start_cell=None if c.get("start") else s.get("start_cell"), released=c.get("released"),
        note=c.get("note", ""),
        tables=tuple(sorted({f"{r.paper}/{r.table}" for r in rows}, key=lambda t: (ctx.rank(t), t))),
        evals=_eval_specs([b for b in ctx.benchmarks.values() if b.id in bench_ids], s.get("evals") or {}, where),
    )


def _load_onpolicy(data: dict, settings: dict, where: str) -> dict[str, OnPolicyRecipe]:
    """The `onpolicy:` block: defaults, and per setting the keys that differ from them."""
    data = _check_keys(data or {}, {"defaults", "settings"}, where)
    defaults = _check_keys(data.get("defaults") or {}, _ONPOLICY_KEYS, f"{where}.defaults")
    out = {}
    for setting, entry in (data.get("settings") or {}).items():
        w = f"{where}.settings.{setting}"
        if setting not in settings:
            raise InputError(f"{setting!r} is not a setting", where=w, fix="use a setting id of settings:")
        r = {**defaults, **_check_keys(entry or {}, _ONPOLICY_KEYS, w)}
        for key in ("prompts", "seeds", "sampling", "reward_model", "split"):
            if key not in r:
                raise InputError(f"missing {key!r} (in the setting's entry or in onpolicy.defaults)", where=w)
        if not isinstance(r["prompts"], dict) or not {"data", "splits"} <= set(r["prompts"]):
            raise InputError("prompts needs data and splits", where=w)
        kind = (r["reward_model"] or {}).get("kind")
        if kind not in REWARD_KINDS or not r["reward_model"].get("model"):
            raise InputError(f"reward_model needs model and a kind of {', '.join(REWARD_KINDS)} (got {kind!r})",
                             where=w)
        seeds = r["seeds"]
        if not seeds or not all(isinstance(x, int) for x in seeds) or len(set(seeds)) != len(seeds):
            raise InputError(f"seeds must be distinct integers, got {seeds!r}", where=w)
        if not {"test_prompts", "test_fraction"} & set(r["split"] or {}):
            raise InputError("split needs test_prompts (+ test_split) or test_fraction (+ split_seed)", where=w)
        out[setting] = OnPolicyRecipe(
            setting=setting, generator=r.get("generator") or settings[setting].get("start", ""),
            prompts=dict(r["prompts"]), seeds=tuple(seeds), sampling=dict(r["sampling"]),
            reward_model=dict(r["reward_model"]), split=dict(r["split"]), env=dict(r.get("env") or {}),
            replaces=r.get("replaces", ""), source=r.get("source", ""), note=r.get("note", ""))
    return out


def load_registry(path: str | Path | None = None, reported: list[ReportedRow] | None = None) -> Registry:
    """Read results/cells.yaml (or `path`) and check it against the reported rows (default: results/reported/)."""
    path = Path(path) if path is not None else CELLS_FILE
    where = path.name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise InputError(f"cannot read the cell registry: {e}", where=str(path)) from None
    data = _check_keys(data, _TOP_KEYS, where)
    reported = load_reported() if reported is None else reported
    ctx = _Context(
        defaults=data.get("defaults", {}),
        methods={m: _check_keys(v, _METHOD_KEYS, f"{where}: methods.{m}") for m, v in data.get("methods", {}).items()},
        benchmarks=_load_benchmarks(data.get("benchmarks", {}), f"{where}: benchmarks"),
        reference_tables=tuple(data.get("reference_tables", ())))

    rows_by_pair: dict[tuple[str, str], list[ReportedRow]] = defaultdict(list)
    for r in reported:
        rows_by_pair[(r.setting, r.method)].append(r)
    cells: list[Cell] = []
    for setting, s in data.get("settings", {}).items():
        s = _check_keys(s, _SETTING_KEYS, f"{where}: settings.{setting}")
        for method, c in (s.get("cells") or {}).items():
            wc = f"{where}: settings.{setting}.cells.{method}"
            cells.append(_load_cell(ctx, setting, s, method, _check_keys(c or {}, _CELL_KEYS, wc),
                                    rows_by_pair.pop((setting, method), []), wc))
    if rows_by_pair:
        missing = ", ".join(f"{s}/{m}" for s, m in sorted(rows_by_pair))
        raise InputError(f"reported rows without a cell (setting/method): {missing}", where=where,
                         fix="add each as a cell under its setting in results/cells.yaml")
    ids = [c.id for c in cells]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise InputError(f"duplicate cell ids: {', '.join(dup)}", where=where)
    onpolicy = _load_onpolicy(data.get("onpolicy"), data.get("settings", {}), f"{where}: onpolicy")
    return Registry(cells, ctx.benchmarks, ctx.reference_tables, reported, onpolicy)


# ------------------------------------------------------------------------------------------- status

_RULE = re.compile(r"^([A-Za-z0-9_.%/-]+(?:[ \t]+[A-Za-z0-9_.%/-]+)*)[ \t]*::?(?!=)")


def defined_make_targets(root: Path = REPO_ROOT) -> set[str]:
    """Targets with an explicit rule in the Makefile or make/*.mk, the generated cells.mk excepted.

    This is how `make list` tells a benchmark entry point that exists (e.g. `eval-alpaca:` written by the eval
    issue) from one still served by cells.mk's "not implemented yet" fallback.
    """
    files = [root / "Makefile", *sorted((root / "make").glob("*.mk"))]
    targets: set[str] = set()
    for f in files:
        if f.name == GENERATED_MAKEFILE.name or not f.exists():
            continue
        for line in f.read_text(encoding="utf-8").splitlines():
            m = _RULE.match(line)
            if m:
                targets.update(m.group(1).split())
    return targets


def pending_evals(cell: Cell, defined: set[str]) -> list[EvalSpec]:
    return [e for e in cell.evals if e.target not in defined]


def list_cells(registry: Registry, reproduced: list[ReproducedResult], defined: set[str]) -> str:
    """The text of `make list`."""
    done: dict[str, set[str]] = defaultdict(set)
    for r in reproduced:
        if r.cell:
            done[r.cell].add(r.benchmark)
    rows = []
    for c in registry.cells.values():
        pending = pending_evals(c, defined)
        issues = sorted({issue_text(e.benchmark.issue, short=True) for e in pending})
        evals = "ready" if not pending else f"{len(pending)}/{len(c.evals)} pending ({'; '.join(issues)})"
        got = done.get(c.id, set())
        repro = f"{len(got)}/{len(c.evals)}" if got else "-"
        rows.append((c.id, " ".join(c.papers), c.train_status, evals, repro))
    counts = defaultdict(int)
    for c in registry.cells.values():
        counts[c.train] += 1
    by_target: dict[str, dict[str, str]] = defaultdict(dict)     # target -> benchmark -> issue
    for c in registry.cells.values():
        for e in pending_evals(c, defined):
            by_target[e.target][e.benchmark.id] = issue_text(e.benchmark.issue)
    pending_targets = [f"{t} ({', '.join(b)}: {'; '.join(dict.fromkeys(b.values()))})"
                       for t, b in sorted(by_target.items())]
    head = (f"{len(registry.cells)} cells (results/cells.yaml): {counts['config']} config ready, "
            f"{counts['pending']} config pending, {counts['none']} without training; "
            f"{sum(1 for c in registry.cells if c in done)} with reproduced results (results/reproduced/)")
    foot = ["", "make <cell>: train it; make eval-<cell> [MODEL=<id>]: run its benchmarks; make verify: compare.",
            "Benchmark entry points not implemented yet:" if pending_targets else "Every benchmark entry point exists."]
    foot += [f"  {t}" for t in pending_targets]
    open_parts = [f"  {b.target} ({b.id}): {b.open}" for b in registry.benchmarks.values() if b.open]
    if open_parts:
        foot += ["Protocol parts no source gives (our choice, a parameter of the entry point):", *open_parts]
    table = text_table(("cell", "papers", "train", "eval", "reproduced"), rows)
    return "\n".join([head, "", table, *foot])


def markdown_cells(registry: Registry) -> str:
    """The cells table of the README's "Reproducing a table" (tests/test_cells.py keeps the README in sync)."""
    rows = []
    for c in registry.cells.values():
        command = {"config": f"`make {c.id}`", "none": "(released model)"}.get(c.train, c.train_status)
        rows.append((f"`{c.id}`", " ".join(c.tables), command, f"`{c.released}`" if c.released else "-",
                     ", ".join(e.benchmark.id for e in c.evals)))
    return markdown_table(("cell", "tables", "train", "released checkpoint", "benchmarks (`make eval-<cell>`)"), rows)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv not in (["list"], ["table"]):
        print(__doc__)
        return 0 if argv in ([], ["-h"], ["--help"]) else 2
    try:
        registry = load_registry()
        reproduced = load_reproduced(cell_ids=set(registry.cells))
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(list_cells(registry, reproduced, defined_make_targets()) if argv == ["list"] else markdown_cells(registry))
    return 0


if __name__ == "__main__":
    sys.exit(main())
