"""The cell registry (results/cells.yaml, prefopt.reproduce.cells) and its generated Makefile (make/cells.mk).

Integrity rule for training configs: only cells whose `train:` says `config` must have one (`pending` cells wait
for issues 6 and 7, `none` cells are released models); a pending cell's config must NOT exist yet (flip its
status when it lands), and every config under training_configs/ except tiny/ belongs to a config-ready cell.
"""

from __future__ import annotations

import csv
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import make_dry_run

from prefopt.core.errors import InputError
from prefopt.reproduce.cells import (
    GENERATED_MAKEFILE,
    defined_make_targets,
    list_cells,
    load_registry,
    markdown_cells,
    pending_evals,
)
from prefopt.reproduce.make_rules import render
from prefopt.reproduce.results import METRIC_RANGES, load_reported

REPO = Path(__file__).resolve().parents[1]
ISSUE_CELLS = ["llama3-instruct-simpo", "mistral-base-dpo", "llama3-instruct-v0.2-simpo", "gemma2-it-simpo",
               "llama3-base-lmpo", "mistral-instruct-amapo", "llama3-instruct-dpo-sams", "hh-apo-rm"]


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def _header(path: Path) -> str:
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(lines)


# ---------------------------------------------------------------------------------------------- registry


def test_issue_cells_exist_with_their_status(registry):
    for cid in ISSUE_CELLS:
        assert cid in registry.cells, cid
    assert registry.cells["llama3-instruct-dpo-sams"].train == "config"  # issue 6 landed its config
    assert registry.cells["pythia-2.8b-hh-dpo-sams"].train == "config"
    assert registry.cells["pythia-2.8b-hh-kto-sams"].train == "config"  # paired KTO + SamS (issue 6)
    assert registry.cells["llama3-base-amapo-no-znorm"].train == "config"  # the amapo loss's margin switches
    assert registry.cells["hh-apo-rm"].train == "config"  # issue 7 landed its config
    assert (registry.cells["hh-apo-rm"].setting, registry.cells["hh-apo-rm"].method) == ("llama-7b-hh-rm", "rm-apo")
    # The spellings that differ between the reported CSVs and training_configs/ meet in the registry.
    assert registry.cells["gemma2-it-simpo"].config == "training_configs/gemma2-9b-it/simpo.yaml"
    assert registry.cells["mistral-base-slic-hf"].config == "training_configs/mistral-base/slic.yaml"
    assert registry.cells["llama3-base-r-dpo"].config == "training_configs/llama3-base/rdpo.yaml"
    assert registry.cells["llama3-base-sft"].script == "scripts/run_sft.py"


def test_config_ready_cells_have_an_existing_config_that_matches(registry):
    for c in registry.cells.values():
        if c.train != "config":
            continue
        path = REPO / c.config
        assert path.is_file(), c.id
        cfg = yaml.safe_load(path.read_text())
        assert cfg["output_dir"] == c.output_dir, c.id
        assert cfg["model_name_or_path"] == c.start, c.id          # the SFT starting point
        header = _header(path)
        assert f"setting {c.setting}, method {c.method}." in header, c.id   # the config names its registry row
        m = re.search(r"The authors' checkpoint of this cell: (\S+?)\.(\s|$)", header)
        if m:
            assert m.group(1) == c.released, c.id
        assert (REPO / c.script).is_file() and (REPO / c.accelerate_config).is_file(), c.id


def test_pending_cells_have_no_config_yet_and_say_why(registry):
    for c in registry.cells.values():
        if c.train == "pending":
            assert c.issue, c.id
            assert not (REPO / c.config).exists(), f"{c.config} exists: set {c.id} to train: config"
        if c.train == "none":
            assert c.released and c.default_model == c.released, c.id


def test_every_training_config_belongs_to_a_cell(registry):
    # Stages that only produce another cell's input and have no reported number: sams-pretrain.yaml (the SamS
    # scheduler a dpo-sams cell loads) and the Pythia settings' sft.yaml (their cells' `start`).
    configs = {str(p.relative_to(REPO)) for p in (REPO / "training_configs").glob("*/*.yaml") if p.parent.name != "tiny"}
    owned = [c.config for c in registry.cells.values() if c.train == "config"]
    assert len(owned) == len(set(owned))
    assert set(owned) <= configs
    starts = {c.start for c in registry.cells.values()}
    for extra in sorted(configs - set(owned) - set(ALTERNATIVE_RECIPES)):
        cfg = yaml.safe_load((REPO / extra).read_text())
        assert Path(extra).stem == "sams-pretrain" or cfg["output_dir"] in starts, extra
    for extra, cid in ALTERNATIVE_RECIPES.items():  # a second recipe of a cell, where the sources disagree
        assert registry.cells[cid].train == "config" and f"cell {cid}" in _header(REPO / extra), extra


