"""MT-Bench: answers to both turns of the 80 questions, single-answer grading by a judge, scores per turn and category.

    run_mt_bench(model="outputs/llama3-instruct/simpo", out=Path(".../mt-bench.json"), template="llama3",
                 generation="fastchat-default", judge="gpt-4-1106-preview", reference="gpt-4-turbo")

FastChat llm_judge's protocol through our own generator and judge client (FastChat's gen_model_answer needs CUDA
and its judge only accepts API model names):
1. the judge is checked first (an API judge without a key stops before any generation);
2. answers with FastChat's per-category temperatures (`fastchat-default`), turn 2 after the model's own turn 1;
3. each turn is graded on its own with judge_prompts.jsonl: single-v1 (turn 1), single-v1-multi-turn (turn 2,
   the whole conversation shown); math, reasoning and coding use the -math- variants with a reference answer;
4. the rating is read from the judgment ("[[n]]", else "[n]"); an unreadable one is -1 and left out (counted);
   scores are means over the judged (question, turn) pairs: per turn, per category, overall (show_result.py).
References: SimPO's GPT-4-Turbo answers by default (the papers' setup), FastChat's GPT-4 answers as an option.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from prefopt.core.errors import InputError
from prefopt.data.files import read_file

from .answers import Question, generate_answers, load_policy
from .judges import JudgeRequest, judge_all, make_judge
from .machine import check_model_fits
from .report import write_result
from .settings import parse_generation

BENCHMARK = "mt-bench"
DEFAULT_JUDGE = "gpt-4-1106-preview"
NEED_REFERENCE = ("math", "reasoning", "coding")  # FastChat common.NEED_REF_CATS
JUDGE_MAX_TOKENS = 2048  # FastChat's single-answer grading call
# Rating patterns of FastChat common.py: double brackets first, single brackets as a fallback.
RATING = re.compile(r"\[\[(\d+\.?\d*)\]\]")
RATING_FALLBACK = re.compile(r"\[(\d+\.?\d*)\]")
TURBO_JUDGES = ("gpt-4-1106-preview", "gpt-4-turbo", "gpt-4-0125-preview", "gpt-4-turbo-2024-04-09")


# --- data ----------------------------------------------------------------------------------------------------

def _jsonl(path: Path, what: str) -> list[dict]:
    path = Path(path)
    if not path.exists():
        raise InputError(f"MT-Bench {what} {path} not found", where="DATA",
                         fix="pass --data <folder with question.jsonl, judge_prompts.jsonl> (FastChat's "
                         "llm_judge/data); the shared copy is ../shared/data/mt_bench (see its SOURCE.md)")

    return read_file(path)


def load_questions(path: Path):
    """question.jsonl -> [Question(id, turns, category)] for prefopt.evaluation.answers."""
    return [Question(id=str(r["question_id"]), turns=list(r["turns"]), category=r["category"]) for r in _jsonl(path, "questions")]


def load_judge_prompts(path: Path) -> dict[str, dict]:
    """judge_prompts.jsonl -> {name: {"system_prompt", "prompt_template", "output_format", ...}}."""
    prompts = {r["name"]: r for r in _jsonl(path, "judge prompts")}
    missing = [n for n in ("single-v1", "single-math-v1", "single-v1-multi-turn", "single-math-v1-multi-turn")
               if n not in prompts]
    if missing:
        raise InputError(f"judge prompts lack {missing}", where=str(path), fix="use FastChat's judge_prompts.jsonl")
    return prompts


def load_references(path: Path) -> dict[str, list[str]]:
    """Reference answers (FastChat model_answer format) -> {question id: [turn 1, turn 2]}."""
    return {str(r["question_id"]): list(r["choices"][0]["turns"]) for r in _jsonl(path, "reference answers")}


# --- grading -------------------------------------------------------------------------------------------------

def needs_reference(category: str | None) -> bool:
    """Math, reasoning and coding questions are graded against a reference answer (FastChat NEED_REF_CATS)."""
    return category in NEED_REFERENCE


def judge_prompt_name(category: str | None, turn: int) -> str:
    """single-v1 / single-math-v1 for turn 1, their -multi-turn versions for turn 2 (FastChat make_judge_single)."""
    base = "single-math-v1" if needs_reference(category) else "single-v1"
    return base if turn == 1 else f"{base}-multi-turn"


def build_request(prompts: dict[str, dict], question, answers: list[str], turn: int,
                  reference: list[str] | None = None):
    """The judge request for one (question, turn): the prompt's template filled as FastChat run_judge_single does.

    Turn 1: {question}, {answer}, {ref_answer_1}; turn 2: {question_1}, {question_2}, {answer_1}, {answer_2},
    {ref_answer_1}, {ref_answer_2}. Extra keys are ignored by str.format, so one set of keys serves all prompts.
    """
    name = judge_prompt_name(question.category, turn)
    if needs_reference(question.category) and reference is None:
        raise InputError(f"question {question.id} ({question.category}) needs a reference answer and has none",
                         where="REFERENCE", fix="use a reference file covering questions 101-130")
    p = prompts[name]
    ref = reference or ["", ""]
    keys = {"question": question.turns[0], "answer": answers[0], "ref_answer_1": ref[0],
            "question_1": question.turns[0], "answer_1": answers[0]}
    if turn == 2:
        keys.update(question_2=question.turns[1], answer_2=answers[1], ref_answer_2=ref[1])
    return JudgeRequest(p["system_prompt"], p["prompt_template"].format(**keys),
                        fields={"kind": "single", "answer": answers[turn - 1], "prompt": name, "turn": turn})


def parse_rating(judgment: str) -> float:
    """The rating in a judgment: the first "[[n]]", else the first "[n]", else -1 (FastChat run_judge_single)."""
    match = RATING.search(judgment) or RATING_FALLBACK.search(judgment)
    return float(match.group(1)) if match else -1.0


def aggregate(ratings: list[tuple[str, str, int, float]]) -> dict:
    """Means over the judged (question, turn) pairs, ratings of -1 left out (FastChat show_result.py).

    ratings: (question id, category, turn, rating). Returns
        score            = mean over every valid rating (not the mean of the two turn means)
        turn_1, turn_2   = mean over the valid ratings of that turn
        categories[c]    = mean over category c's valid ratings (both turns), with its turn_1 / turn_2
        n_rated, n_unparsed
    """
    valid = [r for r in ratings if r[3] != -1]
    if not valid:
        raise InputError("no judgment held a rating: there is no score", where="JUDGE",
                         fix="read the judge's texts in the judgments file of the run")

    def mean(rows):
        return sum(r[3] for r in rows) / len(rows) if rows else None

    cats = {}
    for c in sorted({r[1] for r in valid}):
        rows = [r for r in valid if r[1] == c]
        cats[c] = {"score": mean(rows), "turn_1": mean([r for r in rows if r[2] == 1]),
                   "turn_2": mean([r for r in rows if r[2] == 2])}
    return {"score": mean(valid), "turn_1": mean([r for r in valid if r[2] == 1]),
            "turn_2": mean([r for r in valid if r[2] == 2]), "categories": cats,
            "n_rated": len(valid), "n_unparsed": len(ratings) - len(valid)}


def metric_id(judge: str) -> str:
    """score_gpt4_turbo for a GPT-4 Turbo judge, score_gpt4 for GPT-4, else score (results/reported/README.md)."""
    model = judge.removeprefix("openai:").partition("@")[0]
    if model in TURBO_JUDGES:
        return "score_gpt4_turbo"
    if model in ("gpt-4", "gpt-4-0613", "gpt-4-0314"):
        return "score_gpt4"
    return "score"


# --- the run -------------------------------------------------------------------------------------------------

def run_mt_bench(*, model: str, out: Path, data: str | Path, reference: str | Path, judge: str = DEFAULT_JUDGE,
                 template: str | None = None, generation: str | None = "fastchat-default", cell: str | None = None,
                 limit: int | None = None, batch_size: int = 16, allow_large: bool = False) -> dict:

    data = Path(data)
    if not data.is_dir():
        raise InputError(f"MT-Bench data folder {data} does not exist", where="DATA",
                         fix="pass --data <folder> (make eval-mtbench DATA=...); the shared copy is ../shared/data/mt_bench")
    questions = load_questions(data / "question.jsonl")[: limit or None]
    prompts = load_judge_prompts(data / "judge_prompts.jsonl")
    refs = load_references(Path(reference))
    the_judge = make_judge(judge, max_tokens=JUDGE_MAX_TOKENS, temperature=0.0)
    the_judge.check()  # before any generation: no key, no work
    settings = parse_generation(generation)
    check_model_fits(model, allow_large)
    policy, tok = load_policy(model, template)
    extra = getattr(tok, "prefopt_stop", None)  # TEMPLATE=fastchat:<name>: the conversation's stop string / ids
    if extra:
        settings = dataclasses.replace(settings, stop=tuple(settings.stop) + extra["stop"],
                                       stop_token_ids=tuple(settings.stop_token_ids) + extra["stop_token_ids"])
    work = out.parent / BENCHMARK
    answers = generate_answers(policy, tok, questions, settings, path=work / "answers.jsonl", batch_size=batch_size)
    requests, meta = {}, {}
    for q in questions:
        for turn in (1, 2)[: len(q.turns)]:
            key = f"{q.id}/turn{turn}"
            requests[key] = build_request(prompts, q, answers[q.id], turn, refs.get(q.id) if needs_reference(q.category) else None)
            meta[key] = (q.id, q.category, turn)
    texts = judge_all(the_judge, requests, work / "judgments.jsonl")
    ratings = [(*meta[k], parse_rating(t)) for k, t in texts.items()]
    summary = aggregate(ratings)
    metric = metric_id(the_judge.name)
    details = {**summary, "n_questions": len(questions), "metric": metric, "reference": str(reference),
               "ratings": {k: r[3] for k, r in zip(texts, ratings, strict=True)}}
    return write_result(out, benchmark=BENCHMARK, cell=cell, metrics={metric: summary["score"]}, model=model,
                        judge=the_judge.name, generation=settings.as_dict(), template=template,
                        data_files=[data / "question.jsonl", data / "judge_prompts.jsonl", Path(reference)],
                        details=details)
