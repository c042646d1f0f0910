"""``fitscope fit``: exit codes, messages, the summary, the history and trace files, determinism."""

import csv
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fitscope.engine.cli import main
from fitscope.engine.data import load
from fitscope.engine.experiment import Experiment
from fitscope.engine.trainer import EpochReport, Phase, StepReport

ROOT = Path(__file__).resolve().parents[1]


def _run(capsys, *args):
    """``fitscope fit ARGS`` in-process: (exit status, stdout, stderr)."""
    code = main(["fit", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def _engine(data="download-time", **changes):
    """The same run through the engine directly: the experiment and all its reports."""
    dataset = load(data)
    exp = Experiment(dataset, replace(dataset.defaults, **changes))
    return exp, list(exp.trainer.run())


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def _assert_one_error_line(err):
    assert err.startswith("error: ")
    assert err.endswith("\n") and err.count("\n") == 1
    assert "Traceback" not in err


# --- success: progress and summary ---


def test_download_time_prints_one_line_per_epoch_then_the_summary(capsys):
    code, out, err = _run(capsys, "--epochs", 3)
    assert code == 0
    assert err == ""
    lines = out.splitlines()
    assert [line.split(" - ")[0] for line in lines[:3]] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    assert all("val_loss" not in line for line in lines)  # no validation split
    _, reports = _engine(epochs=3)
    last = [r for r in reports if isinstance(r, EpochReport)][-1]
    assert lines[2] == f"Epoch 3/3 - loss: {last.loss:.6g}"
    assert lines[3].split() == ["final", "training", "loss:", f"{last.loss:.6g}"]
    assert lines[4].startswith("test loss:")
    assert lines[5].startswith("baseline loss:") and "on the test set" in lines[5]
    assert len(lines) == 6


def test_boston_summary_has_validation_test_and_the_books_baseline(capsys):
    code, out, err = _run(capsys, "--data", "boston-housing", "--epochs", 5)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert len(lines) == 5 + 4
    assert all(" - val_loss: " in line for line in lines[:5])
    exp, reports = _engine("boston-housing", epochs=5)
    last = [r for r in reports if isinstance(r, EpochReport)][-1]
    summary = dict(line.split(":", 1) for line in lines[5:])
    assert summary["final training loss"].strip() == f"{last.loss:.6g}"
    assert summary["final validation loss"].strip() == f"{last.val_loss:.6g}"
    assert summary["test loss"].strip() == f"{exp.test_loss():.6g}"
    assert summary["baseline loss"].split()[0] == "85.5829"  # the book: 85.58
    assert "22.7688" in summary["baseline loss"] and "on the test set" in summary["baseline loss"]


def test_quiet_prints_the_summary_only(capsys):
    code, out, _ = _run(capsys, "--data", "boston-housing", "--epochs", 4, "--quiet")
    assert code == 0
    assert "Epoch" not in out
    assert [line.split(":")[0] for line in out.splitlines()] == [
        "final training loss", "final validation loss", "test loss", "baseline loss"
    ]


def test_zero_epochs_says_so(capsys):
    code, out, _ = _run(capsys, "--epochs", 0)
    assert code == 0
    assert out.splitlines()[0].endswith("n/a (no epoch was run)")


def test_user_csv_baseline_is_on_the_training_rows_and_constant_columns_are_noticed(capsys, tmp_path):
    path = tmp_path / "points.csv"
    rows = [(x, 1.0, 2 * x + 1) for x in range(10)]
    path.write_text("x,c,y\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")
    code, out, err = _run(capsys, "--data", path, "--epochs", 2, "--quiet")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith("note: constant column(s) c")
    assert not any(line.startswith("test loss") for line in lines)
    y = np.array([r[2] for r in rows])
    baseline = float(np.mean((y - y.mean()) ** 2))
    assert lines[-1].split()[2] == f"{baseline:.6g}"
    assert lines[-1].endswith("on the training rows)")


def test_help_exits_0(capsys):
    assert main(["fit", "--help"]) == 0
    assert "--validation-split" in capsys.readouterr().out


# --- the history and trace files ---


def test_history_has_one_row_per_epoch_with_an_empty_val_loss_without_a_split(capsys, tmp_path):
    history = tmp_path / "h.csv"
    assert _run(capsys, "--epochs", 7, "--history", history)[0] == 0
    rows = _rows(history)
    _, reports = _engine(epochs=7)
    epochs = [r for r in reports if isinstance(r, EpochReport)]
    assert rows[0] == ["epoch", "loss", "val_loss"]
    assert len(rows) == 1 + 7
    assert [(int(e), float(loss), v) for e, loss, v in rows[1:]] == [(r.epoch, r.loss, "") for r in epochs]


def test_history_val_loss_round_trips_exactly(capsys, tmp_path):
    history = tmp_path / "h.csv"
    assert _run(capsys, "--data", "boston-housing", "--epochs", 3, "--history", history, "--quiet")[0] == 0
    _, reports = _engine("boston-housing", epochs=3)
    epochs = [r for r in reports if isinstance(r, EpochReport)]
    assert [(float(loss), float(v)) for _, loss, v in _rows(history)[1:]] == [
        (r.loss, r.val_loss) for r in epochs
    ]


@pytest.mark.parametrize(
    ("data", "args", "changes"),
    [
        ("download-time", [], {}),
        ("download-time", ["--no-shuffle", "--batch-size", 7], {"shuffle": False, "batch_size": 7}),
        ("download-time", ["--optimizer", "adam"], {"optimizer": "adam", "learning_rate": 0.001}),
        ("download-time", ["--optimizer", "momentum", "--momentum", "0.5", "--lr", "0.002"],
         {"optimizer": "momentum", "momentum": 0.5, "learning_rate": 0.002}),
        ("download-time", ["--normalize", "--validation-split", "0.25"], {"normalize": True, "validation_split": 0.25}),
        ("download-time", ["--init", "0.5,-0.25", "--loss", "mse"], {"init": (0.5, -0.25), "loss": "mse"}),
        ("boston-housing", [], {}),
        ("boston-housing", ["--model", "mlp", "--hidden", "3,2", "--activation", "tanh", "--seed", 5],
         {"model": "mlp", "hidden": (3, 2), "activation": "tanh", "seed": 5}),
    ],
)
def test_trace_reproduces_the_engine_run_bit_for_bit(capsys, tmp_path, data, args, changes):
    trace = tmp_path / "trace.csv"
    code, _, _ = _run(capsys, "--data", data, "--epochs", 3, "--trace", trace, *args)
    assert code == 0
    exp, reports = _engine(data, epochs=3, **changes)
    updates = [r for r in reports if isinstance(r, StepReport) and r.phase == Phase.UPDATE]
    rows = _rows(trace)
    assert rows[0] == ["step", "epoch", "batch", "loss", *exp.param_names]
    assert len(rows) == 1 + len(updates) + 1  # header, row 0, one row per step
    assert rows[1][:4] == ["0", "0", "", ""]
    assert [float(v) for v in rows[1][4:]] == updates[0].params_before.tolist()
    for row, r in zip(rows[2:], updates, strict=True):
        assert [int(row[0]), int(row[1]), int(row[2])] == [r.step, r.epoch, r.batch]
        assert float(row[3]) == r.loss
        assert [float(v) for v in row[4:]] == r.params_after.tolist()


@pytest.mark.parametrize(
    ("args", "names"),
    [
        ([], ["kernel", "bias"]),
        (["--data", "boston-housing", "--features", "rm,lstat"], ["kernel_rm", "kernel_lstat", "bias"]),
        (["--model", "mlp", "--hidden", "2"], ["p0", "p1", "p2", "p3", "p4", "p5", "p6"]),
    ],
)
def test_trace_columns_are_named_after_the_parameters(capsys, tmp_path, args, names):
    trace = tmp_path / "trace.csv"
    assert _run(capsys, *args, "--epochs", 1, "--trace", trace)[0] == 0
    assert _rows(trace)[0] == ["step", "epoch", "batch", "loss", *names]


def test_init_sets_the_first_trace_row(capsys, tmp_path):
    trace = tmp_path / "trace.csv"
    assert _run(capsys, "--init", "0.1,2e-3", "--epochs", 1, "--trace", trace)[0] == 0
    assert _rows(trace)[1] == ["0", "0", "", "", "0.1", "0.002"]


def test_same_seed_gives_identical_files_and_another_seed_does_not(capsys, tmp_path):
    def files(name, seed):
        trace, history = tmp_path / f"{name}.trace.csv", tmp_path / f"{name}.history.csv"
        args = ["--data", "boston-housing", "--epochs", 4, "--seed", seed, "--quiet"]
        assert _run(capsys, *args, "--trace", trace, "--history", history)[0] == 0
        return trace.read_bytes(), history.read_bytes()

    assert files("a", 3) == files("b", 3)
    assert files("c", 4)[0] != files("a", 3)[0]


def test_files_are_replaced_and_no_temporary_file_is_left(capsys, tmp_path):
    history = tmp_path / "h.csv"
    history.write_text("old\n")
    assert _run(capsys, "--epochs", 2, "--history", history)[0] == 0
    assert history.read_text().splitlines()[0] == "epoch,loss,val_loss"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.csv"]


# --- bad input: exit 2, one line ---


@pytest.mark.parametrize(
    "args",
    [
        ["--lr", "fast"],
        ["--model", "cnn"],
        ["--bogus"],
        ["--epochs", "1.5"],
        ["--data", "no-such-data-set"],
        ["--data", "boston-housing", "--target", "crim"],
        ["--data", "boston-housing", "--features", "rm,nope"],
        ["--data", "boston-housing", "--features", "rm,,lstat"],
        ["--model", "mlp", "--hidden", "50,x"],
        ["--model", "mlp", "--hidden", "50,0"],
        ["--init", "1"],
        ["--init", "1,b"],
        ["--init", "1,2", "--model", "mlp"],
        ["--init", "1,2", "--data", "boston-housing"],
        ["--validation-split", "1"],
        ["--batch-size", "0"],
        ["--lr", "-0.1"],
        ["--lr", "nan"],
        ["--epochs", "-1"],
        ["--seed", "-1"],
        ["--history", "{tmp}/missing/h.csv"],
        ["--trace", "{tmp}"],
    ],
)
def test_bad_input_exits_2_with_one_error_line(capsys, tmp_path, args):
    args = [a.format(tmp=tmp_path) for a in args]
    code, out, err = _run(capsys, *args)
    assert code == 2
    assert out == ""
    _assert_one_error_line(err)
    assert list(tmp_path.iterdir()) == []


def test_no_command_is_a_usage_error(capsys):
    assert main([]) == 2
    _assert_one_error_line(capsys.readouterr().err)


def test_bad_file_names_the_problem(capsys, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("x,y\n1,2\n3,oops\n")
    code, _, err = _run(capsys, "--data", path)
    assert code == 2
    _assert_one_error_line(err)
    assert "bad.csv" in err and "line 3" in err and "oops" in err


def test_a_failed_run_leaves_existing_files_alone(capsys, tmp_path):
    history = tmp_path / "h.csv"
    history.write_text("precious\n")
    code, _, _ = _run(capsys, "--history", history, "--trace", tmp_path / "missing" / "t.csv")
    assert code == 2
    assert history.read_text() == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.csv"]


# --- divergence: exit 3, files up to that point ---


@pytest.mark.parametrize(
    ("args", "data", "changes"),
    [
        (["--data", "boston-housing", "--no-normalize"], "boston-housing", {"normalize": False}),
        (["--loss", "mse", "--lr", "10"], "download-time", {"loss": "mse", "learning_rate": 10.0}),
    ],
)
def test_divergence_exits_3_and_keeps_the_files_up_to_that_step(capsys, tmp_path, args, data, changes):
    history, trace = tmp_path / "h.csv", tmp_path / "t.csv"
    code, out, err = _run(capsys, *args, "--history", history, "--trace", trace)
    assert code == 3
    assert "Traceback" not in err and err.count("\n") == 1
    assert "diverged at step" in err and "smaller learning rate" in err
    _, reports = _engine(data, **changes)
    diverged = reports[-1]
    assert err.strip() == diverged.message
    assert len(_rows(trace)) == 1 + diverged.step  # header, row 0, steps 1 … step − 1
    assert [float(v) for v in _rows(trace)[-1][4:]] == diverged.params.tolist()
    assert len(_rows(history)) == 1 + diverged.epoch - 1
    assert out.count("Epoch ") == diverged.epoch - 1
    assert "final training loss" not in out


# --- Ctrl-C: exit 130 ---


def test_ctrl_c_exits_130_with_one_line_and_the_files_so_far(capsys, tmp_path, monkeypatch):
    from fitscope.engine.trainer import Trainer

    real_run = Trainer.run

    def interrupted_in_epoch_3(self):
        for report in real_run(self):
            if report.kind == "epoch" and report.epoch == 3:
                raise KeyboardInterrupt
            yield report

    monkeypatch.setattr(Trainer, "run", interrupted_in_epoch_3)
    history = tmp_path / "h.csv"
    code, _, err = _run(capsys, "--epochs", 10, "--history", history)
    assert code == 130
    assert err.startswith("interrupted") and err.count("\n") == 1 and "Traceback" not in err
    assert len(_rows(history)) == 1 + 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.csv"]


# --- a real process ---


def test_a_real_process_reports_errors_and_divergence_without_a_traceback(tmp_path):
    def fitscope_fit(*args):
        return subprocess.run(
            [sys.executable, "-m", "fitscope", "fit", *args],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )

    bad = fitscope_fit("--data", str(tmp_path / "missing.csv"))
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: missing.csv: no such file") and bad.stderr.count("\n") == 1
    diverged = fitscope_fit("--loss", "mse", "--lr", "10", "--quiet")
    assert diverged.returncode == 3
    assert diverged.stderr.startswith("Training diverged at step") and diverged.stderr.count("\n") == 1
    assert "Traceback" not in bad.stderr + diverged.stderr


def test_shuffle_data_can_be_turned_off(tmp_path):
    on, off = tmp_path / "on.csv", tmp_path / "off.csv"
    common = ["fit", "--data", "boston-housing", "--epochs", "1", "--quiet"]
    assert main([*common, "--history", str(on)]) == 0
    assert main([*common, "--no-shuffle-data", "--history", str(off)]) == 0
    assert on.read_text() != off.read_text()


@pytest.mark.parametrize(
    ("extra", "option"),
    [
        (["--hidden", "50"], "--hidden"),
        (["--activation", "relu"], "--activation"),
        (["--momentum", "0.5"], "--momentum"),
    ],
)
def test_options_that_would_be_ignored_are_refused(capsys, extra, option):
    assert main(["fit", "--epochs", "1", *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {option} applies to") and err.count("\n") == 1


def test_usage_errors_point_to_the_fit_help(capsys):
    assert main(["fit", "--bogus"]) == 2
    assert "see 'fitscope fit --help'" in capsys.readouterr().err
