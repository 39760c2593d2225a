"""Real tokenizers (prefopt.toy.real_tokenizers) and offline miniatures (prefopt.toy.miniatures).

Token ids pinned here come from outside this project: Llama-3's from llama.cpp's tokenizer test vectors
(models/ggml-vocab-llama-bpe.gguf.inp/.out, made with Meta-Llama-3-8B's Hugging Face tokenizer) and the issue;
Mistral's from mistral-common's own tests (tokenizer.model.v1) and transformers.js's chat-template example (made
with mistralai/Mistral-7B-Instruct-v0.1). The real config values below are those of the hub config.json files,
written out independently of prefopt.toy.miniatures' table.
"""

from __future__ import annotations

import json
import struct

import pytest

from prefopt.core.errors import InputError
from prefopt.evaluation.templates import TEMPLATES
from prefopt.toy import hub_chat_templates, miniatures
from prefopt.toy import real_tokenizers as rt


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("mini_cache")


@pytest.fixture(scope="module")
def llama3(cache):
    return rt.load_backend("llama3", cache)


@pytest.fixture(scope="module")
def spm_tok(cache):
    return rt.load_backend("mistral-spm", cache)


def _ufb_texts(shared_data, n: int) -> list[str]:
    path = shared_data("ultrafeedback_binarized_sample") / "train_clean.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[:n]]
    return [t for r in rows for t in (r["prompt"], r["chosen"], r["rejected"])]


# ---- Llama-3 ----------------------------------------------------------------------------------------------
LLAMA3_PINNED = {  # text -> ids without BOS (llama.cpp's llama-bpe vectors; "Hello world" also in the issue)
    "Hello world": [9906, 1917],
    " Hello world": [22691, 1917],
    "Hello, world!": [9906, 11, 1917, 0],
    "ied 4 ½ months": [1142, 220, 19, 220, 27154, 4038],
    "Führer": [37, 51853, 261],
    "нещо на Български": [79862, 102118, 13373, 64571, 34694, 3114, 112203, 80112],
    " Việt": [101798],
    "\n\n\n": [1432],
    "\t\n": [1602],
    # numbers split into groups of at most 3 digits
    "3": [18], "33": [1644], "333": [8765], "3333": [8765, 18], "33333": [8765, 1644],
    "333333333": [8765, 8765, 8765],
    "Hello, y'all! How are you 😁 ?我想在apple工作1314151天～": [
        9906, 11, 379, 65948, 0, 2650, 527, 499, 27623, 223, 949, 37046, 101067, 19000, 23182, 102301, 9263, 18136,
        16, 36827, 21909],
}
LLAMA3_SPECIALS = {"<|begin_of_text|>": 128000, "<|end_of_text|>": 128001, "<|reserved_special_token_0|>": 128002,
                   "<|start_header_id|>": 128006, "<|end_header_id|>": 128007, "<|reserved_special_token_4|>": 128008,
                   "<|eot_id|>": 128009, "<|reserved_special_token_5|>": 128010,
                   "<|reserved_special_token_250|>": 128255}


def test_llama3_pinned_ids(llama3):
    got = {text: llama3.encode(text, add_special_tokens=False).ids for text in LLAMA3_PINNED}
    assert got == LLAMA3_PINNED
    assert llama3.get_vocab_size() == 128256
    assert {t: llama3.token_to_id(t) for t in LLAMA3_SPECIALS} == LLAMA3_SPECIALS
    assert llama3.encode("Hello world").ids == [128000, 9906, 1917]  # the hub tokenizer adds BOS by default
    # specials in text are single tokens and decode back
    ids = llama3.encode("<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", add_special_tokens=False).ids
    assert ids[0] == 128006 and ids[2] == 128007 and ids[-1] == 128009
    assert llama3.decode(ids, skip_special_tokens=False) == "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"


