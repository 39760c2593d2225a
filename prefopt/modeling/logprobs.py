"""Per-sequence response log-probs from one forward pass.

`response_mask[i, t] = 1` marks token t of sequence i as a response token (the prompt and padding are 0).
The log-prob of token t is read from the logits at position t-1, so a response token at position 0 is
impossible (every sequence starts with BOS / prompt tokens).

Two batch layouts, told apart by their keys: `PairCollator`'s (2B, T) rows (chosen block, then rejected block)
and `SharedPrefixPairCollator`'s one packed [prompt | chosen | rejected] row per pair (`segment_ids`), which
computes each prompt once. `pair_forward` takes either and returns the same numbers.
"""

from __future__ import annotations

import torch

from .fused_logprobs import chunked_pair_forward
from .masks import dense_mask


def token_logps(logits: torch.Tensor, input_ids: torch.Tensor, chunk_size: int = 0) -> torch.Tensor:
    """log p(input_ids[:, t] | input_ids[:, :t]) for t = 1..T-1, shape (N, T-1).

    Computed as logit[label] - logsumexp(logits) without materialising a full-vocabulary log-softmax
    copy; with chunk_size > 0 the logsumexp runs over row chunks to bound peak memory on large vocabularies.
    """
    logits = logits[:, :-1]  # a view: no .contiguous() copy of the largest tensor in the step
    labels = input_ids[:, 1:]
    picked = torch.gather(logits, 2, labels.unsqueeze(-1)).squeeze(-1)
    return picked.float() - logsumexp_rows(logits, chunk_size)


def logsumexp_rows(logits: torch.Tensor, chunk_size: int = 0) -> torch.Tensor:
    """logsumexp over the vocabulary, (N, T, V) -> (N, T) in float32.

    torch.logsumexp allocates (N, T, V) temporaries (x - max, its exp); over row chunks they are (chunk, T, V).
    """
    if chunk_size and logits.size(0) > chunk_size:
        return torch.cat([torch.logsumexp(c.float(), dim=-1) for c in logits.split(chunk_size, dim=0)])
    return torch.logsumexp(logits.float(), dim=-1)


def sequence_logps(
    logits: torch.Tensor, input_ids: torch.Tensor, response_mask: torch.Tensor, chunk_size: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed response-token log-probs (N,) and response token counts (N,)."""
    mask = response_mask[:, 1:].to(torch.float32)
    per_token = token_logps(logits, input_ids, chunk_size) * mask
    return per_token.sum(-1), mask.sum(-1)


def pair_forward(model, batch: dict, chunk_size: int = 0, output_hidden_states: bool = False, impl: str = "full",
                 chunk_tokens: int | None = None):
    """ONE forward over the concatenated 2B batch (chosen block, then rejected block).

    Returns (chosen_logps, rejected_logps, chosen_lengths, rejected_lengths, outputs). Every pairwise
    method, the reference pass and evaluation go through here, so methods never differ in how they score.
    A shared-prefix batch (`SharedPrefixPairCollator`) goes to `shared_prefix_pair_forward`. impl "chunked"
    (config logprob_impl) scores response positions only, without the full logits (prefopt.modeling.fused_logprobs);
    its outputs carry no logits; chunk_tokens (config logprob_chunk_tokens) is its positions per chunk.
    """
    if "segment_ids" in batch and output_hidden_states:
        raise ValueError("a shared-prefix batch has no per-sequence hidden states (the SamS scheduler reads them): "
                         "use PairCollator")
    if impl == "chunked":
        return chunked_pair_forward(model, batch, chunk_tokens, output_hidden_states)
    if "segment_ids" in batch:
        return shared_prefix_pair_forward(model, batch, chunk_size)
    out = model(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        use_cache=False,
        output_hidden_states=output_hidden_states,
    )
    logps, lengths = sequence_logps(out.logits, batch["input_ids"], batch["response_mask"], chunk_size)
    b = logps.size(0) // 2
    return logps[:b], logps[b:], lengths[:b], lengths[b:], out


def shared_prefix_pair_forward(model, batch: dict, chunk_size: int = 0):
    """pair_forward on packed [prompt | chosen | rejected] rows: one forward, each prompt computed once."""
    out = model(input_ids=batch["input_ids"], attention_mask=dense_mask(model, batch["attention_mask"]),
                position_ids=batch["position_ids"], use_cache=False)
    ids, source = batch["input_ids"], batch["logit_index"]
    rows = torch.arange(ids.size(0), device=ids.device).unsqueeze(1)
    picked = out.logits[rows, source, ids]  # the logit of each token at the position that predicts it
    per_token = picked.float() - logsumexp_rows(out.logits, chunk_size).gather(1, source)
    chosen = (batch["segment_ids"] == 1).to(torch.float32)
    rejected = (batch["segment_ids"] == 2).to(torch.float32)
    return ((per_token * chosen).sum(-1), (per_token * rejected).sum(-1), chosen.sum(-1), rejected.sum(-1), out)
