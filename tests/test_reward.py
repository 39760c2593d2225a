"""prefopt.reward: ranking/APO losses, RM metrics, pooling, tokenization, the APO converter, RM-Bench scoring,
and a few training steps of a tiny reward model. Every expected number is worked out by hand in the comments."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from conftest import make_tiny_tokenizer

from prefopt.core.errors import InputError
from prefopt.reward.converter import apo_items, best_of_n, cut_response
from prefopt.reward.data import RewardCollator, RewardTokenizer, items_from_rows, load_items, render_query
from prefopt.reward.losses import apo_coeffs, apo_loss, ranking_loss
from prefopt.reward.metrics import calibration_errors, rm_metrics
from prefopt.reward.model import pool
from prefopt.reward.rmbench import load_rmbench, rmbench_results, summarize


def sp(x):  # softplus(x) = -log σ(-x)
    return math.log1p(math.exp(x))


# ---- losses ----------------------------------------------------------------------------------------------
def test_ranking_loss_every_ordered_pair_with_different_scores():
    # item 0: scores (1, 0, .5), rewards (2, 0, 1): pairs 0>1 (Δ 2), 0>2 (Δ 1), 2>1 (Δ 1)
    # item 1: a tie (scores 1, 1): no pair; item 2: a pair and a padded slot, rewards (0, 3): 0>1 (Δ -3)
    rewards = torch.tensor([[2.0, 0.0, 1.0], [0.5, 0.5, 9.0], [0.0, 3.0, 7.0]])
    scores = torch.tensor([[1.0, 0.0, 0.5], [1.0, 1.0, 0.0], [1.0, 0.0, 5.0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0], [1, 1, 0]], dtype=torch.bool)
    expected = (sp(-2) + sp(-1) + sp(-1) + sp(3)) / 4
    assert ranking_loss(rewards, scores, mask).item() == pytest.approx(expected, rel=1e-6)
    # the diff (WGAN) variant: mean of -(r_i - r_j)
    assert ranking_loss(rewards, scores, mask, loss_type="diff").item() == pytest.approx((-2 - 1 - 1 + 3) / 4)
    # no pair at all: 0, with a gradient path
    z = ranking_loss(torch.tensor([[1.0, 2.0]], requires_grad=True), torch.tensor([[1.0, 1.0]]))
    assert z.item() == 0.0 and z.requires_grad


def test_ranking_loss_on_a_chosen_rejected_pair_is_bradley_terry():
    r = torch.tensor([[0.3, -0.2]])
    assert ranking_loss(r, torch.tensor([[1.0, 0.0]])).item() == pytest.approx(sp(-0.5), rel=1e-6)


def test_apo_weighting_defaults_and_diff_variant():
    assert apo_coeffs(torch.tensor([False, True])).tolist() == pytest.approx([1.0, 0.025])  # 0.1 / 4
    # item 0 human (Δ 1), item 1 golden-vs-sample (Δ -2); both divided by the 2 pairs of the batch
    rewards = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    scores = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    mask = torch.ones(2, 2, dtype=torch.bool)
    is_apo = torch.tensor([False, True])
    assert apo_loss(rewards, scores, mask, is_apo).item() == pytest.approx((sp(-1) + 0.025 * sp(2)) / 2, rel=1e-6)
    got = apo_loss(rewards, scores, mask, is_apo, rm_kl_coeff=0.5, apo_loss_coeff=1.0, apo_sample_num=2,
                   apo_loss_type="diff")
    assert got.item() == pytest.approx((0.5 * sp(-1) + 0.5 * 2.0) / 2, rel=1e-6)  # diff only on the apo item
    # without APO items the objective is rm_kl_coeff x the ranking loss
    only_hh = apo_loss(rewards[:1], scores[:1], mask[:1], is_apo[:1], rm_kl_coeff=2.0)
    assert only_hh.item() == pytest.approx(2 * sp(-1), rel=1e-6)


# ---- metrics ---------------------------------------------------------------------------------------------
def test_accuracy_counts_reward_ties_as_wrong_and_average_score():
    m = rm_metrics([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]], [[1, 0], [1, 0], [1, 0]])
    assert m["accuracy"] == pytest.approx(1 / 3)  # right, tie, wrong
    assert m["avg_score"] == pytest.approx(1 / 3)  # (1 + 0 + 0 + 0 + 0 + 1) / 6
    assert m["pairs"] == 3
    # ordered pairs: p = σ(-1) (y 0), σ(1) (y 1), .5 (y 0), .5 (y 1), σ(1) (y 0), σ(-1) (y 1)
    # bin 2: Σp = 2σ(-1) = .5379, Σy = 1; bin 4: Σp = 1 = Σy; bin 7: Σp = 2σ(1) = 1.4621, Σy = 1
    g = 1 - 2 / (1 + math.e)
    assert m["ECE10"] == pytest.approx(2 * g / 6)
    assert m["ACE10"] == pytest.approx((g / 2 + 0 + g / 2) / 3)
    assert m["MCE10"] == pytest.approx(g / 2)


def test_multi_response_accuracy_and_score_ties_excluded():
    # scores (2, 1, 1): pairs (0,1), (0,2) only; rewards (1, 2, 0): (0,1) wrong, (0,2) right
    m = rm_metrics([[1.0, 2.0, 0.0]], [[2, 1, 1]])
    assert m["accuracy"] == 0.5 and m["pairs"] == 2


def test_calibration_errors_by_hand():
    # bin 0: .05 (y 0) gap .05; bin 1: .15 (y 1) gap .85; bin 9: .95 + .95 vs 2 -> gap .1 over 2
    e = calibration_errors([0.05, 0.15, 0.95, 0.95], [0, 1, 1, 1])
    assert e["ECE"] == pytest.approx((0.05 + 0.85 + 0.1) / 4)
    assert e["ACE"] == pytest.approx((0.05 + 0.85 + 0.05) / 3)
    assert e["MCE"] == pytest.approx(0.85)
    # edges: 0 and .1 fall in bin 0 (k/10 < p <= (k+1)/10, as sklearn's calibration_curve); 1 in bin 9
    e = calibration_errors([0.0, 0.1, 1.0], [0, 0, 1])
    assert e["ACE"] == pytest.approx((0.05 + 0.0) / 2) and e["ECE"] == pytest.approx(0.1 / 3)


# ---- model pieces ----------------------------------------------------------------------------------------
def test_pooling_right_padded():
    hidden = torch.tensor([[1.0, 5.0, 3.0, 2.0], [4.0, 6.0, 1.0, 9.0]]).unsqueeze(-1)  # (2, 4, 1)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
    assert pool(hidden, mask, "last").squeeze(-1).tolist() == [3.0, 6.0]  # seq_len - 2
    assert pool(hidden, mask, "eos").squeeze(-1).tolist() == [2.0, 1.0]  # seq_len - 1
    assert pool(hidden, mask, "average").squeeze(-1).tolist() == pytest.approx([11 / 4, 11 / 3])
    assert pool(hidden, mask, "max").squeeze(-1).tolist() == [5.0, 6.0]  # the padded 9 is ignored


def test_reward_tokenizer_layout_left_truncation_and_collator():
    tok = make_tiny_tokenizer()  # bos 1, eos 2, no sep token: SEP = EOS
    q, r = tok("hello there", add_special_tokens=False)["input_ids"], tok(" world", add_special_tokens=False)["input_ids"]
    rt = RewardTokenizer(tok, max_length=64, add_sep_token=True)
    assert rt.encode("hello there", " world") == [1, *q, 2, *r, 2]
    assert RewardTokenizer(tok, max_length=64).encode("hello there", " world") == [1, *q, *r, 2]
    short = RewardTokenizer(tok, max_length=4, add_sep_token=True)
    assert short.encode("hello there", " world") == [1, *([*q, 2, *r][-2:]), 2]  # the left end is cut
    assert short.stats == {"sequences": 1, "truncated": 1}
    items = [{"input_ids": [[1, 7, 2], [1, 2]], "scores": [1.0, 0.0], "is_apo": False},
             {"input_ids": [[1, 8, 9, 2]], "scores": [0.5], "is_apo": True}]
    b = RewardCollator(0)(items)
    assert b["input_ids"].tolist() == [[1, 7, 2, 0], [1, 2, 0, 0], [1, 8, 9, 2]]
    assert b["index"].tolist() == [[0, 1], [2, -1]] and b["mask"].tolist() == [[True, True], [True, False]]
    assert b["is_apo"].tolist() == [False, True]


def test_items_from_apo_rows_and_from_pairs(tmp_path):
    rows = [{"text": ["\n\nHuman: hi\n\nAssistant:<sep> good", "\n\nHuman: hi\n\nAssistant:<sep> bad"],
             "scores": [1.0, 0.0], "type": "apo"}]
    (item,), dropped = items_from_rows(rows, "f.json")
    assert item["query"] == "\n\nHuman: hi\n\nAssistant:" and item["responses"] == [" good", " bad"]
    assert item["type"] == "apo" and dropped == {}
    with pytest.raises(InputError, match="scores"):
        items_from_rows([{"text": ["a", "b"], "scores": [1.0]}], "f.json")
    f = tmp_path / "uf.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in [
        {"prompt": "Q1", "chosen": "A", "rejected": "B", "metadata": {"score_chosen": 9, "score_rejected": 7}},
        {"prompt": "Q2", "chosen": "C", "rejected": "D", "metadata": {"score_chosen": 8, "score_rejected": 8}},
    ]) + "\n")
    items, _ = load_items(str(f))
    assert [it["responses"] for it in items] == [[" A", " B"], [" C", " D"]]
    assert items[0]["query"] == render_query([{"role": "user", "content": "Q1"}]) == "\n\nHuman: Q1\n\nAssistant:"
    items, dropped = load_items(str(f), drop_score_ties=True)
    assert len(items) == 1 and dropped == {"score_tie": 1}


# ---- converter -------------------------------------------------------------------------------------------
def test_converter_good_input_cuts_at_human():
    golden = [{"query_id": "q1", "golden": "G1\nHuman: more?"}, {"query_id": "q2", "golden": "G2"}]
    samples = [{"query_id": "q2", "query": "Q2", "sample_0": "a", "sample_1": "b\nHuman: next turn"},
               {"query_id": "q1", "query": "Q1", "sample_0": "c", "sample_1": "d"}]
    items = apo_items(golden, samples)
    assert len(items) == 4 and all(it["type"] == "apo" and it["scores"] == [1.0, 0.0] for it in items)
    assert items[1]["text"] == ["Q2<sep>G2", "Q2<sep>b"]
    assert items[2]["text"] == ["Q1<sep>G1", "Q1<sep>c"]
    assert cut_response("x\nHuman") == "x" and cut_response("x\n\nHuman: y") == "x\n"
    one = apo_items(golden, samples, sampling=True, seed=3)
    assert len(one) == 2 and {it["query_id"] for it in one} == {"q1", "q2"}
    parsed, _ = items_from_rows(items, "apo.json")
    assert parsed[1]["query"] == "Q2" and parsed[1]["responses"] == ["G2", "b"]


def test_converter_missing_ids_are_listed():
    golden = [{"query_id": "q1", "golden": "G"}, {"query_id": "q9", "golden": "G"}]
    samples = [{"query_id": "q1", "query": "Q", "sample_0": "a"}, {"query_id": "q2", "query": "Q", "sample_0": "b"},
               {"query_id": "q3", "query": "Q", "sample_0": "c"}]
    with pytest.raises(InputError) as e:
        apo_items(golden, samples)
    msg = str(e.value)
    assert "'q2', 'q3'" in msg and "no golden" in msg and "'q9'" in msg and "no samples" in msg


def test_best_of_n():
    row = {"query_id": 1, "sample_0": "a", "sample_1": "", "hh_best": "h"}
    out = best_of_n(row, {"sample_0": 0.1, "sample_1": 5.0, "hh_best": 9.0})
    assert out["target"] == "a" and out["target_key"] == "sample_0"  # empty and hh_best skipped
    assert best_of_n({"hh_best": "h"}, {"hh_best": 1.0})["target"] == "h"


# ---- RM-Bench --------------------------------------------------------------------------------------------
def _rec(i, prompt):
    return {"id": i, "subset": "x", "prompt": prompt, "chosen": [f"c{k}" for k in range(3)],
            "rejected": [f"r{k}" for k in range(3)]}


def test_rmbench_matrix_by_hand():
    # record A: chosen (3, 2, 1), rejected (2.5, 1.5, 0.5): M[i][j] = c_i > r_j
    #   c0=3 beats all; c1=2 beats r1, r2; c2=1 beats r2  -> [[1,1,1],[0,1,1],[0,0,1]]
    # record B: chosen (0, 0, 5), rejected (0, 1, 1): c0 ties r0 (wrong); c2 beats all -> [[0,0,0],[0,0,0],[1,1,1]]
    s = summarize([([3, 2, 1], [2.5, 1.5, 0.5]), ([0, 0, 5], [0, 1, 1])])
    assert s["matrix"] == [[0.5, 0.5, 0.5], [0, 0.5, 0.5], [0.5, 0.5, 1.0]]
    assert s["hard"] == pytest.approx((0.5 + 0.5 + 0.5) / 3)  # upper triangle
    assert s["normal"] == pytest.approx((0.5 + 0.5 + 1.0) / 3)
    assert s["easy"] == pytest.approx((0 + 0.5 + 0.5) / 3)  # lower triangle
    assert s["avg"] == pytest.approx(4.5 / 9)


def test_rmbench_domains_safety_pooled_and_overall(tmp_path):
    for name, recs in {"chat": [_rec(0, "p0"), _rec(1, "p1")], "safety-refuse": [_rec(2, "p2")],
                       "safety-response": [_rec(3, "p3")]}.items():
        (tmp_path / f"{name}_filtered.json").write_text(json.dumps(recs))
    records = load_rmbench(tmp_path)
    assert sorted(records) == ["chat", "safety-refuse", "safety-response"]
    right, wrong = ([1, 1, 1], [0, 0, 0]), ([0, 0, 0], [1, 1, 1])
    res = rmbench_results({"chat": [right, wrong], "safety-refuse": [right], "safety-response": [wrong]})
    assert res["domains"]["chat"]["avg"] == 0.5 and res["domains"]["safety-refuse"]["avg"] == 1.0
    assert res["leaderboard_domains"]["safety"]["n"] == 2 and res["leaderboard_domains"]["safety"]["avg"] == 0.5
    assert res["overall"] == {"easy": 0.5, "normal": 0.5, "hard": 0.5, "avg": 0.5}
    (tmp_path / "bad_filtered.json").write_text(json.dumps([{"prompt": "p", "chosen": ["a"], "rejected": []}]))
    with pytest.raises(InputError, match="3 strings"):
        load_rmbench(tmp_path)


# ---- end to end on a tiny backbone ----------------------------------------------------------------------
def _tiny_backbone(folder):
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = make_tiny_tokenizer()
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return str(folder)


def _pairs_file(path, n=12):
    rows = [{"prompt": f"how do I cook {i}?", "chosen": "Preheat the oven and season it.", "rejected": f"no {i}"}
            for i in range(n)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return str(path)


def test_train_rm_and_apo_end_to_end(tmp_path):
    from prefopt.config import build_config
    from prefopt.config.reward import RewardConfig
    from prefopt.reward.data import RewardCollator as Coll
    from prefopt.reward.model import load_reward_model
    from prefopt.reward.train import score_items, train_rm

    backbone = _tiny_backbone(tmp_path / "backbone")
    data = tmp_path / "data"
    data.mkdir()
    _pairs_file(data / "train.jsonl")
    _pairs_file(data / "test.jsonl", 4)
    golden = [{"query_id": str(i), "golden": " Preheat the oven."} for i in range(3)]
    samples = [{"query_id": str(i), "query": f"\n\nHuman: cook {i}?\n\nAssistant:", "sample_0": " x", "sample_1": " y"}
               for i in range(3)]
    from prefopt.reward.converter import write_items
    apo_file = write_items(apo_items(golden, samples), tmp_path / "apo.json")
    base = {"model_name_or_path": backbone, "dataset": str(data), "eval_split": "test", "max_length": 48,
            "add_sep_token": True, "learning_rate": 1e-3, "max_steps": 3, "per_device_train_batch_size": 4,
            "per_device_eval_batch_size": 8, "report_to": "none", "use_cpu": True, "save_strategy": "no",
            "eval_datasets": {"extra": str(data / "test.jsonl")}}
    for task in ("rm", "apo"):
        out = tmp_path / task
        raw = dict(base, output_dir=str(out), task_type=task, **({"apo_dataset": str(apo_file)} if task == "apo" else {}))
        metrics = train_rm(*build_config(raw, "test.yaml", RewardConfig))
        final = json.loads((out / "final_eval_results.json").read_text())
        assert set(final) >= {"eval_test_accuracy", "eval_test_ECE10", "eval_extra_accuracy", "eval_extra_avg_score"}
        assert final["eval_test_pairs"] == 4 and metrics["eval_test_accuracy"] == final["eval_test_accuracy"]
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["status"] == "finished" and manifest["kind"] == "reward"
        # the saved folder reloads to the same scores
        model = load_reward_model(out)
        tok = make_tiny_tokenizer()
        items = [RewardTokenizer(tok, max_length=48, add_sep_token=True).item(
            {"query": "\n\nHuman: how do I cook 1?\n\nAssistant:", "responses": [" a", " b c"], "scores": [1, 0]})]
        assert len(score_items(model, items, Coll(tok.pad_token_id))[0]) == 2
    assert json.loads((tmp_path / "apo" / "manifest.json").read_text())["data"]["apo"]["items"] == 6

    # RM-Bench for the trained reward model: the registry file, metrics in %
    from prefopt.reward.rmbench import evaluate_model

    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "chat_filtered.json").write_text(json.dumps([_rec(0, "hello there"), _rec(1, "how do I cook?")]))
    res = evaluate_model(str(tmp_path / "rm"), bench, max_length=48, out=tmp_path / "r" / "rm-bench.json")
    written = json.loads((tmp_path / "r" / "rm-bench.json").read_text())
    assert written["benchmark"] == "rm-bench" and written["manifest"]["scored_as"] == "reward-model"
    m = res["details"]["rm"]["domains"]["chat"]["matrix"]
    assert written["metrics"]["accuracy_avg"] == pytest.approx(100 * sum(map(sum, m)) / 9)
    with pytest.raises(InputError, match="--ref is for policies"):
        evaluate_model(str(tmp_path / "rm"), bench, ref=backbone)


def test_training_from_a_reward_model_folder_continues_its_weights(tmp_path):
    """APO's earlier recipe trains the APO RM from the trained base RM. A run_rm.py output folder holds backbone.* and
    reward_head.weight; loading it as a backbone once started silently from random weights (AutoModel found none of
    its keys). With learning_rate 0 the continued run must save exactly the weights it started from."""
    from safetensors.torch import load_file

    from prefopt.config import build_config
    from prefopt.config.reward import RewardConfig
    from prefopt.reward.train import train_rm

    data = tmp_path / "data"
    data.mkdir()
    _pairs_file(data / "train.jsonl")
    base = {"dataset": str(data), "eval_split": None, "max_length": 48, "add_sep_token": True, "max_steps": 2,
            "per_device_train_batch_size": 4, "report_to": "none", "use_cpu": True, "save_strategy": "no",
            "task_type": "rm"}
    first = tmp_path / "rm-base"
    train_rm(*build_config(dict(base, model_name_or_path=_tiny_backbone(tmp_path / "backbone"),
                                output_dir=str(first), learning_rate=1e-2), "base.yaml", RewardConfig))
    second = tmp_path / "rm-continued"
    train_rm(*build_config(dict(base, model_name_or_path=str(first), output_dir=str(second), learning_rate=0.0),
                           "continued.yaml", RewardConfig))
    before, after = load_file(first / "model.safetensors"), load_file(second / "model.safetensors")
    assert set(before) == set(after) and "reward_head.weight" in after
    for key in before:
        assert torch.equal(before[key], after[key]), key
    manifest = json.loads((second / "manifest.json").read_text())
    assert manifest["reward_model_start"] == {"from": str(first), "kind": "reward-model"}

    with pytest.raises(InputError, match="pooling_type"):  # the head was trained on another pooling
        train_rm(*build_config(dict(base, model_name_or_path=str(first), output_dir=str(tmp_path / "x"),
                                    pooling_type="average"), "pooling.yaml", RewardConfig))


def test_config_errors():
    from prefopt.config import build_config
    from prefopt.config.reward import RewardConfig

    raw = {"model_name_or_path": "m", "dataset": "d", "report_to": "none", "use_cpu": True}
    with pytest.raises(InputError, match="apo_dataset"):
        build_config(dict(raw, task_type="apo"), "x.yaml", RewardConfig)
    with pytest.raises(InputError, match="pooling_type"):
        build_config(dict(raw, pooling_type="cls"), "x.yaml", RewardConfig)
    with pytest.raises(InputError, match="unknown config key 'apo_coef'"):
        build_config(dict(raw, apo_coef=1.0), "x.yaml", RewardConfig)


def test_policy_implicit_rewards_on_rmbench(tmp_path):
    """DPO log-ratio of a model against itself is 0 everywhere: every comparison is a tie, so accuracy 0;
    the length-normalised log-prob is log-prob / response tokens."""
    from transformers import AutoModelForCausalLM

    from prefopt.reward.rmbench import policy_scores, response_logps

    folder = _tiny_backbone(tmp_path / "policy")
    model = AutoModelForCausalLM.from_pretrained(folder)
    tok = make_tiny_tokenizer()
    recs = [_rec(0, "hello there"), _rec(1, "how do I cook?")]
    recs[1]["rejected"][2] = recs[1]["chosen"][2]  # identical pair: both get the same score
    lp, ln = response_logps(model, tok, recs, max_length=64, max_prompt_length=32, batch_size=4)
    assert lp.shape == (2, 6) and (lp < 0).all() and (ln >= 2).all()
    assert lp[1, 2] == lp[1, 5]
    scores = policy_scores(lp, ln, lp.copy())
    assert rmbench_results({"chat": scores["dpo"]})["overall"]["avg"] == 0.0
    assert scores["simpo"][0][0][0] == pytest.approx(lp[0, 0] / ln[0, 0])

    # the whole entry point for a policy against itself as reference: DPO rewards all 0 -> accuracy 0
    from prefopt.reward.rmbench import evaluate_model

    tok.save_pretrained(folder)
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "code_filtered.json").write_text(json.dumps(recs))
    res = evaluate_model(folder, bench, ref=folder, max_length=64, max_prompt_length=32)
    assert res["primary_reward"] == "dpo" and res["metrics"]["accuracy_avg"] == 0.0
    assert res["metrics"]["simpo_accuracy_avg"] == pytest.approx(
        100 * rmbench_results({"code": scores["simpo"]})["overall"]["avg"])


def test_rejection_sampling_builds_sft_rows(tmp_path):
    from prefopt.data import sft_example
    from prefopt.reward.converter import rejection_sample
    from prefopt.reward.model import RewardModel

    folder = _tiny_backbone(tmp_path / "b")
    from transformers import AutoModel

    rm = RewardModel(AutoModel.from_pretrained(folder), "average")
    tok = make_tiny_tokenizer()
    rows = [{"query_id": "a", "query": "\n\nHuman: hi\n\nAssistant:", "prompt": [{"role": "user", "content": "hi"}],
             "sample_0": " x", "sample_1": "", "sample_2": " hello there"}]
    (row,) = rejection_sample(rm, tok, rows, max_length=32)
    assert set(row["scores"]) == {"sample_0", "sample_2"}  # the empty sample is not scored
    best = max(row["scores"], key=row["scores"].get)
    assert row["target_key"] == best and row["messages"][-1]["content"] == rows[0][best].strip()
    prompt, response = sft_example(row, "rjs")
    assert prompt == [{"role": "user", "content": "hi"}] and response[0]["role"] == "assistant"


def test_make_eval_rmbench_for_a_tiny_policy_writes_a_result(tmp_path):
    """`make eval-rmbench MODEL=<policy> REF=<policy>` through the real script: the result file with its manifest."""
    import subprocess

    from prefopt.reproduce.results import load_reproduced

    folder = _tiny_backbone(tmp_path / "policy")
    make_tiny_tokenizer().save_pretrained(folder)
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "chat_filtered.json").write_text(json.dumps([_rec(0, "hello there"), _rec(1, "how do I cook?")]))
    out = tmp_path / "reproduced" / "tiny-policy"
    repo = Path(__file__).resolve().parents[1]
    cmd = ["make", "--no-print-directory", "eval-rmbench", "STAMP=", f"MODEL={folder}", f"REF={folder}", f"OUT={out}",
           f"RMBENCH_ARGS=--data {bench} --max_length 64 --max_prompt_length 32"]
    assert f"--ref {folder}" in subprocess.run([*cmd, "-n"], cwd=repo, capture_output=True, text=True).stdout
    p = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    (res,) = load_reproduced(tmp_path / "reproduced")
    assert res.benchmark == "rm-bench" and res.metrics["accuracy_avg"] == 0.0  # DPO reward vs itself: all ties
    assert res.manifest["model"] == str(folder) and res.manifest["git"]
