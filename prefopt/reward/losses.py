"""Ranking (Bradley–Terry) loss over every ordered pair with different scores, and APO's objective.

Items are padded to (B, K): `rewards[b, k]` is the RM's scalar for response k of item b, `scores[b, k]` its
label (higher = better), `mask[b, k]` marks real responses. A pair (i, j) of item b counts when both are real
and s_i > s_j; its loss is -log σ(r_i - r_j) ("ranking") or -(r_i - r_j) ("diff", APO's WGAN-style option).

APO's code (trainer.ranking_loss) counts each unordered pair in both orientations, in the numerator and the
denominator alike, which gives the same mean as counting it once; scores are min-max normalised per item
first, which keeps their order and so changes nothing here.

APO objective (`--task_type apo`): each item carries a coefficient, rm_kl_coeff for human-preference items and
apo_loss_coeff / apo_sample_num for golden-vs-sample items, and the micro-batch loss is
Σ_items coeff · Σ_pairs loss / (total pairs in the micro-batch).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from prefopt.config.reward import APO_LOSS_TYPES


def pair_mask(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, K, K) float: 1 where response i is real, j is real and s_i > s_j."""
    m = mask.bool()
    return ((scores.unsqueeze(2) > scores.unsqueeze(1)) & m.unsqueeze(2) & m.unsqueeze(1)).float()


def _pair_terms(rewards, scores, mask, loss_type: str):
    """(per-pair losses (B, K, K), zero outside counted pairs; the pair mask)."""
    if loss_type not in APO_LOSS_TYPES:
        raise ValueError(f"loss_type must be one of {APO_LOSS_TYPES}, got {loss_type!r}")
    if mask is None:
        mask = torch.ones_like(scores, dtype=torch.bool)
    pairs = pair_mask(scores, mask).to(rewards.dtype)
    diff = rewards.unsqueeze(2) - rewards.unsqueeze(1)  # [b, i, j] = r_i - r_j
    per_pair = -F.logsigmoid(diff) if loss_type == "ranking" else -diff
    return per_pair * pairs, pairs


def _weighted_mean(per_pair, pairs, coeffs):
    if coeffs is not None:
        per_pair = per_pair * coeffs.to(per_pair.dtype).view(-1, 1, 1)
    n = pairs.sum()
    return per_pair.sum() / n if n > 0 else per_pair.sum() * 0.0


def ranking_loss(rewards: torch.Tensor, scores: torch.Tensor, mask: torch.Tensor | None = None,
                 coeffs: torch.Tensor | None = None, loss_type: str = "ranking") -> torch.Tensor:
    """Σ_b coeff_b Σ_{i,j: s_i > s_j} ℓ(r_i - r_j) / #pairs in the batch (0 when there is no pair)."""
    return _weighted_mean(*_pair_terms(rewards, scores, mask, loss_type), coeffs)


def apo_coeffs(is_apo: torch.Tensor, rm_kl_coeff: float = 1.0, apo_loss_coeff: float = 0.1,
               apo_sample_num: int = 4) -> torch.Tensor:
    """Per-item weights: rm_kl_coeff for human pairs, apo_loss_coeff / apo_sample_num for golden-vs-sample."""
    if apo_sample_num < 1:
        raise ValueError(f"apo_sample_num must be >= 1, got {apo_sample_num}")
    return torch.where(is_apo.bool(), torch.tensor(apo_loss_coeff / apo_sample_num),
                       torch.tensor(float(rm_kl_coeff))).float()


def apo_loss(rewards: torch.Tensor, scores: torch.Tensor, mask: torch.Tensor, is_apo: torch.Tensor, *,
             rm_kl_coeff: float = 1.0, apo_loss_coeff: float = 0.1, apo_sample_num: int = 4,
             apo_loss_type: str = "ranking") -> torch.Tensor:
    """rm_kl_coeff·L_rank(human) + (apo_loss_coeff/apo_sample_num)·L(golden-vs-sample), over the batch's pairs.

    `apo_loss_type` ("ranking" or "diff") applies to golden-vs-sample items; human items always use ranking.
    Both terms are divided by the total pair count of the micro-batch, as in APO's code.
    """
    coeffs = apo_coeffs(is_apo, rm_kl_coeff, apo_loss_coeff, apo_sample_num).to(rewards.device)
    rank, pairs = _pair_terms(rewards, scores, mask, "ranking")
    if apo_loss_type != "ranking":
        other, _ = _pair_terms(rewards, scores, mask, apo_loss_type)
        rank = torch.where(is_apo.bool().to(rewards.device).view(-1, 1, 1), other, rank)
    return _weighted_mean(rank, pairs, coeffs)
