"""APO's LLM side: rejection sampling with a reward model (scripts/rejection_sample.py, prefopt.reward.rjs), the
`hh` prompt template and query loading (prefopt.reward.sampling), and `make eval-rm-score` (prefopt.reward.score_eval).

The end-to-end tests run on the 0.2M-parameter char-level tiny Llama of conftest (policy) and a reward head on the
same backbone (RM), offline, in a few seconds each.
"""

from __future__ import annotations

import json
import math
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import make_dry_run, make_tiny_tokenizer, tiny_model_and_pairs

from prefopt.core.errors import InputError
from prefopt.evaluation.settings import parse_generation
from prefopt.reward.data import render_query
from prefopt.reward.rjs import RejectionSamplingConfig, parse_rjs_config, run_rejection_sampling, score_and_select
from prefopt.reward.sampling import HH_TEMPLATE, hh_messages, load_queries
from prefopt.reward.score_eval import evaluate_policy, read_answers, score_answers, win_rate

REPO = Path(__file__).resolve().parents[1]
APO_TESTING = "do_sample=true temperature=0.3 top_k=5 top_p=0.85 max_new_tokens=512 repetition_penalty=1.05"


# ---- settings, template, queries (no model) ------------------------------------------------------------------
def test_apo_generation_strings_through_the_one_parser():
    """eval-rm-score reads GENERATION with prefopt.evaluation.settings, as every benchmark target does; APO's
    testing settings give do_sample, so they mean the same under HF's and vLLM's readings."""
    s = parse_generation(APO_TESTING + " num_return_sequences=2")
    assert s.generate_kwargs() == {"max_new_tokens": 512, "do_sample": True, "seed": 0, "stop": None,
                                   "extra_eos_ids": [], "repetition_penalty": 1.05, "temperature": 0.3,
                                   "top_p": 0.85, "top_k": 5}
    assert s.num_return_sequences == 2 and parse_generation(None).num_return_sequences == 1
    with pytest.raises(InputError, match="did you mean temperature"):
        parse_generation("temprature=0.3")
    with pytest.raises(InputError, match="top_k='0.5' is not a valid int"):
        parse_generation("top_k=0.5")
    with pytest.raises(InputError, match="num_return_sequences must be >= 1"):
        parse_generation("num_return_sequences=0")


def test_hh_template_renders_apo_prompts_and_round_trips():
    tok = make_tiny_tokenizer(HH_TEMPLATE)
    msgs = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"}, {"role": "user", "content": "how do I cook?"}]
    prompt = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    assert prompt == ("<|bos|>\n\nSystem: Be kind.\n\nHuman: hi\n\nAssistant: hello\n\nHuman: how do I cook?"
                      "\n\nAssistant:")
    assert prompt == tok.bos_token + render_query(msgs)          # what the RM reads, with the policy's BOS
    full = tok.apply_chat_template(msgs + [{"role": "assistant", "content": "Preheat."}], tokenize=False)
    assert full == prompt + " Preheat.<|eos|>"                   # the SFT target: one EOS, after the last turn
    assert hh_messages(render_query(msgs), "q") == msgs
    assert hh_messages("plain text?", "q") == [{"role": "user", "content": "plain text?"}]
    # the policy configs carry the same template (no copy can drift)
    for method in ("rjs", "rjs-apo"):
        raw = yaml.safe_load((REPO / "training_configs" / "alpaca-7b-hh" / f"{method}.yaml").read_text())
        assert raw["chat_template"] == HH_TEMPLATE


def _write_jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_load_queries_every_format(tmp_path):
    rows = [{"text": ["\n\nHuman: hi\n\nAssistant:<sep> yo", "\n\nHuman: hi\n\nAssistant:<sep> no"],
             "scores": [1, 0], "query_id": "q1"},
            {"query": "plain question"},
            {"prompt": [{"role": "user", "content": "x"}], "id": "p"},
            {"chosen": "\n\nHuman: a\n\nAssistant: b\n\nHuman: c\n\nAssistant: d",
             "rejected": "\n\nHuman: a\n\nAssistant: b\n\nHuman: c\n\nAssistant: e"}]
    qs = load_queries(_write_jsonl(tmp_path / "q.jsonl", rows), "test")
    assert [q["query_id"] for q in qs] == ["q1", "1", "p", "3"]
    assert qs[0] == {"query_id": "q1", "query": "\n\nHuman: hi\n\nAssistant:",
                     "prompt": [{"role": "user", "content": "hi"}]}
    assert qs[1]["query"] == "\n\nHuman: plain question\n\nAssistant:"
    assert qs[2]["prompt"] == [{"role": "user", "content": "x"}]
    assert qs[3]["prompt"] == [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                               {"role": "user", "content": "c"}]
    assert qs[3]["query"] == "\n\nHuman: a\n\nAssistant: b\n\nHuman: c\n\nAssistant:"


