"""The on-policy data chain (prefopt.onpolicy, on_policy_data_gen/): post_process and binarize on hand-built
cases, decode's resume, the reward adapters, and the whole chain on the embedded task with a tiny model, ending
in scripts/run_po.py training on the dataset folder it writes."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from conftest import make_dry_run

from prefopt.core.errors import InputError
from prefopt.onpolicy import binarize_rows, load_scorer, merge_generations
from prefopt.onpolicy.decode import Sampling, decode_seeds, load_prompts, resolve_backend
from prefopt.onpolicy.post_process import read_generations

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run ~50x faster on one thread when other processes share the 2 cores (thread spin-waits)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _script(name: str):
    """on_policy_data_gen/<name>.py as a module: its run(argv) is what the command line runs."""
    spec = importlib.util.spec_from_file_location(f"onpolicy_{name}", REPO / "on_policy_data_gen" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _jsonl(path: Path, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------- post_process


def test_merge_drops_identical_and_empty_and_counts_them():
    prompts = ["a", "b", "c", "d"]
    per_seed = {13: ["x", "same", "", "p"], 21: ["y", "same", "", "q"], 42: ["x", "same", "z", ""]}
    rows, stats = merge_generations(prompts, per_seed)
    assert [r["prompt"] for r in rows] == ["a", "d"]
    assert rows[0] == {"prompt": "a", "all_generated_responses": ["x", "y", "x"], "seeds": [13, 21, 42]}
    assert rows[1]["all_generated_responses"] == ["p", "q"] and rows[1]["seeds"] == [13, 21]
    assert stats == {"n_prompts": 4, "n_seeds": 3, "seeds": [13, 21, 42], "n_kept": 2, "n_all_identical": 1,
                     "n_too_few_responses": 1, "n_empty_responses": 3}


def test_seed_files_must_hold_the_same_prompts(tmp_path):
    _jsonl(tmp_path / "output_13.jsonl", [{"prompt": "a", "generated_text": "1"}, {"prompt": "b", "generated_text": "2"}])
    _jsonl(tmp_path / "output_21.jsonl", [{"prompt": "a", "generated_text": "3"}, {"prompt": "c", "generated_text": "4"}])
    with pytest.raises(InputError, match=r"(?s)output_21\.jsonl:row 2.*different prompt list.*fix: decode every seed"):
        read_generations(tmp_path)
    prompts, per_seed, _ = read_generations(tmp_path, seeds=[13])
    assert prompts == ["a", "b"] and per_seed == {13: ["1", "2"]}
    _jsonl(tmp_path / "output_21.jsonl", [{"prompt": "a", "generated_text": "3"}, {"prompt": "b"}])
    with pytest.raises(InputError, match=r"(?s)output_21\.jsonl:row 2: missing field 'generated_text'"):
        read_generations(tmp_path)
    (tmp_path / "output_21.jsonl").unlink()
    (tmp_path / "output_42.jsonl.partial").write_text("")
    with pytest.raises(InputError, match=r"(?s)seed\(s\) \[42\] are unfinished.*fix: run decode.py again"):
        read_generations(tmp_path)


# ------------------------------------------------------------------------------------------- binarize


def _scored(prompt, responses, scores):
    return {"prompt": prompt, "all_generated_responses": responses, "all_rm_scores": scores}


def test_binarize_argmax_argmin_and_ties_dropped_and_counted():
    rows = [_scored("p1", ["a", "b", "c"], [0.1, 0.9, -0.5]),
            _scored("p2", ["a", "b"], [0.3, 0.3]),                      # tie: dropped, counted
            _scored("p3", ["a", "b", "c", "d"], [2.0, 1.0, 2.0, 1.0]),  # first max / first min win
            _scored("p4", ["x", "y"], [1, 5])]
    splits, stats = binarize_rows(rows)
    assert list(splits) == ["train"]
    p1, p3, p4 = splits["train"]
    assert p1["chosen"] == [{"role": "user", "content": "p1"}, {"role": "assistant", "content": "b"}]
    assert p1["rejected"][-1]["content"] == "c" and (p1["score_chosen"], p1["score_rejected"]) == (0.9, -0.5)
    assert p3["chosen"][-1]["content"] == "a" and p3["rejected"][-1]["content"] == "b"
    assert p4["chosen"][-1]["content"] == "y" and len(p4["prompt_id"]) == 64
    assert stats["n_ties_dropped"] == 1 and stats["n_pairs"] == 3 and stats["n_prompts"] == 4
    with pytest.raises(InputError, match="no pairs: all 1 prompts are ties"):
        binarize_rows([rows[1]])


def test_binarize_splits_by_test_prompts_or_by_seeded_fraction():
    rows = [_scored(f"p{i}", ["a", "b"], [0.0, float(i + 1)]) for i in range(20)]
    splits, stats = binarize_rows(rows, test_prompts=["p3", "p7", "not decoded"])
    assert [r["prompt"] for r in splits["test"]] == ["p3", "p7"] and stats["n_train"] == 18
    with pytest.raises(InputError, match="(?s)none of the 1 test prompts.*fix: decode the test prompts too"):
        binarize_rows(rows, test_prompts=["elsewhere"])
    a, _ = binarize_rows(rows, test_fraction=0.25, split_seed=3)
    b, _ = binarize_rows(list(reversed(rows)), test_fraction=0.25, split_seed=3)
    assert len(a["test"]) == 5 and {r["prompt"] for r in a["test"]} == {r["prompt"] for r in b["test"]}
    c, _ = binarize_rows(rows, test_fraction=0.25, split_seed=4)
    assert {r["prompt"] for r in c["test"]} != {r["prompt"] for r in a["test"]}


@pytest.mark.parametrize("row, message", [
    ({"prompt": "p", "all_generated_responses": ["a", "b"]}, "row 1: missing field 'all_rm_scores'"),
    (_scored("p", ["a", ""], [1.0, 2.0]), r"row 1: field 'all_generated_responses'\[1\] is an empty response"),
    (_scored("p", ["a", "b"], [1.0]), "row 1: 1 scores for 2 responses"),
    (_scored("p", ["a", "b"], [1.0, float("nan")]), r"'all_rm_scores'\[1\] is nan"),
    (_scored(["p"], ["a", "b"], [1.0, 2.0]), "field 'prompt' is a list, not a str"),
])
def test_binarize_bad_rows_name_row_field_and_fix(row, message):
    with pytest.raises(InputError, match=message) as e:
        binarize_rows([row], label="x_rm.jsonl")
    assert "x_rm.jsonl:row 1" in str(e.value) and "fix:" in str(e.value)


# ------------------------------------------------------------------------------------------- decode


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from prefopt.toy.tiny import build_tiny

    path = build_tiny("0.2m", "char", cache_dir=tmp_path_factory.mktemp("onpolicy_tiny"))
    return path, AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


PROMPTS = [f"{a}+{b}=" for a, b in [(12, 34), (47, 38), (55, 55), (10, 90), (23, 19), (61, 29), (77, 11), (30, 45),
                                    (99, 10), (18, 27)]]


def test_load_prompts_sorted_unique_and_bad_rows(tmp_path):
    src = _jsonl(tmp_path / "p" / "train.jsonl", [{"prompt": "b"}, {"prompt": "a"}, {"prompt": "b"},
                                                  {"prompt": [{"role": "user", "content": "c"}]}])
    assert load_prompts(str(src.parent), ["train"]) == ["a", "b", "c"]
    assert load_prompts(str(src.parent), ["train"], limit=2) == ["a", "b"]
    _jsonl(tmp_path / "q" / "train.jsonl", [{"prompt": "a"}, {"question": "b"}])
    with pytest.raises(InputError, match=r"(?s)train.jsonl:row 2: missing field 'prompt'.*fix: pass --prompt_field"):
        load_prompts(str(tmp_path / "q"), ["train"])


def test_vllm_backend_fails_fast_without_vllm_and_auto_falls_back():
    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed")
    with pytest.raises(InputError, match="(?s)needs the vllm package.*fix: install it on a CUDA machine"):
        resolve_backend("vllm")
    assert resolve_backend("auto") == "hf"
    decode = _script("decode")
    with pytest.raises(InputError, match="needs the vllm package"):
        decode.run(["--model", "does/not-matter", "--data", "nowhere.jsonl", "--backend", "vllm", "--out", "x"])


def test_decode_resumes_after_an_interruption_with_identical_files(tmp_path, tiny_lm, monkeypatch):
    path, model, tok = tiny_lm
    import prefopt.onpolicy.decode as dec

    kw = dict(sampling=Sampling(temperature=1.0, max_new_tokens=4), chunk_size=3, batch_size=2, backend="hf",
              progress=False, model_and_tokenizer=(model, tok))
    decode_seeds(str(path), PROMPTS, [1, 2], tmp_path / "ref", **kw)

    real, calls = dec.generate, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # killed while sampling the 3rd chunk of seed 1
        return real(*args, **kwargs)

    monkeypatch.setattr(dec, "generate", flaky)
    with pytest.raises(KeyboardInterrupt):
        decode_seeds(str(path), PROMPTS, [1, 2], tmp_path / "run", **kw)
    partial = tmp_path / "run" / "output_1.jsonl.partial"
    assert len(partial.read_text().splitlines()) == 6 and not (tmp_path / "run" / "output_1.jsonl").exists()
    with open(partial, "a") as f:
        f.write('{"prompt": "broken')  # half a line: a kill in the middle of a write
    monkeypatch.setattr(dec, "generate", real)
    status = decode_seeds(str(path), PROMPTS, [1, 2], tmp_path / "run", **kw)
    assert status == {1: "resumed", 2: "sampled"}
    for seed in (1, 2):
        ref = (tmp_path / "ref" / f"output_{seed}.jsonl").read_text()
        assert (tmp_path / "run" / f"output_{seed}.jsonl").read_text() == ref
        assert [json.loads(x)["prompt"] for x in ref.splitlines()] == PROMPTS
    assert (tmp_path / "ref" / "output_1.jsonl").read_text() != (tmp_path / "ref" / "output_2.jsonl").read_text()
    assert decode_seeds(str(path), PROMPTS, [1, 2], tmp_path / "run", **kw) == {1: "skipped", 2: "skipped"}
    meta = tmp_path / "run" / "output_2.meta.json"  # killed after the rename, before the meta said complete
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "complete": False}))
    monkeypatch.setattr(dec, "generate", None)  # nothing is sampled again: the file holds every chunk
    assert decode_seeds(str(path), PROMPTS, [2], tmp_path / "run", **kw) == {2: "resumed"}
    assert (tmp_path / "run" / "output_2.jsonl").read_text() == (tmp_path / "ref" / "output_2.jsonl").read_text()
    monkeypatch.setattr(dec, "generate", real)
    with pytest.raises(InputError, match=r"(?s)output_1\.meta\.json: an earlier run of this seed used other settings "
                                         r"\(sampling:.*fix: rerun with the same settings"):
        decode_seeds(str(path), PROMPTS, [1], tmp_path / "run", **{**kw, "sampling": Sampling(temperature=0.5)})


# ------------------------------------------------------------------------------------------- reward adapters


def test_task_judges():
    exact, graded = load_scorer("exact-judge", "addition"), load_scorer("graded-judge", "addition")
    prompts, responses = ["47+38="] * 5, ["85", "75", "8", "+=", " 85 "]
    assert exact.score(prompts, responses) == [1.0, 0.0, 0.0, 0.0, 1.0]
    assert graded.score(prompts, responses) == [1.0, pytest.approx(1 / 3), 0.0, 0.0, 1.0]  # units digit right
    assert graded.score_groups(["1+2=", "47+38="], [["3", "4"], ["85"]]) == [[1.0, pytest.approx(0.0)], [1.0]]
    with pytest.raises(InputError, match="(?s)unknown reward model kind 'armo'.*seq-cls, armorm, pairrm"):
        load_scorer("armo", "x")


def test_annotate_resumes_from_complete_chunks(tmp_path):
    from prefopt.onpolicy.annotate import TaskJudgeScorer, annotate_rows

    rows = [{"prompt": f"{a}+1=", "all_generated_responses": [str(a + 1), "0"]} for a in range(10, 17)]
    ref = annotate_rows(rows, TaskJudgeScorer("addition"), chunk=3, progress=False)

    class Flaky(TaskJudgeScorer):
        calls = 0

        def score_groups(self, prompts, groups):
            Flaky.calls += 1
            if Flaky.calls == 2:
                raise KeyboardInterrupt
            return super().score_groups(prompts, groups)

    out = tmp_path / "rm.jsonl"
    with pytest.raises(KeyboardInterrupt):
        annotate_rows(rows, Flaky("addition"), chunk=3, progress=False, out=out)
    assert len((tmp_path / "rm.jsonl.partial").read_text().splitlines()) == 3
    assert annotate_rows(rows, Flaky("addition"), chunk=3, progress=False, out=out) == ref
    assert Flaky.calls == 4 and [json.loads(x) for x in out.read_text().splitlines()] == ref
    assert ref[0]["all_rm_scores"] == [1.0, 0.0]


def test_vllm_hook_builds_one_request_per_prompt(monkeypatch, tiny_lm):
    """_generate_vllm against a stand-in vllm module: token-id prompts, SimPO's sampling parameters, stop cuts."""
    import sys
    import types

    from prefopt.modeling.generate import _generate_vllm, generate, render_prompts

    path, _, tok = tiny_lm
    seen = {}
    monkeypatch.setitem(_generate_vllm.__dict__, "engines", {})  # the stand-in engine is not cached for later

    class LLM:
        def __init__(self, model, tokenizer=None):
            seen["model"] = model

        def generate(self, prompts, params, use_tqdm=False):
            seen["prompts"], seen["params"] = prompts, params
            out = types.SimpleNamespace
            return [out(outputs=[out(text="12=3"), out(text="45")][: params.n]) for _ in prompts]

    class SamplingParams:
        def __init__(self, **kw):
            self.__dict__.update(kw)

    monkeypatch.setitem(sys.modules, "vllm", types.SimpleNamespace(LLM=LLM, SamplingParams=SamplingParams))
    convs = [[{"role": "user", "content": p}] for p in PROMPTS[:3]]
    texts = generate(str(path), tok, convs, max_new_tokens=7, do_sample=True, temperature=0.8, top_p=0.95,
                     num_return_sequences=2, seed=13, stop=["="], backend="vllm")
    assert texts == [["12", "45"]] * 3 and seen["model"] == str(path)
    assert seen["prompts"] == [{"prompt_token_ids": ids} for ids in render_prompts(tok, convs)]
    p = seen["params"]
    assert (p.n, p.temperature, p.top_p, p.top_k, p.max_tokens, p.seed) == (2, 0.8, 0.95, -1, 7, 13)
    with pytest.raises(InputError, match="needs a model path or hub id"):
        generate(object(), tok, convs, max_new_tokens=2, backend="vllm")


