"""Crash-safe checkpoints: a checkpoint folder counts only once every rank has finished writing it.

transformers (5.23) writes `checkpoint-N/` file by file in place (weights, optimizer, scheduler, RNG states,
trainer state, then our trainers' extra state) and `get_last_checkpoint` picks the highest N whatever is in
it, so a kill during a save leaves a folder that a naive resume loads half-written. Here:

* `make_checkpoints_atomic(trainer)` wraps the trainer's `_save_checkpoint` (subclass extras included): after
  every rank has written its part, the files are fsynced and rank 0 writes `prefopt_complete.json` (tmp file +
  rename, so the marker itself is atomic). Rotation (`save_total_limit`) is deferred until after the marker,
  so a kill never deletes the last complete checkpoint in favour of an incomplete one.
* `last_complete_checkpoint(output_dir)` returns the newest checkpoint with the marker; newer folders without
  it are set aside as `incomplete-checkpoint-N` (logged), so the resumed run rewrites them from scratch.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time

from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, rotate_checkpoints

logger = logging.getLogger("prefopt")

COMPLETE_FILE = "prefopt_complete.json"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def _fsync_tree(folder: str) -> None:
    for root, _, files in os.walk(folder):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def mark_complete(folder: str, step: int) -> None:
    """Flush the checkpoint's files to disk, then write the completion marker atomically (tmp + rename)."""
    _fsync_tree(folder)
    files = sorted(os.listdir(folder))
    tmp = os.path.join(folder, COMPLETE_FILE + ".tmp")
    with open(tmp, "w") as f:
        json.dump({"global_step": step, "files": files, "time": time.time()}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, os.path.join(folder, COMPLETE_FILE))
    fd = os.open(folder, os.O_RDONLY)  # the rename itself reaches the disk
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def is_complete(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, COMPLETE_FILE))


def checkpoint_step(path: str) -> int | None:
    """N of a `checkpoint-N` folder path, else None."""
    m = _CHECKPOINT.match(os.path.basename(os.path.normpath(path)))
    return int(m[1]) if m else None


def checkpoints(output_dir: str) -> list[tuple[int, str]]:
    """(step, path) of every checkpoint-N folder in output_dir, oldest first."""
    if not os.path.isdir(output_dir):
        return []
    paths = [os.path.join(output_dir, name) for name in os.listdir(output_dir)]
    return sorted((checkpoint_step(p), p) for p in paths if checkpoint_step(p) is not None and os.path.isdir(p))


def last_complete_checkpoint(output_dir: str, set_aside: bool = True) -> str | None:
    """The newest complete checkpoint. Incomplete ones newer than it are renamed out of the way (main process)."""
    found = checkpoints(output_dir)
    complete = [(step, path) for step, path in found if is_complete(path)]
    last_step, last = complete[-1] if complete else (-1, None)
    for step, path in found:
        if step > last_step and not is_complete(path):
            if set_aside:
                aside = os.path.join(output_dir, f"incomplete-checkpoint-{step}")
                suffix = 0
                while os.path.exists(aside):
                    suffix += 1
                    aside = os.path.join(output_dir, f"incomplete-checkpoint-{step}.{suffix}")
                os.replace(path, aside)
                logger.warning("checkpoint %s was not completely written (killed during a save?): set aside as %s",
                               path, aside)
            else:
                logger.warning("skipping incompletely written checkpoint %s", path)
    return last


def make_checkpoints_atomic(trainer) -> None:
    """Wrap `trainer._save_checkpoint` (an instance attribute, so any Trainer subclass keeps its own extras)."""
    inner = trainer._save_checkpoint

    def save_checkpoint(model, trial):
        args = trainer.args
        limit = args.save_total_limit
        args.save_total_limit = None  # rotation waits until the new checkpoint is marked complete
        try:
            inner(model, trial)
        finally:
            args.save_total_limit = limit
        trainer.accelerator.wait_for_everyone()  # every rank has written its shard / RNG state
        run_dir = trainer._get_output_dir(trial=trial)
        if args.should_save:
            folder = os.path.join(run_dir, f"{PREFIX_CHECKPOINT_DIR}-{trainer.state.global_step}")
            mark_complete(folder, trainer.state.global_step)
            rotate_checkpoints(output_dir=run_dir, save_total_limit=limit,
                               best_model_checkpoint=trainer.state.best_model_checkpoint, use_mtime=False)
        trainer.accelerator.wait_for_everyone()

    trainer._save_checkpoint = save_checkpoint
