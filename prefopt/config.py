"""Configuration: one dataclass field (with help text) per YAML key; a YAML file plus `--key=value` overrides.

    model, data, train = parse_config(["training_configs/tiny/simpo.yaml", "--beta=2.5"], PreferenceConfig)

Keys are flat, handbook style. Each key belongs to exactly one of: `ModelArguments`, `DataArguments`,
the training config (a `transformers.TrainingArguments` subclass), or the hyperparameters of the loss that
`loss:` names (its dataclass in `prefopt.losses`). A key that belongs to none is an error that suggests the
nearest valid key; a value of the wrong type is an error that names the key and the expected type.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from transformers import TrainingArguments

from .errors import InputError


def arg(default: Any = dataclasses.MISSING, help: str = "", **kw) -> Any:
    """A config field with its help text."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata={"help": help, **kw})
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class ModelArguments:
    model_name_or_path: str = arg(
        None, "Hub id or local folder of the policy (the SFT model). `tiny:<size>/<task>` builds an offline tiny model."
    )
    tokenizer_name_or_path: str | None = arg(None, "Tokenizer to load; defaults to model_name_or_path.")
    reference_model_name_or_path: str | None = arg(
        None, "Frozen reference for losses that need one; defaults to the policy's starting weights."
    )
    model_revision: str = arg("main", "Hub revision (branch, tag or commit) of the model.")
    torch_dtype: str = arg("float32", "Weights dtype: float32, bfloat16, float16 or auto.")
    attn_implementation: str | None = arg(None, "eager, sdpa or flash_attention_2 (GPU only); None = library default.")
    trust_remote_code: bool = arg(False, "Run model code from the hub repo. Off unless a config opts in (logged).")
    chat_template: str | None = arg(None, "A Jinja chat template that replaces the tokenizer's own.")


@dataclass
class DataArguments:
    dataset: str = arg(None, "Hub id, or a local json/jsonl/parquet file or folder of preference (or SFT) data.")
    train_split: str = arg("train", "Split used for training.")
    eval_split: str | None = arg("test", "Split used for evaluation; null disables evaluation.")
    eval_dataset: str | None = arg(None, "Separate source for the eval split; defaults to `dataset`.")
    max_train_samples: int | None = arg(None, "Use only the first N training rows (debugging, tiny runs).")
    max_eval_samples: int | None = arg(None, "Use only the first N evaluation rows.")
    max_length: int = arg(1024, "Maximum prompt + response length in tokens.")
    max_prompt_length: int = arg(512, "Prompt budget when a pair must be truncated.")
    truncation_mode: str = arg("keep_end", "Which end of an over-long prompt to keep: keep_end or keep_start.")
    role_header_in_response: bool = arg(
        False,
        "Count the assistant role header as response tokens (SimPO's code does: it changes length normalisation).",
    )
    bad_rows: str = arg(
        "error",
        "Rows with an empty response or identical chosen/rejected: 'error' stops with file, row and field; "
        "'drop' drops them, counts them by reason in the log and the run manifest (real data sets have a few).",
    )


@dataclass
class RunArguments:
    """Fields shared by every prefopt training config, on top of transformers.TrainingArguments."""

    description: str | None = arg(None, "Free text: what this config reproduces (paper, table, cell).")
    hparams_source: str | None = arg(None, "Where the hyperparameters come from (paper table, repo config, grid choice).")
    resume: str = arg("auto", "auto: resume from the last checkpoint in output_dir if any; never; or a checkpoint path.")
    disable_dropout: bool = arg(True, "Set every dropout probability to 0 (policy and reference), as SimPO and TRL do.")
    task_eval: str | None = arg(None, "A verifiable task (e.g. `addition`) whose judge accuracy is logged during training.")
    task_eval_split: str = arg("val", "Which split of task_eval's prompts to judge during training.")
    task_eval_steps: int = arg(0, "Judge task_eval every N optimizer steps (0 = only at start and end).")


