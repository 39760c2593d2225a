"""`make eval-rm-robustness`: AMaPO's ranking accuracy of a policy's implicit reward under distribution shift.

    python eval/rm_robustness/run.py --model outputs/mistral-base/amapo --data /data/rm-robustness
    make eval-rm-robustness MODEL=outputs/mistral-base/amapo [REF=<reference>] [DATA=<folder>] [PAIRING=best-worst]

Protocol (AMaPO's eval/README.md and scripts/amapo_trainer.py): the policy ranks the two responses of a pair by
its average response log-prob s(y) = log pi(y|x) / |y| (`length_norm: true`), and the metric is the trainer's
`rewards/accuracies` = % of pairs with beta*s(chosen) > beta*s(rejected) (strictly: a tie is wrong; beta > 0
cannot change an order, so it is not an argument). It is measured on the four validation sets of Hong et al.
(ICML 2025), built from UltraFeedback, after training on their `rm-robustness/ultrafeedback-train`:

    metric                   hub set (split "train", their only split)
    id_accuracy              rm-robustness/ultrafeedback-valid-1-in-domain      in-distribution
    prompt_ood_accuracy      rm-robustness/ultrafeedback-valid-2-prompt-ood     unseen prompts
    response_ood_accuracy    rm-robustness/ultrafeedback-valid-3-response-ood   responses of unseen models
    mutual_ood_accuracy      rm-robustness/ultrafeedback-valid-4-mutual-ood     both

AMaPO reports response_ood_accuracy (Mistral-Base) and mutual_ood_accuracy (Mistral-Instruct).
With REF, `dpo_<setting>_accuracy` adds DPO's implicit reward, the summed log-ratio against the reference
(the reference's log-probs through prefopt.modeling.refcache's cache), as in `make eval-pref-accuracy`.

Data: each set is read from DATA/<name> (a file .jsonl/.json/.parquet or a folder: a hub snapshot or a
save_to_disk folder, <name> = the hub name without `rm-robustness/`), else from the hub id (offline it stops with
the download command). A row in a chosen/rejected format of prefopt.data (messages, plain strings, hh-rlhf) is a
pair as it is. A row with four scored responses (`instruction`, `response_{1..4}_text`, `all_scores` = the gold
ArmoRM scores: the format of sets 2-4) becomes pairs by PAIRING:
    best-worst  the highest against the lowest gold score (the first of equal scores; a prompt whose four scores
                are equal gives no pair)                                            <- our default
    all-pairs   every two responses with different gold scores, the higher one chosen (up to 6 per prompt)
NOT PUBLISHED: how AMaPO turned the four scored responses of sets 2-4 into chosen/rejected pairs (Hong et al.
themselves score those sets with Kendall's tau), and which prompt sources and models the OOD splits hold out
(that is fixed by the data). best-worst is our choice: the binarization of UltraFeedback-style data the papers
train on (highest vs lowest score, as SimPO's on-policy data); all-pairs is the pairwise reading of Hong et al.'s
rank correlation.

Tokenization (max_length, max_prompt_length, truncation_mode, role_header_in_response, chat_template) defaults to
the policy's training config (manifest.json), else AMaPO's: 2048 / 1800 / keep_end, role header in the response
(the handbook's data processing AMaPO's run_AMaPO.py uses). Reuses prefopt.evaluation.preference_accuracy
(tokenization, the trainer's forward, the reference cache). Writes <out>/rm-robustness.json (results/README.md).
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

import torch

from prefopt.core.errors import InputError
from prefopt.data import load_rows, to_pairs
from prefopt.data.files import SUFFIXES

from .preference_accuracy import (
    add_scoring_options,
    fill_tokenization,
    load_scorer,
    margin_accuracy,
    policy_parser,
    reference_logps,
    summed_logps,
    tokenize_for,
    training_config,
)
from .report import result_path, source_files, write_result

BENCHMARK = "rm-robustness"
SETS = {
    "id": "rm-robustness/ultrafeedback-valid-1-in-domain",
    "prompt_ood": "rm-robustness/ultrafeedback-valid-2-prompt-ood",
    "response_ood": "rm-robustness/ultrafeedback-valid-3-response-ood",
    "mutual_ood": "rm-robustness/ultrafeedback-valid-4-mutual-ood",
}
PAIRINGS = ("best-worst", "all-pairs")
DEFAULT_PAIRING = "best-worst"
# AMaPO's training configs (max_length 2048, max_prompt_length 1800) and its trainer's defaults.
DEFAULT_TOKENIZATION = {"max_length": 2048, "max_prompt_length": 1800, "truncation_mode": "keep_end",
                        "role_header_in_response": True, "chat_template": None}
SCORED_FIELDS = ("instruction", "all_scores")


# --- data ----------------------------------------------------------------------------------------------------

def set_source(hub_id: str, data: str | Path | None) -> str:
    """DATA/<name> (file or folder) for hub set `hub_id`, or the hub id itself when no DATA is given."""
    if data is None:
        return hub_id
    name = hub_id.split("/", 1)[1]
    for candidate in [Path(data) / name, *(Path(data) / f"{name}{s}" for s in SUFFIXES)]:
        if candidate.exists():
            return str(candidate)
    raise InputError(f"no copy of {hub_id} in {data}", where="DATA",
                     fix=f"put it there as {name}/ (hf download --repo-type dataset {hub_id} --local-dir "
                     f"{Path(data) / name}) or {name}.jsonl, or choose SETTINGS without it")


def responses_of(row: dict, where: str) -> tuple[list[str], list[float]]:
    """The scored responses of a row of sets 2-4: (response_k_text for k = 1.., all_scores)."""
    texts = []
    while f"response_{len(texts) + 1}_text" in row:
        texts.append(row[f"response_{len(texts) + 1}_text"])
    scores = row.get("all_scores")
    if not isinstance(row.get("instruction"), str) or len(texts) < 2 or not isinstance(scores, list):
        raise InputError("a scored row needs instruction (string), response_1_text, response_2_text, ... and "
                         "all_scores (list)", where=where, fix="use the rm-robustness validation sets' columns")
    if len(scores) != len(texts) or not all(isinstance(s, int | float) for s in scores):
        raise InputError(f"all_scores has {len(scores)} entries for {len(texts)} responses (or a non-number)",
                         where=where, fix="one gold score per response_k_text")
    if not all(isinstance(t, str) for t in texts):
        raise InputError("a response_k_text is not a string", where=where)
    return texts, [float(s) for s in scores]


def scored_pairs(rows: list[dict], pairing: str, source: str) -> tuple[list[dict], int]:
    """Rows with scored responses -> plain {prompt, chosen, rejected} pairs by `pairing`; also the number of
    prompts that gave no pair (every score equal)."""
    if pairing not in PAIRINGS:
        raise InputError(f"pairing {pairing!r} is unknown", where="PAIRING", fix=f"one of {PAIRINGS}")
    pairs, no_pair = [], 0
    for i, row in enumerate(rows):
        texts, scores = responses_of(row, f"{source}:row {i + 1}")
        if pairing == "best-worst":
            hi, lo = scores.index(max(scores)), scores.index(min(scores))
            ranked = [(hi, lo)] if scores[hi] > scores[lo] else []
        else:
            ranked = [(a, b) if scores[a] > scores[b] else (b, a)
                      for a in range(len(texts)) for b in range(a + 1, len(texts)) if scores[a] != scores[b]]
        no_pair += not ranked
        pairs += [{"prompt": row["instruction"], "chosen": texts[win], "rejected": texts[lose]} for win, lose in ranked]
    return pairs, no_pair


def load_set(hub_id: str, args) -> tuple[list, dict]:
    """(PreferencePairs, what loading did) of one validation set, its first `limit` rows."""
    source = set_source(hub_id, args.data)
    rows = load_rows(source, args.split)[: args.limit or None]
    info = {"source": source, "rows": len(rows), "format": "pairs", "prompts_without_pair": 0}
    if isinstance(rows[0], dict) and all(k in rows[0] for k in SCORED_FIELDS):
        rows, info["prompts_without_pair"] = scored_pairs(rows, args.pairing, source)
        info.update(format=f"scored responses, paired {args.pairing}")
        if not rows:
            raise InputError("no pair: every prompt's responses have equal gold scores", where=source)
    pairs = to_pairs(rows, source, bad_rows=args.bad_rows)
    info["dropped_rows"] = dict(pairs.dropped)
    return pairs, info


# --- scoring -------------------------------------------------------------------------------------------------

def average_logps(summed, rows, side: str):
    """Summed log-probs / response tokens: AMaPO's length-normalised reward (beta left out: it keeps the order)."""
    lengths = torch.tensor([len(r[f"{side}_ids"]) for r in rows], dtype=summed.dtype)
    return summed / lengths


