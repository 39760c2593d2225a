"""prefopt.toy.mechanisms: the padded-addition task and its judges, label noise, the verdict statistics, the
selection record, and a fast end-to-end run of one claim (issue 19)."""

from __future__ import annotations

import json
import math

import pytest

from prefopt.core.errors import InputError
from prefopt.toy.addition import AdditionTask, build_onpolicy_pairs
from prefopt.toy.mechanisms.claims import FAILS, HOLDS, UNCLEAR, margin_effort, paired, verdict
from prefopt.toy.mechanisms.noise import flip_pairs, is_flipped
from prefopt.toy.mechanisms.probes import spearman
from prefopt.toy.mechanisms.spec import load_spec
from prefopt.toy.mechanisms.tasks_length import LengthBiasedLabeller, PaddedAdditionTask


@pytest.fixture(scope="module")
def task():
    return PaddedAdditionTask()


# ---- the task ---------------------------------------------------------------------------------------------
def test_quality_judge_ignores_padding_and_nothing_else(task):
    p = "47+38="
    for good in ["85", "85.", "85......", " 85...\n", [{"role": "assistant", "content": "85.."}]]:
        assert task.judge(p, good) == 1.0, good
    for bad in ["75", "75...", "85.x", "8.5", "85 .", ".85", "085", "", None, "85=", "85..+"]:
        assert task.judge(p, bad) == 0.0, bad
    assert task.split_response("85...") == ("85", 3) and task.split_response("85.x") is None
    assert task.length("85...") == 5 and task.length(" 85 ") == 2 and task.length(None) == 0
    with pytest.raises(InputError):
        task.judge("hello", "85")


def test_budget_and_alphabet(task):
    # 2 digits: the longest sum has 3 characters, + EOS = 4 (the embedded task), + 6 pad + 6 room to grow
    assert task.max_new_tokens() == 16
    assert task.alphabet == "0123456789+=."
    for bad in ({"filler": "1"}, {"filler": "+"}, {"filler": ".."}, {"max_pad": 0}):
        with pytest.raises(InputError):
            PaddedAdditionTask(**bad)


def test_sft_rows_keep_the_flaw_and_pad_uniformly(task):
    rows, stats = task.sft_rows()
    plain, plain_stats = AdditionTask().sft_rows()  # same seed: same prompts and the same carry-dropped rows
    assert len(rows) == len(plain) and stats["flawed"] == plain_stats["flawed"]
    pads = []
    for row, ref in zip(rows, plain):
        number, pad = task.split_response(row["messages"][1]["content"])
        assert number == ref["messages"][1]["content"] and 0 <= pad <= task.max_pad
        pads.append(pad)
    counts = [pads.count(k) for k in range(task.max_pad + 1)]
    assert min(counts) > 0.8 * len(pads) / 7 and max(counts) < 1.2 * len(pads) / 7  # Uniform{0..6}
    assert stats["mean_pad"] == pytest.approx(sum(pads) / len(pads))
    assert task.sft_rows()[0] == rows  # deterministic


def test_length_biased_labeller(task):
    lab = LengthBiasedLabeller(task)
    p = "47+38="
    assert lab.score(p, "85...") == pytest.approx(1 + 3 / 16)
    assert lab.score(p, "85") == 1.0
    assert lab.score(p, "75" + "." * 12) == pytest.approx(12 / 16)
    assert lab.score(p, "75" + "." * 12) < lab.score(p, "85")  # quality first
    assert lab.score(p, "85.x") == 0.0  # malformed: no length credit
    assert LengthBiasedLabeller(task, 0.0).score(p, "85...") == 1.0
    with pytest.raises(InputError):
        LengthBiasedLabeller(task, 1.5)
    # best vs worst of the samples: the longest correct answer against the shortest wrong one
    rows, _ = build_onpolicy_pairs([p], [["85.", "75", "85....", "75..", "85"]], lab.score)
    assert rows[0]["chosen"][0]["content"] == "85...." and rows[0]["rejected"][0]["content"] == "75"
    rows, _ = build_onpolicy_pairs([p], [["85..", "85", "85...."]], lab.score)  # all correct: length decides
    assert (rows[0]["chosen"][0]["content"], rows[0]["rejected"][0]["content"]) == ("85....", "85")


# ---- label noise ------------------------------------------------------------------------------------------
def _pair(i):
    return {"prompt": [{"role": "user", "content": f"{i}+1="}], "chosen": [{"role": "assistant", "content": "c"}],
            "rejected": [{"role": "assistant", "content": f"r{i}"}]}


