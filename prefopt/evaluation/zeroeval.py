"""`make eval-zeroeval`: ZeroEval's zero-shot GSM8K and MMLU-Redux (the SimPO README's Gemma table, "GSM" and "MMLU").

    run_zeroeval(model="outputs/gemma2-9b-it/simpo", tasks=["gsm8k", "mmlu"], out_dir=Path("results/reproduced/x"),
                 data="/data/zero-eval", template="gemma")
    make eval-zeroeval MODEL=princeton-nlp/gemma-2-9b-it-SimPO TASKS=gsm8k,mmlu TEMPLATE=gemma DATA=<zero-eval copy>

Protocol (yuchenlin/ZeroEval as of 2024-07-17, the day the Gemma table was added to SimPO's README):
- Data: the hub dataset `yuchenlin/zero-eval`, config `gsm` (GSM8K's 1,319 test questions; `answer` = "# 18") and
  config `mmlu-redux` (2,778 MMLU-Redux questions: those whose ground truth MMLU-Redux marks as ok, plus the
  corrected ones; `choices`, `correct_answer` = the correct choice's text), split `test`. Offline, DATA is a local
  copy: a folder with `gsm/` and `mmlu-redux/` (a hub snapshot, `hf download --repo-type dataset
  yuchenlin/zero-eval --local-dir DIR`) or files `gsm.jsonl`, `mmlu-redux.jsonl`. GSM8K's own rows
  (`openai/gsm8k`, answer "...#### 18") and MMLU-Redux's raw rows (`edinburgh-dawg/mmlu-redux`: `answer` index and
  `error_type`, filtered as ZeroEval's data_prep/mmlu-redux.py does) are accepted too.
- Prompt: one user turn, ZeroEval's templates (src/templates/OEQA.py, MCQA.py) rendered with the model's chat
  template (TEMPLATE); no system prompt, no few-shot examples.
- Decoding (scripts/_common_eval.sh): greedy, 4096 new tokens (GENERATION=zeroeval-default); answers stop at the
  tokenizer's EOS and, as `--use_imend_stop` adds them, at <|im_end|> / <|eot_id|> when the vocabulary has them.
- Extraction and metrics: `prefopt.evaluation.zeroeval_parse` (accuracy and no-answer rate in % of all questions,
  and `length` = ZeroEval's "Reason Lens", the mean characters of the reasoning field).

Writes <out_dir>/<task>.json per task (benchmark ids `gsm8k`, `mmlu`) and, beside it, <out_dir>/<task>/answers.jsonl
(resumable) and parsed.jsonl (each question's extracted answer and verdict).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import datasets

from prefopt.core.errors import InputError
from prefopt.data.files import SUFFIXES, load_rows

from .answers import Question, generate_answers, load_policy
from .machine import check_model_fits
from .report import source_files, write_result
from .settings import GenerationSettings, parse_generation
from .zeroeval_parse import JSON_PICKS, LETTERS, score_gsm, score_mcqa, summarize

HUB_ID = "yuchenlin/zero-eval"
DEFAULT_GENERATION = "zeroeval-default"
IMEND_TOKENS = ("<|im_end|>", "<|eot_id|>")  # what ZeroEval's --use_imend_stop adds as stop tokens

# ZeroEval's prompt templates (src/templates/OEQA.py, MCQA.py) character for character, trailing spaces included:
# written line by line so that no editor strips them.
_ANSWER_FORMAT = ["Present your reasoning and solution in the following json format. "]
_JSON_BLOCK = ["", "```json", "{", '    "reasoning": "___",', '    "answer": "___"', "}", "```", ""]
OEQA_PROMPT = "\n".join(
    ["", "## Question: ", "", "{question}", "", "", "## Instruction ", "",
     "Please answer this question by first reasoning and then providing your answer.", *_ANSWER_FORMAT,
     'Please show your final answer in the `answer` field, e.g.,`"answer": "42"`.', *_JSON_BLOCK])
MCQA_PROMPT = "\n".join(
    ["", "## Question: ", "", "{question}", "", "## Choices:", "", "{choices}", "", "## Instruction ", "",
     "Please answer this question by first reasoning and then selecting the correct choice. ", *_ANSWER_FORMAT,
     'Please show your choice in the `answer` field with only the choice letter, e.g.,`"answer": "C"`.', *_JSON_BLOCK])


@dataclass(frozen=True)
class Task:
    benchmark: str   # our benchmark id (results/cells.yaml)
    config: str      # the zero-eval hub config, and the name of its local copy
    size: int        # questions of the full set (a smaller local set is reported, not refused)


TASKS = {"gsm8k": Task("gsm8k", "gsm", 1319), "mmlu": Task("mmlu", "mmlu-redux", 2778)}


@dataclass(frozen=True)
class Item:
    id: str
    question: str
    reference: str                   # gsm8k: the reference answer; mmlu: the correct choice's text
    choices: tuple[str, ...] = ()


# --- prompts -------------------------------------------------------------------------------------------------

def prompt_of(item: Item) -> str:
    """The user turn ZeroEval sends (templates are filled with str.replace, as ZeroEval does)."""
    if not item.choices:
        return OEQA_PROMPT.replace("{question}", item.question)
    lines = "".join(f"- ({LETTERS[i]}) {c}\n" for i, c in enumerate(item.choices))
    return MCQA_PROMPT.replace("{question}", item.question).replace("{choices}", lines)


# --- data ----------------------------------------------------------------------------------------------------

def task_source(task: Task, data: str | Path | None) -> str:
    """The local copy of `task` inside DATA (a folder <config>/ or a file <config>.<ext>), or the hub id."""
    if data is None:
        return HUB_ID
    data = Path(data)
    if not data.is_dir():
        raise InputError(f"DATA={data} is not a folder", where="DATA",
                         fix=f"a local copy of {HUB_ID} with {TASKS['gsm8k'].config}/ and {TASKS['mmlu'].config}/ "
                         f"(hf download --repo-type dataset {HUB_ID} --local-dir DIR)")
    for candidate in [data / task.config, *(data / f"{task.config}{s}" for s in SUFFIXES)]:
        if candidate.exists():
            return str(candidate)
    raise InputError(f"no {task.config!r} data for task {task.benchmark} in {data}", where="DATA",
                     fix=f"put {HUB_ID}'s config {task.config!r} there as {task.config}/ (hub snapshot) or "
                     f"{task.config}.jsonl")


def read_task_rows(task: Task, source: str) -> list[dict]:
    if source != HUB_ID:
        return load_rows(source, split="test")
    try:
        return datasets.load_dataset(HUB_ID, task.config, split="test").to_list()
    except Exception as e:  # noqa: BLE001 (offline, not cached: several error types)
        raise InputError(f"{HUB_ID} config {task.config!r} could not be loaded ({str(e).splitlines()[0][:160]})",
                         where="DATA", fix=f"pass DATA=<a local copy of {HUB_ID}> (hf download --repo-type dataset "
                         f"{HUB_ID} --local-dir DIR, on a machine with internet)") from None


def _text(row: dict, key: str, where: str) -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"field {key!r} is missing or not a non-empty string", where=where,
                         fix="zero-eval rows: gsm {id, question, answer}; mmlu-redux {id, question, choices, "
                         "correct_answer}")
    return value


def gsm_item(row: dict, i: int, where: str) -> Item:
    return Item(str(row.get("id", f"gsm#{i}")), _text(row, "question", where), _text(row, "answer", where))


def mmlu_item(row: dict, i: int, where: str) -> Item | None:
    """A zero-eval mmlu-redux row; a raw MMLU-Redux row is converted as ZeroEval's data_prep does (None: left out,
    as ZeroEval leaves out questions with several or no correct answers)."""
    choices = row.get("choices")
    if not isinstance(choices, list) or not choices or not all(isinstance(c, str) for c in choices):
        raise InputError("field 'choices' is missing or not a list of strings", where=where,
                         fix="mmlu-redux rows need choices: [text, ...] and correct_answer: one of them")
    correct = row.get("correct_answer")
    if "error_type" in row:  # edinburgh-dawg/mmlu-redux
        if row["error_type"] == "ok":
            correct = choices[int(row["answer"])]
        elif row["error_type"] == "wrong_groundtruth" and correct in list("ABCDEF")[: len(choices)]:
            correct = choices["ABCDEF".index(correct)]
        else:
            return None
    elif correct is None and isinstance(row.get("answer"), int):  # cais/mmlu-style index
        correct = choices[row["answer"]]
    if correct not in choices:
        raise InputError(f"correct answer {correct!r} is not one of the choices", where=where,
                         fix="correct_answer must be the text of the correct choice")
    return Item(str(row.get("id", f"mmlu-redux#{i}")), _text(row, "question", where), correct, tuple(choices))


def load_items(task: Task, data: str | Path | None) -> tuple[list[Item], str, int]:
    """(items, source, rows left out by the MMLU-Redux filter)."""
    source = task_source(task, data)
    rows = read_task_rows(task, source)
    items, left_out = [], 0
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise InputError(f"row is a {type(row).__name__}, not a mapping of columns", where=f"{source}:row {i + 1}")
        where = f"{source}:row {i + 1}"
        item = gsm_item(row, i, where) if task.benchmark == "gsm8k" else mmlu_item(row, i, where)
        if item is None:
            left_out += 1
        else:
            items.append(item)
    if not items:
        raise InputError(f"no {task.benchmark} question left to ask", where=source,
                         fix="check the file: every MMLU-Redux row was left out by the ground-truth filter")
    if len({it.id for it in items}) != len(items):
        raise InputError("question ids are not unique", where=source, fix="give each row its own id")
    return items, source, left_out


# --- the run -------------------------------------------------------------------------------------------------

def with_imend_stop(settings: GenerationSettings, tokenizer) -> GenerationSettings:
    """`settings` plus the ids of <|im_end|> / <|eot_id|> the tokenizer has (ZeroEval's --use_imend_stop)."""
    vocab = tokenizer.get_vocab()
    ids = tuple(vocab[t] for t in IMEND_TOKENS if t in vocab)
    return dataclasses.replace(settings, stop_token_ids=tuple(dict.fromkeys(settings.stop_token_ids + ids)))


def score_item(task: Task, item: Item, output: str, json_pick: str):
    if task.benchmark == "gsm8k":
        return score_gsm(output, item.reference, json_pick)
    return score_mcqa(output, list(item.choices), item.reference, json_pick)


def parse_tasks(tasks: str | list[str]) -> list[Task]:
    names = [t.strip() for t in tasks.split(",")] if isinstance(tasks, str) else list(tasks)
    unknown = [t for t in names if t not in TASKS]
    if unknown or not names:
        raise InputError(f"unknown ZeroEval task(s) {unknown}", where="TASKS", fix=f"a comma-separated subset of {list(TASKS)}")
    return [TASKS[t] for t in names]


def run_zeroeval(*, model: str, tasks, out_dir: Path, data: str | Path | None = None, template: str | None = None,
                 generation: str | None = None, cell: str | None = None, limit: int | None = None,
                 batch_size: int = 16, json_pick: str = "last", allow_large: bool = False) -> dict[str, dict]:
    """Every task of `tasks` on one loaded model; returns {benchmark: the written result}."""
    if json_pick not in JSON_PICKS:
        raise InputError(f"json_pick={json_pick!r}", where="--json_pick", fix=f"one of {JSON_PICKS}")
    chosen = parse_tasks(tasks)
    loaded = {t.benchmark: load_items(t, data) for t in chosen}  # bad data fails before the model loads
    check_model_fits(model, allow_large)
    policy, tok = load_policy(model, template)
    settings = with_imend_stop(parse_generation(generation or DEFAULT_GENERATION), tok)
    results = {}
    for task in chosen:
        items, source, left_out = loaded[task.benchmark]
        items = items[: limit or None]
        work = Path(out_dir) / task.benchmark
        questions = [Question(id=it.id, turns=[prompt_of(it)]) for it in items]
        answers = generate_answers(policy, tok, questions, settings, path=work / "answers.jsonl", batch_size=batch_size)
        scored = [score_item(task, it, answers[it.id][0], json_pick) for it in items]
        _write_parsed(work / "parsed.jsonl", items, scored)
        results[task.benchmark] = _write(task, Path(out_dir) / f"{task.benchmark}.json", scored, source, left_out,
                                         model=model, cell=cell, template=template, settings=settings,
                                         json_pick=json_pick)
    return results


def _write_parsed(path: Path, items: list[Item], scored) -> None:
    with path.open("w", encoding="utf-8") as f:
        for it, s in zip(items, scored, strict=True):
            f.write(json.dumps({"id": it.id, "reference": it.reference, **dataclasses.asdict(s)},
                               ensure_ascii=False) + "\n")


def _write(task: Task, out: Path, scored, source: str, left_out: int, *, model, cell, template, settings,
           json_pick) -> dict:
    row = summarize(scored)
    metrics = {"accuracy": row["accuracy"], "no_answer": row["no_answer"]}
    if row["length"] is not None:  # no answered question: no reasoning length (ZeroEval would divide by zero)
        metrics["length"] = row["length"]
    p = row["accuracy"] / 100
    details = {"total": row["total"], "solved": sum(s.correct for s in scored),
               "answered": sum(s.answered for s in scored), "full_set_size": task.size,
               "binomial_se": 100 * (p * (1 - p) / row["total"]) ** 0.5, "json_pick": json_pick,
               "left_out_by_mmlu_redux_filter": left_out, "zero_eval_config": task.config}
    return write_result(out, benchmark=task.benchmark, cell=cell, metrics=metrics, model=model,
                        judge=f"zeroeval-extraction:{json_pick}-json", generation=settings.as_dict(),
                        template=template, data_files=source_files(source), details=details, data_source=source)
