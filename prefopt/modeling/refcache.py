"""On-disk cache of reference log-probs.

A reference model is frozen, so its summed response log-probs are a pure function of (weights, tokenized
data, numerics settings). We compute them once, store them under a key hashed from those three, and every
later run and every method that needs them reads the file: no reference model in memory during training.

Integrity: the entry records its key inputs, row count and the file's sha256; any mismatch (a stale or
partly written entry) is recomputed with a warning, never used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from prefopt.core.cachefs import publish_folder, read_json_dict, write_text_atomic
from prefopt.core.paths import cache_dir

from .logprobs import pair_forward

logger = logging.getLogger(__name__)
FORMAT_VERSION = 1
STATS = {"computed": 0, "loaded": 0}  # counters, so tests can tell a cache hit from a recompute


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


MEMO_FILE = "weight_hashes.json"
# The memo holds one line per weight file version (~150 bytes); the least recently used ones are dropped beyond this.
MEMO_MAX_ENTRIES = 1024


def weights_fingerprint(folder: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> str:
    """sha256 over the weight files of a model folder (names and contents).

    Hashes are memoised per (file, size, mtime) in `<cache_dir>/weight_hashes.json` (cache_dir: the run's
    reference_cache_dir, else the default cache), so an 8B model is hashed once per version. Many processes may
    share the memo: see `_update_memo`.
    """
    folder = Path(folder)
    files = sorted(p for p in folder.glob("*") if p.suffix in (".safetensors", ".bin", ".pt") and p.is_file())
    if not files:
        raise FileNotFoundError(f"no weight files in {folder}")
    memo_path = (Path(cache_dir) if cache_dir else default_cache_dir()) / MEMO_FILE
    memo = read_json_dict(memo_path)
    used, h = {}, hashlib.sha256()
    for p in files:
        st = p.stat()
        k = f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}"
        digest = memo.get(k)
        used[k] = digest if isinstance(digest, str) else _sha256_file(p)
        h.update(p.name.encode() + used[k].encode())
    _update_memo(memo_path, used)
    return h.hexdigest()


def _update_memo(path: Path, used: dict[str, str]) -> None:
    """Merge `used` into the memo on disk, most recently used last, bounded by MEMO_MAX_ENTRIES.

    Read again just before the atomic write, so entries other processes added meanwhile are kept; two writers
    racing can still drop each other's newest entry, which costs one re-hash later, never a wrong hash.
    Entries of an older version of a file in `used` (other size or mtime) are dropped.
    """
    memo = read_json_dict(path)
    files = {k.rsplit("|", 2)[0] for k in used}
    memo = {k: v for k, v in memo.items() if k.rsplit("|", 2)[0] not in files}
    memo.update(used)
    write_text_atomic(path, json.dumps(dict(list(memo.items())[-MEMO_MAX_ENTRIES:])))


def data_fingerprint(rows: list[dict]) -> str:
    h = hashlib.sha256()
    for r in rows:
        for k in ("prompt_ids", "chosen_ids", "rejected_ids"):
            h.update(k.encode() + json.dumps(r[k]).encode())
    return h.hexdigest()


def default_cache_dir() -> Path:
    return cache_dir("refcache")


def cache_key(weights: str, data: str, settings: dict) -> str:
    payload = json.dumps({"v": FORMAT_VERSION, "weights": weights, "data": data, "settings": settings}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


@torch.no_grad()
def compute_logps(model, rows, collator, batch_size: int = 8, chunk_size: int = 0, desc: str = "reference log-probs",
                  **how):
    """Summed response log-probs of `model` on every pair, in row order: (chosen (N,), rejected (N,)).
    `how`: pair_forward's impl / chunk_tokens (config logprob_impl, logprob_chunk_tokens)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    chosen, rejected = [], []
    for i in tqdm(range(0, len(rows), batch_size), desc=desc, disable=len(rows) <= batch_size):
        batch = collator(rows[i : i + batch_size])
        batch = {k: v.to(device) for k, v in batch.items() if torch.is_tensor(v)}
        c, r, _, _, _ = pair_forward(model, batch, chunk_size, **how)
        chosen.append(c.float().cpu())
        rejected.append(r.float().cpu())
    model.train(was_training)
    STATS["computed"] += 1
    return torch.cat(chosen), torch.cat(rejected)


class ReferenceCache:
    """get_or_compute(rows, compute_fn) -> (chosen, rejected), reading/writing `<dir>/<key>/`."""

    def __init__(self, weights: str, settings: dict, cache_dir: str | os.PathLike | None = None):
        self.weights, self.settings = weights, settings
        self.dir = Path(cache_dir) if cache_dir else default_cache_dir()

    def path_for(self, rows) -> tuple[Path, str]:
        key = cache_key(self.weights, data_fingerprint(rows), self.settings)
        return self.dir / key, key

    def load(self, rows) -> tuple[torch.Tensor, torch.Tensor] | None:
        entry, key = self.path_for(rows)
        found = self._read(entry, key, len(rows))
        if found is None:
            return None
        STATS["loaded"] += 1
        logger.info("reference log-probs: cache hit %s (%d pairs)", key, len(rows))
        return found

    @staticmethod
    def _read(entry: Path, key: str, n: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The entry's tensors if it is complete and passes its integrity check, else None (logged)."""
        meta_path, tensors_path = entry / "meta.json", entry / "logps.safetensors"
        if not meta_path.exists() or not tensors_path.exists():
            return None
        try:
            meta = json.loads(meta_path.read_text())
            ok = meta.get("key") == key and meta.get("n") == n and meta.get("sha256") == _sha256_file(tensors_path)
            tensors = load_file(str(tensors_path)) if ok else None
        except (OSError, ValueError) as e:  # includes an entry set aside while we read it
            logger.warning("reference cache %s unreadable (%s): recomputing", entry, e)
            return None
        if tensors is None or tensors["chosen"].numel() != n:
            logger.warning("reference cache %s failed its integrity check: recomputing", entry)
            return None
        return tensors["chosen"], tensors["rejected"]

    def save(self, rows, chosen: torch.Tensor, rejected: torch.Tensor) -> Path:
        """Write the entry unless a valid one exists (then that one is kept): one writer per entry, however
        many processes, nodes or jobs save it at once (`prefopt.cachefs.publish_folder`)."""
        entry, key = self.path_for(rows)
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.dir, prefix=".tmp-"))
        save_file({"chosen": chosen.contiguous(), "rejected": rejected.contiguous()}, str(tmp / "logps.safetensors"))
        meta = {"key": key, "n": len(rows), "sha256": _sha256_file(tmp / "logps.safetensors"),
                "weights": self.weights, "settings": self.settings, "format": FORMAT_VERSION}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
        if not publish_folder(tmp, entry, lambda p: self._read(p, key, len(rows)) is not None):
            logger.info("reference cache %s was written by another process meanwhile: kept", entry)
        return entry

    def get_or_compute(self, rows, compute_fn):
        hit = self.load(rows)
        if hit is not None:
            return hit
        chosen, rejected = compute_fn()
        entry = self.save(rows, chosen, rejected)
        logger.info("reference log-probs: computed and cached at %s", entry)
        return chosen, rejected
