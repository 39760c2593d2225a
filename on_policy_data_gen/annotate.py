#!/usr/bin/env python
r"""Step 3 of the on-policy chain: score every response with a reward model (SimPO's reward_model_annotate.py).

    python on_policy_data_gen/annotate.py --input outputs/onpolicy/<setting>/all_outputs.jsonl \
        --kind armorm --reward_model RLHFlow/ArmoRM-Llama3-8B-v0.1 \
        --out outputs/onpolicy/<setting>/all_outputs_rm.jsonl

--kind (prefopt.onpolicy.annotate.REWARD_KINDS): seq-cls (AutoModelForSequenceClassification, logits[:, 0]),
armorm (ArmoRM-style `.score`, remote code), pairrm (llm-blender's PairRM ranker; needs llm-blender),
prefopt (a scripts/run_rm.py output folder), exact-judge / graded-judge (the embedded task's rule; the model is
the task name, e.g. addition). Writes the rows with `all_rm_scores`, and <out>.manifest.json. Resumable: rows
are appended to <out>.partial one chunk at a time; rerun the same command after an interruption.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from prefopt.core.cli import main  # noqa: E402


def parser():
    import argparse

    from prefopt.onpolicy.annotate import REWARD_KINDS

    ap = argparse.ArgumentParser(prog="on_policy_data_gen/annotate.py")
    ap.add_argument("--input", required=True, help="the output of post_process.py")
    ap.add_argument("--kind", default="armorm", choices=list(REWARD_KINDS))
    ap.add_argument("--reward_model", default="RLHFlow/ArmoRM-Llama3-8B-v0.1")
    ap.add_argument("--batch_size", type=int, default=8)
    ap.add_argument("--max_length", type=int, default=None, help="truncate longer sequences (keeps the end)")
    ap.add_argument("--trust_remote_code", action="store_true", default=None, help="(armorm: on by default)")
    ap.add_argument("--torch_dtype", default=None, help="default auto: bfloat16 on a GPU, float32 on CPU")
    ap.add_argument("--chunk_size", type=int, default=256, help="prompts scored (and resumed) per chunk")
    ap.add_argument("--out", required=True)
    ap.add_argument("--no_progress", action="store_true")
    return ap


def run(argv):
    from prefopt.core.cli import configure_logging
    from prefopt.core.manifest import build_manifest, write_json
    from prefopt.onpolicy.annotate import annotate_rows, check_rows, load_scorer
    from prefopt.onpolicy.common import read_rows, read_sidecar, sidecar

    a = parser().parse_args(argv)
    configure_logging()
    rows = read_rows(a.input, "annotate")
    check_rows(rows, a.input)  # bad input fails before the reward model is loaded
    scorer = load_scorer(a.kind, a.reward_model, batch_size=a.batch_size, max_length=a.max_length,
                         trust_remote_code=a.trust_remote_code, torch_dtype=a.torch_dtype)
    out = annotate_rows(rows, scorer, label=a.input, progress=not a.no_progress, out=a.out, chunk=a.chunk_size)
    write_json(sidecar(a.out), {**build_manifest("onpolicy-annotate", config=vars(a)), "step": "annotate",
                                "reward_model": scorer.describe(), "stats": {"n_prompts": len(out),
                                "n_responses": sum(len(r["all_rm_scores"]) for r in out)},
                                "upstream": read_sidecar(a.input)})
    print(f"wrote {a.out}: {len(out)} prompts scored by {scorer.kind} {scorer.name}")


if __name__ == "__main__":
    sys.exit(main(run, __doc__, lambda: parser().format_help()))
