"""The one run skeleton every training entry point shares (preference, SFT, KTO, reward model).

    run_training("preference", model_args, data_args, args, build)

`build(tokenizer, manifest) -> (trainer, data_report)` is the only part that differs between methods: which
data, which trainer. Everything around it is here, once: logging, the seed, the run manifest (versions, git
sha, config hash), the tokenizer, resume from the last complete checkpoint, train, evaluate, save, metrics.json,
log_history.json and training_curves.png.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import transformers
from transformers import Trainer, set_seed

from prefopt.config import config_hash, explicit_values
from prefopt.core.cli import configure_logging
from prefopt.core.errors import InputError
from prefopt.core.manifest import build_manifest, update_manifest, write_json
from prefopt.modeling.loading import load_tokenizer

from .checkpoint import COMPLETE_FILE, is_complete, last_complete_checkpoint, make_checkpoints_atomic
from .curves import CURVES_FILE, plot_runs
from .stopping import hold_out, stopping_callbacks, validation_holdout

logger = logging.getLogger("prefopt")

Build = Callable[[object, Path], tuple[Trainer, dict]]


def setup_logging(args) -> None:
    configure_logging(logging.INFO if args.process_index == 0 else logging.WARNING)
    transformers.logging.set_verbosity_warning()


def resume_checkpoint(args) -> str | None:
    """The checkpoint a run resumes from: `resume: auto` takes the newest complete one in output_dir."""
    if args.resume == "never":
        return None
    if args.resume != "auto":
        if not os.path.isdir(args.resume):
            raise InputError(f"resume checkpoint {args.resume} does not exist", fix="use resume: auto or never")
        if not is_complete(args.resume):
            raise InputError(f"resume checkpoint {args.resume} was not completely written (no {COMPLETE_FILE})",
                             fix="pick an earlier checkpoint-N, or use resume: auto (it skips incomplete ones)")
        return args.resume
    # Only checkpoints every rank finished writing count (prefopt.training.checkpoint); rank 0 sets newer ones aside.
    last = last_complete_checkpoint(args.output_dir, set_aside=args.process_index == 0)
    if last:
        logger.info("resuming from %s", last)
    return last


def start_manifest(kind: str, model_args, data_args, args) -> Path:
    values = explicit_values(model_args, data_args, args)
    path = Path(args.output_dir) / "manifest.json"
    if args.process_index == 0:
        write_json(path, build_manifest(kind, values, config_hash(values), seed=args.seed, status="running"))
    return path


def load_splits(data_args, load: Callable[[str, str, int | None], tuple[list, object]], args=None
                ) -> tuple[list, list | None, dict]:
    """The train rows and (when eval_split is set) the eval rows through `load(source, split, limit)`, which
    returns (rows, report); plus the data report of the manifest. When the run's stopping metric is measured on
    held-out training rows (`epoch_stopping.split: validation`), those rows are the eval rows instead."""
    train_rows, train_report = load(data_args.dataset, data_args.train_split, data_args.max_train_samples)
    holdout = validation_holdout(args) if args is not None else None
    eval_rows, eval_report = None, None
    if holdout:
        fraction, seed = holdout
        train_rows, eval_rows = hold_out(train_rows, fraction, seed)
        logger.info("epoch_stopping: %d training rows held out for validation (fraction %s, seed %d)",
                    len(eval_rows), fraction, seed)
    elif data_args.eval_split:
        eval_rows, eval_report = load(data_args.eval_dataset or data_args.dataset, data_args.eval_split,
                                      data_args.max_eval_samples)
    report = {"train": train_report.as_dict(), "eval": eval_report.as_dict() if eval_report else None}
    if holdout:
        report["eval"] = {"held_out_from": "train", "fraction": holdout[0], "seed": holdout[1], "rows": len(eval_rows),
                          "train_rows_left": len(train_rows)}
    return train_rows, eval_rows, report


def write_curves(run: Path) -> None:
    """training_curves.png of a finished run. A plotting failure is logged, never fatal: the model is saved."""
    try:
        plot_runs([run], run / CURVES_FILE)
    except (InputError, OSError, ValueError) as e:  # e.g. a run too short to log, a full disk
        logger.warning("no %s for %s: %s", CURVES_FILE, run, e)


def train_and_save(trainer: Trainer, args, tokenizer, manifest: Path, data_report: dict) -> dict:
    """Train (resuming when a complete checkpoint exists), evaluate, save the model and the run's records."""
    if args.process_index == 0:
        launch = {"world_size": args.world_size, "distributed_type": trainer.accelerator.distributed_type.value,
                  "global_batch": args.per_device_train_batch_size * args.world_size * args.gradient_accumulation_steps}
        update_manifest(manifest, data=data_report, launch=launch)
    make_checkpoints_atomic(trainer)
    result = trainer.train(resume_from_checkpoint=resume_checkpoint(args))
    metrics = dict(result.metrics)
    if trainer.eval_dataset is not None:
        metrics.update(trainer.evaluate())
    trainer.save_model(args.output_dir)
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(args.output_dir)
        write_json(Path(args.output_dir) / "metrics.json", metrics)
        write_json(Path(args.output_dir) / "log_history.json", {"log_history": trainer.state.log_history})
        update_manifest(manifest, status="finished", metrics=metrics)
        write_curves(Path(args.output_dir))
    return metrics


def run_training(kind: str, model_args, data_args, args, build: Build, *, require_chat_template: bool = True) -> dict:
    """The skeleton: logging, seed, manifest and tokenizer; `build` makes the trainer; then train_and_save."""
    setup_logging(args)
    set_seed(args.seed)
    manifest = start_manifest(kind, model_args, data_args, args)
    tokenizer = load_tokenizer(model_args, require_chat_template=require_chat_template)
    trainer, data_report = build(tokenizer, manifest)
    for callback in stopping_callbacks(args, manifest if args.process_index == 0 else None):
        trainer.add_callback(callback)
    return train_and_save(trainer, args, tokenizer, manifest, data_report)
