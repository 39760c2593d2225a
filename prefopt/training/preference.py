"""Every pairwise method's run (`scripts/run_po.py`): tokenized pairs, reference log-probs, PreferenceTrainer.

The runner of every pairwise row of the method table (`prefopt.config.methods`); the trainer reads what the
loss needs from its registry entry, so nothing here names a loss.
"""

from __future__ import annotations

import dataclasses
import logging

from datasets import Dataset

from prefopt import data as pdata
from prefopt.losses import get_loss
from prefopt.modeling.loading import disable_dropout, load_model, local_folder, without_zero3_init
from prefopt.modeling.refcache import ReferenceCache, compute_logps, weights_fingerprint
from prefopt.modeling.refprecision import prepare_reference, reference_forward_context, reference_numerics
from prefopt.modeling.refshard import reference_pass
from prefopt.training.callbacks import task_callbacks

from .run import load_splits, resume_checkpoint, run_training
from .selection import run_selection
from .trainer import PreferenceTrainer

logger = logging.getLogger("prefopt")


def tokenized_pairs_loader(data_args, tokenizer):
    """load(source, split, limit) -> (tokenized pair rows, TokenizeReport), for `run.load_splits`."""

    def load(source: str, split: str, limit: int | None):
        pairs = pdata.load_pairs(source, split=split, bad_rows=data_args.bad_rows)
        if limit:
            pairs = pairs[:limit]
        rows, report = pdata.tokenize_pairs(
            pairs, tokenizer, max_length=data_args.max_length, max_prompt_length=data_args.max_prompt_length,
            truncation_mode=data_args.truncation_mode, role_header_in_response=data_args.role_header_in_response,
            progress=len(pairs) > 2000,
        )
        logger.info("%s[%s]: %s", source, split, report.summary())
        return rows, report

    return load


def attach_reference_logps(rows: list[dict], model_args, args, tokenizer, reference=None) -> list[dict]:
    """Add ref_chosen_logps / ref_rejected_logps to each row, from the on-disk cache or computed once.

    Collective in a distributed run: every rank calls it and scores its share (prefopt.modeling.refshard).
    `reference` is an already loaded reference model (else it is loaded here and freed afterwards).
    """
    ref_name = model_args.reference_model_name_or_path or model_args.model_name_or_path
    collator = pdata.PairCollator(pad_token_id=tokenizer.pad_token_id)

    def load():
        if reference is not None:
            model = reference
        else:
            with without_zero3_init():  # each rank scores alone: no ZeRO-3 partitioning (prefopt.modeling.refshard)
                model = load_model(ref_name, model_args)
        disable_dropout(model)
        return prepare_reference(model, args).to(args.device)  # the policy's training numerics (refprecision)

    def score(model, part):
        with reference_forward_context(args):
            return compute_logps(model, part, collator, batch_size=args.per_device_eval_batch_size,
                                 chunk_size=args.logp_chunk_size, impl=args.logprob_impl,
                                 chunk_tokens=args.logprob_chunk_tokens)

    def open_cache():
        settings = {"dtype": model_args.torch_dtype, "attn": model_args.attn_implementation,
                    "chunk": args.logp_chunk_size, "dropout_disabled": True, "numerics": reference_numerics(args)}
        if args.logprob_impl != "full":  # equal to float rounding, not bitwise: its own entry (full keeps its keys)
            settings.update(logprobs=args.logprob_impl, chunk_tokens=args.logprob_chunk_tokens)
        weights = weights_fingerprint(local_folder(ref_name, model_args.model_revision), args.reference_cache_dir)
        return ReferenceCache(weights, settings, args.reference_cache_dir)

    chosen, rejected = reference_pass(rows, score, load, args.per_device_eval_batch_size, args.device,
                                      None if args.reference_cache == "off" else open_cache)
    return [dict(r, ref_chosen_logps=float(c), ref_rejected_logps=float(j))
            for r, c, j in zip(rows, chosen.tolist(), rejected.tolist(), strict=True)]


def train_preference(model_args, data_args, args, *, per_pair_eval=None) -> dict:
    """Train one pairwise method; returns the final metrics.

    A config with a `data_selection:` block first runs the selection (prefopt.training.selection) when `dataset`
    does not hold the selection of these inputs yet. `per_pair_eval`: a callback that is also the trainer's compute_metrics, handed every
    evaluation's per-pair losses with their rows (the selection's reference runs pass one).
    """
    if args.data_selection:
        run_selection(model_args, data_args, args, train_preference)
        # The reference runs each built a Trainer (an Accelerator) in this process; accelerate refuses a second
        # Accelerator with a DeepSpeed plugin ("You cannot pass in a `deepspeed_plugin` when creating a second
        # `Accelerator`") unless its state is reset, which a new TrainingArguments does when it sets up its device
        # (transformers' _setup_devices). These args set theirs up before the selection: the cell trains on a copy.
        args = dataclasses.replace(args)
    spec = get_loss(args.loss)

    def build(tokenizer, manifest):
        train_rows, eval_rows, report = load_splits(data_args, tokenized_pairs_loader(data_args, tokenizer), args)
        if spec.needs_reference:  # every rank scores its share; no rank waits for another's whole pass
            train_rows = attach_reference_logps(train_rows, model_args, args, tokenizer)
            if eval_rows is not None:
                eval_rows = attach_reference_logps(eval_rows, model_args, args, tokenizer)
        if per_pair_eval is not None and eval_rows:
            eval_rows = [dict(r, row_index=i) for i, r in enumerate(eval_rows)]
        trainer = PreferenceTrainer(
            model=load_model(model_args.model_name_or_path, model_args), args=args, processing_class=tokenizer,
            train_dataset=Dataset.from_list(train_rows),
            eval_dataset=Dataset.from_list(eval_rows) if eval_rows else None,
            callbacks=task_callbacks(args, tokenizer, resume_checkpoint(args)) + ([per_pair_eval] if per_pair_eval
                                                                                   else []),
            compute_metrics=per_pair_eval,
        )
        return trainer, report

    return run_training("preference", model_args, data_args, args, build)
