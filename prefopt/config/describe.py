"""`--help` of the training scripts: every key with its default, help text and valid values."""

from __future__ import annotations

import dataclasses

from prefopt.config.sample_scheduler import SamSConfig
from prefopt.core.fields import config_fields, field_default, field_help

from .arguments import PreferenceConfig
from .methods import methods


def _lines(cls: type) -> list[str]:
    return [f"  {name} = {field_default(f)!r}: {field_help(f)}" for name, f in config_fields(cls).items()]


def describe(cls_list: list[type]) -> str:
    """Every key of the given groups; for a preference config also every method's and the sample scheduler's."""
    lines = []
    for cls in cls_list:
        lines.append(f"[{cls.__name__}]")
        lines += _lines(cls)
    if any(issubclass(c, PreferenceConfig) for c in cls_list):
        for name, method in sorted(methods().items()):
            lines.append(f"[loss: {name}] {method.summary}")
            lines += [f"  {f.name} = {field_default(f)!r}: {field_help(f)}" for f in dataclasses.fields(method.hparams)]
        lines.append("[sample_scheduler: block] optional sample scheduler (prefopt.training.sams), keys under "
                     "`sample_scheduler:`")
        lines += _lines(SamSConfig)
    return "\n".join(lines)
