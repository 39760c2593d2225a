"""eval-rm-robustness (prefopt/evaluation/rm_robustness.py): AMaPO's ranking accuracy on the four shift sets.

Offline: the four sets are written by the test in their two formats (chosen/rejected pairs; four responses with
gold scores), scored by a tiny model. The pairing rules are checked by hand; the accuracies against a plain
per-pair forward written here (a second implementation of the average log-prob); and the reference-free and DPO
readings against properties with known answers (negated gold scores flip every verdict; a policy equal to its
reference ties every pair).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import make_dry_run

from prefopt.core.errors import InputError
from prefopt.data import to_pairs
from prefopt.evaluation import rm_robustness as rr
from prefopt.evaluation.preference_accuracy import tokenize_for
from prefopt.reproduce.results import load_reproduced

MODEL = "tiny:0.2m/chat"
SMALL = ["--max_length", "96", "--max_prompt_length", "48"]
PROMPTS = ["how do I boil an egg?", "name a colour", "what is two plus two?", "say hello", "pick a fruit",
           "count to three"]
ANSWERS = ["Put it in boiling water for nine minutes.", "blue", "four", "hello there!", "an apple", "one two three",
           "I do not know.", "The quick brown fox.", "Sure, here it is: 42", "no"]


def scored_rows(sign: float = 1.0) -> list[dict]:
    """Four responses per prompt with distinct gold scores (ArmoRM-like), multiplied by `sign`."""
    rows = []
    for i, p in enumerate(PROMPTS):
        texts = [ANSWERS[(i + k) % len(ANSWERS)] for k in range(4)]
        scores = [sign * s for s in ([0.1, 0.7, 0.4, 0.9] if i % 2 else [0.8, 0.2, 0.5, 0.3])]
        rows.append({"instruction": p, **{f"response_{k + 1}_text": t for k, t in enumerate(texts)}, "all_scores": scores})
    return rows


def write_sets(folder: Path, sign: float = 1.0) -> Path:
    """Set 1 as plain chosen/rejected pairs (jsonl), sets 2-4 in the scored format (2 as a snapshot folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    pairs = [{"prompt": p, "chosen": ANSWERS[i], "rejected": ANSWERS[-1 - i]} for i, p in enumerate(PROMPTS)]
    (folder / "ultrafeedback-valid-1-in-domain.jsonl").write_text("".join(json.dumps(r) + "\n" for r in pairs))
    lines = "".join(json.dumps(r) + "\n" for r in scored_rows(sign))
    (folder / "ultrafeedback-valid-2-prompt-ood").mkdir(exist_ok=True)
    (folder / "ultrafeedback-valid-2-prompt-ood" / "train-00000-of-00001.jsonl").write_text(lines)
    for name in ("ultrafeedback-valid-3-response-ood", "ultrafeedback-valid-4-mutual-ood"):
        (folder / f"{name}.jsonl").write_text(lines)
    return folder


def run(tmp_path, data, *extra):
    out = tmp_path / "reproduced" / "run" / "rm-robustness.json"
    return rr.run(["--model", MODEL, "--data", str(data), "--out", str(out), "--reference_cache_dir",
                   str(tmp_path / "refcache"), *SMALL, *extra])


# --- pairing ------------------------------------------------------------------------------------------------

def test_pairing_rules_by_hand():
    row = {"instruction": "q", "response_1_text": "a", "response_2_text": "b", "response_3_text": "c",
           "response_4_text": "d", "all_scores": [0.1, 0.9, 0.5, 0.9]}
    flat = {"instruction": "q2", "response_1_text": "a", "response_2_text": "b", "response_3_text": "c",
            "response_4_text": "d", "all_scores": [3, 3, 3, 3]}
    best, none = rr.scored_pairs([row, flat], "best-worst", "s")
    assert best == [{"prompt": "q", "chosen": "b", "rejected": "a"}] and none == 1  # first of the two 0.9s
    every, _ = rr.scored_pairs([row], "all-pairs", "s")
    assert [(p["chosen"], p["rejected"]) for p in every] == [("b", "a"), ("c", "a"), ("d", "a"), ("b", "c"), ("d", "c")]
    with pytest.raises(InputError, match="all_scores has 3 entries for 4 responses"):
        rr.scored_pairs([{**row, "all_scores": [1, 2, 3]}], "best-worst", "s.jsonl")
    with pytest.raises(InputError, match="pairing 'median'"):
        rr.scored_pairs([row], "median", "s")


def test_sets_are_found_and_named_when_missing(tmp_path):
    data = write_sets(tmp_path / "d")
    assert rr.set_source(rr.SETS["prompt_ood"], data).endswith("ultrafeedback-valid-2-prompt-ood")
    assert rr.set_source(rr.SETS["id"], None) == "rm-robustness/ultrafeedback-valid-1-in-domain"
    (data / "ultrafeedback-valid-4-mutual-ood.jsonl").unlink()
    with pytest.raises(InputError, match="no copy of rm-robustness/ultrafeedback-valid-4-mutual-ood"):
        run(tmp_path, data)
    with pytest.raises(InputError, match="unknown setting"):
        run(tmp_path, data, "--settings", "id,ood")


# --- scoring ------------------------------------------------------------------------------------------------

def plain_average_logps(model, rows) -> tuple[torch.Tensor, torch.Tensor]:
    """A second implementation: one forward per sequence, log-softmax, the response tokens' mean."""
    out = []
    for side in ("chosen", "rejected"):
        values = []
        for r in rows:
            ids = torch.tensor([r["prompt_ids"] + r[f"{side}_ids"]], device=model.device)
            with torch.no_grad():
                logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)
            targets = ids[0, 1:]
            token_logps = logp[torch.arange(len(targets), device=model.device), targets][len(r["prompt_ids"]) - 1:]
            values.append(token_logps.mean().item())
        out.append(torch.tensor(values))
    return out[0], out[1]


