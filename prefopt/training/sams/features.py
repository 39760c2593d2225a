"""Arm context: per pair, the policy's per-layer hidden states averaged over response tokens.

Taken from the forward pass the loss already does (`pair_forward(..., output_hidden_states=True)`): no
second forward. The concatenated batch is (chosen block; rejected block), so row i and row i + B are the two
responses of pair i. Deviation from the released code, which averages over every position including prompt
and padding: we average over RESPONSE tokens only (the issue's definition), so padding length cannot leak into
the context.
"""

from __future__ import annotations

import torch


def pair_features(hidden_states, response_mask: torch.Tensor) -> torch.Tensor:
    """(B, L, d) detached float32: mean over response tokens of each block output, chosen and rejected averaged.

    hidden_states: the model's tuple of L + 1 tensors (2B, T, d); entry 0 (the embeddings) is dropped.
    response_mask: (2B, T), 1 on response tokens.
    """
    with torch.no_grad():
        mask = response_mask.to(hidden_states[1].dtype).unsqueeze(-1)  # (2B, T, 1)
        count = mask.sum(1).clamp_min(1)  # (2B, 1)
        per_layer = torch.stack([(h * mask).sum(1) / count for h in hidden_states[1:]], dim=1)  # (2B, L, d)
        b = per_layer.size(0) // 2
        return (0.5 * (per_layer[:b] + per_layer[b:])).float()
