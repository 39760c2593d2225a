"""The six claims: which runs each needs, the numbers it is judged on, and its verdict rule.

A verdict comes from paired differences over seeds (each seed has its own SFT model and pairs, shared by every
method of that seed). A comparison *holds* when every seed agrees with the claimed direction and the mean is at
least `verdict.min_se` standard errors from 0; it *fails* when the mean points the other way; otherwise it is
*unclear*. A claim is reproduced when all its comparisons hold, not reproduced when one fails, else inconclusive.
"quality" conditions ("at the same quality") hold when the mean judged quality is at most
`verdict.quality_tolerance` below the comparison's, and fail otherwise.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from prefopt.losses import get_loss
from prefopt.toy.chain import tiny_config

from .chain import LENGTH_BIASED, QUALITY, RM_PAIRS, Run, flip_set
from .probes import spearman

HOLDS, FAILS, UNCLEAR = "holds", "fails", "unclear"


# ---- statistics over seeds --------------------------------------------------------------------------------
def summary(values: list[float]) -> dict:
    vals = [float(v) for v in values]
    return {"mean": statistics.fmean(vals), "sd": statistics.stdev(vals) if len(vals) > 1 else 0.0, "values": vals}


def paired(a: list[float], b: list[float], min_se: float) -> dict:
    """a - b per seed; status HOLDS when a > b is established, FAILS when the mean is <= 0, else UNCLEAR."""
    d = [x - y for x, y in zip(a, b, strict=True)]
    s = summary(d)
    se = s["sd"] / math.sqrt(len(d)) if len(d) > 1 else math.inf
    established = all(x > 0 for x in d) and (s["mean"] >= min_se * se if se > 0 else True) and len(d) > 1
    s["status"] = HOLDS if established else FAILS if s["mean"] <= 0 else UNCLEAR
    return s


def at_quality(q: list[float], q_ref: list[float], tol: float) -> dict:
    s = summary([x - y for x, y in zip(q, q_ref, strict=True)])
    s["status"] = HOLDS if s["mean"] >= -tol else FAILS
    return s


def verdict(checks: dict[str, dict]) -> str:
    statuses = [c["status"] for c in checks.values()]
    if all(s == HOLDS for s in statuses):
        return "reproduced"
    return "not reproduced" if FAILS in statuses else "inconclusive"


# ---- reading per-seed results -------------------------------------------------------------------------------
# results[seed] = {"evals": {run id or "<pairs>/sft": chain.SeedChain.evaluate(...)}, "data": ..., ...}
def final(res: dict, run_id: str) -> dict:
    return res["evals"][run_id]["final"]


def sft(res: dict, pairs: str) -> dict:
    return final(res, f"{pairs}/sft")


def length_gain(res: dict, run: Run) -> float:
    return final(res, run.id)["sampled_length"] - sft(res, run.pairs)["sampled_length"]


def frac(values: list[float], pred: Callable[[float], bool]) -> float:
    return sum(pred(v) for v in values) / len(values)


def reward_length_correlation(evaluation: dict, reference_based: bool) -> float:
    """Spearman correlation of the method's own implicit reward with response length, over both responses of
    every held-out pair: beta * summed log-ratio vs SFT (reference-based) or beta * mean log-prob (else)."""
    p = evaluation["test_pairs"]
    kind = "logratio" if reference_based else "avg"
    return spearman(p[f"{kind}_chosen"] + p[f"{kind}_rejected"], p["len_chosen"] + p["len_rejected"])


def variant(config: str, param: str | None = None, value=None, pairs: str = LENGTH_BIASED, curve: bool = False) -> Run:
    """The run of `config` with `param` = value; the config's own value gives the plain run (shared by claims)."""
    if param is None or tiny_config(config)[2].loss_hparams.get(param) == value:
        return Run(config, config, pairs, curve=curve)
    return Run(f"{config}-{param}{value:g}", config, pairs, ((param, value),), curve=curve)


def needs_reference(config: str) -> bool:
    return get_loss(tiny_config(config)[2].loss).needs_reference