@dataclass
class PreferenceConfig(RunArguments, TrainingArguments):
    """Training config of every pairwise method (`scripts/run_po.py`)."""

    loss: str = arg("dpo", "Registered loss name (prefopt.losses.LOSSES), or a method with its own trainer "
                           "(prefopt.kto.EXTERNAL_TRAINERS: kto). Its hyperparameters are top-level keys too.")
    loss_hparams: dict = arg({}, "Filled from the loss's top-level keys by the parser; not set directly.")
    reference_cache: str = arg(
        "auto", "Reference log-probs: auto (on-disk cache, computed once), off (recompute each run in memory)."
    )
    reference_cache_dir: str | None = arg(None, "Where reference log-prob caches live; default <repo>/.cache/refcache.")
    batch_layout: str = arg(
        "pairs", "pairs: chosen and rejected as separate padded rows (2B, T); shared_prefix: one packed "
        "[prompt | chosen | rejected] row per pair, the prompt computed once: the same log-probs, fewer tokens "
        "(eager or sdpa attention; not with a scheduler, which needs per-sequence hidden states). bench/: ~1.2x.",
        choices=("pairs", "shared_prefix"))
    logp_chunk_size: int = arg(0, "logprob_impl full only: compute log-softmax normalisers over row chunks of this "
                                  "size (0 = one shot).", ge=0)
    logprob_impl: str = arg(
        "chunked", "How response log-probs are computed (policy and reference pass; prefopt.fused_logprobs). full: "
        "the model's own forward, (N, T, V) logits; chunked: the base model's hidden states, then the LM head, "
        "float32 logsumexp and gather over RESPONSE positions only, in chunks, recomputed in backward: the same "
        "numbers to float rounding, peak extra memory O(logprob_chunk_tokens x V). Soft-capping (Gemma-2), tied or "
        "untied heads, head bias and ZeRO-3 are handled; a model whose forward does more after its head is "
        "refused on its first batch. bench/vocab_preliminary.md: 3-6x the pairs/s of TRL at V >= 32k, 0.2x its "
        "memory; equal or faster than full at 2-4k.",
        choices=("full", "chunked"))
    logprob_chunk_tokens: int = arg(
        256, "logprob_impl chunked: response positions per chunk; the chunk's float32 logits (chunk x V x 4 bytes: "
        "128 MB at 256 x 128k) are the path's peak extra memory. bench/logprob_kernels.md: 256 is the fastest "
        "size or within 3% of it at V = 32k, 128k and 256k.", ge=1)
    scheduler: dict = arg({}, "Optional sample scheduler block (prefopt.sams.SamSConfig: name, select_ratio, ...): "
                              "chooses which pairs of each micro-batch get gradients; {} = every pair (plain training).")


@dataclass
class SFTConfig(RunArguments, TrainingArguments):
    """Training config of supervised fine-tuning (`scripts/run_sft.py`)."""


def _methods() -> dict:
    """Every name `loss:` accepts: the pairwise losses plus methods with their own trainer (KTO), one namespace."""
    from .kto import training_methods  # noqa: PLC0415

    return training_methods()


def _help(f: dataclasses.Field) -> str:
    meta = f.metadata or {}
    bounds = [f"{sym} {meta[k]}" for k, sym in (("gt", ">"), ("ge", ">="), ("lt", "<")) if k in meta]
    if "choices" in meta:
        bounds.append(f"one of {list(meta['choices'])}")
    return meta.get("help", "") + (f" [{', '.join(bounds)}]" if bounds else "")


def config_fields(cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls) if f.init}


