"""Preference rows in the common formats -> `PreferencePair` (chat messages).

Accepted per row (detected from the columns):

(a) UltraFeedback-binarized: `chosen`/`rejected` are message lists whose last message is the assistant
    response; `prompt` is optional (a string or a message list). Without a usable prompt, the prompt is
    `chosen[:-1]`, which must equal `rejected[:-1]`. A string prompt whose user turn is already in
    `chosen[:-1]` is not duplicated.
(b) hh-rlhf: `chosen`/`rejected` are full dialogues "\\n\\nHuman: ...\\n\\nAssistant: ...". They are split into
    turns at the "\\n\\nHuman:" / "\\n\\nAssistant:" markers; consecutive turns of one role are joined
    (the data has a few dialogues with a lost "\\n\\n" marker); the final Assistant turn is the response and
    everything before it is the prompt, which must be the same in chosen and rejected.
(c) plain strings: `prompt`, `chosen`, `rejected` (a prompt that is itself an hh-rlhf dialogue prefix
    "\\n\\nHuman: ...\\n\\nAssistant:" is split into turns).
(d) ShareGPT / LLaMA-Factory: `conversations` = [{"from": "human"|"gpt"|"system", "value": ...}] ending with
    the human turn, plus `chosen`/`rejected` = {"from": "gpt", "value": ...}; optional `system` column.

Content problems (empty response, chosen == rejected, prompts that differ) raise `InputError` by default;
with `bad_rows="drop"` such rows are dropped, counted by reason in `PairList.dropped`, and logged as a
warning. Problems with the columns or types always raise.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass

from prefopt.core.errors import InputError

from .files import read_source

logger = logging.getLogger(__name__)

BAD_ROW_POLICIES = ("error", "drop")
FORMATS_HELP = (
    "a preference row needs prompt+chosen+rejected (strings or {role, content} message lists), or chosen+rejected "
    "alone (message lists ending with the assistant response, or hh-rlhf '\\n\\nHuman: ...\\n\\nAssistant: ...' "
    "strings), or conversations+chosen+rejected (ShareGPT)"
)
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "model": "assistant",
                  "bot": "assistant", "chatgpt": "assistant", "system": "system"}
_HH_MARK = re.compile(r"\n\n(Human|Assistant):")


@dataclass
class PreferencePair:
    prompt: list[dict]  # chat messages before the response, [{"role", "content"}]
    chosen: list[dict]  # the chosen response: assistant message(s)
    rejected: list[dict]
    where: str  # "file.jsonl:row 17", for messages


class PairList(list):
    """A list of PreferencePair that remembers how many rows loading dropped, by reason (`bad_rows="drop"`).

    `tokenize_pairs` adds these counts to its report. Slicing gives a plain list (the counts are about
    the whole source).
    """

    def __init__(self, pairs=(), dropped: dict[str, int] | None = None):
        super().__init__(pairs)
        self.dropped: dict[str, int] = dict(dropped or {})


class _BadRow(Exception):
    """A content problem in one row: raised as InputError, or dropped under bad_rows='drop'."""

    def __init__(self, reason: str, what: str, fix: str):
        super().__init__(what)
        self.reason, self.what, self.fix = reason, what, fix


def load_pairs(source: str, split: str = "train", *, bad_rows: str = "error") -> PairList:
    """`load_rows` + `to_pairs`; messages name the file the rows came from."""
    rows, label = read_source(source, split)
    return to_pairs(rows, label, bad_rows=bad_rows)


def to_pairs(rows: list[dict], source: str, *, bad_rows: str = "error") -> PairList:
    if bad_rows not in BAD_ROW_POLICIES:
        raise InputError(f"bad_rows={bad_rows!r} is not a policy", fix=f"use one of {BAD_ROW_POLICIES}")
    pairs, dropped, first = PairList(), Counter(), {}
    for i, row in enumerate(rows):
        where = f"{source}:row {i + 1}"
        if not isinstance(row, dict):
            raise InputError(f"row is a {type(row).__name__}, not a mapping of columns", where=where, fix=FORMATS_HELP)
        try:
            pairs.append(_row_to_pair(row, where))
        except _BadRow as e:
            if bad_rows == "error":
                raise InputError(e.what, where=where, fix=f"{e.fix}, or pass bad_rows='drop' to drop such rows "
                                 "(they are counted)") from None
            dropped[e.reason] += 1
            first.setdefault(e.reason, where)
    pairs.dropped = dict(dropped)
    if dropped:
        detail = ", ".join(f"{n} {reason} (first: {first[reason]})" for reason, n in sorted(dropped.items()))
        logger.warning("%s: dropped %d of %d rows: %s", source, sum(dropped.values()), len(rows), detail)
    return pairs


# ---- one row -----------------------------------------------------------------------------------------
def _row_to_pair(row: dict, where: str) -> PreferencePair:
    if row.get("conversations") is not None:
        return _sharegpt(row, where)
    missing = [k for k in ("chosen", "rejected") if row.get(k) is None]
    if missing:
        have = ", ".join(sorted(map(str, row))[:12]) or "none"
        raise InputError(f"missing column(s) {', '.join(map(repr, missing))} (the row has: {have})", where=where,
                         fix=FORMATS_HELP)
    chosen, rejected, prompt = row["chosen"], row["rejected"], row.get("prompt")
    for field, value in (("chosen", chosen), ("rejected", rejected)):
        if not isinstance(value, str | list | dict):
            raise _type_error(field, value, "a string or a list of {role, content} messages", where)
    if isinstance(chosen, str) and isinstance(rejected, str) and prompt is None:
        if "\n\nAssistant:" in chosen or chosen.lstrip().startswith("Human:"):
            return _hh(chosen, rejected, where)
        raise InputError("'chosen' and 'rejected' are strings but there is no 'prompt' column, and they are not "
                         "hh-rlhf dialogues ('\\n\\nHuman: ...\\n\\nAssistant: ...')", where=where, fix=FORMATS_HELP)
    return _messages_pair(prompt, chosen, rejected, where)


def _messages_pair(prompt, chosen, rejected, where: str) -> PreferencePair:
    """Formats (a) and (c): chosen/rejected as message lists or strings, prompt optional."""
    c = _messages(chosen, "chosen", where, default_role="assistant")
    r = _messages(rejected, "rejected", where, default_role="assistant")
    for field, msgs in (("chosen", c), ("rejected", r)):
        if not msgs:
            raise _BadRow("empty_response", f"field {field!r} is an empty list", f"give a response in {field!r}")
        if msgs[-1]["role"] != "assistant":
            raise InputError(f"field {field!r}: the last message has role {msgs[-1]['role']!r}, but the response must "
                             "be an assistant message", where=where, fix="end the message list with the assistant reply")
    if isinstance(prompt, list | dict):
        p = _messages(prompt, "prompt", where)
        if not p:
            raise InputError("field 'prompt' is an empty list", where=where, fix="give the prompt messages")
        # chosen/rejected may repeat the prompt (full conversations): keep the part after it
        if len(c) > len(p) and c[: len(p)] == p:
            c = c[len(p):]
        if len(r) > len(p) and r[: len(p)] == p:
            r = r[len(p):]
        for field, msgs in (("chosen", c), ("rejected", r)):
            if any(m["role"] == "user" for m in msgs):
                raise InputError(f"field {field!r} holds a user message after the prompt", where=where,
                                 fix=f"give only the response in {field!r}, or make it start with the 'prompt' messages")
    elif prompt is None or isinstance(prompt, str):
        ctx_c, ctx_r = c[:-1], r[:-1]
        if ctx_c != ctx_r:
            raise _BadRow("prompt_mismatch", "the messages before the response differ between 'chosen' and 'rejected'",
                          "make chosen[:-1] equal rejected[:-1], or give the prompt in a 'prompt' column")
        c, r = c[-1:], r[-1:]
        if prompt is None:
            if not ctx_c:
                raise InputError("no prompt: 'chosen' holds only the response and there is no 'prompt' column",
                                 where=where, fix="add a 'prompt' column or put the user turn before the response")
            p = ctx_c
        else:
            p = _string_prompt(prompt, ctx_c)
    else:
        raise _type_error("prompt", prompt, "a string or a list of {role, content} messages", where)
    _check_responses(c, r)
    return PreferencePair(p, c, r, where)


def _string_prompt(prompt: str, ctx: list[dict]) -> list[dict]:
    if prompt.startswith("\n\nHuman:") and prompt.rstrip().endswith("Assistant:"):
        turns = _hh_turns(prompt + " x", "prompt")  # an hh-rlhf prefix: parse it as a dialogue
        return ctx + turns[:-1]
    users = [m for m in ctx if m["role"] == "user"]
    if not users:
        return ctx + [{"role": "user", "content": prompt}]
    if any(m["content"].strip() == prompt.strip() for m in users):
        return ctx  # the user turn is already in chosen[:-1]: do not duplicate it
    raise _BadRow("prompt_mismatch", "field 'prompt' differs from every user turn in chosen[:-1]",
                  "drop the 'prompt' column or make it equal to the user turn")


def _check_responses(c: list[dict], r: list[dict]) -> None:
    for field, msgs in (("chosen", c), ("rejected", r)):
        if not any(m["content"].strip() for m in msgs):
            raise _BadRow("empty_response", f"field {field!r} has an empty response",
                          f"remove the row or give a non-empty {field!r}")
    if c == r:
        raise _BadRow("identical", "fields 'chosen' and 'rejected' are identical",
                      "remove the row (it carries no preference)")


def _messages(value, field: str, where: str, default_role: str | None = None) -> list[dict]:
    if isinstance(value, str) and default_role:
        return [{"role": default_role, "content": value}]
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise _type_error(field, value, "a list of {role, content} messages", where)
    out = []
    for j, m in enumerate(value):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            got = f"keys {sorted(m)}" if isinstance(m, dict) else type(m).__name__
            raise InputError(f"field {field!r}[{j}] is not a {{role, content}} message with string values ({got})",
                             where=where, fix='write each message as {"role": "user", "content": "..."}')
        out.append({"role": m["role"], "content": m["content"]})
    return out


def _type_error(field: str, value, expected: str, where: str) -> InputError:
    return InputError(f"field {field!r} is a {type(value).__name__}, expected {expected}", where=where,
                      fix=f"fix the {field!r} column; {FORMATS_HELP}")


# ---- hh-rlhf -----------------------------------------------------------------------------------------
def _hh_turns(text: str, field: str) -> list[dict]:
    """'\\n\\nHuman: a\\n\\nAssistant: b' -> [user a, assistant b]; consecutive turns of one role are joined."""
    if text.startswith("Human:"):
        text = "\n\n" + text
    parts = _HH_MARK.split(text)
    if parts[0].strip() or len(parts) < 3:
        raise _BadRow("malformed_dialogue", f"field {field!r} does not start with '\\n\\nHuman:'",
                      "give hh-rlhf dialogues as '\\n\\nHuman: ...\\n\\nAssistant: ...'")
    turns: list[dict] = []
    for role_name, content in zip(parts[1::2], parts[2::2]):
        role = "user" if role_name == "Human" else "assistant"
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += "\n\n" + content.strip()
        else:
            turns.append({"role": role, "content": content.strip()})
    return turns


def _hh(chosen: str, rejected: str, where: str) -> PreferencePair:
    tc, tr = _hh_turns(chosen, "chosen"), _hh_turns(rejected, "rejected")
    for field, turns in (("chosen", tc), ("rejected", tr)):
        if turns[-1]["role"] != "assistant" or len(turns) < 2:
            raise _BadRow("malformed_dialogue", f"field {field!r} does not end with an Assistant turn after a Human "
                          "turn", "end the dialogue with '\\n\\nAssistant: <response>'")
    if tc[:-1] != tr[:-1]:
        raise _BadRow("prompt_mismatch", "the dialogue before the last Assistant turn differs between 'chosen' and "
                      "'rejected'", "make both strings share the dialogue up to the last '\\n\\nAssistant:'")
    c, r = tc[-1:], tr[-1:]
    _check_responses(c, r)
    return PreferencePair(tc[:-1], c, r, where)


# ---- ShareGPT ----------------------------------------------------------------------------------------
def sharegpt_messages(value, field: str, where: str) -> list[dict]:
    """[{"from": "human", "value": ...}] (or {role, content}) -> [{"role": "user", "content": ...}]."""
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise _type_error(field, value, 'a list of {"from", "value"} messages', where)
    out = []
    for j, m in enumerate(value):
        if isinstance(m, dict) and "from" in m:
            who, content = m.get("from"), m.get("value")
        elif isinstance(m, dict):
            who, content = m.get("role"), m.get("content")
        else:
            who = content = None
        role = SHAREGPT_ROLES.get(who) if isinstance(who, str) else None
        if role is None or not isinstance(content, str):
            raise InputError(f"field {field!r}[{j}] is not a ShareGPT message with a known 'from' "
                             f"({sorted(SHAREGPT_ROLES)}) and a string 'value'", where=where,
                             fix='write each message as {"from": "human", "value": "..."}')
        out.append({"role": role, "content": content})
    return out


def _sharegpt(row: dict, where: str) -> PreferencePair:
    p = sharegpt_messages(row["conversations"], "conversations", where)
    system = row.get("system")
    if isinstance(system, str) and system.strip() and not (p and p[0]["role"] == "system"):
        p = [{"role": "system", "content": system}] + p
    if not p or p[-1]["role"] != "user":
        raise InputError("field 'conversations' must end with the human turn (the responses go in 'chosen' and "
                         "'rejected')", where=where, fix="move the final gpt turn out of 'conversations'")
    missing = [k for k in ("chosen", "rejected") if row.get(k) is None]
    if missing:
        raise InputError(f"missing column(s) {', '.join(map(repr, missing))} next to 'conversations'", where=where,
                         fix='ShareGPT preference rows need "chosen" and "rejected" as {"from": "gpt", "value": ...}')
    c = sharegpt_messages(row["chosen"], "chosen", where)
    r = sharegpt_messages(row["rejected"], "rejected", where)
    for field, msgs in (("chosen", c), ("rejected", r)):
        if not msgs or msgs[-1]["role"] != "assistant":
            raise InputError(f"field {field!r} must end with a gpt message", where=where,
                             fix=f'write {field!r} as {{"from": "gpt", "value": "..."}}')
    _check_responses(c, r)
    return PreferencePair(p, c, r, where)


# ---- SFT rows ----------------------------------------------------------------------------------------
SFT_FORMATS_HELP = ("an SFT row needs 'messages' (a {role, content} list ending with the assistant target), "
                    "'conversations' (ShareGPT), or 'prompt'+'completion' (strings or message lists)")


def sft_example(row: dict, where: str) -> tuple[list[dict], list[dict]]:
    """(prompt messages, response messages) of one SFT row."""
    if not isinstance(row, dict):
        raise InputError(f"row is a {type(row).__name__}, not a mapping of columns", where=where, fix=SFT_FORMATS_HELP)
    if row.get("messages") is not None or row.get("conversations") is not None:
        field = "messages" if row.get("messages") is not None else "conversations"
        msgs = (_messages(row[field], field, where) if field == "messages"
                else sharegpt_messages(row[field], field, where))
        if not msgs or msgs[-1]["role"] != "assistant":
            raise InputError(f"field {field!r} must end with the assistant message (the training target)",
                             where=where, fix="end each conversation with the assistant reply")
        prompt, response = msgs[:-1], msgs[-1:]
    elif row.get("prompt") is not None and row.get("completion") is not None:
        prompt = _messages(row["prompt"], "prompt", where, default_role="user")
        response = _messages(row["completion"], "completion", where, default_role="assistant")
    else:
        have = ", ".join(sorted(map(str, row))[:12]) or "none"
        raise InputError(f"no SFT columns (the row has: {have})", where=where, fix=SFT_FORMATS_HELP)
    if not any(m["content"].strip() for m in response):
        raise InputError("the assistant target is empty", where=where, fix="remove the row or give a target")
    return prompt, response
