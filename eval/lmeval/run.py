#!/usr/bin/env python
"""Open LLM Leaderboard tasks of a model through lm-eval; writes results/reproduced/<run>/open-llm-leaderboard.json.

    python eval/lmeval/run.py --model outputs/mistral-instruct/amapo --suite leaderboard-v2
    make eval-lmeval MODEL=princeton-nlp/Mistral-7B-Instruct-SimPO SUITE=leaderboard-v1 [TASKS=...] [LIMIT=20]

--suite: leaderboard-v1, leaderboard-v2 or amapo (eval/lmeval/suites.yaml: tasks, few-shot counts, metrics), or a
YAML file of the same shape (file.yaml or file.yaml:<suite>). --tasks a,b: these tasks instead (with --num_fewshot
and --metric); --include_path: a folder of local task YAMLs (dataset_path: json tasks run offline; lm-eval's own
tasks download their data from the hub once). Other options: --limit N (examples per task), --backend hf|vllm,
--dtype (auto), --batch_size, --cell, --template (recorded; lm-eval applies the tokenizer's own chat template
where the suite asks for one), --name, --out FILE, --allow_large. Raw lm-eval outputs go to
<out folder>/open-llm-leaderboard/.
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from prefopt.core.cli import main  # noqa: E402


def run(argv):
    from prefopt.evaluation.lmeval import BENCHMARK, run_lmeval  # noqa: PLC0415
    from prefopt.evaluation.report import result_path  # noqa: PLC0415

    ap = argparse.ArgumentParser(prog="eval/lmeval/run.py")
    ap.add_argument("--model", required=True)
    ap.add_argument("--suite", default=None)
    ap.add_argument("--tasks", default=None)
    ap.add_argument("--include_path", default=None)
    ap.add_argument("--num_fewshot", type=int, default=None, help="with --tasks")
    ap.add_argument("--metric", default="acc,none", help="with --tasks: lm-eval's '<metric>,<filter>' key")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--backend", default="hf", choices=["hf", "vllm"])
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--batch_size", default="8")
    ap.add_argument("--cell", default=None)
    ap.add_argument("--template", default=None)
    ap.add_argument("--name", default=None)
    ap.add_argument("--out", default=None, help=f"result file (default results/reproduced/<run>/{BENCHMARK}.json)")
    ap.add_argument("--allow_large", action="store_true", help="run a model over 3B parameters without a GPU")
    a = ap.parse_args(argv)
    out = Path(a.out) if a.out else result_path(BENCHMARK, a.model, name=a.name)
    batch = int(a.batch_size) if a.batch_size.isdigit() else a.batch_size  # lm-eval also takes "auto"
    result = run_lmeval(model=a.model, out=out, suite=a.suite, tasks=a.tasks, include_path=a.include_path,
                        num_fewshot=a.num_fewshot, metric=a.metric, limit=a.limit, backend=a.backend, dtype=a.dtype,
                        batch_size=batch, cell=a.cell, template=a.template, allow_large=a.allow_large)
    print(f"wrote {out}")
    for k, v in result["metrics"].items():
        print(f"  {k}: {v:.2f}")


if __name__ == "__main__":
    sys.exit(main(run, __doc__, lambda: ""))