def test_llama3_equals_tiktoken_on_real_text(llama3, shared_data):
    """tiktoken (Meta's reference encoder) over the same ranks and regex gives the same ids on real text."""
    import tiktoken

    ranks = rt.read_quicktok_ranks(rt.package_file("quicktok", "data/llama3.vocab", "quicktok-v1"))
    ref = tiktoken.Encoding("llama3", pat_str=rt.LLAMA3_PATTERN, mergeable_ranks=ranks, special_tokens={})
    texts = _ufb_texts(shared_data, 150)
    bad = [t[:60] for t in texts if llama3.encode(t, add_special_tokens=False).ids != ref.encode_ordinary(t)]
    assert not bad, f"{len(bad)} of {len(texts)} texts differ from tiktoken, e.g. {bad[:2]}"
    assert all(llama3.decode(llama3.encode(t, add_special_tokens=False).ids) == t for t in texts[:50])


def test_quicktok_rank_file_errors_name_the_file(tmp_path):
    good = struct.pack("<I", 2) + struct.pack("<H", 1) + b"a" + struct.pack("<I", 0) + struct.pack("<H", 1) + b"b" \
        + struct.pack("<I", 1)
    (tmp_path / "ok.vocab").write_bytes(good)
    assert rt.read_quicktok_ranks(tmp_path / "ok.vocab") == {b"a": 0, b"b": 1}
    (tmp_path / "cut.vocab").write_bytes(good[:-3])
    with pytest.raises(InputError, match="cut.vocab.*ends inside token 1"):
        rt.read_quicktok_ranks(tmp_path / "cut.vocab")
    (tmp_path / "dup.vocab").write_bytes(good[:-4] + struct.pack("<I", 0))
    with pytest.raises(InputError, match="ranks are not 0..count-1"):
        rt.read_quicktok_ranks(tmp_path / "dup.vocab")


def test_missing_package_says_how_to_install():
    with pytest.raises(InputError, match="make setup"):
        rt.package_file("quicktok", "data/no-such-file", "quicktok-v1")


# ---- Mistral (SentencePiece) -------------------------------------------------------------------------------
MISTRAL_CHAT = ("<s>[INST] Hello, how are you? [/INST]I'm doing great. How can I help you today?</s> [INST] I'd like "
                "to show off how chat templating works! [/INST]")
MISTRAL_CHAT_IDS = [1, 733, 16289, 28793, 22557, 28725, 910, 460, 368, 28804, 733, 28748, 16289, 28793, 28737, 28742,
                    28719, 2548, 1598, 28723, 1602, 541, 315, 1316, 368, 3154, 28804, 2, 28705, 733, 16289, 28793, 315,
                    28742, 28715, 737, 298, 1347, 805, 910, 10706, 5752, 1077, 3791, 28808, 733, 28748, 16289, 28793]


def test_mistral_pinned_ids(spm_tok):
    assert spm_tok.get_vocab_size() == 32000
    assert [spm_tok.token_to_id(t) for t in ("<unk>", "<s>", "</s>")] == [0, 1, 2]
    # mistral-common's test vector for tokenizer.model.v1 (BOS added by default, as the hub tokenizer does)
    assert spm_tok.encode("[INST] SYSTEM\n\na [/INST]").ids == [1, 733, 16289, 28793, 17121, 22526, 13, 13, 28708,
                                                                733, 28748, 16289, 28793]
    # a rendered chat: "▁" prefix on each text segment, so " [INST]" after </s> gives "▁" + "▁[" (28705, 733)
    assert spm_tok.encode(MISTRAL_CHAT, add_special_tokens=False).ids == MISTRAL_CHAT_IDS
    assert spm_tok.encode("1234", add_special_tokens=False).ids == [28705, 28740, 28750, 28770, 28781]  # digits split
    assert spm_tok.encode("🦙", add_special_tokens=False).tokens == ["▁", "<0xF0>", "<0x9F>", "<0xA6>", "<0x99>"]
    assert spm_tok.decode(spm_tok.encode(" héllo  wörld").ids) == " héllo  wörld"


