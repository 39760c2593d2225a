"""Arena-Hard v0.1 (prefopt/evaluation/arena_hard.py): verdict parsing and battles of both games, Bradley-Terry
fits worked out by hand, the bootstrap interval, the judge's second attempt, failing fast, and a whole offline run."""

from __future__ import annotations

import json
import math
import sys

import numpy as np
import pytest

from prefopt.core.errors import InputError
from prefopt.evaluation import arena_hard as ah

REGEX = r"\[\[([AB<>=]+)\]\]"  # v0.1 judge_config.yaml's regex_pattern


def test_parse_verdict_like_gen_judgment():
    assert ah.parse_verdict("My final verdict is tie: [[A=B]]", REGEX) == ("A=B", False)
    assert ah.parse_verdict("[[B>>A]] ... so again [[B>>A]]", REGEX) == ("B>>A", False)  # one distinct label
    assert ah.parse_verdict("first [[A>B]] then [[B>A]]", REGEX) == (None, False)  # contradictory: dropped
    assert ah.parse_verdict("no label here [A>B]", REGEX) == (None, True)  # nothing: ask again


def test_verdict_battles_of_both_games():
    m, b = "mine", "gpt-4-0314"
    # Game 1: A = baseline. A>>B: the baseline wins three battles; B>A: the model wins one.
    assert ah.verdict_battles("A>>B", 1, m) == [(b, m, "model_a")] * 3
    assert ah.verdict_battles("A>B", 1, m) == [(b, m, "model_a")]
    assert ah.verdict_battles("B>A", 1, m) == [(b, m, "model_b")]
    assert ah.verdict_battles("B>>A", 1, m) == [(b, m, "model_b")] * 3
    # Game 2: A = the model, so the same labels mean the opposite winner.
    assert ah.verdict_battles("A>>B", 2, m) == [(b, m, "model_b")] * 3
    assert ah.verdict_battles("A>B", 2, m) == [(b, m, "model_b")]
    assert ah.verdict_battles("B>A", 2, m) == [(b, m, "model_a")]
    assert ah.verdict_battles("B>>A", 2, m) == [(b, m, "model_a")] * 3
    for game in (1, 2):
        assert ah.verdict_battles("A=B", game, m) == [(b, m, "tie")]  # a tie is never weighted
        assert ah.verdict_battles(None, game, m) == []  # unparsed: dropped
        assert ah.verdict_battles("A>>>B", game, m) == []


def _battles(*counts):
    """(a, b, winner, count) rows -> the battle list."""
    return [(a, b, w) for a, b, w, n in counts for _ in range(n)]


def test_bradley_terry_one_model_equals_weighted_win_fraction():
    # Model "m" vs baseline "base": one B>>A in game 1 (3 wins), A=B (1 tie), A>B in game 1 and B>A in game 2
    # (2 baseline wins): 6 battles, p = (3 + 1/2) / 6 = 7/12, rating 1000 + 400 log10(7/5).
    battles = (ah.verdict_battles("B>>A", 1, "m", "base") + ah.verdict_battles("A=B", 2, "m", "base")
               + ah.verdict_battles("A>B", 1, "m", "base") + ah.verdict_battles("B>A", 2, "m", "base"))
    assert len(battles) == 6
    r = ah.bradley_terry(battles, anchor="base")
    assert r["base"] == 1000.0
    assert r["m"] == pytest.approx(1000 + 400 * math.log10(7 / 5), abs=1e-6)
    assert ah.win_rate_vs(r["m"]) == pytest.approx(100 * 7 / 12, abs=1e-6)


def test_bradley_terry_three_players_consistent_table():
    # Counts that match strengths s_B = ln 2, s_C = -ln 2 (s_A = 0) exactly: P(B>A) = 2/3, P(C>A) = 1/3,
    # P(B>C) = 4/(4+1) = 4/5, so 3 A-B battles (B wins 2), 3 A-C (C wins 1), 5 B-C (B wins 4) are the MLE's
    # frequencies: likelihood equations B: 2 + 4 = 3*2/3 + 5*4/5; C: 1 + 1 = 3*1/3 + 5*1/5.
    battles = _battles(("A", "B", "model_b", 2), ("A", "B", "model_a", 1), ("A", "C", "model_b", 1),
                       ("A", "C", "model_a", 2), ("B", "C", "model_a", 4), ("B", "C", "model_b", 1))
    r = ah.bradley_terry(battles, anchor="A")
    assert r["B"] == pytest.approx(1000 + 400 * math.log10(2), abs=1e-6)
    assert r["C"] == pytest.approx(1000 - 400 * math.log10(2), abs=1e-6)


