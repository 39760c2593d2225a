"""MT-Bench (prefopt/evaluation/mt_bench.py): rating parsing, judge prompt and reference by category and turn,
aggregation by hand, the metric id of a judge, FastChat conversation templates, failing fast, and a whole run."""

from __future__ import annotations

import json
import shutil

import pytest

from prefopt.core.errors import InputError
from prefopt.evaluation import mt_bench as mt
from prefopt.evaluation.answers import Question


def test_parse_rating_like_fastchat():
    assert mt.parse_rating("The answer is fine. Rating: [[7]]") == 7.0
    assert mt.parse_rating("Rating: [[8.5]] and later [[3]]") == 8.5  # the first match
    assert mt.parse_rating("Rating: [6] since [[4]]") == 4.0  # double brackets win even when later
    assert mt.parse_rating("Rating: [6]") == 6.0  # single-bracket fallback
    assert mt.parse_rating("Rating: 6/10") == -1.0
    assert mt.parse_rating("[[ten]]") == -1.0


def test_prompt_and_reference_by_category_and_turn():
    assert mt.judge_prompt_name("writing", 1) == "single-v1"
    assert mt.judge_prompt_name("writing", 2) == "single-v1-multi-turn"
    for cat in ("math", "reasoning", "coding"):
        assert mt.needs_reference(cat)
        assert mt.judge_prompt_name(cat, 1) == "single-math-v1"
        assert mt.judge_prompt_name(cat, 2) == "single-math-v1-multi-turn"
    for cat in ("writing", "roleplay", "extraction", "stem", "humanities"):
        assert not mt.needs_reference(cat)


def _prompts():
    return {
        "single-v1": {"system_prompt": "S", "prompt_template": "Q={question} A={answer}"},
        "single-v1-multi-turn": {"system_prompt": "S2", "prompt_template": "{question_1}|{answer_1}|{question_2}|{answer_2}"},
        "single-math-v1": {"system_prompt": "M", "prompt_template": "Q={question} R={ref_answer_1} A={answer}"},
        "single-math-v1-multi-turn": {"system_prompt": "M2",
                                      "prompt_template": "{ref_answer_1}/{ref_answer_2}|{answer_1}/{answer_2}"},
    }


def test_build_request_fills_the_fastchat_keys():
    q = Question(id="101", turns=["t1", "t2"], category="reasoning")
    r1 = mt.build_request(_prompts(), q, ["a1", "a2"], 1, reference=["r1", "r2"])
    assert (r1.system, r1.user, r1.fields["answer"]) == ("M", "Q=t1 R=r1 A=a1", "a1")
    r2 = mt.build_request(_prompts(), q, ["a1", "a2"], 2, reference=["r1", "r2"])
    assert (r2.system, r2.user, r2.fields["answer"]) == ("M2", "r1/r2|a1/a2", "a2")
    w = Question(id="81", turns=["t1", "t2"], category="writing")
    assert mt.build_request(_prompts(), w, ["a1", "a2"], 2).user == "t1|a1|t2|a2"
    with pytest.raises(InputError, match="reference"):
        mt.build_request(_prompts(), q, ["a1", "a2"], 1, reference=None)


def test_aggregate_by_hand():
    ratings = [("81", "writing", 1, 8.0), ("81", "writing", 2, 6.0), ("101", "math", 1, 3.0),
               ("101", "math", 2, -1.0), ("102", "math", 1, 5.0), ("102", "math", 2, 4.0)]
    s = mt.aggregate(ratings)
    # valid: 8, 6, 3, 5, 4 -> overall 26 / 5 = 5.2 (not the mean of the turn means, (16/3 + 5) / 2)
    assert s["score"] == pytest.approx(5.2)
    assert s["turn_1"] == pytest.approx(16 / 3) and s["turn_2"] == pytest.approx(5.0)
    assert s["categories"]["writing"] == {"score": 7.0, "turn_1": 8.0, "turn_2": 6.0}
    assert s["categories"]["math"]["score"] == pytest.approx(4.0)
    assert s["categories"]["math"]["turn_2"] == 4.0
    assert (s["n_rated"], s["n_unparsed"]) == (5, 1)
    with pytest.raises(InputError, match="no judgment"):
        mt.aggregate([("81", "writing", 1, -1.0)])


def test_metric_id_of_the_judge():
    assert mt.metric_id("gpt-4-1106-preview") == "score_gpt4_turbo"
    assert mt.metric_id("openai:gpt-4-turbo@http://localhost:8000/v1") == "score_gpt4_turbo"
    assert mt.metric_id("gpt-4") == "score_gpt4"
    assert mt.metric_id("rule:length") == "score"
    assert mt.metric_id("hf:some/model") == "score"


