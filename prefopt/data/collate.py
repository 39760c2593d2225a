"""Batching tokenized rows into padded tensors (right padding)."""

from __future__ import annotations

import torch

from ..errors import InputError

REF_KEYS = ("ref_chosen_logps", "ref_rejected_logps")


def _check_pad(pad_token_id) -> int:
    if pad_token_id is None:
        raise InputError("the tokenizer has no pad token", fix="set tokenizer.pad_token (e.g. to its eos_token)")
    return int(pad_token_id)


def _width(lengths: list[int], multiple: int | None) -> int:
    t = max(lengths)
    if multiple:
        t = -(-t // multiple) * multiple
    return t


class PairCollator:
    """Rows {"prompt_ids", "chosen_ids", "rejected_ids"[, "ref_chosen_logps", "ref_rejected_logps"]} -> one batch.

    input_ids / attention_mask / response_mask are (2B, T): rows i < B are prompt + chosen, rows i >= B are
    prompt + rejected (ONE concatenated batch), right-padded. response_mask is 1 exactly on response tokens.
    Reference log-probs, when every row carries them, come back as float32 (B,) tensors. Other keys are ignored.
    """

    def __init__(self, pad_token_id: int, pad_to_multiple_of: int | None = None):
        self.pad_token_id = _check_pad(pad_token_id)
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        seqs = [(r["prompt_ids"], r["chosen_ids"]) for r in rows] + [(r["prompt_ids"], r["rejected_ids"]) for r in rows]
        width = _width([len(p) + len(x) for p, x in seqs], self.pad_to_multiple_of)
        input_ids = torch.full((len(seqs), width), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(seqs), width), dtype=torch.long)
        response_mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, (p, x) in enumerate(seqs):
            n, m = len(p), len(x)
            input_ids[i, : n + m] = torch.tensor(list(p) + list(x), dtype=torch.long)
            attention_mask[i, : n + m] = 1
            response_mask[i, n: n + m] = 1
        batch = {"input_ids": input_ids, "attention_mask": attention_mask, "response_mask": response_mask}
        for key in REF_KEYS:
            have = [r.get(key) is not None for r in rows]
            if all(have):
                batch[key] = torch.tensor([float(r[key]) for r in rows], dtype=torch.float32)
            elif any(have):
                raise ValueError(f"{key} is set on some rows of the batch but not on others")
        return batch


class SFTCollator:
    """Rows {"prompt_ids", "response_ids"} -> input_ids, attention_mask, labels (-100 on prompt and padding)."""

    def __init__(self, pad_token_id: int, pad_to_multiple_of: int | None = None):
        self.pad_token_id = _check_pad(pad_token_id)
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        width = _width([len(r["prompt_ids"]) + len(r["response_ids"]) for r in rows], self.pad_to_multiple_of)
        input_ids = torch.full((len(rows), width), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
        labels = torch.full((len(rows), width), -100, dtype=torch.long)
        for i, r in enumerate(rows):
            p, x = list(r["prompt_ids"]), list(r["response_ids"])
            n, m = len(p), len(x)
            input_ids[i, : n + m] = torch.tensor(p + x, dtype=torch.long)
            attention_mask[i, : n + m] = 1
            labels[i, n: n + m] = torch.tensor(x, dtype=torch.long)
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
