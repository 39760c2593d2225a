"""Arena-Hard v0.1: greedy answers to the 500 questions, pairwise judgments against gpt-4-0314, Bradley-Terry score.

    run_arena_hard(model="outputs/llama3-instruct/simpo", out=Path(".../arena-hard.json"), template="llama3",
                   generation="temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009")

Our implementation of lmarena/arena-hard-auto's legacy (v0.1) pipeline, which is not on PyPI:
1. the judge is checked first (an API judge without a key stops before any generation);
2. answers (prefopt.evaluation.answers, the cell's GENERATION; the papers decode greedily) -> OUT/arena-hard/;
3. each question is judged twice (game 1: A = baseline, B = model; game 2: swapped) with the judge system prompt,
   prompt template and verdict regex read from the data's judge_config.yaml; when no verdict parses, the judge
   is asked once more to finish (`number_of_judgment_attempts`, 2 in v0.1);
4. verdicts -> battles -> Bradley-Terry ratings (our Newton solver, `bradley_terry`) anchored at gpt-4-0314 = 1000
   -> predicted win rate against the baseline, with a bootstrap interval over battles (show_result.py's recipe).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from tqdm.auto import tqdm

from prefopt.core.errors import InputError
from prefopt.data.files import read_file

from .answers import Question, generate_answers, load_policy
from .judges import JudgeRequest, judge_all, make_judge
from .machine import check_model_fits
from .report import write_result
from .settings import parse_generation

BENCHMARK = "arena-hard"
BASELINE = "gpt-4-0314"
DEFAULT_JUDGE = "gpt-4-1106-preview"
SCALE, BASE, INIT_RATING = 400.0, 10.0, 1000.0  # Elo units of show_result.py
STRONG_WEIGHT = 3  # a ">>" verdict counts as three battles (show_result.py WEIGHT)
# What gen_judgment.py says to a judge whose first answer held no verdict (the second of its two attempts).
CONTINUE_PROMPT = "continue your judgment and finish by outputting a final verdict label"


# --- data ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class JudgeConfig:
    system_prompt: str
    prompt_template: str
    regex: str
    attempts: int
    judge_model: str
    baseline_model: str
    max_tokens: int = 4096
    temperature: float = 0.0


@dataclass(frozen=True)
class ArenaData:
    questions: list[dict]  # {"id", "prompt", "category", "cluster"}
    baseline: dict[str, str]  # question id -> the baseline's answer
    judge: JudgeConfig
    files: list[Path]


def _legacy_dir(data_dir: Path) -> Path:
    """The folder holding the v0.1 files: `data_dir` itself or its legacy_format/ (the shared data layout)."""
    for d in (data_dir / "legacy_format", data_dir):
        if (d / "judge_config.yaml").exists():
            return d
    raise InputError(f"no Arena-Hard v0.1 judge_config.yaml in {data_dir} or {data_dir / 'legacy_format'}",
                     where="DATA", fix="point --data at arena-hard-auto's v0.1 files (question.jsonl, "
                     "model_answer_gpt-4-0314.jsonl, judge_config.yaml), e.g. ../shared/data/arena_hard_v0.1")


def _jsonl(path: Path) -> list[dict]:
    if not path.exists():
        raise InputError(f"{path} not found", where="DATA", fix="copy the Arena-Hard v0.1 data files there")

    return read_file(path)


def load_data(data_dir: str | Path) -> ArenaData:
    """Questions, gpt-4-0314 answers and the judge setup of Arena-Hard v0.1 (arena-hard-auto's legacy format)."""
    data_dir = Path(data_dir)
    if not data_dir.exists():
        raise InputError(f"Arena-Hard data folder {data_dir} does not exist", where="DATA",
                         fix="pass --data <folder> (make eval-arenahard DATA=...); the shared copy is "
                         "../shared/data/arena_hard_v0.1 (see its SOURCE.md)")
    folder = _legacy_dir(data_dir)
    cfg_path = folder / "judge_config.yaml"
    cfg = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
    missing = [k for k in ("system_prompt", "prompt_template", "regex_pattern", "baseline_model") if k not in cfg]
    if missing:
        raise InputError(f"judge config lacks {missing}", where=str(cfg_path), fix="use v0.1's config/judge_config.yaml")
    template = cfg["prompt_template"]
    judge = JudgeConfig(
        system_prompt=cfg["system_prompt"], prompt_template=template[0] if isinstance(template, list) else template,
        regex=cfg["regex_pattern"], attempts=int(cfg.get("number_of_judgment_attempts", 1)),
        judge_model=cfg.get("judge_model", DEFAULT_JUDGE), baseline_model=cfg["baseline_model"],
        max_tokens=int(cfg.get("max_tokens", 4096)), temperature=float(cfg.get("temperature", 0.0)))
    q_path, a_path = folder / "question.jsonl", folder / f"model_answer_{judge.baseline_model}.jsonl"
    questions = [{"id": str(r["question_id"]), "prompt": r["turns"][0]["content"], "category": r.get("category"),
                  "cluster": r.get("cluster")} for r in _jsonl(q_path)]
    baseline = {str(r["question_id"]): r["choices"][0]["turns"][0]["content"] for r in _jsonl(a_path)}
    lacking = [q["id"] for q in questions if q["id"] not in baseline]
    if lacking:
        raise InputError(f"{len(lacking)} questions have no baseline answer (first: {lacking[0]})", where=str(a_path))
    return ArenaData(questions, baseline, judge, [q_path, a_path, cfg_path])


# --- verdicts and battles ------------------------------------------------------------------------------------

def render_judge_prompt(template: str, question: str, answer_a: str, answer_b: str) -> str:
    """The judge's user message: v0.1's template with {question_1}, {answer_1} (assistant A), {answer_2} (B)."""
    return template.format(question_1=question, answer_1=answer_a, answer_2=answer_b)


def parse_verdict(judgment: str, pattern: str) -> tuple[str | None, bool]:
    """(verdict, ask again) from a judgment, as gen_judgment.py's get_score reads it.

    The non-empty matches of `pattern`: none -> (None, True): the judge may be asked to finish; one distinct
    label (possibly repeated) -> (label, False); several different labels -> (None, False): contradictory, dropped.
    """
    labels = {m for m in re.findall(pattern, judgment) if m != ""}
    if not labels:
        return None, True
    if len(labels) == 1:
        return labels.pop().strip("\n"), False
    return None, False


def verdict_battles(verdict: str | None, game: int, model: str, baseline: str = BASELINE,
                    strong_weight: int = STRONG_WEIGHT) -> list[tuple[str, str, str]]:
    """The battles (model_a, model_b, winner) of one judged game; model_a is always the baseline.

    Game 1 shows the baseline as assistant A, game 2 as assistant B, so the same label means opposite winners:
        game 1: A>B, A>>B -> baseline wins;  B>A, B>>A -> model wins
        game 2: A>B, A>>B -> model wins;     B>A, B>>A -> baseline wins
        A=B -> "tie" in both games. A ">>" verdict is `strong_weight` identical battles (3 in show_result.py),
        any other verdict one battle; an unparsed or unknown label gives no battle (the game is dropped).
    """
    if game not in (1, 2):
        raise ValueError(f"game is 1 or 2, not {game}")
    a_side = "model_a" if game == 1 else "model_b"  # who assistant A is, in battle terms
    b_side = "model_b" if game == 1 else "model_a"
    outcomes = {"A=B": ("tie", 1), "A>B": (a_side, 1), "A>>B": (a_side, strong_weight),
                "B>A": (b_side, 1), "B>>A": (b_side, strong_weight)}
    if verdict not in outcomes:
        return []
    winner, weight = outcomes[verdict]
    return [(baseline, model, winner)] * weight


# --- Bradley-Terry ---------------------------------------------------------------------------------------------

def win_matrix(battles: list[tuple[str, str, str]], players: list[str]) -> np.ndarray:
    """W[i, j] = battles player i won against j, plus half of their ties (show_result.py counts a win twice and
    a tie once on each side, the same ratio)."""
    index = {p: k for k, p in enumerate(players)}
    w = np.zeros((len(players), len(players)))
    for a, b, winner in battles:
        i, j = index[a], index[b]
        if winner == "model_a":
            w[i, j] += 1.0
        elif winner == "model_b":
            w[j, i] += 1.0
        elif winner == "tie":
            w[i, j] += 0.5
            w[j, i] += 0.5
        else:
            raise ValueError(f"unknown winner {winner!r}")
    return w


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.clip(x, -500, 500)))


