"""prefopt.modeling.fused_logprobs (config logprob_impl: chunked): the same per-sequence log-probs and gradients as the full
path, without ever building the (N, T, V) logits.

Checked by hand on a 2-token vocabulary, against plain autograd on the kernel (bias, soft-capping, chunk sizes,
bf16 autocast), on Llama- (tied), Mistral- (untied), Gemma-2- (soft-capping), GPT-NeoX- and GPT-J-shaped (head
bias) tiny random models in both batch layouts, and through PreferenceTrainer for SimPO (no reference) and DPO
(reference model and reference cache). 2-process DDP and ZeRO-3: tests/test_distributed.py.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from prefopt.core.errors import InputError
from prefopt.data.collate import PairCollator, SharedPrefixPairCollator
from prefopt.modeling.fused_logprobs import ResponseTokenLogps, token_logps_checkpointed
from prefopt.modeling.logprobs import pair_forward

VOCAB = 97


def _reference(hidden, weight, bias, labels, softcap):
    """Plain autograd: log_softmax over the full (M, V) logits, then the label's entry."""
    z = torch.nn.functional.linear(hidden, weight, bias).float()
    if softcap:
        z = torch.tanh(z / softcap) * softcap
    return torch.log_softmax(z, -1).gather(1, labels.unsqueeze(1)).squeeze(1)


def test_kernel_hand_checked():
    # hidden [1], head rows [0] and [ln 3]: logits [0, ln 3] -> softmax [1/4, 3/4]
    hidden = torch.tensor([[1.0], [2.0]])
    weight = torch.tensor([[0.0], [math.log(3.0)]])
    labels = torch.tensor([1, 0])
    out = ResponseTokenLogps.apply(hidden, weight, None, labels, 1, None)
    # second row: logits [0, 2 ln 3] -> p(0) = 1 / (1 + 9)
    torch.testing.assert_close(out, torch.tensor([math.log(3 / 4), math.log(1 / 10)]))
    # soft-capping at c: logits become c * tanh(z / c); bias 1 on token 0 shifts its logit first
    c, bias = 0.5, torch.tensor([1.0, 0.0])
    z0, z1 = c * math.tanh(1.0 / c), c * math.tanh(math.log(3.0) / c)
    out = ResponseTokenLogps.apply(hidden[:1], weight, bias, labels[:1], 4, c)
    torch.testing.assert_close(out, torch.tensor([z1 - math.log(math.exp(z0) + math.exp(z1))]))


@pytest.mark.parametrize("softcap", [None, 1.5])
@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("chunk", [1, 3, 7, 100])
def test_kernel_equals_autograd(softcap, with_bias, chunk):
    g = torch.Generator().manual_seed(chunk)
    hidden = torch.randn(11, 8, generator=g, requires_grad=True)
    weight = torch.randn(VOCAB, 8, generator=g, requires_grad=True)
    bias = torch.randn(VOCAB, generator=g, requires_grad=True) if with_bias else None
    labels = torch.randint(0, VOCAB, (11,), generator=g)
    upstream = torch.randn(11, generator=g)
    params = [hidden, weight] + ([bias] if with_bias else [])
    results = []
    for fn in (_reference, ResponseTokenLogps.apply, token_logps_checkpointed):
        args = (hidden, weight, bias, labels) if fn is _reference else (hidden, weight, bias, labels, chunk)
        out = fn(*args, softcap)
        results.append((out, *torch.autograd.grad((out * upstream).sum(), params)))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5)


def test_kernel_under_bf16_autocast_matches_full_path():
    """Mixed precision: the head's matmul runs in bf16 as autocast runs the full path's, the log-softmax in float32."""
    g = torch.Generator().manual_seed(0)
    hidden = torch.randn(16, 32, generator=g, requires_grad=True)
    weight = (torch.randn(VOCAB, 32, generator=g) * 0.2).requires_grad_()
    labels = torch.randint(0, VOCAB, (16,), generator=g)
    results = []
    for fn in (_reference, ResponseTokenLogps.apply):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = fn(hidden, weight, None, labels, None) if fn is _reference else fn(hidden, weight, None, labels, 5, None)
        assert out.dtype == torch.float32
        results.append((out, *torch.autograd.grad(out.sum(), [hidden, weight])))
    for a, b in zip(*results):
        assert a.dtype == b.dtype
        torch.testing.assert_close(b, a, rtol=2e-2, atol=2e-2)
    assert (results[0][0] - results[1][0]).abs().max() < 1e-5  # identical bf16 products, float32 normalisers


