"""Files and folders that several processes share (every rank, node and job of a sweep writes the same cache).

- `write_text_atomic`: a unique temporary file in the same folder, then `os.replace`: a reader sees the old
  file or the new one, never half of either (a fixed temporary name would let two writers interleave).
- `read_json_dict`: a file that is missing, torn, or not a JSON object reads as {}: for a memo, that only
  means work is redone.
- `build_once`: a folder built once per key (content hash), complete only once its marker file exists; built in
  a temporary sibling and published with `publish_folder`, so a killed build never looks complete and racing
  builders end with one complete folder.
- `publish_folder`: one writer per folder. `os.rename` of a folder onto a non-empty folder fails, so the first
  complete folder wins; a later writer keeps a valid existing one and discards its own copy. A broken existing
  folder is first renamed aside (atomic) and only then deleted, so the entry path never holds a half-deleted
  folder (a process reading the old folder through open files keeps reading it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
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


# ---- build-once folders -------------------------------------------------------------------------------------
MARKER = ".prefopt_complete"  # written last into a built folder; its content is the build's metadata (JSON)


def content_hash(obj) -> str:
    """sha256 of a JSON-able object (sorted keys), so equal specs give equal names."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=True).encode()).hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def is_complete(folder: Path, marker: str = MARKER) -> bool:
    return (Path(folder) / marker).is_file()


def read_meta(folder: Path, marker: str = MARKER) -> dict:
    return json.loads((Path(folder) / marker).read_text())


def _clean_stale_tmp(cache: Path, name: str, max_age_s: float) -> None:
    now = time.time()
    for old in cache.glob(f".tmp-{name}-*"):  # left by a killed build
        with contextlib.suppress(OSError):
            if now - old.stat().st_mtime > max_age_s:
                shutil.rmtree(old, ignore_errors=True)


def build_once(cache: Path, name: str, build: Callable[[Path], dict], *, marker: str = MARKER,
               stale_after_s: float = 3600.0) -> tuple[Path, bool]:
    """(cache/name, built_now). `build(tmp_folder)` fills the folder and returns its metadata (JSON-able)."""
    final = Path(cache) / name
    if is_complete(final, marker):
        return final, False
    final.parent.mkdir(parents=True, exist_ok=True)
    _clean_stale_tmp(final.parent, name, stale_after_s)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=final.parent))
    try:
        meta = build(tmp)
        (tmp / marker).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        os.chmod(tmp, 0o755)  # mkdtemp makes it 0700
        built = publish_folder(tmp, final, lambda f: is_complete(f, marker))
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final, built


def export(src: Path, out: str | os.PathLike, marker: str = MARKER) -> Path:
    """Copy a complete cached folder to exactly `out`, atomically; an identical complete copy there is kept."""
    out = Path(out)
    if is_complete(out, marker) and read_meta(out, marker) == read_meta(src, marker):
        return out
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not empty")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{out.name}-", dir=out.parent))
    try:
        shutil.copytree(src, tmp, dirs_exist_ok=True)
        os.chmod(tmp, 0o755)
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out
