"""eval-zeroeval (prefopt/evaluation/zeroeval.py, zeroeval_parse.py): ZeroEval's GSM8K / MMLU-Redux protocol.

Offline: hand-written GSM8K-style and MMLU-style questions whose answers we know, answered by a scripted fake
generator (the extraction and metric logic, every expected number worked out by hand) and by a tiny model (the
whole path: data folder, prompt, chat template, generation, result files).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from conftest import make_dry_run, make_tiny_tokenizer

import prefopt.evaluation.answers as answers_module
from prefopt.core.errors import InputError
from prefopt.evaluation import zeroeval as ze
from prefopt.evaluation.settings import parse_generation
from prefopt.evaluation.zeroeval_parse import evaluate_fraction, parse_output, score_gsm, score_mcqa, summarize
from prefopt.reproduce.results import load_reproduced

REPO = Path(__file__).resolve().parents[1]
COLORS = ["red", "green", "blue", "black"]  # correct: blue = C

# (model output, reference) -> (answered, correct, characters of the reasoning); every verdict checked by hand.
GSM_CASES = [
    ('```json\n{\n    "reasoning": "2 + 3 = 5",\n    "answer": "5"\n}\n```', "# 5", (True, True, 9)),
    ('{"reasoning": "r", "answer": 18}', "Natalia sold 48/2 = 24 clips.\n#### 18", (True, True, 1)),  # number, GSM8K ref
    ('{"answer": "$1,234.50"}', "# 1234.5", (True, True, 0)),             # '$' and ',' dropped
    ('{"answer": "3/4"}', "# 0.75", (True, True, 0)),                     # a fraction is evaluated
    ('{"answer": "1/3"}', "# 0.33", (True, False, 0)),                    # 0.333... != 0.33
    ('{"answer": "18 dollars"}', "# 18", (True, True, 0)),                # units after the number
    ('{"answer": "-5"}', "# -5", (True, True, 0)),
    ('{"answer": "5 or 6"}', "# 6", (True, False, 0)),                    # only the first number counts
    ('{"answer": ""}', "# 6", (True, False, 0)),                          # answered (the key exists), wrong
    ('{"reasoning": "line1\nline2", "answer": "4"}', "# 4", (True, True, 10)),  # newlines removed before parsing
    ('{"reasoning": "he said "hi" twice", "answer": "3"}', "# 3", (True, True, 8)),  # broken JSON: regex fallback
    ('The result is {"answer": 42 apples}', "# 42", (True, True, 0)),     # unquoted value
    ("Final answer: 42", "# 42", (True, True, 0)),                        # unquoted key, lower case
    ("Answer: 42", "# 42", (False, False, None)),                         # capitalised key: not accepted
    ("{'reasoning': 'x', 'answer': '7'}", "# 7", (False, False, None)),   # single quotes: not accepted
    ("The total is 42.", "# 42", (False, False, None)),                   # no answer field at all
    ('{"reasoning": "x", "result": 5}', "# 5", (False, False, None)),     # JSON without "answer"
]
MMLU_CASES = [
    ('{"reasoning": "sky", "answer": "C"}', (True, True, 3)),
    ('{"answer": "(C) blue"}', (True, True, 0)),                          # contains "C)"
    ('{"answer": "c"}', (True, False, 0)),                                # case matters
    ('{"answer": "C. blue"}', (True, False, 0)),
    ('{"answer": "blue"}', (True, False, 0)),                             # the choice text is not the letter
    ('{"answer": 3}', (True, False, 0)),                                  # a number: compared as "3"
    ('{"answer": ""}', (False, False, None)),                             # empty: no answer
    ('{"answer": null}', (False, False, None)),
    ('I pick "answer": "C" here', (True, True, 0)),                       # no braces: regex fallback
    ("so my answer: C", (True, True, 0)),
]


@pytest.mark.parametrize(("output", "reference", "expected"), GSM_CASES)
def test_gsm_extraction_and_verdict(output, reference, expected):
    s = score_gsm(output, reference)
    assert (s.answered, s.correct, s.reasoning_chars) == expected


@pytest.mark.parametrize(("output", "expected"), MMLU_CASES)
def test_mmlu_extraction_and_verdict(output, expected):
    s = score_mcqa(output, COLORS, "blue")
    assert (s.answered, s.correct, s.reasoning_chars) == expected


def test_which_json_object_is_read():
    two = '{"answer": "1"} then, on reflection: {"answer": "2"}'
    assert parse_output(two, "last")["answer"] == "2" and parse_output(two, "first")["answer"] == "1"
    # The chosen object must parse: a first object that does not falls back to the regex, not to the next object.
    braces = 'Let me compute {x}. {"reasoning": "r", "answer": "9"}'
    assert parse_output(braces, "first") == {"reasoning": "r", "answer": "9"}  # regex found both keys
    assert score_gsm(braces, "# 9", "first").correct and score_gsm(braces, "# 9", "last").correct
    # A '}' inside a string closes the object early, so it does not parse; the unquoted-value regex then reads the
    # answer up to the first white space.
    nested = '{"answer": {"value": "B"}, "x": "}"}'
    assert parse_output(nested, "last") == {"answer": '{"value":'}


def test_fractions_are_evaluated_without_executing_code():
    assert evaluate_fraction("3/4") == 0.75 and evaluate_fraction("(1+2)/3") == 1.0 and evaluate_fraction("-6/4") == -1.5
    for text in ("__import__('os').getcwd()/1", "x/2", "1/0", "3 apples/2", "2**1000/3"):
        assert evaluate_fraction(text) is None


def test_summary_by_hand():
    scored = [score_gsm(o, r) for o, r, _ in GSM_CASES]
    row = summarize(scored)
    assert row["total"] == 17
    assert row["accuracy"] == pytest.approx(100 * 10 / 17)      # the 10 True verdicts above
    assert row["no_answer"] == pytest.approx(100 * 4 / 17)      # the 4 unanswered
    assert row["length"] == pytest.approx((9 + 1 + 10 + 8) / 13)  # mean over the 13 answered
    assert summarize([score_gsm("nothing", "# 1")])["length"] is None


def test_prompts_are_zeroevals_templates():
    mc = ze.prompt_of(ze.Item("q", "What is 2+2?", "4", ("3", "4")))
    assert mc.startswith("\n## Question: \n\nWhat is 2+2?\n\n## Choices:\n\n- (A) 3\n- (B) 4\n\n\n## Instruction \n\n")
    assert 'with only the choice letter, e.g.,`"answer": "C"`.\n\n```json\n{\n    "reasoning": "___",' in mc
    oe = ze.prompt_of(ze.Item("q", "Tom has 3 apples.", "# 3"))
    assert oe.startswith("\n## Question: \n\nTom has 3 apples.\n\n\n## Instruction \n\nPlease answer this question by "
                         "first reasoning and then providing your answer.\n")
    assert oe.endswith('e.g.,`"answer": "42"`.\n\n```json\n{\n    "reasoning": "___",\n    "answer": "___"\n}\n```\n')


def test_decoding_defaults_and_imend_stop():
    s = parse_generation(ze.DEFAULT_GENERATION)
    assert (s.max_new_tokens, s.temperature, s.top_p, s.sampling) == (4096, 0.0, 1.0, False)
    tok = make_tiny_tokenizer()
    assert ze.with_imend_stop(s, tok).stop_token_ids == ()  # no <|im_end|> / <|eot_id|> in this vocabulary
    tok.add_tokens(["<|eot_id|>"], special_tokens=True)
    assert ze.with_imend_stop(s, tok).stop_token_ids == (tok.convert_tokens_to_ids("<|eot_id|>"),)


# --- data ---------------------------------------------------------------------------------------------------

GSM_ROWS = [
    {"id": "g1", "question": "Tom has 2 apples and buys 3 more. How many apples does he have?", "answer": "# 5"},
    {"id": "g2", "question": "A pen costs $4. What do 3 pens cost?", "answer": "# 12"},
    {"id": "g3", "question": "Half of 18 is?", "answer": "# 9"},
    {"id": "g4", "question": "What is 10 minus 7?", "answer": "# 3"},
]
MMLU_ROWS = [
    {"id": "m1", "question": "What colour is a clear daytime sky?", "choices": COLORS, "correct_answer": "blue"},
    {"id": "m2", "question": "Which number is prime?", "choices": ["4", "6", "7", "9"], "correct_answer": "7"},
    {"id": "m3", "question": "Water freezes at how many degrees Celsius?", "choices": ["0", "50", "100"],
     "correct_answer": "0"},
]
# What the scripted fake model answers, keyed by question id, with the verdict worked out by hand.
SCRIPT = {
    "g1": '{"reasoning": "2 + 3 = 5", "answer": "5"}',          # correct, reasoning 9 characters
    "g2": '```json\n{"reasoning": "3 x 4", "answer": "$12"}\n```',  # correct, 5
    "g3": '{"reasoning": "18 / 2", "answer": "8"}',             # wrong, 6
    "g4": "Seven minus... I am not sure.",                      # no answer
    "m1": '{"reasoning": "Rayleigh", "answer": "C"}',           # correct, 8
    "m2": '{"reasoning": "7", "answer": "B"}',                  # wrong, 1
    "m3": '{"reasoning": "", "answer": ""}',                    # no answer
}


def write_data(folder: Path) -> Path:
    """A local zero-eval copy in both accepted layouts: gsm.jsonl, and mmlu-redux/ as a hub snapshot folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "gsm.jsonl").write_text("".join(json.dumps(r) + "\n" for r in GSM_ROWS))
    (folder / "mmlu-redux").mkdir(exist_ok=True)
    (folder / "mmlu-redux" / "test-00000-of-00001.jsonl").write_text("".join(json.dumps(r) + "\n" for r in MMLU_ROWS))
    return folder