# ---- tiny random models of each family ---------------------------------------------------------------------------
def _model(family: str):
    import transformers as tf

    common = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4)
    configs = {
        "llama": lambda: tf.LlamaConfig(**common, num_key_value_heads=2, tie_word_embeddings=True),
        "mistral": lambda: tf.MistralConfig(**common, num_key_value_heads=2, tie_word_embeddings=False),
        # a small cap, so that soft-capping changes the log-probs of a random model's small logits
        "gemma2": lambda: tf.Gemma2Config(**common, num_key_value_heads=2, head_dim=8, final_logit_softcapping=0.7,
                                          query_pre_attn_scalar=8),
        "gpt_neox": lambda: tf.GPTNeoXConfig(**common, tie_word_embeddings=False),
        "gptj": lambda: tf.GPTJConfig(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, rotary_dim=4, n_positions=64,
                                      tie_word_embeddings=False),
    }
    torch.manual_seed(0)
    model = tf.AutoModelForCausalLM.from_config(configs[family](), attn_implementation="eager")
    return model.eval()


def _rows(seed: int = 0) -> list[dict]:
    g = torch.Generator().manual_seed(seed)

    def ids(n):
        return torch.randint(3, VOCAB, (n,), generator=g).tolist()

    rows = [{"prompt_ids": ids(p), "chosen_ids": ids(c), "rejected_ids": ids(r)}
            for p, c, r in [(5, 9, 3), (12, 2, 8), (1, 4, 4), (7, 1, 11)]]
    rows[2]["rejected_ids"][0] = rows[2]["chosen_ids"][0]
    return rows


def _inner_weight(model) -> torch.Tensor:
    """A weight of the first block (gradient flows back through the whole stack into it)."""
    return next(p for n, p in model.named_parameters() if (".0." in n) and n.endswith("weight") and p.dim() == 2)


@pytest.mark.parametrize("family", ["llama", "mistral", "gemma2", "gpt_neox", "gptj"])
@pytest.mark.parametrize("collator", [PairCollator(0), SharedPrefixPairCollator(0)], ids=["pairs", "shared_prefix"])
def test_models_same_logps_and_gradients(family, collator):
    model = _model(family)
    head = model.get_output_embeddings()
    params = {"head": head.weight, "inner": _inner_weight(model), "embedding": model.get_input_embeddings().weight}
    if head.bias is not None:
        params["head_bias"] = head.bias
    batch = collator(_rows())
    results = {}
    for impl in ("full", "chunked"):
        chosen, rejected, lc, lr, _ = pair_forward(model, batch, impl=impl, chunk_tokens=5)
        grads = torch.autograd.grad((chosen - 0.7 * rejected).sum(), list(params.values()))
        results[impl] = [chosen, rejected, lc, lr, *grads]
    names = ["chosen", "rejected", "chosen_len", "rejected_len", *params]
    for name, a, b in zip(names, results["full"], results["chunked"]):
        scale = max(1.0, a.abs().max().item())
        assert (a - b).abs().max().item() <= 2e-5 * scale, (family, name)
    if family == "gemma2":  # the cap mattered: without it the log-probs would differ
        model.config.final_logit_softcapping = None
        uncapped = pair_forward(model, batch, impl="full")[0]
        assert (uncapped - results["full"][0]).abs().max() > 1e-2


class _LargestVocabTensor(TorchDispatchMode):
    """The largest tensor (in elements) with a vocabulary-sized dimension that any op returns while active."""

    def __init__(self):
        super().__init__()
        self.numel = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else [out]:
            if isinstance(t, torch.Tensor) and VOCAB in t.shape:
                self.numel = max(self.numel, t.numel())
        return out


def test_never_builds_the_full_logits():
    """Forward and backward of the chunked path allocate nothing of (N, T, V) size: its largest vocabulary-sized
    tensor is the head's weight gradient or one chunk's logits; the full path builds (N, T, V)."""
    model = _model("mistral")
    batch = PairCollator(0)(_rows())
    n, t = batch["input_ids"].shape
    pair_forward(model, batch, impl="chunked", chunk_tokens=4)  # the first call checks the head (a small forward)
    largest = {}
    for impl in ("full", "chunked"):
        with _LargestVocabTensor() as mode:
            chosen, rejected, *_ = pair_forward(model, batch, impl=impl, chunk_tokens=4)
            (chosen + rejected).sum().backward()
        largest[impl] = mode.numel
    assert largest["full"] >= n * t * VOCAB
    assert largest["chunked"] <= max(4 * VOCAB, model.get_output_embeddings().weight.numel())


