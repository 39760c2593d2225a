"""One fast rehearsal per architecture family, in one process: a real cell config of each family (Llama-3,
Mistral, Gemma-2, GPT-NeoX, LLaMA-1) trains 2 steps through its own entry point with the rehearsal's overrides,
its hub model swapped for the miniature and its hub data for the mirror. The 2-process launches (ZeRO-3, FSDP,
kill and resume) are `make rehearse` and the slow tests.

Each run must use the family's real class and vocabulary, change the weights, log finite losses, record the
rehearsal in its manifest, and render real rows with exactly one BOS and the template's end-of-turn token.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from runpy import run_path

import pytest
import torch
from conftest import shared_data_dir, shared_data_path
from safetensors.torch import load_file

from prefopt.config import parse_config
from prefopt.core.rehearsal import MIRROR_ENV, MODELS_ENV
from prefopt.modeling.loading import resolve
from prefopt.reproduce.cells import load_registry
from prefopt.toy.rehearsal_data import SOURCES, build_mirror
from prefopt.toy.rehearse import plan as P
from prefopt.toy.rehearse import shrink
from prefopt.toy.rehearse.checks import template_checks
from prefopt.training.dispatch import config_class, train_from_config

REPO = Path(__file__).resolve().parents[1]
# family -> (config, the class and vocabulary its miniature must keep)
FAMILIES = {
    "llama3": ("training_configs/llama3-instruct/simpo.yaml", "LlamaForCausalLM", 128256),
    "mistral": ("training_configs/mistral-base/dpo.yaml", "MistralForCausalLM", 32000),
    "gemma2": ("training_configs/gemma2-9b-it/simpo.yaml", "Gemma2ForCausalLM", 256000),
    "gpt_neox": ("training_configs/pythia-2.8b-hh/sft.yaml", "GPTNeoXForCausalLM", 50304),
    "llama1": ("training_configs/llama-7b-hh-rm/rm-base.yaml", "LlamaModel", 32000),
}
FAST = {"max_steps": 2, "save_strategy": "no", "eval_strategy": "no"}  # one process, no checkpoint: the slow tests resume


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory):
    for rel in SOURCES.values():
        shared_data_path(rel)  # skips with a clear reason without the shared data
    root = tmp_path_factory.mktemp("rehearsal")
    build_mirror(root / "datasets", shared_data_dir())
    return root


@pytest.fixture
def rehearsing(rehearsal, monkeypatch):
    monkeypatch.setenv(MIRROR_ENV, str(rehearsal / "datasets"))
    monkeypatch.setenv(MODELS_ENV, str(rehearsal / "models"))
    return rehearsal


def _prepare(raw: dict, root: Path) -> None:
    """The chain before the GPT-NeoX SFT stage: its prepared data folder (scripts/prepare_pref_data.py)."""
    for step in P.upstream_steps(raw, "accelerate_configs/fsdp.yaml", root, set()):
        assert step.kind == "prepare", step.name
        argv = sys.argv
        sys.argv = step.argv[1:]
        try:
            with pytest.raises(SystemExit) as done:
                run_path(str(REPO / step.argv[1]), run_name="__main__")
            assert done.value.code in (0, None)
        finally:
            sys.argv = argv


@pytest.mark.parametrize("family", list(FAMILIES))
def test_one_rehearsal_per_family(rehearsing, family, monkeypatch):
    config, cls, vocab = FAMILIES[family]
    raw = P.read_config(config)
    kind = P.config_kind(raw)
    out = rehearsing / "outputs" / family
    changes = shrink.overrides(raw, rehearsing, str(out))
    changes.update({k: (raw.get(k), v, "fast test") for k, v in FAST.items()})
    _prepare(raw, rehearsing)
    monkeypatch.chdir(REPO)
    train_from_config(*parse_config([config, *shrink.as_words(changes)], config_class(raw)))

    saved = json.loads((out / "config.json").read_text())
    assert saved["vocab_size"] == vocab and (cls in saved["architectures"][0] or family == "llama1"), saved
    history = json.loads((out / "log_history.json").read_text())["log_history"]
    losses = [r["loss"] for r in history if "loss" in r]
    assert len(losses) == 2 and all(math.isfinite(x) for x in losses), losses
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model_miniatures"]["rehearsal"] and manifest["status"] == "finished"
    start = Path(resolve(raw["model_name_or_path"]))
    before, after = load_file(start / "model.safetensors"), load_file(out / "model.safetensors")
    # the same tensor names (a reward model keeps the causal LM's body as `backbone.`): trained weights moved
    pairs = [(after[k], before[k.replace("backbone.", "model.", 1)]) for k in after
             if k.replace("backbone.", "model.", 1) in before]
    assert pairs and any(not torch.equal(a, b) for a, b in pairs)
    checks = template_checks(shrink.relocate(raw, rehearsing), kind)
    if kind == "rm":
        assert not checks["checked"]
    else:
        assert checks["one_bos_first"] and checks["end_of_turn_closes_response"], checks


def test_every_family_has_a_cell(rehearsal):
    from prefopt.toy import miniatures

    registry = load_registry()
    families = {miniatures.MINIATURES[P.read_config(c.config)["model_name_or_path"]].family
                for c in P.trainable(registry) if P.read_config(c.config)["model_name_or_path"] in miniatures.MINIATURES}
    assert families <= set(FAMILIES) and set(miniatures.FAMILIES) == set(FAMILIES)
