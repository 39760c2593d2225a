"""PreferenceTrainer end to end on a tiny model: the loss it optimises is the pure function's, learning
happens (held-out preference accuracy rises), and the reference cache is exact and reused."""

import json

import pytest
import torch
from conftest import tiny_model_and_pairs
from transformers import AutoModelForCausalLM, AutoTokenizer

from prefopt.config import PreferenceConfig, build_config
from prefopt.data import PairCollator, load_pairs, tokenize_pairs
from prefopt.losses import PairLogps, evaluate
from prefopt.modeling import refcache

MAX_LEN = 24


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("trainer")
    model_dir, data = tiny_model_and_pairs(root, 256, 64)
    return root, model_dir, data


def _config(root, model_dir, data, loss, **over):
    raw = {"model_name_or_path": str(model_dir), "dataset": str(data), "loss": loss, "max_length": MAX_LEN,
           "max_prompt_length": 12, "output_dir": str(root / f"run-{loss}"), "per_device_train_batch_size": 16,
           "per_device_eval_batch_size": 32, "learning_rate": 3e-3, "max_steps": 40, "logging_steps": 10,
           "save_strategy": "no", "report_to": "none", "use_cpu": True, "seed": 0, "resume": "never",
           "reference_cache_dir": str(root / "refcache"), "disable_tqdm": True}
    raw.update(over)
    return build_config(raw, "<test>", PreferenceConfig)


def _heldout_margin_accuracy(model_dir, data):
    """Share of held-out pairs whose chosen response has the higher mean token log-prob (length-fair: the
    rejected responses are one token longer, so summed log-probs would favour the chosen ones for free)."""
    tok = AutoTokenizer.from_pretrained(model_dir)
    rows, _ = tokenize_pairs(load_pairs(str(data), split="test"), tok, max_length=MAX_LEN, max_prompt_length=12)
    c, r = refcache.compute_logps(AutoModelForCausalLM.from_pretrained(model_dir), rows,
                                  PairCollator(tok.pad_token_id), batch_size=64)
    lc = torch.tensor([len(row["chosen_ids"]) for row in rows], dtype=torch.float32)
    lr = torch.tensor([len(row["rejected_ids"]) for row in rows], dtype=torch.float32)
    return (c / lc > r / lr).float().mean().item()


@pytest.mark.parametrize("loss, hparams", [("simpo", {"beta": 2.0, "gamma_beta_ratio": 0.5}), ("dpo", {"beta": 0.5}),
                                          ("kto_pair", {"beta": 0.5})])
