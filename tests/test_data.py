"""prefopt.data: formats, files, errors, tokenization rules, truncation, reports and collators (hand-built data)."""

from __future__ import annotations

import gzip
import json
import logging

import pytest
import torch
from conftest import CHAT_TEMPLATE, make_tiny_tokenizer

from prefopt.core.errors import InputError
from prefopt.data import (
    PairCollator,
    PairList,
    PreferencePair,
    SFTCollator,
    TokenizeReport,
    load_pairs,
    load_rows,
    to_pairs,
    tokenize_pairs,
    tokenize_sft,
)

U = lambda text: {"role": "user", "content": text}  # noqa: E731
A = lambda text: {"role": "assistant", "content": text}  # noqa: E731
S = lambda text: {"role": "system", "content": text}  # noqa: E731


def write_jsonl(path, rows, raw_lines=()):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
        for line in raw_lines:
            f.write(line + "\n")
    return path


def assert_input_error(err: InputError, *parts: str) -> str:
    """The message names everything in `parts`, carries a fix, and is short."""
    text = str(err)
    for part in parts:
        assert part in text, f"{part!r} not in {text!r}"
    assert "fix:" in text
    assert len(text.splitlines()) <= 3 and len(text) < 700, text
    return text


def one(rows, source="data.jsonl", **kw) -> PreferencePair:
    pairs = to_pairs(rows, source, **kw)
    assert len(pairs) == 1
    return pairs[0]


# ---- formats -------------------------------------------------------------------------------------------
def test_ultrafeedback_message_lists_without_prompt():
    p = one([{"chosen": [S("be brief"), U("hi"), A("hello!")], "rejected": [S("be brief"), U("hi"), A("go away")]}])
    assert p.prompt == [S("be brief"), U("hi")]
    assert p.chosen == [A("hello!")] and p.rejected == [A("go away")]
    assert p.where == "data.jsonl:row 1"


def test_ultrafeedback_string_prompt_is_not_duplicated():
    row = {"prompt": "hi", "chosen": [U("hi"), A("hello!")], "rejected": [U("hi"), A("go away")], "score_chosen": 9.0}
    p = one([row])
    assert p.prompt == [U("hi")] and p.chosen == [A("hello!")]
    # responses alone + a string prompt: the prompt becomes the user turn
    p = one([{"prompt": "hi", "chosen": [A("hello!")], "rejected": [A("go away")]}])
    assert p.prompt == [U("hi")]
    # a system turn before the response but no user turn: the prompt string is added after it
    p = one([{"prompt": "hi", "chosen": [S("sys"), A("hello!")], "rejected": [S("sys"), A("no")]}])
    assert p.prompt == [S("sys"), U("hi")]


def test_message_list_prompt_with_full_conversations_in_chosen():
    row = {"prompt": [U("hi")], "chosen": [U("hi"), A("hello!")], "rejected": [A("go away")]}
    p = one([row])
    assert p.prompt == [U("hi")] and p.chosen == [A("hello!")] and p.rejected == [A("go away")]
    # TRL's conversational format with string responses
    p = one([{"prompt": [U("hi")], "chosen": "hello!", "rejected": "go away"}])
    assert p.chosen == [A("hello!")]


def test_plain_strings():
    p = one([{"prompt": "2+2?", "chosen": "4", "rejected": "5", "extra": 1}])
    assert p == PreferencePair([U("2+2?")], [A("4")], [A("5")], "data.jsonl:row 1")


def test_plain_string_prompt_in_hh_rlhf_form_is_split_into_turns():
    row = {"prompt": "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: 2+2?\n\nAssistant:", "chosen": " 4", "rejected": " 5"}
    p = one([row])
    assert p.prompt == [U("hi"), A("hello"), U("2+2?")]
    assert p.chosen == [A(" 4")]


def test_hh_rlhf_dialogues():
    base = "\n\nHuman: what is 2+2?\n\nAssistant: Why?\n\nHuman: homework\n\nAssistant:"
    p = one([{"chosen": base + " It is 4.", "rejected": base + " Do it yourself."}])
    assert p.prompt == [U("what is 2+2?"), A("Why?"), U("homework")]
    assert p.chosen == [A("It is 4.")] and p.rejected == [A("Do it yourself.")]