def test_mistral_equals_sentencepiece_on_real_text(spm_tok, shared_data):
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(rt.package_file("mistral_common", "data/tokenizer.model.v1",
                                                                   "mistral-common")))
    # a literal "</s>" in a text is one special token for the hub tokenizer but plain text for sentencepiece
    texts = [t for t in _ufb_texts(shared_data, 150) if "<s>" not in t and "</s>" not in t]
    bad = [t[:60] for t in texts if spm_tok.encode(t, add_special_tokens=False).ids != sp.encode(t)]
    assert not bad, f"{len(bad)} of {len(texts)} texts differ from sentencepiece, e.g. {bad[:2]}"


def test_mistral_model_file_is_mistral_7b_tokenizer():
    from prefopt.core.cachefs import file_sha256

    path = rt.package_file("mistral_common", "data/tokenizer.model.v1", "mistral-common")
    # the sha256 of tokenizer.model in mistralai/Mistral-7B-v0.1 / -Instruct-v0.1 / Mixtral-8x7B-Instruct-v0.1
    assert file_sha256(path) == "dadfd56d766715c61d2ef780a525ab43b8e6da4de6865bda3d95fdef5e134055"


# ---- stand-ins -------------------------------------------------------------------------------------------
def test_standins_have_real_sizes_and_special_ids(cache):
    gemma = rt.load_backend("gemma2-standin", cache)
    assert gemma.get_vocab_size() == 256000
    assert {t: gemma.token_to_id(t) for t in ("<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>")} \
        == {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "<start_of_turn>": 106, "<end_of_turn>": 107}
    assert gemma.encode("hi").ids[0] == 2  # Gemma's tokenizer adds <bos>
    neox = rt.load_backend("gptneox-standin", cache)
    assert neox.get_vocab_size() == 50277
    assert (neox.token_to_id("<|endoftext|>"), neox.token_to_id("<|padding|>")) == (0, 1)
    assert (neox.token_to_id(" " * 24), neox.token_to_id("  ")) == (50254, 50276)
    assert neox.encode("hi").ids == neox.encode("hi", add_special_tokens=False).ids  # adds no BOS
    for tok in (gemma, neox):  # fillers are never produced: any text round-trips through learned tokens only
        text = "The café costs 12.50€ — naïve 日本語\n\tend"
        ids = tok.encode(text, add_special_tokens=False).ids
        assert tok.decode(ids) == text
        assert not any(tok.id_to_token(i).startswith("<filler_") for i in ids)


# ---- miniatures --------------------------------------------------------------------------------------------
# Real config.json values (hub spelling), written out here independently of miniatures.FAMILIES.
_L3 = {"model_type": "llama", "vocab_size": 128256, "bos_token_id": 128000, "tie_word_embeddings": False,
       "rope_theta": 500000.0, "max_position_embeddings": 8192, "gqa": 4}
_MISTRAL = {"model_type": "mistral", "vocab_size": 32000, "bos_token_id": 1, "eos_token_id": 2,
            "tie_word_embeddings": False, "rope_theta": 10000.0, "sliding_window": 4096, "gqa": 4}
_LLAMA1 = {"model_type": "llama", "vocab_size": 32000, "bos_token_id": 1, "eos_token_id": 2,
           "tie_word_embeddings": False, "rope_theta": 10000.0, "max_position_embeddings": 2048, "gqa": 1}
