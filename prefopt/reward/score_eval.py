"""A policy judged by a reward model (APO's LLM evaluation, `make eval-rm-score`, benchmark hh-test of the
alpaca-7b-hh cells): the policy answers the test queries (APO's "testing" decoding comes as GENERATION), a testing
RM scores every answer as query + answer, and the run reports

    avg_score      mean RM score of the policy's answers (APO's protocol: its testing RM on HH test queries)
    win_rate       with a baseline: % of queries where the policy's answer outscores the baseline's, ties half
    <metric>_se    standard error over the queries (the tolerance of `make verify`)

No published number is known for this benchmark; the registry's apo/llm-eval rows are placeholders. The baseline is the
answers file of an earlier run (<run>/hh-test.answers.jsonl, e.g. of hh-base-rjs for hh-apo-rjs); its answers are
scored again with this run's RM, so both sides are judged by the same model. Every answer of this run goes to
<out>.answers.jsonl ({query_id, query, prompt, sample_0.., scores}), which a later run can use as its baseline.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

from prefopt.core.errors import InputError
from prefopt.core.manifest import build_manifest, write_json
from prefopt.core.paths import REPO_ROOT
from prefopt.data.mirror import resolve_local_copy
from prefopt.evaluation.report import run_name
from prefopt.evaluation.settings import parse_generation

from .converter import listing, sample_rows
from .data import RewardCollator, RewardTokenizer
from .sampling import load_policy, load_queries, load_scorer
from .train import score_items

# APO's evaluation files (data/apo/hh-split/, downloaded by hand from the APO repository's release links), by benchmark id.
APO_EVAL_SETS = {"hh-test": "data/apo/hh-split/eval_data/hh_cleaned_origin.test.json",
                 "hh-llm-valid": "data/apo/hh-split/eval_data/hh_split_llm.valid.json"}


def data_source(data: str) -> tuple[str, str]:
    """(file to read, benchmark name): an APO set id, or any query file (named by its stem)."""
    if data in APO_EVAL_SETS:
        copy = resolve_local_copy(APO_EVAL_SETS[data])  # the mirror's copy while rehearsing
        return (copy if copy != APO_EVAL_SETS[data] else str(REPO_ROOT / APO_EVAL_SETS[data])), data
    return data, Path(data).name.split(".")[0]


def _answer_keys(row: dict) -> list[str]:
    return sorted((k for k in row if k.startswith("sample_")), key=lambda k: int(k.split("_")[1]))


def score_answers(rm, tokenizer, settings: dict, rows: list[dict], *, max_length: int | None = None,
                  batch_size: int = 16) -> list[list[float]]:
    """RM scores of every answer (sample_k, empty ones included) of every row, as query + answer."""
    rt = RewardTokenizer(tokenizer, max_length=max_length or settings.get("max_length") or 512,
                         add_sep_token=settings.get("add_sep_token", False))
    items = [rt.item({"query": r["query"], "responses": [r[k] for k in _answer_keys(r)],
                      "scores": [0.0] * len(_answer_keys(r))}) for r in rows]
    return score_items(rm, items, RewardCollator(tokenizer.pad_token_id), batch_size)


def _se(values: list[float]) -> float:
    return statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0


def win_rate(ours: dict[str, float], base: dict[str, float]) -> tuple[float, float]:
    """(win rate %, its standard error) over the queries: 1 when ours > base, 0.5 on a tie, else 0."""
    outcomes = [1.0 if ours[q] > base[q] else 0.5 if ours[q] == base[q] else 0.0 for q in ours]
    return 100 * sum(outcomes) / len(outcomes), 100 * _se(outcomes)


def read_answers(path: str | Path) -> list[dict]:
    """An answers file of an earlier run (or the folder holding <benchmark>.answers.jsonl)."""
    p = Path(path)
    if p.is_dir():
        found = sorted(p.glob("*.answers.jsonl"))
        if len(found) != 1:
            raise InputError(f"expected one *.answers.jsonl in the folder, found {len(found)}", where=str(p),
                             fix="pass the answers file itself")
        p = found[0]
    if not p.is_file():
        raise InputError("no such answers file", where=str(p), fix="run make eval-rm-score on the baseline first")
    rows = [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    for i, r in enumerate(rows, 1):
        if not isinstance(r.get("query"), str) or not _answer_keys(r):
            raise InputError("row lacks 'query' or its answers (sample_0, ...)", where=f"{p}:line {i}",
                             fix="pass a file written by make eval-rm-score")
    return rows


def evaluate_policy(model: str, rm: str, data: str = "hh-test", *, split: str = "test", template: str | None = None,
                    generation: str | None = None, baseline: str | None = None, out: str | Path | None = None,
                    cell: str | None = None, limit: int | None = None, seed: int | None = None, batch_size: int = 16,
                    rm_batch_size: int = 16, rm_max_length: int | None = None, dtype: str = "float32",
                    device: str = "auto") -> tuple[dict, Path]:
    """Generate, score, write results/reproduced/<run>/<benchmark>.json (+ .answers.jsonl); returns the payload
    and the file."""
    source, bench = data_source(data)
    bench = Path(out).stem if out else bench  # the file's name is its benchmark id (prefopt.reproduce.results)
    settings = parse_generation(generation, seed=seed)
    out = Path(out) if out else REPO_ROOT / "results" / "reproduced" / run_name(model) / f"{bench}.json"
    base_rows = read_answers(baseline) if baseline else None       # fail early, before any model is loaded
    queries = load_queries(source, split, limit=limit)
    if base_rows is not None:
        have = {r["query_id"] for r in base_rows}
        missing = [q["query_id"] for q in queries if q["query_id"] not in have]
        if missing:
            raise InputError(f"the baseline has no answer for {len(missing)} quer{'y' if len(missing) == 1 else 'ies'}:"
                             f" {listing(missing)}", where=str(baseline),
                             fix="evaluate the baseline on the same DATA (and limit) first")
    policy, tok = load_policy(model, template, dtype, device)
    rows = sample_rows(policy, tok, {q["query_id"]: (q["query"], q["prompt"]) for q in queries},
                       num_samples=settings.num_return_sequences, batch_size=batch_size, progress=True,
                       desc=f"{bench}: answers", **settings.generate_kwargs())
    del policy
    scorer, rm_tok, rm_settings = load_scorer(rm, device)
    scores = score_answers(scorer, rm_tok, rm_settings, rows, max_length=rm_max_length, batch_size=rm_batch_size)
    flat = [s for row in scores for s in row]
    metrics = {"avg_score": sum(flat) / len(flat), "avg_score_se": _se(flat)}
    if base_rows is not None:
        by_id = {r["query_id"]: r for r in base_rows}
        base = [by_id[q["query_id"]] for q in queries]
        base_scores = score_answers(scorer, rm_tok, rm_settings, base, max_length=rm_max_length,
                                    batch_size=rm_batch_size)
        metrics["win_rate"], metrics["win_rate_se"] = win_rate(
            {r["query_id"]: statistics.mean(s) for r, s in zip(rows, scores, strict=True)},
            {r["query_id"]: statistics.mean(s) for r, s in zip(base, base_scores, strict=True)})
        metrics["baseline_avg_score"] = statistics.mean(s for row in base_scores for s in row)
    answers = out.with_name(f"{bench}.answers.jsonl")
    answers.parent.mkdir(parents=True, exist_ok=True)
    answers.write_text("".join(json.dumps(dict(r, scores=s), ensure_ascii=False) + "\n"
                               for r, s in zip(rows, scores, strict=True)), encoding="utf-8")
    payload = {"cell": cell, "benchmark": bench, "metrics": metrics, "queries": len(queries), "answers": len(flat),
               "manifest": build_manifest(
                   "rm-score-eval", model=model, reward_model=rm, reward_settings=rm_settings, data=source,
                   split=split, template=template, generation=settings.as_dict(),
                   seed=settings.seed, baseline=baseline, answers_file=str(answers), judge=f"reward model {rm}")}
    write_json(out, payload)
    return payload, out
