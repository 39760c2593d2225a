"""The roots every module agrees on: the repository, the cache and the shared data folder.

`PREFOPT_CACHE` names the cache ROOT; each user keeps its own sub-folder under it (`tiny/` for offline tiny
models, `refcache/` for reference log-probs, `all-MiniLM-L6-v2/` for the extracted encoder).
`PREFOPT_SHARED_DATA` names the shared data folder (benchmark files, data samples), else ../shared/data beside
the checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_ENV = "PREFOPT_CACHE"
SHARED_DATA_ENV = "PREFOPT_SHARED_DATA"


def cache_root() -> Path:
    """$PREFOPT_CACHE, else <repo>/.cache."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else REPO_ROOT / ".cache"


def cache_dir(name: str) -> Path:
    """One user's folder under the cache root (not created here)."""
    return cache_root() / name


def shared_data_dir() -> Path:
    """$PREFOPT_SHARED_DATA, else ../shared/data beside the checkout (where tests/conftest.py looks too)."""
    env = os.environ.get(SHARED_DATA_ENV)
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"
