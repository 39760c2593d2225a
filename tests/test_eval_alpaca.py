"""AlpacaEval 2 (prefopt/evaluation/alpaca.py): win-rate figures by hand and equal to alpaca-eval's own, the
length-controlled wiring, the judge that fails before generating, the local logprob judge, and a whole run."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from prefopt.core.errors import InputError

pytest.importorskip("alpaca_eval", reason="AlpacaEval tests need requirements/eval.txt (alpaca-eval 0.6.2)")
alpaca = pytest.importorskip("prefopt.evaluation.alpaca")
ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def test_winrate_metrics_by_hand():
    # p - 1 = [1, 0, 0.5, 0.75]; NaN left out. mean 0.5625; squared deviations sum 0.546875 -> sem sqrt(0.546875/3/4).
    m = alpaca.winrate_metrics([2.0, 1.0, 1.5, 1.75, float("nan")])
    assert m["win_rate"] == pytest.approx(56.25)
    assert m["standard_error"] == pytest.approx(100 * math.sqrt(0.546875 / 3 / 4))
    assert m["discrete_win_rate"] == pytest.approx(62.5)  # 1.75 rounds to a win, 1.5 is a draw
    assert (m["n_wins"], m["n_wins_base"], m["n_draws"], m["n_total"], m["n_missing"]) == (2, 1, 1, 4, 1)
    assert alpaca.winrate_metrics([0, 2])["win_rate"] == pytest.approx(75.0)  # 0 is alpaca-eval's other draw code
    with pytest.raises(InputError, match="outside"):
        alpaca.winrate_metrics([2.5])
    with pytest.raises(InputError, match="no annotation"):
        alpaca.winrate_metrics([float("nan")])


def _stub_preferences(model_rows, ref_rows) -> list[float]:
    """A weighted 'judge' that likes length, with exact draws and missing annotations mixed in."""
    prefs = []
    for i, (m, r) in enumerate(zip(model_rows, ref_rows, strict=True)):
        if i % 97 == 0:
            prefs.append(float("nan"))
        elif i % 41 == 0:
            prefs.append(1.5)
        else:
            prefs.append(1 + 1 / (1 + math.exp(-(len(m["output"]) - len(r["output"])) / 400)))
    return prefs


def test_winrate_equals_alpaca_eval_on_released_simpo_outputs(shared_data):
    from alpaca_eval.metrics import get_winrate

    folder = shared_data("alpaca_eval")
    ref = json.loads((folder / "gpt4_1106_preview_model_outputs.json").read_text())
    for name in ("Llama-3-Instruct-8B-SimPO", "gemma-2-9b-it-SimPO"):
        model = json.loads((folder / "model_outputs" / f"{name}.json").read_text())
        assert [r["instruction"] for r in model] == [r["instruction"] for r in ref]
        prefs = _stub_preferences(model, ref)
        ours = alpaca.winrate_metrics(prefs)
        theirs = get_winrate(pd.DataFrame({"preference": prefs}))
        for key in ("win_rate", "standard_error", "discrete_win_rate", "n_wins", "n_wins_base", "n_draws", "n_total"):
            assert ours[key] == pytest.approx(float(theirs[key]), abs=1e-9), (name, key)
        assert ours["n_total"] == 805 - 9  # ids 0, 97, ..., 776 are missing


def _fake_df_gamed(n: int, rng) -> pd.DataFrame:
    """The shape of tatsu-lab/alpaca_eval's df_gamed.csv: two length-gamed baselines over the same instructions."""
    rows = []
    for model, shift in (("gamed_verbose", 1.0), ("gamed_concise", -1.0)):
        for i in range(n):
            d = rng.normal(shift, 0.3)
            rows.append({"model": model, "index": i, "instruction_difficulty": rng.normal(0, 1),
                         "preference": 1 / (1 + math.exp(-2 * math.tanh(d))), "std_delta_len": d,
                         "not_gamed_baseline": False})
    return pd.DataFrame(rows)


