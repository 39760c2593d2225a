"""The SamS cell configs chain together: each dpo-sams / kto-sams loads the scheduler its sams-pretrain writes, with
the same networks, and each stage starts from the setting's SFT model (the Pythia settings' own sft.yaml)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
NETWORK_KEYS = ("encoder", "connector_dim", "width", "depth", "block_size", "encoder_dim", "encoder_layers",
                "encoder_heads")
SAMS = sorted(p for p in (REPO / "training_configs").glob("*/*-sams.yaml") if p.parent.name != "tiny")


def _raw(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("config", SAMS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sams_cells_load_what_their_pretraining_writes(config):
    """SamS App. F.3: for an existing preference data set (the Pythia HH/SHP settings) the scheduler is pretrained
    during the policy's SFT (sft.yaml, mode sft); for the Table 1 settings against the frozen SFT policy
    (sams-pretrain.yaml, mode pretrain)."""
    sams = _raw(config)
    pythia = config.parent.name.startswith("pythia-")
    stage = _raw(config.parent / ("sft.yaml" if pythia else "sams-pretrain.yaml"))
    assert sams["sample_scheduler"]["init_from"] == stage["output_dir"]
    if pythia:
        assert stage["sample_scheduler"]["mode"] == "sft" and stage["learning_rate"] > 0   # the SFT itself trains
        assert stage["output_dir"] == sams["model_name_or_path"]   # the policy DPO starts from, same run
        assert not (config.parent / "sams-pretrain.yaml").exists()
    else:
        assert stage["sample_scheduler"]["mode"] == "pretrain" and stage["learning_rate"] == 0
        assert stage["model_name_or_path"] == sams["model_name_or_path"]
    assert stage["sample_scheduler"]["reward_loss"] == "sft"
    assert sams["sample_scheduler"]["freeze_encoder"] is True and stage["sample_scheduler"]["freeze_encoder"] is False
    for key in NETWORK_KEYS:  # the checkpoint only loads into the same architecture
        assert sams["sample_scheduler"].get(key) == stage["sample_scheduler"].get(key), key


@pytest.mark.parametrize("setting", ["pythia-2.8b-hh", "pythia-2.8b-shp"])
def test_pythia_cells_start_from_their_sft_stage_with_one_template(setting):
    folder = REPO / "training_configs" / setting
    sft = _raw(folder / "sft.yaml")
    assert sft["model_name_or_path"] == "EleutherAI/pythia-2.8b"
    for name in ("dpo", "dpo-sams", "kto", "kto-sams"):
        cfg = _raw(folder / f"{name}.yaml")
        assert cfg["model_name_or_path"] == sft["output_dir"], name
        assert cfg["chat_template"] == sft["chat_template"], name   # the prompt format of every stage
        assert cfg["beta"] == 0.1, name                               # SamS Table 2's beta
    dpo, kto = _raw(folder / "dpo.yaml"), _raw(folder / "kto.yaml")
    run_keys = {"output_dir", "run_name", "description", "hparams_source"}
    for base, sams in (("dpo", "dpo-sams"), ("kto", "kto-sams")):
        a, b = _raw(folder / f"{base}.yaml"), _raw(folder / f"{sams}.yaml")
        assert set(a) | {"sample_scheduler"} == set(b), (base, sams)
        for key in set(a) - run_keys:
            assert a[key] == b[key], (base, key)  # X and X+SamS differ only by the scheduler block
    # KTO and DPO rows share everything but the loss block (paired KTO: same pairs, batches and reference cache)
    loss_keys = {"loss", "label_smoothing", "desirable_weight", "undesirable_weight", "reference_point"}
    assert kto["loss"] == "kto_pair"
    for key in (set(dpo) | set(kto)) - run_keys - loss_keys:
        assert dpo.get(key) == kto.get(key), key


@pytest.mark.parametrize("setting", ["pythia-2.8b-hh", "pythia-2.8b-shp"])
@pytest.mark.parametrize("name", ["dpo", "dpo-sams", "kto", "kto-sams"])
def test_pythia_cells_train_until_test_accuracy_converges(setting, name):
    """SamS §5.2: "multi-epoch training until test accuracy converges": per-epoch accuracy on the whole test split,
    the epoch_stopping rule, the best epoch's weights kept; the config cites the section."""
    cfg = _raw(REPO / "training_configs" / setting / f"{name}.yaml")
    assert cfg["num_train_epochs"] > 1 and cfg["eval_strategy"] == "epoch" and cfg["save_strategy"] == "epoch"
    assert cfg["metric_for_best_model"] == "eval_rewards/accuracies" and cfg["greater_is_better"] is True
    assert cfg["load_best_model_at_end"] is True and "max_eval_samples" not in cfg
    assert cfg["epoch_stopping"] == {"patience": 2, "min_delta": 0.005, "split": "test"}
    source = " ".join(cfg["hparams_source"].split())
    assert "SamS paper §5.2: 'conducting multi-epoch training until test accuracy converges'" in source
    assert "1 epoch" not in source


def test_selective_dpo_cells_share_one_selection_and_differ_only_by_the_scheduler():
    """SamS Table 3: Selective DPO and Selective DPO + SamS (75%) train on the same selected pairs, easy to hard, with
    SamS's DPO settings of Table 1 (dpo-sams.yaml); the selection follows the released recipe."""
    folder = REPO / "training_configs" / "llama3-instruct"
    plain, sams, base = (_raw(folder / f"{n}.yaml") for n in ("selective-dpo", "selective-dpo-sams", "dpo-sams"))
    assert plain["data_selection"] == sams["data_selection"] and plain["dataset"] == sams["dataset"]
    assert plain["data_selection"] == {"source": base["dataset"], "source_split": "train", "seeds": [0, 1, 2],
                                       "evals_per_run": 5, "keep_fraction": 0.5,
                                       "work_dir": "outputs/llama3-instruct/selective-dpo-selection",
                                       "keep_reference_models": False}
    assert plain["dataset"] == plain["data_selection"]["work_dir"] + "/selected"
    assert plain["train_sampling_strategy"] == sams["train_sampling_strategy"] == "sequential"
    assert plain["eval_dataset"] == base["dataset"] and plain["eval_split"] == base["eval_split"]
    assert sams["sample_scheduler"] == {**base["sample_scheduler"], "select_ratio": 0.75}
    run_keys = {"output_dir", "run_name", "description", "hparams_source"}
    selection_keys = {"dataset", "eval_dataset", "train_sampling_strategy", "data_selection"}
    assert set(plain) | {"sample_scheduler"} == set(sams)
    for key in set(base) - run_keys - selection_keys - {"sample_scheduler"}:
        assert plain[key] == sams[key] == base[key], key


@pytest.mark.parametrize("name, key, value", [("dpo-sams-select25", "select_ratio", 0.25),
                                              ("dpo-sams-select75", "select_ratio", 0.75),
                                              ("dpo-sams-select100", "select_ratio", 1.0),
                                              ("dpo-sams-no-explore", "explore_weight", 0.0)])
def test_pythia_hh_ablations_change_one_scheduler_key(name, key, value):
    folder = REPO / "training_configs" / "pythia-2.8b-hh"
    base, cfg = _raw(folder / "dpo-sams.yaml"), _raw(folder / f"{name}.yaml")
    assert cfg["sample_scheduler"] == {**base["sample_scheduler"], key: value}
    run_keys = {"output_dir", "run_name", "description", "hparams_source", "sample_scheduler"}
    assert set(cfg) == set(base) and all(cfg[k] == base[k] for k in set(base) - run_keys)
