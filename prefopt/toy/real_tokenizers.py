"""Real tokenizers of the papers' base models, built offline from files that pip packages ship, and BPE stand-ins
with the real special-token ids where no package ships one.

Backends (`BACKENDS`; each is a `tokenizer.json` the `tokenizers` library loads):
- "llama3": Llama-3's 128,000 BPE ranks from the `quicktok-v1` package (quicktok/data/llama3.vocab) and its 256
  special tokens (llama3.special, ids 128000..128255), converted with transformers' tiktoken converter and
  Llama-3's pre-tokenizer regex. Real: ids equal Meta's tokenizer (pinned in tests/test_real_tokenizers.py).
- "mistral-spm": the SentencePiece model `mistral_common/data/tokenizer.model.v1` of the `mistral-common` package
  (the tokenizer.model of Mistral-7B v0.1 / Instruct), as a Llama-style fast tokenizer: BPE with byte fallback,
  "▁" for spaces with a dummy prefix on each text segment (the "legacy" behaviour of the hub's tokenizer.json),
  <unk> 0, <s> 1, </s> 2. Real for Mistral; a stand-in for LLaMA-1, whose own 32,000-piece model no package ships.
- "gemma2-standin", "gptneox-standin": byte-level BPE trained on the UltraFeedback sample in the shared data folder
  (or prefopt.toy.tiny's built-in corpus where that folder is absent), padded with unreachable filler tokens to the
  real vocabulary size, with the real special tokens at their real ids. Not the real merges.

Each backend is built once and cached under <cache root>/tokenizers/<backend>-<hash>/tokenizer.json, the hash covering
the source file's sha256 (or the corpus hash), the backend spec and FORMAT_VERSION.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import struct
import sys
from collections.abc import Callable
from pathlib import Path

import sentencepiece as spm
from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers.convert_slow_tokenizer import TikTokenConverter, generate_merges

from prefopt.core.cachefs import build_once, content_hash, file_sha256
from prefopt.core.errors import InputError
from prefopt.core.paths import shared_data_dir

from .tiny import default_cache_dir, default_corpus

FORMAT_VERSION = 1  # bump whenever a backend's bytes change, so stale cache folders are not reused
INSTALL_FIX = ("run make setup (it installs requirements/tokenizers.txt with --no-deps and "
               "requirements/tokenizer-data.txt with --no-deps --target <venv>/tokenizer-data)")

# Meta's Llama-3 pre-tokenizer (pat_str of llama3/tokenizer.py): contractions, letters with one leading
# non-letter, numbers in groups of at most 3 digits, punctuation runs, newlines, spaces.
LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
    r"|\s+(?!\S)|\s+"
)
LLAMA3_BOS = "<|begin_of_text|>"
SPM_UNK, SPM_BOS, SPM_EOS = "<unk>", "<s>", "</s>"


@dataclasses.dataclass(frozen=True)
class Backend:
    name: str
    vocab_size: int  # len(tokenizer), specials included
    real: str  # "real" or a short stand-in note (printed in the miniature table)
    source: str  # where the vocabulary comes from
    key: Callable[[], dict]  # cheap: what the build depends on (file hashes, corpus hash), for the cache name
    build: Callable[[], object]  # -> tokenizers.Tokenizer (seconds: run only on a cache miss)


# ------------------------------------------------------------------------------------------------------------
# locating the package files
# ------------------------------------------------------------------------------------------------------------
# Packages installed only for their data files, outside sys.path (requirements/tokenizer-data.txt, `make setup`):
# an importable mistral_common without its dependencies makes transformers' AutoTokenizer fail on every
# Mistral-type folder (it probes mistral_common when the package is found).
DATA_TARGET = Path(sys.prefix) / "tokenizer-data"


def package_file(package: str, relative: str, pip_name: str) -> Path:
    """A data file inside an installed package, found without importing the package: on sys.path, else in
    DATA_TARGET (where `make setup` puts packages installed only for their data)."""
    spec = importlib.util.find_spec(package)
    roots = list(spec.submodule_search_locations or []) if spec else []
    roots.append(str(DATA_TARGET / package))
    for root in roots:
        path = Path(root) / relative
        if path.is_file():
            return path
    raise InputError(f"{package}/{relative} not found: the pip package {pip_name} is not installed",
                     where="prefopt.toy.real_tokenizers", fix=INSTALL_FIX)


# ------------------------------------------------------------------------------------------------------------
# Llama-3 from quicktok's binary rank files
# ------------------------------------------------------------------------------------------------------------
def _bad_file(path: Path, what: str) -> InputError:
    return InputError(f"{path} is not a quicktok rank file: {what}", where=str(path),
                      fix="reinstall quicktok-v1 at the version pinned in requirements/tokenizers.txt")


def read_quicktok_ranks(path: Path) -> dict[bytes, int]:
    """quicktok's .vocab: u32 count, then per token a u16 length, the token's bytes and its u32 rank (all LE)."""
    data = path.read_bytes()
    if len(data) < 4:
        raise _bad_file(path, "shorter than its header")
    (count,), pos, ranks = struct.unpack_from("<I", data, 0), 4, {}
    for _ in range(count):
        if pos + 2 > len(data):
            raise _bad_file(path, f"ends after {len(ranks)} of {count} tokens")
        (n,) = struct.unpack_from("<H", data, pos)
        token = data[pos + 2: pos + 2 + n]
        if pos + 2 + n + 4 > len(data):
            raise _bad_file(path, f"ends inside token {len(ranks)}")
        (rank,) = struct.unpack_from("<I", data, pos + 2 + n)
        ranks[token] = rank
        pos += 2 + n + 4
    if pos != len(data):
        raise _bad_file(path, f"{len(data) - pos} bytes after the {count} tokens its header announces")
    if sorted(ranks.values()) != list(range(count)):
        raise _bad_file(path, "ranks are not 0..count-1 with one token each")
    return ranks


def read_quicktok_specials(path: Path) -> dict[int, str]:
    """quicktok's .special: u32 count, then per token its u32 id, a u16 length and the UTF-8 text (all LE)."""
    data = path.read_bytes()
    (count,), pos, specials = struct.unpack_from("<I", data, 0), 4, {}
    for _ in range(count):
        tid, n = struct.unpack_from("<IH", data, pos)
        specials[tid] = data[pos + 6: pos + 6 + n].decode("utf-8")
        pos += 6 + n
    if pos != len(data) or len(specials) != count:
        raise _bad_file(path, "special-token list does not match its header")
    return specials