def test_hh_rlhf_lost_marker_is_joined_into_the_last_turn():
    # like harmless-base-test row 1255: a lost "\n\n" before "Human:" gives two Assistant turns in a row
    base = "\n\nHuman: q1\n\nAssistant:"
    chosen = base + " a1.  Human: q2\n\nAssistant: a2"
    p = one([{"chosen": chosen, "rejected": base + " b"}])
    assert p.prompt == [U("q1")]
    assert p.chosen == [A("a1.  Human: q2\n\na2")] and p.rejected == [A("b")]


def test_hh_rlhf_prompts_that_differ_are_an_error():
    rows = [{"chosen": "\n\nHuman: a\n\nAssistant: x", "rejected": "\n\nHuman: b\n\nAssistant: y"}]
    with pytest.raises(InputError) as e:
        to_pairs(rows, "hh.jsonl")
    assert_input_error(e.value, "hh.jsonl:row 1", "differs", "'rejected'", "bad_rows='drop'")


def test_sharegpt():
    row = {
        "system": "be kind",
        "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hey"},
                          {"from": "human", "value": "bye"}],
        "chosen": {"from": "gpt", "value": "goodbye"},
        "rejected": {"from": "gpt", "value": "whatever"},
    }
    p = one([row])
    assert p.prompt == [S("be kind"), U("hi"), A("hey"), U("bye")]
    assert p.chosen == [A("goodbye")] and p.rejected == [A("whatever")]


# ---- files ---------------------------------------------------------------------------------------------
ROWS = [{"prompt": f"q{i}", "chosen": f"good {i}", "rejected": f"bad {i}"} for i in range(3)]


def test_jsonl_json_gz_and_parquet_files(tmp_path):
    import pandas as pd

    write_jsonl(tmp_path / "d.jsonl", ROWS)
    (tmp_path / "d.json").write_text(json.dumps(ROWS))
    (tmp_path / "s.json").write_text(json.dumps({"train": ROWS[:1], "test": ROWS[1:]}))
    (tmp_path / "lines.json").write_text("\n".join(json.dumps(r) for r in ROWS))
    (tmp_path / "d.jsonl.gz").write_bytes(gzip.compress((tmp_path / "d.jsonl").read_bytes()))
    pd.DataFrame(ROWS).to_parquet(tmp_path / "d.parquet")
    for name in ("d.jsonl", "d.json", "lines.json", "d.jsonl.gz", "d.parquet"):
        assert load_rows(str(tmp_path / name)) == ROWS, name
    assert load_rows(str(tmp_path / "s.json"), split="test") == ROWS[1:]
    pairs = load_pairs(str(tmp_path / "d.parquet"))
    assert [p.chosen for p in pairs] == [[A(f"good {i}")] for i in range(3)]
    assert pairs[2].where == f"{tmp_path / 'd.parquet'}:row 3"


def test_message_lists_round_trip_through_parquet(tmp_path):
    import pandas as pd

    rows = [{"prompt": "hi", "chosen": [U("hi"), A("hello")], "rejected": [U("hi"), A("no")]}]
    pd.DataFrame(rows).to_parquet(tmp_path / "m.parquet")
    assert one(load_rows(str(tmp_path / "m.parquet"))).chosen == [A("hello")]


def test_folders(tmp_path):
    import pandas as pd
    from datasets import Dataset, DatasetDict

    DatasetDict({"train": Dataset.from_list(ROWS), "test": Dataset.from_list(ROWS[:1])}).save_to_disk(tmp_path / "dd")
    assert load_rows(str(tmp_path / "dd"), "test") == ROWS[:1]
    with pytest.raises(InputError) as e:
        load_rows(str(tmp_path / "dd"), "validation")
    assert_input_error(e.value, "'validation'", "['test', 'train']")

    plain = tmp_path / "plain"
    plain.mkdir()
    write_jsonl(plain / "train.jsonl", ROWS)
    pd.DataFrame(ROWS[:2]).to_parquet(plain / "test.parquet")
    write_jsonl(plain / "eval_clean.jsonl", ROWS[:1])
    assert load_rows(str(plain)) == ROWS
    assert load_rows(str(plain), "test") == ROWS[:2]
    assert load_rows(str(plain), "eval") == ROWS[:1]  # one file starting with the split name
    assert load_pairs(str(plain), "eval")[0].where == f"{plain / 'eval_clean.jsonl'}:row 1"

    hub = tmp_path / "hub" / "data"
    hub.mkdir(parents=True)
    pd.DataFrame(ROWS[:2]).to_parquet(hub / "train_prefs-00000-of-00002.parquet")
    pd.DataFrame(ROWS[2:]).to_parquet(hub / "train_prefs-00001-of-00002.parquet")
    pd.DataFrame(ROWS[:1]).to_parquet(hub / "train_sft-00000-of-00001.parquet")
    assert load_rows(str(hub.parent), "train_prefs") == ROWS
    with pytest.raises(InputError) as e:
        load_rows(str(hub.parent), "train")
    assert_input_error(e.value, "ambiguous", "train_prefs", "train_sft")
    with pytest.raises(InputError) as e:
        load_rows(str(hub.parent), "test")
    assert_input_error(e.value, "no data file for split 'test'", "train_prefs-00000-of-00002.parquet")


