#!/usr/bin/env python
"""ZeroEval's zero-shot GSM8K and MMLU-Redux of a model; writes <out_dir>/gsm8k.json and mmlu.json
(prefopt/evaluation/zeroeval.py: protocol, data, extraction).

    python eval/zeroeval/run.py --model princeton-nlp/gemma-2-9b-it-SimPO --template gemma --tasks gsm8k,mmlu \
        --data /data/zero-eval
    make eval-zeroeval MODEL=... TASKS=gsm8k,mmlu TEMPLATE=gemma DATA=<local copy of yuchenlin/zero-eval> [LIMIT=20]

--data: a local copy of the hub dataset yuchenlin/zero-eval (folders gsm/ and mmlu-redux/, or gsm.jsonl and
mmlu-redux.jsonl); without it the hub is tried (offline it stops, saying what to download).
--generation: default zeroeval-default (greedy, 4096 new tokens). --json_pick last|first: which JSON object of an
answer is read (last = ZeroEval when the SimPO Gemma table was made; first = ZeroEval from 2024-07-21).
Other options: --cell, --template, --limit N (first N questions per task), --name, --out_dir, --batch_size.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from prefopt.core.cli import main  # noqa: E402


def run(argv):
    from prefopt.evaluation.cli import benchmark_parser  # noqa: PLC0415
    from prefopt.evaluation.report import REPRODUCED, run_name  # noqa: PLC0415
    from prefopt.evaluation.zeroeval import DEFAULT_GENERATION, TASKS, run_zeroeval  # noqa: PLC0415
    from prefopt.evaluation.zeroeval_parse import JSON_PICKS  # noqa: PLC0415

    ap = benchmark_parser("eval/zeroeval/run.py", "<task>", judge=None, generation=DEFAULT_GENERATION)
    ap.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated subset of {list(TASKS)}")
    ap.add_argument("--data", default=None, help="local copy of yuchenlin/zero-eval (default: the hub)")
    ap.add_argument("--out_dir", default=None, help="folder of the <task>.json files (default results/reproduced/<run>)")
    ap.add_argument("--json_pick", default="last", choices=JSON_PICKS, help="which complete JSON object is read")
    a = ap.parse_args(argv)
    if a.out:
        ap.error("--out names one file; ZeroEval writes one per task: use --out_dir")
    out_dir = Path(a.out_dir) if a.out_dir else REPRODUCED / (a.name or run_name(a.model))
    results = run_zeroeval(model=a.model, tasks=a.tasks, out_dir=out_dir, data=a.data, template=a.template,
                           generation=a.generation, cell=a.cell, limit=a.limit, batch_size=a.batch_size,
                           json_pick=a.json_pick, allow_large=a.allow_large)
    for benchmark, result in results.items():
        print(f"wrote {out_dir / benchmark}.json")
        for k, v in result["metrics"].items():
            print(f"  {k}: {v:.2f}")


if __name__ == "__main__":
    sys.exit(main(run, __doc__, lambda: ""))
