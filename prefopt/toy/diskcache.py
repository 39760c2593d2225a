"""Build-once folders on disk, keyed by a content hash and written atomically.

A folder counts as built only once its marker file (written last) exists. A build goes into a temporary
folder next to the final one and is renamed into place, so a killed build never leaves a folder that looks
complete, and two processes racing for the same key both end with one complete folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

MARKER = ".prefopt_complete"  # its content is the build's metadata (JSON)


def content_hash(obj) -> str:
    """sha256 of a JSON-able object (sorted keys), so equal specs give equal names."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=True).encode()).hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def is_complete(folder: Path) -> bool:
    return (folder / MARKER).is_file()


def read_meta(folder: Path) -> dict:
    return json.loads((folder / MARKER).read_text())


def build_once(cache: Path, name: str, build: Callable[[Path], dict], stale_after_s: float = 3600.0) -> tuple[Path, bool]:
    """(cache/name, built_now). `build(tmp_folder)` fills the folder and returns its metadata (JSON-able)."""
    final = cache / name
    if is_complete(final):
        return final, False
    cache.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in cache.glob(f".tmp-{name}-*"):  # left by a killed build
        with contextlib.suppress(OSError):
            if now - old.stat().st_mtime > stale_after_s:
                shutil.rmtree(old, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=cache))
    try:
        meta = build(tmp)
        (tmp / MARKER).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        os.chmod(tmp, 0o755)  # mkdtemp makes it 0700
        if final.exists() and not is_complete(final):
            shutil.rmtree(final, ignore_errors=True)  # a half-written folder from an older, killed copy
        try:
            os.replace(tmp, final)
        except OSError:
            if not is_complete(final):  # another process won the race with a complete folder: keep theirs
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final, True


# What a launcher (torchrun, accelerate, DeepSpeed) puts in a rank's environment: not for a fresh build process.
_LAUNCH_ENV_PREFIXES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK", "ROLE_", "MASTER_",
                        "TORCHELASTIC_", "ACCELERATE_", "CROSS_")


def in_distributed_run() -> bool:
    """Whether this process is a rank of an initialized torch.distributed group.

    A model cannot be built and saved in such a process: transformers' save_pretrained writes only on global
    rank 0 (a build on rank 1 published a folder holding only the tokenizer), and under DeepSpeed ZeRO-3 a model
    made from its config is partitioned. Builders then run their own CLI in a fresh process (`build_in_fresh_process`).
    """
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def build_in_fresh_process(module: str, args: list[str]) -> None:
    """Run `python -m <module> <args>` outside the distributed group (launcher variables removed); its stderr
    is in the error when it fails."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_LAUNCH_ENV_PREFIXES)}
    proc = subprocess.run([sys.executable, "-m", module, *args], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"python -m {module} {' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}")


def export(src: Path, out: str | os.PathLike) -> Path:
    """Copy a complete cached folder to exactly `out`, atomically; an identical complete copy there is kept."""
    out = Path(out)
    if is_complete(out) and read_meta(out) == read_meta(src):
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
