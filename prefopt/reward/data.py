"""Reward-model data: items of k scored responses, their tokenization, and the batch collator.

An item is {"query": str, "responses": [str, ...], "scores": [float, ...], "type": "hh" | "apo"}. Sources:

* APO's comparison format: rows {"text": ["query<sep>response", ...], "scores": [...], ("type": "apo")}
  (`score` is accepted for `scores`, as in Linear95/DSP files). A text without "<sep>" is all response.
* Every pairwise format `prefopt.data.load_pairs` reads (UltraFeedback, hh-rlhf, plain, ShareGPT): one item
  per pair, scores [1.0, 0.0].

The query is written as hh-rlhf text ("\\n\\nHuman: ...\\n\\nAssistant:"), whatever the source, so one RM reads
every data set the same way and needs no chat template (encoders such as MiniLM have none).

Token ids, as APO's `reward_tokenize`: [BOS] + query + [SEP] + response + [EOS] with add_sep_token, else
[BOS] + query + response + [EOS]; an over-long sequence loses its left end (the BOS and EOS stay); batches are
right-padded. BOS is the tokenizer's bos (else cls) token, EOS its eos (else sep) token, SEP its sep (else eos)
token; a tokenizer without BOS gets none.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import torch

from prefopt.core.errors import InputError
from prefopt.data import files as pfiles
from prefopt.data.formats import to_pairs

logger = logging.getLogger("prefopt")
SEP_TEXT = "<sep>"  # APO's literal separator between query and response in the comparison files


def render_query(messages: list[dict]) -> str:
    """Prompt messages -> hh-rlhf text ending with "\\n\\nAssistant:" (system turns as "System:")."""
    names = {"user": "Human", "assistant": "Assistant", "system": "System"}
    text = "".join(f"\n\n{names.get(m['role'], m['role'].title())}: {m['content']}" for m in messages)
    return text + "\n\nAssistant:"


def _response(messages: list[dict]) -> str:
    return " " + "\n\n".join(m["content"] for m in messages)


def items_from_rows(rows: list[dict], source: str, *, bad_rows: str = "error") -> tuple[list[dict], dict]:
    """Rows of one source -> items, and the counts of dropped rows by reason."""
    if rows and all(isinstance(r, dict) and "text" in r for r in rows):
        return [_apo_row(r, f"{source}:row {i + 1}") for i, r in enumerate(rows)], {}
    pairs = to_pairs(rows, source, bad_rows=bad_rows)
    items = [{"query": render_query(p.prompt), "responses": [_response(p.chosen), _response(p.rejected)],
              "scores": [1.0, 0.0], "type": "hh", "where": p.where} for p in pairs]
    return items, dict(pairs.dropped)


def _apo_row(row: dict, where: str) -> dict:
    texts, scores = row.get("text"), row.get("scores", row.get("score"))
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise InputError("field 'text' must be a non-empty list of strings", where=where,
                         fix='write {"text": ["query<sep>response", ...], "scores": [...]}')
    if not isinstance(scores, list) or len(scores) != len(texts):
        raise InputError(f"field 'scores' must be a list of {len(texts)} numbers, one per text", where=where,
                         fix="give one score per response (higher = better)")
    if not all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in scores):
        raise InputError(f"field 'scores' holds a non-number: {scores!r}", where=where, fix="use numbers")
    queries, responses = [], []
    for t in texts:
        q, sep, r = t.partition(SEP_TEXT)
        queries.append(q if sep else "")
        responses.append(r if sep else t)
    if len(set(queries)) > 1:
        raise InputError("the texts of one item have different queries (the part before <sep>)", where=where,
                         fix="an item compares responses to one query")
    kind = row.get("type", "hh")
    if kind not in ("hh", "apo"):
        raise InputError(f"field 'type' is {kind!r}", where=where, fix="use 'apo' for golden-vs-sample items, "
                         "or leave it out")
    return {"query": queries[0], "responses": responses, "scores": [float(s) for s in scores], "type": kind,
            "where": where}


def _score_tie(row) -> bool:
    meta = row.get("metadata") if isinstance(row, dict) else None
    if isinstance(meta, dict) and "score_chosen" in meta and "score_rejected" in meta:
        return meta["score_chosen"] == meta["score_rejected"]
    return isinstance(row, dict) and "score_chosen" in row and row.get("score_chosen") == row.get("score_rejected")


def load_items(source: str, split: str = "train", *, bad_rows: str = "error", limit: int | None = None,
               drop_score_ties: bool = False) -> tuple[list[dict], dict]:
    """Items of one source and the dropped-row counts; drop_score_ties drops pairs whose metadata scores tie
    (UltraFeedback's score_chosen == score_rejected)."""
    rows, label = pfiles.read_source(source, split)
    ties = 0
    if drop_score_ties:
        kept = [r for r in rows if not _score_tie(r)]
        ties, rows = len(rows) - len(kept), kept
    items, dropped = items_from_rows(rows, label, bad_rows=bad_rows)
    if ties:
        dropped["score_tie"] = ties
    return (items[:limit] if limit else items), dropped


@dataclass
class RewardTokenizer:
    """Token ids of query + response in APO's layout (module docstring)."""

    tokenizer: object
    max_length: int = 512
    add_sep_token: bool = False
    stats: dict = field(default_factory=lambda: {"sequences": 0, "truncated": 0})

    def __post_init__(self):
        tok = self.tokenizer
        self.bos = tok.bos_token_id if tok.bos_token_id is not None else getattr(tok, "cls_token_id", None)
        self.eos = tok.eos_token_id if tok.eos_token_id is not None else getattr(tok, "sep_token_id", None)
        self.sep = getattr(tok, "sep_token_id", None)
        self.sep = self.sep if self.sep is not None else self.eos
        if self.eos is None:
            raise InputError("the tokenizer has neither an eos nor a sep token",
                             fix="use a tokenizer with an end token: pooling 'last'/'eos' needs it")
        specials = 1 + (self.bos is not None)
        if self.max_length <= specials + 1:
            raise InputError(f"max_length={self.max_length} leaves no room for text", fix="raise max_length")

    def encode(self, query: str, response: str) -> list[int]:
        enc = self.tokenizer
        q = enc(query, add_special_tokens=False)["input_ids"] if query else []
        r = enc(response, add_special_tokens=False)["input_ids"]
        body = q + ([self.sep] if self.add_sep_token else []) + r
        room = self.max_length - 1 - (self.bos is not None)
        self.stats["sequences"] += 1
        if len(body) > room:  # truncation_side left: keep the end of the dialogue and the response
            body = body[-room:]
            self.stats["truncated"] += 1
        return ([self.bos] if self.bos is not None else []) + body + [self.eos]

    def item(self, item: dict) -> dict:
        return {"input_ids": [self.encode(item["query"], r) for r in item["responses"]],
                "scores": list(item["scores"]), "is_apo": item.get("type") == "apo"}


class RewardCollator:
    """Tokenized items -> input_ids/attention_mask (N, T) of every response, right-padded, and
    scores/mask (B, K), index (B, K) into the N rows (-1 for padding), is_apo (B,)."""

    def __init__(self, pad_token_id: int):
        if pad_token_id is None:
            raise InputError("the tokenizer has no pad token", fix="set pad_token (e.g. to the eos token)")
        self.pad = int(pad_token_id)

    def __call__(self, items: list[dict]) -> dict[str, torch.Tensor]:
        seqs = [s for it in items for s in it["input_ids"]]
        width = max(len(s) for s in seqs)
        input_ids = torch.full((len(seqs), width), self.pad, dtype=torch.long)
        attention = torch.zeros((len(seqs), width), dtype=torch.long)
        for n, s in enumerate(seqs):
            input_ids[n, : len(s)] = torch.tensor(s, dtype=torch.long)
            attention[n, : len(s)] = 1
        k = max(len(it["input_ids"]) for it in items)
        index = torch.full((len(items), k), -1, dtype=torch.long)
        scores = torch.zeros((len(items), k), dtype=torch.float32)
        n = 0
        for b, it in enumerate(items):
            m = len(it["input_ids"])
            index[b, :m] = torch.arange(n, n + m)
            scores[b, :m] = torch.tensor(it["scores"], dtype=torch.float32)
            n += m
        return {"input_ids": input_ids, "attention_mask": attention, "index": index, "scores": scores,
                "mask": index >= 0, "is_apo": torch.tensor([bool(it["is_apo"]) for it in items])}