def evaluate(args) -> dict:
    """{setting: {accuracy figures...}} for every setting of args.settings, each model loaded once."""
    sets = {setting: load_set(SETS[setting], args) for setting in args.settings}  # bad data fails before any model
    policy = load_scorer(args.model, args.torch_dtype)
    loaded = {}

    def reference_pass(rows, tok, desc):  # only on a reference-cache miss: the reference is loaded at most once
        if "ref" not in loaded:
            loaded["ref"] = load_scorer(args.ref, args.torch_dtype)
        return summed_logps(loaded["ref"], rows, tok, args.batch_size, desc)

    out = {}
    for setting, (pairs, info) in sets.items():
        rows, report, tok = tokenize_for(args.model, pairs, args)
        c, r = summed_logps(policy, rows, tok, args.batch_size, f"{setting}: log-probs of {args.model}")
        out[setting] = {**margin_accuracy(average_logps(c, rows, "chosen") - average_logps(r, rows, "rejected")),
                        **info, "tokenization": report.as_dict()}
        if args.ref:
            compute = partial(reference_pass, rows, tok, f"{setting}: log-probs of {args.ref}")
            ref_c, ref_r = reference_logps(args.ref, rows, args, compute)
            out[setting]["dpo"] = margin_accuracy((c - ref_c) - (r - ref_r))
    return out


