"""KTO (Ethayarajh et al. 2024, "KTO: Model Alignment as Prospect Theoretic Optimization") through TRL's
KTOTrainer, from the same script and config interface as the pairwise losses:

    scripts/run_po.py training_configs/<setting>/kto.yaml      # loss: kto, beta, desirable_weight, ...

KTO is not a pairwise loss (it is not in `prefopt.losses.compute`): it scores each response on its own against
a reference point z0, a batch estimate of KL(policy || reference) taken on mismatched (prompt, response) pairs.
So it runs in its own trainer. (`loss: kto_pair`, prefopt.losses.kto_pair, is KTO's value function on the pairwise
pipeline instead, with the reference point taken from the batch's pairs: that one takes a sample scheduler.)
Its row in the method table
(`prefopt.config.methods`: KTOParams, runner `train_kto`) makes `loss: kto` a method like the others (typed,
validated hyperparameters, `--help`), and this runner reuses the pairwise pipeline: `load_pairs` + `tokenize_pairs` (so prompt and response
  tokens, BOS/EOS and truncation are exactly those of DPO/SimPO), the run manifest, resume, TaskEvalCallback,
  metrics.json and log_history.json.

Data. As in the SimPO paper's baselines, each pair gives two unpaired examples: chosen -> desirable (label True),
rejected -> undesirable (label False), so desirable and undesirable counts are equal and the paper's weights
lambda_D = lambda_U = 1 are the balanced choice. Batch sizes (and so steps per epoch) count unpaired examples:
a batch of 32 holds about 16 desirable and 16 undesirable examples, and an epoch of N pairs is 2N examples.
The unpaired examples are shuffled once with a seeded RNG (`data_seed`, else `seed`): TRL builds the KL pairs
by rotating responses by one position inside each block of `per_device_train_batch_size` consecutive examples,
(x1,y1)..(xn,yn) -> (x1,yn),(x2,y1)..(xn,y(n-1)), and requires `train_sampling_strategy: sequential` so blocks
are real batches. TRL's own unpairing puts a whole chunk of chosen rows before the rejected ones, which with
sequential sampling gives batches of one label only; the seeded shuffle mixes labels in every batch. The order
is the same in every epoch (sequential sampler), and about one KL pair in the whole data set happens to share its
prompt (the pair's other response): negligible.

TRL 1.16 facts relied on (read from trl/trainer/kto_trainer.py, kto_config.py, data_utils.py):
* `from trl import KTOConfig, KTOTrainer` (stable; `trl.experimental.kto` is a deprecated alias).
  KTOConfig fields used: beta (0.1), desirable_weight (1.0), undesirable_weight (1.0), loss_type
  ("kto" | "apo_zero_unpaired"), precompute_ref_log_probs (False), max_length, disable_dropout,
  train_sampling_strategy (must be "sequential" for loss_type kto, checked in KTOTrainer.__init__).
  KTOConfig changes some TrainingArguments defaults (gradient_checkpointing True, bf16 True unless fp16,
  logging_steps 10, learning_rate 1e-6); every TrainingArguments value is copied from the prefopt config, so
  none of those defaults apply silently.
* KTOTrainer raises for per_device_train_batch_size <= 1 with loss_type kto ("the KL term will be equivalent to
  the implied reward"); `kto_requirements` turns that into an InputError before anything is loaded.
* Tokenization: conversational rows go through `apply_chat_template(tokenize=True)`, which adds no special
  tokens, so BOS appears once (the template's). Pre-rendered text rows go through `tokenizer(text)`, which adds
  BOS again for tokenizers that add it themselves (Llama-style): a double BOS. The completion starts at the
  common prefix of tokenized prompt and prompt+completion; sequences are right-truncated to max_length in the
  collator. Here neither path is used: rows arrive pre-tokenized by `prefopt.data.tokenize_pairs` (one BOS,
  EOS-terminated responses without the template's trailing whitespace, SimPO's prompt-first truncation,
  `role_header_in_response` honoured), and `_prepare_dataset` is overridden to only add the KL completions, as
  TRL does. For a template without such edge cases the two tokenizations agree (tests/test_kto.py checks it).
* The reference model is loaded with `prefopt.modeling.loading.load_model` (reference_model_name_or_path, else the
  policy's starting weights) and passed in; with precompute_ref_log_probs and no separate reference, TRL scores
  the data with the policy before training and keeps no reference in memory. prefopt's pairwise reference
  cache (reference_cache, logp_chunk_size) is not used: the KL pairs depend on the batch layout.
* Logged metrics: rewards/chosen, rewards/rejected, rewards/margins, logps/*, logits/*, kl, entropy (and
  eval_* of them); there is no pairwise accuracy (the examples are unpaired).
"""

from __future__ import annotations

import dataclasses
import logging
import random

from datasets import Dataset
from transformers import TrainingArguments

from prefopt.config.methods import KTOParams, get_method
from prefopt.core.errors import InputError
from prefopt.core.manifest import update_manifest
from prefopt.modeling.loading import load_model
from prefopt.training.callbacks import task_callbacks

from .extra_state import ExtraStateMixin
from .preference import tokenized_pairs_loader
from .run import load_splits, resume_checkpoint, run_training

logger = logging.getLogger("prefopt")
KTO_TOKENS_FILE = "prefopt_kto_token_count.pt"


