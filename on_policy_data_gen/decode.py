#!/usr/bin/env python
r"""Step 1 of the on-policy chain: one sample per prompt per seed from the SFT model (SimPO's decode.py).

    python on_policy_data_gen/decode.py --model meta-llama/Meta-Llama-3-8B-Instruct \
        --data HuggingFaceH4/ultrafeedback_binarized --splits train_prefs test_prefs \
        --seeds 13 21 42 79 100 --temperature 0.8 --top_p 0.95 --max_new_tokens 4096 \
        --out outputs/onpolicy/llama3-instruct-v0.2/generations

Prompts: the sorted unique `--prompt_field` values of the splits. Writes <out>/output_<seed>.jsonl
({"prompt", "generated_text"}) and output_<seed>.meta.json per seed. Resumable: rerun the same command after an
interruption; finished seeds are skipped, an unfinished one continues from its last complete chunk.
--backend auto (vLLM if installed and a GPU is visible, else batched HF generate) | hf | vllm.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from prefopt.core.cli import main  # noqa: E402


def parser():
    import argparse

    ap = argparse.ArgumentParser(prog="on_policy_data_gen/decode.py")
    ap.add_argument("--model", required=True, help="the generator (the SFT start): hub id, folder, tiny:<size>/<task>")
    ap.add_argument("--data", default="HuggingFaceH4/ultrafeedback_binarized", help="where the prompts are")
    ap.add_argument("--splits", nargs="+", default=["train_prefs"], help="splits whose prompts are decoded")
    ap.add_argument("--prompt_field", default="prompt")
    ap.add_argument("--limit", type=int, default=None, help="only the first N prompts of the sorted list")
    ap.add_argument("--seeds", type=int, nargs="+", default=[13, 21, 42, 79, 100])
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--top_p", type=float, default=0.95)
    ap.add_argument("--top_k", type=int, default=0, help="0 = off")
    ap.add_argument("--max_new_tokens", type=int, default=4096)
    ap.add_argument("--backend", default="auto", choices=["auto", "hf", "vllm"])
    ap.add_argument("--batch_size", type=int, default=64, help="HF generate batch size")
    ap.add_argument("--chunk_size", type=int, default=512, help="prompts written (and resumed) per chunk")
    ap.add_argument("--torch_dtype", default="auto", help="auto = bfloat16 on a GPU, float32 on CPU")
    ap.add_argument("--out", required=True, help="folder of the seed files")
    ap.add_argument("--no_progress", action="store_true")
    return ap


def run(argv):
    from prefopt.core.cli import configure_logging
    from prefopt.onpolicy.decode import Sampling, decode_seeds, load_prompts, resolve_backend

    a = parser().parse_args(argv)
    configure_logging()
    if a.backend == "vllm":
        resolve_backend(a.backend)  # fail fast without vllm, before reading any data
    sampling = Sampling(temperature=a.temperature, top_p=a.top_p, top_k=a.top_k, max_new_tokens=a.max_new_tokens)
    prompts = load_prompts(a.data, a.splits, a.prompt_field, a.limit)
    source = {"data": a.data, "splits": a.splits, "prompt_field": a.prompt_field, "limit": a.limit}
    status = decode_seeds(a.model, prompts, a.seeds, a.out, sampling, chunk_size=a.chunk_size,
                          batch_size=a.batch_size, backend=a.backend, torch_dtype=a.torch_dtype, source=source,
                          progress=not a.no_progress)
    print(f"{len(prompts)} prompts x {len(a.seeds)} seeds in {a.out}: "
          + ", ".join(f"seed {s} {v}" for s, v in status.items()))


if __name__ == "__main__":
    sys.exit(main(run, __doc__, lambda: parser().format_help()))
