"""Every registered loss against values worked out by hand on Python floats (math.log / math.exp only).

The batch below is small enough to check on paper. Notation: pw, pl summed log-probs, Lw, Ll token counts,
sw = pw/Lw, sl = pl/Ll, rw, rl the reference's summed log-probs.
"""

from __future__ import annotations

import dataclasses
import io
import math
import re
import statistics

import pytest
import torch

from prefopt.losses import LOSSES, compute, evaluate
from prefopt.losses.base import PairLogps

# Three pairs: pair 1 is misranked by length-averaged log-prob (sl > sw), pair 3 is ranked with a wide gap.
PW = [-10.0, -24.0, -6.0]
PL = [-10.5, -20.0, -9.0]
LW = [5, 8, 4]
LL = [7, 5, 3]
RW = [-11.0, -23.0, -7.0]
RL = [-13.0, -21.0, -8.0]
SW = [-2.0, -3.0, -1.5]  # PW / LW
SL = [-1.5, -4.0, -3.0]  # PL / LL

ALL = {"dpo", "ipo", "rdpo", "kto_pair", "simpo", "cpo", "orpo", "rrhf", "slic", "lmpo", "amapo"}


def sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def log_sigmoid(v: float) -> float:
    return math.log(sigmoid(v))


def tensors(pw=PW, pl=PL, lw=LW, ll=LL, rw=RW, rl=RL, grad=False) -> dict:
    return dict(
        chosen_logps=torch.tensor(pw, dtype=torch.float64, requires_grad=grad),
        rejected_logps=torch.tensor(pl, dtype=torch.float64),
        chosen_lengths=torch.tensor(lw),
        rejected_lengths=torch.tensor(ll),
        ref_chosen_logps=None if rw is None else torch.tensor(rw, dtype=torch.float64),
        ref_rejected_logps=None if rl is None else torch.tensor(rl, dtype=torch.float64),
    )


def run(name: str, **hparams) -> list[float]:
    return compute(name, **tensors(), **hparams).tolist()


def close(got: list[float], expected: list[float], tol: float = 1e-6) -> None:
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g == pytest.approx(e, abs=tol, rel=tol), (got, expected)


def test_hand_batch_is_what_the_comments_say():
    assert [p / n for p, n in zip(PW, LW)] == SW
    assert [p / n for p, n in zip(PL, LL)] == SL


# ---- reference-based family ------------------------------------------------------------------------


def test_dpo():
    # h = (pw - rw) - (pl - rl) = [1 - 2.5, -1 - 1, 1 + 1] = [-1.5, -2, 2]
    h = [-1.5, -2.0, 2.0]
    close(run("dpo", beta=0.1), [-log_sigmoid(0.1 * v) for v in h])
    assert run("dpo", beta=0.1)[2] == pytest.approx(math.log(1 + math.exp(-0.2)))  # -log sigma(0.2), on paper


def test_cdpo_label_smoothing():
    h = [-1.5, -2.0, 2.0]
    eps = 0.2
    expected = [-(1 - eps) * log_sigmoid(0.5 * v) - eps * log_sigmoid(-0.5 * v) for v in h]
    close(run("dpo", beta=0.5, label_smoothing=eps), expected)


def test_ipo_uses_length_averaged_log_ratios():
    # h = (pw - rw)/Lw - (pl - rl)/Ll = [1/5 - 2.5/7, -1/8 - 1/5, 1/4 + 1/3]; target 1/(2 tau) = 1
    h = [1 / 5 - 2.5 / 7, -1 / 8 - 1 / 5, 1 / 4 + 1 / 3]
    close(run("ipo", tau=0.5), [(v - 1.0) ** 2 for v in h])
    close(run("ipo", tau=0.1), [(v - 5.0) ** 2 for v in h])


def test_rdpo_unequal_lengths():
    # logit = beta h + alpha (Lw - Ll), Lw - Ll = [-2, 3, 1]
    h, gap = [-1.5, -2.0, 2.0], [-2, 3, 1]
    close(run("rdpo", beta=0.1, alpha=0.05), [-log_sigmoid(0.1 * v + 0.05 * d) for v, d in zip(h, gap)])
    close(run("rdpo", beta=0.1, alpha=0.0), run("dpo", beta=0.1))