# config -> the cell it is a second recipe of (the cell runs its own config; this one is offered beside it)
ALTERNATIVE_RECIPES = {"training_configs/llama-7b-hh-rm/rm-apo-from-base.yaml": "hh-apo-rm"}


def test_start_cells_exist(registry):
    for c in registry.cells.values():
        if c.start_cell:
            start = registry.cells[c.start_cell]
            assert start.released == c.start and start.train == "config", c.id


def test_every_cell_has_eval_targets_with_generation_settings(registry):
    for c in registry.cells.values():
        assert c.evals, c.id
        reported = {r.benchmark for r in registry.rows_of(c)}
        assert {e.benchmark.id for e in c.evals} == reported, c.id
        for e in c.evals:
            assert e.target.startswith("eval-"), (c.id, e)
            if e.benchmark.generates:
                assert e.template and e.generation, (c.id, e.benchmark.id)


def test_every_reported_row_belongs_to_a_cell_and_has_a_tolerance(registry):
    rows = load_reported()
    for r in rows:
        cell = registry.cell_of(r.setting, r.method)
        assert cell is not None, r.where
        assert r.source, r.where
        if not r.metric.endswith("_se"):
            assert r.metric in registry.benchmarks[r.benchmark].tolerance, r.where
    assert all(registry.rows_of(c) for c in registry.cells.values())


def test_tolerance_defaults_are_known_metrics(registry):
    for b in registry.benchmarks.values():
        for metric, tol in b.tolerance.items():
            assert metric in METRIC_RANGES
            assert b.default_tolerance(metric, 50.0) > 0, (b.id, metric, tol)
    assert registry.benchmarks["alpacaeval2"].default_tolerance("length", 2000) == pytest.approx(200)


def test_reference_order_puts_the_authors_table_first(registry):
    rows = registry.rows_of(registry.cells["llama3-instruct-simpo"])
    lc = [f"{r.paper}/{r.table}" for r in rows if r.benchmark == "alpacaeval2" and r.metric == "lc_win_rate"]
    assert lc[0] == "simpo/readme-v0.1" and lc[-1] == "simpo/alpaca-eval-leaderboard"


def test_released_ids_match_the_simpo_readme(registry, shared_data):
    """The princeton-nlp ids of the README tables are the cells' released checkpoints."""
    src = shared_data("simpo_repo_assets/readme_results_tables.csv")
    # The README's "meta-llama/Meta-Llama-3-Instruct-8B" is not a hub id (documented in results/cells.yaml).
    typo = {"meta-llama/Meta-Llama-3-Instruct-8B": "meta-llama/Meta-Llama-3-8B-Instruct"}
    released = {c.released for c in registry.cells.values()}
    with open(src, newline="") as fh:
        ids = {rec["hf_model_id"] for rec in csv.DictReader(fh)}
    assert len(ids) == 52
    assert {typo.get(i, i) for i in ids} <= released


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["settings"]["gemma2-it"]["cells"].pop("ipo"), "reported rows without a cell"),
    (lambda d: d["settings"]["gemma2-it"]["cells"].update({"xpo": {}}), "no reported row"),
    (lambda d: d["settings"]["gemma2-it"]["cells"]["ipo"].update({"train": "pending"}), "needs `issue:`"),
    (lambda d: d["settings"]["gemma2-it"]["cells"]["dpo"].update({"trian": "none"}), "unknown key"),
    (lambda d: d["settings"]["gemma2-it"]["evals"].pop("alpacaeval2"), "no template and generation"),
    (lambda d: d["benchmarks"]["alpacaeval2"]["tolerance"].pop("length"), "no default tolerance"),
])
def test_registry_errors(tmp_path, mutate, message):
    data = yaml.safe_load((REPO / "results" / "cells.yaml").read_text())
    data["settings"]["gemma2-it"]["evals"] = dict(data["settings"]["gemma2-it"]["evals"])  # unshare the anchor
    mutate(data)
    path = tmp_path / "cells.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(InputError, match=re.escape(message)):
        load_registry(path)


