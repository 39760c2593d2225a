"""The loss registry: name -> LossSpec. Loss modules add themselves with `@register(...)`."""

from __future__ import annotations

from collections.abc import Callable

from .base import LossSpec

LOSSES: dict[str, LossSpec] = {}


def register(name: str, *, hparams: type, needs_reference: bool, stateful: bool = False) -> Callable:
    def wrap(fn: Callable) -> Callable:
        if name in LOSSES:
            raise ValueError(f"loss {name!r} registered twice")
        summary = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
        LOSSES[name] = LossSpec(name, fn, hparams, needs_reference, stateful, summary)
        return fn

    return wrap


def get_loss(name: str) -> LossSpec:
    try:
        return LOSSES[name]
    except KeyError:
        raise KeyError(f"unknown loss {name!r}; registered losses: {sorted(LOSSES)}") from None