def test_length_controlled_removes_a_pure_length_advantage(tmp_path, monkeypatch):
    import alpaca_eval.metrics.glm_winrate as glm

    rng = np.random.default_rng(0)
    n = 200
    csv = tmp_path / "df_gamed.csv"
    _fake_df_gamed(n, rng).to_csv(csv, index=False)
    # The model wins exactly when its answer is longer: once length is held equal it should be near 50%.
    lens = rng.integers(100, 3000, size=n)
    ann = pd.DataFrame({"index": range(n), "output_1": ["x" * 1500] * n, "output_2": ["y" * int(k) for k in lens],
                        "generator_1": "ref", "generator_2": "model", "annotator": "stub",
                        "preference": [1 + 1 / (1 + math.exp(-(k - 1500) / 300)) for k in lens]})
    assert alpaca.length_controlled(ann)[0] is None  # offline: the hub file is missing
    monkeypatch.setattr(glm, "hf_hub_download", lambda **_: str(csv))
    lc, note = alpaca.length_controlled(ann)
    raw = alpaca.winrate_metrics(ann["preference"])["win_rate"]
    assert note is None and 0 < lc < 100
    assert abs(lc - 50) < abs(raw - 50) and raw > 55  # the length effect is taken out


def test_api_judge_without_key_stops_before_generating(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(InputError, match="OPENAI_API_KEY"):
        alpaca.annotator_config(alpaca.DEFAULT_JUDGE, tmp_path)
    with pytest.raises(InputError, match="unknown AlpacaEval judge"):
        alpaca.annotator_config("gpt5_judge_that_does_not_exist", tmp_path)
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("OPENAI_")}
    out = tmp_path / "run" / "alpacaeval2.json"
    p = subprocess.run([sys.executable, str(ROOT / "eval/alpacaeval2/run.py"), "--model", "tiny:1m/chat",
                        "--out", str(out)], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 2 and "OPENAI_API_KEY" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "run" / "alpacaeval2" / "answers.jsonl").exists()  # nothing was generated


def test_hf_logprob_judge_matches_its_logits():
    import torch
    from alpaca_eval.completion_parsers import logprob_parser
    from alpaca_eval.utils import prompt_to_chatml

    prompt = "<|im_start|>system\nJudge.\n<|im_end|>\n<|im_start|>user\nWhich is better, m or M?\n<|im_end|>"
    out = alpaca.hf_logprob_completions([prompt], model_name="tiny:1m/chat")
    model, tok = alpaca._HF_JUDGES["tiny:1m/chat"]
    text = tok.apply_chat_template(prompt_to_chatml(prompt), add_generation_prompt=True, tokenize=False)
    with torch.no_grad():
        logp = torch.log_softmax(model(**tok(text, add_special_tokens=False, return_tensors="pt")).logits[0, -1], -1)
    pm, pM = (math.exp(float(logp[tok(t, add_special_tokens=False)["input_ids"][0]])) for t in ("m", "M"))
    (pref,) = logprob_parser(out["completions_all"][0], numerator_token="m", denominator_tokens=["m", "M"],
                             is_binarize=False)
    assert pref == pytest.approx(2 - pm / (pm + pM), abs=1e-6)


def test_whole_run_offline_with_a_local_judge(tmp_path, shared_data):
    from prefopt.reproduce.results import load_reproduced

    ref = shared_data("alpaca_eval") / "gpt4_1106_preview_model_outputs.json"
    out = tmp_path / "reproduced" / "tiny-model" / "alpacaeval2.json"
    kw = dict(model="tiny:1m/chat", out=out, reference=ref, judge="hf:tiny:1m/chat", template="llama3",
              generation="max_new_tokens=12", limit=5, name="tiny-model")
    result = alpaca.run_alpaca(**kw)
    m = result["metrics"]
    assert 0 <= m["win_rate"] <= 100 and m["win_rate_se"] > 0 and m["length"] > 0
    assert result["details"]["n_total"] == 5 and result["manifest"]["judge"] == "hf:tiny:1m/chat"
    assert result["manifest"]["generation"]["max_new_tokens"] == 12 and result["manifest"]["data"]
    (loaded,) = load_reproduced(tmp_path / "reproduced")
    assert loaded.benchmark == "alpacaeval2" and loaded.metrics["win_rate"] == pytest.approx(m["win_rate"])
    answers = (out.parent / "alpacaeval2" / "answers.jsonl").read_text()
    assert alpaca.run_alpaca(**kw)["metrics"] == pytest.approx(m, rel=1e-8)  # resumed: cached answers, annotations
    assert (out.parent / "alpacaeval2" / "answers.jsonl").read_text() == answers