@pytest.mark.parametrize("row, message", [
    ({"query_id": "a", "foo": 1}, "row 1: row has no query (its fields: foo, query_id)"),
    ({"query": "  "}, "row 1: field 'query' is empty"),
    ({"text": ["no separator"], "scores": [1]}, "row 1: field 'text'[0] has no '<sep>'"),
    ({"prompt": 3}, "row 1: field 'prompt' is a int"),
])
def test_a_query_without_prompt_is_a_clear_error(tmp_path, row, message):
    path = _write_jsonl(tmp_path / "q.jsonl", [row])
    with pytest.raises(InputError) as e:
        load_queries(path, "test")
    assert f"{path}:{message}" in str(e.value) and "fix:" in str(e.value)


def test_duplicate_query_ids_are_an_error(tmp_path):
    path = _write_jsonl(tmp_path / "q.jsonl", [{"query": "a", "query_id": 1}, {"query": "b", "query_id": 1}])
    with pytest.raises(InputError, match="query_id '1' appears twice"):
        load_queries(path, "test")


# ---- configs ---------------------------------------------------------------------------------------------------
def test_config_errors(tmp_path):
    base = tmp_path / "c.yaml"
    base.write_text("policy: p\nreward_model: r\nqueries: q\noutput_dir: o\n")
    assert parse_rjs_config([str(base)]).num_samples == 4
    with pytest.raises(InputError, match="(?s)unknown config key 'temprature'.*did you mean temperature"):
        parse_rjs_config([str(base), "--temprature=1.2"])
    with pytest.raises(InputError, match="num_samples must be >= 1, got 0"):
        parse_rjs_config([str(base), "--num_samples=0"])
    with pytest.raises(InputError, match="empty_samples must be one of"):
        parse_rjs_config([str(base), "--empty_samples=skip"])
    with pytest.raises(InputError, match="num_samples > 1 with do_sample false"):
        parse_rjs_config([str(base), "--do_sample=false"])
    (tmp_path / "d.yaml").write_text("queries: q\noutput_dir: o\n")
    with pytest.raises(InputError, match="policy, reward_model not set"):
        parse_rjs_config([str(tmp_path / "d.yaml")])


def test_the_cells_sampling_configs_follow_apo_and_chain_into_the_sft_configs():
    from prefopt.reproduce.cells import load_registry

    cells = load_registry().cells
    for method, cell, rm_cell in (("rjs", "hh-base-rjs", "hh-base-rm"), ("rjs-apo", "hh-apo-rjs", "hh-apo-rm")):
        cfg = parse_rjs_config([str(REPO / "sampling_configs" / "alpaca-7b-hh" / f"{method}.yaml")])
        # APO tools/inference_llm.py "sampling" (research notes §C.4); top_k 50 = transformers' default there
        assert (cfg.policy, cfg.num_samples, cfg.temperature, cfg.top_p, cfg.top_k, cfg.max_new_tokens) == \
            ("chavinlo/alpaca-native", 4, 1.2, 1.0, 50, 256)
        assert cfg.chat_template == "hh" and cfg.empty_samples == "drop" and cfg.stop == []
        assert cfg.reward_model == cells[rm_cell].output_dir
        sft = yaml.safe_load((REPO / cells[cell].config).read_text())
        assert sft["dataset"] == cfg.output_dir and sft["model_name_or_path"] == cfg.policy == cells[cell].start
        assert cells[cell].train == "config" and cells[cell].script == "scripts/run_sft.py"
        # stanford_alpaca's recipe: global batch 128 on 8 GPUs, lr 2e-5, 3 epochs, warmup ratio 0.03, cosine
        assert sft["per_device_train_batch_size"] * sft["gradient_accumulation_steps"] * 8 == 128
        assert (sft["learning_rate"], sft["num_train_epochs"], sft["warmup_steps"], sft["max_length"]) == \
            (2e-5, 3, 0.03, 512)
    tiny = parse_rjs_config([str(REPO / "sampling_configs" / "tiny" / "rjs.yaml")])
    assert yaml.safe_load((REPO / "training_configs" / "tiny" / "rjs.yaml").read_text())["dataset"] == tiny.output_dir


