"""``fitscope sweep``: the lines it prints, its CSV, the stability limit, bad ranges."""

import csv
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from fitscope.engine.cli import main
from fitscope.engine.data import load
from fitscope.engine.experiment import Experiment
from fitscope.engine.sweep import SWEEP_HEADER, Sweep, log_rates

ROOT = Path(__file__).resolve().parents[1]
FULL_BATCH_DT = ("--data", "download-time", "--loss", "mse", "--batch-size", "20")


def _run(capsys, *args):
    code = main(["sweep", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def _assert_one_error_line(err):
    assert err.startswith("error: ") and err.endswith("\n") and err.count("\n") == 1
    assert "Traceback" not in err


def test_full_batch_download_time_prints_the_limit_and_a_line_per_rate(capsys, tmp_path):
    path = tmp_path / "sweep.csv"
    code, out, err = _run(capsys, *FULL_BATCH_DT, "--lr-min", 0.001, "--lr-max", 1, "--num", 20, "--csv", path)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[1].startswith("stability limit 2/λmax = 0.04637") and "full-batch gradient descent" in lines[1]
    rate_lines = [line for line in lines if line.startswith("lr ")]
    assert len(rate_lines) == 20
    ds = load("download-time")
    sweep = Sweep(Experiment(ds, replace(ds.defaults, loss="mse", batch_size=20)), log_rates(0.001, 1, 20))
    sweep.run_all()
    assert rate_lines == [sweep.line(r) for r in sweep.results]
    stable, first = sweep.threshold()
    assert stable < sweep.limit < first
    assert f"from {first:.4g}, the largest that did not: {stable:.4g}" in lines[-1]

    rows = _rows(path)
    assert tuple(rows[0]) == SWEEP_HEADER == ("learning_rate", "final_loss", "val_loss", "diverged")
    assert len(rows) == 21
    assert [float(r[0]) for r in rows[1:]] == list(sweep.rates)  # ascending, written in full
    for row, result in zip(rows[1:], sweep.results, strict=True):
        assert row[2] == "" and row[3] in ("0", "1") and (row[3] == "1") == result.diverged
        if result.stopped:
            assert row[1] == "nan"
        else:
            assert float(row[1]) == result.final_loss


def test_a_rate_of_the_sweep_is_what_fit_prints(capsys, tmp_path):
    path = tmp_path / "s.csv"
    assert _run(capsys, "--data", "boston-housing", "--epochs", 5, "--num", 20, "--csv", path, "--quiet")[0] == 0
    row = _rows(path)[7]
    assert row[2] != ""  # the book's validation split
    assert main(["fit", "--data", "boston-housing", "--epochs", "5", "--lr", row[0], "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"final training loss:   {float(row[1]):.6g}" in out
    assert f"final validation loss: {float(row[2]):.6g}" in out


def test_quiet_prints_the_limit_and_the_summary_only(capsys):
    code, out, _ = _run(capsys, "--data", "boston-housing", "--epochs", 2, "--num", 20, "--quiet")
    assert code == 0
    assert not any(line.startswith("lr ") for line in out.splitlines())
    assert "a reference" in out  # mini-batches: the full-batch limit is a reference
    assert "lowest final loss:" in out


def test_no_limit_for_an_mlp(capsys, tmp_path):
    path = tmp_path / "mlp.csv"
    code, out, _ = _run(capsys, "--data", "boston-housing", "--model", "mlp", "--hidden", 3, "--epochs", 2,
                        "--num", 20, "--csv", path)
    assert code == 0 and "stability limit" not in out
    assert all(r[2] != "" for r in _rows(path)[1:])


@pytest.mark.parametrize(
    "args",
    [
        ("--lr-min", 1, "--lr-max", 0.1),
        ("--lr-min", 0.1, "--lr-max", 0.1),
        ("--lr-min", 0, "--lr-max", 1),
        ("--lr-min", -0.01),
        ("--lr-min", "nan"),
        ("--lr-max", "inf"),
        ("--num", 19),
        ("--num", 61),
        ("--num", 30.5),
        ("--lr", 0.1),
        ("--lr-min", "abc"),
        ("--epochs", 0),
    ],
)
def test_a_bad_range_is_one_error_line_and_exit_2(capsys, tmp_path, args):
    path = tmp_path / "never.csv"
    code, out, err = _run(capsys, *args, "--csv", path)
    assert code == 2 and out == ""
    _assert_one_error_line(err)
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_an_unwritable_csv_is_one_error_line(capsys, tmp_path):
    code, _, err = _run(capsys, "--num", 20, "--epochs", 1, "--csv", tmp_path / "missing" / "s.csv")
    assert code == 2
    _assert_one_error_line(err)
    assert "does not exist" in err


def test_the_installed_command_runs_a_sweep(tmp_path):
    path = tmp_path / "cli.csv"
    done = subprocess.run([sys.executable, "-m", "fitscope", "sweep", *FULL_BATCH_DT, "--epochs", "50",
                           "--num", "20", "--lr-min", "0.01", "--lr-max", "0.1", "--csv", str(path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "stability limit 2/λmax = 0.04637" in done.stdout
    rows = _rows(path)
    assert len(rows) == 21 and all(math.isfinite(float(r[0])) for r in rows[1:])


def test_ctrl_c_keeps_the_rates_done_in_the_file(capsys, tmp_path, monkeypatch):
    from fitscope.engine import sweep as sweep_module

    original = sweep_module.Sweep.run

    def interrupted_at_the_fourth(self, *args, **kwargs):
        for index, result in enumerate(original(self, *args, **kwargs)):
            yield result
            if index == 2:
                raise KeyboardInterrupt  # as the fourth rate starts

    monkeypatch.setattr(sweep_module.Sweep, "run", interrupted_at_the_fourth)
    path = tmp_path / "part.csv"
    code, out, err = _run(capsys, *FULL_BATCH_DT, "--num", 20, "--csv", path)
    assert code == 130
    assert err == "interrupted after 3 of 20 rates (the file holds them)\n"
    assert len([line for line in out.splitlines() if line.startswith("lr ")]) == 3
    assert len(_rows(path)) == 4


def test_the_csv_is_never_written_over_the_data(capsys, tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("x,y\n" + "".join(f"{i},{3 * i + 1}\n" for i in range(10)))
    before = data.read_bytes()
    code, out, err = _run(capsys, "--data", data, "--num", 20, "--epochs", 2, "--csv", data)
    assert code == 2 and err.startswith("error:") and err.count("\n") == 1
    assert data.read_bytes() == before
