"""Deterministic, offline tiny Llama-architecture causal LMs (the embedded default models).

`build_tiny(size, tokenizer)` writes an ordinary Hugging Face folder (config.json, generation_config.json,
model.safetensors, tokenizer.json, tokenizer_config.json, chat_template.jinja) that
`AutoModelForCausalLM.from_pretrained(path)` and `AutoTokenizer.from_pretrained(path)` load with
HF_HUB_OFFLINE=1, under transformers 5.x and 4.5x. Nothing is downloaded.

Two tokenizer kinds, both `PreTrainedTokenizerFast` built with the `tokenizers` library:
- "char": one token per character of a small alphabet (default: digits, '+', '='), for the addition task;
  characters outside the alphabet become `<|unk|>`.
- "bpe": byte-level BPE trained on a corpus (default: a built-in synthetic English-like corpus); it encodes
  any UTF-8 text with no unknown tokens.

Special tokens (same ids in both kinds): <|pad|>=0, <|bos|>=1, <|eos|>=2, <|system|>=3, <|user|>=4,
<|assistant|>=5 (and <|unk|>=6 for "char"). The tokenizer never adds BOS/EOS by itself; the chat template
renders exactly one BOS:

    <|bos|><|user|>47+38=<|eos|><|assistant|>85<|eos|>

Builds are cached: the folder name is a hash of the full spec (dimensions, tokenizer kind, alphabet or corpus
hash, vocab size, seed, format version). A folder counts as built only once its completion marker (written last)
exists; builds go to a temporary folder that is renamed into place, so a killed build never leaves a folder that
looks complete.

CLI: python -m prefopt.toy.tiny --size 1m --tokenizer char [--out DIR] [--cache-dir DIR] [--corpus FILE] [--seed N]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import os
import random
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import torch
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
)
from transformers.utils import logging as hf_logging

from prefopt.core import cachefs
from prefopt.core.cachefs import build_once, read_meta
from prefopt.core.dist import build_in_fresh_process, in_distributed_run
from prefopt.core.errors import InputError
from prefopt.core.paths import cache_dir

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1  # bump whenever the bytes a build writes change, so stale cache folders are not reused
MARKER = ".prefopt_tiny_complete"  # written last; its content is the spec (JSON)
BUILDS = 0  # how many folders this process has actually built (cache hits do not count); used by tests

PAD, BOS, EOS = "<|pad|>", "<|bos|>", "<|eos|>"
SYSTEM, USER, ASSISTANT = "<|system|>", "<|user|>", "<|assistant|>"
UNK = "<|unk|>"
SPECIAL_TOKENS = [PAD, BOS, EOS, SYSTEM, USER, ASSISTANT]  # ids 0..5 in every tiny tokenizer
ROLES = ("system", "user", "assistant")
DEFAULT_ALPHABET = "0123456789+="

# One BOS, then <|role|>content<|eos|> per message; add_generation_prompt appends <|assistant|>.
# The template is prefix-consistent: rendering the prompt with add_generation_prompt=True is a prefix of
# rendering prompt + assistant reply, which is what response masking needs.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] not in ['system', 'user', 'assistant'] %}"
    "{{ raise_exception('unknown role ' + message['role'] + ': use system, user or assistant') }}"
    "{% endif %}"
    "{{ '<|' + message['role'] + '|>' + message['content'] + eos_token }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)


@dataclasses.dataclass(frozen=True)
class TinySize:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    bpe_vocab: int  # default vocabulary size for the "bpe" tokenizer
    max_positions: int = 2048


# Parameter counts (tied embeddings): 0.2m: 0.13M char / 0.20M bpe; 1m: 1.05M char; 10m: 10.2M bpe;
# 40m: 40.1M bpe; 0.5b: 481M bpe (the GPU bench size, `bench/preference.py --device cuda`; ~2 GB on disk).
# `count_params` computes them without building anything.
SIZES: dict[str, TinySize] = {
    "0.2m": TinySize(hidden=64, layers=2, heads=4, intermediate=256, bpe_vocab=1024),
    "1m": TinySize(hidden=128, layers=4, heads=4, intermediate=512, bpe_vocab=2048),
    "10m": TinySize(hidden=384, layers=4, heads=6, intermediate=1536, bpe_vocab=2048),
    "40m": TinySize(hidden=512, layers=10, heads=8, intermediate=1792, bpe_vocab=4096),
    "0.5b": TinySize(hidden=1280, layers=24, heads=20, intermediate=3456, bpe_vocab=4096),
}


# ----------------------------------------------------------------------------------------------------------
# default corpus for the byte-level BPE tokenizer
# ----------------------------------------------------------------------------------------------------------
_WORDS = (
    "the a an and or but if then else when while of to in on at for with from by about as into over under "
    "is are was were be been being have has had do does did can could will would should may might must "
    "i you he she it we they me him her us them my your his its our their this that these those what which "
    "who whom whose why how where there here not no yes all any some each every many much more most few "
    "one two three four five six seven eight nine ten hundred thousand first second last next new old good "
    "bad great small large big long short high low right left best better worse same other own such only "
    "time year day week way people man woman child world life hand part place case point group number "
    "question answer problem fact system program question work home water story money book word example "
    "please help explain write list describe give make tell find use provide create summarize translate "
    "compare analyze suggest think know want need like say get go see come take look feel try call keep "
    "helpful harmful polite rude honest safe clear simple correct wrong true false code data model text "
    "function python list string value error result step reason because therefore however also just very"
).split()
_SYLLABLES = (
    "ka lo mi nu pe ra si to vu xe ba do fi gu he ja ko li mo ne pa qu re sa ti un ve wo ya zi "
    "ar en ir on ul st th ch sh tr pl gr"
).split()
_PUNCT = [".", ".", ".", "?", "!", ",", ":", ";"]


def default_corpus(n: int = 6000, seed: int = 0) -> list[str]:
    """A deterministic English-like corpus: common words, pseudo-words (so BPE has enough merges to learn a
    few thousand tokens), capitalisation, numbers, punctuation, some code and a little non-ASCII text."""
    rng = random.Random(seed)
    pseudo = ["".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 3))) for _ in range(3000)]
    extras = ["café", "naïve", "über", "año", "日本語", "привет", "—", "€", "°C", "🙂"]
    lines = []
    for i in range(n):
        k = rng.random()
        if k < 0.08:
            name = rng.choice(pseudo)
            lines.append(f"def {name}(x, y=1):\n    return [x * y for _ in range({rng.randint(1, 99)})]\n")
            continue
        words = []
        for _ in range(rng.randint(5, 30)):
            r = rng.random()
            if r < 0.55:
                w = rng.choice(_WORDS)
            elif r < 0.93:
                w = rng.choice(pseudo)
            elif r < 0.98:
                w = str(rng.randint(0, 2000))
            else:
                w = rng.choice(extras)
            if rng.random() < 0.05:
                w = w.capitalize()
            words.append(w)
        words[0] = words[0].capitalize()
        sep = "\n" if i % 7 == 0 else " "
        lines.append(" ".join(words) + rng.choice(_PUNCT) + sep)
    return lines


# ----------------------------------------------------------------------------------------------------------
# spec, hashing, cache
# ----------------------------------------------------------------------------------------------------------
def default_cache_dir() -> Path:
    """$PREFOPT_CACHE/tiny, else <repo>/.cache/tiny (prefopt.core.paths)."""
    return cache_dir("tiny")


def resolve_name(rest: str) -> Path:
    """The builder behind model names `tiny:<size>/<task>` (prefopt.core.plugins.MODEL_SCHEMES): the folder of
    the tiny model, built once. Verifiable tasks need digit-level tokens (a character tokenizer); general text
    gets byte-level BPE."""
    size, _, task = rest.partition("/")
    if size not in SIZES:
        raise InputError(f"unknown tiny size {size!r} in 'tiny:{rest}'", fix=f"use one of: {', '.join(SIZES)}")
    tokenizer = "char" if task == "addition" else "bpe"
    if in_distributed_run():  # a rank cannot save a model in-process (dist.in_distributed_run); cached after
        build_in_fresh_process("prefopt.toy.tiny", ["--size", size, "--tokenizer", tokenizer,
                                                    "--cache-dir", str(default_cache_dir())])
    return build_tiny(size, tokenizer)


def _load_corpus(corpus) -> list[str]:
    if corpus is None:
        return default_corpus()
    if isinstance(corpus, (str, os.PathLike)):
        p = Path(corpus)
        if not p.is_file():
            raise InputError(
                f"corpus file {str(corpus)!r} does not exist",
                where="build_tiny(corpus=...)",
                fix="pass a path to a UTF-8 text file, or a list of strings",
            )
        return p.read_text(encoding="utf-8").splitlines(keepends=True)
    texts = list(corpus)
    if not texts or not all(isinstance(t, str) for t in texts):
        raise InputError("corpus must be a non-empty iterable of strings", where="build_tiny(corpus=...)")
    return texts


def _sha(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=True).encode()).hexdigest()


def _corpus_hash(texts: list[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        b = t.encode("utf-8")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def make_spec(
    size: str = "1m",
    tokenizer: str = "char",
    *,
    corpus=None,
    alphabet: str | None = None,
    vocab_size: int | None = None,
    seed: int = 0,
) -> tuple[dict, list[str] | None]:
    """The full build spec (JSON-able) and, for "bpe", the loaded corpus texts."""
    if size not in SIZES:
        raise InputError(f"unknown tiny size {size!r}", fix=f"use one of {sorted(SIZES)}")
    dims = SIZES[size]
    spec = {
        "format_version": FORMAT_VERSION,
        "size": size,
        "dims": dataclasses.asdict(dims),
        "tokenizer": tokenizer,
        "seed": int(seed),
        "tie_word_embeddings": True,
    }
    texts = None
    if tokenizer == "char":
        if corpus is not None:
            raise InputError("corpus is only used by the 'bpe' tokenizer", fix="pass alphabet= for 'char'")
        alpha = DEFAULT_ALPHABET if alphabet is None else alphabet
        if not alpha or len(set(alpha)) != len(alpha):
            raise InputError(f"alphabet {alpha!r} must be non-empty with no repeated characters")
        spec["alphabet"] = alpha
    elif tokenizer == "bpe":
        if alphabet is not None:
            raise InputError("alphabet is only used by the 'char' tokenizer", fix="pass corpus= for 'bpe'")
        texts = _load_corpus(corpus)
        spec["corpus_sha256"] = _corpus_hash(texts)
        spec["bpe_vocab"] = int(vocab_size or dims.bpe_vocab)
        if spec["bpe_vocab"] < 256 + len(SPECIAL_TOKENS):
            raise InputError(f"bpe vocab_size {spec['bpe_vocab']} is too small", fix="use at least 512")
    else:
        raise InputError(f"unknown tokenizer kind {tokenizer!r}", fix="use 'char' or 'bpe'")
    return spec, texts


def spec_name(spec: dict) -> str:
    return f"{spec['size']}-{spec['tokenizer']}-{_sha(spec)[:16]}"


# ----------------------------------------------------------------------------------------------------------
# tokenizers
# ----------------------------------------------------------------------------------------------------------
def _char_tokenizer(alphabet: str):
    specials = SPECIAL_TOKENS + [UNK]
    vocab = {s: i for i, s in enumerate(specials)}
    for ch in alphabet:
        vocab[ch] = len(vocab)
    # BPE with no merges = one token per character; characters outside the alphabet map to <|unk|>.
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=UNK))
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    tok.decoder = decoders.Fuse()
    return tok, {"unk_token": UNK}


def _bpe_tokenizer(texts: list[str], vocab_size: int):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)  # offsets only; adds no tokens
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[AddedToken(s, special=True, normalized=False) for s in SPECIAL_TOKENS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok, {}


def _hf_tokenizer(tok, extra: dict):
    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        model_input_names=["input_ids", "attention_mask"],
        clean_up_tokenization_spaces=False,
        padding_side="right",
        model_max_length=2048,
        **extra,
    )
    hf.chat_template = CHAT_TEMPLATE
    return hf


def _patch_tokenizer_config(folder: Path) -> None:
    """transformers 5 writes tokenizer_class "TokenizersBackend", which 4.x cannot load; 4.x would also emit
    token_type_ids without model_input_names. Make the folder loadable by both, with no BOS added on encode."""
    p = folder / "tokenizer_config.json"
    tc = json.loads(p.read_text())
    tc["tokenizer_class"] = "PreTrainedTokenizerFast"
    tc["model_input_names"] = ["input_ids", "attention_mask"]
    tc["add_bos_token"] = False
    tc["add_eos_token"] = False
    tc["clean_up_tokenization_spaces"] = False
    tc["chat_template"] = CHAT_TEMPLATE
    p.write_text(json.dumps(tc, indent=2, ensure_ascii=False) + "\n")
    (folder / "chat_template.jinja").write_text(CHAT_TEMPLATE)


# ----------------------------------------------------------------------------------------------------------
# model
# ----------------------------------------------------------------------------------------------------------
def _llama_config(dims: TinySize, vocab_size: int):
    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=dims.hidden,
        intermediate_size=dims.intermediate,
        num_hidden_layers=dims.layers,
        num_attention_heads=dims.heads,
        num_key_value_heads=dims.heads,
        max_position_embeddings=dims.max_positions,
        rms_norm_eps=1e-6,
        bos_token_id=SPECIAL_TOKENS.index(BOS),
        eos_token_id=SPECIAL_TOKENS.index(EOS),
        pad_token_id=SPECIAL_TOKENS.index(PAD),
        tie_word_embeddings=True,
    )


def count_params(size: str, vocab_size: int) -> int:
    """Parameter count of a tiny model (tied embeddings), computed on the meta device (no memory, instant)."""
    if size not in SIZES:
        raise InputError(f"unknown tiny size {size!r}", fix=f"use one of {sorted(SIZES)}")
    with torch.device("meta"):
        model = LlamaForCausalLM(_llama_config(SIZES[size], vocab_size))
    return sum(p.numel() for p in model.parameters())


def _build_into(folder: Path, spec: dict, texts: list[str] | None) -> int:
    if spec["tokenizer"] == "char":
        tok, extra = _char_tokenizer(spec["alphabet"])
    else:
        tok, extra = _bpe_tokenizer(texts, spec["bpe_vocab"])
    hf_tok = _hf_tokenizer(tok, extra)
    ids = {t: hf_tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    assert [ids[t] for t in SPECIAL_TOKENS] == list(range(len(SPECIAL_TOKENS))), ids

    cfg = _llama_config(SIZES[spec["size"]], len(hf_tok))
    with torch.random.fork_rng(devices=[]):  # do not disturb the caller's RNG
        torch.manual_seed(spec["seed"])
        model = LlamaForCausalLM(cfg)
    model.generation_config = GenerationConfig(
        bos_token_id=cfg.bos_token_id, eos_token_id=cfg.eos_token_id, pad_token_id=cfg.pad_token_id
    )

    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # "Writing model shards" bar: noise for a sub-second write
    try:
        model.save_pretrained(folder)
    finally:
        if bar:
            hf_logging.enable_progress_bar()
    hf_tok.save_pretrained(folder)
    _patch_tokenizer_config(folder)
    return sum(p.numel() for p in model.parameters())


def build_tiny(
    size: str = "1m",
    tokenizer: str = "char",
    *,
    corpus: Iterable[str] | str | os.PathLike | None = None,
    alphabet: str | None = None,
    vocab_size: int | None = None,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
) -> Path:
    """Build (or fetch from the cache) a tiny Llama model + tokenizer folder and return its path.

    size: a key of SIZES. tokenizer: "char" (alphabet=..., default digits and '+=') or "bpe" (corpus=...: None
    for the built-in corpus, a text file path, or an iterable of strings; vocab_size defaults per size).
    The same arguments always give the same folder and bit-identical weights.
    """
    global BUILDS
    spec, texts = make_spec(size, tokenizer, corpus=corpus, alphabet=alphabet, vocab_size=vocab_size, seed=seed)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    t0 = time.time()
    folder, built = build_once(cache, spec_name(spec), lambda tmp: {**spec, "n_params": _build_into(tmp, spec, texts)},
                               marker=MARKER)
    if built:
        BUILDS += 1
        logger.info("built tiny %s/%s (%s params) in %.1fs: %s", size, tokenizer,
                    f"{read_meta(folder, MARKER)['n_params']:,}", time.time() - t0, folder)
    return folder


def info(path: str | os.PathLike) -> dict:
    """The spec (plus n_params) recorded in a built folder."""
    p = Path(path) / MARKER
    if not p.is_file():
        raise InputError(f"{path} is not a complete prefopt tiny model folder", fix="build it with build_tiny()")
    return json.loads(p.read_text())


def load_tiny(path: str | os.PathLike, **model_kwargs):
    """(model, tokenizer) from a folder, with the ordinary Auto classes."""
    return AutoModelForCausalLM.from_pretrained(path, **model_kwargs), AutoTokenizer.from_pretrained(path)


def export(src: Path, out: str | os.PathLike) -> Path:
    """Copy a built folder to exactly `out` (atomically; an existing complete copy of the same spec is kept)."""
    try:
        return cachefs.export(src, out, marker=MARKER)
    except FileExistsError:
        raise InputError(f"{out} exists and is not empty", fix="choose another --out or remove it") from None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m prefopt.toy.tiny", description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="1m", choices=sorted(SIZES))
    ap.add_argument("--tokenizer", default="char", choices=["char", "bpe"])
    ap.add_argument("--alphabet", default=None, help="characters of the 'char' tokenizer (default: digits + '+=')")
    ap.add_argument("--corpus", default=None, help="UTF-8 text file to train the 'bpe' tokenizer on")
    ap.add_argument("--vocab-size", type=int, default=None, help="'bpe' vocabulary size (default per size)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache-dir", default=None, help="default: $PREFOPT_CACHE/tiny or <repo>/.cache/tiny")
    ap.add_argument("--out", default=None, help="also place the model folder exactly at this path")
    ap.add_argument("--debug", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        path = build_tiny(
            args.size,
            args.tokenizer,
            corpus=args.corpus,
            alphabet=args.alphabet,
            vocab_size=args.vocab_size,
            seed=args.seed,
            cache_dir=args.cache_dir,
        )
        if args.out:
            path = export(path, args.out)
    except InputError as e:
        if args.debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    meta = info(path)
    print(path)
    print(f"params: {meta['n_params']:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