def test_pairrm_without_llm_blender_says_what_to_install():
    if importlib.util.find_spec("llm_blender") is not None:
        pytest.skip("llm-blender is installed")
    with pytest.raises(InputError, match="(?s)needs the llm-blender package.*fix: pip install llm-blender"):
        load_scorer("pairrm", "llm-blender/PairRM")


def test_hf_sequence_classifier_and_armorm_style_scores_are_batch_invariant(tiny_lm):
    from transformers import LlamaForSequenceClassification

    from prefopt.onpolicy.annotate import HFRewardScorer

    path, _, tok = tiny_lm
    torch.manual_seed(0)
    rm = LlamaForSequenceClassification.from_pretrained(path, num_labels=2).eval()
    prompts, responses = ["12+34=", "47+38=", "1+1="], ["46", "85123", ""]
    batched = HFRewardScorer(rm, tok, batch_size=8)
    alone = HFRewardScorer(rm, tok, batch_size=1)
    s = batched.score(prompts, responses)
    assert s == pytest.approx(alone.score(prompts, responses), abs=1e-5) and len(set(s)) == 3
    ids = batched._ids(prompts[0], responses[0])
    with torch.no_grad():
        assert s[0] == pytest.approx(rm(input_ids=torch.tensor([ids])).logits[0, 0].item(), abs=1e-5)

    class ArmoLike(torch.nn.Module):  # returns an object with .score (B, 1), as ArmoRM's remote code
        config = rm.config

        def __init__(self):
            super().__init__()
            self.inner = rm

        def forward(self, input_ids, attention_mask):
            return type("Out", (), {"score": self.inner(input_ids=input_ids, attention_mask=attention_mask).logits[:, 1:]})

    armo = HFRewardScorer(ArmoLike(), tok, kind="armorm", output="score")
    assert armo.score(prompts[:1], responses[:1])[0] == pytest.approx(
        rm(input_ids=torch.tensor([ids])).logits[0, 1].item(), abs=1e-5)
    with pytest.raises(InputError, match="(?s)output has no 'score'.*--kind seq-cls"):
        HFRewardScorer(rm, tok, output="score").score(prompts[:1], responses[:1])


