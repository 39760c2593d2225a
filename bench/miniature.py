"""Miniature models at real vocabulary sizes for the bench (`vocab` part of bench/preference.py, bench/gpu.py).

What the log-prob levers act on is the (N, T, V) logits, so a miniature keeps a real model's vocabulary V (32,000
Mistral, 128,256 Llama-3, 256,000 Gemma-2) and shrinks everything else: a Llama-shaped stack of a few small layers.
The tokenizer is the tiny BPE one of `prefopt.toy.tiny` (a few thousand tokens, with its chat template); the embedding
and the head have V rows, the ids above the tokenizer's are never produced as inputs but every one of them is scored
by the softmax, which is all the cost depends on. Random init with a fixed seed: the same folder every time.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja")


def name(dims: dict, vocab: int) -> str:
    keys = ("hidden", "layers", "heads", "intermediate")
    tie = "tied" if dims.get("tie_word_embeddings", True) else "untied"
    return "mini-" + "-".join(f"{k[0]}{dims[k]}" for k in keys) + f"-{tie}-v{vocab}-{dims.get('dtype', 'float32')}"


def build(root: Path, dims: dict, vocab: int, tokenizer_size: str = "10m", seed: int = 0) -> Path:
    """The miniature's folder under root (built once; a complete folder has config.json written last)."""
    import torch  # noqa: PLC0415
    from transformers import LlamaConfig, LlamaForCausalLM  # noqa: PLC0415

    from prefopt.toy.tiny import build_tiny  # noqa: PLC0415

    folder = Path(root) / name(dims, vocab)
    if (folder / "prefopt_miniature.json").is_file():
        return folder
    tok_dir = build_tiny(tokenizer_size, "bpe")
    base = json.loads((tok_dir / "config.json").read_text())
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=dims["hidden"], intermediate_size=dims["intermediate"],
                      num_hidden_layers=dims["layers"], num_attention_heads=dims["heads"],
                      num_key_value_heads=dims.get("kv_heads", dims["heads"]), max_position_embeddings=4096,
                      rms_norm_eps=1e-6, bos_token_id=base["bos_token_id"], eos_token_id=base["eos_token_id"],
                      pad_token_id=base["pad_token_id"], tie_word_embeddings=dims.get("tie_word_embeddings", True))
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dims.get("dtype", "float32")]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(cfg).to(dtype)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    for f in TOKENIZER_FILES:
        if (tok_dir / f).exists():
            shutil.copy(tok_dir / f, tmp / f)
    n_params = sum(p.numel() for p in model.parameters())
    (tmp / "prefopt_miniature.json").write_text(json.dumps({**dims, "vocab": vocab, "n_params": n_params,
                                                            "tokenizer": str(tok_dir), "seed": seed}, indent=2))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder
