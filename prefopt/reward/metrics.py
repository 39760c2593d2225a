"""Reward-model metrics, as APO's `trainer.compute_metrics` defines them.

Over the ordered pairs (i, j) of each item with s_i != s_j (both orientations; padding excluded):

* Preference Acc: fraction where the RM orders the pair the way the labels do, strictly
  ((r_j - r_i)·sign(s_j - s_i) > 0); a reward tie counts as wrong.
* Avg Score: the mean reward over all real responses.
* Calibration: p = σ(r_j - r_i) against y = 1[s_j > s_i], in `bins` uniform bins of [0, 1] (sklearn's
  `calibration_curve(strategy="uniform")` binning: bin k holds k/bins < p <= (k+1)/bins, bin 0 also p = 0).
  ECE = Σ_bins |Σp - Σy| / N; ACE = mean over non-empty bins of |Σp - Σy| / n_bin; MCE = max of the same.
"""

from __future__ import annotations

import math

import numpy as np


def _pairs(rewards, scores):
    """Every ordered pair (p = σ(r_j - r_i), y = 1[s_j > s_i], correct) with s_i != s_j, over all items."""
    ps, ys, correct = [], [], []
    for r, s in zip(rewards, scores, strict=True):
        if len(r) != len(s):
            raise ValueError(f"an item has {len(r)} rewards but {len(s)} scores")
        for i in range(len(r)):
            for j in range(len(r)):
                if i == j or s[i] == s[j]:
                    continue
                d = float(r[j]) - float(r[i])
                ps.append(1.0 / (1.0 + math.exp(-d)) if d >= 0 else math.exp(d) / (1.0 + math.exp(d)))
                ys.append(1.0 if s[j] > s[i] else 0.0)
                correct.append(d * (1.0 if s[j] > s[i] else -1.0) > 0)
    return np.array(ps, dtype=np.float64), np.array(ys, dtype=np.float64), np.array(correct, dtype=bool)


def calibration_errors(probs, labels, bins: int = 10) -> dict:
    """ECE / ACE / MCE of predicted probabilities against 0/1 labels (see the module docstring)."""
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    if probs.size == 0:
        return {"ECE": float("nan"), "ACE": float("nan"), "MCE": float("nan")}
    edges = np.linspace(0.0, 1.0, bins + 1)
    ids = np.searchsorted(edges[1:-1], probs)  # side="left": an edge value belongs to the lower bin
    sum_p = np.bincount(ids, weights=probs, minlength=bins)
    sum_y = np.bincount(ids, weights=labels, minlength=bins)
    count = np.bincount(ids, minlength=bins)
    gap = np.abs(sum_p - sum_y)
    nonzero = count > 0
    per_bin = gap[nonzero] / count[nonzero]
    return {"ECE": float(gap.sum() / probs.size), "ACE": float(per_bin.mean()), "MCE": float(per_bin.max())}


def rm_metrics(rewards: list[list[float]], scores: list[list[float]], bins: int | list[int] = 10) -> dict:
    """Preference accuracy, average score, pair count and ECE/ACE/MCE (keys `ECE10`, ... per bin count)."""
    ps, ys, correct = _pairs(rewards, scores)
    flat = [float(x) for r in rewards for x in r]
    out = {
        "accuracy": float(correct.mean()) if correct.size else float("nan"),
        "avg_score": float(np.mean(flat)) if flat else float("nan"),
        "pairs": int(correct.size // 2),
    }
    for b in [bins] if isinstance(bins, int) else bins:
        out.update({f"{k}{b}": v for k, v in calibration_errors(ps, ys, b).items()})
    return out