# ---- the claims -----------------------------------------------------------------------------------------
@dataclass
class Claim:
    name: str
    title: str
    claim: str
    source: str
    runs: Callable  # spec -> list[Run]
    judge: Callable  # (spec, results) -> {"numbers": ..., "checks": ..., "verdict": ...}
    design: Callable  # spec -> markdown: what is varied, what is held fixed, what is measured


def _length_runs(spec):
    c = spec.claims.length
    return [variant(m, curve=True) for m in c.methods]


def _length_judge(spec, results):
    a, b = _length_runs(spec)  # the claim: a (DPO) exploits length more than b (SimPO)
    v = spec.verdict
    gain = {r.key: [length_gain(res, r) for res in results] for r in (a, b)}
    quality = {r.key: [final(res, r.id)["quality"] for res in results] for r in (a, b)}
    corr = {r.key: [reward_length_correlation(final(res, r.id), needs_reference(r.config)) for res in results]
            for r in (a, b)}
    checks = {
        f"{a.key} lengthens more than {b.key}": paired(gain[a.key], gain[b.key], v.min_se),
        f"{b.key} quality >= {a.key} quality - {v.quality_tolerance}": at_quality(
            quality[b.key], quality[a.key], v.quality_tolerance),
        f"{a.key}'s reward correlates more with length": paired(corr[a.key], corr[b.key], v.min_se),
    }
    numbers = {k: {"length_gain": summary(gain[k]), "quality": summary(quality[k]),
                   "reward_length_spearman": summary(corr[k])} for k in gain}
    return {"numbers": numbers, "checks": checks, "verdict": verdict(checks)}


def _control_runs(spec):
    c = spec.claims.length_control
    return ([variant("rdpo", "alpha", a) for a in c.rdpo_alpha] + [variant("lmpo", "lmpo_lambda", x) for x in c.lmpo_lambda]
            + _length_runs(spec))


def _control_judge(spec, results):
    v, c = spec.verdict, spec.claims.length_control
    ref = variant("simpo")

    def stats(run):
        return ([length_gain(res, run) for res in results], [final(res, run.id)["quality"] for res in results])

    g_ref, q_ref = stats(ref)
    numbers, checks = {}, {}
    for family, param, grid in (("rdpo", "alpha", c.rdpo_alpha), ("lmpo", "lmpo_lambda", c.lmpo_lambda)):
        best = None
        for value in grid:
            run = variant(family, param, value)
            g, q = stats(run)
            numbers[f"{family} {param}={value:g}"] = {"length_gain": summary(g), "quality": summary(q)}
            shorter, same_q = paired(g_ref, g, v.min_se), at_quality(q, q_ref, v.quality_tolerance)
            rank = (same_q["status"] == HOLDS, {HOLDS: 2, UNCLEAR: 1, FAILS: 0}[shorter["status"]], shorter["mean"])
            if best is None or rank > best[0]:
                best = (rank, value, shorter, same_q)
        _, value, shorter, same_q = best
        if same_q["status"] == FAILS:  # no coefficient keeps the quality: the claim fails for this family
            shorter = dict(shorter, status=FAILS)
        checks[f"{family} ({param}={value:g}) lengthens less than simpo"] = shorter
        checks[f"{family} ({param}={value:g}) quality >= simpo - {v.quality_tolerance}"] = same_q
    for run in (variant("dpo"), ref):
        g, q = stats(run)
        numbers[run.key] = {"length_gain": summary(g), "quality": summary(q)}
    per_family = {f: verdict({k: x for k, x in checks.items() if k.startswith(f)}) for f in ("rdpo", "lmpo")}
    return {"numbers": numbers, "checks": checks, "verdict": verdict(checks), "per_method": per_family}


def _gamma_runs(spec):
    return [variant("simpo", "gamma_beta_ratio", g, pairs=QUALITY) for g in spec.claims.gamma.gamma_beta_ratio]