# Paired KTO: r_w = pw - rw = [1, -1, 1], r_l = pl - rl = [2.5, 1, -1].
R_W, R_L = [1.0, -1.0, 1.0], [2.5, 1.0, -1.0]


def kto_by_hand(beta, z_chosen, z_rejected, wd=1.0, wu=1.0):
    return [(wd * (1 - sigmoid(beta * (a - z_chosen))) + wu * (1 - sigmoid(beta * (z_rejected - b)))) / 2
            for a, b in zip(R_W, R_L)]


def test_kto_pair_pooled_reference_point():
    # z0 = max(0, mean of all six log-ratios) = 3.5 / 6
    out = evaluate("kto_pair", PairLogps(*tensors().values()), beta=0.1)
    close(out.losses.tolist(), kto_by_hand(0.1, 3.5 / 6, 3.5 / 6))
    assert out.metrics["kl"].item() == pytest.approx(3.5 / 6)
    close(out.chosen_rewards.tolist(), [0.1 * v for v in R_W])
    close(out.rejected_rewards.tolist(), [0.1 * v for v in R_L])
    # pair 3 on paper: (1 - sigma(0.1 * (1 - 7/12)) + 1 - sigma(0.1 * (7/12 + 1))) / 2
    assert out.losses[2].item() == pytest.approx(1 - (sigmoid(1 / 24) + sigmoid(19 / 120)) / 2)


def test_kto_pair_cross_half_weights_and_zero():
    # cross_half: chosen terms use mean(r_l) = 2.5/3, rejected terms mean(r_w) = 1/3
    close(run("kto_pair", beta=0.5, reference_point="cross_half"), kto_by_hand(0.5, 2.5 / 3, 1 / 3))
    close(run("kto_pair", beta=0.5, reference_point="zero", desirable_weight=1.5, undesirable_weight=0.5),
          kto_by_hand(0.5, 0.0, 0.0, wd=1.5, wu=0.5))
    # a negative batch mean is clamped to z0 = 0
    neg = tensors(rw=[v + 5 for v in PW], rl=[v + 5 for v in PL])
    close(compute("kto_pair", **neg, beta=0.1).tolist(), compute("kto_pair", **neg, beta=0.1,
                                                                  reference_point="zero").tolist())


def test_kto_pair_reference_point_takes_no_gradient():
    """d loss_i / d pw_j = 0 for j != i: z0 is detached, so each pair's gradient is its own."""
    x = tensors(grad=True)
    losses = compute("kto_pair", **x, beta=0.5)
    (grad,) = torch.autograd.grad(losses[0], x["chosen_logps"])
    a = 0.5 * (R_W[0] - 3.5 / 6)
    assert grad.tolist() == pytest.approx([-0.5 * 0.5 * sigmoid(a) * (1 - sigmoid(a)), 0.0, 0.0])


def test_reference_losses_need_reference():
    for name in ("dpo", "ipo", "rdpo", "kto_pair"):
        with pytest.raises(ValueError, match="reference"):
            compute(name, **tensors(rw=None, rl=None))


# ---- SimPO -------------------------------------------------------------------------------------------


def test_simpo_sigmoid():
    # z = sw - sl - gamma_beta_ratio = [-0.5, 1, 1.5] - 0.5
    z = [-1.0, 0.5, 1.0]
    close(run("simpo", beta=2.0, gamma_beta_ratio=0.5), [-log_sigmoid(2 * v) for v in z])
    eps = 0.1
    expected = [-(1 - eps) * log_sigmoid(2 * v) - eps * log_sigmoid(-2 * v) for v in z]
    close(run("simpo", beta=2.0, gamma_beta_ratio=0.5, label_smoothing=eps), expected)


def test_simpo_hinge():
    # max(0, 1 - beta z): [1 + 2, 1 - 1 (= 0 at the kink), 1 - 2 -> 0]
    close(run("simpo", beta=2.0, gamma_beta_ratio=0.5, loss_type="hinge"), [3.0, 0.0, 0.0])


def test_simpo_sft_weight():
    z = [-1.0, 0.5, 1.0]
    expected = [-log_sigmoid(2 * v) + 0.3 * -s for v, s in zip(z, SW)]
    close(run("simpo", beta=2.0, gamma_beta_ratio=0.5, sft_weight=0.3), expected)
    out = evaluate("simpo", PairLogps(*tensors().values()), sft_weight=0.3)
    assert out.metrics["sft_loss"].item() == pytest.approx((2.0 + 3.0 + 1.5) / 3)


