"""RM-Bench (THU-KEG/RM-Bench, arXiv 2410.16184): reward accuracy by domain and the easy/normal/hard matrix.

Each record has a prompt and 3 chosen / 3 rejected style variants ([0] concise, [1] detailed plain,
[2] detailed markdown). Every variant is scored; M[i][j] = fraction of records with
score(chosen_i) > score(rejected_j) (strictly: a tie counts as wrong). As RM-Bench's `compute_accuracy`:
hard = mean of the upper triangle (chosen less styled than rejected), normal = the diagonal, easy = the lower
triangle; a domain's average is the mean of all 9 cells.

Domains are the data files (`<domain>_filtered.json`: chat, code, math, safety-refuse, safety-response).
"safety" pools the two safety files' records, as RM-Bench's leaderboard does. The overall easy/normal/hard/avg
are means over the leaderboard domains present (chat, math, code, safety).

Scorers (each: list of records -> list of (chosen scores[3], rejected scores[3])):
  reward model: its scalar on "\\n\\nHuman: <prompt>\\n\\nAssistant:" + " " + response;
  policy, `dpo`: the implicit DPO reward log π(y|x) - log π_ref(y|x) (β > 0 only scales it: ordering unchanged);
  policy, `simpo`: the length-normalised log-prob log π(y|x) / |y| (SimPO / AMaPO).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from prefopt.config import ModelArguments
from prefopt.core.errors import InputError
from prefopt.core.manifest import build_manifest, write_json
from prefopt.data import PairCollator, PreferencePair, tokenize_pairs
from prefopt.modeling.loading import load_model, load_tokenizer
from prefopt.modeling.refcache import compute_logps

from .data import RewardCollator, RewardTokenizer, render_query
from .model import is_reward_model, load_reward_model, reward_settings
from .train import score_items

LEADERBOARD_DOMAINS = ("chat", "math", "code", "safety")
STYLES = 3


def load_rmbench(data_dir: str | Path, limit: int | None = None) -> dict[str, list[dict]]:
    """{domain: records} from every `<domain>_filtered.json` of data_dir (`limit` records per domain)."""
    data_dir = Path(data_dir)
    files = sorted(data_dir.glob("*_filtered.json"))
    if not files:
        raise InputError(f"no <domain>_filtered.json files in {data_dir}",
                         fix="point --data at RM-Bench's data/ folder (../shared/data/rm_bench here)")
    out = {}
    for f in files:
        records = json.loads(f.read_text(encoding="utf-8"))
        for i, r in enumerate(records):
            for key in ("chosen", "rejected"):
                if not isinstance(r.get(key), list) or len(r[key]) != STYLES:
                    raise InputError(f"field {key!r} must be a list of {STYLES} strings", where=f"{f}:record {i}",
                                     fix="use RM-Bench's released files")
            if not isinstance(r.get("prompt"), str):
                raise InputError("field 'prompt' must be a string", where=f"{f}:record {i}")
        out[f.name[: -len("_filtered.json")]] = records[:limit] if limit else records
    return out


def style_matrix(scored: list[tuple[list[float], list[float]]]) -> np.ndarray:
    m = np.zeros((STYLES, STYLES))
    for chosen, rejected in scored:
        for i in range(STYLES):
            for j in range(STYLES):
                m[i, j] += float(chosen[i]) > float(rejected[j])
    return m / max(len(scored), 1)


def summarize(scored: list[tuple[list[float], list[float]]]) -> dict:
    m = style_matrix(scored)
    tri = STYLES * (STYLES - 1) / 2
    return {"n": len(scored), "matrix": m.tolist(), "hard": float(np.triu(m, 1).sum() / tri),
            "normal": float(np.mean(np.diag(m))), "easy": float(np.tril(m, -1).sum() / tri), "avg": float(m.mean())}


def rmbench_results(scored: dict[str, list[tuple[list[float], list[float]]]]) -> dict:
    """{domain: [(chosen scores, rejected scores), ...]} -> per-domain summaries, pooled safety, overall."""
    domains = {d: summarize(s) for d, s in scored.items()}
    safety = [x for d, s in scored.items() if d.startswith("safety") for x in s]
    board = {d: domains[d] for d in LEADERBOARD_DOMAINS if d in domains}
    if safety:
        board["safety"] = summarize(safety)
    overall = {k: float(np.mean([v[k] for v in board.values()])) for k in ("easy", "normal", "hard", "avg")}
    return {"domains": domains, "leaderboard_domains": board, "overall": overall}


def score_records(records: dict[str, list[dict]], scorer: Callable[[list[dict]], list[tuple[list, list]]]) -> dict:
    return rmbench_results({d: scorer(recs) for d, recs in records.items()})


def flat_metrics(results: dict, prefix: str = "") -> dict:
    """Registry metrics in % (results/reported/README.md): accuracy_avg, accuracy_hard, ... per domain too."""
    out = {f"{prefix}accuracy_{k}": 100 * v for k, v in results["overall"].items()}
    for d, v in results["leaderboard_domains"].items():
        out[f"{prefix}accuracy_{d}"] = 100 * v["avg"]
    return out


# ---- scorers --------------------------------------------------------------------------------------------
def rm_scorer(model, tokenizer, *, max_length: int = 512, add_sep_token: bool = False, batch_size: int = 8):
    rt = RewardTokenizer(tokenizer, max_length=max_length, add_sep_token=add_sep_token)
    collator = RewardCollator(tokenizer.pad_token_id)

    def scorer(recs):
        items = [rt.item({"query": render_query([{"role": "user", "content": r["prompt"]}]),
                          "responses": [" " + x for x in r["chosen"] + r["rejected"]],
                          "scores": [1.0] * STYLES + [0.0] * STYLES}) for r in recs]
        rewards = score_items(model, items, collator, batch_size)
        return [(r[:STYLES], r[STYLES:]) for r in rewards]

    return scorer


def response_logps(model, tokenizer, recs: list[dict], *, max_length: int, max_prompt_length: int,
                   batch_size: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Summed log-probs and token counts of every response, shape (len(recs), 2 * STYLES): chosen, then rejected.

    Pairs (chosen_k, rejected_k) go through prefopt.data.tokenize_pairs and refcache.compute_logps, so a policy is
    scored exactly as in training. A pair whose two responses are identical after truncation (tokenize_pairs
    drops it) gets the log-prob of that shared truncated response for both.
    """
    rows, slots, shared = [], [], 0
    tok_logger = logging.getLogger("prefopt.data.tokenization")
    level = tok_logger.level
    tok_logger.setLevel(logging.ERROR)  # drops are handled below, not warnings
    for n, r in enumerate(recs):
        prompt = [{"role": "user", "content": r["prompt"]}]
        for k in range(STYLES):
            pair = PreferencePair(prompt, [{"role": "assistant", "content": r["chosen"][k]}],
                                  [{"role": "assistant", "content": r["rejected"][k]}], f"record {n} style {k}")
            kw = {"max_length": max_length, "max_prompt_length": max_prompt_length}
            tok, _ = tokenize_pairs([pair], tokenizer, **kw)
            if not tok:  # identical after truncation: score the shared response once
                pair.rejected = [{"role": "assistant", "content": "-"}]
                tok, _ = tokenize_pairs([pair], tokenizer, **kw)
                tok = [dict(tok[0], rejected_ids=tok[0]["chosen_ids"])]
                shared += 1
            rows.append(tok[0])
            slots.append((n, k))
    tok_logger.setLevel(level)
    if shared:
        logging.getLogger("prefopt").warning("%d of %d chosen/rejected pairs are identical after truncation to "
                                             "max_length=%d (scored as ties)", shared, len(rows), max_length)
    chosen, rejected = compute_logps(model, rows, PairCollator(tokenizer.pad_token_id), batch_size=batch_size,
                                     desc="RM-Bench log-probs")
    logps = np.zeros((len(recs), 2 * STYLES))
    lengths = np.zeros((len(recs), 2 * STYLES))
    for (n, k), c, j, row in zip(slots, chosen.tolist(), rejected.tolist(), rows, strict=True):
        logps[n, k], logps[n, STYLES + k] = c, j
        lengths[n, k], lengths[n, STYLES + k] = len(row["chosen_ids"]), len(row["rejected_ids"])
    return logps, lengths


