"""Every config group is checked before any data or model work: a wrong value of a prefopt key is exit 2 at parse
time, with the key and its allowed values, through the real entry point (`scripts/run_po.py`).

The data set named in these configs does not exist: a run that read data before checking its config would stop on
the missing data set instead, so each case also shows that nothing was read first.
"""

from __future__ import annotations

import json

import pytest
from conftest import run_po_in_process

# id -> (overrides, needles of the error message)
CASES = {
    "reference_cache_enabled": ({"reference_cache": "enabled"},
                                ["reference_cache must be one of ['auto', 'off'], got 'enabled'"]),
    "logp_chunk_size_negative": ({"logp_chunk_size": -3}, ["logp_chunk_size must be >= 0, got -3"]),
    "torch_dtype_bf16": ({"torch_dtype": "bf16"},
                         ["torch_dtype must be one of ['float32', 'bfloat16', 'float16', 'auto'], got 'bf16'"]),
    "batch_layout_dash": ({"batch_layout": "shared-prefix"},
                          ["batch_layout must be one of ['pairs', 'shared_prefix'], got 'shared-prefix'"]),
    "resume_capitalised": ({"resume": "Auto"},
                           ["resume must be one of ['auto', 'never'] or an existing checkpoint folder, got 'Auto'"]),
    "shared_prefix_flash_attention": ({"batch_layout": "shared_prefix", "attn_implementation": "flash_attention_2"},
                                      ["batch_layout shared_prefix needs an attention mask per pair",
                                       "flash_attention_2", "fix: set attn_implementation: sdpa"]),
    "attn_implementation_typo": ({"attn_implementation": "flash_attn_2"},
                                 ["attn_implementation must be one of", "got 'flash_attn_2'"]),
    "bad_rows_skip": ({"bad_rows": "skip"}, ["bad_rows must be one of ['error', 'drop'], got 'skip'"]),
    "task_eval_split_unknown": ({"task_eval": "addition", "task_eval_split": "validation"},
                                ["task_eval_split must be one of", "got 'validation'"]),
    "scheduler_with_kto": ({"loss": "kto", "beta": 0.1, "sample_scheduler": {"name": "random"}},
                           ["loss 'kto' has its own trainer, which takes no sample scheduler"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_wrong_value_stops_the_run_before_any_data_is_read(tmp_path, case, capsys, caplog):
    over, needles = CASES[case]
    missing = tmp_path / "no-such-data.jsonl"
    cfg = {"model_name_or_path": "tiny:0.2m/addition", "dataset": str(missing), "loss": "simpo", "beta": 2.0,
           "output_dir": str(tmp_path / "run"), "use_cpu": True, "report_to": "none", "max_steps": 1}
    if over.get("loss") == "kto":
        cfg.pop("beta")
    path = tmp_path / "cell.yaml"
    path.write_text(json.dumps({**cfg, **over}))
    rc, err = run_po_in_process([str(path)], capsys, caplog)
    assert rc == 2, f"{case}: exit {rc}\n{err[-2000:]}"
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, f"{case}: {needle!r} not in\n{err[-2000:]}"
    assert str(missing) not in err, "the data set was read before the config was checked"
    assert not (tmp_path / "run" / "manifest.json").exists(), "the run started before the config was checked"