# ---- reference-free baselines --------------------------------------------------------------------


def test_cpo():
    # -log sigma(beta (pw - pl)) + alpha (-sw); pw - pl = [0.5, -4, 3]
    d = [0.5, -4.0, 3.0]
    close(run("cpo", beta=0.1, cpo_alpha=1.0), [-log_sigmoid(0.1 * v) - s for v, s in zip(d, SW)])
    close(run("cpo", beta=0.5, cpo_alpha=0.0), [-log_sigmoid(0.5 * v) for v in d])


def test_orpo():
    lam = 0.1
    expected = []
    for sw, sl in zip(SW, SL):
        log_odds = (sw - sl) - (math.log(1 - math.exp(sw)) - math.log(1 - math.exp(sl)))
        expected.append(-sw - lam * log_sigmoid(log_odds))
    close(run("orpo", orpo_lambda=lam), expected)


def test_rrhf():
    # max(0, sl - sw) = [0.5, 0, 0]; + lambda * (-sw)
    close(run("rrhf", rrhf_lambda=1.0), [0.5 + 2.0, 3.0, 1.5])
    close(run("rrhf", rrhf_lambda=0.0), [0.5, 0.0, 0.0])


def test_slic():
    # max(0, delta - (pw - pl)) = [1 - 0.5, 1 + 4, 0]; + lambda * (-sw)
    close(run("slic", slic_delta=1.0, slic_lambda=0.1), [0.5 + 0.2, 5.0 + 0.3, 0.0 + 0.15])
    close(run("slic", slic_delta=2.0, slic_lambda=0.0), [1.5, 6.0, 0.0])


# ---- LMPO ----------------------------------------------------------------------------------------------


def lmpo_m(sw, sl, lw, ll, k=5):
    mean_len = (lw + ll) / 2
    qw, ql = math.exp(sw * mean_len / lw), math.exp(sl * mean_len / ll)
    return (1 - qw) * (1 - (qw - ql) ** k) / 2


PW_B, PL_B, LW_B, LL_B = [-3.0, -12.0], [-8.0, -10.0], [3, 6], [4, 4]  # a second batch: sw [-1, -2], sl [-2, -2.5]


def lmpo_expected(pw, pl, lw, ll, a, b, beta=2.0, gbr=0.5, lam=0.2):
    out = []
    for p, q, n, r in zip(pw, pl, lw, ll):
        margin = lam * (lmpo_m(p / n, q / r, n, r) - a) / b
        out.append(-log_sigmoid(beta * (p / n - q / r) - beta * gbr - margin))
    return out


def test_lmpo_state_is_updated_first_then_used():
    hp = dict(beta=2.0, gamma_beta_ratio=0.5)  # lmpo_lambda 0.2, k 5, ema 0.9 by default
    state: dict = {}
    m1 = [lmpo_m(a / b, c / d, b, d) for a, b, c, d in zip(PW, LW, PL, LL)]
    a1, b1 = 0.1 * statistics.mean(m1), 0.1 * statistics.stdev(m1)

    got = compute("lmpo", **tensors(), state=state, **hp).tolist()
    assert state["a"].item() == pytest.approx(a1, abs=1e-12)
    assert state["b"].item() == pytest.approx(b1, abs=1e-12)
    close(got, lmpo_expected(PW, PL, LW, LL, a1, b1))

    m2 = [lmpo_m(a / b, c / d, b, d) for a, b, c, d in zip(PW_B, LW_B, PL_B, LL_B)]
    a2 = 0.9 * a1 + 0.1 * statistics.mean(m2)
    b2 = 0.9 * b1 + 0.1 * statistics.stdev(m2)
    got = compute("lmpo", **tensors(PW_B, PL_B, LW_B, LL_B, None, None), state=state, **hp).tolist()
    assert state["a"].item() == pytest.approx(a2, abs=1e-12)
    assert state["b"].item() == pytest.approx(b2, abs=1e-12)
    close(got, lmpo_expected(PW_B, PL_B, LW_B, LL_B, a2, b2))


