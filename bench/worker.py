#!/usr/bin/env python
"""One bench process (started by bench/preference.py through bench.common.run_worker; prints one JSON line).

    worker.py prepare SPEC   tokenize the data once per (size, max_length), write the rows, fill the reference cache
    worker.py run SPEC       build one contender, run warm-up + timed steps, report times, first loss and memory

SPEC is a JSON object (see bench/preference.py `_spec`). A step is: collate the next `pairs` rows, the
trainer's own `training_step` (forward, loss, backward), optimizer step, zero grads; it is timed whole.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import StepTimer, current_rss_mb, log, memory_now_mb, peak_memory_mb  # noqa: E402


def rows_path(workdir: str, tag: str, length: int) -> Path:
    return Path(workdir) / f"rows-{tag}-{length}.json"


def _tag(spec: dict) -> str:
    """What names a row file: the tiny size, or the miniature folder (bench/miniature.py) when there is one."""
    return Path(spec["model_dir"]).name if spec.get("model_dir") else spec["size"]


def prepare(spec: dict) -> dict:
    """Rows for every length of one model, and the DPO reference cache for each row file (one per logprob_impl in
    spec["impls"]: the cache is keyed on it). spec["miniature"] (dims) builds the model folder spec["model_dir"]."""
    from bench.contenders import Setup, ours_config  # noqa: PLC0415
    from prefopt.data import load_pairs, tokenize_pairs  # noqa: PLC0415
    from prefopt.modeling.loading import load_tokenizer  # noqa: PLC0415
    from prefopt.training.preference import attach_reference_logps

    if spec.get("miniature"):
        from bench.miniature import build  # noqa: PLC0415

        built = build(Path(spec["model_dir"]).parent, spec["miniature"], spec["vocab"], spec["size"])
        assert str(built) == spec["model_dir"], (built, spec["model_dir"])
    pairs = None if spec.get("synthetic") else load_pairs(spec["data"], "train", bad_rows="drop")[: spec["n_pairs"]]
    report = {}
    for length in spec["lengths"]:
        setup = Setup(spec["size"], [], spec["hp"], 1, spec["device"], spec["dtype"], spec["cache_dir"],
                      model_dir=spec.get("model_dir"))
        tok = load_tokenizer(ours_config(setup, "dpo")[0])
        if pairs is None:
            rows = synthetic_rows(spec["n_pairs"], length, spec["prompt_fraction"], len(tok), spec["hp"]["seed"])
            report[length] = {"rows": len(rows), "synthetic": True}
        else:
            rows, tr = tokenize_pairs(pairs, tok, max_length=length,
                                      max_prompt_length=int(length * spec["prompt_fraction"]))
            log(f"prepare {_tag(spec)} max_length {length}: {tr.summary()}")
            rows = [{k: r[k] for k in ("prompt_ids", "chosen_ids", "rejected_ids")} for r in rows]
            report[length] = {"rows": len(rows), "response_truncated": tr.response_truncated}
        rows_path(spec["workdir"], _tag(spec), length).write_text(json.dumps(rows))
        for impl in spec.get("impls") or [None]:
            model_args, _, args = ours_config(setup, "dpo", **({"logprob_impl": impl} if impl else {}))
            attach_reference_logps(rows, model_args, args, tok)  # computes once; every later run reads the file
    return report


def synthetic_rows(n: int, length: int, prompt_fraction: float, vocab: int, seed: int) -> list[dict]:
    """Random-token pairs filling `length` (for machines without the shared data, e.g. bench/gpu.py): the prompt
    takes prompt_fraction of it, the chosen response the rest, the rejected one 75-100% of the rest (padding)."""
    import random  # noqa: PLC0415

    rng = random.Random(seed)
    p = int(length * prompt_fraction)

    def ids(k):
        return [rng.randrange(8, vocab) for _ in range(k)]  # above the tiny tokenizers' special tokens

    return [{"prompt_ids": ids(p), "chosen_ids": ids(length - p),
             "rejected_ids": ids(rng.randint(3 * (length - p) // 4, length - p))} for _ in range(n)]


def _tokens(rows: list[dict]) -> tuple[int, int]:
    """(real tokens, padded slots) of one concatenated 2B batch of these rows."""
    lengths = [len(r["prompt_ids"]) + len(r[k]) for k in ("chosen_ids", "rejected_ids") for r in rows]
    return sum(lengths), max(lengths) * len(lengths)


def run(spec: dict) -> dict:
    """One contender (and lever variant) at every (pairs, max_length) point of spec["points"], in this process.

    Peak memory is the process's, so it belongs to the largest point; the comparison runs one point per process.
    """
    import torch  # noqa: PLC0415

    from bench import levers  # noqa: PLC0415
    from bench.contenders import CONTENDERS, Setup  # noqa: PLC0415

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(spec["hp"]["seed"])
    name, variant = spec["contender"], spec.get("variant", "kept")
    first_pairs, first_length = spec["points"][0]
    overrides = levers.apply(variant, first_pairs)
    setup = Setup(spec["size"], _rows(spec, first_length), spec["hp"], first_pairs, spec["device"], spec["dtype"],
                  spec["cache_dir"], overrides, model_dir=spec.get("model_dir"))
    if spec.get("cap_mb"):
        watch_rss(spec["cap_mb"], {"contender": name, "variant": variant, "size": _tag(spec)})
    contender = CONTENDERS[name](setup)
    optimizer = contender.trainer.create_optimizer()
    contender.trainer.current_gradient_accumulation_steps = 1  # set by Trainer.train(), which the bench bypasses
    model = torch.compile(contender.trainer.model) if variant == "compile" else contender.trainer.model
    rss_ready = memory_now_mb(spec["device"])
    points = [_measure(spec, contender, model, optimizer, pairs, length) for pairs, length in spec["points"]]
    peak, memory_kind = peak_memory_mb(spec["device"])
    return {"contender": name, "variant": variant, "size": spec["size"], "threads": torch.get_num_threads(),
            "device": spec["device"], "dtype": spec["dtype"], "n_params": points[0]["n_params"],
            "reference_model_in_memory": getattr(contender.trainer, "ref_model", None) is not None,
            "rss_after_setup_mb": rss_ready, "peak_mb": peak, "memory_kind": memory_kind, "points": points}


def _rows(spec: dict, length: int) -> list[dict]:
    return json.loads(rows_path(spec["workdir"], _tag(spec), length).read_text())


def watch_rss(cap_mb: float, about: dict, every_s: float = 0.02) -> None:
    """Stop this process once its RSS passes cap_mb, reporting {"over_cap": true, ...} as its JSON result: a
    contender that cannot fit under the cap is a result ("did not fit"), and the shared machine is never swapped
    out. A thread polls /proc every 20 ms; torch kernels release the GIL, so it runs during long ops."""
    import os  # noqa: PLC0415
    import threading  # noqa: PLC0415
    import time  # noqa: PLC0415

    def poll():
        while True:
            rss = current_rss_mb()
            if rss > cap_mb:
                print(json.dumps({**about, "over_cap": True, "cap_mb": cap_mb, "rss_at_stop_mb": rss}), flush=True)
                log(f"  {about['contender']}: RSS {rss:,.0f} MB passed the cap of {cap_mb:,.0f} MB: stopped")
                os._exit(0)
            time.sleep(every_s)

    threading.Thread(target=poll, daemon=True, name="rss-cap").start()


def _measure(spec, contender, model, optimizer, pairs: int, length: int) -> dict:
    from bench.flops import train_flops_per_token  # noqa: PLC0415

    trainer = contender.trainer
    ours_rows = _rows(spec, length)
    n_steps = spec["warmup_steps"] + spec["steps"]
    if len(ours_rows) < n_steps * pairs:
        raise ValueError(f"{len(ours_rows)} rows prepared, {n_steps * pairs} needed")
    rows = contender.convert(ours_rows)  # the whole file: the reference cache is keyed on exactly these rows
    timer, losses, tokens, slots = StepTimer(spec["device"]), [], [], []
    for step in range(n_steps):
        chunk = slice(step * pairs, (step + 1) * pairs)
        with timer:
            loss = trainer.training_step(model, contender.collate(rows[chunk]))
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss))
        real, padded = _tokens(ours_rows[chunk])
        tokens.append(real)
        slots.append(padded)
        log(f"  {spec['contender']}/{spec.get('variant', 'kept')} {spec['size']} B={pairs} T={length}: "
            f"step {step + 1}/{n_steps} {timer.times[-1]:.2f}s loss {losses[-1]:.4f}")
    timed = slice(spec["warmup_steps"], None)
    seconds = sum(timer.times[timed])
    n_params = sum(p.numel() for p in trainer.model.parameters())
    reference_forward = getattr(trainer, "ref_model", None) is not None
    flops = sum(tokens[timed]) * train_flops_per_token(trainer.model.config, n_params, length, reference_forward)
    return {"pairs": pairs, "max_length": length, "n_params": n_params, "step_times": timer.times[timed],
            "median_step_s": statistics.median(timer.times[timed]), "pairs_per_s": pairs * spec["steps"] / seconds,
            "tokens_per_s": sum(tokens[timed]) / seconds, "model_flops_per_s": flops / seconds,
            "padding_fraction": 1 - sum(tokens) / sum(slots), "first_step_loss": losses[0], "losses": losses}


def main() -> int:
    from transformers.utils import logging as hf_logging  # noqa: PLC0415

    hf_logging.disable_progress_bar()  # per-load bars: noise between the bench's own progress lines
    mode, spec = sys.argv[1], json.loads(sys.argv[2])
    result = {"prepare": prepare, "run": run}[mode](spec)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
