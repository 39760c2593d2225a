"""Rehearsal data (issue 16, item 3): every hub dataset a cell names, a few dozen rows in its exact schema, loaded
through the real hub path (prefopt.data.files._read_hub -> datasets.load_dataset) with PREFOPT_DATASET_MIRROR set.

The expected schemas below are written out from the dataset cards by hand, independently of the builder's own
feature definitions. Skipped when ../shared/data (the row sources) is absent.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from conftest import make_tiny_tokenizer, shared_data_dir, shared_data_path

from prefopt.core.errors import InputError
from prefopt.core.rehearsal import MIRROR_ENV, manifest_record
from prefopt.data import load_pairs, load_rows, read_source, tokenize_pairs, tokenize_sft
from prefopt.data.mirror import resolve_hub_id, resolve_local_copy

UF, UC, ARG = "HuggingFaceH4/ultrafeedback_binarized", "HuggingFaceH4/ultrachat_200k", "argilla/ultrafeedback-binarized-preferences-cleaned"
ONPOLICY = ("princeton-nlp/llama3-ultrafeedback-armorm", "princeton-nlp/gemma2-ultrafeedback-armorm",
            "princeton-nlp/llama3-ultrafeedback", "princeton-nlp/mistral-instruct-ultrafeedback")
HH, SHP = "Anthropic/hh-rlhf", "stanfordnlp/SHP"
CONFIGS = Path(__file__).resolve().parents[1] / "training_configs"

MSGS, STR, F64, I64 = "list<item: struct<content: string, role: string>>", "string", "double", "int64"
# Column -> Arrow type, in the cards' order (dataset_info.features of each hub card).
SCHEMAS = {
    UF: {"prompt": STR, "prompt_id": STR, "chosen": MSGS, "rejected": MSGS, "messages": MSGS, "score_chosen": F64,
         "score_rejected": F64},
    **{d: {"prompt_id": STR, "prompt": STR, "all_generated_responses": "list<item: string>",
           "all_rm_scores": "list<item: double>", "chosen": MSGS, "rejected": MSGS} for d in ONPOLICY},
    UC: {"prompt": STR, "prompt_id": STR, "messages": MSGS},
    ARG: {"source": STR, "prompt": STR, "chosen": MSGS, "chosen-rating": F64, "chosen-model": STR, "rejected": MSGS,
          "rejected-rating": F64, "rejected-model": STR},
    HH: {"chosen": STR, "rejected": STR},
    SHP: {"post_id": STR, "domain": STR, "upvote_ratio": F64, "history": STR, "c_root_id_A": STR, "c_root_id_B": STR,
          "created_at_utc_A": I64, "created_at_utc_B": I64, "score_A": I64, "score_B": I64, "human_ref_A": STR,
          "human_ref_B": STR, "labels": I64, "seconds_difference": F64, "score_ratio": F64},
}
SPLITS = {  # the hub's split names -> rows in the rehearsal copy
    UF: {"train_prefs": 32, "train_sft": 32, "train_gen": 32, "test_prefs": 16, "test_sft": 8, "test_gen": 8},
    **{d: {"train": 32, "test": 8} for d in ONPOLICY},
    UC: {"train_sft": 24, "test_sft": 8, "train_gen": 24, "test_gen": 8},
    ARG: {"train": 32},
    HH: {"train": 32, "test": 17},
    SHP: {"train": 36, "validation": 18, "test": 18},
}
PY = {STR: str, F64: float, I64: int}


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    from prefopt.toy.rehearsal_data import SOURCES, build_mirror

    for rel in SOURCES.values():
        shared_data_path(rel)  # skips the module's tests with a clear reason when a source is absent
    out = tmp_path_factory.mktemp("rehearsal") / "datasets"
    build_mirror(out, shared_data_dir())
    return out


@pytest.fixture
def mirrored(mirror, monkeypatch):
    monkeypatch.setenv(MIRROR_ENV, str(mirror))
    return mirror


def _check_type(value, arrow: str, where: str):
    if arrow == MSGS:
        assert isinstance(value, list) and value, where
        assert all(list(m) == ["content", "role"] and isinstance(m["content"], str) for m in value), where
    elif arrow.startswith("list<item: "):
        inner = PY[arrow[len("list<item: "):-1]]
        assert isinstance(value, list) and all(type(v) is inner for v in value), where
    else:
        assert type(value) is PY[arrow], f"{where}: {type(value).__name__} is not {arrow}"


# ---- the copies exist, in the hub layout ------------------------------------------------------------------------
def test_every_dataset_builds(mirror):
    marker = json.loads((mirror / "REHEARSAL.json").read_text())
    assert "REHEARSAL" in marker["what"] and marker["fingerprint"] and marker["builder"] == "prefopt.toy.rehearsal_data"
    for hub_id, splits in SPLITS.items():
        assert marker["datasets"][hub_id] == splits
        assert "REHEARSAL COPY" in (mirror / hub_id / "README.md").read_text()
    layout = {p.relative_to(mirror).as_posix() for p in mirror.rglob("*") if p.is_file()}
    assert {f"{UF}/data/test_prefs-00000-of-00001.parquet", f"{ONPOLICY[0]}/data/train-00001-of-00002.parquet",
            f"{UC}/data/train_sft-00002-of-00003.parquet", f"{ARG}/data/train-00000-of-00001.parquet",
            f"{HH}/helpful-rejection-sampled/test.jsonl.gz", f"{SHP}/legaladvice/validation.json",
            "data/apo/hh-split/rm_data/hh_split_rm.train.json"} <= layout
    assert sum(p.startswith(f"{SHP}/") and p.endswith(".json") for p in layout) == 18 * 3
    # hh-rlhf's files are gzipped JSON lines; SHP's .json files are JSON lines too (not one JSON document)
    first = gzip.decompress((mirror / HH / "harmless-base/train.jsonl.gz").read_bytes()).decode().splitlines()[0]
    assert list(json.loads(first)) == ["chosen", "rejected"]
    assert all(json.loads(line) for line in (mirror / SHP / "askdocs/train.json").read_text().splitlines())


@pytest.mark.parametrize("hub_id", [UF, *ONPOLICY, UC, ARG])
def test_parquet_files_have_the_card_arrow_types(mirror, hub_id):
    card = yaml.safe_load((mirror / hub_id / "README.md").read_text().split("---")[1])
    assert [f["name"] for f in card["dataset_info"]["features"]] == list(SCHEMAS[hub_id])
    for path in (mirror / hub_id / "data").glob("*.parquet"):
        schema = pq.read_schema(path)  # parquet names a list's child "element" where Arrow says "item"
        assert {f.name: str(f.type).replace("<element: ", "<item: ") for f in schema} == SCHEMAS[hub_id], path.name
        assert b"huggingface" in schema.metadata  # the features travel in the file, as push_to_hub writes them


# ---- loading through the real hub path ---------------------------------------------------------------------------
@pytest.mark.parametrize("hub_id", list(SCHEMAS))
def test_hub_id_loads_with_the_documented_schema(mirrored, hub_id):
    for split, n in SPLITS[hub_id].items():
        rows, label = read_source(hub_id, split)
        assert label == f"{hub_id}[{split}]" and len(rows) == n  # the hub branch of read_source, real split names
        for i, row in enumerate(rows):
            assert list(row) == list(SCHEMAS[hub_id]), f"{label} row {i}"
            for col, arrow in SCHEMAS[hub_id].items():
                _check_type(row[col], arrow, f"{label} row {i} {col}")


def test_message_shapes_and_derived_columns(mirrored):
    for row in load_rows(UF, "train_prefs"):
        assert [m["role"] for m in row["chosen"]] == [m["role"] for m in row["rejected"]] == ["user", "assistant"]
        assert row["chosen"][0]["content"] == row["prompt"] and row["messages"] == row["chosen"]
        assert row["prompt_id"] == hashlib.sha256(row["prompt"].encode()).hexdigest()
        assert row["score_chosen"] >= row["score_rejected"]  # H4 binarization: chosen has the top GPT-4 score
    turns = [len(r["messages"]) for r in load_rows(UC, "train_sft")]
    assert set(turns) == {2, 4}  # single- and multi-turn dialogues
    for r in load_rows(UC, "test_sft"):
        assert [m["role"] for m in r["messages"]] == ["user", "assistant"] * (len(r["messages"]) // 2)
        assert r["prompt"] == r["messages"][0]["content"]
    for hub_id in ONPOLICY:
        for r in load_rows(hub_id, "train"):
            scores, responses = r["all_rm_scores"], r["all_generated_responses"]
            assert len(scores) == len(responses) == 5 and len(set(responses)) == 5
            assert r["chosen"][1]["content"] == responses[scores.index(max(scores))]  # SimPO: argmax / argmin
            assert r["rejected"][1]["content"] == responses[scores.index(min(scores))]
    assert all(r["chosen-rating"] > r["rejected-rating"] for r in load_rows(ARG, "train"))  # ties removed
    for r in load_rows(SHP, "validation"):
        a_wins = r["labels"] == 1
        win, lose = ("A", "B") if a_wins else ("B", "A")
        assert r["domain"].endswith("_validation") and r[f"score_{win}"] > r[f"score_{lose}"]
        assert r[f"created_at_utc_{win}"] - r[f"created_at_utc_{lose}"] == r["seconds_difference"] > 0
        assert r["score_ratio"] == pytest.approx(r[f"score_{win}"] / r[f"score_{lose}"])


def test_prompt_id_matches_the_card_example():
    from prefopt.toy.rehearsal_data import prompt_id

    # HuggingFaceH4/ultrafeedback_binarized card: this prompt has this prompt_id (sha256 of the prompt)
    assert prompt_id("Which books are still banned in Canada?") == \
        "aeccf551d9ba42fdf5f2044de43b8ce6e360fb523ace428317b81d804594e090"


def test_the_mirror_is_swapped_in_at_datasets_load_dataset(mirrored, monkeypatch):
    import datasets

    calls, real = [], datasets.load_dataset
    monkeypatch.setattr(datasets, "load_dataset", lambda path, **kw: calls.append((path, kw)) or real(path, **kw))
    pairs = load_pairs(UF, "test_prefs")
    assert calls == [(str(mirrored / UF), {"split": "test_prefs"})] and len(pairs) == 16


def test_without_the_variable_hub_ids_go_to_the_hub(monkeypatch):
    import datasets

    monkeypatch.delenv(MIRROR_ENV, raising=False)
    assert resolve_hub_id(UF) == UF and manifest_record() == {}
    calls = []
    monkeypatch.setattr(datasets, "load_dataset", lambda path, **kw: calls.append(path) or datasets.Dataset.from_list(
        [{"prompt": "p", "chosen": "c", "rejected": "r"}]))
    assert load_rows(UF, "train_prefs") and calls == [UF]


def test_wrong_split_names_fail_as_on_the_hub(mirrored):
    # datasets' own message for an unknown split, with the dataset's real split names, inside prefopt's InputError
    cases = {UF: ("train", "['train_prefs', 'train_sft', 'train_gen', 'test_prefs', 'test_sft', 'test_gen']"),
             ONPOLICY[0]: ("train_prefs", "['train', 'test']"), ARG: ("test", "['train']"),
             HH: ("validation", "'train'"), SHP: ("eval", "'validation'")}
    for hub_id, (split, listed) in cases.items():
        with pytest.raises(InputError) as err:
            load_rows(hub_id, split)
        text = str(err.value)
        assert f"dataset {hub_id!r} (split {split!r})" in text and f'Unknown split "{split}"' in text, text
        assert listed in text and "rehearsal mirror" in text


def test_mirror_errors_name_the_variable_and_the_fix(mirror, monkeypatch, tmp_path):
    monkeypatch.setenv(MIRROR_ENV, str(mirror))
    with pytest.raises(InputError) as err:
        load_rows("stanfordnlp/SHP-2", "train")  # not mirrored: never falls back to the hub
    assert MIRROR_ENV in str(err.value) and UF in str(err.value) and "unset" in str(err.value)
    assert "data/apo" not in str(err.value)  # APO's local files are not offered as a hub id
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(InputError, match="not a folder"):
        load_rows(UF, "train_prefs")


def test_manifests_record_the_mirror(mirrored):
    from prefopt.core.manifest import build_manifest

    record = build_manifest("preference", config={})["dataset_mirror"]
    marker = json.loads((mirrored / "REHEARSAL.json").read_text())
    assert record["rehearsal"] is True and record["folder"] == str(mirrored.resolve())
    assert record["fingerprint"] == marker["fingerprint"]


def test_no_mirror_no_manifest_entry(monkeypatch):
    from prefopt.core.manifest import build_manifest

    monkeypatch.delenv(MIRROR_ENV, raising=False)
    assert "dataset_mirror" not in build_manifest("preference", config={})


# ---- what the cells do with the rows ---------------------------------------------------------------------------------
def test_ultrafeedback_rows_tokenize_with_a_real_chat_template(mirrored):
    templates = json.loads((shared_data_path("simpo_repo_assets") / "chat_templates.json").read_text())
    tok = make_tiny_tokenizer(templates["llama3"])  # SimPO's Llama-3 template, verbatim
    pairs = load_pairs(UF, "train_prefs", bad_rows="drop")
    rows, report = tokenize_pairs(pairs, tok, max_length=4096, max_prompt_length=2048)
    assert report.total == 32 and report.kept == 30 == len(rows) and report.dropped == {"identical": 1,
                                                                                     "empty_response": 1}
    prompt = tok.decode(rows[0]["prompt_ids"])
    assert prompt.startswith("<|bos|><|start_header_id|>user<|end_header_id|>\n\n" + pairs[0].prompt[0]["content"])
    assert prompt.endswith("<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
    assert tok.decode(rows[0]["chosen_ids"]).startswith(pairs[0].chosen[0]["content"].strip()[:200])
    sft, sft_report = tokenize_sft(load_rows(UC, "train_sft"), tok, max_length=8192, source=UC)
    assert sft_report.kept == 24 and any(tok.decode(r["prompt_ids"]).count("<|start_header_id|>user") == 2
                                         for r in sft)  # the two-turn dialogues keep the first exchange in the prompt


def test_real_data_quirks_stop_a_config_that_keeps_bad_rows_error(mirrored):
    with pytest.raises(InputError, match=r"ultrafeedback_binarized\[train_prefs\]:row 4.*identical"):
        load_pairs(UF, "train_prefs")  # bad_rows: error, the default of every hub-data config
    with pytest.raises(InputError, match=r"hh-rlhf\[test\]:row 5.*empty response"):
        load_pairs(HH, "test")


def _hub_configs():
    out = []
    for path in sorted(CONFIGS.rglob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if raw.get("dataset") in SCHEMAS:
            out.append(pytest.param(path, raw, id=str(path.relative_to(CONFIGS))))
    return out


@pytest.mark.parametrize(("path", "raw"), _hub_configs())
def test_each_hub_config_finds_its_splits_and_columns(mirrored, path, raw):
    """The config's own dataset, split names and tokenization settings through the trainer's loading function."""
    from prefopt.config import DataArguments
    from prefopt.core.fields import config_fields
    from prefopt.training.preference import tokenized_pairs_loader

    # The config's own bad_rows: the copies keep the real data's identical and empty pairs (test above), so a config
    # that keeps `bad_rows: error` on such a dataset would stop on the real data too.
    data = DataArguments(**{k: v for k, v in raw.items() if k in config_fields(DataArguments)})
    tok = make_tiny_tokenizer(raw.get("chat_template") or make_tiny_tokenizer().chat_template)
    for split in filter(None, (data.train_split, data.eval_split)):
        if "loss" in raw:
            rows, report = tokenized_pairs_loader(data, tok)(data.dataset, split, 4)
        else:
            rows, report = tokenize_sft(load_rows(data.dataset, split)[:4], tok, max_length=data.max_length)
        assert rows and report.kept == len(rows), f"{path.name}: {split}"


QUIRKY = (UF, HH)  # the real data holds pairs with identical or empty responses (rehearsal_data keeps some)


@pytest.mark.parametrize(("path", "raw"), [p for p in _hub_configs() if p.values[1]["dataset"] in QUIRKY])
def test_configs_on_data_with_bad_pairs_drop_them_and_say_why(path, raw):
    """Real UltraFeedback and hh-rlhf hold such pairs: `bad_rows: error` (the default) would stop these runs."""
    text = path.read_text(encoding="utf-8")
    assert raw.get("bad_rows") == "drop", f"{path.name}: bad_rows {raw.get('bad_rows', 'error (default)')}"
    assert "bad_rows: drop" in raw["hparams_source"], f"{path.name}: hparams_source does not give the reason"
    assert "bad_rows: drop  # " in text, f"{path.name}: no comment at the key"


def test_shp_goes_through_the_sams_loader(mirrored):
    from prefopt.evaluation.preference_accuracy import load_test_pairs

    rows = load_rows(SHP, "test")
    kept = [r for r in rows if r["score_ratio"] >= 2]  # eric-mitchell's filter, as SamS' data
    pairs, source, name = load_test_pairs("shp", "test", 2.0, "drop")
    assert (source, name) == (SHP, "shp") and 0 < len(pairs) == len(kept) < len(rows)
    for pair, row in zip(pairs, kept, strict=True):
        winner = row["human_ref_A"] if row["labels"] == 1 else row["human_ref_B"]
        assert pair.prompt == [{"role": "user", "content": row["history"]}]
        assert pair.chosen == [{"role": "assistant", "content": winner}]


def test_apo_files_go_through_the_reward_readers(mirror):
    from prefopt.reward.converter import apo_items
    from prefopt.reward.data import load_items
    from prefopt.reward.sampling import load_queries

    apo = mirror / "data/apo/hh-split"
    items, dropped = load_items(str(apo / "rm_data/hh_split_rm.train.json"))
    assert len(items) == 24 and not dropped and all(it["type"] == "hh" and it["scores"] == [1.0, 0.0] for it in items)
    assert all(it["query"].endswith("\n\nAssistant:") and it["query"].startswith("\n\nHuman:") for it in items)
    converted, _ = load_items(str(apo / "rm_data/apo_text_scores.json"))
    assert len(converted) == 8 * 4 and {it["type"] for it in converted} == {"apo"}
    golden = json.loads((apo / "rm_data/hh_split_rm.golden.json").read_text())
    samples = json.loads((apo / "rm_data/hh_split_rm_alpaca_v0.sample.json").read_text())
    assert apo_items(golden, samples) == json.loads((apo / "rm_data/apo_text_scores.json").read_text())
    assert len(load_queries(str(apo / "llm_data/hh_split_llm.train.json"), "train")) == 12
    for name in ("hh_cleaned_origin.test.json", "hh_split_llm.valid.json"):
        assert len(load_items(str(apo / "eval_data" / name))[0]) == 8


# ---- deterministic, cached, atomic -------------------------------------------------------------------------------------
def test_build_is_deterministic_cached_and_replaced_whole(mirror, tmp_path):
    from prefopt.toy.rehearsal_data import build_mirror

    files = {p.relative_to(mirror): p.read_bytes() for p in mirror.rglob("*") if p.is_file()}
    again = tmp_path / "again"
    marker = build_mirror(again, shared_data_dir())
    assert {p.relative_to(again): p.read_bytes() for p in again.rglob("*") if p.is_file()} == files
    stamp = (again / "REHEARSAL.json").stat().st_mtime_ns
    assert build_mirror(again, shared_data_dir()) == marker  # cached: nothing rewritten
    assert (again / "REHEARSAL.json").stat().st_mtime_ns == stamp
    (again / UF / "stale.txt").write_text("left by an older build")
    stale = json.loads((again / "REHEARSAL.json").read_text())
    (again / "REHEARSAL.json").write_text(json.dumps({**stale, "cache_key": "older"}))
    assert build_mirror(again, shared_data_dir())["fingerprint"] == marker["fingerprint"]  # a changed key rebuilds
    assert not (again / UF / "stale.txt").exists() and not list(tmp_path.glob(".again.*"))


def test_apo_relative_paths_read_the_mirror_copy_while_rehearsing(mirrored):
    """The APO configs name repository-relative files (data/apo/hh-split/...): while the mirror is set, those paths
    load the mirror's copies, as hub ids do; paths the mirror does not hold pass through."""
    from prefopt.reward.data import load_items
    from prefopt.reward.score_eval import data_source

    rel = "data/apo/hh-split/rm_data/hh_split_rm.train.json"
    assert resolve_local_copy(rel) == str(mirrored / rel)
    items, _ = load_items(rel)
    assert len(items) == 24
    assert data_source("hh-test") == (str(mirrored / "data/apo/hh-split/eval_data/hh_cleaned_origin.test.json"),
                                      "hh-test")
    assert resolve_local_copy("data/pythia-2.8b-hh/sft") == "data/pythia-2.8b-hh/sft"  # not mirrored
    assert resolve_local_copy(str(mirrored / rel)) == str(mirrored / rel)  # absolute: unchanged