# ---- the chain on tiny models ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(policy folder, pairs folder with train/test, reward-model folder)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from prefopt.reward.model import RewardModel

    root = tmp_path_factory.mktemp("rjs")
    model_dir, data = tiny_model_and_pairs(root, 12, 6)
    torch.manual_seed(0)
    rm = RewardModel(AutoModel.from_pretrained(model_dir), "average")
    rm.save_pretrained(root / "rm", add_sep_token=True, max_length=32)
    AutoTokenizer.from_pretrained(model_dir).save_pretrained(root / "rm")
    return str(model_dir), data, str(root / "rm")


def _config(tmp_path, tiny, **extra) -> Path:
    model_dir, data, rm = tiny
    values = {"policy": model_dir, "reward_model": rm, "queries": str(data), "query_split": "train",
              "max_queries": 10, "output_dir": str(tmp_path / "rjs"), "num_samples": 3, "temperature": 1.0,
              "max_new_tokens": 4, "chunk_size": 4, "batch_size": 8, "empty_samples": "drop", "device": "cpu", **extra}
    path = tmp_path / "rjs.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def rjs_run(tiny, tmp_path_factory):
    """(config file, output folder, manifest) of one finished rejection-sampling run on the tiny models."""
    cfg_file = _config(tmp_path_factory.mktemp("rjs_run"), tiny)
    manifest = run_rejection_sampling(parse_rjs_config([str(cfg_file)]))
    return cfg_file, cfg_file.parent / "rjs", manifest


def test_rejection_sampling_keeps_the_best_scored_sample(tiny, rjs_run):
    from prefopt.reward.sampling import load_scorer

    _, out, manifest = rjs_run
    samples, rows = _rows(out / "samples.jsonl"), _rows(out / "train.jsonl")
    assert [s["chunk"] for s in samples] == [0] * 4 + [1] * 4 + [2] * 2
    # the scores stored are the RM's scores of query + sample, recomputed here independently
    rm, tok, settings = load_scorer(tiny[2], "cpu")
    by_id = {s["query_id"]: s for s in samples}
    for row in rows:
        s = by_id[row["query_id"]]
        keys = [k for k in ("sample_0", "sample_1", "sample_2") if s[k].strip()]
        assert sorted(row["scores"]) == keys                      # empty samples are not candidates
        (again,) = score_answers(rm, tok, settings, [{"query": s["query"], **{k: s[k] for k in keys}}])
        assert [row["scores"][k] for k in keys] == pytest.approx(again, abs=1e-5)
        # best of n: the highest-scored sample is the SFT target, after the query's prompt
        assert row["target_key"] == max(row["scores"], key=row["scores"].get)
        assert row["messages"] == s["prompt"] + [{"role": "assistant", "content": s[row["target_key"]].strip()}]
    assert manifest["status"] == "finished" and manifest["num_samples"] == 3
    assert manifest["policy"] == tiny[0] and manifest["reward_model"] == tiny[2]
    assert manifest["generation"]["temperature"] == 1.0 and manifest["generation"]["max_new_tokens"] == 4
    c = manifest["counts"]
    assert c["sft_rows"] == len(rows) and c["sft_rows"] + c["dropped_all_empty"] == 10
    assert c["mean_best_score"] == pytest.approx(statistics.mean(r["scores"][r["target_key"]] for r in rows))