def test_lmpo_state_none_is_a_fresh_state_and_not_kept():
    fresh = compute("lmpo", **tensors(), state={}).tolist()
    assert compute("lmpo", **tensors(), state=None).tolist() == fresh
    assert compute("lmpo", **tensors(), state=None).tolist() == fresh  # nothing carried over


def test_lmpo_single_pair_on_fresh_state_is_simpo():
    # One pair: std contributes 0, so b = 0 and the margin is 0 (documented), not NaN.
    one = tensors([PW[0]], [PL[0]], [LW[0]], [LL[0]], None, None)
    state: dict = {}
    got = compute("lmpo", **one, state=state, beta=2.0, gamma_beta_ratio=0.5).tolist()
    close(got, [-log_sigmoid(2.0 * (SW[0] - SL[0]) - 1.0)])
    assert state["b"].item() == 0.0
    assert state["a"].item() == pytest.approx(0.1 * lmpo_m(SW[0], SL[0], LW[0], LL[0]))


def test_lmpo_lambda_zero_is_simpo():
    close(run("lmpo", beta=2.0, gamma_beta_ratio=0.5, lmpo_lambda=0.0), run("simpo", beta=2.0, gamma_beta_ratio=0.5))


def test_lmpo_state_survives_torch_save():
    state: dict = {}
    compute("lmpo", **tensors(), state=state)
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=True)
    assert set(loaded) == {"a", "b"} and all(isinstance(v, torch.Tensor) for v in loaded.values())
    after_loaded = compute("lmpo", **tensors(), state=loaded).tolist()
    assert compute("lmpo", **tensors(), state=state).tolist() == after_loaded


def test_lmpo_gradient_stops_at_the_margin():
    beta, gbr = 2.0, 0.5
    x = tensors(grad=True)
    state: dict = {}
    compute("lmpo", **x, state=state, beta=beta, gamma_beta_ratio=gbr).sum().backward()
    a, b = state["a"].item(), state["b"].item()
    # With M a fixed number, d/dpw [-log sigma(beta (pw/Lw - sl) - beta gbr - M)] = -(1 - sigma(u)) beta / Lw.
    expected = []
    for pw, pl, lw, ll in zip(PW, PL, LW, LL):
        margin = 0.2 * (lmpo_m(pw / lw, pl / ll, lw, ll) - a) / b
        u = beta * (pw / lw - pl / ll) - beta * gbr - margin
        expected.append(-(1 - sigmoid(u)) * beta / lw)
    close(x["chosen_logps"].grad.tolist(), expected)


# ---- AMaPO ---------------------------------------------------------------------------------------------


def amapo_margins(m: list[float], beta: float) -> list[float]:
    mu, s = statistics.mean(m), statistics.stdev(m)
    return [beta * math.exp((mu - v) / s * mu) if v < mu else 0.0 for v in m]


def test_amapo_hand_values():
    # m = sw - sl = [-0.5, 1, 1.5], mean 2/3 > 0: only pair 1 (below the mean) gets a margin >= beta.
    m = [-0.5, 1.0, 1.5]
    mu = 2 / 3
    s = math.sqrt(((-0.5 - mu) ** 2 + (1 - mu) ** 2 + (1.5 - mu) ** 2) / 2)
    margin1 = 2.0 * math.exp((mu + 0.5) / s * mu)
    assert amapo_margins(m, 2.0) == pytest.approx([margin1, 0.0, 0.0])
    expected = [-log_sigmoid(2.0 * -0.5 - margin1), -log_sigmoid(2.0), -log_sigmoid(3.0)]
    close(run("amapo", beta=2.0), expected)
    eps = 0.1
    logits = [2.0 * -0.5 - margin1, 2.0, 3.0]
    close(run("amapo", beta=2.0, label_smoothing=eps),
          [-(1 - eps) * log_sigmoid(v) - eps * log_sigmoid(-v) for v in logits])


def test_amapo_negative_batch_mean_follows_the_code():
    # m = [-1, -0.2, 0.1] (mean < 0): the code gates on m < mean, so pair 1 gets a margin in (0, beta).
    sw, sl, n = [-2.0, -2.2, -1.9], [-1.0, -2.0, -2.0], [4, 4, 4]
    pw, pl = [v * 4 for v in sw], [v * 4 for v in sl]
    m = [a - b for a, b in zip(sw, sl)]
    margins = amapo_margins(m, 3.0)
    assert 0 < margins[0] < 3.0 and margins[1:] == [0.0, 0.0]
    got = compute("amapo", **tensors(pw, pl, n, n, None, None), beta=3.0).tolist()
    close(got, [-log_sigmoid(3.0 * v - g) for v, g in zip(m, margins)])