def test_data_formats_and_the_mmlu_redux_filter(tmp_path):
    raw = [  # edinburgh-dawg/mmlu-redux rows: ZeroEval keeps ok and corrected ground truths only
        {"question": "q1", "choices": ["a", "b", "c"], "answer": 2, "error_type": "ok", "correct_answer": None},
        {"question": "q2", "choices": ["a", "b", "c"], "answer": 0, "error_type": "wrong_groundtruth",
         "correct_answer": "B"},
        {"question": "q3", "choices": ["a", "b", "c"], "answer": 0, "error_type": "multiple_correct_answers",
         "correct_answer": "A"},
    ]
    (tmp_path / "mmlu-redux.jsonl").write_text("".join(json.dumps(r) + "\n" for r in raw))
    (tmp_path / "gsm.jsonl").write_text(json.dumps({"question": "q", "answer": "3 + 4 = 7\n#### 7"}) + "\n")
    items, _, left_out = ze.load_items(ze.TASKS["mmlu"], tmp_path)
    assert [(it.id, it.reference) for it in items] == [("mmlu-redux#0", "c"), ("mmlu-redux#1", "b")]
    assert left_out == 1
    (gsm,), _, _ = ze.load_items(ze.TASKS["gsm8k"], tmp_path)
    assert score_gsm('{"answer": "7"}', gsm.reference).correct


