"""Open LLM Leaderboard task suites through lm-evaluation-harness (pinned 0.4.13), one result file per model.

    run_lmeval(model="outputs/mistral-instruct/amapo", out=Path(".../open-llm-leaderboard.json"),
               suite="leaderboard-v2")

The task lists and few-shot counts are data (eval/lmeval/suites.yaml, or any YAML of the same shape); TASKS
replaces a suite's tasks (with --include_path for local task YAMLs, e.g. `dataset_path: json` tasks, which run
offline). The model is loaded once (lm-eval's "hf" model, or "vllm" on a GPU) and evaluated per task with
`lm_eval.simple_evaluate`; each task's leaderboard metric is reported in %, with its standard error, and the
unweighted mean over the tasks as `average`. The papers' lm-eval 0.4.5 does not import with transformers 5
(AutoModelForVision2Seq is gone), hence 0.4.13; the raw lm-eval output is kept beside the result.
"""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml

from prefopt.core.errors import InputError
from prefopt.modeling.loading import check_local, resolve

from .machine import check_model_fits
from .report import write_result

BENCHMARK = "open-llm-leaderboard"
SUITES_FILE = Path(__file__).resolve().parents[2] / "eval" / "lmeval" / "suites.yaml"
BACKENDS = ("hf", "vllm")


@dataclass(frozen=True)
class TaskSpec:
    task: str
    num_fewshot: int | None
    metric: str  # lm-eval's "<metric>,<filter>" key


@dataclass(frozen=True)
class Suite:
    name: str
    tasks: list[TaskSpec]
    apply_chat_template: bool = False
    fewshot_as_multiturn: bool = False
    source: Path | None = None


def load_suite(suite: str | None, tasks: str | None = None, num_fewshot: int | None = None,
               metric: str = "acc,none", suites_file: Path = SUITES_FILE) -> Suite:
    """A suite by name (from `suites_file`) or by YAML file (`file.yaml`: its first suite; `file.yaml:name`);
    `tasks` ("a,b") replaces its task list (each with
    `num_fewshot` and `metric`). Without a suite, `tasks` alone makes an ad-hoc suite."""
    if not suite and not tasks:
        raise InputError("give SUITE=leaderboard-v1|leaderboard-v2|<suite.yaml> or TASKS=<task,...>", where="SUITE")
    base = Suite(name="custom", tasks=[])
    if suite:
        # SUITE=<name> of suites_file, or <file.yaml> (its first suite), or <file.yaml>:<name>
        file_part, _, name = suite.partition(".yaml")
        path, name = (Path(file_part + ".yaml"), name.removeprefix(":")) if _ else (suites_file, suite)
        if not path.exists():
            raise InputError(f"suite file {path} not found", where="SUITE", fix="a YAML of eval/lmeval/suites.yaml's shape")
        table = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        name = name or next(iter(table), "")
        if name not in table:
            raise InputError(f"unknown suite {name!r}", where="SUITE", fix=f"one of {', '.join(table)}")
        entry = table[name]
        try:
            specs = [TaskSpec(t["task"], t.get("num_fewshot"), t.get("metric", metric)) for t in entry["tasks"]]
        except (KeyError, TypeError) as e:
            raise InputError(f"suite {name!r} is malformed ({e})", where=str(path),
                             fix="tasks: [{task: <name>, num_fewshot: <n|null>, metric: '<metric>,<filter>'}]") from None
        base = Suite(name, specs, bool(entry.get("apply_chat_template", False)),
                     bool(entry.get("fewshot_as_multiturn", False)), path)
    if tasks:
        specs = [TaskSpec(t.strip(), num_fewshot, metric) for t in tasks.split(",") if t.strip()]
        base = Suite(base.name if suite else "custom", specs, base.apply_chat_template, base.fewshot_as_multiturn,
                     base.source)
    return base


def task_score(results: dict, group_subtasks: dict, task: str, metric: str) -> tuple[float, float | None]:
    """(score, standard error) of `task` in % from lm-eval's output.

    A task or a group with an aggregate reports results[task][metric] and its "<name>_stderr,<filter>". A group
    without one (e.g. leaderboard_instruction_following) gets the unweighted mean of its subtasks' values, with no
    standard error.
    """
    name, _, filt = metric.partition(",")
    stderr_key = f"{name}_stderr,{filt}" if filt else f"{name}_stderr"
    row = results.get(task, {})
    if isinstance(row.get(metric), (int, float)):
        se = row.get(stderr_key)
        return 100.0 * row[metric], (100.0 * se if isinstance(se, (int, float)) else None)
    subs = [results[s][metric] for s in group_subtasks.get(task, []) if isinstance(results.get(s, {}).get(metric), (int, float))]
    if not subs:
        raise InputError(f"lm-eval reported no {metric!r} for {task!r} (it has: {sorted(row)})", where="SUITE",
                         fix="set the task's metric in the suite YAML to one lm-eval reports")
    return 100.0 * sum(subs) / len(subs), None


