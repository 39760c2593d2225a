"""Shared test fixtures: the shared data folder and a small byte-level BPE chat tokenizer.

Nothing here touches a model or dataset hub.
"""

from __future__ import annotations

import logging
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# Nothing is downloaded during tests, however pytest is started (`make test` exports the same variables):
# set before any test module imports huggingface_hub, which reads them once at import.
for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_var, "1")

# ---- shared data (../shared/data beside the checkout) -------------------------------------------

SHARED_DATA_ENV = "PREFOPT_SHARED_DATA"


def shared_data_dir() -> Path:
    """The shared data folder: $PREFOPT_SHARED_DATA, else ../shared/data beside the checkout."""
    env = os.environ.get(SHARED_DATA_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_data_path(name: str) -> Path:
    """Path of `name` inside the shared data folder; skips the calling test when it is absent."""
    path = shared_data_dir() / name
    if not path.exists():
        pytest.skip(
            f"../shared/data/{name} not found: tests with real data need the shared data folder beside the "
            f"checkout (or set {SHARED_DATA_ENV})"
        )
    return path


@pytest.fixture(scope="session")
def shared_data():
    """A function name -> Path inside the shared data folder (skips the test when it is absent)."""
    return shared_data_path


# ---- a tiny byte-level BPE tokenizer with a chat template ---------------------------------------

PAD, BOS, EOS = "<|pad|>", "<|bos|>", "<|eos|>"
SYSTEM, USER, ASSISTANT = "<|system|>", "<|user|>", "<|assistant|>"
SPECIALS = [PAD, BOS, EOS, SYSTEM, USER, ASSISTANT]  # ids 0..5

# One BOS at the start, then <|role|>content<|eos|> per message; the generation prompt is <|assistant|>.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>' + message['content'] + eos_token }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)

_CORPUS = [
    "The quick brown fox jumps over the lazy dog. hello hello hello world, hello there!",
    "Human: how do I cook a steak in the oven? Assistant: Preheat the oven to 400 degrees and season it.",
    "Write a program that prints the numbers from one to ten. Here is a Python program that does this.",
    "I think the answer is yes, because the question asks about the best time of day to do it.",
    "Translate the sentence to French: the doors were open. Pourquoi les portes étaient-elles ouvertes?",
    "Sure, I can help you with that. First, let's look at the problem step by step and then answer.",
    "negative positive neutral sarcastic classify the review of the product into one of the classes",
]


def _train_backend(vocab_size: int = 600):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 20, trainer=trainer)
    return tok


_BACKEND = None


def make_tiny_tokenizer(chat_template: str | None = CHAT_TEMPLATE, *, bos: bool = True):
    """A fresh PreTrainedTokenizerFast over the (cached) trained BPE backend.

    bos=False gives a tokenizer without bos_token (like Qwen's); chat_template=None gives one without a template.
    """
    global _BACKEND
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    if _BACKEND is None:
        _BACKEND = _train_backend()
    backend = Tokenizer.from_str(_BACKEND.to_str())
    kwargs = dict(eos_token=EOS, pad_token=PAD, additional_special_tokens=[SYSTEM, USER, ASSISTANT])
    if bos:
        kwargs["bos_token"] = BOS
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, padding_side="right", **kwargs)
    if chat_template is not None:
        tok.chat_template = chat_template
    return tok


@pytest.fixture(scope="session")
def tiny_tokenizer():
    """Byte-level BPE (~600 tokens) with <|pad|>=0 <|bos|>=1 <|eos|>=2 <|system|>=3 <|user|>=4 <|assistant|>=5."""
    return make_tiny_tokenizer()


# ---- a tiny model and synthetic addition pairs (trainer, KTO, SamS, resume and DDP tests) --------------

def addition_pair_rows(prompts, rng) -> list[dict]:
    """Pairs a randomly initialised model can learn: chosen = the sum, rejected = the sum + one more digit
    (the preference is 'stop after the answer')."""
    from prefopt.toy.addition import AdditionTask

    task, rows = AdditionTask(), []
    for p in prompts:
        a, b = (int(x) for x in p.rstrip("=").split("+"))
        rows.append({"prompt": [{"role": "user", "content": p}],
                     "chosen": [{"role": "assistant", "content": task.answer(a, b)}],
                     "rejected": [{"role": "assistant", "content": task.answer(a, b) + rng.choice("0123456789")}]})
    return rows


def tiny_model_and_pairs(root, n_train: int, n_test: int = 0):
    """(model_dir, data_dir): the 0.2M char-level tiny Llama built in root/tiny, and root/pairs/{train,test}.jsonl
    from the first n_train 'pairs' prompts and the first n_test 'val' prompts (one rng, seed 0, train first)."""
    import json
    import random

    from prefopt.toy.addition import AdditionTask
    from prefopt.toy.tiny import build_tiny

    model_dir = build_tiny("0.2m", "char", cache_dir=root / "tiny")
    splits, rng = AdditionTask().splits(), random.Random(0)
    data = root / "pairs"
    data.mkdir(exist_ok=True)
    for name, prompts in (("train", splits["pairs"][:n_train]), ("test", splits["val"][:n_test])):
        if prompts:
            with open(data / f"{name}.jsonl", "w") as f:
                for r in addition_pair_rows(prompts, rng):
                    f.write(json.dumps(r) + "\n")
    return model_dir, data


# ---- make dry runs --------------------------------------------------------------------------------------

def make_dry_run(*args: str) -> str:
    """stdout of `make -n <args>` in the checkout (skips the test when make is missing; fails on an error)."""
    if shutil.which("make") is None:
        pytest.skip("make not installed")
    out = subprocess.run(["make", "-n", "--no-print-directory", *args], cwd=Path(__file__).resolve().parents[1],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


# ---- scripts/run_po.py in this process ------------------------------------------------------------------

RUN_PO = Path(__file__).resolve().parents[1] / "scripts" / "run_po.py"


def run_po_in_process(argv: list[str], capsys, caplog) -> tuple[int, str]:
    """Run scripts/run_po.py with `argv` as `__main__` in this process: (exit code, stderr + the prefopt log).

    In-process so a test sees the exact message a user sees without paying a fresh interpreter's imports."""
    saved = sys.argv
    sys.argv = [str(RUN_PO), *argv]
    try:
        with caplog.at_level(logging.INFO, logger="prefopt"):
            runpy.run_path(str(RUN_PO), run_name="__main__")
        rc = 0
    except SystemExit as e:
        rc = e.code or 0
    finally:
        sys.argv = saved
    return rc, capsys.readouterr().err + "\n" + caplog.text  # counts of dropped/truncated rows go to the log
