"""Entry-point glue shared by the scripts: `--help`, `--debug`, and short errors instead of tracebacks."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable

from .errors import InputError


def configure_logging(level: int = logging.INFO) -> None:
    """The one log format of every prefopt entry point (training scripts, demo, mini-table, rm-demo)."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S", level=level)


def main(run: Callable[[list[str]], object], usage: str, help_text: Callable[[], str]) -> int:
    argv = sys.argv[1:]
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    if not argv or argv[0] in ("-h", "--help"):
        print(usage)
        print(help_text())
        return 0 if argv else 2
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        run(argv)
    except InputError as e:
        if debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        print("(run again with --debug for the full traceback)", file=sys.stderr)
        return 2
    close_process_group()
    return 0


def close_process_group() -> None:
    """End a distributed run cleanly: wait for every rank, then destroy the process group.

    A rank that exits with its group alive leaves the group's C++ threads to interpreter teardown, and rank 0
    hosts the rendezvous store the others still hold: in the rehearsals about 2 launches in 100 ended with
    "terminate called without an active exception" (SIGABRT) on rank 1 after the model was saved. Only after a
    successful run (a failing rank must not wait here for the others), and without importing torch: a run that
    never imported torch.distributed has no group.
    """
    dist = sys.modules.get("torch.distributed")
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return
    dist.barrier()
    dist.destroy_process_group()
