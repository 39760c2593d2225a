"""Our per-pair losses equal TRL 1.16's on the same tiny model and the same token ids (float32, atol 1e-5).

What is compared (each TRL value comes from TRL's own forward and loss code, not from a re-implementation):

* DPO (`loss_type=["sigmoid"]`) and IPO (`loss_type=["ipo"]`): `DPOTrainer._compute_loss`, the whole TRL 1.16
  loss path (fused-LM-head policy forward, reference forward on the `ref_model` we pass, loss branch, metrics).
  It returns only the batch mean, so it is called once per pair (a one-pair batch gives that pair's loss) and
  once on the whole batch (the mean, which also checks that right padding does not change anything). TRL's
  summed log-probs and rewards are read back from the metrics it logs (`logps/chosen`, `rewards/chosen`, ...).
  cDPO (`label_smoothing > 0`) is not compared: TRL 1.16's `sigmoid` branch ignores label smoothing, so our
  cDPO is checked by hand in tests/test_losses.py only. Logged IPO rewards differ by design (see the test).
* CPO `simpo` (cpo_alpha 0) and CPO `sigmoid` (cpo_alpha 0): `CPOTrainer.concatenated_forward` (full-logits
  forward + `get_batch_logps`, averaged for simpo, summed for sigmoid) and `CPOTrainer.cpo_loss`, which returns
  per-pair losses; plus `get_batch_loss_metrics` for the batch loss. With cpo_alpha > 0 TRL's NLL is one
  token-mean over all chosen tokens of the micro-batch; ours is the mean of per-pair token means. They agree only
  when every chosen response has the same length, so that case is tested on an equal-length batch.
* ORPO: `ORPOTrainer.concatenated_forward` (average log-probs) and `ORPOTrainer.odds_ratio_loss` (per-pair
  lambda * log sigma(log_odds)). The odds-ratio term is compared per pair. The SFT term is NOT the same: TRL
  (deliberately, as the authors' code; TRL PR #1516, kept by #2527) takes the NLL over prompt + response
  tokens, while our `orpo` uses the response-only token-mean -sw. `test_orpo_nll_term_differs_from_trl`
  pins that down: TRL's NLL equals a prompt+response token mean computed by our `token_logps`, and our
  batch loss equals TRL's once its NLL is replaced by our response-only term.
* Paired KTO (`kto_pair`, reference_point pooled): `KTOTrainer._compute_loss` (policy, KL and reference forwards,
  loss, metrics) on the 2B unpaired examples of B pairs, each example's KL completion set to its own completion,
  so TRL's KL estimate is the matched mean our pooled z0 takes. Batch loss, kl and mean rewards are compared.

Identical token ids: pairs are tokenized once by our `tokenize_pairs` (chat template, BOS, EOS). TRL's
tokenization is never used on them: the same prompt/chosen/rejected id lists are handed to TRL's own
collators (`DataCollatorForPreference` for DPO; `DPODataCollatorWithPadding` rows with `chosen_labels` = -100
on the prompt for CPO/ORPO), and ours go through `PairCollator` + `pair_forward`. Each trainer is built on a
dummy one-row string dataset only because TRL requires a train_dataset. Every model is a deep copy of one
randomly perturbed tiny Llama (the reference: that copy perturbed again), so TRL's patching of `forward`
(DPO's fused LM head) never touches the model our side uses.
"""

from __future__ import annotations

import copy
import os

import pytest
import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer

from prefopt.data import PairCollator, tokenize_pairs
from prefopt.data.formats import to_pairs
from prefopt.losses import PairLogps, evaluate
from prefopt.modeling.logprobs import pair_forward, token_logps
from prefopt.toy.tiny import build_tiny

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # before any trl.experimental import (inside the tests)
pytest.importorskip("trl")

ATOL = 1e-5

# (prompt, chosen, rejected): prompt and response lengths all vary; chosen is sometimes the longer one.
PAIRS = [
    ("12+34=", "46", "4"),
    ("7+5=", "12", "1299"),
    ("123+456=", "579", "57"),
    ("9+9=", "18", "81"),
    ("40+2=", "42", "420000"),
    ("3+4=", "7", "77"),
]
# The same chosen length everywhere (the case where TRL's batch token-mean NLL equals our per-pair mean).
EQUAL_CHOSEN = [
    ("12+34=", "46", "4"),
    ("7+5=", "12", "1299"),
    ("9+9=", "18", "8"),
    ("40+2=", "42", "420"),
]


