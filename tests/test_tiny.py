"""prefopt.toy.tiny: offline tiny Llama models + tokenizers."""

from __future__ import annotations

import json
import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerFast  # noqa: E402

from prefopt.core.errors import InputError  # noqa: E402
from prefopt.toy import tiny  # noqa: E402

CONV = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "47+38="},
    {"role": "assistant", "content": "85"},
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("tiny_cache")


@pytest.fixture(scope="module")
def char_path(cache):
    return tiny.build_tiny("0.2m", "char", cache_dir=cache)


@pytest.fixture(scope="module")
def bpe_path(cache):
    return tiny.build_tiny("0.2m", "bpe", cache_dir=cache)


@pytest.mark.parametrize("kind", ["char", "bpe"])
def test_loads_with_auto_classes(kind, char_path, bpe_path):
    path = char_path if kind == "char" else bpe_path
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    assert isinstance(tok, PreTrainedTokenizerFast)
    assert json.loads((path / "tokenizer_config.json").read_text())["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert model.config.model_type == "llama"
    ids = {t: tok.convert_tokens_to_ids(t) for t in tiny.SPECIAL_TOKENS}
    assert list(ids.values()) == list(range(6))
    assert (tok.pad_token_id, tok.bos_token_id, tok.eos_token_id) == (0, 1, 2)
    assert tok.pad_token_id != tok.eos_token_id
    for cfg in (model.config, model.generation_config):
        assert (cfg.bos_token_id, cfg.eos_token_id, cfg.pad_token_id) == (1, 2, 0)
    assert model.config.vocab_size == len(tok)
    out = model(**tok(["1+2="], return_tensors="pt"))
    assert out.logits.shape[-1] == len(tok)


@pytest.mark.parametrize("kind", ["char", "bpe"])
def test_chat_template_one_bos(kind, char_path, bpe_path):
    tok = AutoTokenizer.from_pretrained(char_path if kind == "char" else bpe_path)
    text = tok.apply_chat_template(CONV, tokenize=False)
    assert text == "<|bos|><|system|>be brief<|eos|><|user|>47+38=<|eos|><|assistant|>85<|eos|>"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert ids[0] == tok.bos_token_id and ids.count(tok.bos_token_id) == 1
    assert tok(text)["input_ids"] == ids  # the tokenizer adds no BOS/EOS by itself
    assert tok("12+3=")["input_ids"][0] != tok.bos_token_id
    prompt = tok.apply_chat_template(CONV[:2], add_generation_prompt=True, tokenize=False)
    assert prompt.endswith("<|assistant|>") and text.startswith(prompt)  # prefix-consistent
    enc = tok.apply_chat_template(CONV[:2], add_generation_prompt=True, return_dict=True)
    assert enc["input_ids"].count(tok.bos_token_id) == 1
    # the char alphabet has no letters: "be brief" is <|unk|> (a special token, skipped on decode)
    assert tok.decode(ids, skip_special_tokens=True) == ("47+38=85" if kind == "char" else "be brief47+38=85")


def test_char_vocab_and_unknown(char_path):
    tok = AutoTokenizer.from_pretrained(char_path)
    assert len(tok) == 19  # 6 specials + <|unk|> + 12 characters
    assert tok.convert_ids_to_tokens(tok("47+38=")["input_ids"]) == list("47+38=")
    assert tok("4x")["input_ids"][1] == tok.unk_token_id


def test_bpe_any_utf8(bpe_path):
    tok = AutoTokenizer.from_pretrained(bpe_path)
    assert 512 <= len(tok) <= 1024
    text = "Héllo wörld — 日本語 🙂\n\tdef f(x): return x**2  {}[] \x00 end"
    ids = tok(text)["input_ids"]
    assert tok.unk_token_id is None or tok.unk_token_id not in ids
    assert tok.decode(ids) == text


def test_cache_hit_does_not_rebuild(cache, char_path):
    marker = char_path / tiny.MARKER
    before, mtime = tiny.BUILDS, marker.stat().st_mtime_ns
    again = tiny.build_tiny("0.2m", "char", cache_dir=cache)
    assert again == char_path
    assert tiny.BUILDS == before and marker.stat().st_mtime_ns == mtime


def test_incomplete_folder_is_rebuilt(tmp_path):
    path = tiny.build_tiny("0.2m", "char", cache_dir=tmp_path)
    (path / tiny.MARKER).unlink()  # as if the build had been killed before the marker was written
    (path / "model.safetensors").write_bytes(b"truncated")
    before = tiny.BUILDS
    again = tiny.build_tiny("0.2m", "char", cache_dir=tmp_path)
    assert again == path and tiny.BUILDS == before + 1
    AutoModelForCausalLM.from_pretrained(again)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_spec_changes_folder(cache, char_path):
    other = tiny.make_spec("0.2m", "char", seed=1)[0]
    assert tiny.spec_name(other) != char_path.name
    assert tiny.spec_name(tiny.make_spec("0.2m", "char", alphabet="0123456789+-=")[0]) != char_path.name
    assert tiny.spec_name(tiny.make_spec("0.2m", "bpe", corpus=["a b c"] * 10)[0]) != tiny.spec_name(
        tiny.make_spec("0.2m", "bpe")[0]
    )


def _weights(path):
    return AutoModelForCausalLM.from_pretrained(path).state_dict()


@pytest.mark.parametrize("kind", ["char", "bpe"])
def test_deterministic_across_cache_dirs(kind, tmp_path, char_path, bpe_path):
    path = char_path if kind == "char" else bpe_path
    other = tiny.build_tiny("0.2m", kind, cache_dir=tmp_path)
    assert other.name == path.name and other != path
    assert (other / "tokenizer.json").read_bytes() == (path / "tokenizer.json").read_bytes()
    a, b = _weights(path), _weights(other)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # a different seed gives different weights
    diff = _weights(tiny.build_tiny("0.2m", kind, seed=1, cache_dir=tmp_path))
    assert not torch.equal(a["model.embed_tokens.weight"], diff["model.embed_tokens.weight"])


def test_build_does_not_touch_global_rng(tmp_path):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    tiny.build_tiny("0.2m", "char", seed=7, cache_dir=tmp_path)
    assert torch.equal(torch.rand(3), expected)


def test_param_counts(char_path, bpe_path):
    assert tiny.info(char_path)["n_params"] == tiny.count_params("0.2m", 19)
    assert 0.1e6 <= tiny.info(char_path)["n_params"] <= 0.3e6
    assert 0.15e6 <= tiny.info(bpe_path)["n_params"] <= 0.3e6
    assert abs(tiny.count_params("1m", 19) - 1.05e6) < 0.02e6
    assert 9e6 <= tiny.count_params("10m", tiny.SIZES["10m"].bpe_vocab) <= 11e6
    assert 38e6 <= tiny.count_params("40m", tiny.SIZES["40m"].bpe_vocab) <= 42e6


def test_bad_input():
    with pytest.raises(InputError):
        tiny.make_spec("3m")
    with pytest.raises(InputError):
        tiny.make_spec("1m", "word")
    with pytest.raises(InputError):
        tiny.make_spec("1m", "char", alphabet="aa")
    with pytest.raises(InputError):
        tiny.make_spec("1m", "bpe", corpus="/no/such/file.txt")


def test_cli_out(tmp_path, capsys):
    out = tmp_path / "model"
    assert (
        tiny.main(["--size", "0.2m", "--tokenizer", "char", "--cache-dir", str(tmp_path / "c"), "--out", str(out)]) == 0
    )
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == str(out) and printed[1].startswith("params: ")
    AutoTokenizer.from_pretrained(out)
    AutoModelForCausalLM.from_pretrained(out)
