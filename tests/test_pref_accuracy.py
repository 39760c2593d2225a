"""eval-pref-accuracy (prefopt/prefacc.py): implicit-reward preference accuracy of a policy vs its reference.

Offline: tiny byte-level models (prefopt.toy.tiny) on the first pairs of the shared hh-rlhf harmless test split.
Expectations are checked by hand, not against a second implementation: a policy equal to its reference gives
every margin exactly 0 (the documented tie rule: 0%), and swapping policy and reference negates every margin.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from conftest import make_dry_run

from prefopt.evaluation.preference_accuracy import run, shp_pairs
from prefopt.reproduce.results import load_reproduced

REPO = Path(__file__).resolve().parents[1]
N = 24  # pairs: enough for a mix of signs, small enough for CPU
# prefopt.toy.tiny has no HH-style template: user/assistant turns as in eric-mitchell's "\n\nHuman: ...\n\nAssistant:"
HH_TEMPLATE = ("{% for m in messages %}{{ ('\n\nHuman: ' if m['role'] == 'user' else '\n\nAssistant: ') + m['content'] }}"
               "{% endfor %}{% if add_generation_prompt %}{{ '\n\nAssistant:' }}{% endif %}")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """(reference, policy): a tiny model and a copy with seeded noise on its weights."""
    from transformers import AutoModelForCausalLM

    from prefopt.modeling.loading import resolve

    ref = Path(resolve("tiny:0.2m/chat"))
    policy = tmp_path_factory.mktemp("policy")
    shutil.copytree(ref, policy, dirs_exist_ok=True)
    model = AutoModelForCausalLM.from_pretrained(policy)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    model.save_pretrained(policy)
    return str(ref), str(policy)


def evaluate(tmp_path, hh, policy, ref, *extra):
    out = tmp_path / "out"
    result = run(["--model", policy, "--ref", ref, "--data", str(hh), "--limit", str(N), "--out_dir", str(out),
                  "--reference_cache_dir", str(tmp_path / "refcache"), "--max_length", "128",
                  "--max_prompt_length", "64", "--chat_template", HH_TEMPLATE, *extra])
    return result, json.loads(Path(result["out"]).read_text())


def test_policy_equal_to_reference_ties_every_pair(tmp_path, shared_data, models):
    hh = shared_data("hh-rlhf/harmless-base-test.jsonl.gz")
    ref, _ = models
    result, payload = evaluate(tmp_path, hh, ref, ref)
    assert result["pairs"] == N and result["ties"] == N and result["margin_mean"] == 0.0
    assert payload["metrics"] == {"accuracy": 0.0}  # ties count as wrong
    assert payload["benchmark"] == "harmless-base-test" and payload["manifest"]["reference"] == ref


def test_swapping_policy_and_reference_negates_the_margins(tmp_path, shared_data, models):
    hh = shared_data("hh-rlhf/harmless-base-test.jsonl.gz")
    ref, policy = models
    forward, _ = evaluate(tmp_path, hh, policy, ref)
    backward, _ = evaluate(tmp_path, hh, ref, policy)
    assert forward["ties"] == backward["ties"] == 0
    assert 0 < forward["accuracy"] < 100  # the noise moves pairs both ways
    assert forward["accuracy"] + backward["accuracy"] == pytest.approx(100)
    assert forward["margin_mean"] == pytest.approx(-backward["margin_mean"], abs=1e-4)


def test_reference_and_lengths_default_to_the_policys_training_config(tmp_path, shared_data, models):
    hh = shared_data("hh-rlhf/harmless-base-test.jsonl.gz")
    ref, policy = models
    trained = tmp_path / "outputs" / "setting" / "dpo"
    shutil.copytree(policy, trained)
    (trained / "manifest.json").write_text(json.dumps({"config": {
        "model_name_or_path": ref, "max_length": 96, "max_prompt_length": 48, "chat_template": HH_TEMPLATE}}))
    out = tmp_path / "reproduced" / "setting--dpo"
    result = run(["--model", str(trained), "--data", str(hh), "--limit", "4", "--out_dir", str(out),
                  "--reference_cache_dir", str(tmp_path / "refcache"), "--name", "hh"])
    payload = json.loads(Path(result["out"]).read_text())
    assert payload["manifest"]["reference"] == ref
    assert payload["tokenization"]["settings"]["max_length"] == 96
    (parsed,) = load_reproduced(tmp_path / "reproduced")  # the results/README.md format, readable by make verify
    assert parsed.benchmark == "hh" and parsed.metrics == payload["metrics"]


def test_shp_rows_become_pairs_as_in_eric_mitchells_loader():
    rows = [
        {"history": "q1", "human_ref_A": "a", "human_ref_B": "b", "labels": 1, "score_A": 10, "score_B": 5},
        {"history": "q2", "human_ref_A": "a", "human_ref_B": "b", "labels": 0, "score_A": 1, "score_B": 3},
        {"history": "q3", "human_ref_A": "a", "human_ref_B": "b", "labels": 1, "score_A": 3, "score_B": 2},  # < 2
    ]
    assert shp_pairs(rows, min_score_ratio=2.0) == [
        {"prompt": "\n\nHuman: q1\n\nAssistant:", "chosen": "a", "rejected": "b"},
        {"prompt": "\n\nHuman: q2\n\nAssistant:", "chosen": "b", "rejected": "a"},
    ]
    assert len(shp_pairs(rows, min_score_ratio=1.0)) == 3


def test_make_target_and_the_pythia_cells_call_it():
    make_n = make_dry_run
    out = make_n("eval-pref-accuracy", "MODEL=m", "DATA=hh", "REF=r", "OUT=o", "CELL=c")
    assert "scripts/eval_pref_accuracy.py --model m --data hh --ref r" in out and "--out_dir o --cell c" in out
    out = make_n("eval-pythia-2.8b-hh-dpo")
    assert "eval-pref-accuracy MODEL=outputs/pythia-2.8b-hh/dpo CELL=pythia-2.8b-hh-dpo" in out and "DATA=hh" in out
