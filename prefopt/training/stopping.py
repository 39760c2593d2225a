"""Multi-epoch training until a held-out metric converges (the `epoch_stopping:` block, prefopt.config.stopping).

The rule, with a_e the metric after epoch e (higher is better; negated when greater_is_better is false), patience P
and threshold epsilon:

    stop after epoch e  <=>  e > P  and  max_{e' <= e} a_e' - max_{e' <= e - P} a_e' < epsilon

i.e. the best value gained less than epsilon over the last P epochs. The reported epoch is the first one that
reached the best value; transformers' load_best_model_at_end restores its checkpoint (the same "first best": it
replaces the best only on a strict improvement). Worked example (epsilon 0.5, P 2): 60.1, 63.0, 64.2, 64.3, 64.25
-> after epoch 5 the best is 64.3, the best up to epoch 3 was 64.2, gain 0.1 < 0.5: stop; report epoch 4.

The history is read back from the trainer state's log (the evaluations logged at epoch ends), so a resumed run
continues the same rule. Each decision is logged (`stopping/*` rows of log_history) and the outcome is written to
the run manifest (`epoch_stopping`).
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

from transformers import TrainerCallback

from prefopt.config.stopping import EpochStoppingConfig, make_stopping_config
from prefopt.core.manifest import update_manifest

logger = logging.getLogger("prefopt")


def best_epoch(history: list[float], greater_is_better: bool = True) -> int:
    """1-based epoch of the first best value."""
    sign = 1 if greater_is_better else -1
    best = max(sign * v for v in history)
    return next(i for i, v in enumerate(history, 1) if sign * v == best)


def gain(history: list[float], patience: int, greater_is_better: bool = True) -> float | None:
    """How much the best value improved over the last `patience` epochs (None before epoch patience + 1)."""
    if len(history) <= patience:
        return None
    sign = 1 if greater_is_better else -1
    return max(sign * v for v in history) - max(sign * v for v in history[: len(history) - patience])


def should_stop(history: list[float], patience: int, min_delta: float, greater_is_better: bool = True) -> bool:
    g = gain(history, patience, greater_is_better)
    return g is not None and g < min_delta


def hold_out(rows: list, fraction: float, seed: int) -> tuple[list, list]:
    """(train rows, validation rows): round(fraction * n) rows (at least 1) picked by a seeded permutation; both keep
    the original order."""
    n = len(rows)
    k = max(1, round(fraction * n))
    if k >= n:
        raise ValueError(f"cannot hold out {k} of {n} rows for validation")
    picked = set(random.Random(seed).sample(range(n), k))
    return [r for i, r in enumerate(rows) if i not in picked], [r for i, r in enumerate(rows) if i in picked]


def metric_key(name: str) -> str:
    return name if name.startswith("eval_") else f"eval_{name}"  # as transformers names it


class EpochStoppingCallback(TrainerCallback):
    """Applies the rule after each epoch's evaluation; records it in log_history and the manifest."""

    def __init__(self, cfg: EpochStoppingConfig, metric: str, greater_is_better: bool, manifest: Path | None):
        self.cfg, self.metric, self.greater = cfg, metric_key(metric), greater_is_better
        self.manifest = manifest
        self.history: dict[int, float] = {}
        self.stopped_after: int | None = None
        self.training = False

    def _values(self) -> list[float]:
        return [self.history[e] for e in sorted(self.history)]

    def _best(self) -> tuple[int, float]:
        """(epoch, value) of the first best evaluation."""
        values = self._values()
        i = best_epoch(values, self.greater)
        return sorted(self.history)[i - 1], values[i - 1]

    def on_train_begin(self, args, state, control, **kw):
        self.training = True
        # a resumed run: the evaluations before the checkpoint are in the restored log
        self.history = {round(row["epoch"]): row[self.metric] for row in state.log_history
                        if self.metric in row and "epoch" in row}

    def on_evaluate(self, args, state, control, metrics=None, **kw):
        if not self.training or not metrics or self.metric not in metrics:
            return  # the evaluation after training, or a metric this evaluation does not produce
        epoch = round(state.epoch)
        self.history[epoch] = float(metrics[self.metric])
        values = self._values()
        g = gain(values, self.cfg.patience, self.greater)
        stop = should_stop(values, self.cfg.patience, self.cfg.min_delta, self.greater)
        best, value = self._best()
        state.log_history.append({"epoch": float(epoch), "step": state.global_step, "stopping/best_epoch": best,
                                  "stopping/best": value, **({"stopping/gain": g} if g is not None else {}),
                                  "stopping/stop": int(stop)})
        logger.info("epoch %d: %s %.4f (best %.4f at epoch %d%s)", epoch, self.metric, values[-1], value, best,
                    "" if g is None else f"; gain over {self.cfg.patience} epochs {g:.4f}")
        if stop:
            logger.info("epoch_stopping: gain %.4f < min_delta %s after epoch %d: stopping", g, self.cfg.min_delta,
                        epoch)
            self.stopped_after = epoch
            control.should_training_stop = True

    def on_train_end(self, args, state, control, **kw):
        self.training = False
        if not state.is_world_process_zero or self.manifest is None or not self.history:
            return
        best, value = self._best()
        update_manifest(self.manifest, epoch_stopping={
            "metric": self.metric, "greater_is_better": self.greater, "patience": self.cfg.patience,
            "min_delta": self.cfg.min_delta, "split": self.cfg.split, "max_epochs": args.num_train_epochs,
            "history": {str(e): self.history[e] for e in sorted(self.history)},
            "stopped_early": self.stopped_after is not None, "epochs_run": max(self.history),
            "best_epoch": best, "best": value,
            "best_restored": bool(args.load_best_model_at_end)})


def stopping_callbacks(args, manifest: Path | None) -> list:
    """[EpochStoppingCallback] when the config has an epoch_stopping block, else []."""
    if not getattr(args, "epoch_stopping", None):
        return []
    cfg = make_stopping_config(args.epoch_stopping)
    return [EpochStoppingCallback(cfg, args.metric_for_best_model, bool(args.greater_is_better), manifest)]


def validation_holdout(args) -> tuple[float, int] | None:
    """(fraction, seed) when the stopping metric is measured on held-out training rows, else None."""
    if not getattr(args, "epoch_stopping", None):
        return None
    cfg = make_stopping_config(args.epoch_stopping)
    if cfg.split != "validation":
        return None
    return cfg.validation_fraction, args.data_seed if args.data_seed is not None else args.seed