def bradley_terry(battles: list[tuple[str, str, str]], anchor: str = BASELINE, max_iter: int = 100,
                  tol: float = 1e-10) -> dict[str, float]:
    """Maximum-likelihood Bradley-Terry ratings in Elo units, `anchor` fixed at 1000 (show_result.py compute_mle_elo).

    P(i beats j) = 1 / (1 + 10^((R_j - R_i) / 400)); with strengths s = (R - 1000) ln(10) / 400 the log-likelihood
        L(s) = sum_ij W_ij log sigmoid(s_i - s_j)       (W = win_matrix: wins, ties half to each side)
    is concave; its gradient g_k = sum_j [W_kj - N_kj sigmoid(s_k - s_j)] (observed minus expected wins, N = W + W^T)
    and Hessian H_kk = -sum_j N_kj p_kj (1 - p_kj), H_kj = N_kj p_kj (1 - p_kj) give Newton steps on every player
    but the anchor (s_anchor = 0). This is the unpenalised logistic regression of the official tool (sklearn, no
    intercept, +/- log 10 features) solved directly. A player that won (or lost) every battle has its optimum at
    infinity: the iteration stops once the gradient vanishes numerically, leaving a win rate of ~100% (or ~0%).
    """
    players = sorted({p for a, b, _ in battles for p in (a, b)})
    if anchor not in players:
        raise InputError(f"no battle involves the anchor {anchor!r}", where="bradley_terry",
                         fix="every rating is relative to the baseline: battles against it are needed")
    w = win_matrix(battles, players)
    n = w + w.T
    free = [k for k, p in enumerate(players) if p != anchor]
    s = np.zeros(len(players))
    total = max(w.sum(), 1.0)
    for _ in range(max_iter):
        p = _sigmoid(s[:, None] - s[None, :])
        grad = (w - n * p).sum(axis=1)
        if np.abs(grad[free]).max(initial=0.0) < tol * total:
            break
        v = n * p * (1 - p)
        hess = v.copy()
        np.fill_diagonal(hess, -v.sum(axis=1) + np.diag(v))
        h = hess[np.ix_(free, free)]
        step = np.linalg.lstsq(h, -grad[free], rcond=None)[0]  # lstsq: a player's column may vanish numerically
        s[free] += step
        if np.abs(step).max(initial=0.0) < tol:
            break
    return {pl: INIT_RATING + SCALE * s[k] / math.log(BASE) for k, pl in enumerate(players)}