def test_amapo_single_pair_is_plain_sigmoid():
    one = tensors([PW[0]], [PL[0]], [LW[0]], [LL[0]], None, None)
    close(compute("amapo", **one, beta=2.0).tolist(), [-log_sigmoid(2.0 * (SW[0] - SL[0]))])


def test_amapo_equal_margins_give_no_margin():
    pw, pl = [-4.4, -8.8, -2.2], [-6.0, -12.0, -3.0]  # sw - sl = -1.1 + 1.5 = 0.4 in all three
    got = compute("amapo", **tensors(pw, pl, [4, 8, 2], [4, 8, 2], None, None), beta=2.0).tolist()
    close(got, [-log_sigmoid(2.0 * 0.4)] * 3)


def test_amapo_gradient_stops_at_the_margin():
    x = tensors(grad=True)
    compute("amapo", **x, beta=2.0).sum().backward()
    m = [a - b for a, b in zip(SW, SL)]
    margins = amapo_margins(m, 2.0)
    expected = [-(1 - sigmoid(2.0 * v - g)) * 2.0 / lw for v, g, lw in zip(m, margins, LW)]
    close(x["chosen_logps"].grad.tolist(), expected)


# ---- AMaPO ablations (the paper's four rows; defaults = the released code) ------------------------------
# One batch, worked out by hand: sw = [-1.0, -0.8, -0.6, -0.2], sl = -1.1 each, so m = sw - sl = [0.1, 0.3, 0.5,
# 0.9], beta = 2. mu = 1.8 / 4 = 0.45; mu - m = [0.35, 0.15, -0.05, -0.45]; unbiased variance
# (0.1225 + 0.0225 + 0.0025 + 0.2025) / 3 = 0.35 / 3, s = 0.3415650; z = (mu - m)/s = [1.0246951, 0.4391550,
# -0.1463850, -1.3174651]. Pairs 3 and 4 are at or above the mean ("correct"): no margin unless that gate is off.
ABL_SW, ABL_SL, ABL_N = [-1.0, -0.8, -0.6, -0.2], [-1.1] * 4, [1, 1, 1, 1]
ABLATIONS = {
    # released default: M = beta e^{z mu}: 2 e^{1.0246951 * 0.45} = 2 e^{0.4611128} = 3.1716754,
    # 2 e^{0.4391550 * 0.45} = 2 e^{0.1976198} = 2.4369980
    "default": ({}, [3.1716754, 2.4369980, 0.0, 0.0]),
    # w/o Z-norm: M = beta e^{(mu - m) mu}: 2 e^{0.35 * 0.45} = 2 e^{0.1575} = 2.3411615, 2 e^{0.0675} = 2.1396605
    "no-znorm": ({"znorm": False}, [2.3411615, 2.1396605, 0.0, 0.0]),
    # w/o exp scaling: M = 2 beta z mu = 4 * 1.0246951 * 0.45 = 1.8444512, 4 * 0.4391550 * 0.45 = 0.7904790
    "no-exp": ({"exp_scaling": False}, [1.8444512, 0.7904790, 0.0, 0.0]),
    # w/o both: M = 2 beta (mu - m) mu = 4 * 0.35 * 0.45 = 0.63, 4 * 0.15 * 0.45 = 0.27
    "no-both": ({"znorm": False, "exp_scaling": False}, [0.63, 0.27, 0.0, 0.0]),
    # w/o zero margin for correct pairs: every pair gets beta e^{z mu}; pairs 3, 4: 2 e^{-0.1463850 * 0.45} =
    # 2 e^{-0.0658733} = 1.8724990, 2 e^{-0.5928593} = 1.1054891
    "no-zero-margin": ({"zero_margin_correct": False}, [3.1716754, 2.4369980, 1.8724990, 1.1054891]),
}


