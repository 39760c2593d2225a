#!/usr/bin/env python
"""The log-prob kernel alone: full logits vs the chunked custom function vs per-chunk checkpointing.

    .venv/bin/python bench/logprob_kernels.py [--vocabs 32000 128256 256000] [--positions 2048] [--hidden 256]
                                              [--chunks 64 128 256 512 1024] [--repeats 2] [--out bench]

One (positions, hidden) block of final hidden states, half of its positions response tokens (the bench's prompt
fraction), a random (V, hidden) head. Each variant runs forward + backward of the summed response log-probs
(gradients into the hidden states and the head), in its own process (peak memory is per process):
  full             the head over EVERY position, (positions, V) logits, logprobs.token_logps (the full path)
  function/<c>     prefopt.modeling.fused_logprobs.ResponseTokenLogps over the response positions, chunks of c
  checkpoint/<c>   token_logps_checkpointed: the same maths, autograd backward, one checkpoint per chunk
Reports the median seconds of `repeats` timed runs (after one warm-up), the peak RSS above the RSS after setup,
and, at chunk 256, the largest log-prob / gradient difference to `full`. Writes <out>/logprob_kernels.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import current_rss_mb, log, peak_memory_mb, run_worker  # noqa: E402

HERE = Path(__file__).resolve().parent


def _inputs(spec: dict):
    import torch  # noqa: PLC0415

    g = torch.Generator().manual_seed(0)
    n, h, v = spec["positions"], spec["hidden"], spec["vocab"]
    hidden = (torch.randn(n, h, generator=g)).requires_grad_()
    weight = (torch.randn(v, h, generator=g) * h ** -0.5).requires_grad_()
    labels = torch.randint(0, v, (n,), generator=g)
    response = torch.zeros(n, dtype=torch.bool)
    response[n // 2:] = True  # the prompt half is scored by `full` only (it cannot skip it)
    return hidden, weight, labels, response


def _step(spec: dict, hidden, weight, labels, response):
    """One forward + backward; returns (per response token log-probs, grad of hidden, grad of weight)."""

    from prefopt.modeling import fused_logprobs as fl  # noqa: PLC0415
    from prefopt.modeling.logprobs import logsumexp_rows  # noqa: PLC0415

    hidden.grad = weight.grad = None
    kind, _, chunk = spec["variant"].partition("/")
    if kind == "full":  # prefopt.modeling.logprobs.token_logps' formula, on (positions, V) logits of every position
        logits = hidden @ weight.t()
        per_token = logits.gather(1, labels.unsqueeze(1)).squeeze(1).float() - logsumexp_rows(logits.unsqueeze(0))[0]
        token = per_token[response]
        del logits
    else:
        fn = fl.ResponseTokenLogps.apply if kind == "function" else fl.token_logps_checkpointed
        token = fn(hidden[response], weight, None, labels[response], int(chunk), None)
    token.sum().backward()
    return token.detach(), hidden.grad, weight.grad


def worker(spec: dict) -> dict:
    import torch  # noqa: PLC0415

    torch.set_num_threads(spec["threads"])
    tensors = _inputs(spec)
    rss = current_rss_mb()
    times = []
    for _ in range(1 + spec["repeats"]):
        t0 = time.perf_counter()
        token, gh, gw = _step(spec, *tensors)
        times.append(time.perf_counter() - t0)
    peak, _ = peak_memory_mb("cpu")
    out = {"variant": spec["variant"], "vocab": spec["vocab"], "seconds": statistics.median(times[1:]),
           "times": times, "peak_above_setup_mb": peak - rss}
    if spec.get("compare"):  # the same step through `full`, after the peak was read
        ref = _step({**spec, "variant": "full"}, *tensors)
        out["max_diff"] = {k: (a - b).abs().max().item() for k, a, b in zip(("logps", "grad_hidden", "grad_weight"),
                                                                              (token, gh, gw), ref)}
    return out


def markdown(results: dict) -> str:
    cfg = results["config"]
    lines = ["# Log-prob kernel: full logits vs chunked (custom function / checkpointing)", "",
             f"{cfg['positions']} positions ({cfg['positions'] // 2} response), hidden {cfg['hidden']}, float32, "
             f"{cfg['threads']} thread(s), CPU; forward + backward of the summed response log-probs; median of "
             f"{cfg['repeats']} runs after a warm-up, each variant in its own process.", "",
             "| V | variant | seconds | vs full | peak above setup MB | vs full | max logp diff | max grad diff |",
             "|---|---|---|---|---|---|---|---|"]
    for v, rows in results["vocabs"].items():
        full = rows["full"]
        for name, r in rows.items():
            d = r.get("max_diff", {})
            grad = max(d.get("grad_hidden", 0.0), d.get("grad_weight", 0.0)) if d else None
            lines.append(f"| {int(v):,} | {name} | {r['seconds']:.2f} | {r['seconds'] / full['seconds']:.2f} | "
                         f"{r['peak_above_setup_mb']:,.0f} | {r['peak_above_setup_mb'] / full['peak_above_setup_mb']:.2f} | "
                         f"{d.get('logps', 0.0):.1e} | {grad if grad is None else f'{grad:.1e}'} |")
    return "\n".join(lines) + f"\n\nWall time: {results['wall_s']:.0f} s.\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--vocabs", type=int, nargs="+", default=[32000, 128256, 256000])
    ap.add_argument("--positions", type=int, default=2048)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--chunks", type=int, nargs="+", default=[64, 128, 256, 512, 1024])
    ap.add_argument("--checkpoint-chunks", type=int, nargs="+", default=[256])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=HERE)
    a = ap.parse_args(argv)
    if a.worker:
        print(json.dumps(worker(json.loads(a.worker))))
        return 0
    t0 = time.time()
    cfg = {k: getattr(a, k) for k in ("positions", "hidden", "repeats", "threads")}
    variants = ["full"] + [f"function/{c}" for c in a.chunks] + [f"checkpoint/{c}" for c in a.checkpoint_chunks]
    results = {"config": {**cfg, "vocabs": a.vocabs, "variants": variants}, "vocabs": {}}
    for v in a.vocabs:
        for name in variants:
            log(f"V={v:,} {name}")
            spec = {**cfg, "vocab": v, "variant": name, "compare": name.endswith("/256")}
            results["vocabs"].setdefault(str(v), {})[name] = run_worker(__file__, ["--worker", json.dumps(spec)])
    results["wall_s"] = time.time() - t0
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "logprob_kernels.json").write_text(json.dumps(results, indent=2) + "\n")
    md = markdown(results)
    (a.out / "logprob_kernels.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
