"""Config fields: one helper declares a YAML key with its help text, bounds and choices; one place checks them.

    lr: float = arg(1e-4, "Adam learning rate.", gt=0)
    mode: str = arg("select", "select or pretrain.", choices=("select", "pretrain"))

Every config group of the project (model, data and run arguments, a loss's hyperparameters, the sample
scheduler block, rejection sampling) declares its keys this way and is built through `build_checked`, so an
unknown key, a value of the wrong type and a value out of range get the same message everywhere: the key, the
allowed values, and where the config came from. `--help` prints the same metadata (`field_help`).
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import field
from typing import Any

from .errors import InputError

OWN = "prefopt_field"  # marks the fields declared with `arg`: only they are checked (not TrainingArguments')
_BOUND_TESTS = {
    "gt": (lambda v, b: v > b, "> {}"),
    "ge": (lambda v, b: v >= b, ">= {}"),
    "lt": (lambda v, b: v < b, "< {}"),
    "le": (lambda v, b: v <= b, "<= {}"),
    "choices": (lambda v, b: v in b, "one of {}"),
}


def arg(default: Any = dataclasses.MISSING, help: str = "", *, gt=None, ge=None, lt=None, le=None, choices=None,
        **meta) -> Any:
    """A config field with its help text and its valid values as data (bounds gt/ge/lt/le, a tuple of choices).

    A list or dict default becomes a per-instance copy. A None value is always allowed (optional fields);
    the bounds apply to every other value.
    """
    bounds = {k: v for k, v in (("gt", gt), ("ge", ge), ("lt", lt), ("le", le), ("choices", choices))
              if v is not None}
    metadata = {"help": help, OWN: True, **bounds, **meta}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=metadata)
    return field(default=default, metadata=metadata)


def config_fields(cls: type) -> dict[str, dataclasses.Field]:
    """The init fields of a config dataclass, by name."""
    return {f.name: f for f in dataclasses.fields(cls) if f.init}


def field_help(f: dataclasses.Field) -> str:
    """The help text of a field followed by its valid values, as `--help` prints it."""
    meta = f.metadata or {}
    valid = [text.format(meta[k]) if k != "choices" else f"one of {list(meta[k])}"
             for k, (_, text) in _BOUND_TESTS.items() if k in meta]
    return meta.get("help", "") + (f" [{', '.join(valid)}]" if valid else "")


def field_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return "(required)"


def check_bounds(params, prefix: str = "") -> None:
    """ValueError naming the field, the value and its valid values, for the first field out of its bounds.

    Only fields declared with `arg` are checked: a transformers.TrainingArguments field is validated by transformers.
    """
    for f in dataclasses.fields(params):
        value = getattr(params, f.name)
        if value is None or not f.metadata.get(OWN):
            continue
        for key, (ok, _) in _BOUND_TESTS.items():
            if key in f.metadata and not ok(value, f.metadata[key]):
                valid = " and ".join(text.format(f.metadata[k]) if k != "choices" else f"one of {list(f.metadata[k])}"
                                     for k, (_, text) in _BOUND_TESTS.items() if k in f.metadata)
                raise ValueError(f"{prefix}{f.name} must be {valid}, got {value!r}")


def coerce(key: str, value: Any, annotation: Any, source: str) -> Any:
    """Coerce simple scalar types (YAML writes 2e-5 as a string) and reject wrong ones with a clear message."""
    if value is None:
        return value
    union = isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union
    allowed = typing.get_args(annotation) if union else (annotation,)
    scalars = [t for t in allowed if t in (bool, int, float, str)]
    if not scalars or len(scalars) != len([t for t in allowed if t is not type(None)]):
        return value  # an enum, list or dict field: its owner validates it
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


def unknown_key_error(key: str, known, source: str, what: str = "config key") -> InputError:
    """An unknown key, with the nearest valid ones suggested."""
    known = sorted(known)
    close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
    if close:
        hint = f"did you mean {' or '.join(close)}?"
    else:  # a short list is shown; a training config's ~200 keys are for `--help`
        hint = f"accepted keys: {', '.join(known)}" if len(known) <= 40 else "see `--help` for the accepted keys"
    return InputError(f"unknown {what} {key!r}", where=source, fix=hint)


def make_checked(cls: type, values: dict, prefix: str = "", owner: str = ""):
    """`cls(**values)` checked: an unknown key is a TypeError that lists the accepted ones; a value out of its
    bounds or choices, or a broken cross-field rule (`validate()`, when the class has one), a ValueError.
    Values are taken as they are (the functional APIs, e.g. prefopt.losses.compute, call this)."""
    names = list(config_fields(cls))
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise TypeError(f"{owner or cls.__name__} has no key(s) {[prefix + k for k in unknown]}; it takes {names}")
    obj = cls(**values)
    check_bounds(obj, prefix)
    rules = getattr(obj, "validate", None)
    if rules is not None:
        rules()
    return obj


def build_checked(cls: type, values: dict, *, source: str = "<config>", prefix: str = "", what: str = "config key"):
    """`make_checked` for values read from a config file: YAML scalars are coerced to the field types first, and
    every failure is an InputError that names the key (with `prefix`, e.g. "sample_scheduler.") and its valid
    values, with the nearest key suggested for a misspelt one."""
    if not isinstance(values, dict):
        raise InputError(f"{prefix.rstrip('.') or what} must be a mapping of key: value, got {values!r}", where=source)
    known = config_fields(cls)
    hints = typing.get_type_hints(cls)
    typed = {}
    for key, value in values.items():
        if key not in known:
            raise unknown_key_error(prefix + key, [prefix + k for k in known], source, what)
        typed[key] = coerce(prefix + key, value, hints.get(key, Any), source)
    try:
        return make_checked(cls, typed, prefix)
    except (TypeError, ValueError) as e:
        raise InputError(str(e).splitlines()[0], where=source, fix="correct the value named above") from None
