"""What a policy answers: query files and the `hh` prompt template (GENERATION strings: prefopt.evaluation.settings).

    queries = load_queries("data/apo/hh-split/eval_data/hh_cleaned_origin.test.json", "test")
    # [{"query_id": "0", "query": "\\n\\nHuman: ...\\n\\nAssistant:", "prompt": [{"role": "user", ...}]}, ...]
    model, tok = load_policy("chavinlo/alpaca-native", template="hh")

A query is kept twice: as hh-rlhf text (what APO's reward models read: query + response) and as prompt messages
(what `prefopt.modeling.generate` renders with the policy's chat template). Query rows, detected per row:

* APO's comparison files: {"text": ["query<sep>response", ...], "scores", "query_id"}: the part of text[0] before
  "<sep>" (APO's inference_llm.py, data_type comparison_pair);
* {"query": ...} or {"instruction": ...} (APO's sample/golden files): hh-rlhf text, or plain text (one user turn);
* {"prompt": ...}: a string or a list of {role, content} messages (UltraFeedback, plain pairs);
* any other preference format prefopt.data reads (hh-rlhf chosen/rejected dialogues, ShareGPT): its prompt.

`query_id` is the row's query_id (else its id, else its 0-based row number); ids must be unique.

Policies load through prefopt.evaluation.answers.load_policy, whose templates (prefopt.evaluation.templates) hold
`hh` beside the benchmarks' templates. The `hh` template renders messages as APO's alpaca prompts: BOS + "\\n\\nHuman: ...\\n\\nAssistant: ..." with
"\\n\\nAssistant:" as the generation prompt and EOS after the final assistant turn (the SFT target), so sampling,
SFT on the best samples and testing all see the text APO's tools/inference_llm.py feeds alpaca-native.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from prefopt.config import ModelArguments
from prefopt.core.errors import InputError
from prefopt.data import read_source, to_pairs
from prefopt.evaluation.answers import load_policy  # noqa: F401 (re-exported: rjs and score_eval load through here)
from prefopt.evaluation.templates import HH_TEMPLATE  # noqa: F401 (re-exported)
from prefopt.modeling.loading import load_tokenizer

from .data import SEP_TEXT, render_query
from .model import is_reward_model, load_reward_model, reward_settings

_HH_PROMPT = re.compile(r"^\s*(\n\n)?(Human|System):.*Assistant:\s*$", re.S)
QUERY_FIELDS_HELP = ("give each row a 'query' (hh-rlhf text '\\n\\nHuman: ...\\n\\nAssistant:' or plain text), a "
                     "'prompt' (string or messages), APO's 'text' list ['query<sep>response', ...], or a preference "
                     "pair (chosen/rejected)")


def hh_messages(text: str, where: str) -> list[dict]:
    """hh-rlhf prompt text ending with 'Assistant:' -> prompt messages; plain text -> one user turn."""
    if not _HH_PROMPT.match(text):
        return [{"role": "user", "content": text.strip()}]
    if not text.startswith("\n\n"):
        text = "\n\n" + text.lstrip()
    parts = re.split(r"\n\n(Human|Assistant|System):", text.rstrip())
    if parts[0].strip() or parts[-2] != "Assistant" or parts[-1].strip():
        raise InputError("the query does not end with an empty '\\n\\nAssistant:' turn", where=where,
                         fix="end hh-rlhf queries with '\\n\\nAssistant:'")
    roles = {"Human": "user", "Assistant": "assistant", "System": "system"}
    return [{"role": roles[r], "content": c.strip()} for r, c in zip(parts[1:-2:2], parts[2:-2:2], strict=True)]


def _row_query(row: dict, where: str) -> tuple[str, list[dict]] | None:
    """(hh text, prompt messages) of one query row; None for a preference pair (read with prefopt.data)."""
    if "text" in row:
        texts = row["text"]
        if not isinstance(texts, list) or not texts or not isinstance(texts[0], str):
            raise InputError("field 'text' must be a non-empty list of strings", where=where, fix=QUERY_FIELDS_HELP)
        query, sep, _ = texts[0].partition(SEP_TEXT)
        if not sep:
            raise InputError("field 'text'[0] has no '<sep>' between the query and the response", where=where,
                             fix="write APO comparison texts as 'query<sep>response'")
        return query, hh_messages(query, where)
    for key in ("query", "instruction", "prompt"):
        if key not in row:
            continue
        value = row[key]
        if isinstance(value, str):
            if not value.strip():
                raise InputError(f"field {key!r} is empty", where=where, fix="remove the row or give the query text")
            messages = hh_messages(value, where)
            return (value if _HH_PROMPT.match(value) else render_query(messages)), messages
        if key == "prompt" and isinstance(value, list) and value and all(
                isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
                for m in value):
            messages = [{"role": m["role"], "content": m["content"]} for m in value]
            return render_query(messages), messages
        raise InputError(f"field {key!r} is a {type(value).__name__}, not a string or a message list", where=where,
                         fix=QUERY_FIELDS_HELP)
    if "chosen" in row or "conversations" in row:
        return None
    have = ", ".join(sorted(map(str, row))[:12]) or "none"
    raise InputError(f"row has no query (its fields: {have})", where=where, fix=QUERY_FIELDS_HELP)


def load_queries(source: str, split: str = "test", *, limit: int | None = None, bad_rows: str = "error"
                 ) -> list[dict]:
    """Queries of a file, folder or hub dataset: [{"query_id", "query" (hh text), "prompt" (messages)}]."""
    rows, label = read_source(source, split)
    rows = rows[:limit] if limit else rows
    out, pair_rows = [], []
    for i, row in enumerate(rows):
        where = f"{label}:row {i + 1}"
        if not isinstance(row, dict):
            raise InputError(f"row is a {type(row).__name__}, not an object", where=where, fix=QUERY_FIELDS_HELP)
        got = _row_query(row, where)
        qid = str(row.get("query_id", row.get("id", i)))
        if got is None:
            pair_rows.append((i, qid, row))
        else:
            out.append({"query_id": qid, "query": got[0], "prompt": got[1], "row": i})
    if pair_rows:
        pairs = to_pairs([r for _, _, r in pair_rows], label, bad_rows=bad_rows)
        kept = {p.where: p for p in pairs}
        for j, (i, qid, _) in enumerate(pair_rows):
            pair = kept.get(f"{label}:row {j + 1}")
            if pair is not None:
                out.append({"query_id": qid, "query": render_query(pair.prompt), "prompt": pair.prompt, "row": i})
        out.sort(key=lambda q: q["row"])
    seen: dict[str, int] = {}
    for q in out:
        if q["query_id"] in seen:
            raise InputError(f"query_id {q['query_id']!r} appears twice (rows {seen[q['query_id']] + 1} and "
                             f"{q['row'] + 1})", where=label, fix="query ids must be unique")
        seen[q["query_id"]] = q.pop("row")
    if not out:
        raise InputError("no queries", where=label, fix=QUERY_FIELDS_HELP)
    return out


def load_scorer(folder: str, device: str = "auto"):
    """(reward model, tokenizer, settings) of a scripts/run_rm.py output folder; a clear error when it is not one."""


    folder = str(folder)
    if not is_reward_model(folder):
        what = "does not exist" if not Path(folder).exists() else "is not a reward model (no reward_config.json)"
        raise InputError(f"{folder} {what}", where="reward model",
                         fix="pass the output_dir of scripts/run_rm.py (e.g. `make hh-base-rm` writes "
                             "outputs/llama-7b-hh-rm/rm-base)")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    tokenizer = load_tokenizer(ModelArguments(model_name_or_path=str(folder)), require_chat_template=False)
    return load_reward_model(folder).to(device), tokenizer, reward_settings(folder)
