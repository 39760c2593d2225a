"""prefopt.toy.addition: the addition task, its judge, flawed SFT data and on-policy pairs."""

from __future__ import annotations

import pytest

from prefopt.core.errors import InputError
from prefopt.toy.addition import AdditionTask, build_onpolicy_pairs, carry_dropped, carry_stats, has_carry, parse_prompt


@pytest.fixture(scope="module")
def task():
    return AdditionTask()


def test_prompt_answer_judge(task):
    p = task.prompt(47, 38)
    assert p == "47+38=" and parse_prompt(p) == (47, 38) and task.answer(47, 38) == "85"
    assert task.judge(p, "85") == 1.0
    assert task.judge(p, " 85\n") == 1.0
    assert task.judge(p, [{"role": "assistant", "content": "85"}]) == 1.0
    assert task.judge([{"role": "user", "content": p}], "85") == 1.0
    for bad in ["75", "86", "085", "85.0", "8 5", "", "85<|eos|>", "\x00", "+", None, 85, [], ["85"]]:
        assert task.judge(p, bad) == 0.0, bad
    with pytest.raises(InputError):
        task.judge("hello", "85")


def test_carry(task):
    assert has_carry(47, 38) and not has_carry(52, 61) and not has_carry(10, 10)
    assert carry_dropped(47, 38) == 75 and carry_dropped(95, 17) == 102 and carry_dropped(52, 61) == 113
    assert task.flawed_answer(47, 38) == "75"
    assert all(carry_dropped(a, b) == a + b for a, b in task.all_problems() if not has_carry(a, b))
    assert all(carry_dropped(a, b) != a + b for a, b in task.all_problems() if has_carry(a, b))


def test_splits_disjoint_and_deterministic(task):
    s = task.splits()
    assert list(s) == ["sft", "pairs", "val", "test"]
    assert (len(s["pairs"]), len(s["val"]), len(s["test"])) == (600, 200, 500)
    assert len(s["sft"]) == 90 * 90 - 1300
    sets = {k: set(v) for k, v in s.items()}
    assert all(len(sets[k]) == len(s[k]) for k in s)  # no duplicates inside a split
    names = list(s)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not sets[a] & sets[b], (a, b)
    assert task.splits() == s and AdditionTask(seed=0).splits() == s
    assert task.splits(seed=1)["test"] != s["test"]
    # both carry and no-carry problems in the held-out set
    assert 0.3 < sum(has_carry(*parse_prompt(p)) for p in s["test"]) / 500 < 0.6


def test_sft_rows_carry_drop(task):
    rows, st = task.sft_rows()
    assert st["n_rows"] == len(rows) == len(task.splits()["sft"])
    assert rows[0]["messages"][0]["role"] == "user" and rows[0]["messages"][1]["role"] == "assistant"
    n_carry = n_wrong = 0
    for i, r in enumerate(rows):
        p, ans = r["messages"][0]["content"], r["messages"][1]["content"]
        a, b = parse_prompt(p)
        if has_carry(a, b):
            n_carry += 1
            if ans != str(a + b):
                assert ans == str(carry_dropped(a, b))
                n_wrong += 1
        else:
            assert ans == str(a + b)  # no-carry problems are never flawed
        assert (task.judge(p, ans) == 0.0) == (i in set(st["flawed"]))
    assert n_carry == st["n_carry"] and n_wrong == st["n_flawed"]
    assert abs(n_wrong / n_carry - 0.6) < 0.01
    assert task.sft_rows() == (rows, st)  # deterministic
    clean, st0 = AdditionTask(carry_drop=0.0).sft_rows()
    assert st0["n_flawed"] == 0 and all(
        task.judge(r["messages"][0]["content"], r["messages"][1]["content"]) for r in clean
    )


def test_build_onpolicy_pairs(task):
    prompts = ["47+38=", "10+10=", "52+61=", "99+99="]
    samples = [
        ["75", "85", "85", "x"],  # best = first "85" (index 1), worst = first 0.0 ("75", index 0)
        ["20", "20"],  # all correct: no pair
        ["1", "2", "3"],  # all wrong: no pair
        ["198", "189"],
    ]
    rows, st = build_onpolicy_pairs(prompts, samples, task.judge)
    assert st["n_prompts"] == 4 and st["n_pairs"] == 2 and st["n_no_difference"] == 2
    assert st["n_samples"] == 11 and st["mean_score"] == pytest.approx(5 / 11)
    assert rows[0] == {
        "prompt": [{"role": "user", "content": "47+38="}],
        "chosen": [{"role": "assistant", "content": "85"}],
        "rejected": [{"role": "assistant", "content": "75"}],
    }
    assert rows[1]["chosen"][0]["content"] == "198" and rows[1]["rejected"][0]["content"] == "189"


def test_build_onpolicy_pairs_ties_and_messages():
    scores = {"a": 0.5, "b": 1.0, "c": 1.0, "d": 0.0, "e": 0.0}
    prompt = [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}]
    rows, st = build_onpolicy_pairs([prompt], [["a", "b", "c", "d", "e"]], lambda p, r: scores[r])
    assert rows[0]["prompt"] == prompt
    assert rows[0]["chosen"][0]["content"] == "b" and rows[0]["rejected"][0]["content"] == "d"  # first occurrence
    with pytest.raises(InputError):
        build_onpolicy_pairs(["q"], [], lambda p, r: 0.0)
    with pytest.raises(InputError):
        build_onpolicy_pairs(["q"], [[]], lambda p, r: 0.0)


def test_build_onpolicy_pairs_never_uses_empty_samples(task):
    # "" is wrong (score 0) but has no response tokens: the worst usable sample "75" is the rejected one.
    rows, st = build_onpolicy_pairs(["47+38=", "10+10="], [["", "85", "75"], ["", "  "]], task.judge)
    assert st["n_pairs"] == 1 and st["n_empty_samples"] == 3 and st["n_no_difference"] == 1
    assert rows[0]["rejected"][0]["content"] == "75"


def test_carry_stats(task):
    prompts = ["47+38=", "47+38=", "10+10=", "52+61="]
    st = carry_stats(prompts, ["85", "75", "20", "999"], task)
    assert st["n"] == 4 and st["n_carry"] == 2 and st["n_no_carry"] == 2
    assert st["accuracy"] == 0.5 and st["carry_accuracy"] == 0.5 and st["no_carry_accuracy"] == 0.5
    assert st["carry_dropped_rate"] == 0.5
