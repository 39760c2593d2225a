"""Collectives that also work in a single process (unit tests, one CPU): identity when torch.distributed is off;
and building a cached model from inside a distributed run (in a fresh process outside the group)."""

from __future__ import annotations

import os
import subprocess
import sys

import torch
import torch.distributed as dist


def rank_and_world() -> tuple[int, int]:
    """(rank, world size) of the initialised process group, else (0, 1)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def gather_detached(t: torch.Tensor) -> torch.Tensor:
    """A 1-D tensor concatenated over all ranks, detached: for batch statistics that take no gradient.

    Ranks may hold different numbers of elements (a smaller last batch), so sizes are exchanged first and
    the padding needed by `all_gather` is trimmed again. Every rank must call it (it is a collective).
    """
    t = t.detach().reshape(-1)
    _, world = rank_and_world()
    if world == 1:
        return t
    size = torch.tensor([t.numel()], device=t.device)
    sizes = [torch.empty_like(size) for _ in range(world)]
    dist.all_gather(sizes, size)
    counts = [int(s.item()) for s in sizes]
    padded = t.new_zeros(max(counts))
    padded[: t.numel()] = t
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded)
    return torch.cat([p[:n] for p, n in zip(parts, counts, strict=True)])


def gather_rows(t: torch.Tensor) -> torch.Tensor:
    """(n_local, *shape) tensors concatenated over ranks along dim 0 (ranks may hold different n), detached."""
    return gather_detached(t.contiguous()).reshape(-1, *t.shape[1:])


# What a launcher (torchrun, accelerate, DeepSpeed) puts in a rank's environment: not for a fresh build process.
LAUNCH_ENV_PREFIXES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK", "ROLE_", "MASTER_",
                       "TORCHELASTIC_", "ACCELERATE_", "CROSS_")


def in_distributed_run() -> bool:
    """Whether this process is a rank of an initialized torch.distributed group.

    A model cannot be built and saved in such a process: transformers' save_pretrained writes only on global
    rank 0 (a build on rank 1 published a folder holding only the tokenizer), and under DeepSpeed ZeRO-3 a model
    made from its config is partitioned. Builders then run their own CLI in a fresh process (`build_in_fresh_process`).
    """
    return dist.is_available() and dist.is_initialized()


def build_in_fresh_process(module: str, args: list[str]) -> None:
    """Run `python -m <module> <args>` outside the distributed group (launcher variables removed); its stderr
    is in the error when it fails."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(LAUNCH_ENV_PREFIXES)}
    proc = subprocess.run([sys.executable, "-m", module, *args], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"python -m {module} {' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