def test_hub_id_offline_and_missing_path(monkeypatch, tmp_path):
    import datasets
    import huggingface_hub

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(InputError) as e:
        load_rows("nobody-prefopt/no-such-dataset", split="train_prefs")
    assert_input_error(e.value, "'nobody-prefopt/no-such-dataset'", "offline", "local path")
    with pytest.raises(InputError) as e:
        load_rows(str(tmp_path / "missing.jsonl"))
    assert_input_error(e.value, "missing.jsonl", "no such file")


# ---- bad input ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "row, parts",
    [
        ({"prompt": "p", "chosen": "c"}, ["missing column(s) 'rejected'", "prompt+chosen+rejected"]),
        ({"prompt": "p", "chosen": "  ", "rejected": "r"}, ["field 'chosen'", "empty"]),
        ({"prompt": "p", "chosen": "same", "rejected": "same"}, ["'chosen' and 'rejected' are identical"]),
        ({"prompt": "p", "chosen": 3, "rejected": "r"}, ["field 'chosen' is a int"]),
        ({"prompt": 7, "chosen": "c", "rejected": "r"}, ["field 'prompt' is a int"]),
        ({"chosen": [{"role": "user"}], "rejected": "r"}, ["field 'chosen'[0]", "role, content"]),
        ({"chosen": [U("hi"), U("x")], "rejected": [U("hi"), A("y")]}, ["field 'chosen'", "role 'user'"]),
        ({"chosen": [A("x")], "rejected": [A("y")]}, ["no prompt", "'prompt' column"]),
        ({"chosen": "just text", "rejected": "other"}, ["no 'prompt' column", "hh-rlhf"]),
        ({"prompt": "other", "chosen": [U("hi"), A("x")], "rejected": [U("hi"), A("y")]}, ["field 'prompt' differs"]),
    ],
)
def test_bad_rows_name_file_row_field_and_fix(tmp_path, row, parts):
    path = write_jsonl(tmp_path / "prefs.jsonl", ROWS[:1] + [row])
    with pytest.raises(InputError) as e:
        load_pairs(str(path))
    assert_input_error(e.value, "prefs.jsonl:row 2", *parts)


def test_bad_rows_drop_policy_counts_and_warns(tmp_path, caplog):
    rows = ROWS + [{"prompt": "p", "chosen": "same", "rejected": "same"}, {"prompt": "p", "chosen": "", "rejected": "x"}]
    path = write_jsonl(tmp_path / "prefs.jsonl", rows)
    with caplog.at_level(logging.WARNING):
        pairs = load_pairs(str(path), bad_rows="drop")
    assert isinstance(pairs, PairList) and len(pairs) == 3
    assert pairs.dropped == {"identical": 1, "empty_response": 1}
    assert "dropped 2 of 5 rows" in caplog.text and "prefs.jsonl:row 4" in caplog.text
    with pytest.raises(InputError):
        to_pairs(rows, "x", bad_rows="ignore")
    with pytest.raises(InputError):  # a structural problem raises under any policy
        to_pairs([{"prompt": "p", "chosen": "c"}], "x", bad_rows="drop")


def test_non_utf8_bytes(tmp_path):
    path = tmp_path / "latin.jsonl"
    path.write_bytes(json.dumps(ROWS[0]).encode() + b'\n{"prompt": "caf\xe9", "chosen": "a", "rejected": "b"}\n')
    with pytest.raises(InputError) as e:
        load_rows(str(path))
    assert_input_error(e.value, "latin.jsonl:line 2", "UTF-8", "0xe9", "iconv")


