"""lm-eval suites (prefopt/evaluation/lmeval.py): the suite files, reading scores out of lm-eval's output, failing
fast, and a whole run of a local multiple-choice task with a tiny model through the entry point's code path."""

from __future__ import annotations

import json

import pytest
import yaml

from prefopt.core.errors import InputError
from prefopt.evaluation import lmeval

pytest.importorskip("lm_eval", reason="lm-eval tests need requirements/eval.txt (lm-eval 0.4.13)")


def test_shipped_suites():
    v1 = lmeval.load_suite("leaderboard-v1")
    assert [(t.task, t.num_fewshot) for t in v1.tasks] == [
        ("arc_challenge", 25), ("hellaswag", 10), ("mmlu", 5), ("truthfulqa_mc2", 0), ("winogrande", 5), ("gsm8k", 5)]
    assert not v1.apply_chat_template
    v2 = lmeval.load_suite("leaderboard-v2")
    assert {t.task for t in v2.tasks} == {"leaderboard_ifeval", "leaderboard_bbh", "leaderboard_math_hard",
                                          "leaderboard_gpqa", "leaderboard_musr", "leaderboard_mmlu_pro"}
    assert v2.apply_chat_template and v2.fewshot_as_multiturn
    # Every task name exists in the installed lm-eval (as a task or a group config).
    import lm_eval

    task_dir = __import__("pathlib").Path(lm_eval.__file__).parent / "tasks"
    names = set()
    for f in task_dir.rglob("*.yaml"):
        for line in f.read_text(errors="ignore").splitlines():
            if line.startswith(("task: ", "group: ")):
                names.add(line.split(":", 1)[1].strip())
    for suite in ("leaderboard-v1", "leaderboard-v2", "amapo"):
        for t in lmeval.load_suite(suite).tasks:
            assert t.task in names, (suite, t.task)
    with pytest.raises(InputError, match="unknown suite"):
        lmeval.load_suite("leaderboard-v9")
    with pytest.raises(InputError, match="SUITE"):
        lmeval.load_suite(None)


def test_tasks_replace_the_suite_and_suite_files(tmp_path):
    s = lmeval.load_suite(None, tasks="a, b", num_fewshot=3, metric="acc_norm,none")
    assert [(t.task, t.num_fewshot, t.metric) for t in s.tasks] == [("a", 3, "acc_norm,none"), ("b", 3, "acc_norm,none")]
    f = tmp_path / "mine.yaml"
    f.write_text(yaml.safe_dump({"first": {"tasks": [{"task": "x", "num_fewshot": 1}]},
                                 "second": {"tasks": [{"task": "y", "num_fewshot": None, "metric": "m,f"}]}}))
    assert lmeval.load_suite(str(f)).tasks == [lmeval.TaskSpec("x", 1, "acc,none")]
    assert lmeval.load_suite(f"{f}:second").tasks == [lmeval.TaskSpec("y", None, "m,f")]


def test_task_score_from_lm_eval_output():
    results = {"t": {"acc,none": 0.25, "acc_stderr,none": 0.05},
               "g": {"alias": "g"}, "g_a": {"acc_norm,none": 0.5}, "g_b": {"acc_norm,none": 0.7}}
    assert lmeval.task_score(results, {}, "t", "acc,none") == (25.0, 5.0)
    # A group without an aggregate: the unweighted mean of its subtasks, no standard error.
    score, se = lmeval.task_score(results, {"g": ["g_a", "g_b"]}, "g", "acc_norm,none")
    assert score == pytest.approx(60.0) and se is None
    with pytest.raises(InputError, match="no 'f1,none'"):
        lmeval.task_score(results, {}, "t", "f1,none")


# Four questions; the tiny model's answers are whatever its random weights prefer.
ITEMS = [
    {"question": "2 + 2 =", "choices": ["4", "5", "22"], "label": 0},
    {"question": "The sky is", "choices": ["green", "blue"], "label": 1},
    {"question": "Water freezes at", "choices": ["0 degrees", "50 degrees", "90 degrees"], "label": 0},
    {"question": "A cat says", "choices": ["woof", "moo", "meow"], "label": 2},
]


def _local_task(tmp_path) -> str:
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ITEMS))
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "tiny_mc.yaml").write_text(yaml.safe_dump({
        "task": "tiny_mc", "dataset_path": "json", "dataset_kwargs": {"data_files": {"test": str(data)}},
        "test_split": "test", "output_type": "multiple_choice", "doc_to_text": "Question: {{question}}\nAnswer:",
        "doc_to_choice": "{{choices}}", "doc_to_target": "{{label}}",
        "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
    }))
    return str(tasks)


def test_fails_fast(tmp_path):
    with pytest.raises(InputError, match="vllm"):
        lmeval.run_lmeval(model="tiny:1m/chat", out=tmp_path / "r.json", suite="leaderboard-v1", backend="vllm")
    with pytest.raises(InputError, match="knows no task"):
        lmeval.run_lmeval(model="tiny:1m/chat", out=tmp_path / "r.json", tasks="tiny_mc,no_such_task",
                          include_path=_local_task(tmp_path))
    assert not (tmp_path / "open-llm-leaderboard").exists()  # stopped before loading anything


def test_end_to_end_local_task_tiny_model(tmp_path):
    import importlib.util

    include = _local_task(tmp_path)
    suite = tmp_path / "suite.yaml"  # the same code path as SUITE=leaderboard-v1, with a local task
    suite.write_text(yaml.safe_dump({"local": {"tasks": [{"task": "tiny_mc", "num_fewshot": 0, "metric": "acc,none"}]}}))
    spec = importlib.util.spec_from_file_location("lmeval_run", lmeval.SUITES_FILE.parent / "run.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "run" / "open-llm-leaderboard.json"
    script.run(["--model", "tiny:1m/chat", "--suite", str(suite), "--include_path", include, "--dtype", "float32",
                "--batch_size", "4", "--out", str(out)])
    result = json.loads(out.read_text())
    assert result["benchmark"] == "open-llm-leaderboard"
    m = result["metrics"]
    # 4 questions: the accuracy is a multiple of 25 %, its standard error sqrt(p (1 - p) / (n - 1)) (lm-eval's
    # sample standard error of the mean), and the average of one task is that task.
    assert m["tiny_mc"] in (0.0, 25.0, 50.0, 75.0, 100.0)
    p = m["tiny_mc"] / 100
    assert m["tiny_mc_se"] == pytest.approx(100 * (p * (1 - p) / 3) ** 0.5)
    assert m["average"] == m["tiny_mc"]
    assert result["details"]["tasks"]["tiny_mc"]["num_fewshot"] == 0
    raw = json.loads((tmp_path / "run" / "open-llm-leaderboard" / "tiny_mc.json").read_text())
    assert raw["results"]["tiny_mc"]["acc,none"] * 100 == pytest.approx(m["tiny_mc"])
