"""Rehearsal mode: a run whose hub datasets and hub models are local stand-ins, so a cell's own path runs on CPU.

    PREFOPT_DATASET_MIRROR=<folder>      "org/name" datasets load from <folder>/org/name/ (prefopt.data.mirror)
    PREFOPT_MODEL_MINIATURES=<folder>    "org/name" models (policy, reference, tokenizer, reward model, judge)
                                         load their offline miniature, built and cached under <folder>

Both swaps happen at the lowest point of loading (prefopt.data.files / prefopt.modeling.loading.resolve), so
everything above them runs the real code. While either is set, every run manifest records it
(`manifest_record`), and so does every result of a model a rehearsal trained (`lineage`): `make verify` shows
such results as rehearsals and never compares them with the papers (`is_rehearsal`). A hub id without a stand-in
is an error while rehearsing: a rehearsal never falls back to the hub.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

from .errors import InputError
from .plugins import MINIATURE_BUILDER, load_object

logger = logging.getLogger("prefopt")
MIRROR_ENV = "PREFOPT_DATASET_MIRROR"
MODELS_ENV = "PREFOPT_MODEL_MINIATURES"
MARKER = "REHEARSAL.json"  # written by prefopt.toy.rehearsal_data; says what the copies are and how they were built
# The manifest keys a rehearsal writes; a result whose manifest has one of them is a rehearsal result.
RECORD_KEYS = ("dataset_mirror", "model_miniatures")
# A hub model id as `from_pretrained` reads it: exactly one slash, no path prefix.
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_announced: set[str] = set()


def _env_folder(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def mirror_root() -> Path | None:
    """The mirror folder named by $PREFOPT_DATASET_MIRROR, or None when it is unset or empty."""
    return _env_folder(MIRROR_ENV)


def miniatures_root() -> Path | None:
    """The miniature cache named by $PREFOPT_MODEL_MINIATURES, or None when it is unset or empty."""
    return _env_folder(MODELS_ENV)


def swap_model(name: str) -> str:
    """`name` itself, or, while $PREFOPT_MODEL_MINIATURES is set and `name` is a hub id (not a local folder), the
    folder of its miniature. A hub id without a miniature is an InputError."""
    root = miniatures_root()
    if root is None or not HUB_ID.match(name) or os.path.exists(name):
        return name
    try:
        folder = str(load_object(MINIATURE_BUILDER)(name, cache_dir=root))
    except InputError as e:
        raise InputError(f"model {name!r} has no miniature while {MODELS_ENV} is set ({e.what})", where=MODELS_ENV,
                         fix=f"{e.fix}; or unset {MODELS_ENV} to load the real model") from None
    if name not in _announced:
        _announced.add(name)
        logger.warning("model %s: loading its REHEARSAL miniature %s (%s is set), not the hub model",
                       name, folder, MODELS_ENV)
    return folder


def _mirror_record(root: Path) -> dict:
    record = {"folder": str(root.resolve()), "rehearsal": True,
              "note": "hub dataset ids were read from local rehearsal copies, not from the real datasets"}
    try:
        meta = json.loads((root / MARKER).read_text(encoding="utf-8"))
        record.update(fingerprint=meta.get("fingerprint"), builder=meta.get("builder"))
    except (OSError, ValueError):
        record["fingerprint"] = None  # no readable marker: still a rehearsal, of unknown provenance
    return record


def manifest_record() -> dict:
    """The manifest fields of a rehearsal ({} outside one): `dataset_mirror` (its folder and the marker's
    fingerprint of the copies) and `model_miniatures` (the miniature cache)."""
    out = {}
    root = mirror_root()
    if root is not None:
        out["dataset_mirror"] = _mirror_record(root)
    models = miniatures_root()
    if models is not None:
        out["model_miniatures"] = {"folder": str(models.resolve()), "rehearsal": True,
                                   "note": "hub model ids were loaded as random-init miniatures, not the real models"}
    return out


def is_rehearsal(manifest: dict) -> bool:
    """Whether a run or result manifest comes from a rehearsal (its own or its model's)."""
    return any(isinstance(manifest.get(k), dict) for k in (*RECORD_KEYS, "model_lineage"))


def lineage(model: str) -> dict:
    """{"model_lineage": ...} when `model` is a folder a rehearsal trained (its manifest.json records one), else {}:
    a result of that model is a rehearsal result even when the evaluation itself runs without the variables."""
    try:
        manifest = json.loads((Path(model) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(manifest, dict) or not is_rehearsal(manifest):
        return {}
    return {"model_lineage": {"folder": str(Path(model).resolve()), "rehearsal": True,
                              **{k: manifest[k] for k in RECORD_KEYS if k in manifest}}}