def win_rate_vs(rating: float, baseline_rating: float = INIT_RATING) -> float:
    """Predicted win rate in % of a player rated `rating` against the baseline (show_result.py predict_win_rate):
    100 / (1 + 10^((R_baseline - R) / 400))."""
    return 100.0 / (1.0 + BASE ** ((baseline_rating - rating) / SCALE))


def bootstrap_ratings(battles: list[tuple[str, str, str]], anchor: str = BASELINE, rounds: int = 100,
                      seed: int = 42, progress: bool = True) -> dict[str, np.ndarray]:
    """Ratings refit on `rounds` resamples of the battles (with replacement, as many as there are), seeded.

    show_result.py draws with pandas' sample(frac=1, replace=True) under np.random.seed(42); the same recipe with
    numpy's Generator: the intervals agree in distribution, not draw for draw. A player missing from a resample
    gets NaN in that round (percentiles ignore it).
    """
    rng = np.random.default_rng(seed)
    players = sorted({p for a, b, _ in battles for p in (a, b)})
    out = {p: np.full(rounds, np.nan) for p in players}
    it = range(rounds)
    if progress:
        it = tqdm(it, desc="bootstrap", unit="round")
    for r in it:
        sample = [battles[i] for i in rng.integers(0, len(battles), len(battles))]
        for p, rating in bradley_terry(sample, anchor).items():
            out[p][r] = rating
    return out


