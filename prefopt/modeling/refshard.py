"""The reference log-prob pass, sharded over the ranks of a distributed run.

Every rank calls `reference_pass` with the same rows (collective: all ranks or none):

1. Rank 0 alone builds the cache key (weights fingerprint, data) and tries the cache; the hit, or the miss, is
   broadcast. Other ranks never read the cache directory, so it may be node-local.
2. On a miss the rows are cut into the batches a single process would use (rows[i*B:(i+1)*B]) and batch i goes
   to rank i mod W. Each batch is scored exactly as in a 1-process run, so the numbers are the same bits
   (same hardware and thread count), and ranks differ by at most one forward.
3. An all-gather gives every rank every row's log-probs; global rank 0 alone writes the cache entry
   (`ReferenceCache.save`: one writer, a valid existing entry is kept). Nobody waits for the write.

No long barrier: ranks wait on each other only in the broadcast (rank 0's cache lookup) and the gather (at most
one batch of imbalance). `reference_cache: off` runs steps 2-3 without the cache.

ZeRO-3: each rank loads its own full, unpartitioned reference (`prefopt.modeling.loading.without_zero3_init`). The pass
runs before the policy is built, so each device holds only the reference (an 8B model in bf16 is 16 GB). A
partitioned reference would make every forward a collective (each rank gathers each layer), so all ranks would
have to run the same number of forwards in lockstep for no saving in time; a reference that fits on no single
device is not supported by this pass (use a reference model in memory during training instead).
"""

from __future__ import annotations

import functools
import gc
import logging
from collections.abc import Callable

import torch
import torch.distributed as dist

from prefopt.core.dist import rank_and_world

logger = logging.getLogger("prefopt")




def owned_batches(n_rows: int, batch_size: int, rank: int, world: int) -> list[int]:
    """Indices of the batches rank `rank` scores: every world-th batch of the 1-process batching."""
    return list(range(rank, -(-n_rows // batch_size), world))


def _rows_of(batches: list[int], n_rows: int, batch_size: int) -> list[int]:
    return [i for b in batches for i in range(b * batch_size, min((b + 1) * batch_size, n_rows))]


def sharded_scores(rows: list, score: Callable[[list], tuple[torch.Tensor, torch.Tensor]], batch_size: int,
                   device) -> tuple[torch.Tensor, torch.Tensor]:
    """(chosen (N,), rejected (N,)) float32 on CPU for every row, each rank scoring its own batches.

    `score(rows)` scores a list of rows in batches of `batch_size` (as `prefopt.refcache.compute_logps` does):
    a rank's rows are whole 1-process batches in order, so each forward sees the same batch as in 1 process.
    """
    rank, world = rank_and_world()
    n = len(rows)
    mine = _rows_of(owned_batches(n, batch_size, rank, world), n, batch_size)
    chosen, rejected = score([rows[i] for i in mine]) if mine else (torch.zeros(0), torch.zeros(0))
    if world == 1:
        return chosen.float().cpu(), rejected.float().cpu()
    width = len(_rows_of(owned_batches(n, batch_size, 0, world), n, batch_size))  # rank 0 holds the most rows
    local = torch.zeros(2, width, dtype=torch.float32, device=device)
    local[0, : len(mine)], local[1, : len(mine)] = chosen.float(), rejected.float()
    gathered = [torch.empty_like(local) for _ in range(world)]
    dist.all_gather(gathered, local)
    out = torch.empty(2, n, dtype=torch.float32)
    for r, part in enumerate(gathered):
        idx = _rows_of(owned_batches(n, batch_size, r, world), n, batch_size)
        out[:, idx] = part[:, : len(idx)].cpu()
    return out[0], out[1]


def _broadcast_from_rank0(obj, device):
    box = [obj]
    dist.broadcast_object_list(box, src=0, device=torch.device(device) if torch.device(device).type == "cuda" else None)
    return box[0]


def reference_pass(rows: list, score_with: Callable, load_reference: Callable, batch_size: int, device,
                   open_cache: Callable | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference (chosen, rejected) log-probs of `rows`, from the cache or computed over all ranks.

    score_with(model, rows) -> (chosen, rejected) scores rows in batches of batch_size; load_reference() gives
    the model (called only on a miss; freed here); open_cache() gives a ReferenceCache (rank 0 only), or None
    for `reference_cache: off`.
    """
    rank, world = rank_and_world()
    cache = open_cache() if open_cache is not None and rank == 0 else None
    hit = cache.load(rows) if cache is not None else None
    if world > 1 and open_cache is not None:
        hit = _broadcast_from_rank0(hit, device)
    if hit is not None:
        return hit
    score = functools.partial(score_with, load_reference())
    chosen, rejected = sharded_scores(rows, score, batch_size, device)
    del score  # the reference: freed before the policy is built
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    if rank == 0:
        per_rank = [len(owned_batches(len(rows), batch_size, r, world)) for r in range(world)]
        logger.info("reference log-probs: %d pairs over %d rank(s), forwards per rank %s", len(rows), world, per_rank)
    if cache is not None:
        entry = cache.save(rows, chosen, rejected)
        logger.info("reference log-probs: cached at %s", entry)
    return chosen, rejected