def _gamma_judge(spec, results):
    v, grid = spec.verdict, spec.claims.gamma.gamma_beta_ratio
    acc, quality, chosen = {}, {}, {}
    for g, run in zip(grid, _gamma_runs(spec)):
        acc[g] = [frac(final(res, run.id)["test_pairs"]["avg_margin"], lambda m: m > 0) for res in results]
        quality[g] = [final(res, run.id)["quality"] for res in results]
        chosen[g] = [statistics.fmean(final(res, run.id)["test_pairs"]["avg_chosen"]) for res in results]
    g0, positive = min(grid), [g for g in grid if g > min(grid)]
    g_acc = max(positive, key=lambda g: statistics.fmean(acc[g]))
    g_q = max(grid, key=lambda g: statistics.fmean(quality[g]))
    rise = paired(acc[g_acc], acc[g0], v.min_se)
    above = [g for g in grid if g > g_q]
    falls = [paired(quality[g_q], quality[g], v.min_se) for g in above]
    fall = (max(falls, key=lambda s: ({HOLDS: 2, UNCLEAR: 1, FAILS: 0}[s["status"]], s["mean"])) if falls
            else {"status": FAILS, "mean": 0.0, "sd": 0.0, "values": []})
    checks = {f"reward accuracy rises from gamma/beta={g0:g} (best: {g_acc:g})": rise,
              f"quality falls beyond its peak (gamma/beta={g_q:g})": fall}
    numbers = {f"{g:g}": {"reward_accuracy": summary(acc[g]), "quality": summary(quality[g]),
                          "chosen_mean_logp": summary(chosen[g])} for g in grid}
    return {"numbers": numbers, "checks": checks, "verdict": verdict(checks)}


def _margin_runs(spec):
    return [variant(m, pairs=QUALITY, curve=True) for m in spec.claims.adaptive_margin.methods]


def margin_effort(evaluation: dict, start: dict, split: str, key: str = "avg_margin") -> dict:
    """Split the pairs by the SFT model's ranking (mean log-prob margin > 0: already right); per group, the mean
    change of the method's margin `key`, and the fraction of initially misranked pairs now ranked right."""
    m0, m1 = start[split]["avg_margin"], evaluation[split][key]
    base = start[split][key]
    right = [i for i, m in enumerate(m0) if m > 0]
    wrong = [i for i, m in enumerate(m0) if m <= 0]

    def gain(idx):
        return statistics.fmean(m1[i] - base[i] for i in idx) if idx else float("nan")

    return {"gain_right": gain(right), "gain_wrong": gain(wrong), "allocation": gain(wrong) - gain(right),
            "fixed": frac([m1[i] for i in wrong], lambda m: m > 0) if wrong else float("nan"),
            "misranked": frac(m1, lambda m: m <= 0), "n_right": len(right), "n_wrong": len(wrong)}


def _margin_judge(spec, results):
    v = spec.verdict
    runs = {r.key: r for r in _margin_runs(spec)}
    fixed_margin, adaptive = runs["simpo"], runs["amapo"]
    numbers = {}
    for split in ("test_pairs", "train_pairs"):
        for key, run in runs.items():
            per_seed = [margin_effort(final(res, run.id), sft(res, run.pairs), split,
                                      "logratio_margin" if needs_reference(run.config) else "avg_margin")
                        for res in results]
            numbers[f"{key} {split}"] = {k: summary([e[k] for e in per_seed]) for k in per_seed[0]}
    a, s = numbers[f"{adaptive.key} test_pairs"], numbers[f"{fixed_margin.key} test_pairs"]
    checks = {
        "amapo puts more of its margin gain on misranked pairs than simpo":
            paired(a["allocation"]["values"], s["allocation"]["values"], v.min_se),
        "amapo fixes at least as many misranked pairs as simpo": _not_worse(a["fixed"]["values"], s["fixed"]["values"]),
    }
    return {"numbers": numbers, "checks": checks, "verdict": verdict(checks)}


def _not_worse(a, b) -> dict:
    s = summary([x - y for x, y in zip(a, b, strict=True)])
    s["status"] = HOLDS if s["mean"] >= 0 else FAILS
    return s


def _noise_sets(spec) -> list[str]:
    return [QUALITY] + [flip_set(r) for r in spec.claims.label_noise.flip_rates]