def score_battles(battles: list[tuple[str, str, str]], anchor: str = BASELINE, rounds: int = 100,
                  seed: int = 42, progress: bool = True) -> dict[str, dict]:
    """Per player: rating, its 2.5/97.5 bootstrap percentiles, and the same three as win rates (%) vs the anchor.

    The point estimate is the fit on all battles; the interval the percentiles of the bootstrap fits (numpy's
    default linear interpolation, as np.percentile in show_result.py), each converted with `win_rate_vs`.
    """
    point = bradley_terry(battles, anchor)
    boot = bootstrap_ratings(battles, anchor, rounds, seed, progress) if rounds > 0 else {}
    out = {}
    for p, rating in point.items():
        lo, hi = (np.nanpercentile(boot[p], [2.5, 97.5]) if rounds > 0 else (rating, rating))
        out[p] = {"rating": rating, "rating_lower": float(lo), "rating_upper": float(hi),
                  "win_rate": win_rate_vs(rating), "win_rate_lower": win_rate_vs(lo), "win_rate_upper": win_rate_vs(hi)}
    return out


# --- judging -------------------------------------------------------------------------------------------------

def _request(cfg: JudgeConfig, question: str, answer_a: str, answer_b: str, followup: tuple = ()):
    return JudgeRequest(cfg.system_prompt, render_judge_prompt(cfg.prompt_template, question, answer_a, answer_b),
                        fields={"kind": "pairwise", "question": question, "answer_a": answer_a, "answer_b": answer_b},
                        followup=followup)


def judge_games(judge, cfg: JudgeConfig, questions: list[dict], baseline: dict[str, str], answers: dict[str, str],
                path: Path | None) -> dict[str, list[dict]]:
    """Both games of every question: {id: [{"verdict", "judgment"}, {...}]} (gen_judgment.py's protocol).

    Game 1: A = baseline, B = model; game 2 swapped. An attempt whose text holds no verdict is followed by the
    judge's own answer and CONTINUE_PROMPT, up to cfg.attempts; the verdict is read from all attempts' text
    joined by newlines (as gen_judgment.py accumulates it). Resumable through `path` (judges.judge_all).
    """
    pairs = {}
    for q in questions:
        base, mine = baseline[q["id"]], answers[q["id"]]
        pairs[f"{q['id']}/game1"] = (q["prompt"], base, mine)
        pairs[f"{q['id']}/game2"] = (q["prompt"], mine, base)
    texts = {k: [t] for k, t in judge_all(judge, {k: _request(cfg, *v) for k, v in pairs.items()}, path).items()}
    for attempt in range(2, cfg.attempts + 1):
        again = {}
        for k, done in texts.items():
            if len(done) == attempt - 1 and parse_verdict("\n" + "\n".join(done), cfg.regex)[1]:
                history = []
                for t in done:
                    history += [{"role": "assistant", "content": t}, {"role": "user", "content": CONTINUE_PROMPT}]
                again[f"{k}/attempt{attempt}"] = _request(cfg, *pairs[k], followup=tuple(history))
        if not again:
            break
        for key, t in judge_all(judge, again, path).items():
            texts[key.rsplit("/", 1)[0]].append(t)
    out: dict[str, list[dict]] = {q["id"]: [] for q in questions}
    for k, done in texts.items():
        joined = "\n" + "\n".join(done)
        out[k.split("/")[0]].append({"verdict": parse_verdict(joined, cfg.regex)[0], "judgment": joined,
                                     "attempts": len(done)})
    return out


