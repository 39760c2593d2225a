"""Run manifests: what produced a result (versions, git sha, config hash, seed, data report).

Every training and evaluation run writes `manifest.json` next to its outputs, so a number in results/
can always be traced back to code, configuration and data.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata as md
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from .paths import REPO_ROOT
from .rehearsal import lineage, manifest_record

TRACKED_PACKAGES = ("prefopt", "torch", "transformers", "trl", "accelerate", "datasets", "peft", "tokenizers",
                    "safetensors", "deepspeed", "vllm", "alpaca-eval", "lm-eval")


def package_versions() -> dict[str, str]:
    out = {}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out


def git_state() -> dict:
    """The checkout's commit and whether the working tree had uncommitted changes."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)

    try:
        sha = git("rev-parse", "HEAD")
        if sha.returncode != 0:
            return {"sha": None}
        dirty = bool(git("status", "--porcelain", "--untracked-files=no").stdout.strip())
        return {"sha": sha.stdout.strip(), "dirty": dirty}
    except (OSError, subprocess.TimeoutExpired):
        return {"sha": None}


def build_manifest(kind: str, config: dict | None = None, config_hash: str | None = None, **extra) -> dict:
    return {
        "kind": kind,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
        "git": git_state(),
        "versions": package_versions(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "config_hash": config_hash,
        "config": config,
        **manifest_record(),
        **(lineage(str(extra["model"])) if extra.get("model") else {}),  # a rehearsal-trained model's results
        **extra,
    }


def write_json(path: str | os.PathLike, payload: dict) -> None:
    """Write JSON atomically (temp file + rename), so a kill never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def update_manifest(path: str | os.PathLike, **fields) -> dict:
    path = Path(path)
    payload = json.loads(path.read_text()) if path.exists() else {}
    payload.update(fields)
    write_json(path, payload)
    return payload
