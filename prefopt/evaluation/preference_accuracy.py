"""`make eval-pref-accuracy`: implicit-reward preference accuracy of a policy against its reference (SamS Table 2).

    python scripts/eval_pref_accuracy.py --model outputs/pythia-2.8b-hh/dpo --data hh
    make eval-pref-accuracy MODEL=outputs/pythia-2.8b-hh/dpo DATA=hh [REF=<reference>] [CELL=...] [OUT=<folder>]

accuracy = % of test pairs with r(chosen) > r(rejected), where r(y) = log pi(y|x) - log pi_ref(y|x) summed over the
response tokens. DPO's beta > 0 scales both sides, so it cannot change the order and is not an argument.
Tie rule: a tie counts as WRONG (the strict > of eric-mitchell/direct-preference-optimization's
`rewards/accuracies`, which SamS reports, and of prefopt's trainer log): a policy equal to its reference has every
margin exactly 0 and scores 0%, not 50%. The number of ties is written next to the metric.

--data: `hh` (Anthropic/hh-rlhf, split test: 8,552 pairs), `shp` (stanfordnlp/SHP, split test, converted by
`shp_pairs` as eric-mitchell's loader does), or any file/folder `prefopt.data.load_pairs` reads.
--ref: default the policy's starting model (`model_name_or_path` in its manifest.json), i.e. the SFT model.
Tokenization (max_length, max_prompt_length, truncation_mode, role_header_in_response, chat_template) defaults to
the policy's training config (its manifest.json), else eric-mitchell's 512 / 256 / keep_end.

Everything goes through the training code path: `prefopt.data.load_pairs` + `tokenize_pairs`, `PairCollator`,
`prefopt.modeling.refcache.compute_logps` (= `prefopt.modeling.logprobs.pair_forward`, the trainer's forward), and the reference's
log-probs through `prefopt.modeling.refcache.ReferenceCache` (computed once per reference and test set).
Writes <out_dir>/<benchmark>.json in the format of results/README.md, with a manifest.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

from prefopt.config import ModelArguments
from prefopt.core.errors import InputError
from prefopt.core.manifest import build_manifest, write_json
from prefopt.core.paths import REPO_ROOT
from prefopt.data import PairCollator, load_pairs, load_rows, to_pairs, tokenize_pairs
from prefopt.modeling.loading import load_model, load_tokenizer, local_folder
from prefopt.modeling.refcache import ReferenceCache, compute_logps, weights_fingerprint

from .report import run_name

HUB_SETS = {"hh": "Anthropic/hh-rlhf", "shp": "stanfordnlp/SHP"}
# eric-mitchell/direct-preference-optimization's defaults (the codebase SamS builds on)
DEFAULT_TOKENIZATION = {"max_length": 512, "max_prompt_length": 256, "truncation_mode": "keep_end",
                        "role_header_in_response": False, "chat_template": None}


def shp_pairs(rows: list[dict], min_score_ratio: float) -> list[dict]:
    """stanfordnlp/SHP rows -> plain {prompt, chosen, rejected}, as eric-mitchell's `get_shp`: the prompt is
    '\\n\\nHuman: <history>\\n\\nAssistant:' (an hh-rlhf prefix, so prefopt.data parses it into turns), labels == 1
    means human_ref_A is preferred, and pairs whose score ratio is below `min_score_ratio` are dropped (2 there)."""
    out = []
    for r in rows:
        a, b = r["score_A"], r["score_B"]
        if min(a, b) <= 0 or max(a / b, b / a) < min_score_ratio:
            continue
        win, lose = ("human_ref_A", "human_ref_B") if r["labels"] == 1 else ("human_ref_B", "human_ref_A")
        out.append({"prompt": f"\n\nHuman: {r['history']}\n\nAssistant:", "chosen": r[win], "rejected": r[lose]})
    return out


def load_test_pairs(data: str, split: str, min_score_ratio: float, bad_rows: str):
    """(pairs, source, benchmark name) for --data; rows prefopt.data cannot use are handled per `bad_rows`
    (drop: counted in the written tokenization report)."""
    if data == "shp":
        source = HUB_SETS["shp"]
        return to_pairs(shp_pairs(load_rows(source, split), min_score_ratio), source, bad_rows=bad_rows), source, "shp"
    source = HUB_SETS.get(data, data)
    name = data if data in HUB_SETS else Path(data).name.split(".")[0]
    return load_pairs(source, split=split, bad_rows=bad_rows), source, name


def training_config(model: str) -> dict:
    """The policy's training config from its manifest.json ({} for a model prefopt did not train)."""
    path = Path(model) / "manifest.json"
    return (json.loads(path.read_text()).get("config") or {}) if path.exists() else {}


def tokenize_for(policy: str, pairs, args):
    """(rows, report, tokenizer): `pairs` tokenized with the policy's tokenizer and the tokenization options of args."""
    tokenizer = load_tokenizer(ModelArguments(model_name_or_path=policy, chat_template=args.chat_template))
    rows, report = tokenize_pairs(pairs, tokenizer, max_length=args.max_length,
                                  max_prompt_length=args.max_prompt_length, truncation_mode=args.truncation_mode,
                                  role_header_in_response=args.role_header_in_response, progress=len(pairs) > 2000)
    return rows, report, tokenizer


def load_scorer(name: str, torch_dtype: str):
    """A model that scores responses, on the GPU when there is one."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return load_model(name, ModelArguments(model_name_or_path=name, torch_dtype=torch_dtype)).to(device)


def summed_logps(model, rows, tokenizer, batch_size: int, desc: str):
    """(chosen, rejected) summed response log-probs through the trainer's forward (prefopt.modeling.refcache)."""
    return compute_logps(model, rows, PairCollator(pad_token_id=tokenizer.pad_token_id), batch_size=batch_size,
                         desc=desc)


