"""The SLURM multi-node launcher (scripts/slurm/launch.slurm) in dry-run mode: the command it generates takes the
machine count, main address and machine rank from the scheduler, keeps the global batch, and parses."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LAUNCH = REPO / "scripts" / "slurm" / "launch.slurm"
CELL = "training_configs/llama3-instruct/simpo.yaml"


def _dry_run(tmp_path: Path, *args: str, **env_over: str) -> subprocess.CompletedProcess:
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    scontrol = fake / "scontrol"  # what `scontrol show hostnames node[07-08]` prints
    scontrol.write_text('#!/bin/sh\n[ "$1 $2" = "show hostnames" ] && printf "node07\\nnode08\\n"\n')
    scontrol.chmod(0o755)
    env = {"PATH": f"{fake}:{os.path.dirname(sys.executable)}:/usr/bin:/bin", "DRY_RUN": "1",
           "PYTHON": sys.executable, "SLURM_NNODES": "2", "SLURM_JOB_NODELIST": "node[07-08]",
           "SLURM_JOB_ID": "4242", "SLURM_GPUS_ON_NODE": "8", **env_over}
    return subprocess.run(["bash", str(LAUNCH), *args], capture_output=True, text=True, cwd=REPO, env=env,
                          timeout=60)


def _launch_args(line: str) -> tuple[list[str], list[str]]:
    """(srun arguments, the per-node command split into words)."""
    words = shlex.split(line)
    assert words[0] == "srun" and words[-3:-1] == ["bash", "-c"], line
    return words[1:-3], shlex.split(words[-1])


def test_generated_command_uses_the_scheduler_and_keeps_the_global_batch(tmp_path):
    proc = _dry_run(tmp_path, CELL, "accelerate_configs/deepspeed_zero3.yaml", "--learning_rate=5e-7")
    assert proc.returncode == 0, proc.stderr
    srun, cmd = _launch_args(proc.stdout.strip())
    assert "--nodes=2" in srun and "--ntasks-per-node=1" in srun and "--kill-on-bad-exit=1" in srun
    assert cmd[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    opts = dict(zip(cmd[3::2], cmd[4::2]))
    assert opts["--config_file"] == "accelerate_configs/deepspeed_zero3.yaml"
    assert opts["--num_machines"] == "2" and opts["--num_processes"] == "16"
    assert opts["--main_process_ip"] == "node07"  # first host of the allocation
    assert opts["--machine_rank"] == "$SLURM_PROCID"  # expanded on each node by its own shell
    script_at = cmd.index("scripts/run_po.py")
    assert cmd[script_at + 1] == CELL and "--learning_rate=5e-7" in cmd
    # llama3-instruct cells: per-device batch 2 -> 128 / (2 x 16) = 4 accumulation steps
    assert "--gradient_accumulation_steps=4" in cmd

    # the launcher's options are ones accelerate accepts
    from accelerate.commands.launch import launch_command_parser

    on_node_1 = [w.replace("$SLURM_PROCID", "1") for w in cmd[3:]]  # what the second node's shell runs
    parsed = launch_command_parser().parse_args(on_node_1)
    assert parsed.num_machines == 2 and parsed.num_processes == 16 and parsed.machine_rank == 1
    assert parsed.training_script == "scripts/run_po.py" and parsed.training_script_args[0] == CELL


def test_overrides_and_errors(tmp_path):
    proc = _dry_run(tmp_path, CELL, "--per_device_train_batch_size=4", GPUS_PER_NODE="4", GLOBAL_BATCH="128")
    _, cmd = _launch_args(proc.stdout.strip())
    assert "accelerate_configs/deepspeed_zero3.yaml" in cmd and "--gradient_accumulation_steps=4" in cmd
    assert dict(zip(cmd[3::2], cmd[4::2]))["--num_processes"] == "8"
    keep = _dry_run(tmp_path, CELL, GLOBAL_BATCH="0")
    assert not any(w.startswith("--gradient_accumulation_steps") for w in _launch_args(keep.stdout.strip())[1])
    bad = _dry_run(tmp_path, CELL, GLOBAL_BATCH="100")
    assert bad.returncode == 2 and "not a multiple" in bad.stderr
    outside = _dry_run(tmp_path, CELL, SLURM_NNODES="")
    assert outside.returncode != 0 and "SLURM" in outside.stderr
    missing = _dry_run(tmp_path, "training_configs/nope.yaml")
    assert missing.returncode == 2 and "does not exist" in missing.stderr


@pytest.mark.parametrize(("config", "per_device", "accumulation"), [
    ("training_configs/pythia-2.8b-hh/dpo.yaml", 4, 2),        # global batch 64 (eric-mitchell's)
    ("training_configs/llama-7b-hh-rm/rm-base.yaml", 1, 8),    # global batch 64 (APO)
    ("training_configs/mistral-base/orpo.yaml", 4, 1),         # global batch 32 (the ORPO recipe)
])
def test_default_global_batch_is_the_configs_own(tmp_path, config, per_device, accumulation):
    """Without GLOBAL_BATCH the launcher keeps the config's global batch (per device x accumulation x the 8 GPUs
    every config assumes); it once defaulted to 128 and silently doubled the 64-pair configs."""
    own = per_device * accumulation * 8
    for nodes, gpus in (("2", "8"), ("1", "4")):
        proc = _dry_run(tmp_path, config, SLURM_NNODES=nodes, SLURM_GPUS_ON_NODE=gpus)
        world = int(nodes) * int(gpus)
        if own % (per_device * world):  # e.g. 32 pairs on 16 GPUs x 4 each: said, not silently changed
            assert proc.returncode == 2 and "not a multiple" in proc.stderr, proc.stdout
            continue
        assert proc.returncode == 0, proc.stderr
        _, cmd = _launch_args(proc.stdout.strip())
        assert f"--gradient_accumulation_steps={own // (per_device * world)}" in cmd, (config, nodes, gpus, cmd)


@pytest.mark.parametrize("name", ["deepspeed_zero3", "deepspeed_zero3_offload", "deepspeed_zero2", "fsdp",
                                  "multi_gpu", "cpu_ddp"])
def test_accelerate_configs_exist_and_load(name):
    import yaml

    cfg = yaml.safe_load((REPO / "accelerate_configs" / f"{name}.yaml").read_text())
    assert cfg["num_machines"] == 1 and cfg["distributed_type"] in ("DEEPSPEED", "FSDP", "MULTI_GPU")
    if name.startswith("deepspeed"):
        assert cfg["deepspeed_config"]["zero_stage"] == int(name[len("deepspeed_zero")])
        assert cfg["deepspeed_config"]["deepspeed_multinode_launcher"] == "standard"  # what launch.slurm needs
    if name == "deepspeed_zero3_offload":
        assert cfg["deepspeed_config"]["offload_optimizer_device"] == "cpu"
        assert cfg["deepspeed_config"]["offload_param_device"] == "cpu"
