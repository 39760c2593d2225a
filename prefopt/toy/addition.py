"""The embedded default task: 2-digit addition with a rule judge and deliberately flawed SFT data.

Prompt (the user message): "47+38=". Answer (the assistant message): "85". The judge gives 1.0 when the
response, stripped of whitespace, is exactly the sum, else 0.0.

The SFT data carries a systematic error on purpose, as real SFT data does: in `carry_drop` (60%) of the
problems with a carry out of the units column, the answer drops that carry (47+38 -> "75" instead of "85").
An SFT model then gets most no-carry problems right and most carry problems wrong (~0.6 held-out accuracy);
on-policy pairs judged by the rule (chosen = best sample, rejected = worst) let DPO/SimPO fix the carries.

`splits()` gives disjoint prompt sets: sft (SFT data), pairs (prompts for on-policy sampling), val (for
picking step budgets / curves) and test (held out, for the reported accuracy).
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Callable, Sequence

from prefopt.core.errors import InputError
from prefopt.modeling.generate import generate

_PROMPT_RE = re.compile(r"^\s*(\d+)\s*\+\s*(\d+)\s*=\s*$")


def has_carry(a: int, b: int) -> bool:
    """True when some column except the leftmost one carries into the next (for 2 digits: units sum >= 10)."""
    while a >= 10 or b >= 10:  # a column that has a column to its left
        if a % 10 + b % 10 >= 10:
            return True
        a, b = a // 10, b // 10
    return False


def carry_dropped(a: int, b: int) -> int:
    """The sum with every carry between columns dropped; the leftmost column is written in full.
    47+38 -> 75, 95+17 -> 102 (true sums 85 and 112)."""
    digits, place = 0, 1
    while a >= 10 or b >= 10:
        digits += ((a % 10 + b % 10) % 10) * place
        a, b, place = a // 10, b // 10, place * 10
    return digits + (a + b) * place


def parse_prompt(prompt) -> tuple[int, int]:
    """(a, b) from "a+b=" (or from a message list: its last user message). Raises InputError otherwise."""
    text = _prompt_text(prompt)
    m = _PROMPT_RE.match(text) if text is not None else None
    if m is None:
        raise InputError(f"not an addition prompt: {prompt!r}", fix='prompts look like "47+38="')
    return int(m.group(1)), int(m.group(2))


def _prompt_text(prompt) -> str | None:
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, Sequence):  # a message list
        for msg in reversed(list(prompt)):
            if isinstance(msg, dict) and msg.get("role") == "user" and isinstance(msg.get("content"), str):
                return msg["content"]
    return None


def response_text(response) -> str | None:
    if isinstance(response, str):
        return response
    if isinstance(response, Sequence) and response:  # [{"role": "assistant", "content": ...}]
        last = response[-1]
        if isinstance(last, dict) and isinstance(last.get("content"), str):
            return last["content"]
    return None


def is_carry_prompt(prompt) -> bool:
    return has_carry(*parse_prompt(prompt))


@dataclasses.dataclass
class AdditionTask:
    digits: int = 2
    carry_drop: float = 0.6
    seed: int = 0  # default seed of splits() and sft_rows()
    n_pairs: int = 600
    n_val: int = 200
    n_test: int = 500
    n_sft: int | None = None  # None: every remaining problem

    def __post_init__(self):
        if self.digits < 1:
            raise InputError(f"digits must be >= 1, got {self.digits}")
        if not 0.0 <= self.carry_drop <= 1.0:
            raise InputError(f"carry_drop must be in [0, 1], got {self.carry_drop}")

    # --- problems ------------------------------------------------------------------------------------------
    @property
    def operand_range(self) -> range:
        lo = 10 ** (self.digits - 1) if self.digits > 1 else 0
        return range(lo, 10**self.digits)

    def all_problems(self) -> list[tuple[int, int]]:
        r = self.operand_range
        return [(a, b) for a in r for b in r]

    def prompt(self, a: int, b: int) -> str:
        return f"{a}+{b}="

    def answer(self, a: int, b: int) -> str:
        return str(a + b)

    def flawed_answer(self, a: int, b: int) -> str:
        return str(carry_dropped(a, b))

    def max_new_tokens(self) -> int:
        """Tokens a char-level answer needs: digits of the largest sum + eos."""
        return self.digits + 2

    def judge(self, prompt, response) -> float:
        """1.0 if `response` (stripped) is exactly the sum asked for by `prompt`, else 0.0. Never raises on a
        bad response (None, non-string, garbage); an unparsable prompt is a caller bug and raises InputError."""
        a, b = parse_prompt(prompt)
        text = response_text(response)
        if text is None:
            return 0.0
        return 1.0 if text.strip() == self.answer(a, b) else 0.0

    def graded(self, prompt, response) -> float:
        """Partial credit: 1.0 for the exact answer, else the share of digits right when aligned from the units
        (always < 1), so a near miss ranks above garbage (the graded judge of on-policy annotation)."""
        exact = self.judge(prompt, response)
        text = response_text(response)
        if exact == 1.0 or text is None:
            return exact
        answer, text = self.answer(*parse_prompt(prompt)), text.strip()
        hits = sum(a == b for a, b in zip(reversed(answer), reversed(text)))
        return hits / (max(len(answer), len(text)) + 1)

    def accuracy(self, model, tokenizer, prompts, **kwargs) -> dict:
        """Greedy accuracy on `prompts` with the carry / no-carry breakdown (module function `accuracy`)."""
        return accuracy(model, tokenizer, prompts, self, **kwargs)

    # --- data ----------------------------------------------------------------------------------------------
    def splits(self, seed: int | None = None) -> dict[str, list[str]]:
        """Disjoint prompt lists {"sft", "pairs", "val", "test"}, deterministic given the seed."""
        seed = self.seed if seed is None else seed
        problems = self.all_problems()
        need = self.n_pairs + self.n_val + self.n_test + (self.n_sft or 1)
        if need > len(problems):
            raise InputError(f"{need} prompts asked for, but {self.digits}-digit addition has {len(problems)}")
        random.Random(f"addition-splits-{self.digits}-{seed}").shuffle(problems)
        out, k = {}, 0
        for name, size in (("test", self.n_test), ("val", self.n_val), ("pairs", self.n_pairs)):
            out[name] = [self.prompt(a, b) for a, b in problems[k : k + size]]
            k += size
        rest = problems[k:] if self.n_sft is None else problems[k : k + self.n_sft]
        out["sft"] = [self.prompt(a, b) for a, b in rest]
        return {name: out[name] for name in ("sft", "pairs", "val", "test")}

    def sft_rows(self, prompts: Sequence[str] | None = None, seed: int | None = None) -> tuple[list[dict], dict]:
        """SFT rows {"messages": [user prompt, assistant answer]} with the carry-drop flaw, and stats.

        Exactly round(carry_drop * n_carry) of the carry problems (chosen with the seed) get the carry-dropped
        answer. prompts defaults to splits(seed)["sft"]. stats: n_rows, n_carry, n_flawed, flawed_rate_in_carry,
        flawed (indices of the flawed rows)."""
        seed = self.seed if seed is None else seed
        if prompts is None:
            prompts = self.splits(seed)["sft"]
        problems = [parse_prompt(p) for p in prompts]
        carry_idx = [i for i, (a, b) in enumerate(problems) if has_carry(a, b)]
        n_flawed = round(self.carry_drop * len(carry_idx))
        flawed = set(random.Random(f"addition-flaw-{seed}").sample(carry_idx, n_flawed))
        rows = []
        for i, (p, (a, b)) in enumerate(zip(prompts, problems)):
            ans = self.flawed_answer(a, b) if i in flawed else self.answer(a, b)
            rows.append({"messages": [{"role": "user", "content": p}, {"role": "assistant", "content": ans}]})
        stats = {
            "n_rows": len(rows),
            "n_carry": len(carry_idx),
            "n_flawed": n_flawed,
            "flawed_rate_in_carry": n_flawed / len(carry_idx) if carry_idx else 0.0,
            "flawed": sorted(flawed),
        }
        return rows, stats

    def conversations(self, prompts: Sequence[str]) -> list[list[dict]]:
        """Prompt turns for generate(): [[{"role": "user", "content": p}], ...]."""
        return [[{"role": "user", "content": p}] for p in prompts]


# ----------------------------------------------------------------------------------------------------------
# on-policy pairs
# ----------------------------------------------------------------------------------------------------------
def build_onpolicy_pairs(
    prompts: Sequence, samples: Sequence[Sequence[str]], judge: Callable[[str, str], float]
) -> tuple[list[dict], dict]:
    """Preference pairs from scored samples: chosen = best-scored sample, rejected = worst-scored (first
    occurrence wins ties). Prompts whose samples all score the same give no pair and are counted; empty samples are never used.

    prompts[i]: a prompt string (or a message list, whose last user message is used); samples[i]: the
    responses sampled for it; judge(prompt_text, response) -> float.
    Rows: {"prompt": [{"role": "user", ...}], "chosen": [{"role": "assistant", ...}], "rejected": [...]}.
    stats: n_prompts, n_pairs, n_no_difference, n_samples, mean_score, mean_chosen_score, mean_rejected_score."""
    if len(prompts) != len(samples):
        raise InputError(f"{len(prompts)} prompts but {len(samples)} sample lists", where="build_onpolicy_pairs")
    rows, n_same, n_empty, all_scores, ch_scores, rj_scores = [], 0, 0, [], [], []
    for i, (prompt, resps) in enumerate(zip(prompts, samples)):
        if isinstance(resps, str) or len(resps) == 0:
            raise InputError(f"samples[{i}] must be a non-empty list of strings", where="build_onpolicy_pairs")
        text = _prompt_text(prompt)
        if text is None:
            raise InputError(f"prompts[{i}] has no user message: {prompt!r}", where="build_onpolicy_pairs")
        scores = [float(judge(text, r)) for r in resps]
        all_scores.extend(scores)
        # An empty sample (the model stopped at once) is a wrong answer, but an empty response is invalid
        # training data for every loss (no response tokens to score), so it never becomes chosen or
        # rejected; such samples are counted in n_empty_samples.
        usable = [k for k, r in enumerate(resps) if r.strip()]
        n_empty += len(resps) - len(usable)
        if not usable:
            n_same += 1
            continue
        best = max(usable, key=lambda k: (scores[k], -k))
        worst = min(usable, key=lambda k: (scores[k], k))
        if scores[best] == scores[worst]:
            n_same += 1
            continue
        prompt_msgs = list(prompt) if not isinstance(prompt, str) else [{"role": "user", "content": text}]
        rows.append(
            {
                "prompt": prompt_msgs,
                "chosen": [{"role": "assistant", "content": resps[best]}],
                "rejected": [{"role": "assistant", "content": resps[worst]}],
            }
        )
        ch_scores.append(scores[best])
        rj_scores.append(scores[worst])

    def _mean(x):
        return sum(x) / len(x) if x else float("nan")

    stats = {
        "n_prompts": len(prompts),
        "n_pairs": len(rows),
        "n_no_difference": n_same,
        "n_empty_samples": n_empty,
        "n_samples": len(all_scores),
        "mean_score": _mean(all_scores),
        "mean_chosen_score": _mean(ch_scores),
        "mean_rejected_score": _mean(rj_scores),
    }
    return rows, stats


# ----------------------------------------------------------------------------------------------------------
# evaluation
# ----------------------------------------------------------------------------------------------------------
def carry_stats(prompts: Sequence[str], responses: Sequence[str], task: AdditionTask | None = None) -> dict:
    """Accuracy overall and split into carry / no-carry problems, plus how often a carry problem was answered
    with exactly the carry-dropped answer (the SFT flaw) -- the number that explains SFT vs preference results."""
    task = task or AdditionTask()
    if len(prompts) != len(responses):
        raise InputError(f"{len(prompts)} prompts but {len(responses)} responses", where="carry_stats")
    n = {"carry": 0, "no_carry": 0}
    ok = {"carry": 0.0, "no_carry": 0.0}
    dropped = 0
    for p, r in zip(prompts, responses):
        a, b = parse_prompt(p)
        kind = "carry" if has_carry(a, b) else "no_carry"
        s = task.judge(p, r)
        n[kind] += 1
        ok[kind] += s
        text = response_text(r)
        if kind == "carry" and text is not None and text.strip() == task.flawed_answer(a, b):
            dropped += 1

    def _rate(x, d):
        return x / d if d else float("nan")

    total = n["carry"] + n["no_carry"]
    return {
        "accuracy": _rate(ok["carry"] + ok["no_carry"], total),
        "carry_accuracy": _rate(ok["carry"], n["carry"]),
        "no_carry_accuracy": _rate(ok["no_carry"], n["no_carry"]),
        "carry_dropped_rate": _rate(dropped, n["carry"]),
        "n": total,
        "n_carry": n["carry"],
        "n_no_carry": n["no_carry"],
    }


def accuracy(
    model,
    tokenizer,
    prompts: Sequence[str],
    task: AdditionTask | None = None,
    *,
    batch_size: int = 256,
    progress: bool = False,
    return_responses: bool = False,
) -> dict:
    """Greedy accuracy of `model` on `prompts` (via prefopt.modeling.generate), with the carry / no-carry breakdown."""
    task = task or AdditionTask()
    outs = generate(
        model,
        tokenizer,
        task.conversations(prompts),
        max_new_tokens=task.max_new_tokens(),
        batch_size=batch_size,
        progress=progress,
        desc="accuracy",
    )
    responses = [o[0] for o in outs]
    result = carry_stats(prompts, responses, task)
    if return_responses:
        result["responses"] = responses
    return result


