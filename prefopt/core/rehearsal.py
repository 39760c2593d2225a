"""Rehearsal mode: a run whose hub datasets are read from local copies in their exact schema.

    PREFOPT_DATASET_MIRROR=<folder>    "org/name" datasets load from <folder>/org/name/ (prefopt.data.mirror)

While it is set, every run manifest records it (`manifest_record`), so a rehearsal result can never pass for a
real one (`make verify` shows such results as rehearsals and never compares them with the papers).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

MIRROR_ENV = "PREFOPT_DATASET_MIRROR"
MARKER = "REHEARSAL.json"  # written by prefopt.toy.rehearsal_data; says what the copies are and how they were built


def mirror_root() -> Path | None:
    """The mirror folder named by $PREFOPT_DATASET_MIRROR, or None when it is unset or empty."""
    value = os.environ.get(MIRROR_ENV, "").strip()
    return Path(value).expanduser() if value else None


def manifest_record() -> dict | None:
    """What a run manifest records while a mirror is set (None otherwise): its folder and the marker's
    fingerprint of the copies."""
    root = mirror_root()
    if root is None:
        return None
    record = {"folder": str(root.resolve()), "rehearsal": True,
              "note": "hub dataset ids were read from local rehearsal copies, not from the real datasets"}
    try:
        meta = json.loads((root / MARKER).read_text(encoding="utf-8"))
        record.update(fingerprint=meta.get("fingerprint"), builder=meta.get("builder"))
    except (OSError, ValueError):
        record["fingerprint"] = None  # no readable marker: still a rehearsal, of unknown provenance
    return record