def _rows(tok, triples):
    raw = [{"prompt": [{"role": "user", "content": p}], "chosen": [{"role": "assistant", "content": c}],
            "rejected": [{"role": "assistant", "content": r}]} for p, c, r in triples]
    rows, _ = tokenize_pairs(to_pairs(raw, "<test>"), tok, max_length=64, max_prompt_length=32)
    assert len(rows) == len(triples)
    return rows


def _perturb(model, seed, scale):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale)
    return model.eval()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    # One intra-op thread: these forwards are tiny, and on a shared 2-core machine two OpenMP threads per matmul
    # made the module ~5x slower. Restored afterwards so other test modules are unaffected.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield _build_setup(tmp_path_factory)
    finally:
        torch.set_num_threads(threads)


def _build_setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("trl_eq")
    model_dir = build_tiny("0.2m", "char", cache_dir=root / "tiny")
    tok = AutoTokenizer.from_pretrained(model_dir)
    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    policy = _perturb(copy.deepcopy(base), seed=1, scale=0.15)
    ref = _perturb(copy.deepcopy(policy), seed=2, scale=0.05)
    return {"root": root, "tok": tok, "policy": policy, "ref": ref,
            "rows": _rows(tok, PAIRS), "equal_rows": _rows(tok, EQUAL_CHOSEN)}


def _ours(model, tok, rows):
    """Our summed response log-probs and token counts from `pair_forward` on `PairCollator`'s batch."""
    batch = PairCollator(tok.pad_token_id)(rows)
    with torch.no_grad():
        pw, pl, lw, ll, _ = pair_forward(model, batch)
    return pw, pl, lw, ll


def _common_args(root, name):
    return dict(output_dir=str(root / name), use_cpu=True, bf16=False, gradient_checkpointing=False,
                report_to="none", save_strategy="no", seed=0, disable_tqdm=True)


def _dummy_dataset():
    return Dataset.from_list([{"prompt": "1+1=", "chosen": "2", "rejected": "3"}])


# ---- DPO / IPO: DPOTrainer._compute_loss ------------------------------------------------------------------


def _dpo_trainer(setup, loss_type, beta):
    from trl import DPOConfig, DPOTrainer

    args = DPOConfig(beta=beta, loss_type=[loss_type], **_common_args(setup["root"], f"dpo-{loss_type}"))
    return DPOTrainer(model=copy.deepcopy(setup["policy"]), ref_model=copy.deepcopy(setup["ref"]), args=args,
                      train_dataset=_dummy_dataset(), processing_class=setup["tok"])


def _trl_dpo(trainer, rows):
    """Per-pair (loss, logps/chosen, logps/rejected, rewards/chosen, rewards/rejected) and the batch loss."""
    keys = ("logps/chosen", "logps/rejected", "rewards/chosen", "rewards/rejected")
    trl_rows = [{"prompt_ids": r["prompt_ids"], "chosen_ids": r["chosen_ids"], "rejected_ids": r["rejected_ids"]}
                for r in rows]
    model = trainer.model.eval()
    mode = "train" if model.training else "eval"  # the metrics key `_compute_loss` writes under
    per_pair = []
    with torch.no_grad():
        for r in trl_rows:
            loss = trainer._compute_loss(model, trainer.data_collator([r]), return_outputs=False)
            per_pair.append([loss.item()] + [trainer._metrics[mode][k][-1] for k in keys])
        batch_loss = trainer._compute_loss(model, trainer.data_collator(trl_rows), return_outputs=False).item()
    return torch.tensor(per_pair, dtype=torch.float64).T, batch_loss


def _close(actual, expected, what):
    actual, expected = torch.as_tensor(actual).double(), torch.as_tensor(expected).double()
    diff = (actual - expected).abs().max().item()
    print(f"{what}: max |diff| = {diff:.3g} (max |value| = {expected.abs().max().item():.3g})")
    assert diff <= ATOL, f"{what}: max |diff| = {diff:.3g}\nactual   {actual.tolist()}\nexpected {expected.tolist()}"
    return diff


@pytest.mark.parametrize("beta", [0.5])
def test_dpo_sigmoid_matches_trl(setup, beta):
    pw, pl, lw, ll = _ours(setup["policy"], setup["tok"], setup["rows"])
    rw, rl, _, _ = _ours(setup["ref"], setup["tok"], setup["rows"])
    ours = evaluate("dpo", PairLogps(pw, pl, lw, ll, rw, rl), beta=beta)

    (loss, logp_c, logp_r, rew_c, rew_r), batch_loss = _trl_dpo(_dpo_trainer(setup, "sigmoid", beta), setup["rows"])
    _close(logp_c, pw, "summed chosen log-probs")
    _close(logp_r, pl, "summed rejected log-probs")
    _close(rew_c, ours.chosen_rewards, "chosen rewards")
    _close(rew_r, ours.rejected_rewards, "rejected rewards")
    _close(loss, ours.losses, "per-pair DPO loss")
    _close(batch_loss, ours.losses.mean(), "batch DPO loss")
    assert ours.losses.std() > 0.05  # the pairs really differ (the comparison is not on a degenerate point)


