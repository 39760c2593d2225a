"""Arm context: per pair (or per SFT sequence), the policy's per-layer hidden states averaged over response tokens.

Taken from the forward pass the loss already does (`pair_forward(..., output_hidden_states=True)`): no
second forward. The concatenated batch is (chosen block; rejected block), so row i and row i + B are the two
responses of pair i. Deviation from the released code, which averages over every position including prompt
and padding: we average over RESPONSE tokens only (the issue's definition), so padding length cannot leak into
the context.
"""

from __future__ import annotations

import torch


def sequence_features(hidden_states, response_mask: torch.Tensor) -> torch.Tensor:
    """(N, L, d) detached float32: each block output's mean over the response tokens of each sequence.

    hidden_states: the model's tuple of L + 1 tensors (N, T, d); entry 0 (the embeddings) is dropped.
    response_mask: (N, T), 1 on response tokens.
    """
    with torch.no_grad():
        mask = response_mask.to(hidden_states[1].dtype).unsqueeze(-1)  # (N, T, 1)
        count = mask.sum(1).clamp_min(1)  # (N, 1)
        return torch.stack([(h * mask).sum(1) / count for h in hidden_states[1:]], dim=1).float()  # (N, L, d)


def pair_features(hidden_states, response_mask: torch.Tensor) -> torch.Tensor:
    """(B, L, d): `sequence_features` of the concatenated (chosen; rejected) batch, chosen and rejected averaged."""
    per_layer = sequence_features(hidden_states, response_mask)
    b = per_layer.size(0) // 2
    return 0.5 * (per_layer[:b] + per_layer[b:])
