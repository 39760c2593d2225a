"""The string tables through which the library reaches code that lives in a lower layer (prefopt.toy).

A generic module never imports the embedded task or the tiny-model builder: it looks a name up here and
imports the "module:attribute" string on first use. So the import graph stays layered, and a new task or
model scheme is one table row.
"""

from __future__ import annotations

import importlib

from .errors import InputError

# model names `<scheme>:<rest>` -> a function rest -> local folder (prefopt.modeling.loading.resolve)
MODEL_SCHEMES = {"tiny": "prefopt.toy.tiny:resolve_name"}
# hub model id -> its offline miniature's folder, while rehearsing (prefopt.core.rehearsal.swap_model)
MINIATURE_BUILDER = "prefopt.toy.miniatures:build_miniature"
# verifiable tasks (task_eval, the rule judges of on-policy annotation) -> their class
TASKS = {"addition": "prefopt.toy.addition:AdditionTask"}


def load_object(spec: str):
    """The object named by "package.module:attribute"."""
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def get_task(name: str, **kwargs):
    """An instance of the verifiable task `name` (TASKS)."""
    if name not in TASKS:
        raise InputError(f"unknown task {name!r}", fix=f"use one of: {', '.join(sorted(TASKS))}")
    return load_object(TASKS[name])(**kwargs)


def model_scheme(name: str) -> tuple[str, str] | None:
    """(scheme, rest) when `name` is written `<scheme>:<rest>` with a known scheme, else None."""
    scheme, sep, rest = name.partition(":")
    return (scheme, rest) if sep and scheme in MODEL_SCHEMES else None


def resolve_model_name(name: str) -> str:
    """A scheme name (`tiny:1m/addition`) -> the local folder its builder makes or reuses; others unchanged."""
    found = model_scheme(name)
    if found is None:
        return name
    scheme, rest = found
    return str(load_object(MODEL_SCHEMES[scheme])(rest))