def _llama3_files() -> tuple[Path, Path]:
    return (package_file("quicktok", "data/llama3.vocab", "quicktok-v1"),
            package_file("quicktok", "data/llama3.special", "quicktok-v1"))


def _llama3_key() -> dict:
    vocab_path, special_path = _llama3_files()
    return {"vocab_sha256": file_sha256(vocab_path), "special_sha256": file_sha256(special_path),
            "pattern": LLAMA3_PATTERN}


def _llama3_backend():
    vocab_path, special_path = _llama3_files()
    ranks = read_quicktok_ranks(vocab_path)
    specials = read_quicktok_specials(special_path)
    if sorted(specials) != list(range(len(ranks), len(ranks) + len(specials))):
        raise _bad_file(special_path, f"special ids are not {len(ranks)}..{len(ranks) + len(specials) - 1}")

    class _Converter(TikTokenConverter):  # the ranks come from quicktok's file, not a tiktoken download
        @staticmethod
        def load_tiktoken_bpe(_url):
            return ranks

    tok = _Converter(vocab_file=str(vocab_path), pattern=LLAMA3_PATTERN).converted()
    # Added in id order, so each lands at its real id (checked below).
    tok.add_special_tokens([AddedToken(specials[i], special=True, normalized=False) for i in sorted(specials)])
    bos = tok.token_to_id(LLAMA3_BOS)
    # Meta's hub tokenizer adds <|begin_of_text|> when encoding with special tokens (prefopt encodes without).
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single=f"{LLAMA3_BOS} $A", pair=f"{LLAMA3_BOS} $A {LLAMA3_BOS}:1 $B:1",
                                      special_tokens=[(LLAMA3_BOS, bos)]),
    ])
    return tok


