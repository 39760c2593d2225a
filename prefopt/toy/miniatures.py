"""Offline miniatures of the papers' base models: the same transformers class and config family, only width and
depth shrunk, so a cell's own path (its architecture, tokenizer, chat template, special ids) runs on CPU.

`MINIATURES` maps every hub id a config, a cell or an annotator starts from to a miniature. These stay as in the
real config.json / generation_config.json / tokenizer: the vocabulary size, the special-token ids, tied or
untied embeddings, the attention layout (the ratio of query to key-value heads), RoPE theta and the rotary
fraction, the sliding window, Gemma-2's attention and final-logit soft-capping and query_pre_attn_scalar,
GPT-NeoX's parallel residual, norms and activations. These shrink: hidden size (64), layers (2), heads (4, with
the real GQA ratio), the MLP width (the real ratio to the hidden size) and, where the config names it, head_dim.

`build_miniature(hub_id, out_dir=None)` writes an ordinary Hugging Face folder (config.json,
generation_config.json, model.safetensors, tokenizer.json, tokenizer_config.json, chat_template.jinja when the
hub tokenizer has a template) that AutoModelForCausalLM / AutoTokenizer load offline. Builds are seeded, so the
same arguments give bit-identical weights, and cached under <cache>/miniatures/<name>-<hash> (prefopt.core.cachefs.build_once).

CLI: python -m prefopt.toy.miniatures [--build HUB_ID ... | --all] [--out DIR] [--cache-dir DIR] [--measure]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
from transformers import (
    CONFIG_MAPPING,
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    GenerationConfig,
    PreTrainedTokenizerFast,
)
from transformers.utils import logging as hf_logging

from prefopt.core.cachefs import build_once, content_hash, export, is_complete, read_meta
from prefopt.core.dist import build_in_fresh_process, in_distributed_run
from prefopt.core.errors import InputError

from . import hub_chat_templates as templates
from . import real_tokenizers

FORMAT_VERSION = 2  # bump whenever the bytes a build writes change
MINI_HIDDEN, MINI_LAYERS, MINI_HEADS = 64, 2, 4


@dataclasses.dataclass(frozen=True)
class Family:
    """One architecture as published: `real` holds the config.json fields a miniature keeps (hub spelling),
    `full` the real values of the fields it shrinks."""

    name: str
    model_type: str
    model_class: str
    backend: str  # a key of real_tokenizers.BACKENDS
    real: dict
    full: dict
    source: str

    def gqa_ratio(self) -> int:
        return self.full["num_attention_heads"] // self.full.get("num_key_value_heads", self.full["num_attention_heads"])

    def mini(self) -> dict:
        """The shrunk fields: 4 heads with the real GQA ratio, the real MLP/hidden ratio, head_dim if named."""
        heads = MINI_HEADS
        kv = heads // self.gqa_ratio()
        width = round(self.full["intermediate_size"] / self.full["hidden_size"] * MINI_HIDDEN / 8) * 8
        dims = {"hidden_size": MINI_HIDDEN, "num_hidden_layers": MINI_LAYERS, "num_attention_heads": heads,
                "intermediate_size": width}
        if "num_key_value_heads" in self.full:
            dims["num_key_value_heads"] = kv
        if "head_dim" in self.full:
            dims["head_dim"] = MINI_HIDDEN // heads
        return dims


_LLAMA3_SRC = ("config.json of meta-llama/Meta-Llama-3-8B and -Instruct (Instruct: eos 128009 since the 2024-05 "
               "update); generation_config.json of both")
_MISTRAL_SRC = ("config.json of mistralai/Mistral-7B-v0.1 (= transformers' MistralConfig defaults) and "
                "Mistral-7B-Instruct-v0.2 (rope_theta 1e6, no sliding window)")
FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("llama3", "llama", "LlamaForCausalLM", "llama3",
           real={"vocab_size": 128256, "bos_token_id": 128000, "eos_token_id": 128001, "tie_word_embeddings": False,
                 "rope_theta": 500000.0, "max_position_embeddings": 8192, "rms_norm_eps": 1e-5,
                 "hidden_act": "silu", "attention_bias": False, "mlp_bias": False},
           full={"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
                 "intermediate_size": 14336},
           source=_LLAMA3_SRC),
    Family("mistral", "mistral", "MistralForCausalLM", "mistral-spm",
           real={"vocab_size": 32000, "bos_token_id": 1, "eos_token_id": 2, "tie_word_embeddings": False,
                 "rope_theta": 10000.0, "sliding_window": 4096, "max_position_embeddings": 32768,
                 "rms_norm_eps": 1e-5, "hidden_act": "silu"},
           full={"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
                 "intermediate_size": 14336},
           source=_MISTRAL_SRC),
    Family("gemma2", "gemma2", "Gemma2ForCausalLM", "gemma2-standin",
           real={"vocab_size": 256000, "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0,
                 "tie_word_embeddings": True, "rope_theta": 10000.0, "sliding_window": 4096,
                 "max_position_embeddings": 8192, "rms_norm_eps": 1e-6, "hidden_activation": "gelu_pytorch_tanh",
                 "attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0, "query_pre_attn_scalar": 256,
                 "attention_bias": False},
           full={"hidden_size": 3584, "num_hidden_layers": 42, "num_attention_heads": 16, "num_key_value_heads": 8,
                 "intermediate_size": 14336, "head_dim": 256},
           source="config.json of google/gemma-2-9b-it (the 9b variant of transformers' PaliGemma-2 conversion "
                  "script agrees on the sizes and query_pre_attn_scalar 256)"),
    Family("gpt_neox", "gpt_neox", "GPTNeoXForCausalLM", "gptneox-standin",
           real={"vocab_size": 50304, "bos_token_id": 0, "eos_token_id": 0, "tie_word_embeddings": False,
                 "rotary_pct": 0.25, "rotary_emb_base": 10000, "use_parallel_residual": True,
                 "max_position_embeddings": 2048, "layer_norm_eps": 1e-5, "hidden_act": "gelu"},
           full={"hidden_size": 2560, "num_hidden_layers": 32, "num_attention_heads": 32, "intermediate_size": 10240},
           source="config.json of EleutherAI/pythia-2.8b (Pythia suite: rotary_pct 0.25, parallel residual, "
                  "embedding 50304 rows for a 50277-token tokenizer)"),
    Family("llama1", "llama", "LlamaForCausalLM", "mistral-spm",
           real={"vocab_size": 32000, "bos_token_id": 1, "eos_token_id": 2, "tie_word_embeddings": False,
                 "rope_theta": 10000.0, "max_position_embeddings": 2048, "rms_norm_eps": 1e-6,
                 "hidden_act": "silu"},
           full={"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32,
                 "intermediate_size": 11008},
           source="config.json of decapoda-research/llama-7b-hf (LLaMA-1 7B; sizes = transformers' LlamaConfig "
                  "defaults). Its config.json says bos 0 / eos 1 / pad -1, a known conversion error: the ids here are "
                  "the tokenizer's (1 / 2), which APO's code hard-sets too"),
)}


@dataclasses.dataclass(frozen=True)
class HubModel:
    """One hub id: its family plus what differs per checkpoint (config, generation config, tokenizer)."""

    hub_id: str
    family: str
    tokenizer: dict  # bos_token / eos_token / unk_token / pad_token / chat_template (None: the hub has none)
    generation: dict  # generation_config.json as published
    config: dict = dataclasses.field(default_factory=dict)  # config.json fields that differ from the family's
    head: str = "causal-lm"  # or "seq-cls": a reward model's scalar head
    added_tokens: tuple[str, ...] = ()  # tokens the checkpoint added to the family's vocabulary (special)
    note: str = ""

    def tokenizer_kind(self) -> str:
        kind = real_tokenizers.BACKENDS[FAMILIES[self.family].backend].real
        if self.family == "llama1":
            return "stand-in: Mistral's SentencePiece model (LLaMA-1's own 32000-piece model ships in no package)"
        return kind


_L3 = {"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>", "chat_template": None}
_L3_SAMPLING = {"do_sample": True, "temperature": 0.6, "top_p": 0.9, "max_length": 4096}
_MISTRAL = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "chat_template": None}
_MISTRAL_GEN = {"bos_token_id": 1, "eos_token_id": 2}
MINIATURES: dict[str, HubModel] = {m.hub_id: m for m in (
    HubModel("meta-llama/Meta-Llama-3-8B", "llama3", _L3, {"bos_token_id": 128000, "eos_token_id": 128001, **_L3_SAMPLING}),
    HubModel("meta-llama/Meta-Llama-3-8B-Instruct", "llama3",
             {**_L3, "eos_token": "<|eot_id|>", "chat_template": templates.LLAMA3_INSTRUCT},
             {"bos_token_id": 128000, "eos_token_id": [128001, 128009], **_L3_SAMPLING},
             config={"eos_token_id": 128009}),
    HubModel("princeton-nlp/Llama-3-Base-8B-SFT", "llama3", {**_L3, "chat_template": templates.LLAMA3_INSTRUCT},
             {"bos_token_id": 128000, "eos_token_id": 128001},
             note="SimPO's SFT of Llama-3-8B with the Llama-3 chat template; ids as the base model (not checked "
                  "against the hub offline)"),
    HubModel("RLHFlow/ArmoRM-Llama3-8B-v0.1", "llama3",
             {**_L3, "eos_token": "<|eot_id|>", "chat_template": templates.LLAMA3_INSTRUCT},
             {"bos_token_id": 128000, "eos_token_id": 128009}, config={"eos_token_id": 128009}, head="seq-cls",
             note="the real model is remote code (LlamaForRewardModelWithGating, output .score); the miniature is "
                  "LlamaForSequenceClassification with one label: annotate it with --kind seq-cls"),
    HubModel("mistralai/Mistral-7B-v0.1", "mistral", _MISTRAL, _MISTRAL_GEN),
    HubModel("mistralai/Mistral-7B-Instruct-v0.2", "mistral",
             {**_MISTRAL, "chat_template": templates.MISTRAL_INSTRUCT}, _MISTRAL_GEN,
             config={"rope_theta": 1000000.0, "sliding_window": None}),
    HubModel("alignment-handbook/zephyr-7b-sft-full", "mistral",
             {**_MISTRAL, "pad_token": "</s>", "chat_template": templates.ZEPHYR}, _MISTRAL_GEN,
             note="SFT of Mistral-7B-v0.1 (its config); pad = EOS as alignment-handbook's get_tokenizer sets it"),
    HubModel("google/gemma-2-9b-it", "gemma2",
             {"bos_token": "<bos>", "eos_token": "<eos>", "unk_token": "<unk>", "pad_token": "<pad>",
              "chat_template": templates.GEMMA2_IT},
             {"bos_token_id": 2, "eos_token_id": [1, 107], "pad_token_id": 0, "cache_implementation": "hybrid"}),
    HubModel("EleutherAI/pythia-2.8b", "gpt_neox",
             {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
              "chat_template": None},
             {"bos_token_id": 0, "eos_token_id": 0}),
    HubModel("decapoda-research/llama-7b-hf", "llama1", _MISTRAL, _MISTRAL_GEN),
    HubModel("chavinlo/alpaca-native", "llama1", {**_MISTRAL, "pad_token": "[PAD]"},
             {"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 32000},
             config={"vocab_size": 32001, "pad_token_id": 32000}, added_tokens=("[PAD]",),
             note="Stanford Alpaca's training adds a [PAD] token (id 32000, vocab 32001); sampled by APO"),
)}


def lookup(hub_id: str) -> HubModel:
    if hub_id not in MINIATURES:
        raise InputError(f"no miniature for {hub_id!r}", where="prefopt.toy.miniatures",
                         fix=f"add it to MINIATURES, or use one of: {', '.join(MINIATURES)}")
    return MINIATURES[hub_id]


def real_config(hub_id: str) -> dict:
    """The config.json fields a miniature keeps, as the hub spells them."""
    m = lookup(hub_id)
    return {**FAMILIES[m.family].real, **m.config}


def config_kwargs(hub_id: str) -> dict:
    m = lookup(hub_id)
    kw = {**real_config(hub_id), **FAMILIES[m.family].mini()}
    if m.head == "seq-cls":
        kw["num_labels"] = 1
    return kw


# ------------------------------------------------------------------------------------------------------------
# building
# ------------------------------------------------------------------------------------------------------------
def _make_config(hub_id: str):
    m = lookup(hub_id)
    cfg = CONFIG_MAPPING[FAMILIES[m.family].model_type](**config_kwargs(hub_id))
    cfg.architectures = [_model_class(m)]
    return cfg


def _model_class(m: HubModel) -> str:
    cls = FAMILIES[m.family].model_class
    return cls.replace("ForCausalLM", "ForSequenceClassification") if m.head == "seq-cls" else cls


def _write_tokenizer(m: HubModel, backend_dir: Path, folder: Path):
    settings = {k: v for k, v in m.tokenizer.items() if k != "chat_template" and v is not None}
    tok = PreTrainedTokenizerFast(tokenizer_file=str(backend_dir / "tokenizer.json"), clean_up_tokenization_spaces=False,
                                  model_input_names=["input_ids", "attention_mask"], **settings)
    if m.added_tokens:
        tok.add_special_tokens({"additional_special_tokens": list(m.added_tokens)})
    if m.tokenizer.get("chat_template") is not None:
        tok.chat_template = m.tokenizer["chat_template"]
    tok.save_pretrained(folder)
    # transformers 5 writes "TokenizersBackend", which 4.x cannot load; both load PreTrainedTokenizerFast.
    path = folder / "tokenizer_config.json"
    tc = json.loads(path.read_text())
    tc["tokenizer_class"] = "PreTrainedTokenizerFast"
    path.write_text(json.dumps(tc, indent=2, ensure_ascii=False) + "\n")
    return tok


def _build_into(folder: Path, hub_id: str, seed: int, backend_dir: Path) -> dict:
    m = lookup(hub_id)
    t0 = time.time()
    tok = _write_tokenizer(m, backend_dir, folder)
    cfg = _make_config(hub_id)
    if len(tok) > cfg.vocab_size:
        raise AssertionError(f"{hub_id}: tokenizer has {len(tok)} tokens, the embedding {cfg.vocab_size} rows")
    auto = AutoModelForSequenceClassification if m.head == "seq-cls" else AutoModelForCausalLM
    with torch.random.fork_rng(devices=[]):  # do not disturb the caller's RNG
        torch.manual_seed(seed)
        model = auto.from_config(cfg, dtype=torch.float32)
    if m.head == "causal-lm":
        model.generation_config = GenerationConfig(**m.generation)
    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        model.save_pretrained(folder)
    finally:
        if bar:
            hf_logging.enable_progress_bar()
    if m.head == "seq-cls":  # a reward model has no generation config of its own to save; keep the ids on record
        (folder / "generation_config.json").write_text(json.dumps(m.generation, indent=2) + "\n")
    return {"n_params": sum(p.numel() for p in model.parameters()), "build_s": round(time.time() - t0, 2),
            "tokenizer_len": len(tok)}


def spec(hub_id: str, seed: int = 0, backend_dir: Path | None = None) -> dict:
    m = lookup(hub_id)
    return {"format_version": FORMAT_VERSION, "hub_id": hub_id, "seed": int(seed), "model": dataclasses.asdict(m),
            "family": dataclasses.asdict(FAMILIES[m.family]), "mini": FAMILIES[m.family].mini(),
            "tokenizer_backend": backend_dir.name if backend_dir else None}


def build_miniature(hub_id: str, out_dir: str | os.PathLike | None = None, *, seed: int = 0,
                    cache_dir: str | os.PathLike | None = None) -> Path:
    """The folder of the miniature of `hub_id` (built on first use; copied to `out_dir` when given).
    `cache_dir` is the cache root (default $PREFOPT_CACHE/tiny, else <repo>/.cache/tiny): tokenizers/ and
    miniatures/ inside it."""
    lookup(hub_id)
    root = real_tokenizers.cache_root(cache_dir)
    backend_dir = real_tokenizers.build_backend(FAMILIES[MINIATURES[hub_id].family].backend, root)
    s = spec(hub_id, seed, backend_dir)
    name = f"{hub_id.replace('/', '--')}-{content_hash(s)[:12]}"
    if in_distributed_run() and not is_complete(root / "miniatures" / name):  # see in_distributed_run
        build_in_fresh_process("prefopt.toy.miniatures", ["--build", hub_id, "--cache-dir", str(root),
                                                          "--seed", str(seed)])
    t0 = time.time()
    folder, built = build_once(root / "miniatures", name,
                               lambda tmp: {**s, **_build_into(tmp, hub_id, seed, backend_dir)})
    if built:
        print(f"built miniature {hub_id} in {time.time() - t0:.1f}s: {folder}", file=sys.stderr)
    return export(folder, out_dir) if out_dir else folder


# ------------------------------------------------------------------------------------------------------------
# the table the rehearsal prints
# ------------------------------------------------------------------------------------------------------------
def describe(built: dict[str, Path] | None = None) -> list[dict]:
    """One row per hub id: class, tokenizer (real / stand-in), what was shrunk (real -> miniature), what was kept,
    and, for folders in `built`, the parameter count and build time recorded when it was built."""
    rows = []
    for hub_id, m in MINIATURES.items():
        fam = FAMILIES[m.family]
        mini = fam.mini()
        row = {"hub_id": hub_id, "class": _model_class(m), "tokenizer": m.tokenizer_kind(),
               "vocab": real_config(hub_id)["vocab_size"],
               "shrunk": ", ".join(f"{k} {fam.full[k]}->{mini[k]}" for k in mini),
               "gqa": f"{fam.full['num_attention_heads']}/{fam.full.get('num_key_value_heads', fam.full['num_attention_heads'])}",
               "chat_template": "real" if m.tokenizer.get("chat_template") else "none (as on the hub)",
               "source": fam.source, "note": m.note}
        if built and hub_id in built:
            meta = read_meta(built[hub_id])
            row["params"], row["build_s"] = meta["n_params"], meta["build_s"]
        rows.append(row)
    return rows


def table_markdown(rows: list[dict]) -> str:
    cols = ["hub_id", "class", "tokenizer", "vocab", "gqa", "shrunk", "chat_template", "params", "build_s"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(str(r.get(c, "")) for c in cols) + " |")
    return "\n".join(lines)


def _measure_one(hub_id: str, cache_dir: str) -> dict:
    """Build in a fresh process (cold tokenizer cache included) and report its peak RSS and wall time."""
    code = ("import json,resource,sys,time;from prefopt.toy.miniatures import build_miniature as b;t=time.time();"
            f"b({hub_id!r},cache_dir={cache_dir!r});"
            "print(json.dumps({'wall_s':round(time.time()-t,1),"
            "'peak_rss_mb':resource.getrusage(resource.RUSAGE_SELF).ru_maxrss//1024}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m prefopt.toy.miniatures", description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", nargs="*", default=[], metavar="HUB_ID", help="build these miniatures")
    ap.add_argument("--all", action="store_true", help="build every miniature")
    ap.add_argument("--out", default=None, help="with one --build: place the folder exactly here")
    ap.add_argument("--cache-dir", default=None, help="cache root (default: $PREFOPT_CACHE/tiny, else .cache/tiny)")
    ap.add_argument("--seed", type=int, default=0, help="weight initialisation seed")
    ap.add_argument("--measure", action="store_true",
                    help="build each in a fresh process with an empty cache under --cache-dir; print peak RSS")
    args = ap.parse_args(argv)
    ids = list(MINIATURES) if args.all else args.build
    try:
        if args.out and len(ids) != 1:
            raise InputError("--out needs exactly one --build HUB_ID", where="--out")
        if args.measure:
            if not args.cache_dir:
                raise InputError("--measure needs an empty --cache-dir (cold builds)", where="--measure")
            for hub_id in ids:
                lookup(hub_id)
                print(hub_id, _measure_one(hub_id, args.cache_dir), flush=True)
            return 0
        built = {h: build_miniature(h, args.out, seed=args.seed, cache_dir=args.cache_dir) for h in ids}
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for path in built.values():
        print(path)
    print(table_markdown(describe(built)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
