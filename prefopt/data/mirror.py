"""Hub dataset ids resolved to a local rehearsal mirror: PREFOPT_DATASET_MIRROR=<folder> (prefopt.core.rehearsal).

    PREFOPT_DATASET_MIRROR=outputs/rehearsal/datasets make <cell>   # "org/name" loads <folder>/org/name/

Consulted only when the variable is set, and only at the lowest point of a hub load (`files._read_hub`): the id is
swapped for its mirror folder just before `datasets.load_dataset(..., split=...)`, so split selection, the dataset
card's `configs`, file-name split inference, column types and everything above (format detection, pairs,
tokenization) run the real code. A mirror is a folder of `<org>/<name>/` copies laid out like the hub repositories,
with a REHEARSAL.json marker (written by prefopt.toy.rehearsal_data). Each use is logged once per id, and every run
manifest records the mirror (prefopt.core.rehearsal.manifest_record), so a rehearsal result can never pass for a real one.
While the variable is set, an id the mirror lacks is an error: a rehearsal never falls back to the hub.

Local files the configs name by a repository-relative path (APO's data/apo/hh-split/...) are mirrored at the same
relative path under the folder: while the variable is set, such a path loads its copy (`resolve_local_copy`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from prefopt.core.errors import InputError
from prefopt.core.rehearsal import MIRROR_ENV, mirror_root

logger = logging.getLogger("prefopt")
_announced: set[str] = set()


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
                         fix="build the mirror (python -m prefopt.toy.rehearsal_data --out <folder>) or unset the variable")
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


def resolve_local_copy(path: str) -> str:
    """`path` itself, or its copy under the mirror while $PREFOPT_DATASET_MIRROR is set and the mirror holds the
    same relative path (APO's data/apo/hh-split files): a rehearsal never reads the real local data either."""
    root = mirror_root()
    # Files only: a hub id's copy is a folder, loaded through the hub path (resolve_hub_id).
    if root is None or Path(path).is_absolute() or not (root / path).is_file():
        return path
    if path not in _announced:
        _announced.add(path)
        logger.warning("data %s: reading the REHEARSAL copy %s (%s is set)", path, root / path, MIRROR_ENV)
    return str(root / path)