def reference_logps(ref: str, rows, args, compute):
    """The reference's (chosen, rejected) log-probs from the cache, computed by `compute()` on a miss."""
    settings = {"dtype": args.torch_dtype, "attn": None, "chunk": 0, "dropout_disabled": True}
    cache = ReferenceCache(weights_fingerprint(local_folder(ref), args.reference_cache_dir), settings,
                           args.reference_cache_dir)
    return cache.get_or_compute(rows, compute)


def margin_accuracy(margins: torch.Tensor) -> dict:
    """% of margins > 0 (ties, margin exactly 0, count as wrong: see the module docstring), with counts."""
    n = margins.numel()
    acc = (margins > 0).float().mean().item()
    return {"accuracy": 100 * acc, "pairs": n, "ties": int((margins == 0).sum()),
            "binomial_se": 100 * math.sqrt(acc * (1 - acc) / n), "margin_mean": margins.mean().item()}


def evaluate(policy: str, ref: str, pairs, args) -> dict:
    """Implicit-reward accuracy of `policy` vs `ref` on `pairs`, tokenized with the policy's tokenizer."""
    rows, report, tokenizer = tokenize_for(policy, pairs, args)

    def logps(name: str):
        return summed_logps(load_scorer(name, args.torch_dtype), rows, tokenizer, args.batch_size,
                            f"log-probs of {name}")

    ref_c, ref_r = reference_logps(ref, rows, args, lambda: logps(ref))
    pol_c, pol_r = logps(policy)
    return {**margin_accuracy((pol_c - ref_c) - (pol_r - ref_r)), "tokenization": report.as_dict()}


def add_scoring_options(ap: argparse.ArgumentParser, tokenization: dict) -> None:
    """Options shared with eval-rm-robustness: batch, dtype, reference cache, and the tokenization keys (default:
    the policy's training config, else `tokenization`)."""
    ap.add_argument("--batch_size", type=int, default=8)
    ap.add_argument("--torch_dtype", default="float32")
    ap.add_argument("--reference_cache_dir", default=None, help="default .cache/refcache")
    for key, value in tokenization.items():
        kind = (lambda s: s.lower() == "true") if isinstance(value, bool) else type(value) if value is not None else str
        ap.add_argument(f"--{key}", type=kind, default=None, help=f"default: the policy's training config, else {value}")


def fill_tokenization(args, trained: dict, tokenization: dict) -> None:
    """Explicit flag > the policy's training config > `tokenization`'s default, in place."""
    for key, value in tokenization.items():
        if getattr(args, key) is None:
            setattr(args, key, trained.get(key, value))


def policy_parser(prog: str, description: str, ref_help: str) -> argparse.ArgumentParser:
    """The command line of a script that scores a policy's implicit reward: --model and --ref to start with."""
    ap = argparse.ArgumentParser(prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="the policy (a local folder or hub id)")
    ap.add_argument("--ref", default=None, help=ref_help)
    return ap


def parser() -> argparse.ArgumentParser:
    ap = policy_parser("scripts/eval_pref_accuracy.py", __doc__,
                       "the reference; default: the policy's model_name_or_path (manifest)")
    ap.add_argument("--data", required=True, help="hh | shp | a file or folder of pairs")
    ap.add_argument("--split", default="test")
    ap.add_argument("--name", default=None, help="benchmark id of the output file (default: hh, shp or the file's "
                    "name; name a local copy of the HH test set `hh` for make verify)")
    ap.add_argument("--cell", default=None, help="the results/cells.yaml cell this evaluates (null: none)")
    ap.add_argument("--out_dir", default=None, help="default results/reproduced/<run>")
    ap.add_argument("--limit", type=int, default=None, help="the first N pairs only (smoke tests)")
    ap.add_argument("--min_score_ratio", type=float, default=2.0, help="shp: drop pairs below this score ratio")
    ap.add_argument("--bad_rows", default="drop", help="drop (counted in the report) or error")
    add_scoring_options(ap, DEFAULT_TOKENIZATION)
    return ap


def run(argv: list[str]) -> dict:
    args = parser().parse_args(argv)
    trained = training_config(args.model)
    fill_tokenization(args, trained, DEFAULT_TOKENIZATION)
    ref = args.ref or trained.get("reference_model_name_or_path") or trained.get("model_name_or_path")
    if not ref:
        raise InputError("no reference model: the policy has no manifest.json naming its starting model",
                         where=args.model, fix="pass --ref (make: REF=<reference>)")
    pairs, source, name = load_test_pairs(args.data, args.split, args.min_score_ratio, args.bad_rows)
    if args.limit:
        pairs = pairs[: args.limit]
    name = args.name or name
    result = evaluate(args.model, ref, pairs, args)
    out = Path(args.out_dir or REPO_ROOT / "results" / "reproduced" / run_name(args.model)) / f"{name}.json"
    metrics = {"accuracy": result.pop("accuracy")}
    write_json(out, {"cell": args.cell, "benchmark": name, "metrics": metrics, **result,
                     "manifest": build_manifest("pref-accuracy", config=vars(args), model=args.model, reference=ref,
                                                data=source, split=args.split)})
    print(f"wrote {out}: accuracy {metrics['accuracy']:.2f}% on {result['pairs']} pairs ({result['ties']} ties)")
    return {"out": out, **metrics, **result}