def test_flip_pairs():
    rows = [_pair(i) for i in range(10)]
    noisy, flipped = flip_pairs(rows, 0.2, seed=3)
    assert len(flipped) == 2 and flipped == sorted(flipped)
    for i, (old, new) in enumerate(zip(rows, noisy)):
        swapped = (new["chosen"], new["rejected"]) == (old["rejected"], old["chosen"])
        assert swapped == (i in flipped) and (i in flipped or new == old)
    assert rows == [_pair(i) for i in range(10)]  # input untouched
    assert flip_pairs(rows, 0.2, seed=3)[1] == flipped and flip_pairs(rows, 0.4, seed=3)[1] != flipped
    assert flip_pairs(rows, 0.0, seed=3)[1] == [] and len(flip_pairs(rows, 0.25, seed=0)[1]) == 2  # round(2.5) = 2
    with pytest.raises(InputError):
        flip_pairs(rows, 0.5, seed=0)
    judge = AdditionTask().judge
    assert is_flipped(judge, "1+1=", "3", "2") and not is_flipped(judge, "1+1=", "2", "3")
    assert not is_flipped(judge, "1+1=", "3", "4")  # equal quality: not recognisably flipped


# ---- statistics and verdicts ----------------------------------------------------------------------------
def test_spearman_by_hand():
    assert spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    # ties get average ranks: x ranks (0, 1.5, 1.5, 3), y ranks (0, 1, 2, 3): 4.5 / sqrt(4.5 * 5)
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(4.5 / math.sqrt(22.5))
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_paired_statuses_by_hand():
    s = paired([3, 4, 5], [1, 1, 1], min_se=2.0)  # d = 2, 3, 4: mean 3, sd 1, se 0.577 -> 5.2 se
    assert (s["mean"], s["sd"], s["status"]) == (pytest.approx(3.0), pytest.approx(1.0), HOLDS)
    # d = 1, .1, .2: all positive but mean .433 < 2 * se (.285): not established
    assert paired([2, 1.1, 1.2], [1, 1, 1], 2.0)["status"] == UNCLEAR
    assert paired([1, 2], [2, 1], 2.0)["status"] == FAILS  # mean 0
    assert paired([1, 3, 2], [2, 1, 1], 2.0)["status"] == UNCLEAR  # one seed disagrees
    assert paired([5], [1], 2.0)["status"] == UNCLEAR  # one seed never establishes anything
    assert verdict({"a": {"status": HOLDS}, "b": {"status": HOLDS}}) == "reproduced"
    assert verdict({"a": {"status": HOLDS}, "b": {"status": UNCLEAR}}) == "inconclusive"
    assert verdict({"a": {"status": UNCLEAR}, "b": {"status": FAILS}}) == "not reproduced"


def test_margin_effort_by_hand():
    # SFT margins: pairs 0, 1 right (> 0), pairs 2, 3 misranked; after training +0.5, +0.1 and +0.2, +1.5
    start = {"test_pairs": {"avg_margin": [1.0, 0.5, -0.1, -1.0]}}
    after = {"test_pairs": {"avg_margin": [1.5, 0.6, 0.1, 0.5]}}
    e = margin_effort(after, start, "test_pairs")
    assert e["gain_right"] == pytest.approx(0.3) and e["gain_wrong"] == pytest.approx(0.85)
    assert e["allocation"] == pytest.approx(0.55) and e["fixed"] == 1.0 and e["misranked"] == 0.0
    assert (e["n_right"], e["n_wrong"]) == (2, 2)


# ---- the spec -----------------------------------------------------------------------------------------------
def test_spec_is_data_with_help(tmp_path):
    import dataclasses

    from prefopt.toy.mechanisms import spec as spec_module

    spec = load_spec()
    assert spec.seeds == [0, 1, 2] and len(spec.sha256) == 16
    for cls in [c for c in vars(spec_module).values() if dataclasses.is_dataclass(c)]:
        for f in dataclasses.fields(cls):
            assert f.metadata.get("help"), f"{cls.__name__}.{f.name} has no help text"
    bad = tmp_path / "bad.yaml"
    bad.write_text("task:\n  max_padd: 3\n")
    with pytest.raises(InputError, match="max_padd") as e:
        load_spec(bad)
    assert "bad.yaml" in str(e.value) and "max_pad" in str(e.value)
    bad.write_text("verdict:\n  min_se: two\n")
    with pytest.raises(InputError, match="min_se must be float"):
        load_spec(bad)
    bad.write_text("budget:\n  max_steps: 0\n")
    with pytest.raises(InputError, match="positive integer"):
        load_spec(bad)


def test_plan_shares_runs_between_claims():
    from prefopt.toy.mechanisms.__main__ import plan

    claims, runs = plan(load_spec(), None)
    assert [c.name for c in claims] == ["length", "length_control", "gamma", "adaptive_margin", "label_noise", "apo"]
    ids = [r.id for r in runs]
    assert len(ids) == len(set(ids))
    by_id = {r.id: r for r in runs}
    # SimPO at the config's gamma/beta is the gamma grid's 0.5 point AND claim 4's curve run: one run, with a curve
    assert by_id["quality/simpo"].curve and not by_id["quality/simpo-gamma_beta_ratio1"].curve
    assert "length_biased/rdpo" in by_id and "length_biased/rdpo-alpha0.05" not in by_id  # 0.05 = tiny/rdpo.yaml
    for pairs in ("quality", "quality_flip0.2", "quality_flip0.4"):  # the scheduler is pretrained before SamS
        assert ids.index(f"{pairs}/sams-pretrain") < ids.index(f"{pairs}/dpo-sams")


