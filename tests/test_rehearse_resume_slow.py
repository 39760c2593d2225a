"""The acceptance runs of the rehearsal, as tests (slow: two processes, DeepSpeed ZeRO-3 on CPU, about 2-4 CPU
minutes each): the stateful cells' kill-and-resume. An LMPO cell (running statistics) and a DPO+SamS cell (the
scheduler's networks, pool and random streams; its SamS pretraining stage runs first) run their own make rule
uninterrupted, killed by SIGKILL at the end of step 2, and resumed under the same launcher; the resumed losses
must equal the uninterrupted run's, every loss finite, 3 steps."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import shared_data_dir, shared_data_path

from prefopt.reproduce.cells import load_registry
from prefopt.toy.rehearsal_data import SOURCES, build_mirror
from prefopt.toy.rehearse import plan as P
from prefopt.toy.rehearse.__main__ import prebuild
from prefopt.toy.rehearse.runner import environment, run_plan


@pytest.mark.slow
@pytest.mark.parametrize("cell", ["mistral-base-lmpo", "mistral-instruct-dpo-sams"])
def test_kill_and_resume_under_zero3_gives_the_uninterrupted_losses(cell, tmp_path, monkeypatch):
    for rel in SOURCES.values():
        shared_data_path(rel)  # skips with a clear reason without the shared data
    registry = load_registry()
    plan = P.plan_cell(registry.cells[cell], registry, tmp_path)
    plan = dataclasses.replace(plan, steps=[s for s in plan.steps if s.kind != "eval"])  # evals: make rehearse
    for key, value in environment(tmp_path).items():
        if key.startswith("PREFOPT_"):
            monkeypatch.setenv(key, value)
    build_mirror(tmp_path / "datasets", shared_data_dir())
    prebuild(plan.raw)
    record = run_plan(plan, tmp_path)
    assert record["status"] == "green", record["failure"]
    assert record["launcher"]["zero_stage"] == 3 and record["launcher"]["processes"] == 2
    kill = next(s for s in record["steps"] if s["kind"] == "kill")
    assert kill["rc"] != 0 and kill["checkpoint_left"] == "checkpoint-1"  # really killed, resumed from step 1
    assert record["steps_run"] == 3 and record["losses_finite"]
    assert record["resume"]["identical_losses"], record["resume"]