@pytest.mark.parametrize("tau", [0.5])
def test_ipo_matches_trl(setup, tau):
    """TRL 1.16's IPO divides each log-RATIO (policy - reference, summed) by its response token count."""
    pw, pl, lw, ll = _ours(setup["policy"], setup["tok"], setup["rows"])
    rw, rl, _, _ = _ours(setup["ref"], setup["tok"], setup["rows"])
    ours = evaluate("ipo", PairLogps(pw, pl, lw, ll, rw, rl), tau=tau)

    (loss, logp_c, logp_r, rew_c, rew_r), batch_loss = _trl_dpo(_dpo_trainer(setup, "ipo", tau), setup["rows"])
    _close(logp_c, pw, "summed chosen log-probs")
    _close(logp_r, pl, "summed rejected log-probs")
    # Logged rewards differ by design: TRL 1.16 logs beta * SUMMED log-ratio for every loss type, IPO included;
    # ours logs tau * the length-AVERAGED log-ratio that IPO's loss uses (as TRL 0.x did).
    _close(rew_c, tau * (pw - rw), "TRL IPO chosen rewards (summed log-ratio)")
    _close(rew_r, tau * (pl - rl), "TRL IPO rejected rewards (summed log-ratio)")
    _close(loss, ours.losses, "per-pair IPO loss")
    _close(batch_loss, ours.losses.mean(), "batch IPO loss")


# ---- CPO / ORPO: concatenated_forward + cpo_loss / odds_ratio_loss ---------------------------------------


def _trl_pair_rows(rows):
    """Our ids in the tokenized-row format of TRL's CPO/ORPO trainers (`tokenize_row`'s output keys)."""
    out = []
    for r in rows:
        p, c, x = list(r["prompt_ids"]), list(r["chosen_ids"]), list(r["rejected_ids"])
        out.append({
            "prompt_input_ids": p, "prompt_attention_mask": [1] * len(p),
            "chosen_input_ids": p + c, "chosen_attention_mask": [1] * (len(p) + len(c)),
            "chosen_labels": [-100] * len(p) + c,
            "rejected_input_ids": p + x, "rejected_attention_mask": [1] * (len(p) + len(x)),
            "rejected_labels": [-100] * len(p) + x,
        })
    return out


def _cpo_trainer(setup, **cfg):
    from trl.experimental.cpo import CPOConfig, CPOTrainer

    args = CPOConfig(max_length=64, **cfg, **_common_args(setup["root"], f"cpo-{cfg['loss_type']}"))
    return CPOTrainer(model=copy.deepcopy(setup["policy"]), args=args, train_dataset=_dummy_dataset(),
                      processing_class=setup["tok"])


def _trl_cpo(trainer, rows):
    batch = trainer.data_collator(_trl_pair_rows(rows))
    model = trainer.model.eval()
    with torch.no_grad():
        chosen, rejected, *_ = trainer.concatenated_forward(model, batch)
        losses, rew_c, rew_r = trainer.cpo_loss(chosen, rejected)
        batch_loss, metrics = trainer.get_batch_loss_metrics(model, batch, train_eval="eval")
    return chosen, rejected, losses, rew_c, rew_r, batch_loss, metrics


@pytest.mark.parametrize("beta, simpo_gamma", [(2.5, 1.0)])
def test_cpo_simpo_matches_trl(setup, beta, simpo_gamma):
    """TRL CPO loss_type='simpo' (cpo_alpha=0) averages log-probs and uses logit beta(sw - sl) - simpo_gamma."""
    pw, pl, lw, ll = _ours(setup["policy"], setup["tok"], setup["rows"])
    x = PairLogps(pw, pl, lw, ll)
    ours = evaluate("simpo", x, beta=beta, gamma_beta_ratio=simpo_gamma / beta)

    trainer = _cpo_trainer(setup, loss_type="simpo", beta=beta, simpo_gamma=simpo_gamma, cpo_alpha=0.0)
    chosen, rejected, losses, rew_c, rew_r, batch_loss, _ = _trl_cpo(trainer, setup["rows"])
    _close(chosen, x.chosen_avg, "average chosen log-probs")
    _close(rejected, x.rejected_avg, "average rejected log-probs")
    _close(rew_c, ours.chosen_rewards, "chosen rewards")
    _close(rew_r, ours.rejected_rewards, "rejected rewards")
    _close(losses, ours.losses, "per-pair SimPO loss")
    _close(batch_loss, ours.losses.mean(), "batch SimPO loss")


