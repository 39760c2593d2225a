"""Selective DPO's data selection (Gao et al., ICML 2025; the `data_selection:` block, prefopt.config.selection).

    1. For each seed, split the source pairs into two halves (a seeded permutation; pairs with identical chosen and
       rejected are dropped first). Train a reference run on each half with the cell's own method and settings
       (random sampler, no sample scheduler) and record, at `evals_per_run` evenly spaced steps, the per-pair loss of
       every pair of the OTHER half (`HeldOutLossRecorder`).
    2. learning order of a pair = the mean of its recorded losses over every evaluation and seed.
    3. Keep the `keep_fraction` pairs with the lowest order (ties: source order), written EASIEST FIRST to the cell's
       `dataset` (train.jsonl) with selection.json (every order, the kept indices, the reference runs).
    4. The cell trains on them with `train_sampling_strategy: sequential`: easy to hard, no shuffling.

Released code (glorgao/SelectiveDPO): `dpo_diagnostician.py` records the held-out DPO loss at step00..step04 of
each run, `make-curricula-uf.py` averages them, `run_selective_dpo.py` keeps the first 50%. For a DPO cell this is
that protocol (DPO loss with the cell's beta, the SFT model as start and reference); for another pairwise loss the
difficulty is that loss's held-out value. `run_selection` skips every finished piece, so an interrupted selection
continues where it stopped; the reference runs train one after another in this process. A finished piece counts
only for the same inputs: the selection key (`selection_key`: the tokenized source pairs and every setting that
changes a reference run's losses) names the folder of the reference runs and is recorded in selection.json, so a
changed source, model, loss or length budget selects again instead of reusing stale runs.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import math
import os
import random
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from transformers import TrainerCallback

from prefopt import data as pdata
from prefopt.config import config_hash, explicit_values
from prefopt.config.selection import DataSelectionConfig, make_selection_config
from prefopt.core.errors import InputError
from prefopt.core.manifest import write_json
from prefopt.modeling.loading import load_tokenizer

logger = logging.getLogger("prefopt")
SELECTION_FILE = "selection.json"
LOSSES_FILE = "heldout_losses.jsonl"
HELDOUT_SPLIT = "heldout"


# ---- the pure steps ---------------------------------------------------------------------------------------------

def split_halves(n: int, seed: int) -> tuple[list[int], list[int]]:
    """Two halves of range(n) by a seeded permutation (the first gets n // 2), each in ascending order."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return sorted(order[: n // 2]), sorted(order[n // 2:])


def learning_order(records: list[tuple[list[int], list[list[float]]]]) -> dict[int, float]:
    """Mean held-out loss per source index. records: per reference run, (its held-out source indices, its losses
    at each evaluation, in the same order)."""
    sums: dict[int, float] = {}
    counts: dict[int, int] = {}
    for indices, evaluations in records:
        for losses in evaluations:
            if len(losses) != len(indices):
                raise ValueError(f"{len(losses)} losses recorded for {len(indices)} held-out pairs")
            for i, value in zip(indices, losses):
                sums[i] = sums.get(i, 0.0) + float(value)
                counts[i] = counts.get(i, 0) + 1
    return {i: sums[i] / counts[i] for i in sums}


def select_easiest(order: dict[int, float], keep_fraction: float) -> list[int]:
    """The floor(keep_fraction * N) (at least 1) indices with the lowest order, easiest first; ties in index order."""
    k = max(1, math.floor(keep_fraction * len(order) + 1e-9))
    return sorted(order, key=lambda i: (order[i], i))[:k]


# ---- recording held-out losses during a reference run -------------------------------------------------------------

class HeldOutLossRecorder(TrainerCallback):
    """Evaluates the held-out half at `evals` evenly spaced steps and writes each pair's loss (one JSON line per
    evaluation: {"step", "losses"} in held-out row order). Passed to the trainer as callback and as compute_metrics
    (the per-pair losses arrive there gathered over ranks, with their row indices)."""

    def __init__(self, evals: int, out_file: Path, n_rows: int):
        self.evals, self.out_file, self.n_rows = evals, Path(out_file), n_rows
        self.points: set[int] = set()
        self.pending: list[float] | None = None
        # step -> losses, on every rank (the predictions are gathered); a resumed run starts from the file
        self.evaluations: dict[int, list[float]] = {}
        if self.out_file.exists():
            for line in self.out_file.read_text().splitlines():
                if line:
                    row = json.loads(line)
                    self.evaluations[row["step"]] = row["losses"]

    def on_train_begin(self, args, state, control, **kw):
        total = state.max_steps
        self.points = {max(1, round(total * k / self.evals)) for k in range(1, self.evals + 1)}
        # a killed run resumes from its last checkpoint: what it recorded after that step is recorded again
        resumed_at = state.global_step
        self.evaluations = {s: v for s, v in self.evaluations.items() if s <= resumed_at}
        if state.is_world_process_zero:
            self._rewrite()

    def on_step_end(self, args, state, control, **kw):
        if state.global_step in self.points and state.global_step not in self.evaluations:
            control.should_evaluate = True

    def __call__(self, prediction) -> dict:
        losses = np.asarray(prediction.predictions, dtype=np.float64).reshape(-1).tolist()
        rows = np.asarray(prediction.label_ids).reshape(-1).astype(int).tolist()
        if sorted(rows) != list(range(self.n_rows)):
            raise RuntimeError(f"held-out evaluation returned rows {len(rows)} of {self.n_rows}")
        by_row = dict(zip(rows, losses))
        self.pending = [by_row[i] for i in range(self.n_rows)]
        return {"heldout_pair_loss": sum(losses) / len(losses)}

    def on_evaluate(self, args, state, control, **kw):
        step, losses, self.pending = state.global_step, self.pending, None
        if losses is None or step in self.evaluations:
            return  # no per-pair losses this time, or the end-of-run evaluation repeating the last point
        self.evaluations[step] = losses
        if state.is_world_process_zero:
            with open(self.out_file, "a") as f:
                f.write(json.dumps({"step": step, "losses": losses}) + "\n")

    def _rewrite(self) -> None:
        _write_jsonl(self.out_file, [{"step": s, "losses": v} for s, v in sorted(self.evaluations.items())])

    def losses(self) -> list[list[float]]:
        return [self.evaluations[s] for s in sorted(self.evaluations)]


# ---- the whole selection ------------------------------------------------------------------------------------------

def _pair_row(pair) -> dict:
    return {"prompt": pair.prompt, "chosen": pair.chosen, "rejected": pair.rejected}


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    """Atomic; every rank may write the same file (each through its own temporary name)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    tmp.replace(path)


# Bookkeeping that never changes a reference run's losses: a new value of these reuses a finished selection.
# remove_unused_columns is forced off by the trainers on the args they are given (our rows are no model kwargs).
NOT_IN_SELECTION_KEY = ("output_dir", "logging_dir", "run_name", "resume", "description", "report_to", "dataset",
                        "logging_steps", "logging_first_step", "save_strategy", "save_steps", "save_total_limit",
                        "save_only_model", "push_to_hub", "hub_model_id", "disable_tqdm", "log_level",
                        "remove_unused_columns")


def selection_key(rows: list[dict], model_args, data_args, args) -> str:
    """What a selection's result depends on: the usable source pairs, in order, and the settings of the reference
    runs (the cell's model, loss, optimisation and tokenization; its data_selection block)."""
    values = explicit_values(model_args, data_args, _reference_args(args, Path("."), 0))
    values = {k: v for k, v in values.items() if k not in ("seed", "data_seed")}  # each reference run sets its own
    values["data_selection"] = args.data_selection
    values["source_rows"] = rows
    return config_hash(values, ignore=NOT_IN_SELECTION_KEY)


def selection_done(data_args, key: str) -> bool:
    """True when `dataset` holds the selection made from these inputs."""
    record = Path(data_args.dataset) / SELECTION_FILE
    if not record.is_file():
        return False
    found = json.loads(record.read_text()).get("key")
    if found != key:
        logger.info("data_selection: %s was made from other inputs (key %s, now %s): selecting again", record, found,
                    key)
        return False
    return True


def _finished(run_dir: Path) -> bool:
    manifest = run_dir / "manifest.json"
    return manifest.exists() and json.loads(manifest.read_text()).get("status") == "finished"


def _reference_args(args, run_dir: Path, seed: int):
    """The cell's own training settings for one reference run: its loss and optimisation, a random sampler, no
    scheduler, stopping or selection, evaluation only when the recorder asks."""
    return dataclasses.replace(
        args, output_dir=str(run_dir), run_name=f"{args.run_name or 'selection'}-{run_dir.name}", seed=seed,
        data_seed=seed, train_sampling_strategy="random", sample_scheduler={}, data_selection={},
        epoch_stopping={}, eval_strategy="steps", eval_steps=10**9, load_best_model_at_end=False,
        metric_for_best_model=None, task_eval=None, resume="auto")


def _drop_weights(run_dir: Path) -> None:
    for path in run_dir.glob("checkpoint-*"):
        shutil.rmtree(path, ignore_errors=True)
    for pattern in ("model*.safetensors", "pytorch_model*.bin", "model.safetensors.index.json"):
        for path in run_dir.glob(pattern):
            path.unlink()


def tokenizable(pairs, model_args, data_args) -> list:
    """The pairs the cell's tokenization keeps (its tokenizer, lengths and truncation), in order; the others are
    counted in `pairs.dropped`. A pair whose responses become identical when cut to max_length is dropped by every
    run that reads it, so it is dropped here, before the halves: each held-out half is then scored in full."""
    cut: list[int] = []
    pdata.tokenize_pairs(pairs, load_tokenizer(model_args), max_length=data_args.max_length,
                         max_prompt_length=data_args.max_prompt_length, truncation_mode=data_args.truncation_mode,
                         role_header_in_response=data_args.role_header_in_response, progress=len(pairs) > 2000,
                         on_drop=cut.append)
    if cut:
        pairs.dropped["identical_after_truncation"] = pairs.dropped.get("identical_after_truncation", 0) + len(cut)
    gone = set(cut)
    return [p for i, p in enumerate(pairs) if i not in gone]


def run_selection(model_args, data_args, args, train_preference: Callable) -> Path:
    """Steps 1-3 of the module docstring, unless `dataset` already holds the selection of these inputs; returns
    the folder of the kept pairs (the cell's `dataset`). `train_preference` trains a reference run
    (prefopt.training.preference passes itself)."""
    cfg: DataSelectionConfig = make_selection_config(args.data_selection)
    pairs = pdata.load_pairs(cfg.source, split=cfg.source_split, bad_rows="drop")
    rows = [_pair_row(p) for p in tokenizable(pairs, model_args, data_args)]
    if len(rows) < 2:
        raise InputError(f"data_selection.source has {len(rows)} usable pairs", where=cfg.source,
                         fix="point data_selection.source at the full training pairs")
    key = selection_key(rows, model_args, data_args, args)
    out = Path(data_args.dataset)
    if selection_done(data_args, key):
        logger.info("data_selection: %s holds the selection of these inputs (key %s)", out, key)
        return out
    work = Path(cfg.work_dir) / f"key-{key}"  # other inputs select in another folder: no stale run is reused
    logger.info("data_selection: %d pairs from %s[%s] (%s dropped)", len(rows), cfg.source, cfg.source_split,
                dict(pairs.dropped) or "none")
    records, runs = [], []
    for seed in cfg.seeds:
        halves = split_halves(len(rows), seed)
        for h, (train_idx, heldout_idx) in enumerate((halves, halves[::-1])):
            run_dir = work / f"seed{seed}-half{h}"
            data_dir = work / "data" / f"seed{seed}-half{h}"
            runs.append({"run": str(run_dir), "seed": seed, "train_pairs": len(train_idx),
                         "heldout_pairs": len(heldout_idx)})
            recorder = HeldOutLossRecorder(cfg.evals_per_run, run_dir / LOSSES_FILE, len(heldout_idx))
            if not _finished(run_dir):
                _write_jsonl(data_dir / "train.jsonl", [rows[i] for i in train_idx])
                _write_jsonl(data_dir / f"{HELDOUT_SPLIT}.jsonl", [rows[i] for i in heldout_idx])
                ref_data = dataclasses.replace(data_args, dataset=str(data_dir), train_split="train",
                                               eval_split=HELDOUT_SPLIT, eval_dataset=None, max_train_samples=None,
                                               max_eval_samples=None, bad_rows="error")
                logger.info("data_selection: reference run %s (%d pairs, scored on %d)", run_dir, len(train_idx),
                            len(heldout_idx))
                train_preference(model_args, ref_data, _reference_args(args, run_dir, seed), per_pair_eval=recorder)
                if not cfg.keep_reference_models and args.process_index == 0:
                    _drop_weights(run_dir)
                gc.collect()
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
            records.append((heldout_idx, recorder.losses()))
    order = learning_order(records)
    kept = select_easiest(order, cfg.keep_fraction)
    _write_jsonl(out / "train.jsonl", [rows[i] for i in kept])  # every rank: each trains on it next
    if args.process_index == 0:
        write_json(out / SELECTION_FILE, {
            "method": "selective-dpo (Gao et al. 2025)", "key": key, "config": dataclasses.asdict(cfg), "loss": args.loss,
            "loss_hparams": args.loss_hparams, "source_pairs": len(rows), "dropped": dict(pairs.dropped),
            "kept": len(kept), "kept_indices_easiest_first": kept, "learning_order": [order[i] for i in range(len(rows))],
            "evaluations_per_pair": sorted({len(e) for _, e in records}), "reference_runs": runs})
    logger.info("data_selection: kept %d of %d pairs (lowest held-out loss first) in %s", len(kept), len(rows), out)
    return out
