"""A YAML file plus `--key=value` overrides -> checked argument groups, before any data or model is touched.

    model, data, train = parse_config(["training_configs/tiny/simpo.yaml", "--beta=2.5"], PreferenceConfig)

Every group goes through `prefopt.core.fields.build_checked` (unknown keys, types, bounds, choices, each
group's own rules), then the rules across groups run (`check_across_groups`). So every mistake in a config is
an InputError (exit 2 from the scripts) that names the key and its valid values, raised at parse time: on a
cluster, before the job has waited in a queue and tokenized a data set.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import yaml

from prefopt.config.sample_scheduler import make_config
from prefopt.core.errors import InputError
from prefopt.core.fields import build_checked, config_fields, unknown_key_error
from prefopt.core.plugins import get_task

from .arguments import DataArguments, ModelArguments, PreferenceConfig, SFTConfig
from .methods import Method, methods
from .selection import check_selection
from .stopping import check_stopping

logger = logging.getLogger("prefopt")

# old key -> new key: still read, with a warning naming the new one
DEPRECATED_KEYS = {"scheduler": "sample_scheduler"}


def _parse_override(text: str) -> tuple[str, Any]:
    if not text.startswith("--") or "=" not in text:
        raise InputError(f"cannot parse argument {text!r}", fix="overrides are written --key=value")
    key, value = text[2:].split("=", 1)
    parsed = yaml.safe_load(value) if value != "" else None
    if isinstance(parsed, bool) and value.strip().lower() not in ("true", "false"):
        parsed = value  # YAML 1.1 reads no/yes/on/off as booleans: `--eval_strategy=no` means the word
    return key.replace("-", "_"), parsed


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


def rename_deprecated(raw: dict, source: str) -> dict:
    """Old key names -> new ones, with a warning; both given is an error."""
    raw = dict(raw)
    for old, new in DEPRECATED_KEYS.items():
        if old in raw:
            if new in raw:
                raise InputError(f"both {old!r} and {new!r} are set", where=source, fix=f"keep {new!r} only")
            logger.warning("%s: the key %r is deprecated; call it %r", source, old, new)
            raw[new] = raw.pop(old)
    return raw


def _method_of(raw: dict, source: str) -> Method:
    table = methods()
    name = raw.get("loss", "dpo")
    if name not in table:
        raise InputError(f"unknown loss {name!r}", where=source, fix=f"use one of: {', '.join(sorted(table))}")
    if "loss_hparams" in raw:
        raise InputError("loss_hparams is filled by the parser", where=source, fix="write the loss's keys at top level")
    return table[name]


def build_config(raw: dict, source: str, train_cls: type = PreferenceConfig):
    """Split the flat keys into their groups, build and check every group, then the rules across groups."""
    raw = rename_deprecated(raw, source)
    groups = [ModelArguments, DataArguments, train_cls]
    known = {cls: config_fields(cls) for cls in groups}
    method = _method_of(raw, source) if issubclass(train_cls, PreferenceConfig) else None
    method_keys = set(method.hparam_names()) if method else set()
    other_methods = ({k: n for n, m in methods().items() for k in m.hparam_names() if n != method.name}
                     if method else {})

    values: dict[type, dict] = {cls: {} for cls in groups}
    method_values: dict = {}
    for key, value in raw.items():
        if key in method_keys:
            method_values[key] = value
            continue
        owner = next((c for c in groups if key in known[c]), None)
        if owner is None and key in other_methods:
            raise InputError(
                f"{key!r} is a hyperparameter of loss {other_methods[key]!r}, not of {method.name!r}", where=source,
                fix=f"remove it, or set loss: {other_methods[key]}; this loss takes {sorted(method_keys)}",
            )
        if owner is None:
            raise unknown_key_error(key, method_keys.union(*(known[c] for c in groups)), source)
        values[owner][key] = value

    if method is not None:
        params = build_checked(method.hparams, method_values, source=source)
        values[train_cls]["loss_hparams"] = {k: getattr(params, k) for k in method_values}
    model = build_checked(ModelArguments, values[ModelArguments], source=source)
    data = build_checked(DataArguments, values[DataArguments], source=source)
    train = build_checked(train_cls, values[train_cls], source=source)
    check_across_groups(model, data, train, method, source)
    return model, data, train


def check_across_groups(model, data, train, method: Method | None, source: str) -> None:
    """The rules that involve more than one group (each group's own rules ran when it was built)."""
    if model.model_name_or_path is None:
        raise InputError("model_name_or_path is not set", where=source, fix="set it in the YAML or with --model_name_or_path=...")
    if data.dataset is None:
        raise InputError("dataset is not set", where=source, fix="set it in the YAML or with --dataset=...")
    if train.task_eval:
        splits = sorted(get_task(train.task_eval).splits())
        if train.task_eval_split not in splits:
            raise InputError(f"task_eval_split must be one of {splits} for task {train.task_eval!r}, got "
                             f"{train.task_eval_split!r}", where=source, fix="pick one of the task's splits")
    check_stopping(train, data, source)
    if isinstance(train, SFTConfig) and train.sample_scheduler:
        check_sft_scheduler(make_config(train.sample_scheduler, source), source)
    if method is None:
        return
    check_selection(data, train, method, source)
    scheduler = train.sample_scheduler
    if scheduler:
        if not method.takes_sample_scheduler:
            raise InputError(f"loss {method.name!r} has its own trainer, which takes no sample scheduler", where=source,
                             fix="remove the sample_scheduler block, or use a pairwise loss (for KTO: loss kto_pair)")
        if make_config(scheduler, source).mode == "sft":
            raise InputError("sample_scheduler.mode sft belongs to an SFT config (scripts/run_sft.py)", where=source,
                             fix="use mode: pretrain (policy frozen) or select here")
    if train.batch_layout == "shared_prefix":
        if scheduler:
            raise InputError("batch_layout shared_prefix cannot feed a sample scheduler (it needs per-sequence "
                             "hidden states)", where=source, fix="use batch_layout: pairs with a sample_scheduler block")
        if model.attn_implementation in ("flash_attention_2", "flash_attention_3"):
            raise InputError(f"batch_layout shared_prefix needs an attention mask per pair, which "
                             f"{model.attn_implementation} does not take", where=source,
                             fix="set attn_implementation: sdpa (or eager), or batch_layout: pairs")


def check_sft_scheduler(cfg, source: str) -> None:
    """An SFT run's scheduler only learns (SamS App. F.3): the bandit, mode sft, rewards from the SFT loss."""
    wrong = {key: want for key, want in (("name", "sams"), ("mode", "sft"), ("reward_loss", "sft"))
             if getattr(cfg, key) != want}
    if wrong:
        key, want = next(iter(wrong.items()))
        raise InputError(f"sample_scheduler.{key} must be {want!r} in an SFT config, got {getattr(cfg, key)!r}",
                         where=source, fix=f"set sample_scheduler.{key}: {want} (the scheduler learns during SFT, "
                                            "every sample is trained on, the rewards come from the SFT loss)")


def explicit_values(model, data, train) -> dict:
    """The values that define a run (for the manifest and its hash): every field of the three groups."""
    out = {}
    for obj in (model, data, train):
        for name in config_fields(type(obj)):
            v = getattr(obj, name)
            out[name] = v if isinstance(v, (str, int, float, bool, type(None), list, dict)) else str(v)
    return out


def config_hash(values: dict, ignore: tuple[str, ...] = ("output_dir", "logging_dir", "resume", "description")) -> str:
    """A stable hash of what determines the run's result (paths and notes excluded)."""
    payload = {k: v for k, v in sorted(values.items()) if k not in ignore}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]