def test_head_is_checked_once_and_a_transformed_head_is_refused():
    """A model whose forward changes the logits after its head (here: a logit scale) is refused with the fix."""
    from transformers import MistralForCausalLM

    class Scaled(MistralForCausalLM):
        def forward(self, *args, **kwargs):
            out = super().forward(*args, **kwargs)
            out.logits = out.logits * 2.0
            return out

    batch = PairCollator(0)(_rows())
    good = _model("mistral")
    calls = []
    good.get_output_embeddings().register_forward_hook(lambda *a: calls.append(1))
    pair_forward(good, batch, impl="chunked", chunk_tokens=8)
    pair_forward(good, batch, impl="chunked", chunk_tokens=8)
    assert len(calls) == 1  # the head module ran once (the check); the scoring reads its weight in chunks
    scaled = Scaled(good.config)
    with pytest.raises(InputError, match="logprob_impl: full"):
        pair_forward(scaled, batch, impl="chunked", chunk_tokens=8)
    with pytest.raises(InputError, match="positive integer"):
        pair_forward(good, batch, impl="chunked", chunk_tokens=0)


def test_shared_prefix_still_refuses_hidden_states():
    batch = SharedPrefixPairCollator(0)(_rows())
    for impl in ("full", "chunked"):
        with pytest.raises(ValueError, match="hidden states"):
            pair_forward(_model("llama"), batch, output_hidden_states=True, impl=impl, chunk_tokens=8)


def test_hidden_states_for_the_scheduler_are_the_full_paths():
    model = _model("llama")
    batch = PairCollator(0)(_rows())
    full = pair_forward(model, batch, output_hidden_states=True)[-1].hidden_states
    chunked = pair_forward(model, batch, output_hidden_states=True, impl="chunked", chunk_tokens=8)[-1].hidden_states
    assert len(full) == len(chunked) == model.config.num_hidden_layers + 1
    for a, b in zip(full, chunked):
        torch.testing.assert_close(a, b)


# ---- config ------------------------------------------------------------------------------------------------------
def _build(**over):
    from prefopt.config import PreferenceConfig, build_config

    raw = {"model_name_or_path": "x", "dataset": "y", "loss": "simpo", "output_dir": "/tmp/unused", **over}
    return build_config(raw, "cfg.yaml", PreferenceConfig)[2]


def test_config_keys_are_validated():
    args = _build()
    assert args.logprob_impl == "chunked" and args.logprob_chunk_tokens == 256
    assert _build(logprob_impl="full").logprob_impl == "full"
    with pytest.raises(InputError, match=r"cfg.yaml: logprob_impl must be one of \['full', 'chunked'\], got 'fused'"):
        _build(logprob_impl="fused")
    with pytest.raises(InputError, match="logprob_chunk_tokens must be >= 1, got 0"):
        _build(logprob_chunk_tokens=0)
    with pytest.raises(InputError, match="logprob_chunk_tokens"):
        _build(logprob_chunk_tokens="many")
    with pytest.raises(InputError, match="batch_layout must be one of"):  # declared choices are now enforced
        _build(batch_layout="packed")


# ---- through the trainer -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from conftest import tiny_model_and_pairs
    from transformers import AutoTokenizer

    from prefopt.data import load_pairs, tokenize_pairs

    root = tmp_path_factory.mktemp("fused")
    model_dir, data = tiny_model_and_pairs(root, 16)
    tok = AutoTokenizer.from_pretrained(model_dir)
    rows, _ = tokenize_pairs(load_pairs(str(data), split="train"), tok, max_length=24, max_prompt_length=12)
    return root, model_dir, data, tok, rows


