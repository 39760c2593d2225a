"""The one generation entry point (evaluation, on-policy sampling, demos all go through `generate`).

    generate(model, tokenizer, conversations, max_new_tokens=8) -> list[list[str]]

Each conversation (a list of {"role", "content"} messages: the prompt turns) is rendered with the tokenizer's
chat template plus the generation prompt, tokenized with add_special_tokens=False (the template already holds
the one BOS), left-padded and run through HF `model.generate` in batches. Only the new tokens are decoded, with
special tokens skipped, and each text is cut at the first stop string.

Determinism: greedy decoding is deterministic; sampling seeds torch's RNG with `seed` at the start of the call
(inside `torch.random.fork_rng`, so the caller's RNG state is left as it was): the same call on the same
machine gives the same texts. The texts of one prompt depend on the batch it is sampled with, so change
`batch_size` and the samples change too.

`backend="hf"` runs on CPU and GPU; `backend="vllm"` (GPU, vllm installed) takes a model path instead of an
in-memory model and seeds every request, so its samples are not interchangeable with the HF backend's.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence

import torch
from tqdm.auto import tqdm

from prefopt.core.errors import InputError

BACKENDS = ("hf", "vllm")


def _check_conversations(conversations) -> list[list[dict]]:
    convs = list(conversations)
    for i, conv in enumerate(convs):
        if isinstance(conv, str) or not isinstance(conv, Sequence) or not conv:
            raise InputError(
                f"conversation {i} is {type(conv).__name__}, not a non-empty list of messages",
                where="generate(conversations=...)",
                fix='pass [[{"role": "user", "content": "..."}], ...]',
            )
        for m in conv:
            if not isinstance(m, dict) or "role" not in m or "content" not in m:
                raise InputError(f"conversation {i} has a message without role/content: {m!r}", where="generate")
    return [list(c) for c in convs]


def render_prompts(tokenizer, conversations) -> list[list[int]]:
    """Token ids of each conversation's prompt: chat template + generation prompt, no extra special tokens."""
    texts = [
        tokenizer.apply_chat_template(conv, add_generation_prompt=True, tokenize=False)
        for conv in _check_conversations(conversations)
    ]
    return [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]


def cut_at_stop(text: str, stop: Sequence[str] | None) -> str:
    """`text` up to (not including) the earliest occurrence of any stop string."""
    if not stop:
        return text
    cut = len(text)
    for s in stop:
        if s:
            i = text.find(s)
            if i != -1:
                cut = min(cut, i)
    return text[:cut]


def _eos_ids(model, tokenizer) -> list[int]:
    ids = []
    gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for v in (tokenizer.eos_token_id, gen_eos):
        if v is None:
            continue
        for x in v if isinstance(v, (list, tuple)) else [v]:
            if x not in ids:
                ids.append(int(x))
    return ids


