"""Config parsing: every key typed and owned by one dataclass; unknown or misspelled keys are errors."""

from pathlib import Path

import pytest

from prefopt.config import ModelArguments, PreferenceConfig, describe, get_method, load_raw, parse_config
from prefopt.core.errors import InputError
from prefopt.training.dispatch import config_class

BASE = """
model_name_or_path: some/model
dataset: some/data
loss: simpo
beta: 2.5
gamma_beta_ratio: 0.5
learning_rate: 5e-7
max_steps: 10
output_dir: {out}
use_cpu: true
report_to: none
"""


@pytest.fixture
def cfg_file(tmp_path):
    path = tmp_path / "cell.yaml"
    path.write_text(BASE.format(out=tmp_path / "out"))
    return path


def test_parses_groups_and_loss_hparams(cfg_file):
    model, data, train = parse_config([str(cfg_file), "--sft_weight=0.1", "--per_device_train_batch_size=4"])
    assert model.model_name_or_path == "some/model" and data.dataset == "some/data"
    assert train.loss == "simpo"
    assert train.loss_hparams == {"beta": 2.5, "gamma_beta_ratio": 0.5, "sft_weight": 0.1}
    assert train.learning_rate == 5e-7  # YAML reads "5e-7" as a string: coerced by the field's type
    assert train.per_device_train_batch_size == 4


def test_overrides_read_no_and_off_as_words(cfg_file):
    """`--eval_strategy=no` on the command line used to reach TrainingArguments as the boolean False (YAML 1.1 reads
    no/yes/on/off as booleans): "False is not a valid IntervalStrategy". Only true/false are booleans (YAML 1.2)."""
    _, _, train = parse_config([str(cfg_file), "--eval_strategy=no", "--save_strategy=no", "--use_cpu=true"])
    assert (train.eval_strategy, train.save_strategy, train.use_cpu) == ("no", "no", True)
    _, _, train = parse_config([str(cfg_file), "--use_cpu=False", "--run_name=off"])
    assert train.use_cpu is False and train.run_name == "off"


@pytest.mark.parametrize(
    "override, needle",
    [
        ("--learnin_rate=1e-5", "did you mean learning_rate"),
        ("--beta=abc", "'beta' must be float"),
        ("--max_steps=ten", "'max_steps' must be int"),
        ("--beta=-1", "beta must be > 0"),
        ("--loss=nope", "unknown loss 'nope'"),
        ("--loss_type=squared", "loss_type must be"),
        ("--truncation_mode=middle", "truncation_mode must be"),
        ("beta=2", "--key=value"),
    ],
)
def test_bad_config_is_a_short_error(cfg_file, override, needle):
    with pytest.raises(InputError) as e:
        parse_config([str(cfg_file), override])
    assert needle in str(e.value)
    assert len(str(e.value).splitlines()) <= 3


def test_hparam_of_another_loss_names_it(cfg_file):
    # the file sets gamma_beta_ratio, a SimPO key; switching the loss to DPO must say so, not "unknown key"
    with pytest.raises(InputError, match="hyperparameter of loss 'simpo', not of 'dpo'"):
        parse_config([str(cfg_file), "--loss=dpo"])


def test_missing_file_and_missing_model(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        parse_config([str(tmp_path / "nope.yaml")])
    path = tmp_path / "c.yaml"
    path.write_text("dataset: x\noutput_dir: o\n")
    with pytest.raises(InputError, match="model_name_or_path is not set"):
        parse_config([str(path)])


def test_every_field_has_help():
    text = describe([ModelArguments, PreferenceConfig])
    assert "(required)" not in text
    assert "[loss: simpo]" in text and "gamma_beta_ratio = 0.25" in text
    import dataclasses

    from prefopt.config import DataArguments, RunArguments

    for cls in (ModelArguments, DataArguments, RunArguments):
        for f in dataclasses.fields(cls):
            assert f.metadata.get("help"), f"{cls.__name__}.{f.name} has no help text"


TINY_CONFIGS = sorted((Path(__file__).resolve().parents[1] / "training_configs" / "tiny").glob("*.yaml"))


def test_the_tiny_configs_are_there():
    assert len(TINY_CONFIGS) >= 20, [p.name for p in TINY_CONFIGS]


@pytest.mark.parametrize("path", TINY_CONFIGS, ids=lambda p: p.stem)
def test_every_tiny_config_parses(path):
    raw, _ = load_raw([str(path)])
    model, data, args = parse_config([str(path), "--output_dir=/tmp/prefopt-test-cfg"], config_class(raw))
    assert type(args) is config_class(raw)
    assert model.model_name_or_path == raw["model_name_or_path"] and data.dataset == raw["dataset"]
    assert args.output_dir == "/tmp/prefopt-test-cfg"
    if "loss" in raw:  # every hyperparameter the YAML sets reaches the loss with its YAML value
        hparams = {k: v for k, v in raw.items() if k in get_method(raw["loss"]).hparam_names()}
        assert args.loss == raw["loss"]
        assert {k: args.loss_hparams[k] for k in hparams} == pytest.approx(hparams)
