"""Rehearsal data: a few dozen rows of every dataset a cell names, in the hub dataset's exact schema and layout.

    python -m prefopt.toy.rehearsal_data --out outputs/rehearsal/datasets            # cached; --force rebuilds
    PREFOPT_DATASET_MIRROR=outputs/rehearsal/datasets make <cell> ARGS=...        # hub ids load these copies

Issue 16 rehearses every cell on CPU with only the model shrunk. The data keeps the hub's split names, file layout,
column names and Arrow types and is loaded by the same code as the hub id (`datasets.load_dataset` on a folder laid
out like the hub repository: prefopt.data.mirror). Rows come from ../shared/data (the UltraFeedback sample with its
GPT-4 scores, the hh-rlhf harmless test file, AlpacaEval and MT-Bench); columns the sources lack (reward-model
scores, extra generations, Reddit metadata) are filled deterministically. The content is real text, the values
of those filled columns are not: nothing here may be read as a result. REHEARSAL.json in the folder says so.

Schemas (`<org>/<name>/...`; features as in each dataset card's `dataset_info`):

| hub id | splits (hub rows) | files | columns |
| --- | --- | --- | --- |
| HuggingFaceH4/ultrafeedback_binarized | train_prefs 61,135, test_prefs 2,000, train_sft 61,135, test_sft 1,000, train_gen 61,135, test_gen 1,000 | README `configs` -> data/<split>-* (parquet) | prompt str, prompt_id str (sha256 of prompt), chosen/rejected/messages [{content, role}], score_chosen/score_rejected float64 |
| princeton-nlp/llama3-ultrafeedback-armorm (59.9k/1.96k), gemma2-ultrafeedback-armorm (59.6k/1.94k), llama3-ultrafeedback (59.9k/1.96k), mistral-instruct-ultrafeedback | train, test | data/train-0000{0,1}-of-00002.parquet, data/test-00000-of-00001.parquet | prompt_id str, prompt str, all_generated_responses [str] (5), all_rm_scores [float64] (5), chosen/rejected [{content, role}] (argmax / argmin score) |
| HuggingFaceH4/ultrachat_200k | train_sft 207,865, test_sft 23,110, train_gen 256,032, test_gen 28,304 | README `configs` -> data/<split>-* (train_* in 3 shards) | prompt str, prompt_id str, messages [{content, role}] (multi-turn) |
| argilla/ultrafeedback-binarized-preferences-cleaned | train 60,917 (no test split) | data/train-00000-of-00001.parquet | source str, prompt str, chosen [{content, role}], chosen-rating float64, chosen-model str, rejected [...], rejected-rating float64, rejected-model str |
| Anthropic/hh-rlhf | train 160,800, test 8,552 (file-name inference, no card `configs`) | {harmless-base, helpful-base, helpful-online, helpful-rejection-sampled}/{train,test}.jsonl.gz | chosen str, rejected str ("\\n\\nHuman: ...\\n\\nAssistant: ...") |
| stanfordnlp/SHP | train 348,718, validation 18,436, test 18,409 (file-name inference) | <18 subreddits>/{train,validation,test}.json (JSON lines) | post_id, domain ("<subreddit>_<split>"), upvote_ratio f64, history, c_root_id_A/B, created_at_utc_A/B i64, score_A/B i64, human_ref_A/B, labels i64 (1: A preferred), seconds_difference f64, score_ratio f64 |
| APO's hh-split files (Linear95/APO data/, now on Google Drive; local paths, not hub ids) | one list per file | data/apo/hh-split/{hh_cleaned_origin.train.json, rm_data/{hh_split_rm.train,hh_split_rm.golden,hh_split_rm_alpaca_v0.sample,apo_text_scores}.json, llm_data/{hh_split_llm.train,hh_split_llm_alpaca_v0.sample}.json, eval_data/{hh_cleaned_origin.test,hh_split_llm.valid}.json} | comparison {text: [query<sep>response, ...], scores, query_id}; golden {query_id, query, golden}; samples {query_id, query, sample_0..3}; apo_text_scores = prefopt.reward.converter's output |

Sources: the dataset cards (dataset_info / configs YAML) of HuggingFaceH4/ultrafeedback_binarized, ultrachat_200k,
argilla/...-cleaned and SHP-derived copies; the hub file listings of the princeton-nlp, hh-rlhf and SHP repositories
(found with the project's search tool); research notes simpo_lmpo_handbook.md §1.9 (SimPO's on-policy pipeline
writes prompt, all_generated_responses, all_rm_scores, chosen = argmax, rejected = argmin) and amapo_sams_apo.md
§C.7 (APO's file shapes). What could not be pinned exactly is listed in NOT_PINNED.

Real-data quirks are kept on purpose: UltraFeedback train_prefs holds one pair with identical chosen and rejected
and one with an empty rejected response (both real rows of the sample; the 1,000-row sample has 4 and 2), and the
hh-rlhf harmless-base test file one pair with an empty response (the real file has 4 of 2,312). A config that
would stop on them with `bad_rows: error` stops in the rehearsal, not after hours of downloads.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import datasets
import yaml
from datasets import Dataset, DatasetInfo, Features, List, Value

from prefopt.core.errors import InputError
from prefopt.core.paths import SHARED_DATA_ENV
from prefopt.core.paths import shared_data_dir as default_shared_data_dir
from prefopt.core.rehearsal import MARKER
from prefopt.data.files import read_file
from prefopt.reward.converter import apo_items

SHARED_ENV = SHARED_DATA_ENV
SOURCES = {  # name -> file under the shared data folder (../shared/data)
    "uf_train": "ultrafeedback_binarized_sample/train_clean.jsonl",
    "uf_test": "ultrafeedback_binarized_sample/eval_clean.jsonl",
    "hh": "hh-rlhf/harmless-base-test.jsonl.gz",
    "alpaca": "alpaca_eval/gpt4_1106_preview_model_outputs.json",
    "mt_questions": "mt_bench/question.jsonl",
    "mt_answers": "mt_bench/reference_answer_gpt-4.jsonl",
}
NOT_PINNED = {
    "HuggingFaceH4/ultrafeedback_binarized": "shard counts and file-name hash suffixes (push_to_hub may name files "
    "<split>-00000-of-00001-<16 hex>.parquet); the card's data/<split>-* patterns match either",
    "HuggingFaceH4/ultrachat_200k": "file names: a copy of the repository shows hash suffixes "
    "(train_sft-00000-of-00003-a3ecf92756993583.parquet); written here without them, same patterns",
    "princeton-nlp/*": "only prompt_id's position (first) was seen in a card; the other columns, their order and "
    "score scales come from SimPO's on-policy scripts and derived datasets; mistral-instruct-ultrafeedback split sizes",
    "stanfordnlp/SHP": "the `domain` value format ('<subreddit>_<split>') and whether score_ratio can fall below 2",
    "Anthropic/hh-rlhf": "red-team-attempts/red_team_attempts.jsonl.gz (other columns; split inference ignores it) "
    "is left out; the helpful-* folders hold harmless-base text",
    "rm-robustness/*": "file names and shard counts (the sets' cards were not seen); set 1's string columns "
    "follow RewardBench's format",
    "APO hh-split": "where '<sep>' sits relative to spaces, the query_id format and which keys besides text/scores "
    "the comparison files carry (the files are on Google Drive only)",
}
MSG = ("content", "role")  # the field order of a message struct in every card
UF_MODELS = ("gpt-4", "gpt-3.5-turbo", "llama-2-70b-chat", "wizardlm-13b", "ultralm-65b", "falcon-40b-instruct",
             "mpt-30b-chat", "vicuna-33b", "starchat", "bard", "alpaca-7b", "pythia-12b")
UF_SOURCES = ("evol_instruct", "false_qa", "flan_v2_niv2", "sharegpt", "ultrachat", "flan_v2_cot")
SHP_DOMAINS = ("askacademia", "askanthropology", "askbaking", "askcarguys", "askculinary", "askdocs", "askengineers",
               "askhistorians", "askhr", "askphilosophy", "askphysics", "askscience", "asksciencefiction",
               "asksocialscience", "askvet", "changemyview", "explainlikeimfive", "legaladvice")


# ---- sources -------------------------------------------------------------------------------------------------
def shared_data_dir(shared: str | Path | None = None) -> Path:
    """--shared, else $PREFOPT_SHARED_DATA, else ../shared/data beside the checkout (as the tests look for it)."""
    return Path(shared) if shared else default_shared_data_dir()


def read_sources(shared: Path) -> dict[str, list[dict]]:
    missing = [n for n, rel in SOURCES.items() if not (shared / rel).is_file()]
    if missing:
        raise InputError(f"missing source files: {', '.join(SOURCES[n] for n in missing)}", where=str(shared),
                         fix=f"point --shared (or ${SHARED_ENV}) at the shared data folder (../shared/data)")
    return {name: read_file(shared / rel) for name, rel in SOURCES.items()}


def sources_digest(shared: Path) -> str:
    h = hashlib.sha256()
    for rel in SOURCES.values():
        h.update(rel.encode() + b"\0" + hashlib.sha256((shared / rel).read_bytes()).digest())
    return h.hexdigest()


# ---- row helpers -----------------------------------------------------------------------------------------------
def prompt_id(prompt: str) -> str:
    """UltraFeedback / UltraChat prompt_id: the SHA-256 hex digest of the prompt (H4's create_dataset.py)."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()


def msg(role: str, content: str) -> dict:
    return {"content": content, "role": role}


def _uf_ok(r: dict) -> bool:
    c, j = r["chosen"].strip(), r["rejected"].strip()
    return bool(c and j and c != j)


def _pick(rows: list[dict], n: int, ok: Callable[[dict], bool] = _uf_ok) -> list[dict]:
    picked = [r for r in rows if ok(r)][:n]
    if len(picked) < n:
        raise InputError(f"a source file has only {len(picked)} usable rows, {n} needed",
                         fix="use the unmodified shared data files (prefopt.toy.rehearsal_data.SOURCES)")
    return picked


def _half(text: str, first: bool) -> str:
    words = text.split(" ")
    cut = max(1, len(words) // 2)
    return " ".join(words[:cut] if first else words[cut:])


def variants(a: str, b: str) -> list[str]:
    """Five distinct candidate responses from two real ones (the on-policy sets have five generations)."""
    out = []
    for v in (a, b, _half(a, True), _half(b, True), _half(a, False), _half(b, False), a + "\n\n" + b):
        if v.strip() and v not in out:
            out.append(v)
    return out[:5]


def uf_pair(r: dict) -> dict:
    p = r["prompt"]
    return {"prompt": p, "prompt_id": prompt_id(p), "chosen": [msg("user", p), msg("assistant", r["chosen"])],
            "rejected": [msg("user", p), msg("assistant", r["rejected"])]}


def _quirks(rows: list[dict]) -> list[dict]:
    """The first real pair with identical responses and the first with an empty rejected response."""
    same = next(r for r in rows if r["chosen"].strip() and r["chosen"].strip() == r["rejected"].strip())
    empty = next(r for r in rows if r["chosen"].strip() and not r["rejected"].strip())
    return [same, empty]


# ---- the datasets: each returns {relative path: rows}, with the hub's Arrow features for parquet files ------------
def _features(kind: str):
    s, f64 = Value("string"), Value("float64")
    msgs = List({k: s for k in MSG})
    return Features({
        "uf": {"prompt": s, "prompt_id": s, "chosen": msgs, "rejected": msgs, "messages": msgs, "score_chosen": f64,
               "score_rejected": f64},
        "onpolicy": {"prompt_id": s, "prompt": s, "all_generated_responses": List(s), "all_rm_scores": List(f64),
                     "chosen": msgs, "rejected": msgs},
        "ultrachat": {"prompt": s, "prompt_id": s, "messages": msgs},
        "argilla": {"source": s, "prompt": s, "chosen": msgs, "chosen-rating": f64, "chosen-model": s,
                    "rejected": msgs, "rejected-rating": f64, "rejected-model": s},
        "rm_pairs": {"prompt": s, "chosen": s, "rejected": s},
        "rm_scored": {"instruction": s, **{f"response_{i}_text": s for i in range(1, 5)}, "all_scores": List(f64)},
    }[kind])


def _shards(split: str, rows: list[dict], n: int) -> dict[str, list[dict]]:
    size = -(-len(rows) // n)
    return {f"data/{split}-{i:05d}-of-{n:05d}.parquet": rows[i * size:(i + 1) * size] for i in range(n)}


def uf_binarized(src: dict) -> dict[str, list[dict]]:
    train, (same, empty) = _pick(src["uf_train"], 30), _quirks(src["uf_train"])
    train[3:3], train[11:11] = [same], [empty]
    test = _pick(src["uf_test"], 16)

    def rows(raw):
        return [{**uf_pair(r), "messages": uf_pair(r)["chosen"], "score_chosen": float(r["metadata"]["score_chosen"]),
                 "score_rejected": float(r["metadata"]["score_rejected"])} for r in raw]

    splits = {"train_prefs": rows(train), "train_sft": rows(train), "train_gen": rows(train),
              "test_prefs": rows(test), "test_sft": rows(test[:8]), "test_gen": rows(test[:8])}
    return {k: v for split, r in splits.items() for k, v in _shards(split, r, 1).items()}


def onpolicy(src: dict, hub_id: str, score_range: tuple[float, float]) -> dict[str, list[dict]]:
    """SimPO's on-policy sets: five generations per prompt, a reward model's scores, chosen = argmax, rejected =
    argmin (simpo_lmpo_handbook.md §1.9). Scores are drawn per prompt from `score_range` (ArmoRM ~0.05-0.2,
    PairRM logits a few units around 0): stand-ins, not annotations."""
    def rows(raw):
        out = []
        for r in raw:
            pair, cands = uf_pair(r), variants(r["chosen"], r["rejected"])
            rng = random.Random(f"{hub_id}|{pair['prompt_id']}")
            scores = [round(rng.uniform(*score_range), 6) for _ in cands]
            best, worst = scores.index(max(scores)), scores.index(min(scores))
            out.append({"prompt_id": pair["prompt_id"], "prompt": pair["prompt"], "all_generated_responses": cands,
                        "all_rm_scores": scores, "chosen": [pair["chosen"][0], msg("assistant", cands[best])],
                        "rejected": [pair["chosen"][0], msg("assistant", cands[worst])]})
        return out

    def ok(r):
        return _uf_ok(r) and len(variants(r["chosen"], r["rejected"])) == 5

    return {**_shards("train", rows(_pick(src["uf_train"], 32, ok)), 2),
            **_shards("test", rows(_pick(src["uf_test"], 8, ok)), 1)}


def ultrachat(src: dict) -> dict[str, list[dict]]:
    """Multi-turn rows from MT-Bench (two questions + GPT-4's two reference answers) and single-turn rows from
    AlpacaEval (instruction + gpt4_1106_preview's output), interleaved."""
    answers = {a["question_id"]: a["choices"][0]["turns"] for a in src["mt_answers"]}
    two_turn = [[msg("user", q["turns"][0]), msg("assistant", answers[q["question_id"]][0]),
                 msg("user", q["turns"][1]), msg("assistant", answers[q["question_id"]][1])]
                for q in src["mt_questions"] if q["question_id"] in answers]
    one_turn = [[msg("user", a["instruction"]), msg("assistant", a["output"])] for a in src["alpaca"]
                if a["output"].strip()]

    def rows(dialogues):
        return [{"prompt": m[0]["content"], "prompt_id": prompt_id(m[0]["content"]), "messages": m} for m in dialogues]

    train = rows([d for pair in zip(two_turn[:10], one_turn[:10]) for d in pair] + one_turn[10:14])
    test = rows([d for pair in zip(two_turn[10:14], one_turn[14:18]) for d in pair])
    return {**_shards("train_sft", train, 3), **_shards("test_sft", test, 1),
            **_shards("train_gen", train, 3), **_shards("test_gen", test, 1)}


def argilla_cleaned(src: dict) -> dict[str, list[dict]]:
    """Argilla's cleaned binarization: ratings are means of UltraFeedback's 1-5 aspect ratings and ties are
    removed; here the GPT-4 1-10 scores mapped onto 1-5."""
    def rating(score):
        return round(1 + (float(score) - 1) * 4 / 9, 2)

    def untied(r):
        return _uf_ok(r) and r["metadata"]["score_chosen"] > r["metadata"]["score_rejected"]

    raw = _pick(src["uf_train"], 32, untied)
    rows = [{"source": UF_SOURCES[i % len(UF_SOURCES)], "prompt": r["prompt"], "chosen": uf_pair(r)["chosen"],
             "chosen-rating": rating(r["metadata"]["score_chosen"]), "chosen-model": UF_MODELS[i % len(UF_MODELS)],
             "rejected": uf_pair(r)["rejected"], "rejected-rating": rating(r["metadata"]["score_rejected"]),
             "rejected-model": UF_MODELS[(i + 5) % len(UF_MODELS)]} for i, r in enumerate(raw)]
    return _shards("train", rows, 1)


def rm_robustness(src: dict, hub_id: str, scored: bool) -> dict[str, list[dict]]:
    """Hong et al.'s UltraFeedback validation sets (split train, their only one): set 1 chosen/rejected strings
    (RewardBench format), sets 2-4 four responses per prompt with gold scores (`instruction`,
    `response_{1..4}_text`, `all_scores`). The four responses come from a real pair (`variants`); the scores are
    stand-ins drawn in ArmoRM's range, not annotations."""
    rows = []
    for r in _pick(src["uf_test"], 8, lambda r: _uf_ok(r) and len(variants(r["chosen"], r["rejected"])) >= 4):
        if not scored:
            rows.append({"prompt": r["prompt"], "chosen": r["chosen"], "rejected": r["rejected"]})
            continue
        rng = random.Random(f"{hub_id}|{prompt_id(r['prompt'])}")
        texts = variants(r["chosen"], r["rejected"])[:4]
        rows.append({"instruction": r["prompt"], **{f"response_{i + 1}_text": t for i, t in enumerate(texts)},
                     "all_scores": [round(rng.uniform(*ARMORM), 6) for _ in texts]})
    return _shards("train", rows, 1)


def hh_split(text: str) -> tuple[str, str]:
    """hh-rlhf dialogue -> (everything up to and including the last '\\n\\nAssistant:', the final response)."""
    head, sep, tail = text.rpartition("\n\nAssistant:")
    return head + sep, tail


def _hh_ok(r: dict) -> bool:
    (qc, c), (qr, j) = hh_split(r["chosen"]), hh_split(r["rejected"])
    return bool(qc and qc == qr and c.strip() and j.strip() and c != j)


def hh_rlhf(src: dict) -> dict[str, list[dict]]:
    good = _pick(src["hh"], 48, _hh_ok)
    empty = next(r for r in src["hh"] if hh_split(r["chosen"])[0] and not hh_split(r["chosen"])[1].strip())
    out = {}
    for k, folder in enumerate(("harmless-base", "helpful-base", "helpful-online", "helpful-rejection-sampled")):
        chunk = good[k * 12:(k + 1) * 12]
        out[f"{folder}/train.jsonl.gz"] = [{"chosen": r["chosen"], "rejected": r["rejected"]} for r in chunk[:8]]
        test = chunk[8:] + ([empty] if k == 0 else [])
        out[f"{folder}/test.jsonl.gz"] = [{"chosen": r["chosen"], "rejected": r["rejected"]} for r in test]
    return out


def shp(src: dict) -> dict[str, list[dict]]:
    """Reddit metadata drawn per row; about one pair in four has a score ratio in [1.25, 2), so that
    eric-mitchell's `score_ratio >= 2` filter (prefopt.prefacc.shp_pairs) drops something."""
    raw = iter(_pick(src["uf_train"], 4 * len(SHP_DOMAINS)))
    out, n = {}, 0
    for domain in SHP_DOMAINS:
        for split, count in (("train", 2), ("validation", 1), ("test", 1)):
            rows = []
            for _ in range(count):
                r, rng = next(raw), random.Random(f"shp|{n}")
                low = rng.randint(2, 60)
                ratio = rng.uniform(1.25, 1.95) if rng.random() < 0.25 else rng.uniform(2.0, 9.0)
                high, a_wins = max(low + 1, round(low * ratio)), rng.random() < 0.5
                t0 = 1_600_000_000 + rng.randint(0, 90_000_000)
                dt = rng.randint(1, 40_000)  # the preferred comment is the later one
                ids = ["".join(rng.choice("0123456789abcdefghijklmnopqrstuvwxyz") for _ in range(k)) for k in (6, 7, 7)]
                rows.append({
                    "post_id": ids[0], "domain": f"{domain}_{split}", "upvote_ratio": round(rng.uniform(0.6, 1.0), 2),
                    "history": r["prompt"], "c_root_id_A": ids[1], "c_root_id_B": ids[2],
                    "created_at_utc_A": t0 + (dt if a_wins else 0), "created_at_utc_B": t0 + (0 if a_wins else dt),
                    "score_A": high if a_wins else low, "score_B": low if a_wins else high,
                    "human_ref_A": r["chosen"] if a_wins else r["rejected"],
                    "human_ref_B": r["rejected"] if a_wins else r["chosen"],
                    "labels": int(a_wins), "seconds_difference": float(dt), "score_ratio": high / low})
                n += 1
            out[f"{domain}/{split}.json"] = rows
    return out


def apo_hh_split(src: dict) -> dict[str, list[dict]]:
    """APO's hh-split files from hh-rlhf pairs; apo_text_scores.json is what prefopt.reward.converter makes of the
    golden and sample files (the file the APO RM config reads)."""
    good = _pick(src["hh"], 200, _hh_ok)[48:]  # after the pairs of the hh-rlhf copy

    def comparison(rows, tag):
        out = []
        for i, r in enumerate(rows):
            (q, c), (_, j) = hh_split(r["chosen"]), hh_split(r["rejected"])
            out.append({"text": [f"{q}<sep>{c}", f"{q}<sep>{j}"], "scores": [1.0, 0.0], "query_id": f"{tag}_{i}"})
        return out

    def samples(rows, tag):
        out = []
        for i, r in enumerate(rows):
            (q, c), (_, j) = hh_split(r["chosen"]), hh_split(r["rejected"])
            cands = [v for v in variants(j, c) if v != c][:4]
            out.append({"query_id": f"{tag}_{i}", "query": q, **{f"sample_{k}": v for k, v in enumerate(cands)}})
        return out

    golden = [{"query_id": f"rm_golden_{i}", "query": hh_split(r["chosen"])[0], "golden": hh_split(r["chosen"])[1]}
              for i, r in enumerate(good[56:64])]
    rm_samples = samples(good[56:64], "rm_golden")
    base = "data/apo/hh-split/"
    return {
        base + "hh_cleaned_origin.train.json": comparison(good[:16], "origin_train"),
        base + "rm_data/hh_split_rm.train.json": comparison(good[16:40], "rm_train"),
        base + "rm_data/hh_split_rm.golden.json": golden,
        base + "rm_data/hh_split_rm_alpaca_v0.sample.json": rm_samples,
        base + "rm_data/apo_text_scores.json": apo_items(golden, rm_samples),
        base + "llm_data/hh_split_llm.train.json": comparison(good[64:76], "llm_train"),
        base + "llm_data/hh_split_llm_alpaca_v0.sample.json": samples(good[64:76], "llm_train"),
        base + "eval_data/hh_cleaned_origin.test.json": comparison(good[40:48], "origin_test"),
        base + "eval_data/hh_split_llm.valid.json": comparison(good[48:56], "llm_valid"),
    }


# Rows per split of the REAL hub datasets (the table above; princeton-nlp's sizes rounded as their cards show them,
# mistral-instruct-ultrafeedback's unknown): what a rehearsal's dry-run summary sizes the cluster run with.
HUB_ROWS: dict[str, dict[str, int]] = {
    "HuggingFaceH4/ultrafeedback_binarized": {"train_prefs": 61135, "test_prefs": 2000, "train_sft": 61135,
                                              "test_sft": 1000, "train_gen": 61135, "test_gen": 1000},
    "princeton-nlp/llama3-ultrafeedback-armorm": {"train": 59900, "test": 1960},
    "princeton-nlp/gemma2-ultrafeedback-armorm": {"train": 59600, "test": 1940},
    "princeton-nlp/llama3-ultrafeedback": {"train": 59900, "test": 1960},
    "HuggingFaceH4/ultrachat_200k": {"train_sft": 207865, "test_sft": 23110, "train_gen": 256032, "test_gen": 28304},
    "argilla/ultrafeedback-binarized-preferences-cleaned": {"train": 60917},
    "Anthropic/hh-rlhf": {"train": 160800, "test": 8552},
    "stanfordnlp/SHP": {"train": 348718, "validation": 18436, "test": 18409},
}
ARMORM, PAIRRM = (0.02, 0.25), (-4.0, 4.0)  # score ranges of the two reward models SimPO annotated with
ONPOLICY_SCORES = {
    "princeton-nlp/llama3-ultrafeedback-armorm": ARMORM, "princeton-nlp/gemma2-ultrafeedback-armorm": ARMORM,
    "princeton-nlp/llama3-ultrafeedback": PAIRRM, "princeton-nlp/mistral-instruct-ultrafeedback": PAIRRM,
}
DATASETS: dict[str, tuple[Callable[[dict], dict], str | None]] = {  # id -> (builder, parquet features)
    "HuggingFaceH4/ultrafeedback_binarized": (uf_binarized, "uf"),
    **{hub_id: (partial(onpolicy, hub_id=hub_id, score_range=r), "onpolicy") for hub_id, r in ONPOLICY_SCORES.items()},
    "HuggingFaceH4/ultrachat_200k": (ultrachat, "ultrachat"),
    "argilla/ultrafeedback-binarized-preferences-cleaned": (argilla_cleaned, "argilla"),
    "Anthropic/hh-rlhf": (hh_rlhf, None),
    "stanfordnlp/SHP": (shp, None),
    **{f"rm-robustness/ultrafeedback-valid-{name}": (partial(rm_robustness, hub_id=f"rm-robustness/ultrafeedback-valid-{name}",
                                                             scored=name != "1-in-domain"),
                                                     "rm_pairs" if name == "1-in-domain" else "rm_scored")
       for name in ("1-in-domain", "2-prompt-ood", "3-response-ood", "4-mutual-ood")},
}
LOCAL_FILES = {"APO hh-split": apo_hh_split}  # not hub ids: paths under the mirror that mirror the configs' paths


# ---- encoding and the hub cards ------------------------------------------------------------------------------
def split_of(path: str) -> str:
    return Path(path).name.split(".")[0].split("-0")[0]


def encode(path: str, rows: list[dict], features=None, *, json_list: bool = False) -> bytes:
    """Parquet with the card's Arrow features (as push_to_hub writes it), JSON lines (gzipped for .gz, hh-rlhf
    and SHP), or one JSON list (APO's files)."""
    if path.endswith(".parquet"):
        buf = io.BytesIO()
        datasets.Dataset.from_list(rows, features=features).to_parquet(buf)
        return buf.getvalue()
    if not json_list:
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
        return gzip.compress(text, mtime=0) if path.endswith(".gz") else text
    return (json.dumps(rows, ensure_ascii=False, indent=1) + "\n").encode("utf-8")  # APO: one JSON list


def card(hub_id: str, files: dict[str, list[dict]], features) -> str:
    """README.md: the hub card's YAML (`configs` and `dataset_info` for parquet datasets, as push_to_hub writes
    it; none for the json repositories, whose splits come from file names) and a line saying what this is."""
    meta: dict = {"tags": ["rehearsal-copy"]}
    if features is not None:
        splits: dict[str, list[dict]] = {}
        for path, rows in files.items():
            splits.setdefault(split_of(path), []).extend(rows)
        meta["configs"] = [{"config_name": "default",
                            "data_files": [{"split": s, "path": f"data/{s}-*"} for s in splits]}]
        meta["dataset_info"] = {**DatasetInfo(features=features)._to_yaml_dict(), "splits": [
            {"name": s, "num_bytes": Dataset.from_list(r, features=features).data.nbytes, "num_examples": len(r)}
            for s, r in splits.items()]}
    head = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
    return (f"---\n{head}---\n\n# REHEARSAL COPY of {hub_id}\n\nA few real rows in the hub schema, built by "
            "prefopt.toy.rehearsal_data for CPU rehearsals. Not the dataset: never report results from it.\n")


def render(src: dict) -> tuple[dict[str, bytes], dict]:
    """Every file of the mirror (relative path -> bytes) and the row counts per dataset and split."""
    out: dict[str, bytes] = {}
    counts: dict = {}
    for hub_id, (build, kind) in DATASETS.items():
        files, features = build(src), (_features(kind) if kind else None)
        out[f"{hub_id}/README.md"] = card(hub_id, files, features).encode("utf-8")
        for path, rows in files.items():
            out[f"{hub_id}/{path}"] = encode(path, rows, features)
            split = counts.setdefault(hub_id, {})
            split[split_of(path)] = split.get(split_of(path), 0) + len(rows)
    for name, build in LOCAL_FILES.items():
        for path, rows in build(src).items():
            out[path] = encode(path, rows, json_list=True)
            counts.setdefault(name, {})[path] = len(rows)
    return out, counts


# ---- build: deterministic, cached, atomic ------------------------------------------------------------------------
def fingerprint(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(path.encode() + b"\0" + hashlib.sha256(files[path]).digest())
    return h.hexdigest()


def cache_key(shared: Path) -> str:
    """Changes with the source files and with this builder's code."""
    return hashlib.sha256((sources_digest(shared) + hashlib.sha256(Path(__file__).read_bytes()).hexdigest())
                          .encode()).hexdigest()


def read_marker(out: Path) -> dict | None:
    try:
        return json.loads((out / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def build_mirror(out: str | Path, shared: str | Path | None = None, *, force: bool = False) -> dict:
    """Build (or reuse) the mirror at `out`; returns its marker. A complete mirror with the same cache key is
    reused; otherwise everything is written to a temporary sibling folder that then replaces `out` whole."""
    out, shared = Path(out), shared_data_dir(shared)
    src = read_sources(shared)
    key, marker = cache_key(shared), read_marker(out)
    if not force and marker and marker.get("cache_key") == key:
        return marker
    bars = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        files, counts = render(src)
    finally:
        if bars:
            datasets.enable_progress_bars()
    marker = {"what": "REHEARSAL copies of hub datasets: a few real rows in each dataset's hub schema and layout, "
                      "some columns filled with stand-in values. Not the datasets; never report results from them.",
              "builder": "prefopt.toy.rehearsal_data", "cache_key": key, "fingerprint": fingerprint(files),
              "shared_data": str(shared), "datasets": counts, "not_pinned": NOT_PINNED}
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    for path, data in files.items():
        (tmp / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp / path).write_bytes(data)
    (tmp / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        out.rename(old)
    try:
        tmp.rename(out)
    except OSError:  # another process put a mirror there in between: keep it when it is this one
        if (read_marker(out) or {}).get("fingerprint") != marker["fingerprint"]:
            raise
        shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
    return marker


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m prefopt.toy.rehearsal_data", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="outputs/rehearsal/datasets", help="the mirror folder (PREFOPT_DATASET_MIRROR)")
    ap.add_argument("--shared", default=None, help=f"the shared data folder (default ${SHARED_ENV} or ../shared/data)")
    ap.add_argument("--force", action="store_true", help="rebuild even when the cached mirror is current")
    a = ap.parse_args(argv)
    try:
        marker = build_mirror(a.out, a.shared, force=a.force)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for name, splits in marker["datasets"].items():
        print(f"{name}: " + ", ".join(f"{s} {n}" for s, n in splits.items()))
    print(f"mirror {a.out} (fingerprint {marker['fingerprint'][:12]}): PREFOPT_DATASET_MIRROR={a.out} loads it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