REAL = {
    "meta-llama/Meta-Llama-3-8B": {**_L3, "eos_token_id": 128001},
    "meta-llama/Meta-Llama-3-8B-Instruct": {**_L3, "eos_token_id": 128009},
    "princeton-nlp/Llama-3-Base-8B-SFT": {**_L3, "eos_token_id": 128001},
    "RLHFlow/ArmoRM-Llama3-8B-v0.1": {**_L3, "eos_token_id": 128009},
    "mistralai/Mistral-7B-v0.1": _MISTRAL,
    "mistralai/Mistral-7B-Instruct-v0.2": {**_MISTRAL, "rope_theta": 1000000.0, "sliding_window": None},
    "alignment-handbook/zephyr-7b-sft-full": _MISTRAL,
    "google/gemma-2-9b-it": {"model_type": "gemma2", "vocab_size": 256000, "bos_token_id": 2, "eos_token_id": 1,
                             "pad_token_id": 0, "tie_word_embeddings": True, "rope_theta": 10000.0,
                             "sliding_window": 4096, "attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0,
                             "query_pre_attn_scalar": 256, "gqa": 2},
    "EleutherAI/pythia-2.8b": {"model_type": "gpt_neox", "vocab_size": 50304, "bos_token_id": 0, "eos_token_id": 0,
                               "tie_word_embeddings": False, "rotary_pct": 0.25, "rope_theta": 10000,
                               "use_parallel_residual": True, "gqa": 1},
    "decapoda-research/llama-7b-hf": _LLAMA1,
    "chavinlo/alpaca-native": {**_LLAMA1, "vocab_size": 32001, "pad_token_id": 32000},
}
# The end-of-turn token each real chat template writes after an assistant turn.
END_OF_TURN = {"meta-llama/Meta-Llama-3-8B-Instruct": "<|eot_id|>", "princeton-nlp/Llama-3-Base-8B-SFT": "<|eot_id|>",
               "RLHFlow/ArmoRM-Llama3-8B-v0.1": "<|eot_id|>", "mistralai/Mistral-7B-Instruct-v0.2": "</s>",
               "alignment-handbook/zephyr-7b-sft-full": "</s>", "google/gemma-2-9b-it": "<end_of_turn>"}