def test_cpo_sigmoid_matches_trl(setup):
    """TRL CPO loss_type='sigmoid' (cpo_alpha=0) uses SUMMED log-probs: our `cpo` with cpo_alpha=0."""
    beta = 0.2
    pw, pl, lw, ll = _ours(setup["policy"], setup["tok"], setup["rows"])
    ours = evaluate("cpo", PairLogps(pw, pl, lw, ll), beta=beta, cpo_alpha=0.0)

    trainer = _cpo_trainer(setup, loss_type="sigmoid", beta=beta, cpo_alpha=0.0)
    chosen, rejected, losses, rew_c, rew_r, batch_loss, _ = _trl_cpo(trainer, setup["rows"])
    _close(chosen, pw, "summed chosen log-probs")
    _close(rejected, pl, "summed rejected log-probs")
    _close(rew_c, ours.chosen_rewards, "chosen rewards")
    _close(rew_r, ours.rejected_rewards, "rejected rewards")
    _close(losses, ours.losses, "per-pair CPO loss")
    _close(batch_loss, ours.losses.mean(), "batch CPO loss")


def test_cpo_with_nll_matches_trl_on_equal_chosen_lengths(setup):
    """cpo_alpha > 0: TRL adds cpo_alpha * (one token-mean CE over all chosen tokens of the batch); ours adds
    cpo_alpha * mean over pairs of -sw. With equal chosen lengths the two are the same number."""
    beta, alpha = 0.2, 1.0
    rows = setup["equal_rows"]
    pw, pl, lw, ll = _ours(setup["policy"], setup["tok"], rows)
    assert len(set(lw.tolist())) == 1
    ours = evaluate("cpo", PairLogps(pw, pl, lw, ll), beta=beta, cpo_alpha=alpha)

    trainer = _cpo_trainer(setup, loss_type="sigmoid", beta=beta, cpo_alpha=alpha)
    *_, batch_loss, metrics = _trl_cpo(trainer, rows)
    _close(metrics["eval_nll_loss"], ours.metrics["nll_loss"], "chosen NLL")
    _close(batch_loss, ours.losses.mean(), "batch CPO loss with NLL")


def _orpo_trainer(setup, beta):
    from trl.experimental.orpo import ORPOConfig, ORPOTrainer

    args = ORPOConfig(max_length=64, beta=beta, **_common_args(setup["root"], "orpo"))
    return ORPOTrainer(model=copy.deepcopy(setup["policy"]), args=args, train_dataset=_dummy_dataset(),
                       processing_class=setup["tok"])


def _trl_orpo(setup, rows, lam):
    trainer = _orpo_trainer(setup, lam)
    batch = trainer.data_collator(_trl_pair_rows(rows))
    model = trainer.model.eval()
    with torch.no_grad():
        chosen, rejected, _, _, nll = trainer.concatenated_forward(model, batch)
        losses, rew_c, rew_r, log_odds_ratio, log_odds_chosen = trainer.odds_ratio_loss(chosen, rejected)
        batch_loss, metrics = trainer.get_batch_loss_metrics(model, batch, train_eval="eval")
    return dict(chosen=chosen, rejected=rejected, nll=nll, losses=losses, rew_c=rew_c, rew_r=rew_r,
                log_odds_ratio=log_odds_ratio, log_odds_chosen=log_odds_chosen, batch_loss=batch_loss)


@pytest.mark.parametrize("lam", [0.5])
def test_orpo_odds_ratio_term_matches_trl(setup, lam):
    """Per pair: our orpo loss minus its SFT term (-sw) equals -TRL's `odds_ratio_loss` (lambda log sigma)."""
    pw, pl, lw, ll = _ours(setup["policy"], setup["tok"], setup["rows"])
    x = PairLogps(pw, pl, lw, ll)
    ours = evaluate("orpo", x, orpo_lambda=lam)
    trl = _trl_orpo(setup, setup["rows"], lam)

    _close(trl["chosen"], x.chosen_avg, "average chosen log-probs")
    _close(trl["rejected"], x.rejected_avg, "average rejected log-probs")
    _close(ours.losses - (-x.chosen_avg), -trl["losses"], "per-pair odds-ratio term")
    _close(trl["rew_c"], ours.chosen_rewards, "chosen rewards")
    _close(trl["rew_r"], ours.rejected_rewards, "rejected rewards")
    _close(trl["log_odds_ratio"], ours.metrics["log_odds_ratio"], "log_odds_ratio metric")
    _close(trl["log_odds_chosen"], ours.metrics["log_odds_chosen"], "log_odds_chosen metric")


