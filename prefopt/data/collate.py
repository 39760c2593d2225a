"""Batching tokenized rows into padded tensors (right padding)."""

from __future__ import annotations

import torch

from prefopt.core.errors import InputError

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
    Reference log-probs, when every row carries them, come back as float32 (B,) tensors; so does `row_index`, a
    row's position in its data set (int64), for per-pair records of an evaluation. Other keys are ignored.
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
        batch.update(_reference_logps(rows))
        if rows and all("row_index" in r for r in rows):
            batch["row_index"] = torch.tensor([int(r["row_index"]) for r in rows], dtype=torch.long)
        return batch


class SharedPrefixPairCollator:
    """Rows as for PairCollator -> ONE packed row per pair, [prompt | chosen | rejected], the prompt computed once.

    Prefix sharing: chosen and rejected share their prompt, so the (2B, T) layout runs every prompt token twice.
    Here each pair is one row whose rejected tokens see the prompt but not the chosen tokens (a block mask), with
    position ids restarting after the prompt, so every token sees exactly what it sees in the (2B, T) layout:
    the log-probs are the same numbers, for (2P + C + R) -> (P + C + R) tokens per pair.

    Keys (B pairs, width W = longest P + C + R): input_ids, position_ids (B, W); attention_mask (B, 1, W, W)
    bool, True = may attend (a custom 4D mask, which Hugging Face models pass to the attention kernel as is);
    segment_ids (B, W): 1 on chosen tokens, 2 on rejected tokens, 0 elsewhere; logit_index (B, W): the position
    whose logits predict each token (the first chosen AND the first rejected token are both predicted by the
    last prompt token). Padding rows attend causally to their own row, which keeps them finite. Needs an
    attention implementation that takes a dense 4D mask (eager, sdpa); no hidden states per sequence.
    """

    def __init__(self, pad_token_id: int, pad_to_multiple_of: int | None = None):
        self.pad_token_id = _check_pad(pad_token_id)
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        parts = [(list(r["prompt_ids"]), list(r["chosen_ids"]), list(r["rejected_ids"])) for r in rows]
        width = _width([len(p) + len(c) + len(x) for p, c, x in parts], self.pad_to_multiple_of)
        b = len(parts)
        input_ids = torch.full((b, width), self.pad_token_id, dtype=torch.long)
        position_ids = torch.zeros((b, width), dtype=torch.long)
        segment_ids = torch.zeros((b, width), dtype=torch.long)
        logit_index = torch.zeros((b, width), dtype=torch.long)
        causal = torch.ones((width, width), dtype=torch.bool).tril()
        attention_mask = causal.repeat(b, 1, 1, 1)
        for i, (p, c, x) in enumerate(parts):
            n, m, k = len(p), len(c), len(x)
            input_ids[i, : n + m + k] = torch.tensor(p + c + x, dtype=torch.long)
            position_ids[i, : n + m] = torch.arange(n + m)
            position_ids[i, n + m : n + m + k] = torch.arange(n, n + k)
            segment_ids[i, n : n + m], segment_ids[i, n + m : n + m + k] = 1, 2
            logit_index[i, : n + m + k] = torch.arange(-1, n + m + k - 1).clamp(min=0)
            logit_index[i, n + m] = n - 1  # the first rejected token follows the prompt, not the chosen response
            attention_mask[i, 0, n + m : n + m + k, n : n + m] = False  # rejected tokens never see chosen ones
            attention_mask[i, 0, n + m + k :, : n + m + k] = False  # padding queries see only padding keys
        batch = {"input_ids": input_ids, "position_ids": position_ids, "attention_mask": attention_mask,
                 "segment_ids": segment_ids, "logit_index": logit_index}
        batch.update(_reference_logps(rows))
        return batch


def _reference_logps(rows: list[dict]) -> dict[str, torch.Tensor]:
    """ref_chosen_logps / ref_rejected_logps as float32 (B,) tensors when every row carries them."""
    out = {}
    for key in REF_KEYS:
        have = [r.get(key) is not None for r in rows]
        if all(have):
            out[key] = torch.tensor([float(r[key]) for r in rows], dtype=torch.float32)
        elif any(have):
            raise ValueError(f"{key} is set on some rows of the batch but not on others")
    return out


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
