"""Exact resume after SIGKILL, and crash-safe checkpoints (prefopt.training.checkpoint).

Each run is a real `scripts/run_po.py` process on a tiny model. A small driver patches in the kill: at the end
of an optimizer step (between saves), or in the middle of writing a checkpoint (after the weights and the
optimizer, before the RNG and trainer state). The resumed run must end with bit-identical weights, loss state
and logged trajectory to an uninterrupted run (CPU, same thread count: every kernel is deterministic here).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import tiny_model_and_pairs
from safetensors.torch import load_file

from prefopt.training.checkpoint import COMPLETE_FILE, is_complete, last_complete_checkpoint, mark_complete

REPO = Path(__file__).resolve().parents[1]

DRIVER = r"""
import os, runpy, signal, sys
kill_at = int(os.environ.get("KILL_AT_STEP", "0"))
if kill_at and os.environ.get("KILL_DURING_SAVE") == "1":
    from transformers import Trainer
    original = Trainer._save_rng_state
    def _save_rng_state(self, output_dir):  # weights and optimizer of this checkpoint are on disk, the rest is not
        if self.state.global_step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        original(self, output_dir)
    Trainer._save_rng_state = _save_rng_state
elif kill_at:
    import prefopt.training.run as R
    from transformers import TrainerCallback
    class Kill(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
    train_and_save = R.train_and_save
    def with_kill(trainer, *a, **k):  # every runner goes through the one skeleton's train_and_save
        trainer.add_callback(Kill())
        return train_and_save(trainer, *a, **k)
    R.train_and_save = with_kill
sys.argv = [sys.argv[1]] + sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""

STEPS, SAVE = 12, 4


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    # 48 pairs / 8 per step = 6 steps per epoch: resume crosses epochs
    model_dir, data = tiny_model_and_pairs(root, 48)
    (root / "driver.py").write_text(DRIVER)
    return root, model_dir, data


def _cfg(root: Path, model_dir: Path, data: Path, loss: str, **over) -> Path:
    cfg = {"model_name_or_path": str(model_dir), "dataset": str(data), "eval_split": None, "loss": loss,
           "max_length": 24, "max_prompt_length": 12, "per_device_train_batch_size": 4,
           "gradient_accumulation_steps": 2, "learning_rate": 3e-3, "lr_scheduler_type": "linear",
           "warmup_steps": 2, "max_steps": STEPS, "logging_steps": 1, "save_strategy": "steps",
           "save_steps": SAVE, "save_total_limit": 1, "report_to": "none", "use_cpu": True, "seed": 0, "disable_tqdm": True,
           "reference_cache_dir": str(root / "refcache"), "dataloader_num_workers": 0, **over}
    path = root / f"{loss}.yaml"
    path.write_text(json.dumps(cfg))  # JSON is YAML
    return path


def _run(root: Path, cfg: Path, out: Path, kill_at: int = 0, during_save: bool = False):
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1", "PREFOPT_CACHE": str(root / "tiny"),
           "HOME": str(root), "KILL_AT_STEP": str(kill_at), "KILL_DURING_SAVE": "1" if during_save else "0"}
    return subprocess.run([sys.executable, str(root / "driver.py"), str(REPO / "scripts/run_po.py"), str(cfg),
                           f"--output_dir={out}"], capture_output=True, text=True, timeout=600, cwd=root, env=env)


# Timings differ, and transformers' end-of-run `train_loss` summary averages only the steps run since the
# (re)start (Trainer._finalize_training): the per-step logged trajectory is what must match.
SESSION_KEYS = ("train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss")


def _trajectory(out: Path) -> list[dict]:
    history = json.loads((out / "log_history.json").read_text())["log_history"]
    assert sum("loss" in row for row in history) == STEPS  # logging_steps=1: one row per optimizer step
    return [{k: v for k, v in row.items() if k not in SESSION_KEYS} for row in history]


_FULL: dict[str, Path] = {}


def _full_run(root: Path, cfg: Path, loss: str) -> Path:
    """The uninterrupted run, once per loss and module."""
    if loss not in _FULL:
        out = root / f"{loss}-full"
        proc = _run(root, cfg, out)
        assert proc.returncode == 0, proc.stderr[-3000:]
        _FULL[loss] = out
    return _FULL[loss]


def _assert_identical(a: Path, b: Path) -> None:
    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), f"weight {k} differs after resume"
    ta, tb = _trajectory(a), _trajectory(b)
    assert [r.get("loss") for r in ta] == [r.get("loss") for r in tb]
    assert ta == tb


LMPO = {"beta": 2.0, "gamma_beta_ratio": 0.5}


