"""Response log-probs without materialising the (N, T, V) logits (config `logprob_impl: chunked`).

The full path (`prefopt.logprobs`) runs the model's own forward, which projects EVERY position onto the vocabulary:
(N, T, V) logits, their float32 normalisers and, in training, a gradient of the same size. At V = 128k-256k that
tensor dominates activation memory. This path takes the final hidden states from the base model (the model without
its LM head) and applies the head to RESPONSE positions only (prompts are about half of each row), in chunks of
`chunk_tokens` positions, through `ResponseTokenLogps`: a custom autograd function that keeps one chunk's logits at
a time and recomputes them in backward. Peak extra memory is O(chunk_tokens x V) instead of O(N x T x V).

What the model's forward applies after the head is reproduced here: Gemma-2's final-logit soft-capping
(cap * tanh(z / cap), before the log-softmax) and an LM-head bias. Anything else (a logit scale, a temperature) would
be missed, so the first call on a model compares its own logits with this path's on a few tokens and refuses a model
that differs (`check_head`), naming `logprob_impl: full` as the fix.

Distributed: the computation runs inside the wrapper's forward (`run_inside_forward`), so DDP sees every parameter
used and DeepSpeed's module hooks stay armed; under ZeRO-3 the head's partitioned parameters are gathered for the
direct access in forward and again in backward (`gathered`).
"""

from __future__ import annotations

import contextlib

import torch
from accelerate.utils import get_mixed_precision_context_manager
from torch import nn
from torch.utils.checkpoint import checkpoint

from prefopt.core.errors import InputError

from .masks import dense_mask


# ---- the kernel -------------------------------------------------------------------------------------------------
def _compute_dtype(device: torch.device, fallback: torch.dtype) -> torch.dtype:
    """The dtype the head's matmul runs in on the full path: autocast's when autocast is on, else the input's."""
    if torch.is_autocast_enabled(device.type):
        return torch.get_autocast_dtype(device.type)
    return fallback