# ---- the selection record (in-process instrumentation of the trainer) ----------------------------------
def test_record_selection_counts_flipped_and_selected_pairs(tmp_path):
    """32 pairs, 8 of them flipped, batches of 8, 4 steps (one epoch), a random half of each batch selected:
    every pair is seen once (8 flipped + 24 clean) and exactly 4 x 4 = 16 are selected."""
    from conftest import tiny_model_and_pairs
    from transformers import AutoTokenizer

    from prefopt.toy.chain import tiny_config, train
    from prefopt.toy.mechanisms.probes import record_selection

    model_dir, data = tiny_model_and_pairs(tmp_path, 32)
    rows = [json.loads(x) for x in (data / "train.jsonl").read_text().splitlines()]
    noisy, flipped = flip_pairs(rows, 0.25, seed=0)
    (data / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in noisy))
    cfg = tiny_config("dpo-random-half", model_name_or_path=str(model_dir), dataset=str(data), eval_split=None,
                      output_dir=str(tmp_path / "run"), task_eval=None, max_steps=4, per_device_train_batch_size=8,
                      reference_cache_dir=str(tmp_path / "refcache"), resume="never", logging_steps=1)
    from prefopt.training.trainer import PreferenceTrainer

    original, tally = PreferenceTrainer.compute_loss, {}
    with record_selection(AutoTokenizer.from_pretrained(model_dir), AdditionTask().judge, tally):
        train("random-half", cfg)
    assert len(flipped) == 8
    assert (tally["flipped_seen"], tally["clean_seen"]) == (8, 24)
    assert tally["flipped_selected"] + tally["clean_selected"] == 16
    assert PreferenceTrainer.compute_loss is original  # the instrumentation is removed afterwards


# ---- a fast end-to-end run of one claim --------------------------------------------------------------
def test_length_claim_end_to_end(tmp_path):
    """Claim 1 through the real chain with a small budget: SFT, sampled and labelled pairs, DPO and SimPO with
    checkpoints, evaluation, verdict, report. Learning must show: DPO ranks its training pairs by its implicit
    reward far above chance after 10 steps."""
    from prefopt.toy.mechanisms.__main__ import main

    spec = tmp_path / "quick.yaml"
    spec.write_text(
        "seeds: [0]\ntask: {n_pairs: 120, n_test: 100}\nsampling: {n_samples: 8}\n"
        "evaluation: {length_prompts: 40, length_samples: 2, checkpoint_every: 5}\n"
        "budget: {sft_max_steps: 150, max_steps: 10}\nclaims:\n  length: {methods: [dpo, simpo]}\n")
    out, work = tmp_path / "report", tmp_path / "work"
    assert main(["--spec", str(spec), "--out", str(out), "--work", str(work)]) == 0
    payload = json.loads((out / "mechanisms.json").read_text())
    claim = payload["claims"]["length"]
    assert claim["verdict"] in ("reproduced", "not reproduced", "inconclusive")
    assert {"dpo", "simpo"} <= set(claim["numbers"])
    assert (out / "length.md").read_text().startswith("# SimPO vs DPO") and (out / "length.png").stat().st_size > 0
    assert "length" in (out / "README.md").read_text()
    dpo = json.loads((work / "seed0" / "evals" / "length_biased" / "dpo.json").read_text())
    assert [c["step"] for c in dpo["curve"]] == [5, 10]
    train_margins = dpo["curve"][-1]["train_pairs"]["logratio_margin"]
    assert sum(m > 0 for m in train_margins) / len(train_margins) > 0.7
    data = payload["per_seed"]["0"]["data"]["length_biased"]
    assert data["chosen_longer"] > 0.5  # the labeller's length bias is in the data
    # a second invocation trains nothing and writes the same verdict
    assert main(["--spec", str(spec), "--out", str(out), "--work", str(work)]) == 0
    assert json.loads((out / "mechanisms.json").read_text())["claims"]["length"]["verdict"] == claim["verdict"]


def test_train_from_config_trains_a_reward_model(tmp_path):
    """The chain trains reward models (claim 6) through the same entry point as every other run."""
    from conftest import tiny_model_and_pairs

    from prefopt.toy.chain import tiny_config
    from prefopt.training.dispatch import train_from_config

    model_dir, data = tiny_model_and_pairs(tmp_path, 16, 8)
    cfg = tiny_config("rm", model_name_or_path=str(model_dir), dataset=str(data), output_dir=str(tmp_path / "rm"),
                      max_steps=2, per_device_train_batch_size=8, resume="never")
    metrics = train_from_config(*cfg)
    assert 0.0 <= metrics["eval_test_accuracy"] <= 1.0
    assert json.loads((tmp_path / "rm" / "manifest.json").read_text())["status"] == "finished"
