"""The reference cache under concurrency (issue 20, items 3 and 4).

Several processes share one cache directory on a cluster: every rank of a job, every node, several jobs of a sweep.
- The weight-fingerprint memo is read and rewritten by each of them: a reader must never see half a file, an
  unreadable memo is an empty one, it stays bounded, and it lives under `reference_cache_dir` when one is set.
- A cache entry has exactly one writer: once a valid entry exists it is kept (never deleted while another process
  may be reading it), and readers see either no entry or that entry, never a gap or a different one.
Each concurrent test starts 8 processes (fork) behind a barrier so their reads and writes overlap.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import traceback
from pathlib import Path

import pytest
import torch

from prefopt.modeling import refcache
from prefopt.modeling.refcache import ReferenceCache, weights_fingerprint

PROCESSES = 8
CTX = mp.get_context("fork")  # children only do file I/O and tiny tensor copies


def _model_folders(root: Path, n: int) -> list[Path]:
    folders = []
    for i in range(n):
        folder = root / f"model-{i}"
        folder.mkdir(parents=True)
        (folder / "model.safetensors").write_bytes(os.urandom(4096) + bytes([i]))
        (folder / "config.json").write_text("{}")  # not a weight file: not hashed
        folders.append(folder)
    return folders


def _run_all(target, args_per_process: list[tuple]) -> list:
    """Run target(barrier, queue, *args) in PROCESSES forked processes; each puts one result (or a traceback)."""
    barrier, queue = CTX.Barrier(len(args_per_process)), CTX.Queue()
    procs = [CTX.Process(target=target, args=(barrier, queue, *a)) for a in args_per_process]
    for p in procs:
        p.start()
    results = [queue.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    return results


def _fingerprint_worker(barrier, queue, folders, rounds):
    try:
        barrier.wait()
        out = {}
        for _ in range(rounds):
            for f in folders:
                out[str(f)] = weights_fingerprint(f)
        queue.put(("ok", out))
    except BaseException:  # noqa: BLE001 - report every failure to the parent
        queue.put(("error", traceback.format_exc()))


def test_memo_is_safe_under_concurrent_processes(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFOPT_CACHE", str(tmp_path / "cache"))
    folders = _model_folders(tmp_path, 12)
    results = _run_all(_fingerprint_worker, [(folders, 4)] * PROCESSES)
    errors = [r for kind, r in results if kind == "error"]
    assert not errors, f"{len(errors)} of {PROCESSES} processes failed; first:\n{errors[0]}"
    hashes = [r for _, r in results]
    assert all(h == hashes[0] for h in hashes), "processes disagree on a fingerprint"
    memo = json.loads((tmp_path / "cache" / "refcache" / "weight_hashes.json").read_text())
    assert isinstance(memo, dict) and memo  # a valid file, not a torn write
    assert not list((tmp_path / "cache" / "refcache").glob("*.tmp*")), "temporary files left behind"


@pytest.mark.parametrize("content", ["{\"truncated", "", "[1, 2]", "\x00\x01binary"])
def test_unreadable_memo_is_treated_as_empty(tmp_path, monkeypatch, content):
    monkeypatch.setenv("PREFOPT_CACHE", str(tmp_path / "cache"))
    (folder,) = _model_folders(tmp_path, 1)
    memo_path = tmp_path / "cache" / "refcache" / "weight_hashes.json"
    expected = weights_fingerprint(folder)
    memo_path.write_text(content)
    assert weights_fingerprint(folder) == expected
    assert len(json.loads(memo_path.read_text())) == 1  # rewritten whole


def test_memo_is_bounded_and_drops_superseded_versions(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFOPT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(refcache, "MEMO_MAX_ENTRIES", 5, raising=False)
    folders = _model_folders(tmp_path, 9)
    for f in folders:
        weights_fingerprint(f)
    memo_path = tmp_path / "cache" / "refcache" / "weight_hashes.json"
    memo = json.loads(memo_path.read_text())
    assert len(memo) == 5
    assert any(str((folders[-1] / "model.safetensors").resolve()) in k for k in memo), "the newest entry was dropped"
    # a rewritten weight file (new size/mtime) replaces its old entry instead of adding one
    weights = folders[-1] / "model.safetensors"
    weights.write_bytes(weights.read_bytes() + b"more")
    weights_fingerprint(folders[-1])
    memo = json.loads(memo_path.read_text())
    assert sum(k.startswith(str(weights.resolve()) + "|") for k in memo) == 1


def test_memo_lives_under_reference_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFOPT_CACHE", str(tmp_path / "default"))
    (folder,) = _model_folders(tmp_path, 1)
    weights_fingerprint(folder, cache_dir=tmp_path / "mine")
    assert (tmp_path / "mine" / "weight_hashes.json").exists()
    assert not (tmp_path / "default").exists()


# ---- cache entries ---------------------------------------------------------------------------------------
ROWS = [{"prompt_ids": [1, 2], "chosen_ids": [3], "rejected_ids": [4, 5]} for _ in range(6)]
SETTINGS = {"dtype": "float32", "attn": None, "chunk": 0, "dropout_disabled": True}


def _entry_worker(barrier, queue, cache_dir, role, tag, rounds):
    try:
        cache = ReferenceCache("w" * 64, SETTINGS, cache_dir)
        barrier.wait()
        seen = []
        for _ in range(rounds):
            if role == "writer":
                value = torch.full((len(ROWS),), float(tag))
                cache.save(ROWS, value, value - 1)
            got = cache.load(ROWS)
            seen.append(None if got is None else got[0][0].item())
        queue.put(("ok", (role, tag, seen)))
    except BaseException:  # noqa: BLE001
        queue.put(("error", traceback.format_exc()))


def test_concurrent_writers_and_readers_see_one_entry(tmp_path):
    """4 writers with different (all valid) values, 4 readers: the first complete entry stays, nobody fails."""
    cache_dir = tmp_path / "cache"
    jobs = [(cache_dir, "writer" if i % 2 == 0 else "reader", i, 40) for i in range(PROCESSES)]
    results = _run_all(_entry_worker, jobs)
    errors = [r for kind, r in results if kind == "error"]
    assert not errors, f"{len(errors)} of {PROCESSES} processes failed; first:\n{errors[0]}"
    final = ReferenceCache("w" * 64, SETTINGS, cache_dir).load(ROWS)
    assert final is not None
    kept = final[0][0].item()
    for role, tag, seen in (r for _, r in results):
        first = next((i for i, v in enumerate(seen) if v is not None), len(seen))
        assert role == "reader" or first == 0, f"writer {tag} could not read back an entry right after saving"
        assert None not in seen[first:], f"{role} {tag} lost sight of the entry after seeing it: {seen}"
        assert set(seen[first:]) <= {kept}, f"{role} {tag} saw the entry replaced: {seen}"
    entries = [p for p in cache_dir.iterdir() if not p.name.startswith(".")]
    assert len(entries) == 1 and not [p for p in cache_dir.iterdir() if p.name.startswith(".tmp")]


def test_save_keeps_a_valid_entry_and_replaces_a_broken_one(tmp_path):
    cache = ReferenceCache("w" * 64, SETTINGS, tmp_path)
    ones = torch.ones(len(ROWS))
    entry = cache.save(ROWS, ones, -ones)
    inode = (entry / "logps.safetensors").stat().st_ino
    assert cache.save(ROWS, 2 * ones, -ones) == entry
    assert (entry / "logps.safetensors").stat().st_ino == inode, "a valid entry was rewritten"
    assert torch.equal(cache.load(ROWS)[0], ones)
    (entry / "logps.safetensors").write_bytes(b"garbage")  # broken: fails its integrity check
    assert cache.load(ROWS) is None
    cache.save(ROWS, 3 * ones, -ones)
    assert torch.equal(cache.load(ROWS)[0], 3 * ones)
    assert [p.name for p in tmp_path.iterdir()] == [entry.name], "a replaced entry or temporary folder was left"


def test_training_keeps_the_memo_in_its_reference_cache_dir(tmp_path, monkeypatch):
    """attach_reference_logps (the training path) passes reference_cache_dir on to the memo."""
    from conftest import tiny_model_and_pairs
    from test_trainer import MAX_LEN, _config
    from transformers import AutoTokenizer

    from prefopt.data import load_pairs, tokenize_pairs
    from prefopt.training.preference import attach_reference_logps

    monkeypatch.setenv("PREFOPT_CACHE", str(tmp_path / "default"))
    model_dir, data = tiny_model_and_pairs(tmp_path, 4)
    model_args, _, args = _config(tmp_path, model_dir, data, "dpo", reference_cache_dir=str(tmp_path / "mine"))
    tok = AutoTokenizer.from_pretrained(model_dir)
    rows, _ = tokenize_pairs(load_pairs(str(data), split="train"), tok, max_length=MAX_LEN, max_prompt_length=12)
    attach_reference_logps(rows, model_args, args, tok)
    assert (tmp_path / "mine" / MEMO).exists() and not (tmp_path / "default" / "refcache" / MEMO).exists()


MEMO = "weight_hashes.json"
