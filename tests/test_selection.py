"""Selective DPO's data selection (`data_selection:`, prefopt.training.selection): the ranking and the selection
worked out by hand, the held-out loss recorder, the config checks, and the whole protocol on the tiny model (the
recorded losses are the reference runs' real per-pair DPO losses; the kept pairs are written easiest first)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from conftest import tiny_model_and_pairs

from prefopt.config import PreferenceConfig, build_config
from prefopt.core.errors import InputError
from prefopt.training.selection import (
    LOSSES_FILE,
    SELECTION_FILE,
    HeldOutLossRecorder,
    learning_order,
    select_easiest,
    split_halves,
)

# Four pairs, two seeds, two evaluations per reference run. Each seed splits the pairs into halves; each half's
# reference run records the losses of the other half's pairs at its two evaluations.
HAND_RECORDS = [
    ([0, 1], [[0.9, 0.3], [0.7, 0.1]]),   # seed 0, trained on {2, 3}: pairs 0 and 1 held out
    ([2, 3], [[0.5, 0.8], [0.3, 0.6]]),   # seed 0, trained on {0, 1}
    ([0, 2], [[0.5, 0.6], [0.3, 0.2]]),   # seed 1, trained on {1, 3}
    ([1, 3], [[0.2, 0.9], [0.0, 0.7]]),   # seed 1, trained on {0, 2}
]


def test_learning_order_and_selection_by_hand():
    # pair 0: (0.9 + 0.7 + 0.5 + 0.3) / 4 = 0.60     pair 1: (0.3 + 0.1 + 0.2 + 0.0) / 4 = 0.15
    # pair 2: (0.5 + 0.3 + 0.6 + 0.2) / 4 = 0.40     pair 3: (0.8 + 0.6 + 0.9 + 0.7) / 4 = 0.75
    order = learning_order(HAND_RECORDS)
    assert order == pytest.approx({0: 0.60, 1: 0.15, 2: 0.40, 3: 0.75})
    # keep 50%: the two easiest, easiest first -> pair 1 (0.15), then pair 2 (0.40)
    assert select_easiest(order, 0.5) == [1, 2]
    assert select_easiest(order, 0.75) == [1, 2, 0]       # floor(0.75 * 4) = 3
    assert select_easiest(order, 0.1) == [1]              # at least one pair
    assert select_easiest({0: 0.2, 1: 0.1, 2: 0.2}, 1.0) == [1, 0, 2]   # a tie keeps the source order


def test_learning_order_rejects_a_misaligned_record():
    with pytest.raises(ValueError, match="3 losses recorded for 2"):
        learning_order([([0, 1], [[0.1, 0.2, 0.3]])])


def test_split_halves_cover_the_pairs_once_per_seed():
    a, b = split_halves(11, seed=0)
    assert len(a) == 5 and len(b) == 6 and sorted(a + b) == list(range(11)) and a == sorted(a)
    assert split_halves(11, seed=0) == (a, b) and split_halves(11, seed=1) != (a, b)


def test_recorder_orders_gathered_losses_by_row_and_records_each_point_once(tmp_path):
    out = tmp_path / LOSSES_FILE
    rec = HeldOutLossRecorder(evals=2, out_file=out, n_rows=3)
    state = SimpleNamespace(max_steps=10, global_step=0, is_world_process_zero=True)
    control = SimpleNamespace(should_evaluate=False)
    rec.on_train_begin(None, state, control)
    assert rec.points == {5, 10}
    for step in (4, 5):
        state.global_step, control.should_evaluate = step, False
        rec.on_step_end(None, state, control)
    assert control.should_evaluate   # asked at step 5 only
    # ranks gathered out of order: rows 2, 0, 1
    metrics = rec(SimpleNamespace(predictions=[0.3, 0.1, 0.2], label_ids=[2, 0, 1]))
    assert metrics == {"heldout_pair_loss": pytest.approx(0.2)}
    rec.on_evaluate(None, state, control)
    state.global_step = 10
    rec(SimpleNamespace(predictions=[0.5, 0.6, 0.7], label_ids=[0, 1, 2]))
    rec.on_evaluate(None, state, control)
    rec(SimpleNamespace(predictions=[9.0, 9.0, 9.0], label_ids=[0, 1, 2]))   # the end-of-run evaluation, step 10 again
    rec.on_evaluate(None, state, control)
    assert rec.losses() == [[0.1, 0.2, 0.3], [0.5, 0.6, 0.7]]
    assert [json.loads(line)["step"] for line in out.read_text().splitlines()] == [5, 10]
    with pytest.raises(RuntimeError, match="rows 2 of 3"):
        rec(SimpleNamespace(predictions=[0.1, 0.2], label_ids=[0, 1]))
    # resumed from a checkpoint at step 5: the step-10 record is made again, the step-5 one is kept
    again = HeldOutLossRecorder(evals=2, out_file=out, n_rows=3)
    state.global_step = 5
    again.on_train_begin(None, state, control)
    assert again.losses() == [[0.1, 0.2, 0.3]]


BASE = {"model_name_or_path": "m", "dataset": "out/selected", "loss": "dpo", "report_to": "none", "use_cpu": True,
        "train_sampling_strategy": "sequential",
        "data_selection": {"source": "all-pairs", "work_dir": "out", "seeds": [0, 1]}}


@pytest.mark.parametrize("change, message", [
    ({"train_sampling_strategy": "random"}, "train_sampling_strategy: sequential"),
    ({"dataset": "all-pairs"}, "must differ from data_selection.source"),
    ({"data_selection": {"source": "all-pairs"}}, "needs source .all training pairs. and work_dir"),
    ({"data_selection": {"source": "x", "work_dir": "w", "seeds": [1, 1]}}, "distinct integers"),
    ({"data_selection": {"source": "x", "work_dir": "w", "keep_fraction": 0}}, "keep_fraction must be > 0"),
    ({"data_selection": {"source": "x", "work_dir": "w", "seed": [0]}}, "did you mean data_selection.seeds"),
    ({"loss": "kto", "per_device_train_batch_size": 2}, "needs a pairwise loss"),
])
def test_config_errors(change, message):
    with pytest.raises(InputError, match=message):
        build_config(dict(BASE, **change), "selective.yaml", PreferenceConfig)


def _tiny_source(root: Path, n: int) -> Path:
    """n tiny addition pairs plus one whose chosen and rejected are identical (dropped by the selection)."""
    _, data = tiny_model_and_pairs(root, n)
    rows = [json.loads(line) for line in (data / "train.jsonl").read_text().splitlines()]
    rows.insert(3, dict(rows[3], rejected=rows[3]["chosen"]))
    source = root / "source"
    source.mkdir()
    (source / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return source


def _short_selection(tmp_path: Path, model_dir: Path, source: Path, **over) -> tuple[dict, Path]:
    """A DPO cell with one seed's selection (2 reference runs, 1 evaluation each) on the tiny model: (raw config,
    the folder of the kept pairs)."""
    work, selected = tmp_path / "selection", tmp_path / "selection" / "selected"
    raw = {"model_name_or_path": str(model_dir), "dataset": str(selected), "eval_split": None, "loss": "dpo",
           "beta": 0.5, "learning_rate": 3e-3, "per_device_train_batch_size": 4, "per_device_eval_batch_size": 8,
           "max_length": 32, "max_prompt_length": 16, "use_cpu": True, "report_to": "none", "seed": 0,
           "save_strategy": "no", "reference_cache": "off", "output_dir": str(tmp_path / "cell"),
           "train_sampling_strategy": "sequential",
           "data_selection": {"source": str(source), "seeds": [0], "evals_per_run": 1, "keep_fraction": 0.5,
                              "work_dir": str(work)}, **over}
    return raw, selected


def test_selective_dpo_end_to_end_on_the_tiny_model(tmp_path):
    """2 reference runs (1 seed x 2 halves) of 16 pairs each, 2 evaluations each; the last recorded losses are the
    per-pair DPO losses of the reference run's final weights on the other half; the kept half is written easiest
    first; then the cell trains on it in that order."""
    from transformers import AutoTokenizer

    from prefopt.data import PairCollator, load_pairs, tokenize_pairs
    from prefopt.losses import compute
    from prefopt.modeling.loading import load_model
    from prefopt.modeling.refcache import compute_logps
    from prefopt.training.preference import train_preference

    model_dir, _ = tiny_model_and_pairs(tmp_path, 1)
    source = _tiny_source(tmp_path, 32)
    work, selected = tmp_path / "selection", tmp_path / "selection" / "selected"
    raw = {"model_name_or_path": str(model_dir), "dataset": str(selected), "eval_split": None, "loss": "dpo",
           "beta": 0.5, "label_smoothing": 0.0, "learning_rate": 3e-3, "lr_scheduler_type": "constant",
           "num_train_epochs": 1, "per_device_train_batch_size": 4, "per_device_eval_batch_size": 8,
           "max_length": 32, "max_prompt_length": 16, "use_cpu": True, "report_to": "none", "seed": 0,
           "save_strategy": "no", "reference_cache": "off", "output_dir": str(tmp_path / "cell"),
           "train_sampling_strategy": "sequential",
           "data_selection": {"source": str(source), "seeds": [0], "evals_per_run": 2, "keep_fraction": 0.5,
                              "work_dir": str(work), "keep_reference_models": True}}
    model_args, data_args, args = build_config(raw, "selective-dpo.yaml", PreferenceConfig)
    train_preference(model_args, data_args, args)

    record = json.loads((selected / SELECTION_FILE).read_text())
    assert record["source_pairs"] == 32 and record["dropped"] == {"identical": 1} and record["kept"] == 16
    assert record["evaluations_per_pair"] == [2]
    source_rows = [json.loads(line) for line in (source / "train.jsonl").read_text().splitlines()]
    source_rows.pop(3)   # the identical pair
    order = record["learning_order"]
    # the learning order is the mean of the two recorded evaluations of the run that held each pair out
    halves = split_halves(32, 0)
    runs = [Path(r["run"]) for r in record["reference_runs"]]
    assert [r.name for r in runs] == ["seed0-half0", "seed0-half1"] and runs[0].parent == work / f"key-{record['key']}"
    for h, held in enumerate((halves[1], halves[0])):
        evaluations = [json.loads(line)["losses"] for line in (runs[h] / LOSSES_FILE).read_text().splitlines()]
        assert len(evaluations) == 2
        for pos, i in enumerate(held):
            assert order[i] == pytest.approx((evaluations[0][pos] + evaluations[1][pos]) / 2)
        # the last evaluation = the per-pair DPO loss of the run's final weights (it evaluated at its last step)
        tok = AutoTokenizer.from_pretrained(model_dir)
        rows, _ = tokenize_pairs(load_pairs(str(runs[h].parent / "data" / f"seed0-half{h}"), split="heldout"), tok,
                                 max_length=32, max_prompt_length=16)
        collate = PairCollator(tok.pad_token_id)
        c, r = compute_logps(load_model(str(runs[h]), model_args), rows, collate)
        rc, rr = compute_logps(load_model(str(model_dir), model_args), rows, collate)
        lengths = torch.tensor([len(x["chosen_ids"]) for x in rows]), torch.tensor([len(x["rejected_ids"]) for x in rows])
        expected = compute("dpo", chosen_logps=c, rejected_logps=r, chosen_lengths=lengths[0],
                           rejected_lengths=lengths[1], ref_chosen_logps=rc, ref_rejected_logps=rr, beta=0.5)
        assert evaluations[1] == pytest.approx(expected.tolist(), abs=1e-5)
    # the kept pairs: the lowest order first, written in that order
    kept = record["kept_indices_easiest_first"]
    assert kept == sorted(range(32), key=lambda i: (order[i], i))[:16]
    written = [json.loads(line) for line in (selected / "train.jsonl").read_text().splitlines()]
    assert written == [source_rows[i] for i in kept]
    # then the cell trained on them, in order
    manifest = json.loads((tmp_path / "cell" / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["data"]["train"]["kept"] == 16
    assert manifest["config"]["train_sampling_strategy"] == "sequential"
    # a second call with the same inputs finds the selection done and only trains
    before = (selected / SELECTION_FILE).stat().st_mtime_ns
    train_preference(model_args, data_args, args)
    assert (selected / SELECTION_FILE).stat().st_mtime_ns == before


def test_a_changed_source_selects_again_instead_of_reusing_the_finished_runs(tmp_path):
    """The selection and its reference runs are reused only for the same inputs. A rehearsal once rebuilt the
    source pairs after a finished selection and trained on the stale kept pairs: with the selection key, a new
    source (or model, loss, lengths) gets new reference runs and a new selected set; the old runs stay apart."""
    from prefopt.training.preference import train_preference

    model_dir, _ = tiny_model_and_pairs(tmp_path, 1)
    source = _tiny_source(tmp_path, 16)
    raw, selected = _short_selection(tmp_path, model_dir, source, max_steps=1)
    train_preference(*build_config(raw, "selective-dpo.yaml", PreferenceConfig))
    first = json.loads((selected / SELECTION_FILE).read_text())
    # the source changes: every pair's answers are swapped, so no kept row of the first selection is valid
    rows = [json.loads(line) for line in (source / "train.jsonl").read_text().splitlines()]
    swapped = [dict(r, chosen=r["rejected"], rejected=r["chosen"]) for r in rows]
    (source / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in swapped))
    train_preference(*build_config(dict(raw, output_dir=str(tmp_path / "cell2")), "selective-dpo.yaml",
                                   PreferenceConfig))
    second = json.loads((selected / SELECTION_FILE).read_text())
    usable = [r for r in swapped if r["chosen"] != r["rejected"]]
    written = [json.loads(line) for line in (selected / "train.jsonl").read_text().splitlines()]
    assert written == [usable[i] for i in second["kept_indices_easiest_first"]]
    assert second["key"] != first["key"]
    assert {r["run"] for r in second["reference_runs"]}.isdisjoint(r["run"] for r in first["reference_runs"])
    # a setting that changes no reference run's losses (where the run logs) reuses the selection
    before = (selected / SELECTION_FILE).stat().st_mtime_ns
    train_preference(*build_config(dict(raw, output_dir=str(tmp_path / "cell3"), logging_steps=7),
                                   "selective-dpo.yaml", PreferenceConfig))
    assert (selected / SELECTION_FILE).stat().st_mtime_ns == before
    assert (tmp_path / "cell3" / "manifest.json").exists()


def test_sequential_sampling_feeds_the_kept_pairs_easiest_first(tmp_path):
    """train_sampling_strategy: sequential (the block requires it): the trainer's batches are the data set's rows in
    order, so the kept pairs are trained easy to hard."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from prefopt.data import load_pairs, tokenize_pairs
    from prefopt.training.trainer import PreferenceTrainer

    model_dir, data = tiny_model_and_pairs(tmp_path, 12)
    tok = AutoTokenizer.from_pretrained(model_dir)
    rows, _ = tokenize_pairs(load_pairs(str(data)), tok, max_length=32, max_prompt_length=16)
    rows = [dict(r, ref_chosen_logps=0.0, ref_rejected_logps=0.0) for r in rows]
    _, _, args = build_config({"model_name_or_path": str(model_dir), "dataset": str(data), "loss": "dpo",
                               "report_to": "none", "use_cpu": True, "per_device_train_batch_size": 4,
                               "train_sampling_strategy": "sequential", "output_dir": str(tmp_path / "o")},
                              "seq.yaml", PreferenceConfig)
    trainer = PreferenceTrainer(model=AutoModelForCausalLM.from_pretrained(model_dir), args=args,
                                processing_class=tok, train_dataset=Dataset.from_list(rows))
    chosen_rows = [ids for batch in trainer.get_train_dataloader() for ids in batch["input_ids"][:4].tolist()]
    expected = [list(r["prompt_ids"]) + list(r["chosen_ids"]) for r in rows]
    assert len({tuple(e) for e in expected}) == len(rows)   # every row is different: the order is visible
    assert [ids[: len(e)] for ids, e in zip(chosen_rows, expected)] == expected


