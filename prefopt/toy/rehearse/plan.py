"""What `make rehearse-<cell>` runs for one cell: the chain before it, its own rule three times (uninterrupted,
killed after its first checkpoint, resumed), and its eval targets; plus the path key that groups cells.

Every command is the repository's own: `make <cell>` (the cell's accelerate launch), `make onpolicy-<setting>`,
the eval entry points with the cell's TEMPLATE and GENERATION, and `accelerate launch --config_file <the cell's
config>` for a chain stage that has no make target (SamS pretraining, Pythia's SFT stage). The rehearsal adds only
make variables and `--key=value` overrides (prefopt.toy.rehearse.shrink) and two processes.
"""

from __future__ import annotations

import dataclasses
import math
import re
import shlex
import sys
from functools import cache
from pathlib import Path

import yaml

from prefopt.config import PreferenceConfig, get_method
from prefopt.config.reward import RewardConfig
from prefopt.core.paths import REPO_ROOT
from prefopt.reproduce.cells import Cell, Registry, defined_make_targets, issue_text
from prefopt.toy.rehearsal_data import HUB_ROWS
from prefopt.training.dispatch import config_class

from . import shrink

PROCESSES = shrink.PROCESSES
EVAL = {"JUDGE": "rule:length", "LIMIT": "2", "MAX_NEW_TOKENS": "16"}  # offline judge, 2 prompts, short answers
# Per-target extras: AlpacaEval's judges are its annotators or a model (hf:<model>, here a miniature); a few rows
# for the entry points that have no LIMIT variable.
# RM-Bench tokenizes by its own lengths (512 / 256), not the policy's: capped like the training (its 3 batches of
# long responses took 66 s of llama3-base-sft's 144 s with the 128k vocabulary).
EVAL_EXTRA = {"eval-alpaca": {"JUDGE": "hf:meta-llama/Meta-Llama-3-8B-Instruct"},
              "eval-pref-accuracy": {"PREFACC_ARGS": "--limit 4"}, "eval-rm": {"EVAL_RM_ARGS": "--limit 4"},
              "eval-rmbench": {"RMBENCH_ARGS": f"--limit 2 --max_length {shrink.MAX_LENGTH} "
                                               f"--max_prompt_length {shrink.MAX_PROMPT_LENGTH}"},
              "eval-rm-score": {"EVAL_RM_SCORE_ARGS": "--limit 2"}}
# Why an eval target cannot run offline (not a defect of the project): target -> reason.
OFFLINE_ONLY = {
    "eval-lmeval": "lm-eval's tasks download their datasets from the hub (open-llm-leaderboard); no copy is "
                   "available offline",
    "eval-zeroeval": "ZeroEval's GSM8K / MMLU-Redux rows are the hub dataset yuchenlin/zero-eval; no copy is "
                     "available offline and none of the shared data has math or multiple-choice rows to stand in",
}
# On-policy data at the miniature's scale: the first 24 of the 48 mirrored prompts (12 of them UltraFeedback test
# prompts: both splits of the binarized set stay filled), 2 seeds, 16 new tokens, decoded by transformers. Sampling
# over Gemma-2's 256k vocabulary costs about 0.9 s a token for a batch of 16 on 2 cores (top-p sorts the vocabulary).
# PairRM (llm-blender's DeBERTa ranker) has no miniature: those settings are scored by the ArmoRM miniature.
ONPOLICY_DECODE = "--limit 24 --seeds 13 21 --max_new_tokens 16 --backend hf --batch_size 16"
ONPOLICY_RM = "RLHFlow/ArmoRM-Llama3-8B-v0.1"
TESTING_RM = "outputs/llama-7b-hh-rm/rm-base"  # written by hh-base-rm's rehearsal (a stage of the APO policies)
RJS_SHRINK = {"max_queries": 4, "num_samples": 2, "max_new_tokens": 16, "batch_size": 4, "rm_batch_size": 4}
_PREPARE = re.compile(r"^# Data: python (scripts/prepare_pref_data\.py) (\S+) (data/\S+)", re.M)


