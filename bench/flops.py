"""Model FLOPs per trained token and MFU (model FLOPs utilisation).

Counting (PaLM appendix B, the usual MFU convention): a forward costs 2N FLOPs per token for the N weights
(with tied embeddings the embedding matrix is counted once, as the LM head's matmul) plus 4 * layers * hidden
* T for attention scores and values; a backward costs twice the forward. A reference forward, where a
contender runs one, is counted as useful work too: it is part of the method, and counting it keeps the MFU
comparable between contenders that do and do not hold a reference.
"""

from __future__ import annotations

# Dense peak TFLOP/s by device name (bf16 / fp32) from the vendors' data sheets (SXM parts, no sparsity).
PEAK_TFLOPS = {"H100": {"bf16": 989.0, "float32": 67.0}, "H200": {"bf16": 989.0, "float32": 67.0},
               "A100": {"bf16": 312.0, "float32": 19.5}}


def forward_flops_per_token(config, n_params: int, seq_len: int) -> float:
    return 2.0 * n_params + 4.0 * config.num_hidden_layers * config.hidden_size * seq_len


def train_flops_per_token(config, n_params: int, seq_len: int, reference_forward: bool) -> float:
    fwd = forward_flops_per_token(config, n_params, seq_len)
    return 3.0 * fwd + (fwd if reference_forward else 0.0)


def peak_flops(device: str, dtype: str, override_tflops: float = 0.0) -> float | None:
    """Peak FLOP/s of the device (None where unknown, e.g. CPU: no MFU is reported there)."""
    if override_tflops:
        return override_tflops * 1e12
    if not device.startswith("cuda"):
        return None
    import torch  # noqa: PLC0415

    name = torch.cuda.get_device_name()
    for key, peaks in PEAK_TFLOPS.items():
        if key in name:
            return peaks.get(dtype, peaks["float32"]) * 1e12
    return None


def mfu(model_flops_per_s: float, peak: float | None) -> float | None:
    return model_flops_per_s / peak if peak else None
