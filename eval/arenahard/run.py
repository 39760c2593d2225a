#!/usr/bin/env python
"""Arena-Hard v0.1 of a model; writes results/reproduced/<run>/arena-hard.json (prefopt/evaluation/arena_hard.py).

    python eval/arenahard/run.py --model outputs/llama3-instruct/simpo --template llama3 \
        --generation 'temperature=0.0 max_new_tokens=4096 stop_token_ids=128001,128009'
    make eval-arenahard MODEL=princeton-nlp/Llama-3-Instruct-8B-SimPO TEMPLATE=llama3 [JUDGE=...] [LIMIT=20]

--judge: gpt-4-1106-preview (default, the papers'; needs OPENAI_API_KEY, checked before anything is generated),
openai:<model>@<url> (an OpenAI-compatible server, e.g. vLLM), hf:<model> (local), rule:length (offline plumbing).
--data: the v0.1 questions, gpt-4-0314 answers and judge_config.yaml (default ../shared/data/arena_hard_v0.1).
Other options: --cell, --template, --generation (default greedy, 4096 new tokens), --limit N (first N questions),
--rounds (bootstrap rounds, 100), --seed (42), --name, --out FILE, --batch_size, --allow_large (a > 3B model on
a machine without GPU). Work files (answers, judgments) go to <out folder>/arena-hard/; a rerun resumes.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from prefopt.core.cli import main  # noqa: E402
from prefopt.core.paths import shared_data_dir  # noqa: E402

DEFAULT_DATA = shared_data_dir() / "arena_hard_v0.1"


def run(argv):
    from prefopt.evaluation.arena_hard import BENCHMARK, DEFAULT_JUDGE, run_arena_hard  # noqa: PLC0415
    from prefopt.evaluation.cli import benchmark_parser, generation_of, output_path  # noqa: PLC0415

    ap = benchmark_parser("eval/arenahard/run.py", BENCHMARK, judge=DEFAULT_JUDGE, generation="greedy max_new_tokens=4096")
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--rounds", type=int, default=100, help="bootstrap rounds of the confidence interval")
    ap.add_argument("--seed", type=int, default=42, help="bootstrap seed")
    a = ap.parse_args(argv)
    out = output_path(a, BENCHMARK)
    result = run_arena_hard(model=a.model, out=out, data=a.data, judge=a.judge, template=a.template,
                            generation=generation_of(a), cell=a.cell, limit=a.limit, batch_size=a.batch_size,
                            name=a.name, rounds=a.rounds, seed=a.seed, allow_large=a.allow_large)
    d = result["details"]
    print(f"wrote {out}")
    print(f"  win_rate: {result['metrics']['win_rate']:.2f} (95% CI {d['win_rate_ci'][0]:.2f} - {d['win_rate_ci'][1]:.2f})")
    print(f"  length: {result['metrics']['length']:.1f} tokens; games parsed {d['n_games_parsed']}/{d['n_games']}")


if __name__ == "__main__":
    sys.exit(main(run, __doc__, lambda: ""))
