"""Run state beyond the model and optimizer (a stateful loss, a sample scheduler), saved in every checkpoint and
restored on resume, for any transformers.Trainer subclass.

    class MyTrainer(ExtraStateMixin, Trainer):
        def _extra_state(self):            # file name -> (get, set)
            return {"my_state.pt": (self.get_state, self.set_state)}

A trainer with a `sample_scheduler` hook also writes the scheduler's networks (`sams_scheduler.pt`) next to the
final model: a scheduler pretraining run's product.
"""

from __future__ import annotations

import logging
import os

import torch
from transformers.trainer_utils import get_last_checkpoint

logger = logging.getLogger("prefopt")
SAMPLE_SCHEDULER_STATE_FILE = "prefopt_sample_scheduler_state.pt"
LEGACY_STATE_FILES = {SAMPLE_SCHEDULER_STATE_FILE: "prefopt_scheduler_state.pt"}  # read from older checkpoints


class ExtraStateMixin:
    sample_scheduler = None

    def _extra_state(self) -> dict[str, tuple]:
        """File name -> (get, set) of every piece of run state beyond the model and optimizer."""
        if self.sample_scheduler is None:
            return {}
        return {SAMPLE_SCHEDULER_STATE_FILE: (self.sample_scheduler.state_dict, self.sample_scheduler.load_state_dict)}

    def _save_checkpoint(self, model, trial):
        super()._save_checkpoint(model, trial)
        if self.args.should_save:
            folder = os.path.join(self._get_output_dir(trial=trial), f"checkpoint-{self.state.global_step}")
            for name, (get, _) in self._extra_state().items():
                torch.save(get(), os.path.join(folder, name))

    def train(self, resume_from_checkpoint=None, trial=None, ignore_keys_for_eval=None, **kwargs):
        """Restore the extra state here, before transformers picks a launcher-specific load path.

        transformers 5.23 calls `_load_from_checkpoint` only without DeepSpeed (with DeepSpeed it calls
        `deepspeed_load_checkpoint` instead), so a restore placed there is silently skipped under ZeRO-3.
        `train()` is the one entry every launcher (plain, DDP, DeepSpeed, FSDP) goes through.
        """
        if resume_from_checkpoint is True:  # as Trainer.train resolves it
            resume_from_checkpoint = get_last_checkpoint(self.args.output_dir)
        if isinstance(resume_from_checkpoint, str):
            self._restore_extra_state(resume_from_checkpoint)
        return super().train(resume_from_checkpoint, trial, ignore_keys_for_eval, **kwargs)

    def _restore_extra_state(self, checkpoint: str) -> None:
        for name, (_, put) in self._extra_state().items():
            for candidate in (name, LEGACY_STATE_FILES.get(name)):
                path = os.path.join(checkpoint, candidate) if candidate else None
                if path and os.path.exists(path):
                    put(torch.load(path, weights_only=True))
                    break
            else:  # e.g. a checkpoint written by a run of another method: say so, never restart silently
                logger.warning("resuming from %s without %s: that state starts afresh", checkpoint, name)

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False):
        """The model, plus the scheduler's networks on the final save."""
        super().save_model(output_dir, _internal_call)
        if self.sample_scheduler is not None and not _internal_call and self.args.should_save:
            self.sample_scheduler.save_weights(output_dir or self.args.output_dir)