def _check_tasks(names: list[str], include_path: str | None):
    """The TaskManager that knows every name (the local folder alone when it suffices: indexing lm-eval's 14,000
    built-in configs takes ~20 s), or an InputError naming the unknown tasks, before the model is loaded."""
    from lm_eval.tasks import TaskManager  # noqa: PLC0415

    if include_path:
        if not Path(include_path).is_dir():
            raise InputError(f"include path {include_path} is not a folder", where="INCLUDE_PATH")
        local = TaskManager(include_path=include_path, include_defaults=False)
        if all(n in local.all_tasks for n in names):
            return local
    manager = TaskManager(include_path=include_path)
    unknown = [n for n in names if n not in manager.all_tasks]
    if unknown:
        raise InputError(f"lm-eval {_version('lm_eval')} knows no task {unknown}", where="TASKS",
                         fix="check the name under lm_eval/tasks, or pass INCLUDE_PATH=<folder of task YAMLs>")
    return manager


def _version(pkg: str) -> str | None:
    try:
        return md.version(pkg.replace("_", "-"))
    except md.PackageNotFoundError:
        return None


def make_lm(model: str, backend: str, dtype: str, batch_size: int | str):
    """lm-eval's model object, built once and reused for every task of the run."""
    from lm_eval.api.registry import get_model  # noqa: PLC0415


    path = resolve(model)
    check_local(path, "MODEL")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        return get_model(backend).create_from_arg_string(f"pretrained={path},dtype={dtype}",
                                                         {"batch_size": batch_size, "device": device})
    except OSError as e:
        raise InputError(f"cannot load {model!r}: {str(e).splitlines()[0][:300]}", where="MODEL",
                         fix="a local folder, or a hub id downloaded while online") from None


def run_lmeval(*, model: str, out: Path, suite: str | None = None, tasks: str | None = None,
               include_path: str | None = None, num_fewshot: int | None = None, metric: str = "acc,none",
               limit: int | None = None, backend: str = "hf", dtype: str = "auto", batch_size: int | str = 8,
               cell: str | None = None, template: str | None = None, allow_large: bool = False) -> dict:
    if importlib.util.find_spec("lm_eval") is None:
        raise InputError("lm-eval is not installed", fix="pip install -r requirements/eval.txt (lm-eval[hf]==0.4.13)")
    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}", where="BACKEND", fix=f"one of {BACKENDS}")
    if backend == "vllm" and importlib.util.find_spec("vllm") is None:
        raise InputError("BACKEND=vllm but vllm is not installed", where="BACKEND",
                         fix="make setup-gpu on a CUDA machine (pip install vllm), or BACKEND=hf")
    spec = load_suite(suite, tasks, num_fewshot, metric)
    manager = _check_tasks([t.task for t in spec.tasks], include_path)
    check_model_fits(model, allow_large)
    import lm_eval  # noqa: PLC0415

    lm = make_lm(model, backend, dtype, batch_size)
    work = out.parent / BENCHMARK
    work.mkdir(parents=True, exist_ok=True)
    metrics, per_task = {}, {}
    for t in spec.tasks:
        try:
            res = lm_eval.simple_evaluate(
                model=lm, tasks=[t.task], num_fewshot=t.num_fewshot, limit=limit, task_manager=manager,
                apply_chat_template=spec.apply_chat_template, fewshot_as_multiturn=spec.fewshot_as_multiturn,
                log_samples=False)
        except ConnectionError as e:  # offline and the task's data set is not in the datasets cache
            raise InputError(f"task {t.task}: its data cannot be fetched ({str(e).splitlines()[0][:200]})",
                             where="TASKS", fix="run once with network access (HF_DATASETS_OFFLINE=0) to cache the "
                             "data set, or use local task YAMLs (dataset_path: json) with INCLUDE_PATH") from None
        (work / f"{t.task}.json").write_text(json.dumps({k: res.get(k) for k in ("results", "group_subtasks",
                                                         "configs", "n-shot", "versions")}, indent=1, default=str))
        score, se = task_score(res["results"], res.get("group_subtasks", {}), t.task, t.metric)
        metrics[t.task] = score
        if se is not None:
            metrics[f"{t.task}_se"] = se
        per_task[t.task] = {"metric": t.metric, "num_fewshot": t.num_fewshot, "score": score, "se": se}
    scores = [per_task[t.task]["score"] for t in spec.tasks]
    metrics["average"] = sum(scores) / len(scores)
    data_files = [spec.source] if spec.source else []
    if include_path:
        data_files += sorted(Path(include_path).glob("*.yaml"))
    details = {"suite": spec.name, "tasks": per_task, "limit": limit, "backend": backend, "dtype": dtype,
               "apply_chat_template": spec.apply_chat_template, "fewshot_as_multiturn": spec.fewshot_as_multiturn,
               "units": "% (lm-eval value x 100)", "average": "unweighted mean of the task scores"}
    return write_result(out, benchmark=BENCHMARK, cell=cell, metrics=metrics, model=model, judge=None,
                        generation=None, template=template, data_files=data_files, details=details,
                        lm_eval_version=_version("lm_eval"))
