"""Hub dataset ids resolved to a local rehearsal mirror (issue 16): PREFOPT_DATASET_MIRROR=<folder>.

    PREFOPT_DATASET_MIRROR=outputs/rehearsal/datasets make <cell>   # "org/name" loads <folder>/org/name/

Consulted only when the variable is set, and only at the lowest point of a hub load (`files._read_hub`): the id is
swapped for its mirror folder just before `datasets.load_dataset(..., split=...)`, so split selection, the dataset
card's `configs`, file-name split inference, column types and everything above (format detection, pairs,
tokenization) run the real code. A mirror is a folder of `<org>/<name>/` copies laid out like the hub repositories,
with a REHEARSAL.json marker (written by prefopt.rehearsal_data). Each use is logged once per id, and every run
manifest records the mirror (`manifest_record`), so a rehearsal result can never pass for a real one.
While the variable is set, an id the mirror lacks is an error: a rehearsal never falls back to the hub.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from ..errors import InputError

logger = logging.getLogger("prefopt")
MIRROR_ENV = "PREFOPT_DATASET_MIRROR"
MARKER = "REHEARSAL.json"  # written by prefopt.rehearsal_data; says what the copies are and how they were built
_announced: set[str] = set()


def mirror_root() -> Path | None:
    """The mirror folder named by $PREFOPT_DATASET_MIRROR, or None when it is unset or empty."""
    value = os.environ.get(MIRROR_ENV, "").strip()
    return Path(value).expanduser() if value else None


def mirrored_ids(root: Path) -> list[str]:
    """The `org/name` ids the mirror folder holds (each copy has its dataset card, README.md)."""
    return sorted(f"{org.name}/{d.name}" for org in root.iterdir() if org.is_dir() for d in org.iterdir()
                  if (d / "README.md").is_file())


def resolve_hub_id(source: str) -> str:
    """`source` itself, or the path of its mirror copy while $PREFOPT_DATASET_MIRROR is set."""
    root = mirror_root()
    if root is None:
        return source
    if not root.is_dir():
        raise InputError(f"{MIRROR_ENV} names {root}, which is not a folder", where=MIRROR_ENV,
                         fix="build the mirror (python -m prefopt.rehearsal_data --out <folder>) or unset the variable")
    folder = root / source
    if not folder.is_dir():
        have = ", ".join(mirrored_ids(root)) or "none"
        raise InputError(f"dataset {source!r} has no copy in the dataset mirror {root} (it has: {have})",
                         where=MIRROR_ENV, fix="add the dataset to prefopt.rehearsal_data and rebuild, or unset "
                         f"{MIRROR_ENV} to load the real dataset")
    if source not in _announced:
        _announced.add(source)
        logger.warning("dataset %s: reading the REHEARSAL copy %s (%s is set), not the hub dataset",
                       source, folder, MIRROR_ENV)
    return str(folder)


def manifest_record() -> dict | None:
    """What a run manifest records while a mirror is set (None otherwise): its folder and the marker's
    fingerprint of the copies."""
    root = mirror_root()
    if root is None:
        return None
    record = {"folder": str(root.resolve()), "rehearsal": True,
              "note": "hub dataset ids were read from local rehearsal copies, not from the real datasets"}
    marker = root / MARKER
    try:
        meta = json.loads(marker.read_text(encoding="utf-8"))
        record.update(fingerprint=meta.get("fingerprint"), builder=meta.get("builder"))
    except (OSError, ValueError):
        record["fingerprint"] = None  # no readable marker: still a rehearsal, of unknown provenance
    return record