def test_prefopt_reward_model_adapter(tmp_path, tiny_lm):
    from prefopt.reward.model import from_backbone

    path, _, tok = tiny_lm
    rm_dir = tmp_path / "rm"
    torch.manual_seed(0)
    from_backbone(str(path)).save_pretrained(rm_dir, max_length=32)
    tok.save_pretrained(rm_dir)
    scorer = load_scorer("prefopt", str(rm_dir), batch_size=2)
    groups = scorer.score_groups(["12+34=", "47+38="], [["46", "45", "1"], ["85"]])
    assert [len(g) for g in groups] == [3, 1] and len(set(groups[0])) == 3
    assert scorer.score(["12+34="], ["45"])[0] == pytest.approx(groups[0][1], abs=1e-5)
    with pytest.raises(InputError, match="not a prefopt reward model folder"):
        load_scorer("prefopt", str(path))


# ------------------------------------------------------------------------------------------- the chain


def test_chain_on_the_embedded_task_trains_with_run_po(tmp_path, tiny_lm):
    """decode 2 seeds -> post_process -> annotate (the task's graded judge) -> binarize -> run_po.py, through
    the scripts' own run(argv); the dataset folder is what a training config's `dataset:` points at."""
    import datasets

    from prefopt.data import load_pairs
    from prefopt.toy.addition import AdditionTask

    path, _, _ = tiny_lm
    prompts = AdditionTask().splits()["pairs"][:48]
    _jsonl(tmp_path / "prompts" / "train.jsonl", [{"prompt": p} for p in prompts + prompts[:5]])  # duplicates
    gen, w = tmp_path / "gen", tmp_path / "work"
    _script("decode").run(["--model", str(path), "--data", str(tmp_path / "prompts"), "--splits", "train",
                           "--seeds", "13", "21", "--temperature", "1.0", "--top_p", "1.0", "--max_new_tokens", "4",
                           "--chunk_size", "16", "--out", str(gen), "--no_progress"])
    _script("post_process").run(["--generations", str(gen), "--out", str(w / "all_outputs.jsonl")])
    pp = json.loads((w / "all_outputs.jsonl.manifest.json").read_text())
    assert pp["stats"]["n_prompts"] == 48 and pp["stats"]["seeds"] == [13, 21]
    _script("annotate").run(["--input", str(w / "all_outputs.jsonl"), "--kind", "graded-judge", "--reward_model",
                             "addition", "--out", str(w / "all_outputs_rm.jsonl"), "--no_progress"])
    (tmp_path / "test_prompts.txt").write_text("\n".join(prompts[:12]) + "\n")
    data = tmp_path / "dataset"
    _script("binarize").run(["--input", str(w / "all_outputs_rm.jsonl"), "--test_prompts",
                             str(tmp_path / "test_prompts.txt"), "--out", str(data)])

    manifest = json.loads((data / "onpolicy_manifest.json").read_text())
    stats, recipe = manifest["stats"], manifest["recipe"]
    kept = pp["stats"]["n_kept"]
    assert stats["n_prompts"] == kept and stats["n_pairs"] + stats["n_ties_dropped"] == kept
    assert stats["n_pairs"] >= 10 and stats["n_test"] >= 1 and stats["n_train"] + stats["n_test"] == stats["n_pairs"]
    assert recipe["seeds"] == [13, 21] and recipe["generator"] == str(path)
    assert recipe["sampling"] == {"temperature": 1.0, "top_p": 1.0, "top_k": 0, "max_new_tokens": 4}
    assert recipe["reward_model"] == {"kind": "graded-judge", "model": "addition"}
    card = (data / "README.md").read_text()
    assert "[13, 21]" in card and f"ties dropped (best = worst score) | {stats['n_ties_dropped']}" in card
    dd = datasets.load_from_disk(str(data))
    assert dd["train"].num_rows == stats["n_train"] and dd["test"].num_rows == stats["n_test"]
    assert set(dd["test"]["prompt"]) <= set(prompts[:12])
    pairs = load_pairs(str(data), "train")  # what run_po.py reads
    assert len(pairs) == stats["n_train"] and pairs[0].prompt == [{"role": "user", "content": dd["train"][0]["prompt"]}]
    assert all(r["score_chosen"] > r["score_rejected"] for r in dd["train"])

    cfg = tmp_path / "simpo.yaml"
    cfg.write_text(json.dumps({
        "model_name_or_path": str(path), "dataset": str(data), "train_split": "train", "eval_split": "test",
        "loss": "simpo", "beta": 2.0, "gamma_beta_ratio": 0.5, "max_length": 24, "max_prompt_length": 12,
        "learning_rate": 1e-3, "max_steps": 3, "per_device_train_batch_size": 8, "per_device_eval_batch_size": 16,
        "logging_steps": 1, "eval_strategy": "no", "save_strategy": "no", "report_to": "none", "use_cpu": True,
        "seed": 0, "resume": "never", "disable_tqdm": True, "output_dir": str(tmp_path / "run")}))
    spec = importlib.util.spec_from_file_location("run_po", REPO / "scripts" / "run_po.py")
    run_po = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_po)
    metrics = run_po.run([str(cfg)])
    run_manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert run_manifest["status"] == "finished" and run_manifest["data"]["train"]["kept"] == stats["n_train"]
    assert metrics["train_loss"] == metrics["train_loss"]  # finite: a number, not NaN