def test_truncated_json_line(tmp_path):
    path = write_jsonl(tmp_path / "cut.jsonl", ROWS, raw_lines=['{"prompt": "q", "chosen": "a", "rejec'])
    with pytest.raises(InputError) as e:
        load_rows(str(path))
    assert_input_error(e.value, "cut.jsonl:line 4", "invalid JSON", "truncated")
    (tmp_path / "cut.json").write_text(json.dumps(ROWS)[:-20])
    with pytest.raises(InputError) as e:
        load_rows(str(tmp_path / "cut.json"))
    assert_input_error(e.value, "cut.json:line 1", "invalid JSON")
    (tmp_path / "cut.jsonl.gz").write_bytes(gzip.compress(b"x" * 1000)[:-10])
    with pytest.raises(InputError) as e:
        load_rows(str(tmp_path / "cut.jsonl.gz"))
    assert_input_error(e.value, "cut.jsonl.gz", "gzip")


def test_empty_and_odd_files(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(InputError) as e:
        load_rows(str(tmp_path / "empty.jsonl"))
    assert_input_error(e.value, "empty.jsonl", "no rows")
    (tmp_path / "list.jsonl").write_text("[1, 2]\n")
    with pytest.raises(InputError) as e:
        load_rows(str(tmp_path / "list.jsonl"))
    assert_input_error(e.value, "list.jsonl:line 1", "not an object")
    (tmp_path / "d.csv").write_text("a,b\n")
    with pytest.raises(InputError) as e:
        load_rows(str(tmp_path / "d.csv"))
    assert_input_error(e.value, "d.csv", "unsupported", ".jsonl")


# ---- tokenization -------------------------------------------------------------------------------------------
PAIR = PreferencePair([S("sys"), U("what is two plus two?")], [A("four")], [A("five, surely")], "t.jsonl:row 1")


def ids_of(tok, text):
    return tok(text, add_special_tokens=False)["input_ids"]


def test_one_bos_eos_and_response_split(tiny_tokenizer):
    tok = tiny_tokenizer
    rows, report = tokenize_pairs([PAIR], tok, max_length=512, max_prompt_length=256)
    r = rows[0]
    assert r["prompt_ids"].count(tok.bos_token_id) == 1 and r["prompt_ids"][0] == tok.bos_token_id
    for key in ("chosen_ids", "rejected_ids"):
        assert r[key][-1] == tok.eos_token_id and tok.bos_token_id not in r[key]
    full = tok.apply_chat_template(PAIR.prompt + PAIR.chosen, tokenize=False)
    assert r["prompt_ids"] + r["chosen_ids"] == ids_of(tok, full)
    assert tok.decode(r["chosen_ids"]) == "four<|eos|>"
    assert tok.decode(r["prompt_ids"]).endswith("<|assistant|>")
    assert report.kept == report.total == 1 and report.settings["bos"] == "from the template: 1"


def test_role_header_moves_between_prompt_and_response(tiny_tokenizer):
    tok = tiny_tokenizer
    header = tok.convert_tokens_to_ids("<|assistant|>")
    (trl,), _ = tokenize_pairs([PAIR], tok, max_length=512, max_prompt_length=256)
    (simpo,), _ = tokenize_pairs([PAIR], tok, max_length=512, max_prompt_length=256, role_header_in_response=True)
    assert trl["prompt_ids"] == simpo["prompt_ids"] + [header]
    for key in ("chosen_ids", "rejected_ids"):
        assert simpo[key] == [header] + trl[key]
        assert simpo["prompt_ids"] + simpo[key] == trl["prompt_ids"] + trl[key]


@pytest.mark.parametrize(
    "template, bos, expect",
    [
        (CHAT_TEMPLATE, True, "from the template: 1"),
        (CHAT_TEMPLATE.replace("{{ bos_token }}", ""), True, "prepended (not in the template): 1"),
        (CHAT_TEMPLATE.replace("{{ bos_token }}", "{{ bos_token }}{{ bos_token }}"), True, "deduplicated"),
        (CHAT_TEMPLATE.replace("{{ bos_token }}", ""), False, "none"),
    ],
)
def test_exactly_one_bos_whatever_the_template(template, bos, expect):
    tok = make_tiny_tokenizer(template, bos=bos)
    (row,), report = tokenize_pairs([PAIR], tok, max_length=512, max_prompt_length=256)
    bos_id = make_tiny_tokenizer().bos_token_id
    assert row["prompt_ids"].count(bos_id) == (1 if bos else 0)
    if bos:
        assert row["prompt_ids"][0] == bos_id
    assert report.settings["bos"].startswith(expect)


def test_eos_appended_and_trailing_whitespace_after_eos_dropped():
    no_eos = make_tiny_tokenizer(CHAT_TEMPLATE.replace("+ eos_token", "+ '\\n'"))
    (row,), _ = tokenize_pairs([PAIR], no_eos, max_length=512, max_prompt_length=256)
    assert no_eos.decode(row["chosen_ids"]) == "four\n<|eos|>"
    chatml_like = make_tiny_tokenizer(CHAT_TEMPLATE.replace("+ eos_token", "+ eos_token + '\\n'"))
    (row,), _ = tokenize_pairs([PAIR], chatml_like, max_length=512, max_prompt_length=256)
    assert chatml_like.decode(row["chosen_ids"]) == "four<|eos|>"


def test_bpe_merge_across_the_boundary_moves_the_split_back(tiny_tokenizer):
    # the generation prompt ends inside a word: "...<|assistant|>hel" + "lo world" tokenizes as "he" "llo"
    template = CHAT_TEMPLATE.replace("'<|' + message['role'] + '|>'", "'<|' + message['role'] + '|>hel'").replace(
        "{{ '<|assistant|>' }}", "{{ '<|assistant|>hel' }}")
    tok = make_tiny_tokenizer(template)
    pair = PreferencePair([U("hi")], [A("lo world")], [A("p there")], "t:row 1")
    prompt_text = tok.apply_chat_template(pair.prompt, tokenize=False, add_generation_prompt=True)
    alone = ids_of(tok, prompt_text)
    (row,), _ = tokenize_pairs([pair], tok, max_length=512, max_prompt_length=256)
    for key, resp in (("chosen_ids", pair.chosen), ("rejected_ids", pair.rejected)):
        assert row["prompt_ids"] + row[key] == ids_of(tok, tok.apply_chat_template(pair.prompt + resp, tokenize=False))
    assert len(row["prompt_ids"]) < len(alone) and row["prompt_ids"] == alone[: len(row["prompt_ids"])]


def test_template_that_renders_the_prompt_differently_is_an_error():
    tok = make_tiny_tokenizer(CHAT_TEMPLATE.replace("{{ '<|assistant|>' }}", "{{ '<|assistant|>:' }}"))
    with pytest.raises(InputError) as e:
        tokenize_pairs([PAIR], tok, max_length=512, max_prompt_length=256)
    assert_input_error(e.value, "t.jsonl:row 1", "renders the prompt differently")


def test_template_failure_and_missing_template_are_input_errors():
    strict = make_tiny_tokenizer(CHAT_TEMPLATE.replace(
        "{% for message in messages %}",
        "{% for message in messages %}{% if message['role'] == 'system' %}"
        "{{ raise_exception('System role not supported') }}{% endif %}"))
    with pytest.raises(InputError) as e:
        tokenize_pairs([PAIR], strict, max_length=512, max_prompt_length=256)
    assert_input_error(e.value, "t.jsonl:row 1", "System role not supported")
    with pytest.raises(InputError) as e:
        tokenize_pairs([PAIR], make_tiny_tokenizer(None), max_length=512, max_prompt_length=256)
    assert_input_error(e.value, "no chat template")
    with pytest.raises(InputError) as e:
        tokenize_pairs([PAIR], make_tiny_tokenizer(), max_length=512, max_prompt_length=256, truncation_mode="middle")
    assert_input_error(e.value, "truncation_mode='middle'", "keep_end")


LONG_PROMPT = " ".join(f"w{i}" for i in range(60))


def test_keep_end_and_keep_start_truncation(tiny_tokenizer):
    tok = tiny_tokenizer
    pair = PreferencePair([U(LONG_PROMPT)], [A("yes " * 40)], [A("no " * 3)], "t:row 1")
    (full,), _ = tokenize_pairs([pair], tok, max_length=10_000, max_prompt_length=10_000)
    p = full["prompt_ids"]
    assert len(p) > 40 and len(full["chosen_ids"]) > 40
    (end,), report = tokenize_pairs([pair], tok, max_length=60, max_prompt_length=20)
    assert end["prompt_ids"] == [tok.bos_token_id] + p[-19:]  # keeps BOS and the END of the prompt
    assert tok.decode(end["prompt_ids"]).endswith("w59<|eos|><|assistant|>")
    assert end["chosen_ids"] == full["chosen_ids"][:40] and end["rejected_ids"] == full["rejected_ids"]
    assert (report.prompt_truncated, report.response_truncated, report.kept) == (1, 1, 1)
    assert "1 prompts truncated (keep_end)" in report.summary()
    (start,), report = tokenize_pairs([pair], tok, max_length=60, max_prompt_length=20, truncation_mode="keep_start")
    assert start["prompt_ids"] == p[:20]
    # only responses too long: the prompt stays whole
    (resp,), report = tokenize_pairs([pair], tok, max_length=len(p) + 5, max_prompt_length=len(p))
    assert resp["prompt_ids"] == p and len(resp["chosen_ids"]) == 5
    assert (report.prompt_truncated, report.response_truncated) == (0, 1)


def test_prompt_longer_than_max_length_is_an_error(tiny_tokenizer):
    pair = PreferencePair([U(LONG_PROMPT)], [A("yes")], [A("no")], "long.jsonl:row 7")
    with pytest.raises(InputError) as e:
        tokenize_pairs([pair], tiny_tokenizer, max_length=30, max_prompt_length=30)
    assert_input_error(e.value, "long.jsonl:row 7", "field 'prompt'", "max_length=30", "lower max_prompt_length")


def test_identical_after_truncation_is_dropped_and_counted(tiny_tokenizer, caplog):
    same_start = PreferencePair([U("q")], [A("a b c d e f g h i j k l m n o p q r s t u v")],
                                [A("a b c d e f g h i j k l m n o p q r s t u v w x y z")], "t:row 2")
    pairs = PairList([PAIR, same_start], dropped={"identical": 3})
    with caplog.at_level(logging.WARNING):
        rows, report = tokenize_pairs(pairs, tiny_tokenizer, max_length=20, max_prompt_length=8)
    assert len(rows) == 1 and report.kept == 1
    assert report.dropped == {"identical": 3, "identical_after_truncation": 1}
    assert report.total == 5 == report.kept + sum(report.dropped.values())
    assert "identical after truncation" in caplog.text and "t:row 2" in caplog.text
    assert "5 pairs: 1 kept" in report.summary() and "1 dropped (identical_after_truncation)" in report.summary()
    assert json.loads(json.dumps(report.as_dict()))["dropped"]["identical"] == 3


def test_progress_bar_and_many_rows(tiny_tokenizer):
    pairs = [PreferencePair([U(f"question {i}")], [A(f"good {i}")], [A(f"bad {i}")], f"t:row {i}") for i in range(600)]
    rows, report = tokenize_pairs(pairs, tiny_tokenizer, max_length=64, max_prompt_length=32, progress=True)
    assert len(rows) == 600 and report.kept == 600
    assert tiny_tokenizer.decode(rows[599]["chosen_ids"]) == "good 599<|eos|>"


def test_report_summary_and_dict():
    r = TokenizeReport(total=10, kept=7, prompt_truncated=2, response_truncated=1, dropped={"identical": 3},
                       settings={"truncation_mode": "keep_end"})
    assert r.summary() == ("10 pairs: 7 kept, 2 prompts truncated (keep_end), 1 responses truncated, "
                           "3 dropped (identical)")
    assert r.as_dict()["dropped"] == {"identical": 3}


# ---- collators ----------------------------------------------------------------------------------------------
def test_pair_collator_layout():
    rows = [
        {"prompt_ids": [1, 10], "chosen_ids": [11, 2], "rejected_ids": [12, 13, 14, 2], "where": "x"},
        {"prompt_ids": [1, 20, 21], "chosen_ids": [22, 2], "rejected_ids": [2]},
    ]
    b = PairCollator(pad_token_id=0)(rows)
    assert set(b) == {"input_ids", "attention_mask", "response_mask"}
    assert b["input_ids"].tolist() == [
        [1, 10, 11, 2, 0, 0],  # chosen block
        [1, 20, 21, 22, 2, 0],
        [1, 10, 12, 13, 14, 2],  # rejected block
        [1, 20, 21, 2, 0, 0],
    ]
    assert b["attention_mask"].tolist() == [[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 0], [1] * 6, [1, 1, 1, 1, 0, 0]]
    assert b["response_mask"].tolist() == [[0, 0, 1, 1, 0, 0], [0, 0, 0, 1, 1, 0], [0, 0, 1, 1, 1, 1],
                                           [0, 0, 0, 1, 0, 0]]
    assert b["input_ids"].dtype == torch.long
    b = PairCollator(pad_token_id=0, pad_to_multiple_of=8)(rows)
    assert b["input_ids"].shape == (4, 8) and b["response_mask"][:, 6:].sum() == 0


def test_pair_collator_reference_logps():
    rows = [{"prompt_ids": [1], "chosen_ids": [5, 2], "rejected_ids": [6, 2], "ref_chosen_logps": -1.5,
             "ref_rejected_logps": -2}, {"prompt_ids": [1], "chosen_ids": [7, 2], "rejected_ids": [8, 2],
                                          "ref_chosen_logps": -3.0, "ref_rejected_logps": -4.25}]
    b = PairCollator(pad_token_id=0)(rows)
    assert b["ref_chosen_logps"].dtype == torch.float32 and b["ref_chosen_logps"].tolist() == [-1.5, -3.0]
    assert b["ref_rejected_logps"].tolist() == [-2.0, -4.25]
    rows[1]["ref_chosen_logps"] = None
    with pytest.raises(ValueError):
        PairCollator(pad_token_id=0)(rows)
    with pytest.raises(InputError):
        PairCollator(pad_token_id=None)


def test_collator_on_tokenized_rows(tiny_tokenizer):
    rows, _ = tokenize_pairs([PAIR], tiny_tokenizer, max_length=512, max_prompt_length=256)
    b = PairCollator(tiny_tokenizer.pad_token_id)(rows)
    r = rows[0]
    assert b["response_mask"][0].sum() == len(r["chosen_ids"]) and b["response_mask"][1].sum() == len(r["rejected_ids"])
    chosen = b["input_ids"][0][b["response_mask"][0].bool()].tolist()
    assert chosen == r["chosen_ids"]


# ---- SFT ----------------------------------------------------------------------------------------------------
def test_tokenize_sft_formats_and_collator(tiny_tokenizer):
    tok = tiny_tokenizer
    rows = [
        {"messages": [S("sys"), U("hi"), A("hello")]},
        {"prompt": "2+2?", "completion": "4"},
        {"conversations": [{"from": "human", "value": "yo"}, {"from": "gpt", "value": "hey"}]},
    ]
    out, report = tokenize_sft(rows, tok, max_length=128)
    assert report.total == report.kept == 3 and report.unit == "rows"
    assert tok.decode(out[0]["prompt_ids"]) == "<|bos|><|system|>sys<|eos|><|user|>hi<|eos|><|assistant|>"
    assert [tok.decode(r["response_ids"]) for r in out] == ["hello<|eos|>", "4<|eos|>", "hey<|eos|>"]
    b = SFTCollator(pad_token_id=tok.pad_token_id)(out)
    n0 = len(out[0]["prompt_ids"])
    assert b["labels"][0, :n0].eq(-100).all()
    assert b["labels"][0, n0: n0 + len(out[0]["response_ids"])].tolist() == out[0]["response_ids"]
    assert (b["labels"] != -100).sum() == sum(len(r["response_ids"]) for r in out)
    assert b["labels"][b["attention_mask"] == 0].eq(-100).all()


def test_tokenize_sft_truncates_the_prompt_from_the_left(tiny_tokenizer):
    tok = tiny_tokenizer
    (full,), _ = tokenize_sft([{"prompt": LONG_PROMPT, "completion": "short"}], tok, max_length=1000)
    (cut,), report = tokenize_sft([{"prompt": LONG_PROMPT, "completion": "short"}], tok, max_length=24)
    assert len(cut["prompt_ids"]) + len(cut["response_ids"]) == 24
    assert cut["response_ids"] == full["response_ids"]
    assert cut["prompt_ids"] == [tok.bos_token_id] + full["prompt_ids"][-(len(cut["prompt_ids"]) - 1):]
    assert (report.prompt_truncated, report.response_truncated) == (1, 0)
    with pytest.raises(InputError) as e:
        tokenize_sft([{"text": "hello"}], tok, max_length=24, source="sft.jsonl")
    assert_input_error(e.value, "sft.jsonl:row 1", "messages", "completion")
    with pytest.raises(InputError) as e:
        tokenize_sft([{"prompt": "p", "completion": " "}], tok, max_length=24, source="sft.jsonl")
    assert_input_error(e.value, "sft.jsonl:row 1", "empty")
