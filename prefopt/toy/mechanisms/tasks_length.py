"""Padded addition: the embedded addition task with optional verbose padding, and a length-biased labeller.

Answers are the sum followed by 0..max_pad filler characters ("47+38=" -> "85", "85...", ...). The padding
carries no information, so it is the controlled stand-in for verbosity: the quality judge ignores it, while the
length-biased labeller (the stand-in for a preference annotator with a verbosity bias, as UltraFeedback's GPT-4
labels are reported to have) prefers, between two answers of equal quality, the longer one.

    task = PaddedAdditionTask()
    task.judge("47+38=", "85...")      -> 1.0  (quality: the number is right, padding ignored)
    task.judge("47+38=", "85.x")       -> 0.0  (anything but filler after the number is wrong)
    LengthBiasedLabeller(task).score("47+38=", "85...") -> 1 + 3/task.max_new_tokens()

The SFT data keeps the embedded task's carry-drop flaw (so on-policy samples differ in quality) and draws the
padding of every row uniformly from 0..max_pad (so samples differ in length, independently of quality).
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Sequence

from prefopt.core.errors import InputError
from prefopt.toy.addition import AdditionTask, parse_prompt, response_text
from prefopt.toy.tiny import DEFAULT_ALPHABET


@dataclasses.dataclass
class PaddedAdditionTask(AdditionTask):
    filler: str = "."
    max_pad: int = 6
    # Generation budget beyond the SFT data's longest answer, so that a policy that learned to lengthen its
    # answers is not cut off at the length it was trained on (the lengthening is what claims 1-2 measure).
    extra_new_tokens: int = 6

    def __post_init__(self):
        super().__post_init__()
        if len(self.filler) != 1 or self.filler.isdigit() or self.filler in "+=":
            raise InputError(f"filler must be one character other than a digit, '+' or '=', got {self.filler!r}")
        if self.max_pad < 1 or self.extra_new_tokens < 0:
            raise InputError(f"max_pad must be >= 1 and extra_new_tokens >= 0, got {self.max_pad}, "
                             f"{self.extra_new_tokens}")
        self._answer_re = re.compile(rf"^(\d+)({re.escape(self.filler)}*)$")

    @property
    def alphabet(self) -> str:
        """Characters of the char-level tiny tokenizer this task needs."""
        return DEFAULT_ALPHABET + self.filler

    def max_new_tokens(self) -> int:
        return super().max_new_tokens() + self.max_pad + self.extra_new_tokens

    def padded(self, answer: str, pad: int) -> str:
        return answer + self.filler * pad

    def split_response(self, response) -> tuple[str, int] | None:
        """(number text, padding length) of a well-formed response, else None."""
        text = response_text(response)
        m = self._answer_re.match(text.strip()) if text is not None else None
        return (m.group(1), len(m.group(2))) if m else None

    def judge(self, prompt, response) -> float:
        """Quality: 1.0 when the number is exactly the sum and only filler follows it, else 0.0."""
        a, b = parse_prompt(prompt)
        parts = self.split_response(response)
        return 1.0 if parts is not None and parts[0] == self.answer(a, b) else 0.0

    def length(self, response) -> int:
        """Characters of the stripped response (= response tokens without EOS under the char tokenizer)."""
        text = response_text(response)
        return len(text.strip()) if text is not None else 0

    def sft_rows(self, prompts: Sequence[str] | None = None, seed: int | None = None) -> tuple[list[dict], dict]:
        """The embedded task's flawed SFT rows, each answer padded with Uniform{0..max_pad} filler characters."""
        seed = self.seed if seed is None else seed
        rows, stats = super().sft_rows(prompts, seed)
        rng = random.Random(f"addition-padding-{seed}")
        pads = []
        for row in rows:
            pad = rng.randint(0, self.max_pad)
            pads.append(pad)
            row["messages"][1]["content"] = self.padded(row["messages"][1]["content"], pad)
        stats["mean_pad"] = sum(pads) / len(pads) if pads else 0.0
        return rows, stats


@dataclasses.dataclass
class LengthBiasedLabeller:
    """Preference score = quality + length_weight * pad / task.max_new_tokens().

    A generated answer has fewer than max_new_tokens() filler characters, so with length_weight <= 1 the length
    term is below 1 and quality always
    wins and length only breaks ties in quality (a verbosity bias, not a length preference over correctness).
    Malformed answers get no length credit."""

    task: PaddedAdditionTask
    length_weight: float = 1.0

    def __post_init__(self):
        if not 0.0 <= self.length_weight <= 1.0:
            raise InputError(f"length_weight must be in [0, 1], got {self.length_weight}",
                             fix="a weight above 1 would let padding outrank correctness")

    def score(self, prompt, response) -> float:
        quality = self.task.judge(prompt, response)
        parts = self.task.split_response(response)
        pad = parts[1] if parts is not None else 0
        return quality + self.length_weight * pad / self.task.max_new_tokens()
