"""What the mechanism experiments measure on a trained policy (a model folder or a checkpoint).

- `generation_stats`: judged quality and length of greedy answers, and the mean length of sampled answers
  (sampling at temperature 1 shows the policy's length distribution, which greedy decoding hides: a greedy
  answer only changes length when the stop probability crosses one half).
- `per_pair`: per-pair log-probs of a model on a fixed pair set (prefopt.toy.chain.HeldOutPairs: tokenized once,
  SFT log-probs once), from which every method's implicit reward follows: DPO's beta * log(pi/pi_ref) (summed)
  and SimPO's beta * mean log pi.
- `record_selection`: which pairs a sample scheduler (SamS, random half) selected, flipped or clean.
"""

from __future__ import annotations

import contextlib
import math
import statistics
from pathlib import Path

from transformers import AutoModelForCausalLM, AutoTokenizer

from prefopt.modeling.generate import generate
from prefopt.training.trainer import PreferenceTrainer

from .noise import is_flipped


def _load(model_dir: Path):
    return AutoModelForCausalLM.from_pretrained(model_dir), AutoTokenizer.from_pretrained(model_dir)


def generation_stats(model_dir: Path, task, prompts: list[str], *, n_samples: int, temperature: float,
                     seed: int, length_prompts: int, batch_size: int = 256) -> dict:
    """Greedy quality/length on `prompts`, plus sampled length on the first `length_prompts` of them."""
    model, tok = _load(model_dir)
    convs = task.conversations(prompts)
    greedy = [o[0] for o in generate(model, tok, convs, max_new_tokens=task.max_new_tokens(), batch_size=batch_size)]
    sampled = generate(model, tok, convs[:length_prompts], max_new_tokens=task.max_new_tokens(), do_sample=True,
                       temperature=temperature, num_return_sequences=n_samples, seed=seed, batch_size=batch_size)
    flat = [r for rs in sampled for r in rs]
    sampled_prompts = [p for p, rs in zip(prompts, sampled) for _ in rs]
    return {
        "quality": statistics.fmean(task.judge(p, r) for p, r in zip(prompts, greedy)),
        "greedy_length": statistics.fmean(task.length(r) for r in greedy),
        "sampled_length": statistics.fmean(task.length(r) for r in flat),
        "sampled_quality": statistics.fmean(task.judge(p, r) for p, r in zip(sampled_prompts, flat)),
        "malformed": statistics.fmean(task.split_response(r) is None for r in greedy),
        "n_prompts": len(prompts),
        "n_sampled": len(flat),
    }


def per_pair(pairs, model_dir: Path) -> dict:
    """Per pair of `pairs` (a prefopt.toy.chain.HeldOutPairs, any split): the mean-log-prob margin (SimPO/AMaPO's
    m), the summed log-ratio margin against the SFT model (DPO's h), each response's terms and lengths; lists."""
    pc, pr = (t.double() for t in pairs.logps(model_dir))
    rc, rr = (t.double() for t in pairs.sft_logps)
    lc, lr = pairs.lengths_c.double(), pairs.lengths_r.double()
    return {
        "avg_margin": (pc / lc - pr / lr).tolist(),
        "logratio_margin": ((pc - rc) - (pr - rr)).tolist(),
        "avg_chosen": (pc / lc).tolist(), "avg_rejected": (pr / lr).tolist(),
        "logratio_chosen": (pc - rc).tolist(), "logratio_rejected": (pr - rr).tolist(),
        "len_chosen": lc.tolist(), "len_rejected": lr.tolist(),
    }


@contextlib.contextmanager
def record_selection(tokenizer, judge, tally: dict):
    """While active, every training micro-step of a run with a sample scheduler adds to `tally` how many flipped
    and clean pairs it saw and selected (a flipped pair: `noise.is_flipped` under `judge`).

    Read-only instrumentation of an in-process run: it wraps PreferenceTrainer.compute_loss to read the batch and
    the scheduler's `last_mask` after the step, and changes nothing the trainer computes."""

    for key in ("flipped_seen", "flipped_selected", "clean_seen", "clean_selected"):
        tally.setdefault(key, 0)
    original = PreferenceTrainer.compute_loss

    def compute_loss(self, model, inputs, *args, **kwargs):
        out = original(self, model, inputs, *args, **kwargs)
        hook = self.sample_scheduler
        if hook is not None and model.training and not hook.frozen_policy and hook.last_mask is not None:
            for (prompt, chosen, rejected), selected in zip(_decode_pairs(tokenizer, inputs), hook.last_mask.tolist()):
                kind = "flipped" if is_flipped(judge, prompt, chosen, rejected) else "clean"
                tally[f"{kind}_seen"] += 1
                tally[f"{kind}_selected"] += int(selected)
        return out

    PreferenceTrainer.compute_loss = compute_loss
    try:
        yield tally
    finally:
        PreferenceTrainer.compute_loss = original


def _decode_pairs(tokenizer, inputs) -> list[tuple[str, str, str]]:
    """(prompt, chosen, rejected) texts of a PairCollator batch (rows i < B chosen, i >= B rejected)."""
    ids, attn, resp = (inputs[k].tolist() for k in ("input_ids", "attention_mask", "response_mask"))
    b = len(ids) // 2

    def text(row, keep):
        return tokenizer.decode([t for t, k in zip(ids[row], keep) if k], skip_special_tokens=True)

    out = []
    for i in range(b):
        prompt = text(i, [a and not r for a, r in zip(attn[i], resp[i])])
        out.append((prompt, text(i, resp[i]), text(b + i, resp[b + i])))
    return out


def spearman(x: list[float], y: list[float]) -> float:
    """Spearman rank correlation (average ranks for ties); nan when either side is constant."""
    if len(x) != len(y) or len(x) < 3:
        raise ValueError(f"spearman needs two equally long lists of >= 3 values, got {len(x)} and {len(y)}")

    def ranks(v):
        order = sorted(range(len(v)), key=lambda i: v[i])
        out = [0.0] * len(v)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and v[order[j + 1]] == v[order[i]]:
                j += 1
            for k in range(i, j + 1):
                out[order[k]] = (i + j) / 2
            i = j + 1
        return out

    rx, ry = ranks(x), ranks(y)
    mx, my = statistics.fmean(rx), statistics.fmean(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    vx, vy = sum((a - mx) ** 2 for a in rx), sum((b - my) ** 2 for b in ry)
    return cov / math.sqrt(vx * vy) if vx > 0 and vy > 0 else float("nan")
