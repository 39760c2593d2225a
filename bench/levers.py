"""Speed/memory levers, each measurable by switching it OFF (or an optional one ON) in a bench worker.

The trainer ships with the kept levers on; each variant below restores the slower textbook form (or turns on
an optional one), so `--levers` measures what every lever is worth against the shipped code, side by side.
A variant only patches the worker process it runs in.

    kept          the shipped code: one concatenated forward, response log-probs through the chunked path
                  (config logprob_impl: chunked, prefopt.modeling.fused_logprobs: the head over response positions only,
                  no (2B, T, V) logits), cached reference log-probs (no reference model in memory)
    full_logits   logprob_impl: full: the model's own forward and (2B, T, V) logits, with the full path's own
                  levers kept (label log-prob = logit - logsumexp, shifted logits as a view)
    chunk_checkpoint  the chunked path with per-chunk activation checkpointing instead of its custom autograd
                  function (the alternative the function was measured against)
    The next four act on the full path, so they run with logprob_impl: full; compare them with full_logits:
    log_softmax   label log-probs via log_softmax(logits).gather (a second (2B, T, V) tensor, kept for backward)
    contiguous    shifted logits copied with .contiguous() before the logsumexp (as TRL's CPO/older DPO do)
    two_forwards  chosen and rejected in two forwards instead of one concatenated one
    row_chunks    logsumexp over row chunks (config `logp_chunk_size` = the batch's pair count): bounds the
                  logsumexp's (2B, T, V) temporaries to one chunk
    compile       torch.compile of the policy (optional; pays only when steps amortise compilation)

Padding-free batching is not a variant: on CPU the only attention kernels are eager/sdpa, which need a dense
(padded or block-diagonal) mask; the bench reports the padding fraction of the batches instead, the most a
padding-free path could save.
"""

from __future__ import annotations

import torch

VARIANTS = ("kept", "full_logits", "chunk_checkpoint", "log_softmax", "contiguous", "two_forwards", "row_chunks",
            "compile")
FULL = {"logprob_impl": "full"}


def _log_softmax_token_logps(logits, input_ids, chunk_size=0):
    logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    return torch.gather(logp, 2, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)


def _contiguous_token_logps(logits, input_ids, chunk_size=0):
    shifted = logits[:, :-1].contiguous()  # the copy the kept code avoids; the rest is the kept formula
    picked = torch.gather(shifted, 2, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    return picked.float() - torch.logsumexp(shifted.float(), dim=-1)


def _two_forwards(model, batch, chunk_size=0, output_hidden_states=False):
    """prefopt.modeling.logprobs.pair_forward's contract, with one forward per half of the batch."""
    import prefopt.modeling.logprobs as lp  # noqa: PLC0415

    b = batch["input_ids"].size(0) // 2
    halves = []
    for rows in (slice(0, b), slice(b, None)):
        out = model(input_ids=batch["input_ids"][rows], attention_mask=batch["attention_mask"][rows],
                    use_cache=False, output_hidden_states=output_hidden_states)
        halves.append((*lp.sequence_logps(out.logits, batch["input_ids"][rows], batch["response_mask"][rows],
                                          chunk_size), out))
    (chosen, len_c, out), (rejected, len_r, _) = halves
    return chosen, rejected, len_c, len_r, out


def apply(variant: str, pairs: int) -> dict:
    """Patch this process for `variant`; return the config overrides it needs (config-level levers)."""
    import prefopt.modeling.fused_logprobs as fl
    import prefopt.modeling.logprobs as lp
    import prefopt.training.trainer as tr

    if variant not in VARIANTS:
        raise ValueError(f"unknown lever variant {variant!r}: use one of {VARIANTS}")
    if variant == "full_logits":
        return FULL
    if variant == "chunk_checkpoint":
        fl.ResponseTokenLogps.apply = staticmethod(fl.token_logps_checkpointed)
    elif variant == "log_softmax":
        lp.token_logps = _log_softmax_token_logps
        return FULL
    elif variant == "contiguous":
        lp.token_logps = _contiguous_token_logps
        return FULL
    elif variant == "two_forwards":
        tr.pair_forward = _two_forwards
        return FULL
    elif variant == "row_chunks":
        return {"logp_chunk_size": pairs, **FULL}
    return {}
