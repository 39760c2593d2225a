"""The SamS cell configs chain together: each dpo-sams loads the scheduler its sams-pretrain writes, with the
same networks, and each stage starts from the setting's SFT model (the Pythia settings' own sft.yaml)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
NETWORK_KEYS = ("encoder", "connector_dim", "width", "depth", "block_size", "encoder_dim", "encoder_layers",
                "encoder_heads")
SAMS = sorted(p.parent for p in (REPO / "training_configs").glob("*/dpo-sams.yaml") if p.parent.name != "tiny")


def _raw(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("folder", SAMS, ids=lambda p: p.name)
def test_dpo_sams_loads_what_its_pretraining_writes(folder):
    pretrain, sams = _raw(folder / "sams-pretrain.yaml"), _raw(folder / "dpo-sams.yaml")
    assert sams["scheduler"]["init_from"] == pretrain["output_dir"]
    assert pretrain["scheduler"]["mode"] == "pretrain" and pretrain["learning_rate"] == 0
    assert sams["scheduler"]["freeze_encoder"] is True and pretrain["scheduler"]["freeze_encoder"] is False
    for key in NETWORK_KEYS:  # the checkpoint only loads into the same architecture
        assert sams["scheduler"].get(key) == pretrain["scheduler"].get(key), key
    assert pretrain["model_name_or_path"] == sams["model_name_or_path"]


@pytest.mark.parametrize("setting", ["pythia-2.8b-hh", "pythia-2.8b-shp"])
def test_pythia_cells_start_from_their_sft_stage_with_one_template(setting):
    folder = REPO / "training_configs" / setting
    sft = _raw(folder / "sft.yaml")
    assert sft["model_name_or_path"] == "EleutherAI/pythia-2.8b"
    for name in ("dpo", "dpo-sams", "sams-pretrain", "kto"):
        cfg = _raw(folder / f"{name}.yaml")
        assert cfg["model_name_or_path"] == sft["output_dir"], name
        assert cfg["chat_template"] == sft["chat_template"], name   # the prompt format of every stage
        assert cfg["beta"] == 0.1, name                               # SamS Table 2's beta
    dpo, sams = _raw(folder / "dpo.yaml"), _raw(folder / "dpo-sams.yaml")
    for key in ("learning_rate", "per_device_train_batch_size", "gradient_accumulation_steps", "dataset",
                "max_length", "max_prompt_length", "optim", "num_train_epochs"):
        assert dpo[key] == sams[key], key  # DPO and DPO+SamS differ only by the scheduler block
