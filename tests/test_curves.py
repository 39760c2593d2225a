"""Training curves (prefopt.training.curves): what is read, which panels are drawn, and the errors for a wrong folder."""

from __future__ import annotations

import json

import pytest
from conftest import make_dry_run

from prefopt.core.errors import InputError
from prefopt.training.curves import CURVES_FILE, main, panels_for, plot_runs, read_history, series

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _history(steps, acc_slope=0.1, sams=False, eval_every=None):
    rows = []
    for s in steps:
        row = {"step": s, "loss": 0.7 - 0.01 * s, "rewards/accuracies": min(1.0, 0.5 + acc_slope * s),
               "rewards/margins": 0.02 * s, "rewards/chosen": 0.01 * s, "rewards/rejected": -0.01 * s,
               "learning_rate": 1e-5, "grad_norm": 1.0 / s}
        if sams:
            row.update({"loss_all_pairs": 0.72 - 0.01 * s, "sams/pred_mse": 0.1 / s})
        rows.append(row)
        if eval_every and s % eval_every == 0:
            rows.append({"step": s, "eval_loss": 0.69 - 0.01 * s, "eval_rewards/accuracies": 0.6})
    rows.append({"step": steps[-1], "train_loss": 0.5, "train_runtime": 3.0})  # the Trainer's summary row
    return rows


def _finished(path, history):
    path.mkdir(parents=True)
    (path / "log_history.json").write_text(json.dumps({"log_history": history}))
    return path


def test_series_skips_rows_without_the_key_and_non_finite_values():
    history = [{"step": 1, "loss": 0.5}, {"step": 2, "eval_loss": 0.4}, {"step": 3, "loss": float("nan")},
               {"step": 4, "loss": 0.3}]
    assert series(history, "loss") == ([1, 4], [0.5, 0.3])
    assert series(history, "eval_loss") == ([2], [0.4])


def test_one_run_panels_and_png(tmp_path):
    run = _finished(tmp_path / "dpo", _history([5, 10, 15], eval_every=10))
    panels = plot_runs([run], run / CURVES_FILE)
    titles = [t for t, _ in panels]
    assert titles == ["loss", "reward accuracy", "reward margin", "rewards: chosen / rejected", "gradient norm",
                      "learning rate"]
    assert dict(panels)["loss"] == ["loss", "eval_loss"]
    assert (run / CURVES_FILE).read_bytes().startswith(PNG_MAGIC)


def test_scheduler_panels_only_when_a_run_has_a_scheduler(tmp_path):
    plain = _finished(tmp_path / "a" / "dpo", _history([5, 10]))
    sams = _finished(tmp_path / "b" / "dpo", _history([5, 10], sams=True))
    histories = {"plain": read_history(plain), "sams": read_history(sams)}
    titles = [t for t, _ in panels_for(histories)]
    assert "SamS: scheduler prediction MSE" in titles and "SamS: loss of all vs selected pairs" in titles
    assert not any(t.startswith("SamS") for t, _ in panels_for({"plain": histories["plain"]}))


def test_a_run_in_progress_is_read_from_its_newest_checkpoint(tmp_path):
    run = tmp_path / "simpo"
    for step in (2, 10):  # numeric order, not lexical (checkpoint-10 > checkpoint-2)
        ckpt = run / f"checkpoint-{step}"
        ckpt.mkdir(parents=True)
        (ckpt / "trainer_state.json").write_text(json.dumps({"log_history": _history(list(range(1, step + 1)))}))
    assert max(r["step"] for r in read_history(run)) == 10


def test_cli_compares_runs_and_names_them(tmp_path, capsys):
    a = _finished(tmp_path / "seed0" / "dpo", _history([5, 10]))
    b = _finished(tmp_path / "seed1" / "dpo", _history([5, 10], acc_slope=0.05))
    out = tmp_path / "compare.png"
    assert main([str(a), str(b), "--out", str(out)]) == 0
    assert out.read_bytes().startswith(PNG_MAGIC)
    assert "6 panels" in capsys.readouterr().out


def test_cli_errors_name_the_folder_and_the_fix(tmp_path, capsys):
    assert main([str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "nowhere" in err and "no log_history.json" in err and "fix:" in err
    empty = _finished(tmp_path / "short", [{"step": 1, "train_loss": 0.5}])
    with pytest.raises(InputError, match="nothing to plot"):
        plot_runs([empty], tmp_path / "x.png")


def test_make_curves_target():
    out = make_dry_run("curves", "RUNS=outputs/a outputs/b", "OUT=c.png")
    assert "-m prefopt.training.curves outputs/a outputs/b --out c.png" in out
