"""Bad-input battery through the real entry point (`scripts/run_po.py`).

Every case either loads (and trains one step) or exits with status 2 and a short message that names where
(config file or data file + row/line + field) and how to fix it, with no traceback unless `--debug`.

The unit-level versions of these checks live in test_config.py and test_data.py; this module checks what the
user sees. By default the cases run the script in-process (`runpy`, seconds in all); `make test-slow` runs
every case again as a separate process (about 10 s each on 2 cores). Rows dropped or truncated are counted
in the log and in the run manifest.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_po_in_process

from prefopt.toy.tiny import build_tiny

REPO = Path(__file__).resolve().parents[1]
RUN_PO = REPO / "scripts" / "run_po.py"


def U(c):
    return {"role": "user", "content": c}


def A(c):
    return {"role": "assistant", "content": c}


GOOD = [{"prompt": [U(f"{i}+{i}=")], "chosen": [A(str(2 * i))], "rejected": [A(f"{2 * i}7")]} for i in range(1, 9)]


def _jsonl(rows) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


# id -> (data file bytes or None for the good file, extra overrides, expected status, needles in stderr)
# "{data}" and "{cfg}" in needles are replaced by the data file's and the config file's paths.
CASES = {
    # ---- config ----
    "misspelled_key": (None, ["--learnin_rate=1e-5"], 2, ["{cfg}", "unknown config key 'learnin_rate'",
                                                          "fix: did you mean learning_rate"]),
    "unknown_key": (None, ["--frobnicate=3"], 2, ["{cfg}", "unknown config key 'frobnicate'", "fix:", "--help"]),
    "wrong_type_int": (None, ["--max_steps=ten"], 2, ["{cfg}", "'max_steps' must be int", "fix:"]),
    "wrong_type_bool": (None, ["--use_cpu=maybe"], 2, ["{cfg}", "'use_cpu' must be bool", "fix:"]),
    "beta_zero": (None, ["--beta=0"], 2, ["{cfg}", "beta must be > 0", "fix:"]),
    "beta_negative": (None, ["--beta=-2"], 2, ["{cfg}", "beta must be > 0", "fix:"]),
    "missing_model_path": (None, ["--model_name_or_path=/nonexistent/prefopt/model"], 2,
                           ["model_name_or_path", "/nonexistent/prefopt/model", "does not exist", "fix:"]),
    "hub_id_offline": (None, ["--model_name_or_path=nobody-prefopt/no-such-model"], 2,
                       ["'nobody-prefopt/no-such-model'", "HF_HUB_OFFLINE", "fix:"]),
    # ---- data ----
    "missing_column": (_jsonl([{"prompt": "1+1=", "chosen": "2"}]), [], 2,
                       ["{data}", "row 1", "missing column(s) 'rejected'", "fix:"]),
    "empty_chosen": (_jsonl(GOOD[:1] + [{"prompt": "1+2=", "chosen": " ", "rejected": "3"}]), [], 2,
                     ["{data}", "row 2", "field 'chosen'", "empty", "fix:"]),
    "identical": (_jsonl(GOOD[:2] + [{"prompt": "1+2=", "chosen": "3", "rejected": "3"}]), [], 2,
                  ["{data}", "row 3", "'chosen' and 'rejected' are identical", "fix:", "bad_rows"]),
    "non_utf8": (_jsonl(GOOD[:1]) + b'{"prompt": "caf\xe9", "chosen": "1", "rejected": "2"}\n', [], 2,
                 ["{data}", "line 2", "UTF-8", "fix:"]),
    "truncated_json": (_jsonl(GOOD[:2]) + b'{"prompt": "1+1=", "chosen": "2", "rejec', [], 2,
                       ["{data}", "line 3", "invalid JSON", "fix:"]),
    # a prompt longer than max_length is cut to max_prompt_length (counted: see long_prompt_truncated); only when
    # max_prompt_length leaves no room for the response is it an error
    "prompt_over_max_length": (_jsonl([{"prompt": "1" * 40 + "+1=", "chosen": "2", "rejected": "3"}]),
                               ["--max_prompt_length=24"], 2,
                               ["{data}", "row 1", "field 'prompt'", "max_length=24", "fix:"]),
    # ---- loads ----
    "identical_dropped": (_jsonl(GOOD + [{"prompt": "1+2=", "chosen": "3", "rejected": "3"}]),
                          ["--bad_rows=drop"], 0, ["dropped"]),
    "long_prompt_truncated": (_jsonl(GOOD + [{"prompt": "1" * 40 + "+1=", "chosen": "1", "rejected": "2"}]),
                              [], 0, ["truncated"]),
    "llama_factory_sharegpt": (_jsonl([{"system": "add", "conversations": [{"from": "human", "value": f"{i}+1="}],
                                        "chosen": {"from": "gpt", "value": str(i + 1)},
                                        "rejected": {"from": "gpt", "value": f"{i + 1}9"}} for i in range(8)]),
                               [], 0, []),
}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    root = tmp_path_factory.mktemp("badinput")
    model_dir = build_tiny("0.2m", "char", cache_dir=root / "tiny")
    cfg = {"model_name_or_path": str(model_dir), "dataset": "FILLED", "eval_split": None, "loss": "simpo",
           "beta": 2.0, "gamma_beta_ratio": 0.5, "max_length": 24, "max_prompt_length": 12,
           "per_device_train_batch_size": 4, "max_steps": 1, "save_strategy": "no", "report_to": "none",
           "use_cpu": True, "resume": "never", "disable_tqdm": True, "reference_cache_dir": str(root / "refcache")}
    path = root / "cell.yaml"
    path.write_text(json.dumps(cfg))
    return root, path


def _prepare(root: Path, cfg: Path, case: str):
    data_bytes, over, status, needles = CASES[case]
    folder = root / case
    folder.mkdir(exist_ok=True)
    data = folder / "prefs.jsonl"
    data.write_bytes(data_bytes if data_bytes is not None else _jsonl(GOOD))
    argv = [str(cfg), f"--dataset={data}", f"--output_dir={folder / 'run'}", *over]
    return argv, status, [n.format(data=data, cfg=cfg) for n in needles], folder / "run"


def _check(case: str, rc: int, err: str, status: int, needles: list[str], out: Path) -> None:
    assert rc == status, f"{case}: exit {rc}, expected {status}\n{err[-3000:]}"
    assert "Traceback" not in err, err[-3000:]
    for needle in needles:
        assert needle in err, f"{case}: {needle!r} not in\n{err[-3000:]}"
    if status:
        message = err[err.index("error:"):]
        assert len(message.strip().splitlines()) <= 6, message  # short
        return
    manifest = json.loads((out / "manifest.json").read_text())
    report = manifest["data"]["train"]
    assert manifest["status"] == "finished" and report["kept"] >= 8
    assert report["total"] == report["kept"] + sum(report["dropped"].values())
    if case == "identical_dropped":
        assert report["dropped"] == {"identical": 1}
    if case == "long_prompt_truncated":
        assert report["prompt_truncated"] == 1


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_in_process(base, case, capsys, caplog, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    root, cfg = base
    argv, status, needles, out = _prepare(root, cfg, case)
    rc, err = run_po_in_process(argv, capsys, caplog)
    _check(case, rc, err, status, needles, out)


def _run_process(root: Path, argv: list[str]) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", "HOME": str(root), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(RUN_PO), *argv], capture_output=True, text=True, timeout=300,
                          cwd=root, env=env)


def test_hub_id_offline_as_a_process(base):
    """One case as a real process: exit status 2, the message alone on stderr; --debug gives the traceback."""
    root, cfg = base
    argv, status, needles, out = _prepare(root, cfg, "hub_id_offline")
    proc = _run_process(root, argv)
    _check("hub_id_offline", proc.returncode, proc.stderr, status, needles, out)
    assert proc.stderr.lstrip().startswith("error:") and "--debug" in proc.stderr
    debug = _run_process(root, [*argv, "--debug"])
    assert debug.returncode != 0 and "Traceback" in debug.stderr


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_as_a_process(base, case):
    root, cfg = base
    argv, status, needles, out = _prepare(root, cfg, case)
    proc = _run_process(root, argv)
    _check(case, proc.returncode, proc.stderr, status, needles, out)


def test_trust_remote_code_is_off_unless_opted_in_and_logged(base, caplog):
    from prefopt.config import ModelArguments, PreferenceConfig, build_config
    from prefopt.modeling.loading import load_model

    assert ModelArguments().trust_remote_code is False
    root, cfg = base
    raw = json.loads(cfg.read_text())
    model_args, _, _ = build_config(dict(raw, dataset="x", output_dir=str(root / "o")), "<test>", PreferenceConfig)
    assert model_args.trust_remote_code is False
    model_args.trust_remote_code = True
    with caplog.at_level(logging.WARNING):
        load_model(model_args.model_name_or_path, model_args)
    assert "trust_remote_code is ON" in caplog.text
    # no code path hard-wires it on
    for path in [*(REPO / "prefopt").rglob("*.py"), *(REPO / "scripts").rglob("*.py")]:
        assert "trust_remote_code=True" not in path.read_text(encoding="utf-8"), path


def test_tests_run_offline():
    import huggingface_hub

    assert os.environ.get("HF_HUB_OFFLINE") == "1" and huggingface_hub.constants.is_offline_mode()