def policy_scores(logps: np.ndarray, lengths: np.ndarray, ref_logps: np.ndarray | None) -> dict[str, list]:
    """{"simpo": ..., "dpo": ... (with a reference)} as [(chosen[3], rejected[3]), ...]."""
    out = {"simpo": logps / np.maximum(lengths, 1)}
    if ref_logps is not None:
        out["dpo"] = logps - ref_logps
    return {k: [(list(v[i, :STYLES]), list(v[i, STYLES:])) for i in range(len(v))] for k, v in out.items()}


# ---- one model, end to end --------------------------------------------------------------------------------
def evaluate_model(model: str, data_dir: str | Path, *, ref: str | None = None, limit: int | None = None,
                   max_length: int = 512, max_prompt_length: int = 256, batch_size: int = 8,
                   out: str | Path | None = None, cell: str | None = None, template: str | None = None) -> dict:
    """Score `model` (a reward-model folder, or a policy) on RM-Bench; write the registry JSON to `out`."""

    torch.manual_seed(0)
    records = load_rmbench(data_dir, limit)
    settings = {"data": str(data_dir), "limit": limit, "max_length": max_length, "batch_size": batch_size}
    if is_reward_model(model):
        if ref:
            raise InputError("--ref is for policies; a reward model is scored by its own head",
                             fix="drop REF / --ref")
        rm_settings = reward_settings(model)
        tok = load_tokenizer(ModelArguments(model_name_or_path=str(model)), require_chat_template=False)
        scorer = rm_scorer(load_reward_model(model), tok, max_length=max_length, batch_size=batch_size,
                           add_sep_token=rm_settings.get("add_sep_token", False))
        per_kind = {"rm": score_records(records, scorer)}
        primary, kind = "rm", "reward-model"
    else:
        args = ModelArguments(model_name_or_path=str(model))
        tok = load_tokenizer(args)
        kw = {"max_length": max_length, "max_prompt_length": max_prompt_length, "batch_size": batch_size}

        def logps_of(name):
            m = load_model(name, args)
            flat = [r for recs in records.values() for r in recs]
            lp, ln = response_logps(m, tok, flat, **kw)
            del m
            return lp, ln

        lp, ln = logps_of(str(model))
        ref_lp = logps_of(str(ref))[0] if ref else None
        flat_scores = policy_scores(lp, ln, ref_lp)
        per_kind = {}
        for k, scored in flat_scores.items():
            split, i = {}, 0
            for d, recs in records.items():
                split[d], i = scored[i: i + len(recs)], i + len(recs)
            per_kind[k] = rmbench_results(split)
        primary, kind = ("dpo" if ref else "simpo"), "policy-implicit-reward"
    metrics = flat_metrics(per_kind[primary])
    for k, res in per_kind.items():
        metrics.update(flat_metrics(res, prefix=f"{k}_"))
    payload = {
        "cell": cell, "benchmark": "rm-bench", "metrics": metrics,
        "primary_reward": primary,
        "details": per_kind,
        "manifest": build_manifest("rm-bench", config=settings, model=str(model), reference=ref, scored_as=kind, template=template,
                                   records={d: len(r) for d, r in records.items()}),
    }
    if out:
        write_json(out, payload)
    return payload
