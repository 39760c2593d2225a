"""Kill a training run at the end of an optimizer step, on every rank, as a crash would (SIGKILL, no cleanup).

The rehearsal puts this folder on PYTHONPATH of one launch with PREFOPT_REHEARSAL_KILL_AT_STEP=N set; Python
imports `sitecustomize` at start-up in every process of the launch. Nothing is imported here: when
`transformers.trainer` is first imported, a finder wraps its loading and adds a callback to every Trainer that
SIGKILLs its own process once `state.global_step == N` (on_step_end: after the optimizer step, before that
step's save, so the newest complete checkpoint is the one before). The cell's command line stays its own.
"""

import importlib.abc
import importlib.util
import os
import signal
import sys

KILL_ENV = "PREFOPT_REHEARSAL_KILL_AT_STEP"


def _install(trainer_module, step: int) -> None:
    class KillAtStep(trainer_module.TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == step:
                sys.stderr.write(f"rehearsal: SIGKILL at the end of step {step} (rank {args.process_index})\n")
                sys.stderr.flush()
                os.kill(os.getpid(), signal.SIGKILL)

    init = trainer_module.Trainer.__init__

    def with_kill(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.add_callback(KillAtStep())

    trainer_module.Trainer.__init__ = with_kill


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, step: int):
        self.step = step

    def find_spec(self, name, path, target=None):
        if name != "transformers.trainer":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            _install(module, self.step)

        spec.loader.exec_module = exec_module
        return spec


if os.environ.get(KILL_ENV):
    sys.meta_path.insert(0, _Finder(int(os.environ[KILL_ENV])))
