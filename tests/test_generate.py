"""prefopt.modeling.generate: batched HF generation with chat templates, left padding and seeded sampling."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

from prefopt.core.errors import InputError  # noqa: E402
from prefopt.modeling.generate import cut_at_stop, generate, render_prompts  # noqa: E402
from prefopt.toy import tiny  # noqa: E402
from prefopt.toy.addition import AdditionTask, accuracy  # noqa: E402

PROMPTS = ["1+2=", "47+38=", "9", "12+34+56+78=", "=", "99+1="]
CONVS = [[{"role": "user", "content": p}] for p in PROMPTS]


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    path = tiny.build_tiny("0.2m", "char", cache_dir=tmp_path_factory.mktemp("gen_cache"))
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    # Re-initialise with large weights so the random model has peaked (non-tied) next-token distributions.
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.5, generator=g)
    return model, tok


def test_render_one_bos(lm):
    _, tok = lm
    ids = render_prompts(tok, CONVS[:1])[0]
    assert ids[0] == tok.bos_token_id and ids.count(tok.bos_token_id) == 1
    assert tok.convert_ids_to_tokens(ids[-1]) == "<|assistant|>"


def test_greedy_deterministic_and_batch_invariant(lm):
    model, tok = lm
    a = generate(model, tok, CONVS, max_new_tokens=8)
    b = generate(model, tok, CONVS, max_new_tokens=8, batch_size=4)
    alone = [generate(model, tok, [c], max_new_tokens=8)[0] for c in CONVS]
    assert a == b == alone
    assert len(a) == len(CONVS) and all(len(x) == 1 and isinstance(x[0], str) for x in a)
    assert all(set(x[0]) <= set("0123456789+=") for x in a)  # special tokens are skipped
    assert tok.padding_side == "right"  # restored


def test_sampling_seeded(lm):
    model, tok = lm
    kw = dict(max_new_tokens=8, do_sample=True, temperature=1.0, num_return_sequences=4)
    torch.manual_seed(5)
    expected_rng = torch.rand(2)
    torch.manual_seed(5)
    s1 = generate(model, tok, CONVS, seed=1, **kw)
    assert torch.equal(torch.rand(2), expected_rng)  # the caller's RNG is untouched
    s1b = generate(model, tok, CONVS, seed=1, **kw)
    s2 = generate(model, tok, CONVS, seed=2, **kw)
    assert s1 == s1b
    assert s1 != s2
    assert len(s1) == len(CONVS) and all(len(x) == 4 for x in s1)
    assert len({r for x in s1 for r in x}) > len(CONVS)  # samples actually vary


def test_stop_strings(lm):
    model, tok = lm
    full = generate(model, tok, CONVS, max_new_tokens=8)
    chars = [c for x in full for c in x[0]]
    stop = max(set(chars), key=chars.count)  # a character that does occur
    cut = generate(model, tok, CONVS, max_new_tokens=8, stop=[stop, "never-there"])
    assert cut == [[x[0].split(stop)[0]] for x in full]
    assert any(len(c[0]) < len(f[0]) for c, f in zip(cut, full))
    assert cut_at_stop("abcXdefY", ["Y", "X"]) == "abc" and cut_at_stop("abc", None) == "abc"


def test_training_mode_restored(lm):
    model, tok = lm
    model.train()
    generate(model, tok, CONVS[:2], max_new_tokens=3)
    assert model.training
    model.eval()
    generate(model, tok, CONVS[:2], max_new_tokens=3, do_sample=True)
    assert not model.training


def test_progress_and_empty(lm):
    model, tok = lm
    assert generate(model, tok, [], max_new_tokens=3) == []
    assert len(generate(model, tok, CONVS, max_new_tokens=3, progress=True, desc="t", batch_size=2)) == len(CONVS)


def test_bad_input_and_vllm_hook(lm):
    model, tok = lm
    with pytest.raises(InputError):
        generate(model, tok, ["1+2="], max_new_tokens=3)  # not message lists
    with pytest.raises(InputError):
        generate(model, tok, CONVS, max_new_tokens=3, num_return_sequences=2)  # greedy repeats
    with pytest.raises(InputError):
        generate(model, tok, CONVS, max_new_tokens=3, backend="tgi")
    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(InputError, match="vllm"):
            generate(model, tok, CONVS, max_new_tokens=3, backend="vllm")


def test_toy_accuracy_runs(lm):
    model, tok = lm
    task = AdditionTask()
    prompts = task.splits()["test"][:20]
    res = accuracy(model, tok, prompts, task, batch_size=8, return_responses=True)
    assert res["n"] == 20 and res["n_carry"] + res["n_no_carry"] == 20
    assert 0.0 <= res["accuracy"] <= 1.0 and len(res["responses"]) == 20