# ------------------------------------------------------------------------------------------- registry and make


def test_registry_recipes_and_make_dry_run():

    from prefopt.reproduce.cells import load_registry

    reg = load_registry()
    v2, v1 = reg.onpolicy["llama3-instruct-v0.2"], reg.onpolicy["llama3-instruct"]
    assert v2.generator == "meta-llama/Meta-Llama-3-8B-Instruct" and v2.seeds == (13, 21, 42, 79, 100)
    assert v2.reward_model == {"kind": "armorm", "model": "RLHFlow/ArmoRM-Llama3-8B-v0.1"}
    assert reg.onpolicy["gemma2-it"].generator == "google/gemma-2-9b-it"
    assert v1.reward_model["kind"] == "pairrm" and v2.sampling == {"temperature": 0.8, "top_p": 0.95,
                                                                    "max_new_tokens": 4096}
    # the dataset folder replaces the published set in the setting's configs
    import yaml

    cfg = yaml.safe_load((REPO / "training_configs" / "llama3-instruct-v0.2" / "simpo.yaml").read_text())
    assert cfg["dataset"] == v2.replaces and (cfg["train_split"], cfg["eval_split"]) == ("train", "test")
    steps = [line for line in make_dry_run("onpolicy-llama3-instruct-v0.2").splitlines() if "on_policy_data_gen/" in line]
    assert [s.split("on_policy_data_gen/")[1].split()[0] for s in steps] == [
        "decode.py", "post_process.py", "annotate.py", "binarize.py"]
    assert ("--model meta-llama/Meta-Llama-3-8B-Instruct --data HuggingFaceH4/ultrafeedback_binarized --splits "
            "train_prefs test_prefs --seeds 13 21 42 79 100 --temperature 0.8 --top_p 0.95 --max_new_tokens 4096") in steps[0]
    assert "--kind armorm --reward_model RLHFlow/ArmoRM-Llama3-8B-v0.1" in steps[2]
    assert "--out outputs/onpolicy/llama3-instruct-v0.2/dataset" in steps[3]


@pytest.mark.parametrize("mutate, message", [
    (lambda o: o["settings"].update({"nope": {}}), "'nope' is not a setting"),
    (lambda o: o["settings"]["gemma2-it"].update({"reward_model": {"kind": "armo", "model": "x"}}), "kind of"),
    (lambda o: o["settings"]["gemma2-it"].update({"seedz": [1]}), "unknown key(s) seedz"),
    (lambda o: o["defaults"].pop("split"), "missing 'split'"),
])
def test_registry_rejects_bad_recipes(tmp_path, mutate, message):
    import re

    import yaml

    from prefopt.reproduce.cells import load_registry

    data = yaml.safe_load((REPO / "results" / "cells.yaml").read_text())
    mutate(data["onpolicy"])
    path = tmp_path / "cells.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(InputError, match=re.escape(message)):
        load_registry(path)
