"""KTO through TRL's KTOTrainer from the pairwise config interface: `loss: kto` parses and validates like a
registered loss, unrunnable configs are short errors, tokenization matches TRL's own, and a tiny model learns."""

import json
from pathlib import Path

import pytest
from conftest import tiny_model_and_pairs
from test_trainer import MAX_LEN, _heldout_margin_accuracy

from prefopt.config import DataArguments, ModelArguments, PreferenceConfig, build_config, describe, parse_config
from prefopt.core.errors import InputError


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("kto")
    model_dir, data = tiny_model_and_pairs(root, 256, 64)
    return root, model_dir, data


def _raw(root, model_dir, data, **over):
    raw = {"model_name_or_path": str(model_dir), "dataset": str(data), "loss": "kto", "max_length": MAX_LEN,
           "max_prompt_length": 12, "output_dir": str(root / "run-kto"), "per_device_train_batch_size": 16,
           "per_device_eval_batch_size": 32, "learning_rate": 3e-3, "max_steps": 40, "logging_steps": 10,
           "save_strategy": "no", "report_to": "none", "use_cpu": True, "seed": 0, "resume": "never",
           "disable_tqdm": True}
    raw.update(over)
    return raw


def test_kto_config_parses_and_validates(tmp_path):
    raw = {"model_name_or_path": "m", "dataset": "d", "output_dir": str(tmp_path), "loss": "kto", "beta": 0.05,
           "desirable_weight": 1.33, "report_to": "none", "use_cpu": True}
    _, _, args = build_config(raw, "<test>")
    assert args.loss == "kto"
    assert args.loss_hparams == {"beta": 0.05, "desirable_weight": 1.33}
    with pytest.raises(InputError, match="did you mean undesirable_weight"):
        build_config({**raw, "undesirable_weigth": 1.0}, "<test>")
    with pytest.raises(InputError, match="hyperparameter of loss 'simpo', not of 'kto'"):
        build_config({**raw, "gamma_beta_ratio": 0.5}, "<test>")
    with pytest.raises(InputError, match="loss_type must be one of"):
        build_config({**raw, "loss_type": "sigmoid"}, "<test>")
    with pytest.raises(InputError, match="'desirable_weight' must be float"):
        build_config({**raw, "desirable_weight": "high"}, "<test>")
    text = describe([ModelArguments, DataArguments, PreferenceConfig])
    assert "[loss: kto]" in text and "undesirable_weight = 1.0" in text


def test_tiny_kto_config_parses():
    path = Path(__file__).resolve().parents[1] / "training_configs" / "tiny" / "kto.yaml"
    _, _, args = parse_config([str(path), "--output_dir=/tmp/prefopt-test-kto"])
    assert args.loss == "kto"


def test_batch_size_one_is_an_input_error(setup):
    from prefopt.training.dispatch import train_from_config

    root, model_dir, data = setup
    with pytest.raises(InputError, match="per_device_train_batch_size >= 2") as e:
        train_from_config(*build_config(_raw(root, model_dir, data, per_device_train_batch_size=1), "<test>"))
    assert "apo_zero_unpaired" in str(e.value)
    assert not (root / "run-kto" / "manifest.json").exists()  # failed before anything was started


def test_tokenization_matches_trl(setup):
    """prefopt's pre-tokenized rows are what TRL's conversational path would build (one BOS, same split)."""
    from transformers import AutoTokenizer
    from trl.data_utils import _tokenize

    from prefopt.data import load_pairs, tokenize_pairs
    from prefopt.training.kto import unpair

    _, model_dir, data = setup
    tok = AutoTokenizer.from_pretrained(model_dir)
    pairs = load_pairs(str(data), split="test")
    rows, _ = tokenize_pairs(pairs, tok, max_length=MAX_LEN, max_prompt_length=12)
    for pair, row in zip(pairs[:8], rows[:8]):
        for completion, ids in ((pair.chosen, row["chosen_ids"]), (pair.rejected, row["rejected_ids"])):
            trl_prompt = _tokenize(tok, pair.prompt, add_generation_prompt=True)["input_ids"]
            trl_full = _tokenize(tok, pair.prompt + completion)["input_ids"]
            assert trl_full == row["prompt_ids"] + ids and trl_full[:len(trl_prompt)] == row["prompt_ids"]
            assert trl_full.count(tok.bos_token_id) == 1
    examples = unpair(rows, seed=0)
    assert len(examples) == 2 * len(rows) and sum(e["label"] for e in examples) == len(rows)
    assert len({tuple(e["label"] for e in examples[i:i + 16]) for i in range(0, 64, 16)}) > 1  # labels mixed


def test_kto_learns_and_writes_run_files(setup):
    from prefopt.training.dispatch import train_from_config

    root, model_dir, data = setup
    before = _heldout_margin_accuracy(model_dir, data)
    metrics = train_from_config(*build_config(_raw(root, model_dir, data, beta=0.5), "<test>"))
    out = root / "run-kto"
    after = _heldout_margin_accuracy(out, data)
    assert after > before + 0.2, (before, after)
    assert metrics["eval_rewards/margins"] > 0 and "eval_kl" in metrics
    assert json.loads((out / "metrics.json").read_text()) == json.loads(json.dumps(metrics))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["config"]["loss"] == "kto"
    assert manifest["config"]["loss_hparams"] == {"beta": 0.5}
    assert manifest["trainer"]["class"] == "trl.KTOTrainer" and manifest["trainer"]["examples"]["train"] == 512
    assert manifest["data"]["train"]["kept"] == 256


def test_run_po_script_trains_kto_through_trl(setup):
    """`make <setting>-kto` runs scripts/run_po.py on a `loss: kto` config. The script called the pairwise runner
    directly, which stopped every KTO cell with "KeyError: unknown loss 'kto'"; it must dispatch to TRL's trainer."""
    import runpy

    root, model_dir, data = setup
    cfg = root / "kto-script.yaml"
    cfg.write_text(json.dumps(_raw(root, model_dir, data, max_steps=2, output_dir=str(root / "run-kto-script"))))
    script = runpy.run_path(str(Path(__file__).resolve().parents[1] / "scripts" / "run_po.py"))
    script["run"]([str(cfg)])
    manifest = json.loads((root / "run-kto-script" / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["trainer"]["class"] == "trl.KTOTrainer"


def test_resume_continues_trls_token_count(setup):
    """TRL logs `num_tokens`, a running count of the training tokens, from a counter it never checkpoints: a KTO
    cell resumed under ZeRO-3 in the rehearsal logged the same losses but a count restarted from zero. The count
    is now saved with the checkpoint (ExtraStateMixin) and a resumed run logs what the uninterrupted one did."""
    import shutil

    from prefopt.training.dispatch import train_from_config

    root, model_dir, data = setup
    full, resumed = root / "kto-full", root / "kto-resumed"
    raw = _raw(root, model_dir, data, max_steps=4, logging_steps=1, save_strategy="steps", save_steps=1,
               per_device_train_batch_size=4, eval_split=None, resume="auto")
    train_from_config(*build_config(dict(raw, output_dir=str(full)), "<test>"))
    resumed.mkdir()
    shutil.copytree(full / "checkpoint-2", resumed / "checkpoint-2")
    train_from_config(*build_config(dict(raw, output_dir=str(resumed)), "<test>"))

    def steps(out):
        rows = json.loads((out / "log_history.json").read_text())["log_history"]
        return [(r["loss"], r["num_tokens"]) for r in rows if "loss" in r]

    a = steps(full)
    assert len(a) == 4 and a[0][1] < a[1][1] < a[2][1] < a[3][1]
    assert steps(resumed) == a