def kto_requirements(hparams: KTOParams, args) -> None:
    """Configurations TRL's KTOTrainer cannot run, as InputErrors (checked before any model is loaded)."""
    if hparams.loss_type == "kto" and args.per_device_train_batch_size < 2:
        raise InputError(
            f"loss kto needs per_device_train_batch_size >= 2, got {args.per_device_train_batch_size}: its reference "
            "point z0 is a KL estimate from mismatched (prompt, response) pairs built inside each per-device batch, "
            "and with one example the 'mismatched' pair is the example itself",
            where="per_device_train_batch_size",
            fix="raise per_device_train_batch_size (lower gradient_accumulation_steps to keep the global batch; 8 or "
                "more gives a usable KL estimate), or set loss_type: apo_zero_unpaired (no KL term)",
        )


def unpair(rows: list[dict], seed: int) -> list[dict]:
    """Tokenized pairs -> unpaired examples (chosen: label True, rejected: label False) in one seeded random order."""
    out = [{"prompt_ids": r["prompt_ids"], "completion_ids": r[key], "label": label}
           for r in rows for key, label in (("chosen_ids", True), ("rejected_ids", False))]
    random.Random(seed).shuffle(out)
    return out


def _add_kl_completion_ids(batch: dict) -> dict:
    # exactly TRL's rotation (KTOTrainer._prepare_dataset): each prompt gets its batch neighbour's response
    batch["KL_completion_ids"] = [batch["completion_ids"][-1]] + batch["completion_ids"][:-1]
    return batch


def _trainer_class():
    from trl import KTOTrainer  # noqa: PLC0415  (heavy: only a KTO run imports TRL)

    class PretokenizedKTOTrainer(ExtraStateMixin, KTOTrainer):
        """KTOTrainer on rows already tokenized by prefopt ({prompt_ids, completion_ids, label}): TRL's chat-template
        tokenization and truncation are skipped; the KL completions are added as TRL adds them. TRL's running
        count of training tokens (the logged `num_tokens`) is saved in every checkpoint: TRL keeps it only in
        memory, so a resumed run restarted it from zero."""

        def _extra_state(self) -> dict[str, tuple]:
            return {**super()._extra_state(), KTO_TOKENS_FILE: (
                lambda: {"total_train_tokens": self._total_train_tokens},
                lambda s: setattr(self, "_total_train_tokens", s["total_train_tokens"]))}

        def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
            if "completion_ids" not in dataset.column_names:
                return super()._prepare_dataset(dataset, processing_class, args, dataset_name)
            if self.calculate_KL and "KL_completion_ids" not in dataset.column_names:
                dataset = dataset.map(_add_kl_completion_ids, batched=True, batch_size=args.per_device_train_batch_size,
                                      desc=f"KL completions for the {dataset_name} dataset")
            return dataset

    if not callable(getattr(KTOTrainer, "_prepare_dataset", None)):  # a TRL version this was not written against
        raise RuntimeError("trl.KTOTrainer has no _prepare_dataset; prefopt.training.kto was written against TRL 1.16")
    return PretokenizedKTOTrainer


def kto_config(args, data_args, model_args, hparams: KTOParams):
    """A trl.KTOConfig carrying every TrainingArguments value of the prefopt config plus KTO's settings."""
    from trl import KTOConfig  # noqa: PLC0415  (heavy: only a KTO run imports TRL)

    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainingArguments) if f.init}
    if hparams.loss_type == "kto" and values["train_sampling_strategy"] != "sequential":
        logger.info("kto: train_sampling_strategy %s -> sequential (TRL's KL pairs need it; the examples are already "
                    "in a seeded random order)", values["train_sampling_strategy"])
        values["train_sampling_strategy"] = "sequential"
    return KTOConfig(
        **values, **dataclasses.asdict(hparams), max_length=data_args.max_length, disable_dropout=args.disable_dropout,
        trust_remote_code=model_args.trust_remote_code,
    )


def train_kto(model_args, data_args, args) -> dict:
    """KTO (Ethayarajh et al. 2024) via trl.KTOTrainer; each pair -> one desirable + one undesirable example."""
    import trl  # noqa: PLC0415  (heavy: only a KTO run imports TRL)

    hparams = get_method("kto").make_hparams(args.loss_hparams)
    kto_requirements(hparams, args)
    seed = args.data_seed if args.data_seed is not None else args.seed

    def build(tokenizer, manifest):
        train_rows, eval_rows, report = load_splits(data_args, tokenized_pairs_loader(data_args, tokenizer), args)
        train_examples = unpair(train_rows, seed)
        eval_examples = unpair(eval_rows, seed) if eval_rows else None
        logger.info("kto: %d pairs -> %d unpaired examples (batch sizes count examples, 2 per pair)",
                    len(train_rows), len(train_examples))
        config = kto_config(args, data_args, model_args, hparams)
        ref_name = model_args.reference_model_name_or_path
        reference = None
        if ref_name or not hparams.precompute_ref_log_probs:
            reference = load_model(ref_name or model_args.model_name_or_path, model_args)
        trainer = _trainer_class()(
            model=load_model(model_args.model_name_or_path, model_args), ref_model=reference, args=config,
            processing_class=tokenizer, train_dataset=Dataset.from_list(train_examples),
            eval_dataset=Dataset.from_list(eval_examples) if eval_examples else None,
            callbacks=task_callbacks(args, tokenizer, resume_checkpoint(args)),
        )
        if args.process_index == 0:
            update_manifest(manifest, trainer={
                "class": "trl.KTOTrainer", "trl": trl.__version__, "loss_type": hparams.loss_type,
                "train_sampling_strategy": config.train_sampling_strategy, "unpaired_shuffle_seed": seed,
                "examples": {"train": len(train_examples), "eval": len(eval_examples or [])},
            })
        return trainer, report

    return run_training("preference", model_args, data_args, args, build)
