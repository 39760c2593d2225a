"""mechanisms.yaml as dataclasses: one field, with help text, per key; unknown keys and bad values are InputErrors.

    spec = load_spec()                 # prefopt/toy/mechanisms/mechanisms.yaml
    spec = load_spec(path, seeds=[0])  # another file, seeds overridden (the fast test runs one seed)
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml

from prefopt.core.errors import InputError
from prefopt.core.fields import arg, unknown_key_error

DEFAULT_SPEC = Path(__file__).with_name("mechanisms.yaml")


@dataclass
class TaskSpec:
    digits: int = arg(2, "Operand digits of the addition problems.")
    carry_drop: float = arg(0.6, "Fraction of carry problems whose SFT answer drops the carry (the embedded flaw).")
    max_pad: int = arg(6, "SFT answers carry Uniform{0..max_pad} filler characters after the sum.")
    extra_new_tokens: int = arg(6, "Generation room beyond the longest SFT answer, so lengthening is not cut off.")
    filler: str = arg(".", "The padding character (one character, not a digit, '+' or '=').")
    n_pairs: int = arg(1000, "Prompts sampled for preference pairs (the rest of the problems, minus val/test, are SFT data).")
    n_val: int = arg(200, "Validation prompts (unused by the verdicts; kept disjoint).")
    n_test: int = arg(500, "Held-out prompts for quality and length.")


@dataclass
class SamplingSpec:
    n_samples: int = arg(8, "Answers sampled from the SFT model per pair prompt (best vs worst become a pair).")
    temperature: float = arg(1.5, "Sampling temperature of the pair answers (the embedded demo's).")
    eval_fraction: float = arg(0.15, "Fraction of the pairs held out (never trained on) for margins and accuracies.")


@dataclass
class LabellerSpec:
    length_weight: float = arg(1.0, "Length-biased labeller: score = quality + weight * pad / max_new_tokens "
                                   "(<= 1: length only breaks ties in quality).")


@dataclass
class EvaluationSpec:
    length_prompts: int = arg(200, "Test prompts whose sampled answers measure the policy's length.")
    length_samples: int = arg(4, "Sampled answers per length prompt.")
    length_temperature: float = arg(1.0, "Temperature of the length samples (1 = the policy's own distribution).")
    checkpoint_every: int = arg(10, "Steps between the checkpoints evaluated for curves (claims 1 and 4).")


@dataclass
class BudgetSpec:
    sft_max_steps: int = arg(None, "SFT steps; null: training_configs/tiny/sft.yaml's (a quick check lowers it).")
    max_steps: int = arg(None, "Steps of every preference and reward-model run; null: each tiny config's.")


@dataclass
class VerdictSpec:
    min_se: float = arg(2.0, "A paired difference over seeds counts as established when every seed agrees in "
                            "sign and |mean| >= min_se standard errors.")
    quality_tolerance: float = arg(0.02, "'At the same quality': mean judged quality at most this much lower.")


@dataclass
class LengthClaim:
    methods: list = arg(["dpo", "simpo"], "The two methods compared (tiny configs): reference-based vs SimPO.")


@dataclass
class LengthControlClaim:
    rdpo_alpha: list = arg([0.05, 0.1, 0.5, 1.0], "R-DPO length coefficients (alpha; 0 is DPO).")
    lmpo_lambda: list = arg([0.2, 0.5, 1.0], "LMPO margin scales (lmpo_lambda; 0 is SimPO).")


@dataclass
class GammaClaim:
    gamma_beta_ratio: list = arg([0.0, 0.25, 0.5, 1.0, 1.5, 2.0], "SimPO target margins, as gamma/beta.")


@dataclass
class AdaptiveMarginClaim:
    methods: list = arg(["simpo", "amapo", "dpo"], "Fixed-margin SimPO, AMaPO, and DPO for reference.")


@dataclass
class LabelNoiseClaim:
    flip_rates: list = arg([0.2, 0.4], "Fractions of training pairs with chosen and rejected swapped.")
    methods: list = arg(["dpo", "dpo-sams", "dpo-random-half"], "DPO, DPO + SamS and DPO on a random half.")


@dataclass
class APOClaim:
    queries: int = arg(100, "Training prompts whose golden answer is compared with 4 SFT-policy samples.")


@dataclass
class ClaimsSpec:
    length: LengthClaim = arg(None, "Claim 1: SimPO vs DPO length exploitation.")
    length_control: LengthControlClaim = arg(None, "Claim 2: R-DPO / LMPO length coefficients.")
    gamma: GammaClaim = arg(None, "Claim 3: SimPO's target margin.")
    adaptive_margin: AdaptiveMarginClaim = arg(None, "Claim 4: AMaPO's adaptive margin vs fixed margins.")
    label_noise: LabelNoiseClaim = arg(None, "Claim 5: SamS under label noise.")
    apo: APOClaim = arg(None, "Claim 6: APO reward model vs base reward model.")


@dataclass
class MechanismSpec:
    seeds: list = arg([0, 1, 2], "Seeds; each has its own SFT model, samples and pairs.")
    task: TaskSpec = arg(None, "The padded addition task.")
    sampling: SamplingSpec = arg(None, "On-policy answer sampling.")
    labeller: LabellerSpec = arg(None, "The length-biased labeller of claims 1-4.")
    evaluation: EvaluationSpec = arg(None, "What every trained policy is measured on.")
    budget: BudgetSpec = arg(None, "Training budgets (null: the tiny configs'); only a quick check changes them.")
    verdict: VerdictSpec = arg(None, "The rules that turn numbers into verdicts.")
    claims: ClaimsSpec = arg(None, "Per-claim settings; a claim left out is not run.")
    sha256: str = arg("", "Hash of the spec file (filled by load_spec; recorded in the results).")


def _build(cls, raw, where: str):
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InputError(f"{where} must be a mapping, got {type(raw).__name__}", where=where)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in raw.items():
        if key not in fields or key == "sha256":
            raise unknown_key_error(key, [k for k in fields if k != "sha256"], where, "key")
        f = fields[key]
        sub = f.type if isinstance(f.type, type) else globals().get(f.type)
        if dataclasses.is_dataclass(sub):
            values[key] = _build(sub, value, f"{where}.{key}")
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if default is None:  # an optional count: null or a positive integer
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise InputError(f"{key} must be null or a positive integer, got {value!r}", where=where,
                                 fix=f"{key}: {f.metadata['help']}")
            values[key] = value
            continue
        if isinstance(default, bool) or not isinstance(value, type(default)) and not (
                isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool)):
            raise InputError(f"{key} must be {type(default).__name__}, got {value!r}", where=where,
                             fix=f"{key}: {f.metadata['help']}")
        values[key] = float(value) if isinstance(default, float) else value
    for name, f in fields.items():  # sections left out take their defaults (claims: left out = not run)
        sub = f.type if isinstance(f.type, type) else globals().get(f.type)
        if name not in values and dataclasses.is_dataclass(sub) and cls is not ClaimsSpec:
            values[name] = sub()
    return cls(**values)


def load_spec(path: Path | str = DEFAULT_SPEC, seeds: list[int] | None = None) -> MechanismSpec:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"spec file {path} does not exist", fix=f"use {DEFAULT_SPEC}")
    text = path.read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise InputError(f"not valid YAML: {e}", where=str(path)) from None
    spec = _build(MechanismSpec, raw, str(path))
    spec.sha256 = hashlib.sha256(text.encode()).hexdigest()[:16]
    if seeds is not None:
        spec.seeds = list(seeds)
    if not spec.seeds or not all(isinstance(s, int) for s in spec.seeds):
        raise InputError(f"seeds must be a non-empty list of integers, got {spec.seeds!r}", where=str(path))
    return spec