# ------------------------------------------------------------------------------------------------------------
# Mistral (and the LLaMA-1 stand-in) from mistral-common's SentencePiece model
# ------------------------------------------------------------------------------------------------------------
def _spm_file() -> Path:
    return package_file("mistral_common", "data/tokenizer.model.v1", "mistral-common")


def _spm_key() -> dict:
    return {"model_sha256": file_sha256(_spm_file())}


def _spm_backend():
    path = _spm_file()
    sp = spm.SentencePieceProcessor(model_file=str(path))
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    if pieces[:3] != [SPM_UNK, SPM_BOS, SPM_EOS]:
        raise InputError(f"{path}: expected <unk>, <s>, </s> at ids 0..2, found {pieces[:3]}", where=str(path),
                         fix=INSTALL_FIX)
    vocab = {p: i for i, p in enumerate(pieces)}
    # SentencePiece BPE merges in score order: the merge that makes a higher-scored piece comes first.
    merges = generate_merges(vocab, {p: sp.get_score(i) for i, p in enumerate(pieces)})
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token=SPM_UNK, fuse_unk=True, byte_fallback=True))
    # The hub tokenizer.json of Mistral-7B / LLaMA: "▁" prepended to each text segment, spaces as "▁".
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in (SPM_UNK, SPM_BOS, SPM_EOS)])
    tok.post_processor = processors.TemplateProcessing(single=f"{SPM_BOS} $A", pair=f"{SPM_BOS} $A {SPM_BOS}:1 $B:1",
                                                       special_tokens=[(SPM_BOS, 1)])
    return tok


# ------------------------------------------------------------------------------------------------------------
# byte-level BPE stand-ins (Gemma-2, GPT-NeoX) with the real special ids
# ------------------------------------------------------------------------------------------------------------
STANDIN_MERGES_VOCAB = 8192  # learned part of a stand-in vocabulary (bytes + merges); the rest is filler
FILLER = "<filler_{}>"  # never produced: no merge builds it and it is not an added token

# google/gemma-2-9b-it tokenizer: <pad> 0, <eos> 1, <bos> 2, <unk> 3, <mask> 4, <2mass> 5, [@BOS@] 6,
# <unused0..98> 7..105, <start_of_turn> 106, <end_of_turn> 107; 256,000 in all.
GEMMA2_SPECIALS = (["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<2mass>", "[@BOS@]"]
                   + [f"<unused{i}>" for i in range(99)] + ["<start_of_turn>", "<end_of_turn>"])
GEMMA2_VOCAB = 256000
# EleutherAI/pythia-* (the GPT-NeoX-20B tokenizer): <|endoftext|> 0, <|padding|> 1, BPE up to 50253, then runs
# of 24 down to 2 spaces as added tokens at 50254..50276; 50,277 in all (the model's embedding has 50,304 rows).
GPTNEOX_SPECIALS = ["<|endoftext|>", "<|padding|>"]
GPTNEOX_SPACE_RUNS = [" " * n for n in range(24, 1, -1)]
GPTNEOX_VOCAB = 50277


def standin_corpus() -> tuple[list[str], str]:
    """(texts, where they come from): the UltraFeedback sample's prompts and answers if present."""
    path = shared_data_dir() / "ultrafeedback_binarized_sample" / "train_clean.jsonl"
    if path.is_file():
        texts = []
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            texts += [row["prompt"], row["chosen"], row["rejected"]]
        return texts, "ultrafeedback_binarized_sample/train_clean.jsonl"

    return default_corpus(), "prefopt.toy.tiny.default_corpus() (shared UltraFeedback sample absent)"


def _standin_key() -> dict:
    texts, where = standin_corpus()
    return {"corpus": where, "corpus_sha256": content_hash(texts), "merges_vocab": STANDIN_MERGES_VOCAB}


