"""The reference pass scores with the numerics of the policy's training forward (issue 20, item 6).

With `bf16: true` the policy's forward runs under bf16 autocast (accelerate wraps `model.forward` in
`Accelerator.prepare`); under DeepSpeed the engine holds bf16 weights instead. A reference scored in float32
without autocast differs from the policy at step 0 by bf16 rounding, so DPO's log-ratios start at noise instead of
0. Measured on the 0.2M tiny model (3.6-token answers): up to 5.2e-3 nats per sequence; on the 10M BPE tiny model
with 261-token UltraFeedback answers: up to 0.96 nats (mean 0.089), init margins up to 0.26 (bench/reference_precision.py).
"""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_model_and_pairs
from test_trainer import MAX_LEN, _config
from transformers import AutoModelForCausalLM, AutoTokenizer

from prefopt.data import PairCollator, load_pairs, tokenize_pairs
from prefopt.modeling.logprobs import pair_forward


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("refprec")
    model_dir, data = tiny_model_and_pairs(root, 48)
    tok = AutoTokenizer.from_pretrained(model_dir)
    rows, _ = tokenize_pairs(load_pairs(str(data), split="train"), tok, max_length=MAX_LEN, max_prompt_length=12)
    return root, model_dir, data, tok, rows


def _policy_logps(trainer, model, rows, collate, batch: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """The policy's per-sequence log-probs through the trainer's own prepared forward, in training batches
    (other size and order than the reference pass)."""
    prepared = trainer.accelerator.prepare_model(model, evaluation_mode=True)
    order = torch.randperm(len(rows), generator=torch.Generator().manual_seed(0)).tolist()
    chosen, rejected = torch.empty(len(rows)), torch.empty(len(rows))
    with torch.no_grad():
        for i in range(0, len(rows), batch):
            idx = order[i:i + batch]
            c, r, *_ = pair_forward(prepared, collate([rows[j] for j in idx]))
            chosen[idx], rejected[idx] = c.float(), r.float()
    return chosen, rejected


def test_reference_equals_the_policy_forward_at_init_under_bf16(setup):
    from datasets import Dataset

    from prefopt.training.preference import attach_reference_logps
    from prefopt.training.trainer import PreferenceTrainer

    root, model_dir, data, tok, rows = setup
    model_args, _, args = _config(root, model_dir, data, "dpo", bf16=True, per_device_eval_batch_size=4,
                                  reference_cache_dir=str(root / "cache-bf16"))
    attached = attach_reference_logps(rows, model_args, args, tok)
    policy = AutoModelForCausalLM.from_pretrained(model_dir)  # the reference itself: step 0 of training
    trainer = PreferenceTrainer(model=policy, args=args, processing_class=tok, train_dataset=Dataset.from_list(attached))
    chosen, rejected = _policy_logps(trainer, policy, rows, PairCollator(tok.pad_token_id))
    ref_c = torch.tensor([r["ref_chosen_logps"] for r in attached])
    ref_r = torch.tensor([r["ref_rejected_logps"] for r in attached])
    gap = max((chosen - ref_c).abs().max().item(), (rejected - ref_r).abs().max().item())
    print(f"\nbf16 autocast: max |policy - reference| log-prob at init {gap:.3e}")
    assert gap <= 1e-5, f"the reference was scored with other numerics than the policy: gap {gap:.3e} nats"


def test_numerics_follow_the_launcher_and_key_the_cache(setup):
    from prefopt.modeling.refprecision import reference_numerics

    root, model_dir, data, _, _ = setup
    _, _, plain = _config(root, model_dir, data, "dpo")
    _, _, mixed = _config(root, model_dir, data, "dpo", bf16=True)
    assert reference_numerics(plain) == "as_loaded"
    assert reference_numerics(mixed) == "autocast_bf16"
    mixed.deepspeed_plugin = object()  # under DeepSpeed the engine casts the policy's weights: so is the reference
    assert reference_numerics(mixed) == "weights_bf16"


def test_a_bf16_run_does_not_reuse_a_float32_entry(setup):
    from prefopt.modeling import refcache
    from prefopt.training.preference import attach_reference_logps

    root, model_dir, data, tok, rows = setup
    cache = str(root / "cache-shared")
    fp32_args, bf16_args = (_config(root, model_dir, data, "dpo", bf16=b, reference_cache_dir=cache) for b in (False, True))
    before = refcache.STATS["computed"]
    a = attach_reference_logps(rows[:8], fp32_args[0], fp32_args[2], tok)
    b = attach_reference_logps(rows[:8], bf16_args[0], bf16_args[2], tok)
    assert refcache.STATS["computed"] == before + 2, "the bf16 run read the float32 run's entry"
    assert [r["ref_chosen_logps"] for r in a] != [r["ref_chosen_logps"] for r in b]