def test_rejection_sampling_resumes_and_is_idempotent(rjs_run, tmp_path, monkeypatch):
    cfg_file, done, _ = rjs_run
    out = tmp_path / "rjs"
    shutil.copytree(done, out)
    cfg = [str(cfg_file), f"--output_dir={out}"]
    first_samples, first_rows = (out / "samples.jsonl").read_text(), (out / "train.jsonl").read_text()
    # a run killed inside chunk 2 keeps chunks 0-1 and ends with the same samples and rows
    lines = first_samples.splitlines(keepends=True)
    (out / "samples.jsonl").write_text("".join(lines[:8]) + lines[8][:20])   # chunk 2 cut mid-line
    (out / "train.jsonl").unlink()
    run_rejection_sampling(parse_rjs_config(cfg))
    assert (out / "samples.jsonl").read_text() == first_samples
    assert (out / "train.jsonl").read_text() == first_rows

    # a finished run with the same settings loads no model; other settings in the same folder are an error
    def no_model(*a, **k):
        raise AssertionError("a finished run loaded the policy")

    monkeypatch.setattr("prefopt.reward.sampling.load_policy", no_model)
    assert run_rejection_sampling(parse_rjs_config(cfg))["status"] == "finished"
    with pytest.raises(InputError, match="other settings"):
        run_rejection_sampling(parse_rjs_config([*cfg, "--seed=1"]))


def test_run_sft_trains_on_the_rejection_sampled_rows(tiny, rjs_run, tmp_path):
    from prefopt.config import SFTConfig, build_config
    from prefopt.training.sft import train_sft

    _, out, manifest = rjs_run
    raw = {"model_name_or_path": tiny[0], "dataset": str(out), "train_split": "train", "eval_split": None,
           "max_length": 32, "learning_rate": 1e-3, "max_steps": 6, "per_device_train_batch_size": 4,
           "logging_steps": 1, "use_cpu": True, "report_to": "none", "save_strategy": "no",
           "output_dir": str(tmp_path / "sft")}
    metrics = train_sft(*build_config(raw, "rjs-sft.yaml", SFTConfig))
    losses = [e["loss"] for e in json.loads((tmp_path / "sft" / "log_history.json").read_text())["log_history"]
              if "loss" in e]
    assert math.isfinite(metrics["train_loss"]) and len(losses) == 6 and all(math.isfinite(x) for x in losses)
    sft_manifest = json.loads((tmp_path / "sft" / "manifest.json").read_text())
    assert sft_manifest["data"]["train"]["kept"] == manifest["counts"]["sft_rows"]


def test_empty_sample_sets_and_a_missing_reward_model(tmp_path, tiny):
    cfg = RejectionSamplingConfig(policy="p", reward_model="r", queries="q", output_dir="o", num_samples=2)
    samples = [{"query_id": "a", "query": "Q", "prompt": [], "sample_0": "x", "sample_1": ""},
               {"query_id": "b", "query": "Q", "prompt": [], "sample_0": " ", "sample_1": ""}]
    with pytest.raises(InputError) as e:
        score_and_select(cfg, samples, "out/samples.jsonl")
    msg = str(e.value)
    assert msg.startswith("out/samples.jsonl:line 2: query_id 'b': every sample (fields sample_0..sample_1) is empty")
    assert "fix: set empty_samples: drop" in msg
    # a reward model that is not there stops the run before anything is sampled
    with pytest.raises(InputError, match=r"(?s)does not exist.*make hh-base-rm"):
        run_rejection_sampling(parse_rjs_config([str(_config(tmp_path, tiny, reward_model=str(tmp_path / "no")))]))
    assert not (tmp_path / "rjs" / "samples.jsonl").exists()


