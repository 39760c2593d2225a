#!/usr/bin/env python
r"""Step 2 of the on-policy chain: merge the seed files, drop prompts whose responses are all identical.

    python on_policy_data_gen/post_process.py --generations outputs/onpolicy/<setting>/generations \
        --out outputs/onpolicy/<setting>/all_outputs.jsonl

Reads every complete output_<seed>.jsonl of --generations (or --seeds), checks they hold the same prompts in
the same order, and writes rows {"prompt", "all_generated_responses", "seeds"}. Empty responses, prompts with
fewer than two responses and prompts whose responses are all identical are dropped and counted in
<out>.manifest.json.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from prefopt.core.cli import main  # noqa: E402


def parser():
    import argparse

    ap = argparse.ArgumentParser(prog="on_policy_data_gen/post_process.py")
    ap.add_argument("--generations", required=True, help="the --out folder of decode.py")
    ap.add_argument("--seeds", type=int, nargs="+", default=None, help="default: every seed file in the folder")
    ap.add_argument("--out", required=True, help="the merged .jsonl file")
    return ap


def run(argv):
    from prefopt.core.cli import configure_logging
    from prefopt.core.errors import InputError
    from prefopt.core.manifest import build_manifest, write_json
    from prefopt.onpolicy.common import sidecar, write_jsonl
    from prefopt.onpolicy.post_process import merge_generations, read_generations

    a = parser().parse_args(argv)
    configure_logging()
    prompts, per_seed, metas = read_generations(a.generations, a.seeds)
    rows, stats = merge_generations(prompts, per_seed)
    if not rows:
        raise InputError(f"no prompt left: {stats}", where=a.generations,
                         fix="every prompt's responses are identical or empty: sample more seeds or a higher temperature")
    write_jsonl(a.out, rows)
    write_json(sidecar(a.out), {**build_manifest("onpolicy-post-process", config=vars(a)), "step": "post_process",
                                "stats": stats, "decode": {str(s): m for s, m in metas.items()}})
    print(f"wrote {a.out}: {stats['n_kept']} of {stats['n_prompts']} prompts kept ({stats['n_all_identical']} all "
          f"identical, {stats['n_too_few_responses']} with < 2 responses, {stats['n_empty_responses']} empty "
          "responses dropped)")


if __name__ == "__main__":
    sys.exit(main(run, __doc__, lambda: parser().format_help()))
