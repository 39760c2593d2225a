"""Trainer callbacks: a verifiable task's judge accuracy logged during training (`task_eval:` in a config).

The task is looked up by name (`prefopt.core.plugins.TASKS`), so this module knows no task.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from transformers import TrainerCallback

from prefopt.core.plugins import get_task

from .checkpoint import checkpoint_step

logger = logging.getLogger("prefopt")
TASK_EVAL_FILE = "task_eval.jsonl"


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
        result = self.task.accuracy(model, self.tokenizer, self.prompts)
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


def task_callbacks(args, tokenizer, resume_from: str | None) -> list:
    """[TaskEvalCallback] when the config names a task_eval, else []. Rows a killed run wrote after the
    checkpoint it resumes from (`resume_from`) are dropped: the resumed run writes them again."""
    if not args.task_eval:
        return []
    out = Path(args.output_dir) / TASK_EVAL_FILE
    if args.process_index == 0 and out.exists():
        if resume_from is None:
            out.unlink()
        elif (step := checkpoint_step(resume_from)) is not None:
            rows = [r for r in out.read_text().splitlines() if r.strip() and json.loads(r).get("step", 0) <= step]
            out.write_text("".join(r + "\n" for r in rows))
    return [TaskEvalCallback(get_task(args.task_eval), tokenizer, args.task_eval_split, args.task_eval_steps, out)]
