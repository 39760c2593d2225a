"""training_configs/tiny/: every config runs as written after `make demo` (plus the commands its header names).

Each tiny config's header carries two lines:
    # Needs: make demo[; <command>; ...]      what must have run first, in order
    # Run: python scripts/<runner> training_configs/tiny/<name>.yaml

The layout `make demo` writes is not typed in here: it is read off the demo's own code. `prefopt.toy.demo.main` is
called with the Makefile's default SEED and its `run_seeds` replaced by a recorder (-> the work folder), then
`prefopt.toy.chain.run_chain` runs with training, sampling and evaluation replaced by stubs that only create the
folders a real run would write. Nothing is trained.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "training_configs" / "tiny"
CONFIGS = sorted(TINY.glob("*.yaml"))
# Keys of a training config that name something a run reads from disk.
INPUT_KEYS = ("model_name_or_path", "dataset", "eval_dataset", "apo_dataset")
# The one preparing command that is not a config: prefopt/reward/demo.py build_tiny_apo_data writes
# <the demo policy's folder's parent>/data/apo/apo_text_scores.json (policy default: outputs/demo/seed0/sft).
TINY_APO_DATA = "python scripts/rm_demo.py --tiny-apo-data"
MAKE_RM_DEMO = "make rm-demo"  # the MiniLM configs: scripts/rm_demo.py extracts the encoder and runs them itself


def _header(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        m = re.match(r"# (Needs|Run): (.+)$", line)
        if m:
            assert m.group(1) not in out, f"{path.name}: two '# {m.group(1)}:' lines"
            out[m.group(1)] = m.group(2).strip()
    return out


def _raw(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _inputs(raw: dict) -> list[str]:
    paths = [raw[k] for k in INPUT_KEYS if isinstance(raw.get(k), str)]
    paths += [v for v in (raw.get("eval_datasets") or {}).values() if isinstance(v, str)]
    init = (raw.get("sample_scheduler") or {}).get("init_from")
    if init and not Path(init).is_absolute():  # resolved against output_dir's parent (prefopt/training/sams/hook.py)
        paths.append(str(Path(raw["output_dir"]).parent / init))
    return [p for p in paths if p.startswith("outputs/")]


@pytest.fixture(scope="module")
def demo_writes(tmp_path_factory) -> set[str]:
    """Every folder and file (repo-relative) that `make demo` writes, from the demo's own code."""
    from prefopt.toy import chain as embedded
    from prefopt.toy import demo

    seed = int(re.search(r"^SEED \?= (\d+)$", (REPO / "Makefile").read_text(), re.M).group(1))
    mp = pytest.MonkeyPatch()
    tmp = tmp_path_factory.mktemp("demo_layout")
    try:
        called = {}
        mp.setattr(demo, "run_seeds", lambda kind, seeds, methods, out, work: called.update(
            seeds=seeds, methods=methods, work=Path(work)) or 2)
        demo.main(["--seed", str(seed)])
        assert called["seeds"] == [seed]
        work = called["work"].relative_to(REPO) / f"seed{seed}"  # run_seeds: work / f"seed{seed}"

        def fake_train(name, config):
            out = Path(config[2].output_dir)
            out.mkdir(parents=True, exist_ok=True)
            (out / "log_history.json").write_text('{"log_history": []}')
            return 0.0

        def fake_pairs(sft_dir, task, out, seed):
            for sub in ("pairs", "rft"):
                (Path(out) / sub).mkdir(parents=True, exist_ok=True)
            return {}

        mp.setattr(embedded, "train", fake_train)
        mp.setattr(embedded, "make_pairs", fake_pairs)
        mp.setattr(embedded, "HeldOutPairs", lambda *a, **k: type("H", (), {"accuracy": lambda self, d: {}})())
        mp.setattr(embedded, "task_accuracy", lambda *a, **k: {})
        mp.chdir(tmp)
        embedded.run_chain(seed, work, called["methods"])
    finally:
        mp.undo()
    written = {str(p.relative_to(tmp)) for p in tmp.rglob("*")}
    assert f"{work}/sft" in written and f"{work}/data/pairs" in written, sorted(written)
    return written


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_header_names_its_run_command_and_what_it_needs(path):
    head = _header(path)
    assert set(head) == {"Needs", "Run"}, f"{path.name}: header needs '# Needs:' and '# Run:' lines"
    runner = re.fullmatch(r"python (scripts/\S+\.py) (\S+)", head["Run"])
    assert runner and runner.group(2) == f"training_configs/tiny/{path.name}", head["Run"]
    assert (REPO / runner.group(1)).is_file(), runner.group(1)
    assert head["Needs"].startswith(("make demo", MAKE_RM_DEMO)), head["Needs"]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_paths_exist_after_make_demo_and_the_named_commands(path, demo_writes):
    """Every outputs/ path a config reads is written by `make demo` or by a command of its Needs line, and each
    named command's own inputs are met by what ran before it."""
    needs = [c.strip() for c in _header(path)["Needs"].split(";")]
    if needs[0].startswith(MAKE_RM_DEMO):
        pytest.skip("run by make rm-demo (scripts/rm_demo.py), which prepares its inputs itself")
    assert needs[0] == "make demo"
    available = set(demo_writes)
    for command in needs[1:]:
        if command == TINY_APO_DATA:
            policy = next(p for p in demo_writes if p.endswith("/sft") and "/data/" not in p)
            available.add(str(Path(policy).parent / "data" / "apo" / "apo_text_scores.json"))
            continue
        m = re.fullmatch(r"python scripts/\S+\.py ((?:training|sampling)_configs/tiny/\S+\.yaml)", command)
        assert m, f"{path.name}: cannot tell what {command!r} writes"
        raw = _raw(REPO / m.group(1))
        reads = _inputs(raw) + [raw[k] for k in ("policy", "reward_model", "queries") if k in raw]
        missing = [p for p in reads if p not in available]
        assert not missing, f"{path.name}: {command!r} reads {missing}, which nothing before it writes"
        available.add(raw["output_dir"])
    raw = _raw(path)
    missing = [p for p in _inputs(raw) if p not in available]
    assert not missing, f"{path.name} reads {missing}; after its Needs only these exist: {sorted(available)}"


def test_a_config_pointing_at_the_old_layout_is_caught(demo_writes):
    """The check above fails on the paths the tiny configs had before (outputs/demo/sft)."""
    assert "outputs/demo/sft" not in demo_writes and "outputs/demo/data/pairs" not in demo_writes
    assert "outputs/demo/seed0/data/rft" in demo_writes


def test_runs_write_outside_the_demo_folders(demo_writes):
    """Running a method config as written does not overwrite a model the demo (or another config) reads."""
    outputs = {}
    for path in CONFIGS:
        out = _raw(path)["output_dir"]
        assert out not in outputs, f"{path.name} and {outputs.get(out)} write to {out}"
        outputs[out] = path.name
        assert out not in demo_writes, f"{path.name} overwrites the demo's {out}"
