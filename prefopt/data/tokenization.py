"""Chat-template rendering, tokenization and truncation of preference pairs and SFT rows.

Rules (see `tokenize_pairs`): render with the tokenizer's chat template, tokenize with
add_special_tokens=False, exactly one BOS at the start of the prompt (none if the tokenizer has no BOS),
every response ends with EOS, SimPO's truncation rule, and every row that truncation or filtering touched
is counted in a `TokenizeReport`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from tqdm.auto import tqdm

from prefopt.core.errors import InputError

from .formats import sft_example

logger = logging.getLogger(__name__)

TRUNCATION_MODES = ("keep_end", "keep_start")
CHUNK = 256  # rows per batched render + tokenizer call


@dataclass
class TokenizeReport:
    """What tokenization did; `total == kept + sum(dropped.values())` always holds."""

    total: int
    kept: int
    prompt_truncated: int
    response_truncated: int  # rows where at least one response was cut
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> rows (load-time drops included)
    settings: dict = field(default_factory=dict)  # max_length, truncation_mode, bos handling, ...
    lengths: dict = field(default_factory=dict)  # token-length statistics of the kept rows
    unit: str = "pairs"

    def summary(self) -> str:
        mode = self.settings.get("truncation_mode")
        parts = [
            f"{self.kept} kept",
            f"{self.prompt_truncated} prompts truncated" + (f" ({mode})" if mode and self.prompt_truncated else ""),
            f"{self.response_truncated} responses truncated",
        ]
        parts += [f"{n} dropped ({reason})" for reason, n in sorted(self.dropped.items())]
        return f"{self.total} {self.unit}: " + ", ".join(parts)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


# ---- the shared machinery ---------------------------------------------------------------------------
class _ChatTokenizer:
    """Render + tokenize + split prompt/response, with the BOS/EOS rules."""

    def __init__(self, tokenizer):
        if not getattr(tokenizer, "chat_template", None):
            raise InputError("the tokenizer has no chat template", fix="set `chat_template` in the config, or use a "
                             "tokenizer that ships one (an SFT or instruct model's)")
        self.tok = tokenizer
        self.bos = tokenizer.bos_token_id if getattr(tokenizer, "bos_token", None) is not None else None
        self.eos = tokenizer.eos_token_id
        if self.eos is None:
            raise InputError("the tokenizer has no eos_token", fix="set tokenizer.eos_token (responses must end with it)")
        self._ws: dict[int, bool] = {}
        self.bos_in_template: Counter = Counter()  # how many BOS the rendered prompts started with

    def render(self, convs: list[list[dict]], gen: bool, wheres: list[str]) -> list[str]:
        try:
            return list(self.tok.apply_chat_template(convs, tokenize=False, add_generation_prompt=gen))
        except Exception:
            for conv, where in zip(convs, wheres):  # find the row the template failed on
                try:
                    self.tok.apply_chat_template(conv, tokenize=False, add_generation_prompt=gen)
                except Exception as e:
                    msg = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
                    raise InputError(f"the chat template failed on this conversation: {msg}", where=where,
                                     fix="check the roles and their order (some templates need strict user/assistant "
                                     "alternation or reject system messages), or use another chat_template") from None
            raise

    def encode(self, texts: list[str]) -> list[list[int]]:
        return list(self.tok(texts, add_special_tokens=False, verbose=False)["input_ids"])

    def lead_bos(self, ids: list[int], count: bool = False) -> list[int]:
        if self.bos is None:
            return ids
        i = 0
        while i < len(ids) and ids[i] == self.bos:
            i += 1
        if count:
            self.bos_in_template[min(i, 2)] += 1
        return [self.bos] + ids[i:] if i != 1 else ids

    def _is_ws(self, tid: int) -> bool:
        if tid not in self._ws:
            self._ws[tid] = tid != self.eos and self.tok.decode([tid]).strip() == ""
        return self._ws[tid]

    def end_eos(self, ids: list[int]) -> list[int]:
        """End with EOS: drop whitespace the template put after its EOS (ChatML's '\\n'), else append EOS."""
        i = len(ids)
        while i > 0 and ids[i - 1] != self.eos and self._is_ws(ids[i - 1]):
            i -= 1
        if i > 0 and ids[i - 1] == self.eos:
            return ids[:i]
        return ids + [self.eos]

    def split(self, prompt_text: str, full_texts: list[str], prompt_ids: list[int], full_ids: list[list[int]],
              where: str) -> tuple[list[int], list[list[int]]]:
        """Shared prompt ids and one response per full text (prompt + response tokens == full tokens)."""
        for text in full_texts:
            if not text.startswith(prompt_text):
                d = next((i for i, (a, b) in enumerate(zip(prompt_text, text)) if a != b), len(text))
                raise InputError(
                    "the chat template renders the prompt differently when the response follows it: "
                    f"{prompt_text[max(0, d - 25):d + 15]!r} vs {text[max(0, d - 25):d + 15]!r}", where=where,
                    fix="use a chat template whose rendering of prompt + response starts with the rendered prompt, "
                    "or switch role_header_in_response",
                )
        p = self.lead_bos(prompt_ids, count=True)
        fulls = [self.lead_bos(f) for f in full_ids]
        k = len(p)
        for f in fulls:
            if f[:k] != p[:k]:  # a BPE merge across the boundary: move the split back (as SimPO does)
                k = next((i for i, (a, b) in enumerate(zip(p[:k], f)) if a != b), min(k, len(f)))
        return p[:k], [self.end_eos(f[k:]) for f in fulls]

    def bos_note(self) -> str:
        if self.bos is None:
            return "none (the tokenizer has no bos_token)"
        c = self.bos_in_template
        notes = {0: "prepended (not in the template)", 1: "from the template", 2: "deduplicated (template had several)"}
        return ", ".join(f"{notes[k]}: {c[k]}" for k in sorted(c)) or "n/a"


def _truncate_prompt(ids: list[int], n: int, mode: str, bos: int | None) -> list[int]:
    if len(ids) <= n:
        return ids
    if mode == "keep_start":
        return ids[:n]
    if bos is not None and ids and ids[0] == bos:  # keep_end keeps the single BOS first
        return [bos] + ids[len(ids) - (n - 1):]
    return ids[len(ids) - n:]


def _progress(total: int, enabled: bool, desc: str):
    return tqdm(total=total, disable=not enabled, desc=desc, unit="row")


def _stats(values: list[int]) -> dict:
    return {"mean": round(sum(values) / len(values), 1), "max": max(values)} if values else {}


def _check_lengths(max_length, max_prompt_length=1, truncation_mode="keep_end") -> None:
    if not isinstance(max_length, int) or max_length < 2:
        raise InputError(f"max_length={max_length!r} is too small", fix="set max_length to 2 or more (SimPO: 2048)")
    if not isinstance(max_prompt_length, int) or max_prompt_length < 1:
        raise InputError(f"max_prompt_length={max_prompt_length!r} must be a positive integer",
                         fix="set max_prompt_length below max_length (SimPO: 1800 of 2048)")
    if truncation_mode not in TRUNCATION_MODES:
        raise InputError(f"truncation_mode={truncation_mode!r} is unknown", fix=f"use one of {TRUNCATION_MODES}")


# ---- preference pairs ---------------------------------------------------------------------------------
def tokenize_pairs(pairs, tokenizer, *, max_length: int, max_prompt_length: int, truncation_mode: str = "keep_end",
                   role_header_in_response: bool = False, progress: bool = False,
                   on_drop: Callable[[int], None] | None = None) -> tuple[list[dict], TokenizeReport]:
    """PreferencePairs -> rows {"prompt_ids", "chosen_ids", "rejected_ids"} and a report.

    role_header_in_response=False (TRL): the prompt is rendered with the generation prompt, so the assistant
    role header belongs to the prompt. True (SimPO's code): the prompt is rendered without it and the header
    tokens start each response (they count in |y| and in the averaged log-prob).
    Truncation (SimPO): if prompt + longer response > max_length, the prompt is cut to max_prompt_length
    (keep_end: BOS + its last tokens; keep_start: its first tokens), then responses to max_length - prompt.
    Pairs whose chosen and rejected ids are then identical are dropped and counted; `on_drop(i)` hears the
    position in `pairs` of each (a caller that must know which pairs every run keeps: Selective DPO's halves).
    """
    _check_lengths(max_length, max_prompt_length, truncation_mode)
    ct = _ChatTokenizer(tokenizer)
    dropped = Counter(getattr(pairs, "dropped", None) or {})
    load_dropped = sum(dropped.values())
    rows: list[dict] = []
    n_prompt_cut = n_resp_cut = 0
    first_identical = None
    bar = _progress(len(pairs), progress, "tokenizing pairs")
    for start in range(0, len(pairs), CHUNK):
        chunk = list(pairs[start:start + CHUNK])
        n, wheres = len(chunk), [p.where for p in chunk]
        texts = (ct.render([p.prompt for p in chunk], not role_header_in_response, wheres)
                 + ct.render([p.prompt + p.chosen for p in chunk], False, wheres)
                 + ct.render([p.prompt + p.rejected for p in chunk], False, wheres))
        ids = ct.encode(texts)
        for j, pair in enumerate(chunk):
            prompt, (ch, rj) = ct.split(texts[j], [texts[n + j], texts[2 * n + j]], ids[j],
                                        [ids[n + j], ids[2 * n + j]], pair.where)
            prompt_cut = resp_cut = False
            if len(prompt) + max(len(ch), len(rj)) > max_length:
                if len(prompt) > max_prompt_length:
                    prompt, prompt_cut = _truncate_prompt(prompt, max_prompt_length, truncation_mode, ct.bos), True
                if len(prompt) >= max_length:
                    raise InputError(
                        f"field 'prompt' has {len(prompt)} tokens (max_prompt_length={max_prompt_length}), which leaves "
                        f"no room for the response within max_length={max_length}", where=pair.where,
                        fix="raise max_length, or lower max_prompt_length below max_length",
                    )
                room = max_length - len(prompt)
                resp_cut = len(ch) > room or len(rj) > room
                ch, rj = ch[:room], rj[:room]
            if ch == rj:
                dropped["identical_after_truncation"] += 1
                first_identical = first_identical or pair.where
                if on_drop is not None:
                    on_drop(start + j)
                continue
            n_prompt_cut += prompt_cut
            n_resp_cut += resp_cut
            rows.append({"prompt_ids": prompt, "chosen_ids": ch, "rejected_ids": rj})
        bar.update(n)
    bar.close()
    if first_identical:
        logger.warning("dropped %d pairs whose chosen and rejected token ids are identical after truncation "
                       "(first: %s)", dropped["identical_after_truncation"], first_identical)
    report = TokenizeReport(
        total=len(pairs) + load_dropped, kept=len(rows), prompt_truncated=n_prompt_cut,
        response_truncated=n_resp_cut, dropped=dict(dropped),
        settings={"max_length": max_length, "max_prompt_length": max_prompt_length,
                  "truncation_mode": truncation_mode, "role_header_in_response": role_header_in_response,
                  "bos": ct.bos_note()},
        lengths={k: _stats([len(r[f"{k}_ids"]) for r in rows]) for k in ("prompt", "chosen", "rejected")},
    )
    return rows, report


# ---- SFT ------------------------------------------------------------------------------------------------
def tokenize_sft(rows: list[dict], tokenizer, *, max_length: int, source: str = "<rows>",
                 progress: bool = False) -> tuple[list[dict], TokenizeReport]:
    """SFT rows ({"messages"}, {"conversations"} or prompt/completion) -> {"prompt_ids", "response_ids"}.

    The role header is in the prompt (generation prompt). A row longer than max_length loses prompt tokens
    from the left first (BOS kept), but the prompt keeps at least max_length // 2 tokens; the response is
    then cut to what is left.
    """
    _check_lengths(max_length)
    ct = _ChatTokenizer(tokenizer)
    examples = [(*sft_example(row, f"{source}:row {i + 1}"), f"{source}:row {i + 1}") for i, row in enumerate(rows)]
    out: list[dict] = []
    n_prompt_cut = n_resp_cut = 0
    bar = _progress(len(examples), progress, "tokenizing SFT rows")
    for start in range(0, len(examples), CHUNK):
        chunk = examples[start:start + CHUNK]
        n, wheres = len(chunk), [w for *_, w in chunk]
        texts = (ct.render([p for p, _, _ in chunk], True, wheres)
                 + ct.render([p + r for p, r, _ in chunk], False, wheres))
        ids = ct.encode(texts)
        for j, (_, _, where) in enumerate(chunk):
            prompt, (resp,) = ct.split(texts[j], [texts[n + j]], ids[j], [ids[n + j]], where)
            if len(prompt) + len(resp) > max_length:
                keep = max(max_length - len(resp), min(len(prompt), max_length // 2))
                if keep < len(prompt):
                    prompt = _truncate_prompt(prompt, keep, "keep_end", ct.bos)
                    n_prompt_cut += 1
                room = max_length - len(prompt)
                if len(resp) > room:
                    resp = resp[:room]
                    n_resp_cut += 1
            out.append({"prompt_ids": prompt, "response_ids": resp})
        bar.update(n)
    bar.close()
    report = TokenizeReport(
        total=len(rows), kept=len(out), prompt_truncated=n_prompt_cut, response_truncated=n_resp_cut,
        settings={"max_length": max_length, "truncation_mode": "keep_end", "bos": ct.bos_note()},
        lengths={k: _stats([len(r[f"{k}_ids"]) for r in out]) for k in ("prompt", "response")}, unit="rows",
    )
    return out, report