@pytest.mark.parametrize("variant", sorted(ABLATIONS))
def test_amapo_ablation_hand_values(variant):
    from prefopt.losses.adaptive_margin import amapo  # noqa: PLC0415

    flags, margins = ABLATIONS[variant]
    x = tensors(ABL_SW, ABL_SL, ABL_N, ABL_N, None, None)
    out = amapo(PairLogps(x["chosen_logps"], x["rejected_logps"], x["chosen_lengths"], x["rejected_lengths"]),
                beta=2.0, label_smoothing=0.0, **flags)
    m = [0.1, 0.3, 0.5, 0.9]
    assert out.metrics["loss/margin"].item() == pytest.approx(sum(margins) / 4, abs=1e-6)
    # per-pair loss -log sigma(2 m - M); e.g. the default's first pair: -log sigma(0.2 - 3.1716754) = 3.0216
    close(out.losses.tolist(), [-log_sigmoid(2.0 * v - g) for v, g in zip(m, margins)])
    close(compute("amapo", **x, beta=2.0, **flags).tolist(), out.losses.tolist())  # the registry path takes them


def test_amapo_ablation_means_are_the_worked_examples():
    # The means of docs/fidelity_research.md's table: 1.3682, 1.1131, 0.7700, 0.4848, 1.6583.
    x = tensors(ABL_SW, ABL_SL, ABL_N, ABL_N, None, None)
    means = {v: compute("amapo", **x, beta=2.0, **flags).mean().item() for v, (flags, _) in ABLATIONS.items()}
    expected = {"default": 1.3682, "no-znorm": 1.1131, "no-exp": 0.7700, "no-both": 0.4848, "no-zero-margin": 1.6583}
    for v, e in expected.items():
        assert means[v] == pytest.approx(e, abs=5e-5), v


def test_amapo_linear_margin_is_clipped_at_zero_when_the_mean_is_negative():
    # m = [-1, -0.2, 0.1] (mean -11/30 < 0): pair 1 is below the mean, z > 0, so z mu < 0. The exp form gives it a
    # margin in (0, beta); the linear form 2 beta z mu would be negative (a bonus): clipped to 0, every pair plain.
    sw, sl = [-2.0, -2.2, -1.9], [-1.0, -2.0, -2.0]
    n = [1, 1, 1]
    m = [-1.0, -0.2, 0.1]
    x = tensors(sw, sl, n, n, None, None)
    got = compute("amapo", **x, beta=3.0, exp_scaling=False).tolist()
    close(got, [-log_sigmoid(3.0 * v) for v in m])
    exp_form = compute("amapo", **x, beta=3.0).tolist()
    assert exp_form[0] > got[0] and exp_form[1:] == pytest.approx(got[1:])


def test_amapo_ablations_keep_no_margin_without_spread():
    pw, pl = [-4.4, -8.8, -2.2], [-6.0, -12.0, -3.0]  # sw - sl = 0.4 in all three: s = 0
    x = tensors(pw, pl, [4, 8, 2], [4, 8, 2], None, None)
    for flags, _ in ABLATIONS.values():
        close(compute("amapo", **x, beta=2.0, **flags).tolist(), [-log_sigmoid(2.0 * 0.4)] * 3)


# ---- DDP: batch statistics over all ranks ------------------------------------------------------------


def _ddp_worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    part = [0, 1] if rank == 0 else [2]  # unequal shares, as with a smaller last batch

    def pick(v):
        return [v[i] for i in part]

    x = tensors(pick(PW), pick(PL), pick(LW), pick(LL), None, None)
    state: dict = {}
    with_ref = tensors(pick(PW), pick(PL), pick(LW), pick(LL), pick(RW), pick(RL))
    out = {"amapo": compute("amapo", **x, beta=2.0), "lmpo": compute("lmpo", **x, state=state),
           "kto_pair": compute("kto_pair", **with_ref, beta=0.5), **state}
    torch.save(out, f"{out_dir}/{rank}.pt")
    dist.destroy_process_group()


def test_batch_statistics_are_gathered_across_ranks(tmp_path):
    """Two gloo ranks holding 2 + 1 pairs give the single-process values of the 3-pair batch (AMaPO's and
    LMPO's margins, paired KTO's reference point)."""
    torch.multiprocessing.spawn(_ddp_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2)
    r0, r1 = (torch.load(tmp_path / f"{r}.pt", weights_only=True) for r in (0, 1))
    state: dict = {}
    close(torch.cat([r0["amapo"], r1["amapo"]]).tolist(), run("amapo", beta=2.0))
    close(torch.cat([r0["kto_pair"], r1["kto_pair"]]).tolist(), run("kto_pair", beta=0.5))
    close(torch.cat([r0["lmpo"], r1["lmpo"]]).tolist(), compute("lmpo", **tensors(), state=state).tolist())
    for r in (r0, r1):
        assert r["a"].item() == pytest.approx(state["a"].item()) and r["b"].item() == pytest.approx(state["b"].item())


