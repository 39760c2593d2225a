"""SamS's reward, lagged by one micro-step (no extra forward pass).

The decision taken at micro-step t-1 is scored at micro-step t from quantities both forwards already computed:

    r_B        = (C_{t-1} - C_t) / max(|C_{t-1}|, |C_t|)       batch level: did the batch loss fall?
    r_S,i      = delta g(m_i) + (1 - delta) (1 - g(log pi(y_w|x)_i))   sample level, on batch t-1's pairs
    y_i        = gamma sigma(a r_B + b) + (1 - gamma) sigma(r_S,i)

C is a batch statistic of the per-pair losses l_i over the global micro-batch, g is min-max normalisation over
the micro-batch, m_i is the pair's implicit-reward margin (beta z_i for DPO), a = 50 and b = 0.5 the released
code's affine map. The SamS paper's equations are not legible in its public PDF, so the form follows its prose
plus the released code, with these choices:

- Batch statistic (`batch_signal`). The paper exponentiates the loss: C = mean exp(l_i) (default, clamped at
  l <= 20 so IPO-style unbounded losses cannot overflow). The released code uses its "sig loss"
  C = mean -exp(-l_i) (= -sigma(beta z) for DPO): option `neg_exp_neg_loss`.
- Sign (`batch_sign`). The paper rewards a REDUCTION of the loss, so r_B > 0 when the loss fell; we normalise by
  max(|C_{t-1}|, |C_t|) (default `paper`). The released code divides by max(C_{t-1}, C_t), which is negative
  for its sig loss and so rewards an INCREASE of the loss: option `code`.
- Sigmoids (`double_sigmoid`). The paper applies sigma once to r_S; the released code applies it twice:
  option `double_sigmoid: true`.
- Running mean (`running_mean`): the released code's enable_avg_reward, r_B <- 0.5 avg + 0.5 r_B; off by default.
"""

from __future__ import annotations

import torch


def batch_statistic(losses: torch.Tensor, signal: str) -> float:
    """C over a (global) micro-batch of per-pair losses."""
    losses = losses.detach().double()
    if signal == "exp_loss":
        return losses.clamp(max=20.0).exp().mean().item()
    if signal == "neg_exp_neg_loss":
        return (-(-losses).exp()).mean().item()
    raise ValueError(f"unknown batch_signal {signal!r}")


def batch_reward(c_prev: float, c_cur: float, sign: str) -> float:
    """r_B from two consecutive batch statistics (see the module docstring for the sign convention)."""
    if sign == "paper":
        denom = max(abs(c_prev), abs(c_cur))
    elif sign == "code":
        denom = max(c_prev, c_cur)
    else:
        raise ValueError(f"unknown batch_sign {sign!r}")
    return 0.0 if denom == 0 else (c_prev - c_cur) / denom


def minmax(x: torch.Tensor) -> torch.Tensor:
    """g: min-max normalisation to [0, 1]; a constant vector maps to 0.5."""
    lo, hi = x.min(), x.max()
    if hi - lo <= 0:
        return torch.full_like(x, 0.5)
    return (x - lo) / (hi - lo)


def sample_reward(margins: torch.Tensor, chosen_logps: torch.Tensor, delta: float) -> torch.Tensor:
    """r_S,i = delta g(m_i) + (1 - delta)(1 - g(log pi(y_w|x)_i)): favours large margins and uncertain chosen."""
    return delta * minmax(margins.float()) + (1 - delta) * (1 - minmax(chosen_logps.float()))


def combine(r_batch: float, r_sample: torch.Tensor, *, gamma: float, scale: float, shift: float,
            double_sigmoid: bool) -> torch.Tensor:
    """y_i = gamma sigma(scale r_B + shift) + (1 - gamma) sigma(r_S,i) (sigma twice with double_sigmoid)."""
    s = torch.sigmoid(r_sample)
    if double_sigmoid:
        s = torch.sigmoid(s)
    b = torch.sigmoid(torch.tensor(scale * r_batch + shift, dtype=torch.float32))
    return gamma * b + (1 - gamma) * s