# --- the run -------------------------------------------------------------------------------------------------

def answer_length(tokenizer, answers: list[str]) -> float:
    """Average answer length in tokens of the evaluated model's tokenizer (show_result.py's avg_tokens counts
    tiktoken's gpt-3.5-turbo tokens, which cannot be loaded offline; the unit is recorded with the result)."""
    return sum(len(tokenizer(a, add_special_tokens=False)["input_ids"]) for a in answers) / max(len(answers), 1)


def run_arena_hard(*, model: str, out: Path, data: str | Path, judge: str = DEFAULT_JUDGE,
                   template: str | None = None, generation: str | None = None, cell: str | None = None,
                   limit: int | None = None, batch_size: int = 16, name: str | None = None,
                   rounds: int = 100, seed: int = 42, allow_large: bool = False) -> dict:
    arena = load_data(data)
    cfg = arena.judge
    the_judge = make_judge(judge, max_tokens=cfg.max_tokens, temperature=cfg.temperature)
    the_judge.check()  # before any generation: no key, no work
    settings = parse_generation(generation)
    check_model_fits(model, allow_large)
    questions = arena.questions[: limit or None]
    work = out.parent / BENCHMARK
    policy, tok = load_policy(model, template)
    qs = [Question(id=q["id"], turns=[q["prompt"]], category=q["category"]) for q in questions]
    answers = {k: v[0] for k, v in generate_answers(policy, tok, qs, settings, path=work / "answers.jsonl",
                                                    batch_size=batch_size).items()}
    generator = name or Path(str(model)).name
    if generator == cfg.baseline_model:
        raise InputError(f"the evaluated model may not be named like the baseline {cfg.baseline_model!r}", where="--name")
    games = judge_games(the_judge, cfg, questions, arena.baseline, answers, work / "judgments.jsonl")
    battles = []
    for g1, g2 in games.values():  # game 1 then game 2, in request order
        battles += verdict_battles(g1["verdict"], 1, generator, cfg.baseline_model)
        battles += verdict_battles(g2["verdict"], 2, generator, cfg.baseline_model)
    n_games = 2 * len(questions)
    n_parsed = sum(g["verdict"] is not None for pair in games.values() for g in pair)
    if not battles:
        raise InputError(f"none of the {n_games} judgments held a verdict: there is no score", where="JUDGE",
                         fix=f"read the judge's texts in {work / 'judgments.jsonl'}")
    scores = score_battles(battles, cfg.baseline_model, rounds, seed)[generator]
    length = answer_length(tok, list(answers.values()))
    metrics = {"win_rate": scores["win_rate"], "length": length}
    verdicts = {}
    for pair in games.values():
        for g in pair:
            verdicts[str(g["verdict"])] = verdicts.get(str(g["verdict"]), 0) + 1
    details = {"win_rate_ci": [scores["win_rate_lower"], scores["win_rate_upper"]], "rating": scores["rating"],
               "rating_ci": [scores["rating_lower"], scores["rating_upper"]], "n_questions": len(questions),
               "n_games": n_games, "n_games_parsed": n_parsed, "n_games_unparsed": n_games - n_parsed,
               "n_battles": len(battles), "verdicts": verdicts, "bootstrap_rounds": rounds, "bootstrap_seed": seed,
               "length_unit": "tokens of the evaluated model's tokenizer", "baseline": cfg.baseline_model,
               "generator": generator}
    return write_result(out, benchmark=BENCHMARK, cell=cell, metrics=metrics, model=model, judge=the_judge.name,
                        generation=settings.as_dict(), template=template, data_files=arena.files, details=details)
