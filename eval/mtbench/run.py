#!/usr/bin/env python
"""MT-Bench of a model; writes results/reproduced/<run>/mt-bench.json (prefopt/evaluation/mt_bench.py).

    python eval/mtbench/run.py --model outputs/llama3-instruct/simpo --template llama3
    make eval-mtbench MODEL=princeton-nlp/Llama-3-Instruct-8B-SimPO TEMPLATE=llama3 [JUDGE=gpt-4] [REFERENCE=gpt-4]

--judge: gpt-4-1106-preview (default: GPT-4 Turbo, SimPO's; metric score_gpt4_turbo), gpt-4 (score_gpt4),
openai:<model>@<url> (an OpenAI-compatible server), hf:<model> (local), rule:length (offline plumbing); API judges
need OPENAI_API_KEY, checked before anything is generated.
--reference: gpt-4-turbo (default, SimPO's GPT-4-Turbo answers to questions 101-130), gpt-4 (FastChat's), or a file.
--template: a TEMPLATE name (llama3, mistral_base, ...), model (the tokenizer's own), or fastchat:<conversation>
(FastChat's conversation template, e.g. fastchat:zephyr). --generation: default fastchat-default (FastChat's
per-category temperatures, 1024 new tokens). Other options: --data (FastChat's llm_judge data, default
../shared/data/mt_bench), --cell, --limit N (first N questions), --name, --out FILE, --batch_size, --allow_large.
Work files (answers, judgments) go to <out folder>/mt-bench/; a rerun resumes.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from prefopt.core.cli import main  # noqa: E402
from prefopt.core.paths import shared_data_dir  # noqa: E402

SHARED = shared_data_dir()
REFERENCES = {
    "gpt-4-turbo": SHARED / "simpo_repo_assets" / "eval" / "mt-bench" / "gpt-4-1106-preview.jsonl",
    "gpt-4": SHARED / "mt_bench" / "reference_answer_gpt-4.jsonl",
}


def run(argv):
    from prefopt.evaluation.cli import benchmark_parser, generation_of, output_path  # noqa: PLC0415
    from prefopt.evaluation.mt_bench import BENCHMARK, DEFAULT_JUDGE, run_mt_bench  # noqa: PLC0415

    ap = benchmark_parser("eval/mtbench/run.py", BENCHMARK, judge=DEFAULT_JUDGE, generation="fastchat-default")
    ap.add_argument("--reference", default="gpt-4-turbo", help="gpt-4-turbo | gpt-4 | <file>")
    ap.add_argument("--data", default=str(SHARED / "mt_bench"))
    a = ap.parse_args(argv)
    out = output_path(a, BENCHMARK)
    reference = REFERENCES.get(a.reference, Path(a.reference))
    result = run_mt_bench(model=a.model, out=out, data=a.data, reference=reference, judge=a.judge,
                          template=a.template, generation=generation_of(a), cell=a.cell, limit=a.limit,
                          batch_size=a.batch_size, allow_large=a.allow_large)
    d = result["details"]
    print(f"wrote {out}")
    print(f"  {d['metric']}: {d['score']:.2f} (turn 1 {d['turn_1']:.2f}, turn 2 {d['turn_2'] or float('nan'):.2f}; "
          f"{d['n_rated']} rated, {d['n_unparsed']} unparsed)")
    for cat, s in d["categories"].items():
        print(f"    {cat}: {s['score']:.2f}")


if __name__ == "__main__":
    sys.exit(main(run, __doc__, lambda: ""))