# ------------------------------------------------------------------------------------------ make list


def _with_a_pending_cell(tmp_path):
    """The registry with one cell set back to `train: pending` (every cell has a config today)."""
    data = yaml.safe_load((REPO / "results" / "cells.yaml").read_text())
    data["settings"]["pythia-2.8b-hh"]["cells"]["dpo-sams-select25"].update(
        {"train": "pending", "issue": "99 (item 1): a reason"})
    path = tmp_path / "cells.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_registry(path)


def test_list_shows_every_cell_with_its_status(registry, tmp_path):
    text = list_cells(registry, [], defined_make_targets())
    assert f"{len(registry.cells)} cells" in text
    for cid in registry.cells:
        assert re.search(rf"^{re.escape(cid)}\s", text, re.M), cid
    line = next(x for x in text.splitlines() if x.startswith("llama3-instruct-simpo "))
    assert "config ready" in line
    text = list_cells(_with_a_pending_cell(tmp_path), [], defined_make_targets())
    line = next(x for x in text.splitlines() if x.startswith("pythia-2.8b-hh-dpo-sams-select25 "))
    assert "config pending (issue 99)" in line


def test_a_pending_cell_has_no_launch_and_says_why(tmp_path):
    rules = render(_with_a_pending_cell(tmp_path))
    rule = rules.split("\npythia-2.8b-hh-dpo-sams-select25:\n", 1)[1].split("\n")[0]
    assert "no training config yet (issue 99 (item 1): a reason)" in rule and "accelerate" not in rule