def _noise_runs(spec):
    runs = []
    for pairs in _noise_sets(spec):
        if any(m.endswith("-sams") for m in spec.claims.label_noise.methods):
            runs.append(Run("sams-pretrain", "sams-pretrain", pairs))
        runs += [Run(m, m, pairs) for m in spec.claims.label_noise.methods]
    return runs


def _noise_judge(spec, results):
    v, c = spec.verdict, spec.claims.label_noise

    def acc(res, pairs, m):  # Table 2's metric: held-out pairs ranked right by the implicit reward (clean labels)
        return frac(final(res, f"{pairs}/{m}")["test_pairs"]["logratio_margin"], lambda x: x > 0)

    numbers, checks = {}, {}
    for m in c.methods:
        for pairs in _noise_sets(spec):
            e = {"pref_accuracy": summary([acc(res, pairs, m) for res in results]),
                 "quality": summary([final(res, f"{pairs}/{m}")["quality"] for res in results])}
            sel = [res["evals"][f"{pairs}/{m}"].get("selection") for res in results]
            if all(sel):
                if all(s["flipped_seen"] for s in sel):  # none at 0% flipped
                    e["selected_if_flipped"] = summary([s["flipped_selected"] / s["flipped_seen"] for s in sel])
                e["selected_if_clean"] = summary([s["clean_selected"] / s["clean_seen"] for s in sel])
            numbers[f"{m} {pairs}"] = e
    sams = next(m for m in c.methods if m.endswith("-sams"))
    for rate, pairs in zip(c.flip_rates, _noise_sets(spec)[1:]):
        drop = {m: [acc(res, QUALITY, m) - acc(res, pairs, m) for res in results] for m in c.methods}
        level = {m: [acc(res, pairs, m) for res in results] for m in c.methods}
        for m in c.methods:
            numbers[f"{m} {pairs}"]["accuracy_drop"] = summary(drop[m])
            if m != sams:
                checks[f"{sams} loses less than {m} at {rate:g} flipped"] = paired(drop[m], drop[sams], v.min_se)
                # A smaller drop from a lower clean accuracy is not robustness: the paper's result is the noisy
                # accuracy itself (SamS above DPO at 20% flipped), so that is checked too.
                checks[f"{sams} more accurate than {m} at {rate:g} flipped"] = paired(level[sams], level[m], v.min_se)
    drop_only = verdict({k: x for k, x in checks.items() if "loses less" in k})
    notes = [f"The 'more accurate' checks were added after a two-seed preview showed SamS's smaller drops coming "
             f"from a lower clean accuracy (see docs/mechanisms_design.md); with the drops alone the verdict is "
             f"'{drop_only}'."]
    return {"numbers": numbers, "checks": checks, "verdict": verdict(checks), "notes": notes}


RM_RUNS = (Run("rm", "rm", RM_PAIRS), Run("apo_rm", "apo_rm", RM_PAIRS))


def _apo_judge(spec, results):
    base, apo = RM_RUNS
    get = {k: {r.key: [res["evals"][r.id]["rm"][f"eval_test_{k}"] for res in results] for r in RM_RUNS}
           for k in ("accuracy", "ECE10")}
    v = spec.verdict
    better_acc = paired(get["accuracy"][apo.key], get["accuracy"][base.key], v.min_se)
    better_ece = paired(get["ECE10"][base.key], get["ECE10"][apo.key], v.min_se)
    either = max((better_acc, better_ece), key=lambda s: {HOLDS: 2, UNCLEAR: 1, FAILS: 0}[s["status"]])
    checks = {"apo RM ranks held-out pairs better, or is better calibrated (lower ECE)": dict(either)}
    numbers = {r.key: {k: summary(get[k][r.key]) for k in get} for r in RM_RUNS}
    numbers["apo - base"] = {"accuracy": better_acc, "base ECE - apo ECE": better_ece}
    return {"numbers": numbers, "checks": checks, "verdict": verdict(checks)}


