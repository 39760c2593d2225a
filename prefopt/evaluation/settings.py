"""Decoding settings of a benchmark run, parsed from the registry's GENERATION string.

    GENERATION='do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'

The papers' eval configs were written for vLLM, where a temperature above 0 samples and 0 is greedy; the same
rule is applied here when `do_sample` is not given, so a config means what it meant to its authors. Every
`make eval-*` target reads GENERATION through this one parser, so a string means the same on every benchmark
(APO's eval-rm-score settings always give do_sample, so HF's and vLLM's readings agree on them).
Named settings: `greedy`, `fastchat-default` (FastChat's MT-Bench answer generation: 1024 new tokens and a
temperature per question category, `FASTCHAT_CATEGORY_TEMPERATURE`), and `zeroeval-default` (ZeroEval's
scripts/_common_eval.sh: temperature 0, top_p 1, repetition penalty 1, 4096 new tokens).
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field

from prefopt.core.errors import InputError

# FastChat llm_judge gen_model_answer's temperature per MT-Bench category (below 1e-4 it decodes greedily).
FASTCHAT_CATEGORY_TEMPERATURE = {
    "writing": 0.7, "roleplay": 0.7, "extraction": 0.0, "math": 0.0, "coding": 0.0, "reasoning": 0.0,
    "stem": 0.1, "humanities": 0.1, "arena-hard-200": 0.0,
}  # fmt: skip


@dataclass(frozen=True)
class GenerationSettings:
    max_new_tokens: int = field(default=1024, metadata={"help": "new tokens per answer"})
    temperature: float = field(default=0.0, metadata={"help": "0 = greedy (vLLM semantics)"})
    do_sample: bool | None = field(default=None, metadata={"help": "None: sample when temperature > 0"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling mass"})
    top_k: int = field(default=0, metadata={"help": "0 = off"})
    repetition_penalty: float = field(default=1.0, metadata={"help": "1.0 = off"})
    stop_token_ids: tuple[int, ...] = field(default=(), metadata={"help": "extra end-of-answer token ids"})
    stop: tuple[str, ...] = field(default=(), metadata={"help": "strings that end an answer (comma-separated)"})
    seed: int = field(default=0, metadata={"help": "sampling seed"})
    num_return_sequences: int = field(default=1, metadata={"help": "answers per prompt (eval-rm-score averages "
                                                                   "their reward scores)"})
    per_category_temperature: bool = field(default=False, metadata={"help": "FastChat's MT-Bench temperatures"})

    @property
    def sampling(self) -> bool:
        return self.temperature > 1e-4 if self.do_sample is None else bool(self.do_sample)

    def for_category(self, category: str | None) -> GenerationSettings:
        """The settings of one question: FastChat's per-category temperature when asked for."""
        if not self.per_category_temperature:
            return self
        t = FASTCHAT_CATEGORY_TEMPERATURE.get(category or "", 0.7)  # FastChat's default for unknown categories
        return dataclasses.replace(self, temperature=t, do_sample=t > 1e-4, per_category_temperature=False)

    def generate_kwargs(self) -> dict:
        """Keyword arguments of prefopt.generate.generate."""
        kw = {"max_new_tokens": self.max_new_tokens, "do_sample": self.sampling, "seed": self.seed,
              "stop": list(self.stop) or None, "extra_eos_ids": list(self.stop_token_ids),
              "repetition_penalty": self.repetition_penalty}
        if self.sampling:
            kw.update(temperature=self.temperature, top_p=self.top_p, top_k=self.top_k)
        return kw

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


NAMED = {
    "greedy": GenerationSettings(),
    "fastchat-default": GenerationSettings(max_new_tokens=1024, per_category_temperature=True),
    "zeroeval-default": GenerationSettings(max_new_tokens=4096),
}
_FIELDS = {f.name: f for f in dataclasses.fields(GenerationSettings)}


def _convert(key: str, raw: str):
    kind = _FIELDS[key].type
    try:
        if kind.startswith("bool"):
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError(raw)
            return raw.lower() in ("true", "1")
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("float"):
            return float(raw)
        if kind.startswith("tuple[int"):
            return tuple(int(x) for x in raw.split(",") if x)
        if kind.startswith("tuple[str"):
            return tuple(x.encode().decode("unicode_escape") for x in raw.split(",") if x)
    except ValueError:
        raise InputError(f"GENERATION: {key}={raw!r} is not a valid {kind}", where="GENERATION",
                         fix=f"{key}: {_FIELDS[key].metadata['help']}") from None
    return raw


def parse_generation(spec: str | None, **overrides) -> GenerationSettings:
    """`spec`: a named setting, or space-separated key=value pairs (a named setting may come first)."""
    words = (spec or "").split()
    base = GenerationSettings()
    if words and "=" not in words[0]:
        name = words.pop(0)
        if name not in NAMED:
            raise InputError(f"GENERATION: unknown named setting {name!r}", where="GENERATION",
                             fix=f"use one of {sorted(NAMED)} or key=value pairs")
        base = NAMED[name]
    values = {}
    for w in words:
        key, eq, raw = w.partition("=")
        if not eq or key not in _FIELDS:
            close = difflib.get_close_matches(key, _FIELDS, n=1)
            raise InputError(f"GENERATION: cannot read {w!r}", where="GENERATION",
                             fix=(f"did you mean {close[0]}? " if close else "")
                             + "write key=value pairs; keys: " + ", ".join(_FIELDS))
        values[key] = _convert(key, raw)
    values.update({k: v for k, v in overrides.items() if v is not None})
    out = dataclasses.replace(base, **values)
    for key in ("max_new_tokens", "num_return_sequences"):
        if getattr(out, key) < 1:
            raise InputError(f"GENERATION: {key} must be >= 1, got {getattr(out, key)}", where="GENERATION")
    return out


def with_max_new_tokens(spec: str | None, max_new_tokens: int | None) -> str | None:
    """`spec` with its answer length replaced by `max_new_tokens` (MAX_NEW_TOKENS=, e.g. a CPU rehearsal's cap),
    written into the string so the result's manifest records the length that was used."""
    if max_new_tokens is None:
        return spec
    return f"{spec or ''} max_new_tokens={int(max_new_tokens)}".strip()
