"""Files and folders that several processes share (every rank, node and job of a sweep writes the same cache).

- `write_text_atomic`: a unique temporary file in the same folder, then `os.replace`: a reader sees the old
  file or the new one, never half of either (a fixed temporary name would let two writers interleave).
- `read_json_dict`: a file that is missing, torn, or not a JSON object reads as {}: for a memo, that only
  means work is redone.
- `publish_folder`: one writer per folder. `os.rename` of a folder onto a non-empty folder fails, so the first
  complete folder wins; a later writer keeps a valid existing one and discards its own copy. A broken existing
  folder is first renamed aside (atomic) and only then deleted, so the entry path never holds a half-deleted
  folder (a process reading the old folder through open files keeps reading it).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json_dict(path: str | os.PathLike) -> dict:
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        logger.warning("%s is unreadable (%s): starting it afresh", path, e)
        return {}
    if not isinstance(value, dict):
        logger.warning("%s does not hold a JSON object: starting it afresh", path)
        return {}
    return value


def publish_folder(tmp: Path, final: Path, is_valid: Callable[[Path], bool], attempts: int = 5) -> bool:
    """Move the complete folder `tmp` to `final` unless a valid `final` exists. True if ours was published."""
    for _ in range(attempts):
        try:
            os.rename(tmp, final)  # fails when final is a non-empty folder: someone else published first
            return True
        except OSError:
            if not final.exists():
                continue  # it was set aside between our rename and this check: try again
        if is_valid(final):
            shutil.rmtree(tmp, ignore_errors=True)
            return False
        aside = final.with_name(f".stale-{final.name}-{uuid.uuid4().hex[:8]}")
        try:
            os.rename(final, aside)
        except OSError:
            continue  # another process set it aside (or replaced it) first
        if is_valid(aside):  # a writer published a valid one between our check and the rename: put it back
            try:
                os.rename(aside, final)
                continue
            except OSError:
                pass
        logger.warning("cache entry %s was broken: replaced", final)
        shutil.rmtree(aside, ignore_errors=True)
    shutil.rmtree(tmp, ignore_errors=True)
    raise OSError(f"could not publish {final} after {attempts} attempts (other writers keep replacing it)")
