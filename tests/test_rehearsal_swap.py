"""The model side of a rehearsal: PREFOPT_MODEL_MINIATURES swaps a hub model id for its offline miniature at the
one point every load goes through (prefopt.modeling.loading.resolve), manifests record it, results of a
rehearsal-trained model inherit it, and `make verify` lists such results without ever comparing them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prefopt.config import ModelArguments
from prefopt.core.errors import InputError
from prefopt.core.manifest import build_manifest
from prefopt.core.rehearsal import MIRROR_ENV, MODELS_ENV, is_rehearsal, lineage, swap_model
from prefopt.modeling.loading import load_model, load_tokenizer, resolve
from prefopt.toy.rehearse.runner import free_port

MISTRAL = "mistralai/Mistral-7B-v0.1"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("miniatures")


@pytest.fixture
def rehearsing(cache, monkeypatch):
    monkeypatch.setenv(MODELS_ENV, str(cache))
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    return cache


def test_a_hub_id_loads_its_miniature_while_rehearsing(rehearsing):
    folder = Path(resolve(MISTRAL))
    assert folder.is_dir() and rehearsing in folder.parents and (folder / "config.json").is_file()
    args = ModelArguments(model_name_or_path=MISTRAL, torch_dtype="float32")
    model, tok = load_model(MISTRAL, args), load_tokenizer(args, require_chat_template=False)
    # the real class, vocabulary and special ids, shrunk width
    assert type(model).__name__ == "MistralForCausalLM" and model.config.vocab_size == 32000
    assert model.config.hidden_size == 64 and (tok.bos_token_id, tok.eos_token_id) == (1, 2)


def test_local_folders_and_schemes_are_never_swapped(rehearsing, tmp_path):
    local = tmp_path / "org" / "model"
    local.mkdir(parents=True)
    assert swap_model(str(local)) == str(local)
    assert swap_model("outputs/x/y") == "outputs/x/y"  # a relative path (two slashes) is a folder, not an id
    assert swap_model("gpt2") == "gpt2"  # no org: not an id a config names; left to the loader


def test_a_hub_id_without_a_miniature_is_an_error_not_a_download(rehearsing):
    with pytest.raises(InputError) as err:
        resolve("princeton-nlp/Llama-3-Instruct-8B-SimPO")
    text = str(err.value)
    assert MODELS_ENV in text and "no miniature" in text and "unset" in text and "MINIATURES" in text


def test_without_the_variable_ids_pass_unchanged(monkeypatch):
    monkeypatch.delenv(MODELS_ENV, raising=False)
    assert resolve(MISTRAL) == MISTRAL


def test_manifests_record_the_swap(rehearsing):
    record = build_manifest("preference", config={})["model_miniatures"]
    assert record["rehearsal"] is True and record["folder"] == str(rehearsing.resolve())
    assert is_rehearsal({"model_miniatures": record}) and not is_rehearsal({"kind": "preference"})


def test_results_of_a_rehearsal_trained_model_are_rehearsal_results(tmp_path, monkeypatch):
    monkeypatch.delenv(MODELS_ENV, raising=False)
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    trained = tmp_path / "run"
    trained.mkdir()
    (trained / "manifest.json").write_text(json.dumps({"model_miniatures": {"folder": "/x", "rehearsal": True}}))
    manifest = build_manifest("alpacaeval2", model=str(trained))  # evaluated without the variables set
    assert is_rehearsal(manifest) and manifest["model_lineage"]["model_miniatures"]["folder"] == "/x"
    (trained / "manifest.json").write_text(json.dumps({"kind": "preference"}))
    assert lineage(str(trained)) == {} and not is_rehearsal(build_manifest("alpacaeval2", model=str(trained)))


def test_verify_lists_rehearsal_results_and_never_compares_them(tmp_path):
    from prefopt.reproduce.verify import run

    root = tmp_path / "reproduced"
    for run_name, manifest in (("llama3-instruct-simpo", {"model_miniatures": {"rehearsal": True}}),
                               ("mistral-base-simpo", {"model_lineage": {"rehearsal": True}})):
        path = root / run_name / "alpacaeval2.json"
        path.parent.mkdir(parents=True)
        # far outside the papers' numbers: compared, they would fail verify
        path.write_text(json.dumps({"cell": run_name, "benchmark": "alpacaeval2",
                                    "metrics": {"lc_win_rate": 0.5, "win_rate": 0.5}, "manifest": manifest}))
    report = tmp_path / "report.md"
    code, text = run(root, report, None)
    assert code == 0 and "0 numbers compared" in text and "0 of" in text
    listed = text.split("Rehearsal results (never compared with the papers): ")[1].splitlines()[0]
    assert "llama3-instruct-simpo alpacaeval2 (cell llama3-instruct-simpo)" in listed
    assert "mistral-base-simpo alpacaeval2" in listed
    assert "Not paper cells" not in text
    md = report.read_text()
    assert "## Rehearsal results (never compared with the papers)" in md
    assert "- mistral-base-simpo alpacaeval2 (cell mistral-base-simpo)" in md


# ---- building a model folder inside a distributed run ------------------------------------------------------------
BUILD_ON_RANK_1 = r"""
import os, sys, torch.distributed as dist
dist.init_process_group("gloo", rank=int(sys.argv[1]), world_size=2, init_method="tcp://127.0.0.1:" + sys.argv[2])
if dist.get_rank() == 1:  # a rank other than 0 builds first, as happens when rank 1 wins the race
    from prefopt.modeling.loading import resolve
    print(sorted(os.listdir(resolve(sys.argv[3]))))
dist.barrier()
dist.destroy_process_group()
"""


@pytest.mark.slow
@pytest.mark.parametrize("name", [MISTRAL, "tiny:1m/text"])
def test_a_model_built_on_a_nonzero_rank_has_its_weights(tmp_path, name):
    """transformers' save_pretrained writes only on global rank 0 once torch.distributed is initialized: a build on
    rank 1 used to publish a complete-looking folder with only the tokenizer ("Unrecognized model ... model_type")."""
    import os
    import subprocess
    import sys

    script = tmp_path / "build.py"
    script.write_text(BUILD_ON_RANK_1)
    port = str(free_port())
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PREFOPT_CACHE": str(tmp_path / "cache"),
           MODELS_ENV: str(tmp_path / "miniatures")}
    procs = [subprocess.Popen([sys.executable, str(script), str(r), port, name], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in (0, 1)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs[1][1][-3000:]
    files = outs[1][0].strip().splitlines()[-1]
    assert "'config.json'" in files and "'model.safetensors'" in files, files