def _chunk_logits(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """float32 (c, V) logits of one chunk (matmul in the compute dtype, as the full path's head under autocast)."""
    z = h @ w.t()
    if b is not None:
        z += b
    return z.float()


def _add_product_fp32(acc: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> None:
    """acc += a @ b into a float32 acc: on CUDA a bf16/fp16 GEMM with float32 output (full speed, no rounding of the
    product), elsewhere the product in float32."""
    if acc.device.type == "cuda" and a.dtype in (torch.bfloat16, torch.float16):
        torch.addmm(acc, a, b, out_dtype=torch.float32, out=acc)
    else:
        acc.addmm_(a.float(), b.float())


class ResponseTokenLogps(torch.autograd.Function):
    """log softmax(softcap(hidden @ weight.T + bias))[label] per row, float32, chunk by chunk over the rows.

    hidden (M, H), weight (V, H), bias (V,) or None, labels (M,) -> (M,). Forward keeps one (chunk, V) buffer and
    saves only the (M,) normalisers; backward recomputes each chunk's logits, turns them into d logp / d logits in
    place (one-hot minus softmax, times the incoming gradient, times the soft-capping derivative) and accumulates the
    weight gradient in float32 (rounding each chunk's product to bf16 before summing would bias training).
    """

    @staticmethod
    def forward(ctx, hidden, weight, bias, labels, chunk_tokens: int, softcap: float | None):
        dtype = _compute_dtype(hidden.device, hidden.dtype)
        w = weight.to(dtype)  # one cast per call, as autocast caches it for the full path's head
        b = None if bias is None else bias.to(dtype)
        out = torch.empty(hidden.size(0), dtype=torch.float32, device=hidden.device)
        lse = torch.empty_like(out)
        with torch.autocast(hidden.device.type, enabled=False):
            for start in range(0, hidden.size(0), chunk_tokens):
                rows = slice(start, start + chunk_tokens)
                z = _chunk_logits(hidden[rows].to(dtype), w, b)
                if softcap:
                    z.div_(softcap).tanh_().mul_(softcap)
                picked = z.gather(1, labels[rows].unsqueeze(1)).squeeze(1)
                m = z.amax(1, keepdim=True)
                lse[rows] = z.sub_(m).exp_().sum(1).log_() + m.squeeze(1)  # in place: one buffer per chunk
                out[rows] = picked - lse[rows]
        ctx.save_for_backward(hidden, weight, bias, labels, lse)
        ctx.chunk_tokens, ctx.softcap, ctx.dtype = chunk_tokens, softcap, dtype
        return out

    @staticmethod
    def backward(ctx, grad_out):
        hidden, weight, bias, labels, lse = ctx.saved_tensors
        need_h, need_w, need_b = ctx.needs_input_grad[:3]
        dtype, cap = ctx.dtype, ctx.softcap
        grad_out = grad_out.float()
        with gathered(weight, bias), torch.autocast(hidden.device.type, enabled=False):
            w = weight.to(dtype)
            b = None if bias is None else bias.to(dtype)
            grad_h = torch.empty_like(hidden) if need_h else None
            grad_w = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device) if need_w else None
            grad_b = torch.zeros(weight.size(0), dtype=torch.float32, device=weight.device) if need_b else None
            for start in range(0, hidden.size(0), ctx.chunk_tokens):
                rows = slice(start, start + ctx.chunk_tokens)
                h = hidden[rows].to(dtype)
                z = _chunk_logits(h, w, b)
                t = z.div_(cap).tanh_() if cap else None  # z now holds tanh(z / cap); its derivative needs it
                s = t * cap if cap else z
                g = grad_out[rows].unsqueeze(1)
                # d logp / d s = onehot(label) - softmax(s); times the incoming gradient
                dz = s.sub_(lse[rows].unsqueeze(1)).exp_().mul_(-g)
                dz.scatter_add_(1, labels[rows].unsqueeze(1), g)
                if cap:
                    dz.mul_(t.square_().neg_().add_(1))  # d s / d z = 1 - tanh^2 (t is not needed after)
                dz = dz.to(dtype)
                if need_h:
                    grad_h[rows] = (dz @ w).to(hidden.dtype)
                if need_w:
                    _add_product_fp32(grad_w, dz.t(), h)
                if need_b:
                    grad_b += dz.sum(0, dtype=torch.float32)
        return (grad_h, None if grad_w is None else grad_w.to(weight.dtype),
                None if grad_b is None else grad_b.to(bias.dtype), None, None, None)


def token_logps_checkpointed(hidden, weight, bias, labels, chunk_tokens: int, softcap: float | None):
    """The same numbers as ResponseTokenLogps through per-chunk activation checkpointing (autograd does the
    backward). Kept as the measured alternative (bench/logprob_kernels.py), not used by the trainer: it is slower
    and holds more per chunk (the logsumexp and gather backward each allocate a (chunk, V) tensor)."""
    def one_chunk(h, lab):
        z = nn.functional.linear(h, weight, bias).float()
        if softcap:
            z = torch.tanh(z / softcap) * softcap
        return z.gather(1, lab.unsqueeze(1)).squeeze(1) - torch.logsumexp(z, 1)

    return torch.cat([checkpoint(one_chunk, hidden[s:s + chunk_tokens], labels[s:s + chunk_tokens], use_reentrant=False)
                      for s in range(0, hidden.size(0), chunk_tokens)])


# ---- ZeRO-3: the head's parameters, gathered for a direct access ------------------------------------------------
@contextlib.contextmanager
def gathered(*params):
    """All-gather DeepSpeed ZeRO-3 partitioned parameters for the duration (read-only); a no-op otherwise.

    Under ZeRO-3 a parameter is materialised only inside its own module's forward; this path reads lm_head.weight
    directly, so it gathers it (every rank runs this, in forward and in backward: the all-gather is collective).
    Already available parameters are skipped (with tied embeddings the embedding may hold the weight gathered).
    """
    todo = list({id(p): p for p in params if p is not None and _partitioned(p)}.values())
    if not todo:
        yield
        return
    import deepspeed  # noqa: PLC0415

    with deepspeed.zero.GatheredParameters(todo, modifier_rank=None):
        yield


def _partitioned(p: torch.Tensor) -> bool:
    status = getattr(p, "ds_status", None)  # set on every parameter DeepSpeed ZeRO-3 manages
    return status is not None and getattr(status, "name", str(status)) != "AVAILABLE"


# ---- the model: base model, head, checks ------------------------------------------------------------------------
def unwrap(model: nn.Module) -> nn.Module:
    """The PreTrainedModel inside DDP / DeepSpeed (`.module`) and torch.compile (`._orig_mod`) wrappers."""
    while True:
        inner = getattr(model, "module", None) or getattr(model, "_orig_mod", None)
        if not isinstance(inner, nn.Module):
            return model
        model = inner


def lm_head(model: nn.Module) -> tuple[nn.Linear, float | None]:
    """(the output projection, its soft-capping value or None), refusing heads this path cannot reproduce."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    name = type(model).__name__
    if type(head) is not nn.Linear:  # a LoRA- or otherwise wrapped head would be bypassed
        raise InputError(f"logprob_impl chunked needs a plain nn.Linear LM head; {name} has {type(head).__name__}",
                         where="logprob_impl", fix="set logprob_impl: full")
    if getattr(model, "base_model", model) is model:
        raise InputError(f"{name} exposes no base model (base_model_prefix) to take hidden states from",
                         where="logprob_impl", fix="set logprob_impl: full")
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    return head, getattr(config, "final_logit_softcapping", None)


def check_head(model: nn.Module, input_ids: torch.Tensor, n_tokens: int = 16) -> None:
    """Once per model: the model's own logits on a few tokens equal softcap(head(base model hidden states)).

    Catches a model whose forward does more after its head than this path reproduces (a logit scale, a
    temperature), which would otherwise give silently different log-probs.
    """
    if getattr(model, "_prefopt_head_checked", False):
        return
    head, cap = lm_head(model)
    ids = input_ids[:1, :n_tokens]
    was_training = model.training
    model.eval()  # dropout, where still on, would make the two forwards differ
    try:
        with torch.no_grad():
            theirs = model.forward(input_ids=ids, use_cache=False).logits[0].float()
            hidden = model.base_model(input_ids=ids, use_cache=False)[0][0]
    finally:
        model.train(was_training)
    with torch.no_grad():
        with gathered(head.weight, head.bias):
            dtype = _compute_dtype(hidden.device, hidden.dtype)
            ours = _chunk_logits(hidden.to(dtype), head.weight.to(dtype), None if head.bias is None
                                 else head.bias.to(dtype))
        if cap:
            ours = torch.tanh(ours / cap) * cap
    tol = (1e-4 if theirs.dtype == torch.float32 and dtype == torch.float32 else 3e-2) * max(1.0, theirs.abs().max().item())
    diff = (ours - theirs).abs().max().item()
    if diff > tol:
        raise InputError(f"{type(model).__name__}'s logits differ from softcap(lm_head(hidden states)) by {diff:.3g} "
                         "(its forward transforms the logits in a way logprob_impl chunked does not reproduce)",
                         where="logprob_impl", fix="set logprob_impl: full")
    model._prefopt_head_checked = True


def forward_autocast(inner: nn.Module):
    """The autocast the model's own forward runs under: accelerate's native mixed precision (bf16 / fp16 without
    DeepSpeed, one process or DDP) wraps `forward` in it and keeps the original as `_original_forward`
    (Accelerator.prepare_model). The chunked path calls the base model and the head itself, past that wrapper,
    so it enters the same autocast; nothing to enter when the forward is not wrapped."""
    if getattr(inner, "_original_forward", None) is None:
        return contextlib.nullcontext()
    return get_mixed_precision_context_manager(native_amp=True)


def run_inside_forward(wrapper: nn.Module, inner: nn.Module, fn):
    """Call fn() from inside `wrapper`'s forward (DDP, DeepSpeed engine), so the wrapper prepares gradient
    reduction for what fn computes and ZeRO-3's hooks are armed; fn() directly when the model is not wrapped."""
    if wrapper is inner:
        return fn()
    had_own = "forward" in inner.__dict__
    original = inner.forward

    def redirected(*_args, **_kwargs):
        _restore()
        return fn()

    def _restore():
        if had_own:
            inner.forward = original
        else:
            inner.__dict__.pop("forward", None)

    inner.forward = redirected
    try:
        return wrapper()
    finally:
        _restore()


# ---- the pair layouts -------------------------------------------------------------------------------------------
def response_positions(batch: dict) -> tuple[torch.Tensor, ...]:
    """Where each response token is predicted, for either batch layout of `prefopt.logprobs`.

    Returns (row, source position, label, sequence index, number of sequences): the token input_ids[row, t] is
    predicted by the hidden state at (row, source); sequence i < n/2 is pair i's chosen response, i >= n/2 its
    rejected one (the order pair_forward returns them in).
    """
    ids = batch["input_ids"]
    if "segment_ids" in batch:  # SharedPrefixPairCollator: one packed row per pair
        seg = batch["segment_ids"]
        row, col = (seg > 0).nonzero(as_tuple=True)
        source = batch["logit_index"][row, col]
        return row, source, ids[row, col], row + ids.size(0) * (seg[row, col] - 1), 2 * ids.size(0)
    mask = batch["response_mask"].clone()
    mask[:, 0] = 0  # position 0 has no predicting position (pair_forward never scores it either)
    row, col = mask.nonzero(as_tuple=True)
    return row, col - 1, ids[row, col], row, ids.size(0)


def chunked_pair_forward(model, batch: dict, chunk_tokens: int, output_hidden_states: bool = False):
    """`prefopt.modeling.logprobs.pair_forward`'s contract through the base model and ResponseTokenLogps.

    Returns (chosen_logps, rejected_logps, chosen_lengths, rejected_lengths, base model outputs); the outputs carry
    `hidden_states` when asked (the SamS scheduler reads them) and no logits.
    """
    if not isinstance(chunk_tokens, int) or chunk_tokens < 1:
        raise InputError(f"logprob_chunk_tokens must be a positive integer, got {chunk_tokens!r}",
                         where="logprob_chunk_tokens", fix="set logprob_chunk_tokens (e.g. 256)")
    inner = unwrap(model)
    head, cap = lm_head(inner)

    def score():
        with forward_autocast(inner):
            check_head(inner, batch["input_ids"])
            kwargs = {"input_ids": batch["input_ids"], "use_cache": False, "output_hidden_states": output_hidden_states}
            if "segment_ids" in batch:
                kwargs.update(attention_mask=dense_mask(inner, batch["attention_mask"]),
                              position_ids=batch["position_ids"])
            else:
                kwargs["attention_mask"] = batch["attention_mask"]
            out = inner.base_model(**kwargs)
            row, source, labels, seq, n_seq = response_positions(batch)
            hidden = out[0][row, source]
            with gathered(head.weight, head.bias):
                token = ResponseTokenLogps.apply(hidden, head.weight, head.bias, labels, chunk_tokens, cap)
        sums = torch.zeros(n_seq, dtype=torch.float32, device=token.device).index_add(0, seq, token)
        counts = torch.zeros(n_seq, dtype=torch.float32, device=token.device).index_add(0, seq, torch.ones_like(token))
        return sums, counts, out

    sums, counts, out = run_inside_forward(model, inner, score)
    b = sums.size(0) // 2
    return sums[:b], sums[b:], counts[:b], counts[b:], out