def _common(spec) -> str:
    t, s = spec.task, spec.sampling
    return (f"Padded addition (prefopt/toy/mechanisms/tasks_length.py): 2-digit sums followed by 0-{t.max_pad} "
            f"'{t.filler}' characters that carry no information. Per seed: a 1M-parameter char-level tiny Llama, SFT "
            f"(training_configs/tiny/sft.yaml) on answers that drop the carry in {t.carry_drop:.0%} of carry problems and "
            f"carry Uniform{{0..{t.max_pad}}} padding; {s.n_samples} answers sampled at T={s.temperature:g} for each of "
            f"{t.n_pairs} pair prompts; best vs worst answer become a pair; {s.eval_fraction:.0%} of the pairs are held "
            f"out. Seeds {spec.seeds} (each: its own SFT model, samples and pairs, shared by every method). Every method "
            "trains with its training_configs/tiny/<method>.yaml (50 steps of 32 pairs), only the swept coefficient "
            "overridden. Quality: greedy answers to 500 held-out prompts, judged exactly (padding ignored). Length: "
            f"mean characters of {spec.evaluation.length_samples} answers sampled at T={spec.evaluation.length_temperature:g} "
            f"for {spec.evaluation.length_prompts} held-out prompts (greedy answers always pad to the maximum, so they "
            "hide length changes).")


def _biased(spec) -> str:
    return (f" Labeller: quality first, then length (score = quality + {spec.labeller.length_weight:g} x pad / "
            "max_new_tokens), a judge with a verbosity bias: chosen answers are longer in most pairs (the data "
            "statistics below).")


def _design_length(spec) -> str:
    a, b = spec.claims.length.methods
    return (_common(spec) + _biased(spec) + f" Varied: the method ({a} vs {b}). Measured every "
            f"{spec.evaluation.checkpoint_every} steps: length and quality; at the end, the Spearman correlation of "
            "each method's own implicit reward with length over both answers of every held-out pair.")


def _design_control(spec) -> str:
    c = spec.claims.length_control
    return (_common(spec) + _biased(spec) + f" Varied: R-DPO alpha in {c.rdpo_alpha} (0 = DPO) and LMPO lambda in "
            f"{c.lmpo_lambda} (0 = SimPO). Measured: length gain over the SFT model and quality at the end. The check "
            "takes, per method, the coefficient closest to the claim (a grid search: this favours the claim).")


_QUALITY_LABELS = (" Labeller: the quality judge alone (a pair only where the sampled answers differ in quality; "
                   "lengths of chosen and rejected answers are then balanced, see the data line).")


def _design_gamma(spec) -> str:
    return (_common(spec) + _QUALITY_LABELS + f" Varied: SimPO gamma/beta in {spec.claims.gamma.gamma_beta_ratio} "
            "(beta 2 fixed). Measured: held-out reward accuracy (pairs whose mean log-prob margin is > 0), quality, and "
            "the chosen answers' mean log-prob.")


def _design_margin(spec) -> str:
    return (_common(spec) + _QUALITY_LABELS + f" Varied: the method ({', '.join(spec.claims.adaptive_margin.methods)}). "
            "Held-out (and training) pairs are split by the SFT model's ranking (mean log-prob margin > 0: already "
            "right). Measured at every checkpoint: each method's margin distribution; at the end, its mean margin gain "
            "on the already-right pairs and on the misranked ones (allocation = gain on misranked - gain on right) and "
            "the fraction of misranked pairs it fixes. SimPO and AMaPO share beta 2, learning rate and the reward "
            "(mean log-prob), so their margins are on one scale; DPO's (summed log-ratio) is shown for reference.")


def _design_noise(spec) -> str:
    c = spec.claims.label_noise
    return (_common(spec) + _QUALITY_LABELS + " "
            f"Varied: the fraction of TRAINING pairs with chosen and rejected swapped ({[0.0, *c.flip_rates]}; the same "
            f"pairs for every method of a seed) and the method ({', '.join(c.methods)}; SamS pretrains its scheduler on "
            "the same noisy pairs, training_configs/tiny/sams-pretrain.yaml). Measured: held-out preference accuracy "
            "(clean labels; the implicit reward log pi/pi_ref, SamS Table 2's metric), its drop from 0% flipped, quality, "
            "and which pairs the scheduler selects (flipped or clean, recognised by the quality judge).")