def _type_check(key: str, value: Any, annotation: Any, source: str) -> Any:
    """Coerce simple scalar types (YAML writes 2e-5 as a string) and reject wrong ones with a clear message."""
    if value is None:
        return value
    allowed = typing.get_args(annotation) if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union else (annotation,)
    scalars = [t for t in allowed if t in (bool, int, float, str)]
    if not scalars or len(scalars) != len([t for t in allowed if t is not type(None)]):
        return value  # an enum, list or dict field: transformers validates it
    for t in scalars:
        if t is bool and isinstance(value, bool):
            return value
        if t is bool and isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if t is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if t is int and isinstance(value, float) and value.is_integer() and float not in scalars:
            return int(value)
        if t is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if t is str and isinstance(value, str):
            return value
    for t in scalars:  # strings that spell a number ("2e-5")
        if t in (int, float) and isinstance(value, str):
            try:
                return t(value)
            except ValueError:
                pass
    names = " or ".join(t.__name__ for t in scalars)
    raise InputError(f"key {key!r} must be {names}, got {value!r}", where=source, fix=f"set {key} to a value of type {names}")


def _parse_override(text: str) -> tuple[str, Any]:
    if not text.startswith("--") or "=" not in text:
        raise InputError(f"cannot parse argument {text!r}", fix="overrides are written --key=value")
    key, value = text[2:].split("=", 1)
    return key.replace("-", "_"), yaml.safe_load(value) if value != "" else None


def load_raw(argv: list[str]) -> tuple[dict, str]:
    """Read the YAML file (first argument) and apply `--key=value` overrides. Returns (values, source name)."""
    if not argv or argv[0].startswith("--"):
        raise InputError("no config file given", fix="usage: <script> training_configs/<cell>.yaml [--key=value ...]")
    path = Path(argv[0])
    if not path.is_file():
        raise InputError(f"config file {path} does not exist", fix="pass a YAML file from training_configs/")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise InputError(f"not valid YAML: {e}", where=str(path), fix="check the file's syntax") from None
    if not isinstance(raw, dict):
        raise InputError("the config must be a mapping of key: value", where=str(path))
    for text in argv[1:]:
        key, value = _parse_override(text)
        raw[key] = value
    return raw, str(path)


def parse_config(argv: list[str], train_cls: type = PreferenceConfig):
    """Parse a config file plus overrides into (ModelArguments, DataArguments, train_cls instance)."""
    raw, source = load_raw(argv)
    return build_config(raw, source, train_cls)


def config_class(raw: dict) -> type:
    """Which entry point a YAML belongs to, from its keys: `task_type` -> scripts/run_rm.py (RewardConfig),
    `loss` -> scripts/run_po.py (PreferenceConfig), neither -> scripts/run_sft.py (SFTConfig)."""
    if "task_type" in raw:
        from .reward.train import RewardConfig  # noqa: PLC0415 (imports transformers)

        return RewardConfig
    return PreferenceConfig if "loss" in raw else SFTConfig


