"""The command-line arguments every generating benchmark script shares (eval/<benchmark>/run.py).

They mirror what `make eval-<cell>` passes (MODEL, CELL, OUT, TEMPLATE, GENERATION) plus the usual knobs; a
script adds its own (judge defaults, data folders) and calls `output_path` for where the result goes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .report import result_path
from .settings import with_max_new_tokens


def benchmark_parser(prog: str, benchmark: str, *, judge: str | None, generation: str | None) -> argparse.ArgumentParser:
    """judge=None: the benchmark scores by rule (no --judge option)."""
    ap = argparse.ArgumentParser(prog=prog)
    ap.add_argument("--model", required=True, help="hub id, local folder or tiny:<size>/<task>")
    if judge is not None:
        ap.add_argument("--judge", default=judge, help=f"judge (default {judge})")
    ap.add_argument("--cell", default=None, help="registry cell id written into the result (make eval-<cell>)")
    ap.add_argument("--template", default=None, help="eval template name (prefopt/evaluation/templates.py)")
    ap.add_argument("--generation", default=generation, help="decoding: key=value pairs or a named setting")
    ap.add_argument("--max_new_tokens", type=int, default=None,
                    help="replace the decoding settings' answer length (MAX_NEW_TOKENS=; recorded in the result)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N questions")
    ap.add_argument("--name", default=None, help="results/reproduced/<name>/ (default: from the model)")
    ap.add_argument("--out", default=None, help=f"result file (default results/reproduced/<run>/{benchmark}.json)")
    ap.add_argument("--batch_size", type=int, default=16, help="generation batch size")
    ap.add_argument("--allow_large", action="store_true", help="run a model over 3B parameters without a GPU")
    return ap


def generation_of(args) -> str | None:
    """The decoding settings to run: --generation with --max_new_tokens applied."""
    return with_max_new_tokens(args.generation, args.max_new_tokens)


def output_path(args, benchmark: str) -> Path:
    return Path(args.out) if args.out else result_path(benchmark, args.model, name=args.name)