def test_a_pair_identical_after_truncation_is_dropped_before_the_halves(tmp_path):
    """A pair whose responses differ only past the length budget is dropped by tokenization in every run. The
    selection drops it up front (as the final run would), so each held-out half is scored in full: it once made
    the recorder stop with 'held-out evaluation returned rows 15 of 16' (the rehearsal at length 128 hit it)."""
    from prefopt.training.preference import train_preference

    model_dir, _ = tiny_model_and_pairs(tmp_path, 1)
    source = _tiny_source(tmp_path, 32)
    rows = [json.loads(line) for line in (source / "train.jsonl").read_text().splitlines()]
    long = "1" * 40  # past max_length 32 with any prompt: both responses are cut to the same tokens
    answer = rows[5]["chosen"][0]["content"]
    rows.insert(5, dict(rows[5], chosen=[{"role": "assistant", "content": answer + long + "2"}],
                        rejected=[{"role": "assistant", "content": answer + long + "3"}]))
    (source / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    raw, selected = _short_selection(tmp_path, model_dir, source, max_steps=2)
    train_preference(*build_config(raw, "selective-dpo.yaml", PreferenceConfig))
    record = json.loads((selected / SELECTION_FILE).read_text())
    assert record["dropped"] == {"identical": 1, "identical_after_truncation": 1}
    assert record["source_pairs"] == 32 and record["kept"] == 16 and record["evaluations_per_pair"] == [1]
    kept = (selected / "train.jsonl").read_text()
    assert long not in kept