def test_fastchat_conversation_template():
    pytest.importorskip("fastchat")
    from prefopt.evaluation.answers import load_policy

    _, tok = load_policy("tiny:1m/chat", "fastchat:zephyr")
    text = tok.apply_chat_template([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"},
                                    {"role": "user", "content": "q2"}], add_generation_prompt=True, tokenize=False)
    # FastChat's zephyr conversation (empty system turn), written out by hand:
    assert text == "<|system|>\n</s>\n<|user|>\nhi</s>\n<|assistant|>\nyo</s>\n<|user|>\nq2</s>\n<|assistant|>\n"
    assert tok.prefopt_stop == {"stop": ("</s>",), "stop_token_ids": (2,)}
    with pytest.raises(InputError, match="no conversation template"):
        load_policy("tiny:1m/chat", "fastchat:no-such-template")


def test_references_of_the_shared_data(shared_data):
    turbo = mt.load_references(shared_data("simpo_repo_assets") / "eval" / "mt-bench" / "gpt-4-1106-preview.jsonl")
    gpt4 = mt.load_references(shared_data("mt_bench") / "reference_answer_gpt-4.jsonl")
    assert sorted(turbo, key=int) == [str(i) for i in range(101, 131)] == sorted(gpt4, key=int)
    qs = mt.load_questions(shared_data("mt_bench") / "question.jsonl")
    assert {q.id for q in qs if mt.needs_reference(q.category)} == set(turbo)  # references cover exactly those
    assert turbo["101"][0] != gpt4["101"][0]


def _subset(tmp_path, shared_data, ids):
    src = shared_data("mt_bench")
    data = tmp_path / "mt_bench"
    data.mkdir()
    rows = [line for line in (src / "question.jsonl").read_text().splitlines() if json.loads(line)["question_id"] in ids]
    (data / "question.jsonl").write_text("\n".join(rows) + "\n")
    shutil.copy(src / "judge_prompts.jsonl", data / "judge_prompts.jsonl")
    return data


def test_fails_fast_without_key(tmp_path, monkeypatch, shared_data):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    data = shared_data("mt_bench")
    with pytest.raises(InputError, match="OPENAI_API_KEY"):
        mt.run_mt_bench(model="tiny:1m/chat", out=tmp_path / "run" / "mt-bench.json", data=data,
                        reference=data / "reference_answer_gpt-4.jsonl")
    assert not (tmp_path / "run").exists()


def test_end_to_end_tiny_model_rule_judge(tmp_path, shared_data):
    data = _subset(tmp_path, shared_data, {81, 111})  # a writing question and a math one (graded with a reference)
    ref = shared_data("simpo_repo_assets") / "eval" / "mt-bench" / "gpt-4-1106-preview.jsonl"
    out = tmp_path / "run" / "mt-bench.json"
    result = mt.run_mt_bench(model="tiny:1m/chat", out=out, data=data, reference=ref, judge="rule:length",
                             generation="fastchat-default max_new_tokens=24")
    assert json.loads(out.read_text())["metrics"] == result["metrics"]
    d = result["details"]
    assert result["benchmark"] == "mt-bench" and list(result["metrics"]) == ["score"]
    assert (d["n_rated"], d["n_unparsed"]) == (4, 0)  # 2 questions x 2 turns
    assert set(d["categories"]) == {"writing", "math"}
    # Both turns were answered, the second after the first; the judge saw the -math- prompt with the reference.
    answers = json.loads((tmp_path / "run" / "mt-bench" / "answers.jsonl").read_text().splitlines()[0])["answers"]
    assert len(answers) == 2
    judged = {json.loads(x)["key"]: json.loads(x)["judgment"]
              for x in (tmp_path / "run" / "mt-bench" / "judgments.jsonl").read_text().splitlines()}
    assert set(judged) == {"81/turn1", "81/turn2", "111/turn1", "111/turn2"}
    # The rule judge rates 1 + words // 5 (at most 10): recompute the overall score by hand from the answers.
    by_id = {json.loads(x)["id"]: json.loads(x)["answers"]
             for x in (tmp_path / "run" / "mt-bench" / "answers.jsonl").read_text().splitlines()}
    expected = [min(10, 1 + len(a.split()) // 5) for q in ("81", "111") for a in by_id[q]]
    assert result["metrics"]["score"] == pytest.approx(sum(expected) / 4)
    assert d["turn_1"] == pytest.approx((expected[0] + expected[2]) / 2)
    assert d["categories"]["math"]["score"] == pytest.approx((expected[2] + expected[3]) / 2)


def test_large_model_refused_without_gpu(tmp_path, monkeypatch):
    # Shared by the three targets (prefopt/evaluation/machine.py). Llama-3-8B's shape, on the meta device: its
    # published parameter count, 8,030,261,248.
    import torch
    from transformers import LlamaConfig

    from prefopt.evaluation.machine import check_model_fits, count_parameters

    LlamaConfig(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
                num_key_value_heads=8, vocab_size=128256).save_pretrained(tmp_path)
    assert count_parameters(str(tmp_path)) == 8_030_261_248
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(InputError, match="8.0B parameters.*no GPU"):
        check_model_fits(str(tmp_path))
    check_model_fits(str(tmp_path), allow_large=True)  # a warning only
    check_model_fits("tiny:1m/chat")  # small: fine
    assert count_parameters(str(tmp_path / "missing")) is None  # unreadable: left to the loader