def _design_apo(spec) -> str:
    return (_common(spec) + _biased(spec) + " Reward models on the SFT backbone (training_configs/tiny/rm.yaml and "
            "apo_rm.yaml: same steps, learning rate and human pairs = the length-biased training pairs; on the "
            "quality pairs a tiny RM stays near chance, see docs/mechanisms_design.md). APO adds golden-vs-sample items: "
            f"golden = the chosen answer of the first {spec.claims.apo.queries} training pairs, samples = 4 SFT-policy "
            "answers per prompt at T=1.2, weight 0.1/4 (APO's README). Measured on the held-out length-biased pairs: accuracy "
            "and ECE (10 bins), APO's definitions.")


CLAIMS = {
    "length": Claim(
        "length", "SimPO vs DPO: length exploitation",
        "When chosen answers are longer on average, DPO's implicit reward correlates with length and DPO lengthens "
        "generations; SimPO's length-normalised reward with a target margin does so less, at equal or better quality.",
        "Meng, Xia and Chen, SimPO, NeurIPS 2024 (arXiv 2405.14734): the length-normalisation ablation and the "
        "DPO-vs-SimPO analysis of reward and response length, Section 4 [section from secondary notes, unverified]",
        _length_runs, _length_judge, _design_length),
    "length_control": Claim(
        "length_control", "R-DPO and LMPO: explicit length control",
        "R-DPO's length term and LMPO's length-controlled margin reduce the length increase further than SimPO, "
        "at the same quality.",
        "Park et al., Disentangling Length from Quality in DPO, Findings of ACL 2024 (R-DPO); Li et al., LMPO, "
        "arXiv 2502.14643, abstract ('effectively controls response length')",
        _control_runs, _control_judge, _design_control),
    "gamma": Claim(
        "gamma", "SimPO's target margin",
        "Raising gamma from 0 increases held-out reward accuracy up to a point, after which quality falls.",
        "Meng, Xia and Chen, SimPO, NeurIPS 2024: the target-reward-margin ablation (reward accuracy rises with gamma, "
        "win rate rises then falls) [from secondary notes, unverified]",
        _gamma_runs, _gamma_judge, _design_gamma),
    "adaptive_margin": Claim(
        "adaptive_margin", "AMaPO: adaptive margins",
        "Fixed-margin objectives keep pushing pairs already ranked right (overfitting) and under-fit misranked ones; "
        "AMaPO's batch-statistics margin shifts the effort toward the misranked pairs.",
        "Deng, Feng and Lei, AMaPO, AAAI 2026 (arXiv 2511.09385), abstract: the Overfitting-Underfitting Dilemma",
        _margin_runs, _margin_judge, _design_margin),
    "label_noise": Claim(
        "label_noise", "SamS under label noise",
        "With 20% and 40% of training pairs flipped, DPO + SamS loses less held-out accuracy than DPO and than DPO "
        "on a random half (SamS's flipped-pair selection rate is reported against 50% for random).",
        "Huang et al., SamS, NeurIPS 2025 (arXiv 2506.17252): the 20%-flipped-label experiment (Pythia-2.8B HH: DPO "
        "~58%, DPO + SamS ~64% test accuracy; amapo_sams_apo.md B.8)",
        _noise_runs, _noise_judge, _design_noise),
    "apo": Claim(
        "apo", "APO: adversarial reward model",
        "A reward model trained with APO's golden-versus-policy-sample loss ranks held-out pairs better, or is "
        "better calibrated, than the base RM trained on the same human pairs.",
        "Cheng et al., Adversarial Preference Optimization, Findings of ACL 2024 (arXiv 2311.08045), abstract; "
        "RM accuracy and ECE as APO's code defines them",
        lambda spec: list(RM_RUNS), _apo_judge, _design_apo),
}


def enabled(spec) -> list[Claim]:
    return [c for name, c in CLAIMS.items() if getattr(spec.claims, name) is not None]
