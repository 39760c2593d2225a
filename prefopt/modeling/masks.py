"""The attention mask of a shared-prefix batch in the form the model's attention kernel takes (both log-prob paths)."""

from __future__ import annotations

import torch


def dense_mask(model, allowed: torch.Tensor) -> torch.Tensor:
    """The block mask (True = may attend) in the form the model's attention kernel takes a custom 4D mask in:
    sdpa takes booleans; eager ADDS the mask to its scores, so it needs 0 / -inf-like floats."""
    impl = getattr(model.config, "_attn_implementation", None) or "sdpa"
    if impl == "sdpa":
        return allowed
    if impl == "eager":
        dtype = next(model.parameters()).dtype
        return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(~allowed, torch.finfo(dtype).min)
    raise ValueError(f"shared-prefix batches need a dense 4D mask (attention eager or sdpa), not {impl!r}: "
                     "use PairCollator")