def test_eval_rm_score_writes_a_valid_result(tmp_path, tiny):
    from prefopt.reproduce.cells import load_registry
    from prefopt.reproduce.results import load_reproduced

    model_dir, data, rm = tiny
    gen = APO_TESTING.replace("max_new_tokens=512", "max_new_tokens=4")
    payload, path = evaluate_policy(model_dir, rm, str(data / "test.jsonl"), template="tokenizer", generation=gen,
                                    out=tmp_path / "hh-base-rjs" / "hh-test.json", cell="hh-base-rjs", device="cpu")
    (res,) = load_reproduced(tmp_path, cell_ids=set(load_registry().cells))
    assert (res.cell, res.benchmark, res.path) == ("hh-base-rjs", "hh-test", path)
    answers = read_answers(tmp_path / "hh-base-rjs")
    scores = [s for a in answers for s in a["scores"]]
    assert len(answers) == 6 and res.metrics["avg_score"] == pytest.approx(statistics.mean(scores))
    assert res.metrics["avg_score_se"] == pytest.approx(statistics.stdev(scores) / math.sqrt(6))
    generation = payload["manifest"]["generation"]
    assert {k: generation[k] for k in ("temperature", "top_k", "top_p", "max_new_tokens", "repetition_penalty",
                                       "do_sample", "num_return_sequences", "seed")} == {
        "temperature": 0.3, "top_k": 5, "top_p": 0.85, "max_new_tokens": 4, "repetition_penalty": 1.05,
        "do_sample": True, "num_return_sequences": 1, "seed": 0}
    assert payload["manifest"]["reward_model"] == rm and payload["manifest"]["model"] == model_dir

    # against itself (same seed, same answers): every query is a tie, so the win rate is exactly 50%
    again, _ = evaluate_policy(model_dir, rm, str(data / "test.jsonl"), generation=gen, device="cpu",
                               baseline=str(tmp_path / "hh-base-rjs"), out=tmp_path / "self" / "hh-test.json")
    assert again["metrics"]["win_rate"] == 50.0 and again["metrics"]["win_rate_se"] == 0.0
    assert again["metrics"]["baseline_avg_score"] == pytest.approx(res.metrics["avg_score"], abs=1e-6)
    # a baseline that lacks queries is named, before any model is loaded
    evaluate_policy(model_dir, rm, str(data / "test.jsonl"), generation=gen, limit=4, device="cpu",
                    out=tmp_path / "short" / "hh-test.json")
    with pytest.raises(InputError, match=r"the baseline has no answer for 2 queries: '4', '5'"):
        evaluate_policy(model_dir, rm, str(data / "test.jsonl"), generation=gen, device="cpu",
                        baseline=str(tmp_path / "short"), out=tmp_path / "x" / "hh-test.json")


def test_win_rate_by_hand():
    # outcomes 1 (a), 0.5 (b: tie), 0 (c), 0.5 (d: tie) -> 50%; SE = stdev(1, .5, 0, .5) / 2 = sqrt(1/6) / 2
    rate, se = win_rate({"a": 1.0, "b": 2.0, "c": 3.0, "d": 0.0}, {"a": 0.0, "b": 2.0, "c": 5.0, "d": 0.0})
    assert rate == 50.0 and se == pytest.approx(100 * math.sqrt(1 / 6) / 2)


# ---- entry points ------------------------------------------------------------------------------------------------
def test_eval_rm_score_needs_rm_before_loading_anything():
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "eval_rm_score.py"), "--model", "x"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "the following arguments are required: --rm" in out.stderr
    if shutil.which("make") is None:
        pytest.skip("make not installed")
    out = subprocess.run(["make", "--no-print-directory", "eval-rm-score", "MODEL=x"], cwd=REPO, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2 and out.stdout.startswith("usage: make eval-rm-score MODEL=<policy> RM=")


def test_make_wiring_of_the_rjs_cells():
    dry = make_dry_run
    out = dry("eval-hh-apo-rjs", "RM=outputs/llama-7b-hh-rm/rm-testing", "BASELINE=results/reproduced/hh-base-rjs")
    assert ("scripts/eval_rm_score.py --model outputs/alpaca-7b-hh/rjs-apo --rm outputs/llama-7b-hh-rm/rm-testing "
            "--data hh-test --out_dir results/reproduced/hh-apo-rjs") in out
    assert f"--cell hh-apo-rjs --template hh --generation '{APO_TESTING}'" in out
    assert "--baseline results/reproduced/hh-base-rjs" in out
    if not (REPO / "outputs" / "alpaca-7b-hh" / "rjs-data" / "rjs" / "train.jsonl").exists():
        out = dry("hh-base-rjs")   # the data step first, then the SFT launch
        data = out.index("scripts/rejection_sample.py sampling_configs/alpaca-7b-hh/rjs.yaml")
        assert data < out.index("scripts/run_sft.py training_configs/alpaca-7b-hh/rjs.yaml")