def test_training_raises_heldout_preference_accuracy(setup, loss, hparams):
    from prefopt.training.preference import train_preference

    root, model_dir, data = setup
    before = _heldout_margin_accuracy(model_dir, data)
    metrics = train_preference(*_config(root, model_dir, data, loss, **hparams))
    after = _heldout_margin_accuracy(root / f"run-{loss}", data)
    assert after > before + 0.2, (before, after)
    assert metrics["eval_rewards/accuracies"] > 0.8
    manifest = json.loads((root / f"run-{loss}" / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["config"]["loss"] == loss
    assert manifest["data"]["train"]["kept"] == 256 and len(manifest["config_hash"]) == 16
    assert (root / f"run-{loss}" / "training_curves.png").read_bytes().startswith(b"\x89PNG")


def test_trainer_loss_is_the_registered_function(setup):
    """compute_loss on a batch equals the pure loss applied to independently computed log-probs."""
    from datasets import Dataset

    from prefopt.training.trainer import PreferenceTrainer

    root, model_dir, data = setup
    model_args, _, args = _config(root, model_dir, data, "simpo", beta=2.0, gamma_beta_ratio=0.5, sft_weight=0.3)
    tok = AutoTokenizer.from_pretrained(model_dir)
    rows, _ = tokenize_pairs(load_pairs(str(data), split="test"), tok, max_length=MAX_LEN, max_prompt_length=12)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    trainer = PreferenceTrainer(model=model, args=args, processing_class=tok, train_dataset=Dataset.from_list(rows))
    batch = PairCollator(tok.pad_token_id)(rows[:8])
    model.eval()
    loss = trainer.compute_loss(model, batch)

    # independent: full log-softmax, explicit per-sequence loop
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    logp = torch.log_softmax(logits.float(), -1)
    sums, counts = [], []
    for i in range(batch["input_ids"].size(0)):
        pos = [t for t in range(1, batch["input_ids"].size(1)) if batch["response_mask"][i, t]]
        sums.append(sum(logp[i, t - 1, batch["input_ids"][i, t]] for t in pos))
        counts.append(len(pos))
    s, n = torch.stack(sums), torch.tensor(counts, dtype=torch.float32)
    expected = evaluate("simpo", PairLogps(s[:8], s[8:], n[:8], n[8:]), beta=2.0, gamma_beta_ratio=0.5,
                        sft_weight=0.3).losses.mean()
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)


def test_reference_cache_exact_and_reused(setup, tmp_path):
    from prefopt.training.preference import attach_reference_logps

    root, model_dir, data = setup
    model_args, _, args = _config(root, model_dir, data, "dpo", reference_cache_dir=str(tmp_path / "cache"))
    tok = AutoTokenizer.from_pretrained(model_dir)
    rows, _ = tokenize_pairs(load_pairs(str(data), split="test"), tok, max_length=MAX_LEN, max_prompt_length=12)

    computed = refcache.STATS["computed"]
    first = attach_reference_logps(rows, model_args, args, tok)
    assert refcache.STATS["computed"] == computed + 1
    second = attach_reference_logps(rows, model_args, args, tok)
    assert refcache.STATS["computed"] == computed + 1, "second run recomputed instead of reading the cache"
    assert [r["ref_chosen_logps"] for r in first] == [r["ref_chosen_logps"] for r in second]

    # on the fly (cache off) gives the identical values, so losses are identical
    args.reference_cache = "off"
    online = attach_reference_logps(rows, model_args, args, tok)
    assert [r["ref_rejected_logps"] for r in online] == [r["ref_rejected_logps"] for r in first]

    # a corrupted entry fails its integrity check and is recomputed, never used
    args.reference_cache = "auto"
    entry = next((tmp_path / "cache").glob("*/logps.safetensors"))
    entry.write_bytes(entry.read_bytes()[:-8] + b"\x00" * 8)
    before = refcache.STATS["computed"]
    third = attach_reference_logps(rows, model_args, args, tok)
    assert refcache.STATS["computed"] == before + 1
    assert [r["ref_chosen_logps"] for r in third] == [r["ref_chosen_logps"] for r in first]

    # different data -> a different key (no stale reuse)
    attach_reference_logps(rows[:10], model_args, args, tok)
    assert refcache.STATS["computed"] == before + 2


def test_online_reference_equals_cached(setup):
    """DPO with a reference model in memory gives the same loss as DPO reading cached reference log-probs."""
    from datasets import Dataset

    from prefopt.training.preference import attach_reference_logps
    from prefopt.training.trainer import PreferenceTrainer

    root, model_dir, data = setup
    model_args, _, args = _config(root, model_dir, data, "dpo", beta=0.3)
    tok = AutoTokenizer.from_pretrained(model_dir)
    rows, _ = tokenize_pairs(load_pairs(str(data), split="test"), tok, max_length=MAX_LEN, max_prompt_length=12)
    cached = attach_reference_logps(rows, model_args, args, tok)
    policy = AutoModelForCausalLM.from_pretrained(model_dir)
    with torch.no_grad():  # move the policy away from the reference so the log-ratios are not all zero
        for p in policy.parameters():
            p.add_(0.01 * torch.randn_like(p))
    policy.eval()
    t_cached = PreferenceTrainer(model=policy, args=args, processing_class=tok, train_dataset=Dataset.from_list(cached))
    t_online = PreferenceTrainer(model=policy, args=args, processing_class=tok, train_dataset=Dataset.from_list(rows),
                                 ref_model=AutoModelForCausalLM.from_pretrained(model_dir))
    collate = PairCollator(tok.pad_token_id)
    loss_cached = t_cached.compute_loss(policy, collate(cached[:16]))
    loss_online = t_online.compute_loss(policy, collate(rows[:16]))
    torch.testing.assert_close(loss_cached, loss_online, rtol=1e-5, atol=1e-6)


def test_reference_needed_but_missing_is_an_error(setup):
    from datasets import Dataset

    from prefopt.training.trainer import PreferenceTrainer

    root, model_dir, data = setup
    _, _, args = _config(root, model_dir, data, "dpo")
    tok = AutoTokenizer.from_pretrained(model_dir)
    rows, _ = tokenize_pairs(load_pairs(str(data), split="test"), tok, max_length=MAX_LEN, max_prompt_length=12)
    with pytest.raises(ValueError, match="needs reference log-probs"):
        PreferenceTrainer(model=AutoModelForCausalLM.from_pretrained(model_dir), args=args, processing_class=tok,
                          train_dataset=Dataset.from_list(rows))


def test_shared_prefix_layout_gives_the_same_loss_and_gradients(setup):
    """batch_layout: shared_prefix (one packed row per pair) is picked by the config and computes the same SimPO
    loss and gradients as the (2B, T) layout; a scheduler block cannot be combined with it."""
    from datasets import Dataset

    from prefopt.core.errors import InputError
    from prefopt.data.collate import SharedPrefixPairCollator
    from prefopt.training.trainer import PreferenceTrainer

    root, model_dir, data = setup
    tok = AutoTokenizer.from_pretrained(model_dir)
    rows, _ = tokenize_pairs(load_pairs(str(data), split="test"), tok, max_length=MAX_LEN, max_prompt_length=12)
    policy = AutoModelForCausalLM.from_pretrained(model_dir, attn_implementation="eager")
    losses, grads = {}, {}
    for layout in ("pairs", "shared_prefix"):
        _, _, args = _config(root, model_dir, data, "simpo", beta=2.0, gamma_beta_ratio=0.5, batch_layout=layout)
        t = PreferenceTrainer(model=policy, args=args, processing_class=tok, train_dataset=Dataset.from_list(rows))
        assert isinstance(t.data_collator, SharedPrefixPairCollator) == (layout == "shared_prefix")
        policy.zero_grad()
        losses[layout] = t.compute_loss(policy, t.data_collator(rows[:16]))
        losses[layout].backward()
        grads[layout] = torch.cat([p.grad.flatten() for p in policy.parameters() if p.grad is not None])
    torch.testing.assert_close(losses["shared_prefix"], losses["pairs"], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grads["shared_prefix"], grads["pairs"], rtol=1e-4, atol=1e-6)
    with pytest.raises(InputError, match="batch_layout shared_prefix cannot feed a sample scheduler"):
        _config(root, model_dir, data, "dpo", batch_layout="shared_prefix", sample_scheduler={"name": "random"})