def _trainer_step(tiny, loss: str, impl: str, reference: str | None, **hparams):
    """One training step on 8 pairs: (loss, {name: grad}, {name: weight after the optimizer step}, trainer)."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM

    from prefopt.config import PreferenceConfig, build_config
    from prefopt.training.preference import attach_reference_logps
    from prefopt.training.trainer import PreferenceTrainer

    root, model_dir, data, tok, rows = tiny
    raw = {"model_name_or_path": str(model_dir), "dataset": str(data), "loss": loss, "output_dir": str(root / "out"),
           "per_device_train_batch_size": 8, "learning_rate": 1e-2, "report_to": "none", "use_cpu": True, "seed": 0,
           "reference_cache_dir": str(root / "refcache"), "logprob_impl": impl, "logprob_chunk_tokens": 7, **hparams}
    model_args, _, args = build_config(raw, "<test>", PreferenceConfig)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    if reference == "cache":
        rows = attach_reference_logps(rows, model_args, args, tok)
    ref_model = AutoModelForCausalLM.from_pretrained(model_dir) if reference == "model" else None
    trainer = PreferenceTrainer(model=model, args=args, processing_class=tok, ref_model=ref_model,
                                train_dataset=Dataset.from_list(rows))
    optimizer = trainer.create_optimizer()
    trainer.current_gradient_accumulation_steps = 1  # set by Trainer.train(), bypassed here
    seen = []  # positions the head MODULE projects per call: all of them on the full path, none when chunked
    model.get_output_embeddings().register_forward_hook(lambda m, i, o: seen.append(i[0].shape[:-1].numel()))
    value = trainer.training_step(model, trainer.data_collator(rows[:8])).item()
    batch_positions = trainer.data_collator(rows[:8])["input_ids"].numel()
    assert max(seen) == batch_positions if impl == "full" else max(seen) <= 16  # chunked: only the head check
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    optimizer.step()
    return value, grads, {n: p.detach().clone() for n, p in model.named_parameters()}, rows


@pytest.mark.parametrize("loss, reference, hparams", [
    ("simpo", None, {"beta": 2.0, "gamma_beta_ratio": 0.5}),
    ("dpo", "model", {"beta": 0.3}),
    ("dpo", "cache", {"beta": 0.3}),
])
def test_trainer_step_equal(tiny, loss, reference, hparams):
    """The same loss, gradients and weights after an optimizer step with logprob_impl full and chunked."""
    full = _trainer_step(tiny, loss, "full", reference, **hparams)
    chunked = _trainer_step(tiny, loss, "chunked", reference, **hparams)
    assert full[0] == pytest.approx(chunked[0], rel=1e-5) and full[0] > 0
    for name in full[1]:
        torch.testing.assert_close(chunked[1][name], full[1][name], rtol=1e-4, atol=1e-6, msg=name)
        torch.testing.assert_close(chunked[2][name], full[2][name], rtol=1e-5, atol=1e-6, msg=name)
    if reference == "cache":  # each impl has its own cache entry; the reference log-probs agree to rounding
        keys = ("ref_chosen_logps", "ref_rejected_logps")
        assert [r[k] for r in full[3] for k in keys] == pytest.approx([r[k] for r in chunked[3] for k in keys], rel=1e-6)
        assert len(list((tiny[0] / "refcache").glob("*/logps.safetensors"))) == 2


def test_trainer_step_equal_under_native_bf16_mixed_precision(tiny):
    """bf16: true without DeepSpeed (one process or DDP): accelerate wraps the model's forward in bf16 autocast
    (Accelerator.prepare_model). The chunked path calls the base model and head itself, so it must enter the same
    autocast: otherwise its head check compared float32 logits with the autocast forward's and refused every model
    (Llama 0.005, Gemma-2 0.011 apart), and it would have trained in float32 where the full path runs bf16."""
    import transformers

    real_init = transformers.Trainer.__init__

    def prepared(self, *a, **kw):  # what Trainer.train does before the first step: the model through accelerate
        real_init(self, *a, **kw)
        self.model = self.accelerator.prepare_model(self.model)

    transformers.Trainer.__init__ = prepared
    try:
        full = _trainer_step(tiny, "simpo", "full", None, beta=2.0, gamma_beta_ratio=0.5, bf16=True)
        chunked = _trainer_step(tiny, "simpo", "chunked", None, beta=2.0, gamma_beta_ratio=0.5, bf16=True)
    finally:
        transformers.Trainer.__init__ = real_init
    assert full[0] == pytest.approx(chunked[0], rel=1e-2) and full[0] > 0
    for name, g in full[1].items():
        assert torch.allclose(g, chunked[1][name], rtol=5e-2, atol=1e-3), name