def test_bradley_terry_three_players_likelihood_equations_and_sklearn():
    # A table no closed form solves (B-C has a tie); at the MLE, for each player k but the anchor,
    # observed wins (ties half) = sum_j N_kj / (1 + 10^((R_j - R_k)/400)).
    battles = _battles(("A", "B", "model_b", 5), ("A", "B", "model_a", 2), ("A", "B", "tie", 1),
                       ("A", "C", "model_a", 3), ("A", "C", "model_b", 2), ("B", "C", "model_a", 1),
                       ("B", "C", "tie", 2), ("C", "B", "model_a", 1))
    r = ah.bradley_terry(battles, anchor="A")
    w = {("A", "B"): 2.5, ("B", "A"): 5.5, ("A", "C"): 3, ("C", "A"): 2, ("B", "C"): 2, ("C", "B"): 2}  # by hand

    def p(i, j):
        return 1 / (1 + 10 ** ((r[j] - r[i]) / 400))

    for k in ("B", "C"):
        observed = sum(v for (i, _), v in w.items() if i == k)
        expected = sum((w[(k, j)] + w[(j, k)]) * p(k, j) for j in "ABC" if j != k)
        assert observed == pytest.approx(expected, abs=1e-8)
    # The official tool's solver: sklearn logistic regression without penalty on +/- log(10) features, win weight 2
    # and tie weight 1 per side; its ratings, shifted so A = 1000, equal ours.
    from sklearn.linear_model import LogisticRegression

    players = ["A", "B", "C"]
    x, y, sw = [], [], []
    for (i, j), v in w.items():
        row = np.zeros(3)
        row[players.index(i)], row[players.index(j)] = math.log(10), -math.log(10)
        x += [row, row]
        y += [1, 0]
        sw += [2 * v, 2 * w[(j, i)]]
    lr = LogisticRegression(fit_intercept=False, penalty=None, tol=1e-10, max_iter=1000).fit(np.array(x), y, sample_weight=sw)
    elo = 400 * lr.coef_[0] + 1000
    elo += 1000 - elo[0]
    for k, pl in enumerate(players):
        assert r[pl] == pytest.approx(elo[k], abs=1e-3)


def test_bradley_terry_all_wins_goes_to_the_limit():
    r = ah.bradley_terry(_battles(("base", "m", "model_b", 4)), anchor="base")
    assert ah.win_rate_vs(r["m"]) > 99.99
    with pytest.raises(InputError, match="anchor"):
        ah.bradley_terry(_battles(("x", "m", "model_b", 1)), anchor="base")


def test_bootstrap_interval_is_seeded_and_contains_the_estimate():
    battles = _battles(("base", "m", "model_b", 7), ("base", "m", "model_a", 5), ("base", "m", "tie", 3),
                       ("base", "n", "model_a", 6), ("base", "n", "model_b", 2))
    first = ah.score_battles(battles, "base", rounds=50, seed=1, progress=False)
    again = ah.score_battles(battles, "base", rounds=50, seed=1, progress=False)
    other = ah.score_battles(battles, "base", rounds=50, seed=2, progress=False)
    assert first == again
    assert first["m"]["win_rate_lower"] != other["m"]["win_rate_lower"]
    for pl in ("m", "n"):
        s = first[pl]
        assert s["win_rate_lower"] <= s["win_rate"] <= s["win_rate_upper"]
        assert s["win_rate_lower"] < s["win_rate_upper"]
    assert first["m"]["win_rate"] == pytest.approx(100 * (7 + 1.5) / 15)  # one model each: weighted fractions
    assert first["n"]["win_rate"] == pytest.approx(100 * 2 / 8)
    assert first["base"]["win_rate"] == pytest.approx(50.0)


class _ForgetfulJudge:
    """Answers without a verdict the first time it sees a prompt, with one once asked to continue."""

    name = "forgetful"

    def __init__(self):
        self.seen = []

    def check(self):
        return None

    def complete(self, requests):
        self.seen += requests
        return ["[[A>B]]" if r.followup else "I compared them at length." for r in requests]


