"""prefopt.modeling.logprobs: label log-probs without a log-softmax copy, row-chunked logsumexp, and the shared-prefix
layout (one packed [prompt | chosen | rejected] row per pair) giving the same numbers as the (2B, T) layout."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import AutoModelForCausalLM

from prefopt.data.collate import PairCollator, SharedPrefixPairCollator
from prefopt.modeling.logprobs import logsumexp_rows, pair_forward, token_logps
from prefopt.toy.tiny import build_tiny


def test_token_logps_hand_checked():
    # vocabulary of 2; logits [0, ln 3] -> softmax [1/4, 3/4]; logits [ln 2, ln 2] -> [1/2, 1/2]
    logits = torch.tensor([[[0.0, math.log(3.0)], [math.log(2.0), math.log(2.0)], [5.0, 5.0]]])
    ids = torch.tensor([[0, 1, 0]])  # token 1 is read from position 0, token 2 from position 1
    expected = torch.tensor([[math.log(3 / 4), math.log(1 / 2)]])
    for chunk in (0, 1):
        assert torch.allclose(token_logps(logits, ids, chunk), expected, atol=1e-6)


def test_chunked_logsumexp_equals_log_softmax_gather():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 7, 11, generator=g) * 4
    ids = torch.randint(0, 11, (5, 7), generator=g)
    reference = torch.log_softmax(logits[:, :-1], -1).gather(2, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    for chunk in (0, 1, 2, 3, 5, 8):
        assert (token_logps(logits, ids, chunk) - reference).abs().max() <= 1e-6
        assert (logsumexp_rows(logits, chunk) - torch.logsumexp(logits, -1)).abs().max() <= 1e-6


def test_shared_prefix_layout_hand_checked():
    rows = [{"prompt_ids": [11, 12], "chosen_ids": [13, 14], "rejected_ids": [15]},
            {"prompt_ids": [21], "chosen_ids": [22], "rejected_ids": [23]}]
    b = SharedPrefixPairCollator(pad_token_id=0)(rows)
    assert b["input_ids"].tolist() == [[11, 12, 13, 14, 15], [21, 22, 23, 0, 0]]
    assert b["position_ids"].tolist() == [[0, 1, 2, 3, 2], [0, 1, 1, 0, 0]]  # rejected restarts after the prompt
    assert b["segment_ids"].tolist() == [[0, 0, 1, 1, 2], [0, 1, 2, 0, 0]]
    # 13 is predicted at position 1 (after the prompt), 14 at 2; 15 also at 1: after the prompt, not after 14
    assert b["logit_index"][0, 2:].tolist() == [1, 2, 1] and b["logit_index"][1, 1:3].tolist() == [0, 0]
    m = b["attention_mask"][0, 0].int().tolist()
    assert m[4] == [1, 1, 0, 0, 1]  # the rejected token sees the prompt and itself, never the chosen tokens
    assert m[3] == [1, 1, 1, 1, 0]  # chosen tokens: causal over prompt + chosen
    pad = b["attention_mask"][1, 0].int().tolist()
    assert pad[3] == [0, 0, 0, 1, 0] and pad[2] == [1, 0, 1, 0, 0]


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield build_tiny("0.2m", "char", cache_dir=tmp_path_factory.mktemp("tiny"))
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_shared_prefix_equals_pair_layout(tiny_model_dir, attn):
    """Same summed log-probs, lengths and gradients as the (2B, T) layout (prompts, responses of mixed lengths)."""
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, attn_implementation=attn)
    g = torch.Generator().manual_seed(0)
    vocab = model.config.vocab_size
    rows = [{"prompt_ids": torch.randint(7, vocab, (p,), generator=g).tolist(),
             "chosen_ids": torch.randint(7, vocab, (c,), generator=g).tolist(),
             "rejected_ids": torch.randint(7, vocab, (r,), generator=g).tolist()}
            for p, c, r in [(5, 9, 3), (12, 2, 8), (1, 4, 4), (7, 1, 11)]]
    rows[2]["rejected_ids"][0] = rows[2]["chosen_ids"][0]  # same first token: one logit row read twice
    weight = model.get_input_embeddings().weight
    results = []
    for collator in (PairCollator(0), SharedPrefixPairCollator(0)):
        chosen, rejected, lc, lr, _ = pair_forward(model, collator(rows), chunk_size=2)
        grad = torch.autograd.grad((chosen - 0.7 * rejected).sum(), weight)[0]
        results.append((chosen, rejected, lc, lr, grad))
    for a, b in zip(*results):
        assert (a - b).abs().max() <= 1e-5 * max(1.0, a.abs().max().item())


def test_shared_prefix_refuses_hidden_states(tiny_model_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    batch = SharedPrefixPairCollator(0)([{"prompt_ids": [9, 10], "chosen_ids": [11], "rejected_ids": [12]}])
    with pytest.raises(ValueError, match="hidden states"):
        pair_forward(model, batch, output_hidden_states=True)
