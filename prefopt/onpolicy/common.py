"""Small helpers shared by the on-policy steps: JSON-lines output, sidecar manifests, row checks."""

from __future__ import annotations

import json
import os
from pathlib import Path

from prefopt.core.errors import InputError
from prefopt.data.files import read_file


def sidecar(path: str | os.PathLike) -> Path:
    """The manifest written beside a step's output file: `<file>.manifest.json`."""
    path = Path(path)
    return path.with_name(path.name + ".manifest.json")


def read_sidecar(path: str | os.PathLike) -> dict | None:
    side = sidecar(path)
    if not side.is_file():
        return None
    try:
        return json.loads(side.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(f"invalid JSON ({e.msg})", where=str(side), fix="delete it and run the step again") from None


def write_jsonl(path: str | os.PathLike, rows) -> None:
    """Write rows as JSON lines atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def read_rows(path: str | os.PathLike, step: str) -> list[dict]:
    """Rows of a step's input file (.jsonl/.json, what prefopt.data reads), InputError if missing or empty."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", where=str(path), fix=f"run the step before {step} first, or check the path")
    rows = read_file(path)
    if not rows:
        raise InputError("the file has no rows", where=str(path), fix=f"run the step before {step} again")
    return rows


def field(row: dict, name: str, kind: type | tuple, where: str, fix: str):
    """row[name], checked to be of `kind`; InputError naming the row and field otherwise."""
    if name not in row:
        have = ", ".join(sorted(map(str, row))[:12]) or "none"
        raise InputError(f"missing field {name!r} (the row has: {have})", where=where, fix=fix)
    value = row[name]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        want = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise InputError(f"field {name!r} is a {type(value).__name__}, not a {want}", where=where, fix=fix)
    return value


def string_list(row: dict, name: str, where: str, fix: str, *, min_len: int = 1) -> list[str]:
    """row[name] as a list of non-empty strings."""
    values = field(row, name, list, where, fix)
    if len(values) < min_len:
        raise InputError(f"field {name!r} has {len(values)} entries, needs at least {min_len}", where=where, fix=fix)
    for k, v in enumerate(values):
        if not isinstance(v, str):
            raise InputError(f"field {name!r}[{k}] is a {type(v).__name__}, not a string", where=where, fix=fix)
        if not v.strip():
            raise InputError(f"field {name!r}[{k}] is an empty response", where=where, fix=fix)
    return values