def generate(
    model,
    tokenizer,
    conversations,
    *,
    max_new_tokens: int,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_p: float = 1.0,
    top_k: int = 0,
    repetition_penalty: float = 1.0,
    num_return_sequences: int = 1,
    seed: int = 0,
    batch_size: int = 64,
    stop: Sequence[str] | None = None,
    extra_eos_ids: Sequence[int] = (),
    progress: bool = False,
    desc: str | None = None,
    backend: str = "hf",
) -> list[list[str]]:
    """Generate `num_return_sequences` completions per conversation; returns one list of strings per conversation.

    Sampling (do_sample=True) uses only temperature, top_p and top_k (0 = off) as given here; the model's
    generation_config sampling defaults are not used, so a call means the same thing for every model.
    `extra_eos_ids` end an answer besides the tokenizer's and generation config's EOS (an eval config's
    stop_token_ids, e.g. Llama-3's <|eot_id|>).
    repetition_penalty (1.0 = off) applies to greedy decoding and sampling alike (APO's "testing" decoding: 1.05).
    """
    if backend not in BACKENDS:
        raise InputError(f"unknown generation backend {backend!r}", fix=f"use one of {BACKENDS}")
    if backend == "vllm":
        return _generate_vllm(
            model, tokenizer, conversations, max_new_tokens=max_new_tokens, do_sample=do_sample,
            temperature=temperature, top_p=top_p, top_k=top_k, num_return_sequences=num_return_sequences,
            seed=seed, stop=stop, repetition_penalty=repetition_penalty, extra_eos_ids=extra_eos_ids,
        )  # fmt: skip
    if max_new_tokens < 1:
        raise InputError(f"max_new_tokens must be >= 1, got {max_new_tokens}", where="generate")
    if num_return_sequences < 1:
        raise InputError(f"num_return_sequences must be >= 1, got {num_return_sequences}", where="generate")
    if num_return_sequences > 1 and not do_sample:
        raise InputError(
            "num_return_sequences > 1 with greedy decoding would repeat the same text", fix="set do_sample=True"
        )
    if do_sample and temperature <= 0:
        raise InputError(f"temperature must be > 0 when sampling, got {temperature}", fix="use do_sample=False")
    if repetition_penalty <= 0:
        raise InputError(f"repetition_penalty must be > 0, got {repetition_penalty}", fix="use 1.0 to turn it off")
    return _generate_hf(
        model, tokenizer, conversations, max_new_tokens=max_new_tokens, do_sample=do_sample,
        temperature=temperature, top_p=top_p, top_k=top_k, num_return_sequences=num_return_sequences,
        seed=seed, batch_size=batch_size, stop=stop, progress=progress, desc=desc,
        repetition_penalty=repetition_penalty, extra_eos_ids=extra_eos_ids,
    )  # fmt: skip


def _generate_hf(
    model, tokenizer, conversations, *, max_new_tokens, do_sample, temperature, top_p, top_k,
    num_return_sequences, seed, batch_size, stop, progress, desc, repetition_penalty=1.0,
    extra_eos_ids=(),
):  # fmt: skip

    prompts = render_prompts(tokenizer, conversations)
    n = len(prompts)
    if n == 0:
        return []
    pad_id = tokenizer.pad_token_id
    eos_ids = _eos_ids(model, tokenizer)
    eos_ids += [int(t) for t in extra_eos_ids if int(t) not in eos_ids]
    if pad_id is None:
        if not eos_ids:
            raise InputError("the tokenizer has neither a pad nor an eos token", where="generate")
        pad_id = eos_ids[0]

    gen_kwargs = dict(
        max_new_tokens=max_new_tokens,
        do_sample=do_sample,
        num_return_sequences=num_return_sequences,
        pad_token_id=pad_id,
        eos_token_id=eos_ids or None,
    )
    if repetition_penalty != 1.0:
        gen_kwargs["repetition_penalty"] = float(repetition_penalty)
    if do_sample:
        gen_kwargs.update(temperature=float(temperature), top_p=float(top_p), top_k=int(top_k))

    # Longest prompts first: batches hold prompts of similar length (less padding); results go back in order.
    order = sorted(range(n), key=lambda i: (-len(prompts[i]), i))
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    out: list[list[str] | None] = [None] * n

    device = next(model.parameters()).device
    was_training = model.training
    old_side = getattr(tokenizer, "padding_side", "right")
    bar = None
    if progress:
        bar = tqdm(total=n * num_return_sequences, desc=desc or "generate", unit="seq", leave=False)
    rng = torch.random.fork_rng(devices=_rng_devices(device)) if do_sample else contextlib.nullcontext()
    try:
        model.eval()
        tokenizer.padding_side = "left"
        with rng, torch.no_grad():
            if do_sample:
                torch.manual_seed(seed)
            for idx in batches:
                enc = tokenizer.pad({"input_ids": [prompts[i] for i in idx]}, padding=True, return_tensors="pt")
                input_ids = enc["input_ids"].to(device)
                attn = enc["attention_mask"].to(device)
                seqs = model.generate(input_ids=input_ids, attention_mask=attn, **gen_kwargs)
                new = seqs[:, input_ids.shape[1] :].tolist()
                for j, i in enumerate(idx):
                    rows = new[j * num_return_sequences : (j + 1) * num_return_sequences]
                    out[i] = [cut_at_stop(_decode(tokenizer, r, eos_ids, pad_id), stop) for r in rows]
                if bar is not None:
                    bar.update(len(idx) * num_return_sequences)
    finally:
        tokenizer.padding_side = old_side
        model.train(was_training)
        if bar is not None:
            bar.close()
    return out  # type: ignore[return-value]


