"""The two training entry points behind scripts/run_po.py and scripts/run_sft.py.

Both: parse the config, write a manifest, load and tokenize data (reporting every truncated or dropped
row), resume from the last checkpoint when there is one, train, save, and record final metrics.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from datasets import Dataset
from transformers import Trainer, TrainerCallback, set_seed

from . import data as pdata
from .checkpoint import COMPLETE_FILE, checkpoint_step, is_complete, last_complete_checkpoint, make_checkpoints_atomic
from .cli import configure_logging
from .config import config_hash, explicit_values
from .errors import InputError
from .manifest import build_manifest, update_manifest, write_json
from .models import load_model, load_tokenizer, local_folder, without_zero3_init
from .refcache import ReferenceCache, compute_logps, weights_fingerprint

logger = logging.getLogger("prefopt")


def setup_logging(args) -> None:
    configure_logging(logging.INFO if args.process_index == 0 else logging.WARNING)
    import transformers  # noqa: PLC0415

    transformers.logging.set_verbosity_warning()


def resume_checkpoint(args) -> str | None:
    if args.resume == "never":
        return None
    if args.resume != "auto":
        if not os.path.isdir(args.resume):
            raise InputError(f"resume checkpoint {args.resume} does not exist", fix="use resume: auto or never")
        if not is_complete(args.resume):
            raise InputError(f"resume checkpoint {args.resume} was not completely written (no {COMPLETE_FILE})",
                             fix="pick an earlier checkpoint-N, or use resume: auto (it skips incomplete ones)")
        return args.resume
    # Only checkpoints every rank finished writing count (prefopt.checkpoint); rank 0 sets newer ones aside.
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


class TaskEvalCallback(TrainerCallback):
    """Logs a verifiable task's judge accuracy (held-out greedy generations) during training.

    Preference training can raise reward accuracy while lowering task accuracy (collapse into shortcuts),
    so the curve, not only the end point, is what tells whether learning helped.
    """

    def __init__(self, task, tokenizer, split: str, every: int, out_file: Path):
        self.task, self.tokenizer, self.every, self.out_file = task, tokenizer, every, out_file
        self.prompts = task.splits()[split]
        self.split = split

    def _evaluate(self, state, model):
        from .toy import accuracy  # noqa: PLC0415

        result = accuracy(model, self.tokenizer, self.prompts, self.task)
        row = {"step": state.global_step, **{f"task/{k}": v for k, v in result.items()}}
        state.log_history.append(row)
        if state.is_world_process_zero:
            with open(self.out_file, "a") as f:
                f.write(json.dumps(row) + "\n")
        logger.info("step %d: %s accuracy %.3f", state.global_step, self.split, result["accuracy"])

    def on_train_begin(self, args, state, control, model=None, **kw):
        if state.global_step == 0:
            self._evaluate(state, model)

    def on_step_end(self, args, state, control, model=None, **kw):
        if self.every and state.global_step % self.every == 0 and state.global_step < state.max_steps:
            self._evaluate(state, model)

    def on_train_end(self, args, state, control, model=None, **kw):
        self._evaluate(state, model)


def task_callbacks(args, tokenizer) -> list:
    if not args.task_eval:
        return []
    from .toy import get_task  # noqa: PLC0415

    out = Path(args.output_dir) / "task_eval.jsonl"
    if args.process_index == 0 and out.exists():
        resume = resume_checkpoint(args)
        if resume is None:
            out.unlink()
        elif (step := checkpoint_step(resume)) is not None:
            # rows the killed run wrote after its checkpoint are written again by the resumed one: drop them
            rows = [r for r in out.read_text().splitlines() if r.strip() and json.loads(r).get("step", 0) <= step]
            out.write_text("".join(r + "\n" for r in rows))
    return [TaskEvalCallback(get_task(args.task_eval), tokenizer, args.task_eval_split, args.task_eval_steps, out)]


# ---- preference optimization --------------------------------------------------------------------
def load_tokenized_pairs(data_args, tokenizer, split: str, limit: int | None, source: str | None = None):
    source = source or data_args.dataset
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


def attach_reference_logps(rows: list[dict], model_args, args, tokenizer, reference=None) -> list[dict]:
    """Add ref_chosen_logps / ref_rejected_logps to each row, from the on-disk cache or computed once.

    `reference` is an already loaded reference model (else it is loaded here and freed afterwards).
    """
    ref_name = model_args.reference_model_name_or_path or model_args.model_name_or_path
    collator = pdata.PairCollator(pad_token_id=tokenizer.pad_token_id)

    def compute():
        if reference is not None:
            model = reference
        else:
            with without_zero3_init():  # rank 0 alone runs it: no ZeRO-3 partitioning (prefopt.models)
                model = load_model(ref_name, model_args)
        from .trainer import disable_dropout  # noqa: PLC0415

        disable_dropout(model)
        model.to(args.device)
        return compute_logps(model, rows, collator, batch_size=args.per_device_eval_batch_size,
                             chunk_size=args.logp_chunk_size, impl=args.logprob_impl,
                             chunk_tokens=args.logprob_chunk_tokens)

    if args.reference_cache == "off":
        chosen, rejected = compute()
    else:
        settings = {"dtype": model_args.torch_dtype, "attn": model_args.attn_implementation,
                    "chunk": args.logp_chunk_size, "dropout_disabled": True}
        if args.logprob_impl != "full":  # equal to float rounding, not bitwise: its own entry (full keeps its keys)
            settings.update(logprobs=args.logprob_impl, chunk_tokens=args.logprob_chunk_tokens)
        cache = ReferenceCache(weights_fingerprint(local_folder(ref_name, model_args.model_revision)), settings,
                               args.reference_cache_dir)
        chosen, rejected = cache.get_or_compute(rows, compute)
    return [dict(r, ref_chosen_logps=float(c), ref_rejected_logps=float(j))
            for r, c, j in zip(rows, chosen.tolist(), rejected.tolist())]


def train_preference(model_args, data_args, args) -> dict:
    """Train one pairwise method (or a method with its own trainer, e.g. KTO); returns the final metrics."""
    from .kto import EXTERNAL_TRAINERS  # noqa: PLC0415
    from .losses import get_loss  # noqa: PLC0415
    from .trainer import PreferenceTrainer  # noqa: PLC0415

    if args.loss in EXTERNAL_TRAINERS and args.scheduler:
        raise InputError(f"loss {args.loss!r} has its own trainer, which takes no sample scheduler",
                         fix="remove the scheduler block, or use a pairwise loss (for KTO: loss kto_pair)")
    if args.loss in EXTERNAL_TRAINERS:  # the one dispatch point: same config, manifest and outputs (prefopt.kto)
        return EXTERNAL_TRAINERS[args.loss].train(model_args, data_args, args)
    setup_logging(args)
    set_seed(args.seed)
    spec = get_loss(args.loss)
    manifest = start_manifest("preference", model_args, data_args, args)
    tokenizer = load_tokenizer(model_args)
    train_rows, train_report = load_tokenized_pairs(data_args, tokenizer, data_args.train_split,
                                                    data_args.max_train_samples)
    eval_rows, eval_report = None, None
    if data_args.eval_split:
        eval_rows, eval_report = load_tokenized_pairs(data_args, tokenizer, data_args.eval_split,
                                                      data_args.max_eval_samples, data_args.eval_dataset)
    if spec.needs_reference:
        with args.main_process_first(desc="reference log-probs"):  # rank 0 fills the cache, the others read it
            train_rows = attach_reference_logps(train_rows, model_args, args, tokenizer)
            if eval_rows is not None:
                eval_rows = attach_reference_logps(eval_rows, model_args, args, tokenizer)
    model = load_model(model_args.model_name_or_path, model_args)
    trainer = PreferenceTrainer(
        model=model, args=args, processing_class=tokenizer,
        train_dataset=Dataset.from_list(train_rows),
        eval_dataset=Dataset.from_list(eval_rows) if eval_rows else None,
        callbacks=task_callbacks(args, tokenizer),
    )
    data_report = {"train": train_report.as_dict(), "eval": eval_report.as_dict() if eval_report else None}
    return _train_and_save(trainer, args, tokenizer, manifest, data_report)


def write_curves(run: Path) -> None:
    """training_curves.png of a finished run. A plotting failure is logged, never fatal: the model is saved."""
    from .curves import CURVES_FILE, plot_runs  # noqa: PLC0415

    try:
        plot_runs([run], run / CURVES_FILE)
    except (InputError, OSError, ValueError) as e:  # e.g. a run too short to log, a full disk
        logger.warning("no %s for %s: %s", CURVES_FILE, run, e)


def _train_and_save(trainer: Trainer, args, tokenizer, manifest: Path, data_report: dict) -> dict:
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


# ---- supervised fine-tuning ---------------------------------------------------------------------
def train_sft(model_args, data_args, args) -> dict:
    setup_logging(args)
    set_seed(args.seed)
    manifest = start_manifest("sft", model_args, data_args, args)
    tokenizer = load_tokenizer(model_args)

    def rows_for(split, limit, source=None):
        rows = pdata.load_rows(source or data_args.dataset, split=split)
        if limit:
            rows = rows[:limit]
        tok_rows, report = pdata.tokenize_sft(rows, tokenizer, max_length=data_args.max_length,
                                              source=source or data_args.dataset, progress=len(rows) > 2000)
        logger.info("%s[%s]: %s", source or data_args.dataset, split, report.summary())
        return tok_rows, report

    train_rows, train_report = rows_for(data_args.train_split, data_args.max_train_samples)
    eval_rows, eval_report = (None, None)
    if data_args.eval_split:
        eval_rows, eval_report = rows_for(data_args.eval_split, data_args.max_eval_samples, data_args.eval_dataset)
    model = load_model(model_args.model_name_or_path, model_args)
    args.remove_unused_columns = False
    trainer = Trainer(
        model=model, args=args, processing_class=tokenizer,
        data_collator=pdata.SFTCollator(pad_token_id=tokenizer.pad_token_id),
        train_dataset=Dataset.from_list(train_rows),
        eval_dataset=Dataset.from_list(eval_rows) if eval_rows else None,
        callbacks=task_callbacks(args, tokenizer),
    )
    data_report = {"train": train_report.as_dict(), "eval": eval_report.as_dict() if eval_report else None}
    return _train_and_save(trainer, args, tokenizer, manifest, data_report)



def train_from_config(model_args, data_args, args) -> dict:
    """Train whatever the config describes: SFT for an SFTConfig, else the preference method it names."""
    from .config import SFTConfig  # noqa: PLC0415

    if isinstance(args, SFTConfig):
        return train_sft(model_args, data_args, args)
    return train_preference(model_args, data_args, args)