def _hub_view(cfg) -> dict:
    """The config in hub spelling (transformers 5 keeps RoPE settings in rope_parameters)."""
    rope = cfg.rope_parameters or {}
    heads, kv = cfg.num_attention_heads, getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads
    view = {k: getattr(cfg, k, None) for k in ("model_type", "vocab_size", "bos_token_id", "eos_token_id",
                                                 "pad_token_id", "tie_word_embeddings", "sliding_window",
                                                 "max_position_embeddings", "attn_logit_softcapping",
                                                 "final_logit_softcapping", "query_pre_attn_scalar",
                                                 "use_parallel_residual")}
    return {**view, "rope_theta": rope.get("rope_theta"), "rotary_pct": rope.get("partial_rotary_factor"),
            "gqa": heads // kv}


def test_every_model_the_configs_start_from_has_a_miniature():
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[1] / "training_configs"
    ids = set()
    for path in root.rglob("*.yaml"):
        value = (yaml.safe_load(path.read_text()) or {}).get("model_name_or_path")
        if isinstance(value, str) and value.count("/") == 1 and ":" not in value \
                and not value.startswith(("outputs", ".", "training")):
            ids.add(value)
    assert ids, "no hub ids found in training_configs/"
    assert ids <= set(miniatures.MINIATURES), sorted(ids - set(miniatures.MINIATURES))
    assert set(REAL) == set(miniatures.MINIATURES)


@pytest.mark.parametrize("hub_id", list(REAL))
def test_miniature_loads_keeps_real_fields_and_learns(hub_id, cache):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    folder = miniatures.build_miniature(hub_id, cache_dir=cache)
    assert miniatures.build_miniature(hub_id, cache_dir=cache) == folder  # cached, same folder
    cfg = AutoConfig.from_pretrained(folder)
    want = REAL[hub_id]
    got = _hub_view(cfg)
    assert {k: got[k] for k in want} == want
    assert cfg.hidden_size == 64 and cfg.num_hidden_layers == 2
    assert cfg.architectures == [miniatures._model_class(miniatures.MINIATURES[hub_id])]

    tok = AutoTokenizer.from_pretrained(folder)
    assert len(tok) <= cfg.vocab_size
    assert tok.bos_token_id == cfg.bos_token_id
    assert tok.pad_token_id == cfg.pad_token_id or cfg.pad_token_id is None  # zephyr: pad only in the tokenizer
    is_rm = miniatures.MINIATURES[hub_id].head == "seq-cls"
    model = (AutoModelForSequenceClassification if is_rm else AutoModelForCausalLM).from_pretrained(folder)
    assert type(model).__name__ == cfg.architectures[0]
    ids = torch.tensor([tok("The oven is hot. The oven is hot.", add_special_tokens=False)["input_ids"]])
    if is_rm:
        out = model(input_ids=ids)
        assert out.logits.shape == (1, 1)
        out.logits.sum().backward()
        return
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(3):  # one forward/backward learns: the loss on the same batch goes down
        loss = model(input_ids=ids, labels=ids).loss
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert torch.isfinite(torch.tensor(losses)).all() and losses[-1] < losses[0], losses


@pytest.mark.parametrize("hub_id", list(END_OF_TURN))
def test_chat_template_renders_one_bos_and_end_of_turn(hub_id, cache):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(miniatures.build_miniature(hub_id, cache_dir=cache))
    conv = [{"role": "user", "content": "How do I cook a t-bone in the oven?"},
            {"role": "assistant", "content": "Preheat it to 200°C."}]
    ids = tok(tok.apply_chat_template(conv, tokenize=False), add_special_tokens=False)["input_ids"]
    n_bos = ids.count(tok.bos_token_id)
    if hub_id == "alignment-handbook/zephyr-7b-sft-full":
        assert n_bos == 0  # the Zephyr template writes none; prefopt's tokenization prepends one
    else:
        assert n_bos == 1 and ids[0] == tok.bos_token_id
    end = tok.convert_tokens_to_ids(END_OF_TURN[hub_id])
    ends = [i for i, t in enumerate(ids) if t == end]
    assert ends, (END_OF_TURN[hub_id], tok.convert_ids_to_tokens(ids[-8:]))
    # the last end-of-turn token closes the assistant's answer
    assert tok.decode(ids[:ends[-1]]).rstrip().endswith("Preheat it to 200°C."), tok.convert_ids_to_tokens(ids[-8:])


def test_chat_templates_are_the_published_ones(shared_data):
    path = shared_data("simpo_repo_assets") / "chat_templates.json"
    simpo = json.loads(path.read_text())
    for key, template in hub_chat_templates.SIMPO_KEYS.items():
        assert simpo[key] == template, key


def test_gemma_template_renders_as_the_eval_template(cache):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(miniatures.build_miniature("google/gemma-2-9b-it", cache_dir=cache))
    conv = [{"role": "user", "content": " Hi there "}, {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Bye"}]
    own = tok.apply_chat_template(conv, tokenize=False, add_generation_prompt=True)
    tok.chat_template = TEMPLATES["gemma"]
    assert own == tok.apply_chat_template(conv, tokenize=False, add_generation_prompt=True)


def test_gemma2_soft_capping_is_active(cache):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(miniatures.build_miniature("google/gemma-2-9b-it", cache_dir=cache))
    with torch.no_grad():  # blow the weights up so uncapped logits would be far beyond the cap
        model.get_output_embeddings().weight.mul_(1e4)
        logits = model(input_ids=torch.tensor([[2, 500, 600, 700]])).logits
        assert logits.abs().max() <= 30.0 and logits.abs().max() > 29.0
        model.config.final_logit_softcapping = None
        assert model(input_ids=torch.tensor([[2, 500, 600, 700]])).logits.abs().max() > 100


def test_builds_are_deterministic_and_describe_lists_every_model(tmp_path, cache):
    from safetensors.torch import load_file

    hub_id = "mistralai/Mistral-7B-v0.1"
    a = miniatures.build_miniature(hub_id, cache_dir=cache)
    b = miniatures.build_miniature(hub_id, tmp_path / "copy", cache_dir=tmp_path / "other_cache")
    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert wa.keys() == wb.keys() and all((wa[k] == wb[k]).all() for k in wa)
    rows = miniatures.describe({hub_id: a})
    assert [r["hub_id"] for r in rows] == list(miniatures.MINIATURES)
    row = next(r for r in rows if r["hub_id"] == hub_id)
    assert row["tokenizer"] == "real" and row["params"] > 0 and "hidden_size 4096->64" in row["shrunk"]
    assert "stand-in" in next(r for r in rows if r["hub_id"] == "decapoda-research/llama-7b-hf")["tokenizer"]
    with pytest.raises(InputError, match="no miniature for"):
        miniatures.build_miniature("someone/unknown-7b", cache_dir=cache)
