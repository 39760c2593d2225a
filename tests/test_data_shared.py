"""Real public data from ../shared/data through the same loader the trainer uses (skipped when absent).

The folders are read in place; nothing from ../shared is copied into the project.
"""

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from prefopt.core.errors import InputError
from prefopt.data import load_pairs, tokenize_pairs

REPO = Path(__file__).resolve().parents[1]


def test_ultrafeedback_sample_loads_and_tokenizes(shared_data, tiny_tokenizer):
    folder = shared_data("ultrafeedback_binarized_sample")
    # Real data has a few pairs whose chosen and rejected are identical: the default is a clear error ...
    with pytest.raises(InputError) as err:
        load_pairs(str(folder), "train")
    assert "train_clean.jsonl:row " in str(err.value) and "identical" in str(err.value)
    # ... and bad_rows="drop" drops them, counted by reason: nothing disappears silently.
    train, test = load_pairs(str(folder), "train", bad_rows="drop"), load_pairs(str(folder), "eval", bad_rows="drop")
    assert len(train) + sum(train.dropped.values()) == 1000 and len(test) + sum(test.dropped.values()) == 200
    assert set(train.dropped) <= {"identical", "empty_response"} and len(train) > 950
    first = json.loads((folder / "train_clean.jsonl").open(encoding="utf-8").readline())
    assert train[0].prompt == [{"role": "user", "content": first["prompt"]}]
    assert train[0].chosen == [{"role": "assistant", "content": first["chosen"]}]

    rows, report = tokenize_pairs(train[:200], tiny_tokenizer, max_length=512, max_prompt_length=128)
    # Every pair is either kept (possibly truncated) or counted as dropped: the report accounts for all rows.
    assert report.total == 200 == report.kept + sum(report.dropped.values()) and len(rows) == report.kept
    assert report.response_truncated > 0  # real UltraFeedback answers are longer than 512 tiny-BPE tokens
    for r in rows:
        # SimPO's rule: only a pair that does not fit has its prompt cut to max_prompt_length.
        assert len(r["prompt_ids"]) + max(len(r["chosen_ids"]), len(r["rejected_ids"])) <= 512
        assert r["prompt_ids"][0] == tiny_tokenizer.bos_token_id
        assert tiny_tokenizer.bos_token_id not in r["prompt_ids"][1:]  # exactly one BOS


def test_hh_rlhf_harmless_test_split_loads(shared_data, tiny_tokenizer):
    path = shared_data("hh-rlhf/harmless-base-test.jsonl.gz")
    pairs = load_pairs(str(path), bad_rows="drop")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        raw = [json.loads(line) for line in f]
    assert len(raw) == 2312 and len(pairs) + sum(pairs.dropped.values()) == 2312 and len(pairs) > 2200
    # The shared prefix is the prompt (a multi-turn conversation ending with a user turn); the last
    # assistant turn is the response.
    p = pairs[0]
    assert p.prompt[0]["role"] == "user" and p.prompt[-1]["role"] == "user"
    assert [m["role"] for m in p.chosen] == ["assistant"] and [m["role"] for m in p.rejected] == ["assistant"]
    assert raw[0]["chosen"].rstrip().endswith(p.chosen[0]["content"].rstrip())
    with pytest.raises(InputError, match=r"harmless-base-test.jsonl.gz:row \d+: field '(chosen|rejected)'"):
        load_pairs(str(path))  # the default policy names the first bad row
    assert all(len(q.prompt) % 2 == 1 for q in pairs)  # user, assistant, ..., user
    rows, report = tokenize_pairs(pairs[:100], tiny_tokenizer, max_length=256, max_prompt_length=128)
    assert report.total == 100 == report.kept + sum(report.dropped.values())


def test_malformed_file_gives_a_short_error_from_the_script(tmp_path):
    """A bad data file stops scripts/run_po.py with a short message naming file, row, field and fix."""
    bad = tmp_path / "pairs.jsonl"
    bad.write_text(json.dumps({"prompt": "hi", "chosen": "a"}) + "\n", encoding="utf-8")  # no 'rejected'
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "run_po.py"), str(REPO / "training_configs/tiny/dpo.yaml"),
         f"--dataset={bad}", "--model_name_or_path=tiny:0.2m/addition", f"--output_dir={tmp_path / 'run'}",
         f"--reference_cache_dir={tmp_path / 'cache'}"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "PREFOPT_CACHE": str(tmp_path / "tiny")},
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert str(bad) in proc.stderr and "row 1" in proc.stderr and "rejected" in proc.stderr
    assert "fix:" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 6
