"""Supervised fine-tuning (`scripts/run_sft.py`): the SFT cells, the SFT stage of every chain, RFT."""

from __future__ import annotations

import logging

from datasets import Dataset
from transformers import Trainer

from prefopt import data as pdata
from prefopt.modeling.loading import load_model
from prefopt.training.callbacks import task_callbacks

from .run import load_splits, resume_checkpoint, run_training

logger = logging.getLogger("prefopt")


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
        trainer = Trainer(
            model=load_model(model_args.model_name_or_path, model_args), args=args, processing_class=tokenizer,
            data_collator=pdata.SFTCollator(pad_token_id=tokenizer.pad_token_id),
            train_dataset=Dataset.from_list(train_rows),
            eval_dataset=Dataset.from_list(eval_rows) if eval_rows else None,
            callbacks=task_callbacks(args, tokenizer, resume_checkpoint(args)),
        )
        return trainer, report

    return run_training("sft", model_args, data_args, args, build)
