"""Per-sequence response log-probs from one forward pass.

`response_mask[i, t] = 1` marks token t of sequence i as a response token (the prompt and padding are 0).
The log-prob of token t is read from the logits at position t-1, so a response token at position 0 is
impossible (every sequence starts with BOS / prompt tokens).
"""

from __future__ import annotations

import torch


def token_logps(logits: torch.Tensor, input_ids: torch.Tensor, chunk_size: int = 0) -> torch.Tensor:
    """log p(input_ids[:, t] | input_ids[:, :t]) for t = 1..T-1, shape (N, T-1).

    Computed as logit[label] - logsumexp(logits) without materialising a full-vocabulary log-softmax
    copy; with chunk_size > 0 the logsumexp runs over row chunks to bound peak memory on large vocabularies.
    """
    logits = logits[:, :-1]  # a view: no .contiguous() copy of the largest tensor in the step
    labels = input_ids[:, 1:]
    picked = torch.gather(logits, 2, labels.unsqueeze(-1)).squeeze(-1)
    if chunk_size and logits.size(0) > chunk_size:
        lse = torch.cat([torch.logsumexp(c.float(), dim=-1) for c in logits.split(chunk_size, dim=0)])
    else:
        lse = torch.logsumexp(logits.float(), dim=-1)
    return picked.float() - lse


def sequence_logps(
    logits: torch.Tensor, input_ids: torch.Tensor, response_mask: torch.Tensor, chunk_size: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed response-token log-probs (N,) and response token counts (N,)."""
    mask = response_mask[:, 1:].to(torch.float32)
    per_token = token_logps(logits, input_ids, chunk_size) * mask
    return per_token.sum(-1), mask.sum(-1)


def pair_forward(model, batch: dict, chunk_size: int = 0, output_hidden_states: bool = False):
    """ONE forward over the concatenated 2B batch (chosen block, then rejected block).

    Returns (chosen_logps, rejected_logps, chosen_lengths, rejected_lengths, outputs). Every pairwise
    method, the reference pass and evaluation go through here, so methods never differ in how they score.
    """
    out = model(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        use_cache=False,
        output_hidden_states=output_hidden_states,
    )
    logps, lengths = sequence_logps(out.logits, batch["input_ids"], batch["response_mask"], chunk_size)
    b = logps.size(0) // 2
    return logps[:b], logps[b:], lengths[:b], lengths[b:], out