def test_accuracy_equals_a_plain_forward_and_flips_with_the_gold_scores(tmp_path):
    data = write_sets(tmp_path / "d")
    result = run(tmp_path, data, "--pairing", "all-pairs")
    details = result["details"]["settings"]
    # The reference implementation on the same pairs: what rewards/accuracies counts, by hand.
    args = rr.parser().parse_args(["--model", MODEL, "--data", str(data), "--pairing", "all-pairs", *SMALL])
    rr.fill_tokenization(args, {}, rr.DEFAULT_TOKENIZATION)
    model = rr.load_scorer(MODEL, "float32")
    for setting in rr.SETS:
        pairs, _ = rr.load_set(rr.SETS[setting], args)
        rows, _, _ = tokenize_for(MODEL, pairs, args)
        c, r = plain_average_logps(model, rows)
        expected = 100 * (c > r).float().mean().item()
        assert result["metrics"][f"{setting}_accuracy"] == pytest.approx(expected)
        assert details[setting]["pairs"] == len(rows)
    assert details["response_ood"]["pairs"] == 6 * 6  # six prompts, four distinct scores: every pair
    assert details["id"]["format"] == "pairs" and details["response_ood"]["format"].endswith("all-pairs")
    # Negating every gold score swaps chosen and rejected in every pair: each verdict flips (no ties here).
    flipped = run(tmp_path, write_sets(tmp_path / "neg", sign=-1.0), "--pairing", "all-pairs", "--settings", "mutual_ood")
    assert details["mutual_ood"]["ties"] == 0
    assert flipped["metrics"]["mutual_ood_accuracy"] == pytest.approx(100 - result["metrics"]["mutual_ood_accuracy"])


def test_reference_adds_dpo_accuracies_and_the_file_is_a_registry_result(tmp_path):
    data = write_sets(tmp_path / "d")
    result = run(tmp_path, data, "--ref", MODEL, "--settings", "id,response_ood", "--cell", "mistral-base-amapo")
    m = result["metrics"]
    assert set(m) == {"id_accuracy", "response_ood_accuracy", "dpo_id_accuracy", "dpo_response_ood_accuracy"}
    dpo = result["details"]["settings"]["id"]["dpo"]
    assert m["dpo_id_accuracy"] == 0.0 and dpo["ties"] == dpo["pairs"] == 6  # policy == reference: every margin 0
    assert result["details"]["settings"]["response_ood"]["pairs"] == 6  # best-worst: one pair per prompt
    (parsed,) = load_reproduced(tmp_path / "reproduced", cell_ids={"mistral-base-amapo"})
    assert parsed.benchmark == "rm-robustness" and parsed.cell == "mistral-base-amapo" and parsed.metrics == m
    assert parsed.manifest["reference"] == MODEL and len(parsed.manifest["data"]) == 2


def test_tokenization_defaults_are_amapos_unless_the_policy_says_otherwise(tmp_path):
    args = rr.parser().parse_args(["--model", MODEL])
    rr.fill_tokenization(args, {"max_length": 512}, rr.DEFAULT_TOKENIZATION)
    assert (args.max_length, args.max_prompt_length, args.truncation_mode, args.role_header_in_response) == \
        (512, 1800, "keep_end", True)


def test_identical_pairs_are_dropped_and_counted(tmp_path):
    data = write_sets(tmp_path / "d")
    rows = [{"prompt": "q", "chosen": "same", "rejected": "same"}, {"prompt": "q", "chosen": "a", "rejected": "b"}]
    (data / "ultrafeedback-valid-1-in-domain.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = run(tmp_path, data, "--settings", "id")
    info = result["details"]["settings"]["id"]
    assert info["pairs"] == 1 and sum(info["dropped_rows"].values()) == 1
    assert len(to_pairs(rows, "x", bad_rows="drop")) == 1


def test_make_target_and_the_amapo_cells_call_it():
    out = make_dry_run("eval-rm-robustness", "MODEL=m", "REF=r", "DATA=d", "PAIRING=all-pairs", "OUT=o", "CELL=c")
    assert "eval/rm_robustness/run.py --model m --ref r --data d" in out and "--pairing all-pairs" in out
    assert "--out o/rm-robustness.json" in out and "--cell c" in out
    cell = make_dry_run("eval-mistral-base-amapo", "RM_ROBUSTNESS_DATA=r")
    assert "eval-rm-robustness MODEL=outputs/mistral-base/amapo CELL=mistral-base-amapo" in cell
    line = next(x for x in cell.splitlines() if "eval/rm_robustness/run.py" in x)
    assert "--model outputs/mistral-base/amapo" in line and "--data r" in line