def test_list_cli_runs_on_the_repo():
    out = subprocess.run([str(REPO / ".venv/bin/python"), "-m", "prefopt.reproduce.cells", "list"], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "gemma2-it-simpo" in out.stdout and "hh-apo-rm" in out.stdout


# ------------------------------------------------------------------------------------------ Makefile


def test_generated_makefile_is_up_to_date(registry):
    assert GENERATED_MAKEFILE.read_text() == render(registry), "make/cells.mk is stale: run make gen-make"


def _make_n(*args: str) -> str:
    return make_dry_run(*args)


LAUNCH = "accelerate launch --config_file accelerate_configs/deepspeed_zero3.yaml"


@pytest.mark.parametrize("cell, command", [
    ("llama3-instruct-simpo", f"{LAUNCH} scripts/run_po.py training_configs/llama3-instruct/simpo.yaml"),   # SimPO
    ("mistral-base-dpo", f"{LAUNCH} scripts/run_po.py training_configs/mistral-base/dpo.yaml"),
    ("llama3-instruct-v0.2-simpo", f"{LAUNCH} scripts/run_po.py training_configs/llama3-instruct-v0.2/simpo.yaml"),
    ("gemma2-it-simpo", f"{LAUNCH} scripts/run_po.py training_configs/gemma2-9b-it/simpo.yaml"),
    ("llama3-base-slic-hf", f"{LAUNCH} scripts/run_po.py training_configs/llama3-base/slic.yaml"),
    ("llama3-base-sft", f"{LAUNCH} scripts/run_sft.py training_configs/llama3-base/sft.yaml"),
    ("llama3-base-lmpo", f"{LAUNCH} scripts/run_po.py training_configs/llama3-base/lmpo.yaml"),             # LMPO
    ("mistral-instruct-amapo", f"{LAUNCH} scripts/run_po.py training_configs/mistral-instruct/amapo.yaml"),  # AMaPO
    ("pythia-2.8b-hh-kto-sams", "accelerate launch --config_file accelerate_configs/fsdp.yaml scripts/run_po.py "
                                "training_configs/pythia-2.8b-hh/kto-sams.yaml"),                          # KTO+SamS
])
def test_make_dry_run_trains_with_accelerate(cell, command):
    out = _make_n(cell)
    assert command in out
    assert "accelerate not found: run make setup-gpu" in out   # the guard runs first


def test_make_dry_run_overrides():
    out = _make_n("llama3-instruct-simpo", "ACCELERATE_CONFIG=accelerate_configs/fsdp.yaml",
                  "LAUNCH_ARGS=--num_processes 4", "ARGS=--learning_rate=8e-7 --seed=1")
    assert ("accelerate launch --config_file accelerate_configs/fsdp.yaml --num_processes 4 scripts/run_po.py "
            "training_configs/llama3-instruct/simpo.yaml --learning_rate=8e-7 --seed=1") in out


@pytest.mark.parametrize("cell, message", [
    ("mistral-instruct-sft", "this table row is mistralai/Mistral-7B-Instruct-v0.2 itself"),
])
def test_make_dry_run_cells_without_a_launch(cell, message):
    out = _make_n(cell)
    assert message in out and "accelerate launch" not in out


def test_make_dry_run_eval_of_a_cell_and_of_its_released_checkpoint():
    out = _make_n("eval-llama3-instruct-simpo")
    assert ("eval-alpaca MODEL=outputs/llama3-instruct/simpo CELL=llama3-instruct-simpo "
            "OUT=results/reproduced/llama3-instruct-simpo TEMPLATE=llama3 GENERATION='do_sample=true "
            "temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009'") in out
    assert "eval-arenahard MODEL=outputs/llama3-instruct/simpo" in out and "temperature=0.0" in out
    assert "eval-mtbench MODEL=outputs/llama3-instruct/simpo" in out
    out = _make_n("eval-llama3-instruct-simpo", "MODEL=princeton-nlp/Llama-3-Instruct-8B-SimPO")
    assert ("eval-alpaca MODEL=princeton-nlp/Llama-3-Instruct-8B-SimPO CELL=llama3-instruct-simpo "
            "OUT=results/reproduced/princeton-nlp--Llama-3-Instruct-8B-SimPO TEMPLATE=llama3") in out
    out = _make_n("eval-gemma2-it-sft")        # an untrained row evaluates its released model by default
    assert "eval-alpaca MODEL=google/gemma-2-9b-it CELL=gemma2-it-sft" in out and "TEMPLATE=gemma" in out


def test_make_eval_of_a_pending_benchmark_fails_clearly(registry):
    defined = defined_make_targets()
    pending = [(c, e) for c in registry.cells.values() for e in pending_evals(c, defined)]
    if not pending:  # every entry point exists: the fallback still answers a mistyped cell name
        out = subprocess.run(["make", "--no-print-directory", "eval-no-such-cell"], cwd=REPO, capture_output=True,
                             text=True, timeout=60)
        assert out.returncode != 0 and "no rule for eval-no-such-cell: make list shows the cells" in out.stderr
        return
    cell, spec = pending[0]
    # The entry point itself (not eval-<cell>, whose other benchmarks would run) answers with what is missing.
    out = subprocess.run(["make", "--no-print-directory", spec.target], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "is not implemented yet" in out.stderr, out.stderr
    assert f"no make target {spec.target}" in out.stderr


def test_make_list_verify_gen_make_are_wired():
    assert "-m prefopt.reproduce.cells list" in _make_n("list")
    assert "-m prefopt.reproduce.verify --strict" in _make_n("verify", "VERIFY_ARGS=--strict")
    assert "scripts/gen_make.py" in _make_n("gen-make")


def test_readme_cells_table_is_up_to_date(registry):
    readme = (REPO / "README.md").read_text()
    assert "## Reproducing a table" in readme
    assert markdown_cells(registry) in readme, "README's cells table is stale: paste python -m prefopt.reproduce.cells table"


def test_list_says_which_protocol_parts_are_our_choice(registry):
    """Every benchmark entry point exists; make list names the parts of a protocol no source gives and the choice the
    entry point makes instead (AMaPO's pairing of the OOD sets, the ZeroEval version behind the Gemma table)."""
    text = list_cells(registry, [], defined_make_targets())
    assert "Every benchmark entry point exists." in text and "not implemented yet" not in text
    foot = text.split("Protocol parts no source gives (our choice, a parameter of the entry point):")[1]
    robustness = next(x for x in foot.splitlines() if x.strip().startswith("eval-rm-robustness"))
    assert "not published" in robustness and "PAIRING=best-worst" in robustness and "PAIRING=all-pairs" in robustness
    assert "eval-zeroeval (gsm8k)" in foot and "--json_pick last" in foot and "eval-zeroeval (mmlu)" in foot
    line = next(x for x in text.splitlines() if x.startswith("llama3-instruct-selective-dpo "))
    assert "config ready" in line   # the data_selection block (prefopt.training.selection)
