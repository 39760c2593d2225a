"""Step 4: scored responses -> preference pairs in a datasets folder (the binarizing half of SimPO's annotate).

Per prompt: chosen = the highest-scored response, rejected = the lowest (first occurrence on equal scores, as
numpy's argmax/argmin). Where the highest score equals the lowest there is no preference: the prompt is dropped
and counted as a tie (SimPO keeps such rows; see the handbook 1.9 quirks).

Split (SimPO published train/test; the maintainer: their split followed UltraFeedback's prompt split):
  test_prompts   prompts of the test split, e.g. the `prompt` column of ultrafeedback_binarized test_prefs
                 (decode those prompts too: --splits train_prefs test_prefs); every other pair is train
  test_fraction  else this share of the prompts, drawn with `split_seed`; 0 gives a train split only

Rows (the columns of princeton-nlp/llama3-ultrafeedback-armorm): prompt_id (sha256 of the prompt, as
UltraFeedback), prompt, all_generated_responses, all_rm_scores, chosen and rejected as [user, assistant]
message lists, score_chosen, score_rejected. `save_dataset` writes DatasetDict.save_to_disk + README.md (a card
naming models, seeds, sampling settings and counts) + onpolicy_manifest.json; the folder is a `dataset:` that
scripts/run_po.py reads (train_split train, eval_split test).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import shutil
from pathlib import Path

import datasets

from prefopt.core.errors import InputError
from prefopt.core.manifest import build_manifest, write_json

from .common import field, string_list
from .decode import load_prompts

MANIFEST = "onpolicy_manifest.json"


def binarize_rows(rows: list[dict], *, test_prompts=None, test_fraction: float = 0.0, split_seed: int = 0,
                  label: str = "binarize") -> tuple[dict[str, list[dict]], dict]:
    """({"train": [...], "test": [...]}, stats); see the module docstring."""
    if not 0.0 <= test_fraction < 1.0:
        raise InputError(f"test_fraction must be in [0, 1), got {test_fraction}")
    fix = "the rows come from annotate.py ({\"prompt\", \"all_generated_responses\", \"all_rm_scores\"}): run it first"
    pairs, n_ties = [], 0
    for i, row in enumerate(rows, 1):
        where = f"{label}:row {i}"
        prompt = field(row, "prompt", str, where, fix)
        responses = string_list(row, "all_generated_responses", where, fix)
        scores = field(row, "all_rm_scores", list, where, fix)
        if len(scores) != len(responses):
            raise InputError(f"{len(scores)} scores for {len(responses)} responses", where=where,
                             fix="give one score per response (run annotate.py again)")
        for k, s in enumerate(scores):
            if not isinstance(s, int | float) or isinstance(s, bool) or not math.isfinite(s):
                raise InputError(f"field 'all_rm_scores'[{k}] is {s!r}, not a finite number", where=where, fix=fix)
        best = max(range(len(scores)), key=lambda k: (scores[k], -k))
        worst = min(range(len(scores)), key=lambda k: (scores[k], k))
        if scores[best] == scores[worst]:
            n_ties += 1
            continue
        user = {"role": "user", "content": prompt}
        pairs.append({
            "prompt_id": hashlib.sha256(prompt.encode("utf-8")).hexdigest(),
            "prompt": prompt,
            "all_generated_responses": list(responses),
            "all_rm_scores": [float(s) for s in scores],
            "chosen": [user, {"role": "assistant", "content": responses[best]}],
            "rejected": [user, {"role": "assistant", "content": responses[worst]}],
            "score_chosen": float(scores[best]),
            "score_rejected": float(scores[worst]),
        })
    if not pairs:
        raise InputError(f"no pairs: all {len(rows)} prompts are ties (best score = worst score)", where=label,
                         fix="sample more seeds, or use a reward model that separates the responses")
    if test_prompts is not None:
        test_set = set(test_prompts)
        is_test = [p["prompt"] in test_set for p in pairs]
        if not any(is_test):
            raise InputError(f"none of the {len(test_set)} test prompts is among the {len(pairs)} pairs",
                             where=label, fix="decode the test prompts too (e.g. --splits train_prefs test_prefs), "
                             "or split with --test_fraction")
        rule = {"by": "test_prompts", "n_test_prompts_given": len(test_set)}
    else:
        n_test = round(len(pairs) * test_fraction) if test_fraction else 0
        if test_fraction and n_test == 0:
            n_test = 1
        if n_test >= len(pairs):
            raise InputError(f"test_fraction {test_fraction} leaves no training pair of {len(pairs)}", where=label,
                             fix="lower --test_fraction")
        order = sorted(range(len(pairs)), key=lambda k: pairs[k]["prompt"])
        random.Random(split_seed).shuffle(order)
        test_idx = set(order[:n_test])
        is_test = [k in test_idx for k in range(len(pairs))]
        rule = {"by": "test_fraction", "test_fraction": test_fraction, "split_seed": split_seed}
    splits = {"train": [p for p, t in zip(pairs, is_test) if not t], "test": [p for p, t in zip(pairs, is_test) if t]}
    if not splits["test"]:
        del splits["test"]
    if not splits.get("train"):
        raise InputError("every pair is in the test split: no training pairs", where=label,
                         fix="check the test prompts (they should be a minority of the prompts)")
    stats = {"n_prompts": len(rows), "n_pairs": len(pairs), "n_ties_dropped": n_ties,
             "n_train": len(splits["train"]), "n_test": len(splits.get("test", [])), "split": rule,
             "mean_score_chosen": sum(p["score_chosen"] for p in pairs) / len(pairs),
             "mean_score_rejected": sum(p["score_rejected"] for p in pairs) / len(pairs)}
    return splits, stats


def load_test_prompts(source: str, split: str = "test_prefs", field_name: str = "prompt") -> list[str]:
    """The prompts of the test split: the `prompt` column of `split` of `source` (a dataset), or the lines of a
    .txt file (one prompt per line)."""
    if source.endswith(".txt"):
        path = Path(source)
        if not path.is_file():
            raise InputError("no such file", where=source, fix="pass a file of test prompts, one per line")
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return load_prompts(source, [split], field_name)


# ---------------------------------------------------------------------------------------------- output
def save_dataset(splits: dict[str, list[dict]], out: str | os.PathLike, *, stats: dict, upstream: dict | None,
                 config: dict | None = None) -> Path:
    """DatasetDict.save_to_disk(out) + README.md + onpolicy_manifest.json, written to a temp folder then moved
    into place. An existing `out` is replaced only if it is an earlier on-policy dataset."""
    out = Path(out)
    if out.exists() and not (out / MANIFEST).is_file():
        raise InputError("the folder exists and is not an on-policy dataset (no onpolicy_manifest.json)",
                         where=str(out), fix="choose another --out, or delete the folder")
    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    dd = datasets.DatasetDict({name: datasets.Dataset.from_list(rows) for name, rows in splits.items()})
    dd.save_to_disk(str(tmp))
    recipe = recipe_from(upstream)
    manifest = build_manifest("onpolicy-binarize", config=config, stats=stats, recipe=recipe, upstream=upstream)
    write_json(tmp / MANIFEST, manifest)
    name = f"{out.parent.name}/{out.name}" if out.name == "dataset" else out.name
    (tmp / "README.md").write_text(card(name, stats, recipe), encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return out


def recipe_from(upstream: dict | None) -> dict:
    """Models, seeds, sampling and counts of the earlier steps, from the chain of step manifests."""
    recipe: dict = {}
    ann = upstream or {}
    if ann.get("reward_model"):
        recipe["reward_model"] = ann["reward_model"]
    pp = ann.get("upstream") or {}
    if pp.get("stats"):
        recipe["post_process"] = pp["stats"]
    decode = pp.get("decode") or {}
    if decode:
        settings = [m.get("settings", {}) for m in decode.values()]
        first = settings[0]
        recipe["generator"] = first.get("model")
        recipe["seeds"] = [s.get("seed") for s in settings]
        recipe["sampling"] = first.get("sampling")
        recipe["backend"] = first.get("backend")
        recipe["n_prompts_decoded"] = first.get("n_prompts")
        recipe["prompt_source"] = (next(iter(decode.values())) or {}).get("source")
    return recipe


def card(name: str, stats: dict, recipe: dict) -> str:
    def j(x) -> str:
        return json.dumps(x, ensure_ascii=False)

    split = stats["split"]
    split_text = ("the prompts of the given test split (" + str(split.get("n_test_prompts_given")) + " prompts)"
                  if split["by"] == "test_prompts" else
                  f"{split['test_fraction']} of the pairs, drawn with seed {split['split_seed']}")
    rm = recipe.get("reward_model") or {}
    lines = [
        f"# {name}: on-policy preference pairs",
        "",
        "Made by prefopt's on-policy chain (on_policy_data_gen/: decode -> post_process -> annotate -> binarize), "
        "SimPO's recipe: one sample per prompt per seed from the generator, every response scored by the reward "
        "model, chosen = highest score, rejected = lowest, ties dropped.",
        "",
        "| | |",
        "|---|---|",
        f"| generator | `{recipe.get('generator', 'unknown')}` |",
        f"| prompts | {j(recipe.get('prompt_source'))} ({recipe.get('n_prompts_decoded', '?')} unique, sorted) |",
        f"| seeds | {j(recipe.get('seeds'))} |",
        f"| sampling | {j(recipe.get('sampling'))} (backend {recipe.get('backend', '?')}) |",
        f"| reward model | `{rm.get('model', 'unknown')}` (kind {rm.get('kind', '?')}) |",
        f"| post-process | {j(recipe.get('post_process'))} |",
        f"| prompts scored | {stats['n_prompts']} |",
        f"| ties dropped (best = worst score) | {stats['n_ties_dropped']} |",
        f"| pairs | {stats['n_pairs']}: train {stats['n_train']}, test {stats['n_test']} |",
        f"| test split | {split_text} |",
        f"| mean score chosen / rejected | {stats['mean_score_chosen']:.4g} / {stats['mean_score_rejected']:.4g} |",
        "",
        "Columns: prompt_id, prompt, all_generated_responses, all_rm_scores, chosen, rejected (user + assistant "
        "messages), score_chosen, score_rejected.",
        "",
        "Load: `datasets.load_from_disk(<folder>)`; train on it: `scripts/run_po.py <config> --dataset=<folder>` "
        "(train_split train, eval_split test). Full provenance (versions, git sha, every step's settings): "
        f"{MANIFEST}.",
        "",
    ]
    return "\n".join(lines)