# ---- every loss, and the registry ----------------------------------------------------------------


def test_all_losses_are_registered():
    assert set(LOSSES) >= ALL


def test_needs_reference_and_stateful_flags():
    assert {n for n, s in LOSSES.items() if s.needs_reference} == {"dpo", "ipo", "rdpo", "kto_pair"}
    assert {n for n, s in LOSSES.items() if s.stateful} == {"lmpo"}


@pytest.mark.parametrize("name", sorted(ALL))
def test_outputs_shapes_detached_rewards_and_scalar_metrics(name):
    x = tensors(grad=True)
    state = {} if LOSSES[name].stateful else None
    out = evaluate(name, PairLogps(*x.values()), state)
    assert out.losses.shape == (3,) and torch.isfinite(out.losses).all() and out.losses.requires_grad
    for r in (out.chosen_rewards, out.rejected_rewards):
        assert r.shape == (3,) and not r.requires_grad
    assert all(v.dim() == 0 and not v.requires_grad for v in out.metrics.values())


# A paper citation: a quoted title followed by its venue and year, or an arXiv id. A bare number such as
# "2048 tokens" is not one.
CITATION = re.compile(r'"[^"]{10,}"[^"]{0,120}?(?:19|20)\d\d|arXiv[: ]?\d{4}\.\d{4,5}', re.S)


def test_the_citation_check_rejects_a_bare_number():
    assert not CITATION.search("Truncate prompts to 2048 tokens; see 1999.")
    assert CITATION.search('Meng et al., "SimPO: Simple Preference Optimization", NeurIPS 2024')


@pytest.mark.parametrize("name", sorted(ALL))
def test_docs_summary_and_hparam_help(name):
    spec = LOSSES[name]
    assert spec.summary.strip()
    assert CITATION.search(spec.fn.__doc__), f"{name}'s docstring cites no paper (a quoted title with its year, or an arXiv id)"
    for f in dataclasses.fields(spec.hparams):
        assert f.metadata.get("help", "").strip(), f"{name}.{f.name} has no help"


@pytest.mark.parametrize("name", sorted(ALL))
def test_unknown_hyperparameter_names_the_accepted_ones(name):
    spec = LOSSES[name]
    with pytest.raises(TypeError) as err:
        compute(name, **tensors(), bogus_knob=1.0)
    assert all(h in str(err.value) for h in spec.hparam_names())


@pytest.mark.parametrize(
    "name,bad",
    [
        ("dpo", {"beta": 0.0}), ("dpo", {"label_smoothing": 0.5}),
        ("ipo", {"tau": 0.0}), ("ipo", {"tau": -1.0}),
        ("rdpo", {"beta": -0.1}), ("rdpo", {"alpha": -0.1}),
        ("kto_pair", {"beta": 0.0}), ("kto_pair", {"desirable_weight": -1.0}),
        ("kto_pair", {"reference_point": "mismatched"}),
        ("simpo", {"beta": 0.0}), ("simpo", {"loss_type": "squared"}),
        ("cpo", {"beta": 0.0}), ("cpo", {"cpo_alpha": -1.0}),
        ("orpo", {"orpo_lambda": -0.1}),
        ("rrhf", {"rrhf_lambda": -1.0}),
        ("slic", {"slic_delta": -1.0}), ("slic", {"slic_lambda": -1.0}),
        ("lmpo", {"beta": 0.0}), ("lmpo", {"lmpo_k": 2.5}), ("lmpo", {"lmpo_k": 0}),
        ("lmpo", {"lmpo_ema": 1.0}), ("lmpo", {"lmpo_lambda": -0.2}),
        ("amapo", {"beta": 0.0}), ("amapo", {"label_smoothing": 0.5}),
    ],
)
def test_invalid_values_raise(name, bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        compute(name, **tensors(), **bad)
