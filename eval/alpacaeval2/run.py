#!/usr/bin/env python
"""AlpacaEval 2 of a model; writes results/reproduced/<run>/alpacaeval2.json (prefopt/evaluation/alpaca.py).

    python eval/alpacaeval2/run.py --model outputs/llama3-instruct/simpo --template llama3 \
        --generation 'do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'
    make eval-alpaca MODEL=princeton-nlp/Llama-3-Instruct-8B-SimPO TEMPLATE=llama3 [JUDGE=hf:<model>] [LIMIT=20]

--judge: an alpaca-eval annotator (default weighted_alpaca_eval_gpt4_turbo, needs OPENAI_API_KEY: without it the
run stops before generating), openai:<model>@<url> (OpenAI-compatible server, e.g. vLLM), or hf:<model> (local).
--reference: gpt4_1106_preview's outputs on the 805 instructions (default ../shared/data/alpaca_eval/...).
Other options: --cell, --template, --generation, --limit N (first N instructions), --name, --out FILE,
--batch_size. Work files (answers, annotations, caches) go to <out folder>/alpacaeval2/; a rerun resumes.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from prefopt.core.cli import main  # noqa: E402
from prefopt.core.paths import shared_data_dir  # noqa: E402

DEFAULT_REFERENCE = shared_data_dir() / "alpaca_eval" / "gpt4_1106_preview_model_outputs.json"


def run(argv):
    from prefopt.evaluation.alpaca import DEFAULT_JUDGE, run_alpaca  # noqa: PLC0415
    from prefopt.evaluation.cli import benchmark_parser, generation_of, output_path  # noqa: PLC0415

    ap = benchmark_parser("eval/alpacaeval2/run.py", "alpacaeval2", judge=DEFAULT_JUDGE, generation=None)
    ap.add_argument("--reference", default=str(DEFAULT_REFERENCE), help="gpt4_1106_preview's outputs (805)")
    a = ap.parse_args(argv)
    out = output_path(a, "alpacaeval2")
    result = run_alpaca(model=a.model, out=out, reference=a.reference, judge=a.judge, template=a.template,
                        generation=generation_of(a), cell=a.cell, limit=a.limit, batch_size=a.batch_size, name=a.name,
                        allow_large=a.allow_large)
    print(f"wrote {out}")
    for k, v in result["metrics"].items():
        print(f"  {k}: {v:.2f}")
    if result["details"].get("lc_note"):
        print(f"  note: {result['details']['lc_note']}")


if __name__ == "__main__":
    sys.exit(main(run, __doc__, lambda: ""))
