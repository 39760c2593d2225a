"""Supervised fine-tuning (`scripts/run_sft.py`): the SFT cells, the SFT stage of every chain, RFT.

With a `sample_scheduler:` block (mode sft) the SamS scheduler is pretrained during SFT, SamS App. F.3's setting
for an existing preference data set: `ScheduledSFTTrainer` leaves the SFT loss, its gradient and the run's random
streams as they are, and hands each training micro-batch (its per-layer hidden states, per-sequence NLL and
log-prob) to the scheduler, which learns from it. The final save writes `sams_scheduler.pt` beside the model, the
file a dpo-sams config loads through `init_from`.
"""

from __future__ import annotations

import logging
from collections import defaultdict

import torch
from datasets import Dataset
from transformers import Trainer

from prefopt import data as pdata
from prefopt.modeling.loading import load_model
from prefopt.modeling.logprobs import sequence_logps
from prefopt.training.callbacks import task_callbacks

from .extra_state import ExtraStateMixin
from .run import load_splits, resume_checkpoint, run_training
from .sams import SampleSchedulerHook

logger = logging.getLogger("prefopt")
IGNORE_INDEX = -100  # SFTCollator's label on prompt and padding tokens


class ScheduledSFTTrainer(ExtraStateMixin, Trainer):
    """transformers.Trainer for SFT, with a sample scheduler learning alongside (mode sft; see the module docstring).

    The loss is Trainer's own, computed from the same forward (which also returns hidden states); the scheduler's
    inputs are detached. Its state is saved in every checkpoint and restored on resume (ExtraStateMixin).
    """

    def __init__(self, *args, sample_scheduler: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.sample_scheduler = SampleSchedulerHook(sample_scheduler, self.model.config.hidden_size, self.args.device,
                                                    self.args.output_dir, seed=self.args.seed)
        self._scheduler_metrics: dict[str, list[float]] = defaultdict(list)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if not model.training:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        loss, outputs = super().compute_loss(model, {**inputs, "output_hidden_states": True}, return_outputs=True,
                                             num_items_in_batch=num_items_in_batch)
        response = inputs["labels"] != IGNORE_INDEX
        with torch.no_grad():
            logps, lengths = sequence_logps(outputs.logits, inputs["input_ids"], response)
        # outside no_grad: the scheduler trains its own networks (its inputs are detached)
        self.sample_scheduler.observe_sft(outputs.hidden_states, response, -logps / lengths.clamp_min(1), logps)
        outputs.hidden_states = None
        for key, value in self.sample_scheduler.metrics.items():
            self._scheduler_metrics[key].append(value)
        return (loss, outputs) if return_outputs else loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs:  # a training log: the scheduler's metrics since the last one
            logs.update({k: sum(v) / len(v) for k, v in self._scheduler_metrics.items() if v})
            self._scheduler_metrics.clear()
        super().log(logs, start_time)


def sft_loader(data_args, tokenizer):
    """load(source, split, limit) -> (tokenized SFT rows, TokenizeReport), for `run.load_splits`."""

    def load(source: str, split: str, limit: int | None):
        rows = pdata.load_rows(source, split=split)
        if limit:
            rows = rows[:limit]
        tok_rows, report = pdata.tokenize_sft(rows, tokenizer, max_length=data_args.max_length, source=source,
                                              progress=len(rows) > 2000)
        logger.info("%s[%s]: %s", source, split, report.summary())
        return tok_rows, report

    return load


def train_sft(model_args, data_args, args) -> dict:
    """Train an SFT run; returns the final metrics."""

    def build(tokenizer, manifest):
        train_rows, eval_rows, report = load_splits(data_args, sft_loader(data_args, tokenizer), args)
        args.remove_unused_columns = False
        scheduled = {"sample_scheduler": args.sample_scheduler} if args.sample_scheduler else {}
        trainer = (ScheduledSFTTrainer if scheduled else Trainer)(
            **scheduled, model=load_model(model_args.model_name_or_path, model_args), args=args, processing_class=tokenizer,
            data_collator=pdata.SFTCollator(pad_token_id=tokenizer.pad_token_id),
            train_dataset=Dataset.from_list(train_rows),
            eval_dataset=Dataset.from_list(eval_rows) if eval_rows else None,
            callbacks=task_callbacks(args, tokenizer, resume_checkpoint(args)),
        )
        return trainer, report

    return run_training("sft", model_args, data_args, args, build)