@dataclasses.dataclass
class Step:
    name: str
    kind: str                       # prepare | train | kill | resume | onpolicy | eval
    argv: list[str]
    output_dir: str | None = None   # the run folder a training step writes
    skip: str | None = None         # why this step is not run (a pending or online-only eval target)
    benchmark: str | None = None


@dataclasses.dataclass
class CellPlan:
    cell: Cell
    raw: dict                      # the cell's config as written
    kind: str                      # pairs | kto | sft | rm
    family: str                    # loss family of the path key
    launcher: dict                 # config, distributed type, ZeRO stage, precision, processes
    changes: dict                  # key -> (config value, rehearsal value, why)
    steps: list[Step]
    cluster: dict                  # what `make <cell>` does on the real cluster

    @property
    def path(self) -> tuple:
        """setting x loss family x launcher x benchmarks: cells with the same key run the same code path."""
        return (self.cell.setting, self.family, self.cell.accelerate_config,
                tuple(e.benchmark.id for e in self.cell.evals))


def read_config(path: str | Path) -> dict:
    return yaml.safe_load((REPO_ROOT / path).read_text(encoding="utf-8")) or {}


def config_kind(raw: dict) -> str:
    cls = config_class(raw)
    if cls is RewardConfig:
        return "rm"
    if cls is PreferenceConfig:
        return "kto" if raw["loss"] == "kto" else "pairs"
    return "sft"


def loss_family(raw: dict, kind: str) -> str:
    """The code path of the loss: SFT, reward model, TRL's KTO, or a pairwise loss by what it needs (a reference,
    running state) plus its sample scheduler."""
    if kind != "pairs":
        return {"sft": "sft", "rm": f"reward model ({raw.get('task_type', 'rm')})", "kto": "kto (TRL)"}[kind]
    spec = get_method(raw["loss"]).loss
    family = "stateful reference-free" if spec.stateful else \
        "reference-based" if spec.needs_reference else "reference-free"
    if raw["loss"] == "kto_pair":  # KTO's value function with a batch reference point: its own path, unlike DPO's
        family = "kto_pair (reference-based)"
    scheduler = (raw.get("sample_scheduler") or {}).get("name")
    selection = " + data selection" if raw.get("data_selection") else ""  # reference runs before the run
    return f"pairwise {family}" + (f" + {scheduler} scheduler" if scheduler else "") + selection


def launcher_of(accelerate_config: str) -> dict:
    acc = read_config(accelerate_config)
    ds = acc.get("deepspeed_config") or {}
    return {"config": accelerate_config, "type": acc.get("distributed_type"), "zero_stage": ds.get("zero_stage"),
            "offload": ds.get("offload_optimizer_device") not in (None, "none"),
            "mixed_precision": acc.get("mixed_precision"), "processes": PROCESSES,
            "cluster_processes": acc.get("num_processes", 1) * acc.get("num_machines", 1)}


@cache
def producers() -> dict[str, str]:
    """output_dir -> the training config that writes it (chains: SamS pretraining, Pythia's SFT, APO's RMs)."""
    out = {}
    for path in sorted((REPO_ROOT / "training_configs").glob("*/*.yaml")):
        if path.parent.name != "tiny":
            out.setdefault(read_config(path).get("output_dir"), str(path.relative_to(REPO_ROOT)))
    return out


