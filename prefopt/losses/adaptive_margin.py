"""SimPO with a per-pair, stop-gradient adaptive margin built from batch statistics: LMPO and AMaPO.

Both are reference-free and length-normalised like SimPO (sw, sl are mean response log-probs). The margin
M is computed from detached values, so it shifts the sigmoid's argument but takes no gradient. Under DDP
the batch statistics are taken over the micro-batch gathered from all ranks (`base.gather_detached`),
as the authors' trainers do.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from prefopt.core.fields import arg

from .base import LossOutput, PairLogps, batch_std, gather_detached, sigmoid_loss
from .registry import register


def _stats_dtype(t: torch.Tensor) -> torch.dtype:
    # Statistics in at least float32: M divides by a running std that can be small early in training.
    return torch.promote_types(t.dtype, torch.float32)


@dataclass
class LMPOParams:
    beta: float = arg(2.0, "Reward scale beta: the reward is beta * (mean response log-prob).", gt=0)
    gamma_beta_ratio: float = arg(0.25, "SimPO's target margin as gamma/beta (the logit is offset by beta * this).")
    lmpo_lambda: float = arg(0.2, "Scale lambda of the adaptive margin M = lambda * z-score (code: 0.2; 0 = SimPO).",
                            ge=0)
    lmpo_k: int = arg(5, "Exponent k of the length-controlled margin (1 - (qw - ql)^k); the released code uses 5.")
    lmpo_ema: float = arg(0.9, "Decay of the running mean/std of the margin, updated once per micro-batch.", ge=0, lt=1)

    def validate(self):
        # A non-integer power of the possibly negative qw - ql would be NaN.
        if isinstance(self.lmpo_k, bool) or not isinstance(self.lmpo_k, int) or self.lmpo_k < 1:
            raise ValueError(f"lmpo_k must be an integer >= 1, got {self.lmpo_k!r}")


def lmpo_raw_margin(x: PairLogps, k: int) -> torch.Tensor:
    """m = (1 - qw)(1 - (qw - ql)^k)/2, qw = exp(sw Lbar/Lw), ql = exp(sl Lbar/Ll), Lbar = (Lw + Ll)/2; detached."""
    dtype = _stats_dtype(x.chosen)
    lw, ll = x.chosen_lengths.to(dtype), x.rejected_lengths.to(dtype)
    sw, sl = x.chosen.detach().to(dtype) / lw, x.rejected.detach().to(dtype) / ll
    mean_len = (lw + ll) / 2
    qw, ql = torch.exp(sw * mean_len / lw), torch.exp(sl * mean_len / ll)
    return (1 - qw) * (1 - (qw - ql) ** k) / 2


@register("lmpo", hparams=LMPOParams, needs_reference=False, stateful=True)
def lmpo(
    x: PairLogps,
    state: dict | None,
    *,
    beta: float,
    gamma_beta_ratio: float,
    lmpo_lambda: float,
    lmpo_k: int,
    lmpo_ema: float,
) -> LossOutput:
    """LMPO: -log sigma(beta (sw - sl) - beta * gamma_beta_ratio - M), M = stopgrad(lmpo_lambda (m - a)/b).

    Li et al., "Length-Controlled Margin-Based Preference Optimization without Reference Model",
    arXiv 2502.14643 (2025). The math of the released trainer (gengxuli/LMPO scripts/lmpo_trainer.py):
        m = (1 - qw)(1 - (qw - ql)^k)/2, qw = exp(sw Lbar/Lw), ql = exp(sl Lbar/Ll), Lbar = (Lw + Ll)/2
        a <- ema a + (1 - ema) mean(m),  b <- ema b + (1 - ema) std(m)   (unbiased std, a = b = 0 at start)
        M = stopgrad(lambda (m - a)/b)
    The statistics are updated FIRST with this batch's m (gathered over DDP ranks, as the code's
    accelerator.gather), then used. The committed code does not run; we fix its three bugs (loss method
    name, a/b never initialised: we start them at 0 as the pre-release trainer did, undefined names in
    the EMA update) and change nothing else of its math. sw Lbar/Lw divides the summed log-prob by Lw
    twice; that is the code, unverified against the paper's equation. The code computes
    -log(1/(1 + e^{beta gamma_beta_ratio} e^{-gap})), the same value; we use log-sigmoid, which cannot overflow.

    State: `state["a"]`, `state["b"]` are tensors (saved in checkpoints by the trainer), updated once per
    call, i.e. per micro-batch forward as in the code. state=None (a call outside the trainer) means a
    fresh state (a = b = 0) used for this call and not kept. A single pair has no std: it contributes 0
    to b. While b == 0 (first call on a single pair, or identical margins) the z-score is undefined and
    M = 0, so the step is plain SimPO (the code would give NaN or inf).
    Rewards logged as SimPO: beta * sw, beta * sl. Metrics: `loss/margin` (mean M), `lmpo/running_mean`
    (a) and `lmpo/running_std` (b).
    """
    with torch.no_grad():
        m = lmpo_raw_margin(x, lmpo_k)
        every = gather_detached(m)
        stats = state if state is not None else {}
        zero = m.new_zeros(())
        a = lmpo_ema * stats.get("a", zero).to(m) + (1 - lmpo_ema) * every.mean()
        b = lmpo_ema * stats.get("b", zero).to(m) + (1 - lmpo_ema) * batch_std(every)
        stats["a"], stats["b"] = a, b  # new tensors, never in-place: the trainer's eval copy stays separate
        safe_b = torch.where(b > 0, b, torch.ones_like(b))
        margin = torch.where(b > 0, lmpo_lambda * (m - a) / safe_b, torch.zeros_like(m))
    sw, sl = x.chosen_avg, x.rejected_avg
    logits = beta * (sw - sl) - beta * gamma_beta_ratio - margin.to(sw.dtype)
    metrics = {"loss/margin": margin.mean(), "lmpo/running_mean": a, "lmpo/running_std": b}
    return LossOutput(sigmoid_loss(logits, 0.0), (beta * sw).detach(), (beta * sl).detach(), metrics)


@dataclass
class AMaPOParams:
    beta: float = arg(2.0, "Reward scale beta (README: 2.0 or 3.0); also the scale of the adaptive margin.", gt=0)
    label_smoothing: float = arg(0.0, "Label smoothing eps of the sigmoid loss (the code's default 0).", ge=0, lt=0.5)
    # The paper's four ablations; the defaults are the released trainer's math.
    znorm: bool = arg(True, "Divide the deviation mu - m by the batch std s (true: z = (mu - m)/s, the released code); "
                            "false: the deviation as it is (ablation 'w/o Z-norm').")
    exp_scaling: bool = arg(True, "Margin beta e^{d mu} (true, the released code); false: the linear form "
                                  "linear_scale * beta * d * mu, clipped at 0 (ablation 'w/o exp scaling').")
    linear_scale: float = arg(2.0, "c of the linear margin c beta d mu used when exp_scaling is false (2: the "
                                   "commented-out alternative next to the exp line of the released trainer).", gt=0)
    zero_margin_correct: bool = arg(True, "Give no margin to pairs at or above the batch mean, m >= mu (true, the "
                                          "released code); false: every pair gets the margin (ablation 'w/o zero "
                                          "margin for correct pairs').")


@register("amapo", hparams=AMaPOParams, needs_reference=False)
def amapo(x: PairLogps, state=None, *, beta: float, label_smoothing: float, znorm: bool = True,
          exp_scaling: bool = True, linear_scale: float = 2.0, zero_margin_correct: bool = True) -> LossOutput:
    """AMaPO: SimPO-style sigmoid loss on beta m - M, m = sw - sl, adaptive M = stopgrad(beta e^{z mu}) if m < mu.

        loss = -(1 - eps) log sigma(beta m - M) - eps log sigma(-(beta m - M)),  M = 0 where m >= mu.

    Deng, Feng and Lei, "AMaPO: Adaptive Margin-attached Preference Optimization", AAAI 2026
    (arXiv 2511.09385). We follow the released trainer (Shiroha-Offical/AMaPO scripts/amapo_trainer.py):
    mu and s are the mean and unbiased std of m over the micro-batch gathered from all ranks (not the
    accumulated optimizer batch), z = (mu - m)/s, and M is detached.

    Paper vs code (the paper as summarised by a third-party note; its equations are unverified): the
    paper writes r = beta m, gamma_i = max(z_i mu_r, 0) with mu_r = beta mu, and margin beta e^gamma_i
    when gamma_i > 0. (1) The paper's exponent is beta times the code's z mu. (2) The paper gates on
    z mu_r > 0, the code on m < mu: the same when mu > 0, but when mu < 0 the code puts margins in
    (0, beta) on the below-mean pairs while the literal paper form puts them on the above-mean ones.

    Ablations (the paper's table names them; their forms are our reading, the defaults are the code):
        d = (mu - m)/s (znorm) or mu - m (w/o Z-norm)
        M = beta e^{d mu} (exp_scaling) or max(linear_scale beta d mu, 0) (w/o exp scaling)
        gated on m < mu (zero_margin_correct) or given to every pair (w/o zero margin for correct pairs).
    The linear form is the trainer's commented-out alternative (c = 2). Where mu < 0 it is negative for the
    below-mean pairs, which would turn the margin into a bonus; it is clipped at 0 as the paper's max(., 0).

    Edge cases: a single pair in the group has no std, so M = 0 and the loss is SimPO with gamma = 0 (the
    code reaches the same through NaN and its `where`). Identical margins (std 0) also give M = 0, where
    the code could divide a rounding error by 0 and return inf. Every variant keeps that rule: a group
    without spread has no batch statistic to adapt to. The released trainer's sft_weight is computed but never used and only the
    sigmoid loss exists, so neither is exposed here.
    Rewards logged as the code: beta * sw, beta * sl. Metrics as the code: `loss/margin` (mean M),
    `rewards/batch_margin_mean` (beta mu) and `margin/accuracies` (fraction with m > mu).
    """
    sw, sl = x.chosen_avg, x.rejected_avg
    with torch.no_grad():
        m = (sw - sl).detach().to(_stats_dtype(sw))
        every = gather_detached(m)
        mu, s = every.mean(), batch_std(every)
        spread = s > 0  # a single pair or identical margins: no batch statistic, no adaptive margin
        d = (mu - m) / torch.where(spread, s, torch.ones_like(s)) if znorm else mu - m
        raw = beta * torch.exp(d * mu) if exp_scaling else (linear_scale * beta * d * mu).clamp(min=0)
        gate = spread & (m < mu) if zero_margin_correct else spread.expand_as(m)
        margin = torch.where(gate, raw, torch.zeros_like(m))
    losses = sigmoid_loss(beta * (sw - sl) - margin.to(sw.dtype), label_smoothing)
    metrics = {
        "loss/margin": margin.mean(),
        "rewards/batch_margin_mean": beta * mu,
        "margin/accuracies": (m > mu).to(m.dtype).mean(),
    }
    return LossOutput(losses, (beta * sw).detach(), (beta * sl).detach(), metrics)
