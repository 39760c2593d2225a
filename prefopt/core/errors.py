"""User-facing errors.

Bad input (a malformed data file, an unknown config key, a missing model) raises `InputError`. Its
message names where the problem is (file, row, field) and how to fix it. Entry points catch it and
print the message alone, without a traceback, unless `--debug` is given (see `prefopt.core.cli`).
"""

from __future__ import annotations


class InputError(Exception):
    """A problem with what the user gave us, reported as one short, actionable message."""

    def __init__(self, what: str, *, where: str | None = None, fix: str | None = None):
        self.what, self.where, self.fix = what, where, fix
        parts = [f"{where}: {what}" if where else what]
        if fix:
            parts.append(f"fix: {fix}")
        super().__init__("\n  ".join(parts))
