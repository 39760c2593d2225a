"""The two roots every module agrees on: the repository and the cache.

`PREFOPT_CACHE` names the cache ROOT; each user keeps its own sub-folder under it (`tiny/` for offline tiny
models, `refcache/` for reference log-probs, `all-MiniLM-L6-v2/` for the extracted encoder).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_ENV = "PREFOPT_CACHE"


def cache_root() -> Path:
    """$PREFOPT_CACHE, else <repo>/.cache."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else REPO_ROOT / ".cache"


def cache_dir(name: str) -> Path:
    """One user's folder under the cache root (not created here)."""
    return cache_root() / name
