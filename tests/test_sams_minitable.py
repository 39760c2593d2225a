"""`make mini-table` with a subset of --methods keeps the other methods' rows (prefopt.toy.minitable)."""

from __future__ import annotations

import json

from prefopt.toy.minitable import keep_previous_rows


def _result(seed, sft_hash, methods, value):
    return {"seed": seed, "pairs": {"sft_hash": sft_hash}, "manifest": {},
            "rows": [{"method": m, "accuracy": value} for m in methods],
            "curves": {m: [value] for m in methods}, "log_history": {m: [] for m in methods},
            "timings_s": {m: value for m in methods}}


def test_a_subset_run_keeps_the_rows_it_did_not_rerun(tmp_path):
    old = _result(0, "h", ["sft", "rft", "dpo", "simpo"], 1.0)
    (tmp_path / "metrics_seed0.json").write_text(json.dumps(_result(0, "h", ["sft", "dpo", "dpo-sams"], 2.0)))
    keep_previous_rows(tmp_path, {0: old})
    new = json.loads((tmp_path / "metrics_seed0.json").read_text())
    # the re-run methods keep their new values, the others come back, in the table's order
    assert [(r["method"], r["accuracy"]) for r in new["rows"]] == [
        ("sft", 2.0), ("rft", 1.0), ("dpo", 2.0), ("simpo", 1.0), ("dpo-sams", 2.0)]
    assert new["curves"]["rft"] == [1.0] and new["curves"]["dpo"] == [2.0]
    assert new["manifest"]["rows_kept_from_previous_run"] == ["rft", "simpo"]


def test_rows_from_another_sft_model_are_not_mixed_in(tmp_path):
    (tmp_path / "metrics_seed0.json").write_text(json.dumps(_result(0, "new", ["sft", "dpo"], 2.0)))
    keep_previous_rows(tmp_path, {0: _result(0, "old", ["sft", "rft", "dpo"], 1.0)})
    new = json.loads((tmp_path / "metrics_seed0.json").read_text())
    assert [r["method"] for r in new["rows"]] == ["sft", "dpo"]