def test_second_attempt_continues_the_conversation(tmp_path):
    cfg = ah.JudgeConfig("sys", "Q: {question_1}\nA: {answer_1}\nB: {answer_2}", REGEX, 2, "j", "base")
    judge = _ForgetfulJudge()
    games = ah.judge_games(judge, cfg, [{"id": "q1", "prompt": "hi"}], {"q1": "base answer"}, {"q1": "mine"},
                           tmp_path / "j.jsonl")
    assert [g["verdict"] for g in games["q1"]] == ["A>B", "A>B"]
    assert [g["attempts"] for g in games["q1"]] == [2, 2]
    first, retry = judge.seen[0], judge.seen[2]
    assert first.user == "Q: hi\nA: base answer\nB: mine"  # game 1: A = the baseline
    assert judge.seen[1].user == "Q: hi\nA: mine\nB: base answer"  # game 2: swapped
    assert retry.followup == ({"role": "assistant", "content": "I compared them at length."},
                              {"role": "user", "content": ah.CONTINUE_PROMPT})
    # Resumed: nothing is asked again.
    judge2 = _ForgetfulJudge()
    judge2.name = "forgetful"
    ah.judge_games(judge2, cfg, [{"id": "q1", "prompt": "hi"}], {"q1": "base answer"}, {"q1": "mine"},
                   tmp_path / "j.jsonl")
    assert judge2.seen == []


def test_load_data_reads_the_prompt_from_the_data(shared_data):
    data = ah.load_data(shared_data("arena_hard_v0.1"))
    assert len(data.questions) == 500 and len(data.baseline) == 500
    assert data.judge.baseline_model == "gpt-4-0314" and data.judge.judge_model == "gpt-4-1106-preview"
    assert data.judge.attempts == 2 and data.judge.regex == REGEX
    assert data.judge.system_prompt.startswith("Please act as an impartial judge")
    user = ah.render_judge_prompt(data.judge.prompt_template, "Q?", "first", "second")
    assert user.index("first") < user.index("second") and "<|User Prompt|>\nQ?" in user


def test_fails_fast_without_key_or_data(tmp_path, monkeypatch, shared_data):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    out = tmp_path / "run" / "arena-hard.json"
    with pytest.raises(InputError, match="OPENAI_API_KEY"):
        ah.run_arena_hard(model="tiny:1m/chat", out=out, data=shared_data("arena_hard_v0.1"))
    assert not (tmp_path / "run").exists()  # nothing generated
    with pytest.raises(InputError, match="does not exist"):
        ah.run_arena_hard(model="tiny:1m/chat", out=out, data=tmp_path / "nowhere", judge="rule:length")


def test_end_to_end_tiny_model_rule_judge(tmp_path, shared_data, monkeypatch):
    data = shared_data("arena_hard_v0.1")
    monkeypatch.setattr(sys, "argv", ["run.py"])
    import importlib.util

    spec = importlib.util.spec_from_file_location("ah_run", ah.__file__.replace("prefopt/evaluation/arena_hard.py",
                                                                              "eval/arenahard/run.py"))
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "run" / "arena-hard.json"
    script.run(["--model", "tiny:1m/chat", "--judge", "rule:length", "--data", str(data), "--limit", "4",
                "--generation", "greedy max_new_tokens=48", "--rounds", "20", "--out", str(out), "--name", "tiny"])
    result = json.loads(out.read_text())
    assert result["benchmark"] == "arena-hard" and result["manifest"]["judge"] == "rule:length"
    d, m = result["details"], result["metrics"]
    assert d["n_games"] == 8 and d["n_games_parsed"] == 8  # the rule judge always writes a verdict
    lo, hi = d["win_rate_ci"]
    assert lo <= m["win_rate"] <= hi and m["length"] > 0
    # One model against the baseline: the score is the weighted win fraction of the judged battles (by hand).
    wins = total = 0.0
    for line in (tmp_path / "run" / "arena-hard" / "judgments.jsonl").read_text().splitlines():
        rec = json.loads(line)
        game = 1 if rec["key"].endswith("game1") else 2
        verdict = ah.parse_verdict(rec["judgment"], REGEX)[0]
        for _, _, winner in ah.verdict_battles(verdict, game, "tiny"):
            total += 1
            wins += {"model_b": 1.0, "tie": 0.5}.get(winner, 0.0)
    assert total == d["n_battles"]
    assert m["win_rate"] == pytest.approx(100 * wins / total, abs=1e-4)