def build_config(raw: dict, source: str, train_cls: type = PreferenceConfig):
    raw = dict(raw)
    groups = [ModelArguments, DataArguments, train_cls]
    known = {cls: config_fields(cls) for cls in groups}
    loss_fields: dict[str, dataclasses.Field] = {}
    other_losses: dict[str, str] = {}
    if train_cls is PreferenceConfig or issubclass(train_cls, PreferenceConfig):
        LOSSES = _methods()  # the loss registry imports torch: not at module import

        name = raw.get("loss", "dpo")
        if name not in LOSSES:
            raise InputError(
                f"unknown loss {name!r}", where=source, fix=f"use one of: {', '.join(sorted(LOSSES))}"
            )
        loss_fields = config_fields(LOSSES[name].hparams)
        loss_types = typing.get_type_hints(LOSSES[name].hparams)
        other_losses = {k: n for n, spec in LOSSES.items() for k in spec.hparam_names() if n != name}
        if "loss_hparams" in raw:
            raise InputError("loss_hparams is filled by the parser", where=source, fix="write the loss's keys at top level")

    values: dict[type, dict] = {cls: {} for cls in groups}
    loss_values: dict = {}
    all_names = set(loss_fields).union(*(known[c] for c in groups))
    for key, value in raw.items():
        if key in loss_fields:
            loss_values[key] = _type_check(key, value, loss_types[key], source)
            continue
        owner = next((c for c in groups if key in known[c]), None)
        if owner is None and key in other_losses:
            raise InputError(
                f"{key!r} is a hyperparameter of loss {other_losses[key]!r}, not of {raw.get('loss', 'dpo')!r}",
                where=source,
                fix=f"remove it, or set loss: {other_losses[key]}; this loss takes {sorted(loss_fields)}",
            )
        if owner is None:
            close = difflib.get_close_matches(key, all_names, n=3, cutoff=0.6)
            hint = f"did you mean {' or '.join(close)}?" if close else "see `--help` for the accepted keys"
            raise InputError(f"unknown config key {key!r}", where=source, fix=hint)
        hints = typing.get_type_hints(owner)
        values[owner][key] = _type_check(key, value, hints.get(key, Any), source)

    if loss_fields:
        LOSSES = _methods()

        try:
            LOSSES[raw.get("loss", "dpo")].make_hparams(loss_values)
        except (TypeError, ValueError) as e:
            raise InputError(str(e), where=source, fix="correct the loss hyperparameter") from None
        values[train_cls]["loss_hparams"] = loss_values
    if values[train_cls].get("scheduler"):
        from .sams.config import make_config  # noqa: PLC0415

        try:
            make_config(values[train_cls]["scheduler"], source)
        except (TypeError, ValueError) as e:
            raise InputError(str(e), where=source, fix="correct the scheduler block (see `--help`)") from None
    try:
        model = ModelArguments(**values[ModelArguments])
        data = DataArguments(**values[DataArguments])
        train = train_cls(**values[train_cls])
        if loss_fields:  # the bounds and choices our own keys declare (TrainingArguments checks its own)
            from .losses.base import check_bounds  # noqa: PLC0415

            check_bounds(train, names=set(config_fields(train_cls)) - set(config_fields(TrainingArguments)))
    except (TypeError, ValueError) as e:
        raise InputError(str(e).splitlines()[0], where=source, fix="correct the value named above") from None
    if model.model_name_or_path is None:
        raise InputError("model_name_or_path is not set", where=source, fix="set it in the YAML or with --model_name_or_path=...")
    if data.dataset is None:
        raise InputError("dataset is not set", where=source, fix="set it in the YAML or with --dataset=...")
    if data.truncation_mode not in ("keep_end", "keep_start"):
        raise InputError(f"truncation_mode must be keep_end or keep_start, got {data.truncation_mode!r}", where=source)
    return model, data, train


def explicit_values(model, data, train) -> dict:
    """The values that define a run (for the manifest and its hash): every field of the three groups."""
    out = {}
    for obj in (model, data, train):
        for f in dataclasses.fields(obj):
            if f.init:
                v = getattr(obj, f.name)
                out[f.name] = v if isinstance(v, (str, int, float, bool, type(None), list, dict)) else str(v)
    return out


def config_hash(values: dict, ignore: tuple[str, ...] = ("output_dir", "logging_dir", "resume", "description")) -> str:
    """A stable hash of what determines the run's result (paths and notes excluded)."""
    payload = {k: v for k, v in sorted(values.items()) if k not in ignore}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def describe(cls_list: list[type]) -> str:
    """Every key with its default and help text: what `--help` prints."""
    lines = []
    for cls in cls_list:
        lines.append(f"[{cls.__name__}]")
        for name, f in config_fields(cls).items():
            if f.default is not dataclasses.MISSING:
                default = f.default
            elif f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            else:
                default = "(required)"
            lines.append(f"  {name} = {default!r}: {_help(f)}")
    if any(issubclass(c, PreferenceConfig) for c in cls_list):
        LOSSES = _methods()

        for name, spec in sorted(LOSSES.items()):
            lines.append(f"[loss: {name}] {spec.summary}")
            lines += [f"  {f.name} = {f.default!r}: {_help(f)}" for f in dataclasses.fields(spec.hparams)]
        from .sams.config import SamSConfig  # noqa: PLC0415

        lines.append("[scheduler: block] optional sample scheduler (prefopt.sams), keys under `scheduler:`")
        lines += [f"  {f.name} = {f.default!r}: {_help(f)}" for f in dataclasses.fields(SamSConfig)]
    return "\n".join(lines)