def _decode(tokenizer, ids: list[int], eos_ids: list[int], pad_id: int) -> str:
    # Everything after the first eos is padding; cut there before decoding.
    for k, t in enumerate(ids):
        if t in eos_ids:
            ids = ids[:k]
            break
    return tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)


def _rng_devices(device) -> list:
    return [device] if getattr(device, "type", "cpu") == "cuda" else []


def _generate_vllm(model, tokenizer, conversations, *, max_new_tokens, do_sample, temperature, top_p, top_k,
                   num_return_sequences, seed, stop, repetition_penalty=1.0, extra_eos_ids=(), **_):
    """vLLM backend (GPU only). `model` is a model path or hub id (or a `vllm.LLM`): vLLM loads its own weights,
    not an in-memory HF model; one engine per path is kept for the process. Prompts are the same token ids as
    the HF backend's (chat template + generation prompt, no extra BOS). Sampling seeds every request with `seed`
    (vLLM's per-request generator, SimPO's SamplingParams(seed=...)), so a prompt's samples do not depend on its
    batch; its RNG differs from HF's, so texts are not interchangeable with backend="hf"."""
    try:
        import vllm  # noqa: PLC0415  (optional, GPU only)
    except ImportError as e:
        raise InputError(
            "backend='vllm' needs the vllm package, which is not installed (it is a GPU-only optional extra)",
            where="generate(backend=...)",
            fix="use backend='hf' (works on CPU and GPU), or install vllm on a CUDA machine",
        ) from e
    if max_new_tokens < 1:
        raise InputError(f"max_new_tokens must be >= 1, got {max_new_tokens}", where="generate")

    if isinstance(model, vllm.LLM):
        llm = model
    elif isinstance(model, (str, os.PathLike)):
        engines = _generate_vllm.__dict__.setdefault("engines", {})  # one engine per model path, for the process
        key = str(model)
        if key not in engines:
            engines[key] = vllm.LLM(model=key, tokenizer=getattr(tokenizer, "name_or_path", None) or key)
        llm = engines[key]
    else:
        raise InputError(
            f"backend='vllm' needs a model path or hub id, not a {type(model).__name__}", where="generate(backend=...)",
            fix="pass the model's folder or hub id as `model` (vLLM loads the weights itself), or use backend='hf'",
        )
    prompts = render_prompts(tokenizer, conversations)
    if not prompts:
        return []
    params = vllm.SamplingParams(
        n=num_return_sequences,
        temperature=float(temperature) if do_sample else 0.0,
        top_p=float(top_p) if do_sample else 1.0,
        top_k=int(top_k) if do_sample and top_k > 0 else -1,
        max_tokens=int(max_new_tokens),
        seed=int(seed) if do_sample else None,
        stop=[s for s in stop if s] if stop else None,
        stop_token_ids=[int(t) for t in extra_eos_ids] or None,
        repetition_penalty=float(repetition_penalty),
        skip_special_tokens=True,
    )
    outs = llm.generate([{"prompt_token_ids": ids} for ids in prompts], params, use_tqdm=False)
    return [[cut_at_stop(o.text, stop) for o in out.outputs] for out in outs]