def _pad_with_fillers(tok, total: int, reserve_tail: int = 0):
    """Append unreachable filler tokens to the BPE model's vocabulary until it has total - reserve_tail ids."""
    data = json.loads(tok.to_str())
    vocab = data["model"]["vocab"]
    next_id = max(vocab.values()) + 1
    target = total - reserve_tail
    if next_id > target:
        raise ValueError(f"the learned vocabulary ({next_id}) exceeds the target {target}")
    for i in range(next_id, target):
        vocab[FILLER.format(i)] = i
    return Tokenizer.from_str(json.dumps(data))


def _byte_level_bpe(specials: list[str], texts: list[str], normalizer=None):
    tok = Tokenizer(models.BPE())
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=STANDIN_MERGES_VOCAB + len(specials), show_progress=False,
        special_tokens=[AddedToken(s, special=True, normalized=False) for s in specials],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def _gemma2_backend():
    tok = _pad_with_fillers(_byte_level_bpe(GEMMA2_SPECIALS, standin_corpus()[0]), GEMMA2_VOCAB)
    # Gemma's hub tokenizer adds <bos> when encoding with special tokens.
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<bos> $A", pair="<bos> $A <bos>:1 $B:1", special_tokens=[("<bos>", 2)]),
    ])
    return tok


def _gptneox_backend():
    tok = _byte_level_bpe(GPTNEOX_SPECIALS, standin_corpus()[0], normalizer=normalizers.NFC())
    tok = _pad_with_fillers(tok, GPTNEOX_VOCAB, reserve_tail=len(GPTNEOX_SPACE_RUNS))
    # The space runs are ordinary (non-special) added tokens in the real tokenizer, matched before BPE.
    tok.add_tokens([AddedToken(s, special=False, normalized=True) for s in GPTNEOX_SPACE_RUNS])
    return tok


BACKENDS: dict[str, Backend] = {
    "llama3": Backend("llama3", 128256, "real", "quicktok-v1: quicktok/data/llama3.vocab + llama3.special",
                      _llama3_key, _llama3_backend),
    "mistral-spm": Backend("mistral-spm", 32000, "real", "mistral-common: mistral_common/data/tokenizer.model.v1",
                           _spm_key, _spm_backend),
    "gemma2-standin": Backend("gemma2-standin", GEMMA2_VOCAB, "BPE stand-in, real special ids",
                              "byte-level BPE on the UltraFeedback sample + fillers", _standin_key, _gemma2_backend),
    "gptneox-standin": Backend("gptneox-standin", GPTNEOX_VOCAB, "BPE stand-in, real special ids",
                               "byte-level BPE on the UltraFeedback sample + fillers", _standin_key,
                               _gptneox_backend),
}


# ------------------------------------------------------------------------------------------------------------
# building, caching, loading
# ------------------------------------------------------------------------------------------------------------
def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """`cache_dir`, else the folder prefopt.toy.tiny builds its models in ($PREFOPT_CACHE/tiny, else
    <repo>/.cache/tiny)."""
    return Path(cache_dir) if cache_dir is not None else default_cache_dir()


def backend(name: str) -> Backend:
    if name not in BACKENDS:
        raise InputError(f"unknown tokenizer backend {name!r}", where="prefopt.toy.real_tokenizers",
                         fix=f"use one of {sorted(BACKENDS)}")
    return BACKENDS[name]


def build_backend(name: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """The cached folder <cache root>/tokenizers/<name>-<hash> holding `tokenizer.json` (built on first use)."""
    b = backend(name)
    spec = {"format_version": FORMAT_VERSION, "backend": name, **b.key()}

    def write(folder: Path) -> dict:
        tok = b.build()
        size = tok.get_vocab_size(with_added_tokens=True)
        if size != b.vocab_size:
            raise AssertionError(f"tokenizer backend {name}: built {size} tokens, expected {b.vocab_size}")
        tok.save(str(folder / "tokenizer.json"))
        return spec

    folder, _ = build_once(cache_root(cache_dir) / "tokenizers", f"{name}-{content_hash(spec)[:16]}", write)
    return folder


def load_backend(name: str, cache_dir: str | os.PathLike | None = None):
    """The `tokenizers.Tokenizer` of backend `name` (from the cache)."""
    return Tokenizer.from_file(str(build_backend(name, cache_dir) / "tokenizer.json"))