def test_bad_data_is_named(tmp_path):
    (tmp_path / "gsm.jsonl").write_text(json.dumps({"id": "a", "answer": "# 1"}) + "\n")
    with pytest.raises(InputError, match=r"gsm.jsonl:row 1.*'question'"):
        ze.load_items(ze.TASKS["gsm8k"], tmp_path)
    (tmp_path / "mmlu-redux.jsonl").write_text(json.dumps({"question": "q", "choices": ["a"], "correct_answer": "z"}) + "\n")
    with pytest.raises(InputError, match="not one of the choices"):
        ze.load_items(ze.TASKS["mmlu"], tmp_path)
    with pytest.raises(InputError, match="is not a folder"):
        ze.load_items(ze.TASKS["mmlu"], tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no 'mmlu-redux' data for task mmlu"):
        ze.load_items(ze.TASKS["mmlu"], tmp_path / "empty")
    with pytest.raises(InputError, match="unknown ZeroEval task"):
        ze.parse_tasks("gsm8k,math")


# --- end to end ---------------------------------------------------------------------------------------------

def test_scripted_model_metrics_by_hand(tmp_path, monkeypatch):
    """The fake generator answers from SCRIPT: the written metrics are the hand-worked ones."""
    seen = {}

    def fake_generate(model, tokenizer, conversations, batch_size=16, **kw):
        seen.update(kw)
        out = []
        for conv in conversations:
            (turn,) = conv
            qid = next(r["id"] for r in GSM_ROWS + MMLU_ROWS if f"\n{r['question']}\n" in turn["content"])
            out.append([SCRIPT[qid]])
        return out

    monkeypatch.setattr(answers_module, "generate", fake_generate)
    out = tmp_path / "run"
    results = ze.run_zeroeval(model="tiny:0.2m/chat", tasks="gsm8k,mmlu", out_dir=out, data=write_data(tmp_path / "d"))
    gsm, mmlu = results["gsm8k"], results["mmlu"]
    assert gsm["metrics"] == pytest.approx({"accuracy": 50.0, "no_answer": 25.0, "length": (9 + 5 + 6) / 3})
    assert mmlu["metrics"] == pytest.approx({"accuracy": 100 / 3, "no_answer": 100 / 3, "length": (8 + 1) / 2})
    assert gsm["details"]["solved"] == 2 and gsm["details"]["total"] == 4 and mmlu["details"]["answered"] == 2
    assert seen["max_new_tokens"] == 4096 and seen["do_sample"] is False  # zeroeval-default: greedy, 4096
    assert gsm["manifest"]["judge"] == "zeroeval-extraction:last-json"
    parsed = [json.loads(x) for x in (out / "gsm8k" / "parsed.jsonl").read_text().splitlines()]
    assert [p["correct"] for p in parsed] == [True, True, False, False]
    reproduced = {r.benchmark: r for r in load_reproduced(tmp_path)}  # <dir>/<run>/<benchmark>.json, as make verify reads
    assert reproduced["gsm8k"].metrics["accuracy"] == 50.0 and reproduced["mmlu"].metrics["no_answer"] == pytest.approx(100 / 3)


def test_end_to_end_tiny_model_through_the_script(tmp_path):
    """eval/zeroeval/run.py with a real (tiny) model: every step runs, and the file's numbers are its answers'."""
    spec = importlib.util.spec_from_file_location("ze_run", REPO / "eval" / "zeroeval" / "run.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "run"
    script.run(["--model", "tiny:1m/chat", "--data", str(write_data(tmp_path / "d")), "--out_dir", str(out),
                "--limit", "2", "--generation", "zeroeval-default max_new_tokens=12", "--cell", "gemma2-it-simpo"])
    for task, rows in (("gsm8k", GSM_ROWS), ("mmlu", MMLU_ROWS)):
        result = json.loads((out / f"{task}.json").read_text())
        assert result["benchmark"] == task and result["cell"] == "gemma2-it-simpo"
        assert result["details"]["total"] == 2 and result["manifest"]["generation"]["max_new_tokens"] == 12
        answers = [json.loads(x) for x in (out / task / "answers.jsonl").read_text().splitlines()]
        assert [a["id"] for a in answers] == [r["id"] for r in rows[:2]]
        items = {it.id: it for it in ze.load_items(ze.TASKS[task], tmp_path / "d")[0]}
        rescored = summarize([ze.score_item(ze.TASKS[task], items[a["id"]], a["answers"][0], "last") for a in answers])
        assert result["metrics"]["accuracy"] == rescored["accuracy"]
        assert result["metrics"]["no_answer"] == rescored["no_answer"]


def test_make_target_and_the_gemma_cells_call_it():
    out = make_dry_run("eval-zeroeval", "MODEL=m", "TASKS=gsm8k", "DATA=d", "OUT=o", "CELL=c", "TEMPLATE=gemma",
                       "GENERATION=zeroeval-default", "LIMIT=3")
    assert "eval/zeroeval/run.py --model m --tasks gsm8k --data d" in out
    assert "--out_dir o --cell c --template gemma" in out and "--generation 'zeroeval-default' --limit 3" in out
    cell = make_dry_run("eval-gemma2-it-simpo", "ZEROEVAL_DATA=z")
    assert "eval-zeroeval MODEL=outputs/gemma2-9b-it/simpo CELL=gemma2-it-simpo" in cell
    assert "TASKS=gsm8k TEMPLATE=gemma GENERATION=zeroeval-default" in cell and "TASKS=mmlu" in cell
    # ZEROEVAL_DATA reaches this benchmark only: arena-hard, in the same cell, keeps its own DATA default.
    assert "eval/zeroeval/run.py --model outputs/gemma2-9b-it/simpo --tasks mmlu --data z" in cell
    assert "--data z" not in next(x for x in cell.splitlines() if "eval/arenahard/run.py" in x)
