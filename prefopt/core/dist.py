"""Collectives that also work in a single process (unit tests, one CPU): identity when torch.distributed is off."""

from __future__ import annotations

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