def cluster_summary(raw: dict, kind: str, launcher: dict) -> dict:
    """What the real run does: global batch, steps and tokens (from the hub split sizes where known), checkpoints
    and where they go."""
    n = launcher["cluster_processes"]
    batch = raw.get("per_device_train_batch_size", 8) * n * raw.get("gradient_accumulation_steps", 1)
    rows = HUB_ROWS.get(raw.get("dataset"), {}).get(raw.get("train_split", "train"))
    examples = rows * (2 if kind == "kto" else 1) if rows else None  # KTO counts unpaired examples
    epochs = raw.get("num_train_epochs", 1)
    steps = math.ceil(examples / batch) * epochs if examples else None
    per_example = raw.get("max_length", 1024) * (2 if kind == "pairs" else 1)
    save = raw.get("save_steps") if raw.get("save_strategy", "steps") == "steps" else None
    return {"gpus": n, "global_batch": batch, "train_rows": rows, "epochs": epochs, "steps": steps,
            "max_tokens": steps * batch * per_example if steps else None,
            "checkpoints": (steps // save if save and steps else epochs if not save else None),
            "output_dir": raw.get("output_dir"), "precision": launcher["mixed_precision"],
            "dtype": raw.get("torch_dtype")}


def summary_text(cell_id: str, c: dict) -> str:
    rows = f"{c['train_rows']:,} rows" if c["train_rows"] else "rows unknown offline"
    steps = f"about {c['steps']:,} steps" if c["steps"] else "steps unknown"
    tokens = f", at most {c['max_tokens'] / 1e9:.2f}B tokens" if c["max_tokens"] else ""
    return (f"{cell_id} on the cluster: {c['gpus']} GPUs, global batch {c['global_batch']}, {rows} x {c['epochs']} "
            f"epoch(s) = {steps}{tokens}; {c['checkpoints'] or 'no'} checkpoint(s) in {c['output_dir']}; "
            f"{c['precision']} mixed precision over {c['dtype']} weights")


# ------------------------------------------------------------------------------------------------------------
# commands
# ------------------------------------------------------------------------------------------------------------
def accelerate_bin() -> str:
    return str(Path(sys.executable).parent / "accelerate")


def launch_args() -> str:
    # the port is filled in by the runner (a free one per launch)
    return f"--num_processes={PROCESSES} --main_process_port={{port}}"


def make_train(cell: Cell, words: list[str], extra: dict | None = None) -> list[str]:
    return ["make", "--no-print-directory", cell.id, f"ARGS={shrink.make_value(words)}",
            f"LAUNCH_ARGS={launch_args()}", f"ACCELERATE={accelerate_bin()}",
            *(f"{k}={v}" for k, v in (extra or {}).items())]


def accelerate_run(accelerate_config: str, config: str, words: list[str]) -> list[str]:
    script = {"rm": "scripts/run_rm.py", "sft": "scripts/run_sft.py"}.get(config_kind(read_config(config)),
                                                                         "scripts/run_po.py")
    return [accelerate_bin(), "launch", "--config_file", accelerate_config, *launch_args().split(), script, config,
            *words]


def stage_steps(config: str, accelerate_config: str, root: Path, done: set[str]) -> list[Step]:
    """The chain that produces `config`'s inputs (recursively), then `config` itself, once per rehearsal."""
    raw = read_config(config)
    steps: list[Step] = []
    for step in upstream_steps(raw, accelerate_config, root, done):
        steps.append(step)
    out = str(root / raw["output_dir"])
    if out not in done:
        done.add(out)
        words = shrink.as_words(shrink.overrides(raw, root, out))
        steps.append(Step(f"stage {config}", "train", accelerate_run(accelerate_config, config, words), out))
    return steps


def upstream_steps(raw: dict, accelerate_config: str, root: Path, done: set[str]) -> list[Step]:
    """Stages a config reads the output of: a prepared data folder, a model or scheduler of an earlier run."""
    steps: list[Step] = []
    config_text = ""
    for key in ("dataset", "eval_dataset"):
        value = raw.get(key) or ""
        if value.startswith("data/") and not value.startswith("data/apo/"):
            config_text = config_text or _text_of_config_reading(value)
            m = _PREPARE.search(config_text)
            if m and str(root / m.group(3)) not in done:
                done.add(str(root / m.group(3)))
                steps.append(Step(f"prepare {m.group(3)}", "prepare",
                                  [sys.executable, m.group(1), m.group(2), str(root / m.group(3)), "--limit", "32"]))
    for value in (raw.get("model_name_or_path"), (raw.get("sample_scheduler") or {}).get("init_from")):
        if value and value.startswith("outputs/") and value in producers():
            steps += stage_steps(producers()[value], accelerate_config, root, done)
    return steps


def _text_of_config_reading(dataset: str) -> str:
    """The text of a config that reads `dataset` and says how it is made (its `# Data:` line)."""
    for path in sorted((REPO_ROOT / "training_configs").glob("*/*.yaml")):
        text = path.read_text(encoding="utf-8")
        if _PREPARE.search(text) and dataset.startswith(_PREPARE.search(text).group(3)):
            return text
    return ""


def rjs_vars(raw: dict, root: Path, registry: Registry, done: set[str]) -> tuple[dict, list[Step]]:
    """The rejection-sampling data of an APO policy cell (the Makefile's rjs-data rule), shrunk and relocated,
    and the reward-model cell it scores with."""
    sampling = next(c for c in map(read_config, sorted((REPO_ROOT / "sampling_configs").glob("*/*.yaml")))
                    if c.get("output_dir") == raw["dataset"])
    rm = sampling["reward_model"]
    rm_cell = next(c for c in registry.cells.values() if c.output_dir == rm)
    steps = stage_steps(rm_cell.config, rm_cell.accelerate_config, root, done)
    args = {"output_dir": str(root / sampling["output_dir"]), "reward_model": str(root / rm), **RJS_SHRINK}
    return {"RJS_DATA": str(root / "outputs/alpaca-7b-hh/rjs-data"),
            "RJS_ARGS": " ".join(shlex.quote(f"--{k}={v}") for k, v in args.items())}, steps


def onpolicy_steps(cell: Cell, registry: Registry, root: Path, words: list[str]) -> list[Step]:
    """`make onpolicy-<setting>` at the miniature's scale, then the cell trained on the data it wrote."""
    recipe = registry.onpolicy[cell.setting]
    annotate = "--kind seq-cls" + ("" if recipe.reward_model["model"] == ONPOLICY_RM else f" --reward_model {ONPOLICY_RM}")
    work = root / "outputs/onpolicy"
    make = ["make", "--no-print-directory", f"onpolicy-{cell.setting}", f"ONPOLICY_DIR={work}",
            f"DECODE_ARGS={ONPOLICY_DECODE}", f"ANNOTATE_ARGS={annotate}"]
    dataset = work / cell.setting / "dataset"
    out = str(root / cell.output_dir) + "-onpolicy"
    train = make_train(cell, [*words, f"--dataset={dataset}", f"--output_dir={out}"])
    return [Step(f"onpolicy-{cell.setting}", "onpolicy", make),
            Step("train on the on-policy data", "train", train, out)]


def eval_steps(evals: list, model: str, root: Path) -> list[Step]:
    """Each (cell, benchmark) of `evals` as `make eval-<cell>` calls its entry point, on the rehearsal's model
    with the offline judge. A step's output_dir is the OUT folder its result goes to."""
    defined = defined_make_targets()
    steps = []
    for cell, e in evals:
        out = root / "results" / cell.id
        argv = ["make", "--no-print-directory", e.target, f"MODEL={model}", f"CELL={cell.id}", f"OUT={out}",
                *shlex.split(e.make_vars), *(f"{k}={v}" for k, v in {**EVAL, **EVAL_EXTRA.get(e.target, {})}.items())]
        if e.target == "eval-rm-score":  # APO's testing RM: the rehearsal's base RM stands in for it
            argv.append(f"RM={root / TESTING_RM}")
        skip = (f"not implemented yet ({issue_text(e.benchmark.issue, short=True)})" if e.target not in defined
                else OFFLINE_ONLY.get(e.target))
        steps.append(Step(f"eval {e.benchmark.id}", "eval", argv, str(out), skip=skip, benchmark=e.benchmark.id))
    return steps


def plan_cell(cell: Cell, registry: Registry, root: Path, *, resume: bool = True, onpolicy: bool = False,
              done: set[str] | None = None, evals: list | None = None) -> CellPlan:
    """Every step of one cell's rehearsal, in order. `done` holds the stages already planned in this rehearsal;
    `evals` the (cell, EvalSpec) pairs to run on its model (default: the cell's own benchmarks)."""
    done = set() if done is None else done
    raw = read_config(cell.config)
    kind = config_kind(raw)
    launcher = launcher_of(cell.accelerate_config)
    full = str(root / cell.output_dir)
    changes = shrink.overrides(raw, root, full)
    words = shrink.as_words(changes)
    steps: list[Step] = []
    extra: dict = {}
    if cell.script == "scripts/run_sft.py" and str(raw.get("dataset", "")).startswith("outputs/") and \
            "rjs-data" in raw["dataset"]:  # APO's policies: the Makefile's rjs-data rule writes their data
        extra, rjs = rjs_vars(raw, root, registry, done)
        steps += rjs
    steps += upstream_steps(raw, cell.accelerate_config, root, done)
    done.add(full)
    steps.append(Step("train (uninterrupted)", "train", make_train(cell, words, extra), full))
    if resume:
        cut = full + "-resumed"
        cut_words = shrink.as_words({**changes, "output_dir": (None, cut, "relocate")})
        steps.append(Step(f"train, killed after step {shrink.KILL_AT_STEP}", "kill", make_train(cell, cut_words, extra), cut))
        steps.append(Step("resume under the same launcher", "resume", make_train(cell, cut_words, extra), cut))
    if onpolicy:
        steps += onpolicy_steps(cell, registry, root, words)
    steps += eval_steps([(cell, e) for e in cell.evals] if evals is None else evals, full, root)
    return CellPlan(cell, raw, kind, loss_family(raw, kind), launcher, changes, steps,
                    cluster_summary(raw, kind, launcher))


def trainable(registry: Registry) -> list[Cell]:
    return [c for c in registry.cells.values() if c.train == "config"]


def paths(plans: list[CellPlan]) -> dict[tuple, list[str]]:
    """Path key -> the cells that share it, registry order; the first is the one `make rehearse` runs."""
    out: dict[tuple, list[str]] = {}
    for p in plans:
        out.setdefault(p.path, []).append(p.cell.id)
    return out


def training_path(p: CellPlan) -> tuple:
    """setting x loss family x launcher: what one training run exercises (the path without its benchmarks)."""
    return p.path[:3]


def coverage(registry: Registry, root: Path) -> list[CellPlan]:
    """`make rehearse`: every path covered at the least cost. One cell per training path trains; the kill and
    resume run on the first cell of each launcher x loss family (the resume code depends on those, not on the
    architecture); each benchmark of a setting is evaluated once, on a model of that setting (its TEMPLATE and
    GENERATION are the setting's)."""
    reps: dict[tuple, Cell] = {}
    for cell in trainable(registry):
        reps.setdefault(training_path(plan_cell(cell, registry, root)), cell)
    resumed: set[tuple] = set()
    evaluated: set[tuple] = set()
    wanted: dict[str, list] = {}  # setting -> (cell, EvalSpec) of every benchmark of the setting, first cell first
    for cell in trainable(registry):
        for e in cell.evals:
            if (cell.setting, e.benchmark.id) not in evaluated:
                evaluated.add((cell.setting, e.benchmark.id))
                wanted.setdefault(cell.setting, []).append((cell, e))
    plans, done, first_of_setting = [], set(), set()
    onpolicy = {next(c.id for c in reps.values() if c.setting == s) for s in registry.onpolicy
                if any(c.setting == s for c in reps.values())}
    for key, cell in reps.items():
        resume_key = (key[2], key[1])
        evals = wanted.pop(cell.setting, []) if cell.setting not in first_of_setting else []
        first_of_setting.add(cell.setting)
        plans.append(plan_cell(cell, registry, root, resume=resume_key not in resumed, onpolicy=cell.id in onpolicy,
                               done=done, evals=evals))
        resumed.add(resume_key)
    return plans