@pytest.mark.parametrize("loss, over", [("lmpo", LMPO), pytest.param("dpo", {"beta": 0.3}, marks=pytest.mark.slow)])
def test_sigkill_between_saves_then_resume_is_bitwise_identical(setup, loss, over):
    """LMPO (running margin statistics in the checkpoint) and DPO (reference log-probs from the on-disk cache)."""
    root, model_dir, data = setup
    cfg = _cfg(root, model_dir, data, loss, **over)
    full, cut = _full_run(root, cfg, loss), root / f"{loss}-cut"

    killed = _run(root, cfg, cut, kill_at=6)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert not (cut / "model.safetensors").exists() and last_complete_checkpoint(str(cut), set_aside=False).endswith(
        "checkpoint-4")
    resumed = _run(root, cfg, cut)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming from" in resumed.stderr and "checkpoint-4" in resumed.stderr
    _assert_identical(full, cut)
    if loss == "lmpo":  # the running statistics at the end are those of the uninterrupted run
        sa = torch.load(full / f"checkpoint-{STEPS}" / "prefopt_loss_state.pt", weights_only=True)
        sb = torch.load(cut / f"checkpoint-{STEPS}" / "prefopt_loss_state.pt", weights_only=True)
        assert sa.keys() == sb.keys() and sa and all(torch.equal(sa[k], sb[k]) for k in sa)
    # safety defaults: checkpoints and the final model are safetensors, never pickled weights
    for folder in (full, full / f"checkpoint-{STEPS}"):
        assert (folder / "model.safetensors").exists()
        assert not list(folder.glob("pytorch_model*.bin"))


def test_sigkill_during_a_save_never_resumes_from_the_half_checkpoint(setup):
    root, model_dir, data = setup
    cfg = _cfg(root, model_dir, data, "lmpo", **LMPO)
    full, cut = _full_run(root, cfg, "lmpo"), root / "save-cut"
    killed = _run(root, cfg, cut, kill_at=8, during_save=True)
    assert killed.returncode == -signal.SIGKILL
    half = cut / "checkpoint-8"
    assert (half / "model.safetensors").exists() and not is_complete(str(half))
    # save_total_limit=1 must not have deleted the last complete checkpoint in favour of the half-written one
    assert is_complete(str(cut / "checkpoint-4"))
    resumed = _run(root, cfg, cut)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "set aside" in resumed.stderr and "resuming from" in resumed.stderr
    assert (cut / "incomplete-checkpoint-8").is_dir()
    assert sorted(p.name for p in cut.glob("checkpoint-*")) == [f"checkpoint-{STEPS}"]  # rotation still works
    _assert_identical(full, cut)


def test_marker_and_explicit_incomplete_checkpoint(tmp_path):
    from prefopt.config import PreferenceConfig, build_config
    from prefopt.core.errors import InputError
    from prefopt.training.run import resume_checkpoint

    for step in (2, 4, 6):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "model.safetensors").write_bytes(b"x")
    mark_complete(str(tmp_path / "checkpoint-2"), 2)
    mark_complete(str(tmp_path / "checkpoint-4"), 4)
    assert json.loads((tmp_path / "checkpoint-4" / COMPLETE_FILE).read_text())["global_step"] == 4
    assert not list(tmp_path.glob("*/*.tmp"))
    _, _, args = build_config({"model_name_or_path": "m", "dataset": "d", "output_dir": str(tmp_path),
                               "use_cpu": True, "report_to": "none", "resume": str(tmp_path / "checkpoint-6")},
                              "<test>", PreferenceConfig)
    with pytest.raises(InputError, match="not completely written"):
        resume_checkpoint(args)
    args.resume = "auto"
    assert resume_checkpoint(args) == str(tmp_path / "checkpoint-4")
    assert (tmp_path / "incomplete-checkpoint-6").is_dir() and not (tmp_path / "checkpoint-6").exists()
    args.resume = "never"
    assert resume_checkpoint(args) is None
    assert last_complete_checkpoint(str(tmp_path / "nowhere")) is None


def test_no_pickle_load_without_weights_only():
    """Every torch.load in the package, scripts and tests passes weights_only=True."""
    import re

    offenders = []
    for folder in ("prefopt", "scripts", "tests", "bench"):
        for path in (REPO / folder).rglob("*.py"):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if re.search(r"\btorch\.load\(", line) and "weights_only=True" not in line:
                    offenders.append(f"{path.relative_to(REPO)}:{n}")
                if re.search(r"\bpickle\.loads?\(", line) and path.name != os.path.basename(__file__):
                    offenders.append(f"{path.relative_to(REPO)}:{n}")
    assert not offenders, offenders


def test_task_eval_rows_after_the_checkpoint_are_dropped_on_resume(tmp_path):
    from prefopt.config import PreferenceConfig, build_config
    from prefopt.training.callbacks import task_callbacks
    from prefopt.training.run import resume_checkpoint

    (tmp_path / "checkpoint-4").mkdir()
    mark_complete(str(tmp_path / "checkpoint-4"), 4)
    log = tmp_path / "task_eval.jsonl"
    log.write_text("".join(json.dumps({"step": s, "task/accuracy": 0.1 * s}) + "\n" for s in (0, 2, 4, 6)))
    _, _, args = build_config({"model_name_or_path": "m", "dataset": "d", "output_dir": str(tmp_path),
                               "use_cpu": True, "report_to": "none", "task_eval": "addition"}, "<test>",
                              PreferenceConfig)
    assert len(task_callbacks(args, None, resume_checkpoint(args))) == 1
    assert [json.loads(r)["step"] for r in log.read_text().splitlines()] == [0, 2, 4]
    args.resume = "never"
    task_callbacks(args, None, resume_checkpoint(args))
    assert not log.exists()