def test_orpo_nll_term_differs_from_trl(setup):
    """TRL's ORPO SFT term is a token-mean NLL over prompt + response tokens (as the authors' code); ours is the
    response-only -sw. Pinned here: TRL's NLL equals that prompt+response mean, recomputed with our
    `token_logps`; and TRL's batch loss equals ours once the SFT terms are swapped."""
    lam = 0.5
    rows = setup["equal_rows"]  # equal chosen lengths: only the prompt tokens separate the two SFT terms
    tok, policy = setup["tok"], setup["policy"]
    pw, pl, lw, ll = _ours(policy, tok, rows)
    ours = evaluate("orpo", PairLogps(pw, pl, lw, ll), orpo_lambda=lam)
    trl = _trl_orpo(setup, rows, lam)

    batch = PairCollator(tok.pad_token_id)(rows)
    b = len(rows)
    with torch.no_grad():
        logits = policy(input_ids=batch["input_ids"][:b], attention_mask=batch["attention_mask"][:b]).logits
        per_token = token_logps(logits, batch["input_ids"][:b])
    mask = batch["attention_mask"][:b, 1:].float()  # every real token after the first: prompt AND response
    full_nll = -(per_token * mask).sum() / mask.sum()
    _close(trl["nll"], full_nll, "TRL ORPO NLL vs prompt+response token mean")

    _close(trl["batch_loss"], ours.losses.mean() - ours.metrics["nll_loss"] + trl["nll"], "batch loss, NLL swapped")
    gap = abs(trl["nll"].item() - ours.metrics["nll_loss"].item())
    assert gap > 10 * ATOL, "the prompt+response and response-only NLLs coincide here: the test no longer shows the gap"


# ---- paired KTO: KTOTrainer._compute_loss -------------------------------------------------------------------


def _kto_trainer(setup, **cfg):
    from trl import KTOConfig

    from prefopt.training.kto import _trainer_class, unpair

    args = KTOConfig(**cfg, per_device_train_batch_size=2, **_common_args(setup["root"], "kto"))
    return _trainer_class()(model=copy.deepcopy(setup["policy"]), ref_model=copy.deepcopy(setup["ref"]), args=args,
                            processing_class=setup["tok"],
                            train_dataset=Dataset.from_list(unpair(setup["rows"][:2], seed=0)))


@pytest.mark.parametrize("weights", [(1.0, 1.0), (1.3, 0.6)])
def test_kto_pair_matches_trl_kto_with_matched_kl_completions(setup, weights):
    """TRL's KTOTrainer on the 2B unpaired examples of B pairs, with each example's KL completion its own (so TRL's
    KL estimate is the matched mean, our 'pooled' z0): its batch loss, kl and rewards equal ours."""
    beta, (wd, wu) = 0.5, weights
    trainer = _kto_trainer(setup, beta=beta, desirable_weight=wd, undesirable_weight=wu, loss_type="kto")
    examples = [{"prompt_ids": r["prompt_ids"], "completion_ids": r[key], "KL_completion_ids": r[key], "label": label}
                for r in setup["rows"] for key, label in (("chosen_ids", True), ("rejected_ids", False))]
    model = trainer.model.eval()
    with torch.no_grad():
        trl_loss = trainer._compute_loss(model, trainer.data_collator(examples), return_outputs=False).item()
    metrics = {k: v[-1] for k, v in trainer._metrics["eval"].items() if v}

    pw, pl, lw, ll = _ours(setup["policy"], setup["tok"], setup["rows"])
    rw, rl, _, _ = _ours(setup["ref"], setup["tok"], setup["rows"])
    ours = evaluate("kto_pair", PairLogps(pw, pl, lw, ll, rw, rl), beta=beta, desirable_weight=wd,
                    undesirable_weight=wu, reference_point="pooled")
    _close(ours.losses.mean(), trl_loss, "kto_pair batch loss")
    _close(ours.metrics["kl"], metrics["kl"], "kto_pair z0 (TRL kl)")
    assert ours.metrics["kl"].item() > 0  # the comparison exercises a non-trivial reference point
    _close(ours.chosen_rewards.mean(), metrics["rewards/chosen"], "kto_pair rewards/chosen")
    _close(ours.rejected_rewards.mean(), metrics["rewards/rejected"], "kto_pair rewards/rejected")
