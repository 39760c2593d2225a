"""A bounded replay pool of past labelled micro-batches (CPU, float16 features).

The released code preallocates 40,000 x B x L x d floats (about 168 GB for Llama-3-8B); here the capacity is
`pool_size` micro-batches AND at most `pool_max_mb` megabytes: the capacity is lowered to fit the cap once the
first batch shows how large a batch is. When full, a uniformly random slot is replaced (as released).
"""

from __future__ import annotations

import logging

import torch

logger = logging.getLogger("prefopt.training.sams")


class ReplayPool:
    def __init__(self, capacity: int, max_mb: float):
        self.capacity, self.max_mb = capacity, max_mb
        self.items: list[dict[str, torch.Tensor]] = []

    @staticmethod
    def _nbytes(item: dict[str, torch.Tensor]) -> int:
        return sum(t.numel() * t.element_size() for t in item.values())

    def add(self, features: torch.Tensor, labels: torch.Tensor, residuals: torch.Tensor,
            generator: torch.Generator) -> None:
        if self.capacity == 0:
            return
        item = {"x": features.detach().to("cpu", torch.float16), "y": labels.detach().cpu().float(),
                "r": residuals.detach().cpu().float()}
        fit = int(self.max_mb * 2**20 // max(self._nbytes(item), 1))
        if fit < self.capacity:
            logger.warning("sams replay pool: %d micro-batches would exceed pool_max_mb=%s; capacity lowered to %d",
                           self.capacity, self.max_mb, fit)
            self.capacity = fit
            del self.items[fit:]
            if fit == 0:
                return
        if len(self.items) < self.capacity:
            self.items.append(item)
        else:
            self.items[int(torch.randint(len(self.items), (1,), generator=generator))] = item

    def sample(self, n: int, generator: torch.Generator) -> list[dict[str, torch.Tensor]]:
        """Up to n distinct stored micro-batches, uniformly at random."""
        if n == 0 or not self.items:
            return []
        idx = torch.randperm(len(self.items), generator=generator)[:n]
        return [self.items[i] for i in idx.tolist()]

    def nbytes(self) -> int:
        return sum(self._nbytes(i) for i in self.items)

    def state_dict(self) -> dict:
        return {"capacity": self.capacity, "items": list(self.items)}

    def load_state_dict(self, state: dict) -> None:
        self.capacity = state["capacity"]
        self.items = [dict(i) for i in state["items"]]