def parser() -> argparse.ArgumentParser:
    ap = policy_parser("eval/rm_robustness/run.py", __doc__, "a reference: adds DPO's log-ratio accuracies (dpo_*)")
    ap.add_argument("--data", default=None, help="folder with local copies of the four sets (default: the hub)")
    ap.add_argument("--settings", default=",".join(SETS), help=f"comma-separated subset of {list(SETS)}")
    ap.add_argument("--pairing", default=DEFAULT_PAIRING, choices=PAIRINGS,
                    help="scored sets -> pairs (not published; best-worst is our choice)")
    ap.add_argument("--split", default="train", help="the sets' split (the hub sets have only train)")
    ap.add_argument("--cell", default=None, help="the results/cells.yaml cell this evaluates")
    ap.add_argument("--template", default=None, help="recorded only: the policy's own chat template scores")
    ap.add_argument("--out", default=None, help="result file (default results/reproduced/<run>/rm-robustness.json)")
    ap.add_argument("--name", default=None, help="results/reproduced/<name>/ (default: from the model)")
    ap.add_argument("--limit", type=int, default=None, help="the first N rows of each set (smoke tests)")
    ap.add_argument("--bad_rows", default="drop", help="drop (counted) or error")
    add_scoring_options(ap, DEFAULT_TOKENIZATION)
    return ap


def run(argv: list[str]) -> dict:
    args = parser().parse_args(argv)
    args.settings = [s.strip() for s in args.settings.split(",") if s.strip()]
    unknown = [s for s in args.settings if s not in SETS]
    if unknown or not args.settings:
        raise InputError(f"unknown setting(s) {unknown}", where="SETTINGS", fix=f"a comma-separated subset of {list(SETS)}")
    fill_tokenization(args, training_config(args.model), DEFAULT_TOKENIZATION)
    per_setting = evaluate(args)
    metrics = {f"{s}_accuracy": v["accuracy"] for s, v in per_setting.items()}
    metrics.update({f"dpo_{s}_accuracy": v["dpo"]["accuracy"] for s, v in per_setting.items() if "dpo" in v})
    out = Path(args.out) if args.out else result_path(BENCHMARK, args.model, name=args.name)
    payload = write_result(out, benchmark=BENCHMARK, cell=args.cell, metrics=metrics, model=args.model, judge=None,
                           generation=None, template=args.template,
                           data_files=[f for v in per_setting.values() for f in source_files(v["source"])],
                           details={"settings": per_setting, "pairing": args.pairing, "reward": "mean log-prob"},
                           reference=args.ref, config=vars(args))
    return {"out": out, **payload}
