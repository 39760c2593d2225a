"""APO's data converter (tools/apo_data_converter.py) and best-of-n selection (tools/rejection_sampling.py).

    items = apo_items(golden_rows, sample_rows)             # golden-vs-sample comparison items
    write_items(items, "outputs/apo/apo_text_scores.json")  # the file run_rm.py reads with the human pairs

golden rows: {"query_id", "golden"[, "query"]}; sample rows: {"query_id", "query", "sample_0", "sample_1", ...}
(what `sample_rows` builds from `prefopt.modeling.generate`). The two are joined on query_id; a query on one side only is
an InputError that lists the ids (APO's script raises a bare KeyError). Every response is cut at the first
"\\nHuman" (a simulated next turn). Each sample_k gives one item
{"text": [query<sep>golden, query<sep>sample_k], "scores": [1.0, 0.0], "type": "apo"}; with sampling=True one
random sample_k per query is used instead.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from prefopt.core.errors import InputError
from prefopt.modeling.generate import generate

from .data import SEP_TEXT, RewardCollator, RewardTokenizer
from .train import score_items

STOP = "\nHuman"
_SAMPLE_KEY = re.compile(r"^sample_(\d+)$")


def cut_response(text: str) -> str:
    """The text up to the first "\\nHuman" (APO drops simulated next turns)."""
    return text.split(STOP, 1)[0]


def _ids(rows: list[dict], side: str, field: str | None) -> dict:
    out = {}
    for i, row in enumerate(rows):
        where = f"{side} row {i + 1}"
        if not isinstance(row, dict) or "query_id" not in row:
            raise InputError("row has no 'query_id'", where=where, fix="every golden and sample row needs query_id")
        if field and not isinstance(row.get(field), str):
            raise InputError(f"row has no string '{field}'", where=where, fix=f"add the '{field}' field")
        qid = str(row["query_id"])
        if qid in out:
            raise InputError(f"query_id {qid!r} appears twice", where=where, fix="query ids must be unique per file")
        out[qid] = row
    return out


def listing(ids: list[str], limit: int = 10) -> str:
    shown = ", ".join(repr(i) for i in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def apo_items(golden_rows: list[dict], sample_rows: list[dict], *, sampling: bool = False,
              seed: int = 0) -> list[dict]:
    golden = _ids(golden_rows, "golden", "golden")
    samples = _ids(sample_rows, "samples", None)
    no_golden = sorted(set(samples) - set(golden))
    no_samples = sorted(set(golden) - set(samples))
    if no_golden or no_samples:
        parts = []
        if no_golden:
            parts.append(f"{len(no_golden)} sampled quer{'y has' if len(no_golden) == 1 else 'ies have'} no golden "
                         f"answer: {listing(no_golden)}")
        if no_samples:
            parts.append(f"{len(no_samples)} golden answer(s) have no samples: {listing(no_samples)}")
        raise InputError("; ".join(parts), where="APO converter (golden x samples, joined on query_id)",
                         fix="generate samples for exactly the queries that have golden answers")
    rng = random.Random(seed)
    items = []
    for qid, srow in samples.items():
        query = srow.get("query", golden[qid].get("query"))
        if not isinstance(query, str):
            raise InputError(f"query_id {qid!r} has no 'query' text", where="samples", fix="add the 'query' field")
        keys = sorted((k for k in srow if _SAMPLE_KEY.match(k)), key=lambda k: int(k.split("_")[1]))
        if not keys:
            raise InputError(f"query_id {qid!r} has no sample_<k> field", where="samples", fix="add sample_0 ...")
        if sampling:
            keys = [rng.choice(keys)]
        gold = cut_response(golden[qid]["golden"])
        for k in keys:
            items.append({"text": [query + SEP_TEXT + gold, query + SEP_TEXT + cut_response(srow[k])],
                          "scores": [1.0, 0.0], "type": "apo", "query_id": qid, "sample": k})
    return items


def sample_rows(model, tokenizer, queries: dict[str, tuple[str, list[dict]]], *, num_samples: int = 4,
                do_sample: bool = True, **generate_kwargs) -> list[dict]:
    """{query_id: (query text, prompt messages)} -> sample rows, from `prefopt.generate.generate` (sampling
    unless do_sample=False, which needs num_samples 1)."""
    ids = list(queries)
    outs = generate(model, tokenizer, [queries[q][1] for q in ids], do_sample=do_sample,
                    num_return_sequences=num_samples, **generate_kwargs)
    return [{"query_id": q, "query": queries[q][0], "prompt": queries[q][1],
             **{f"sample_{k}": t for k, t in enumerate(texts)}} for q, texts in zip(ids, outs, strict=True)]


def best_of_n(row: dict, scores: dict[str, float], exclude: tuple[str, ...] = ("hh_best",)) -> dict:
    """Rejection sampling: the highest-scored non-empty response of a row becomes `target` (APO's RJS step).

    `scores` maps response keys of `row` to RM scores; keys in `exclude` count only when nothing else is scored.
    """
    keys = [k for k in scores if isinstance(row.get(k), str) and row[k].strip()]
    preferred = [k for k in keys if k not in exclude] or keys
    if not preferred:
        raise InputError(f"query_id {row.get('query_id')!r} has no non-empty scored response",
                         where="rejection sampling", fix="score at least one non-empty response")
    best = max(preferred, key=lambda k: scores[k])
    return {**row, "target": row[best], "target_key": best, "scores": dict(scores)}


def rejection_sample(model, tokenizer, rows: list[dict], *, max_length: int = 512, add_sep_token: bool = False,
                     batch_size: int = 8) -> list[dict]:
    """Best-of-n with a reward model: score every sample_k of each row (query + response, APO's layout), keep
    the best as an SFT row {"messages": prompt + [assistant target], "query_id", "scores"} (needs "prompt")."""
    rt = RewardTokenizer(tokenizer, max_length=max_length, add_sep_token=add_sep_token)
    keys = [[k for k in r if _SAMPLE_KEY.match(k) and isinstance(r[k], str) and r[k].strip()] for r in rows]
    items = [rt.item({"query": r["query"], "responses": [r[k] for k in ks], "scores": [0.0] * len(ks)})
             for r, ks in zip(rows, keys, strict=True)]
    rewards = score_items(model, items, RewardCollator(tokenizer.pad_token_id), batch_size)
    out = []
    for r, ks, rw in zip(rows, keys, rewards, strict=True):
        if not isinstance(r.get("prompt"), list):
            raise InputError(f"query_id {r.get('query_id')!r} has no 'prompt' messages", where="rejection sampling",
                             fix="build the rows with sample_rows (it keeps the prompt messages)")
        best = best_of_n(r, dict(zip(ks, rw, strict=True)))
        out.append({"query_id": r["query_id"], "scores": best["scores"], "target_key": best["target_key"],
                    "messages": list(r["prompt"]) + [{"role": "assistant", "content": best["target"].strip()}]})
    return out


def write_items(items: list[dict], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(items, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path
