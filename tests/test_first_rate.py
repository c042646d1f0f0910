"""A one-feature CSV trains on the first try: its default learning rate comes from the data's curvature
(half of 2/λmax of the MSE's Hessian), whatever the scale of its numbers, in the engine, the CLI and the app."""

from __future__ import annotations

import numpy as np
import pytest

from fitscope.engine.cli import main as cli_main
from fitscope.engine.data import load_csv
from fitscope.engine.numbers import prose
from fitscope.engine.run import FitRun

SCALES = (1e-3, 1.0, 1e3, 1e6)


def write_csv(path, x, y):
    path.write_text("x,y\n" + "".join(f"{a!r},{b!r}\n" for a, b in zip(x.tolist(), y.tolist(), strict=True)))
    return path


def data(sx: float, sy: float, n: int = 30, offset: float = 0.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = (rng.uniform(0, 1, n) + offset) * sx
    y = (3 * x / sx + 1 + 0.3 * rng.normal(size=n)) * sy
    return x, y


def lambda_max(x: np.ndarray) -> float:
    z = np.column_stack([x, np.ones_like(x)])
    return float(np.linalg.eigvalsh(2 / len(x) * z.T @ z)[-1])


@pytest.mark.parametrize("sx", SCALES)
@pytest.mark.parametrize("sy", SCALES)
def test_the_default_run_converges_whatever_the_scale(tmp_path, sx, sy):
    x, y = data(sx, sy, offset=1.0)
    dataset = load_csv(write_csv(tmp_path / "d.csv", x, y))
    assert dataset.defaults.learning_rate == float(f"{prose(1 / lambda_max(x))}")
    run = FitRun(dataset)
    start = run.loss_now()
    run.record(list(run.trainer.run()))
    assert run.trainer.diverged is None and run.epochs_done == 200
    assert run.loss_now() < start / 10  # it learned, and went on learning


def test_the_note_says_where_the_rate_came_from(tmp_path):
    x, y = data(1e3, 1.0)
    dataset = load_csv(write_csv(tmp_path / "d.csv", x, y))
    note = dataset.defaults_note
    assert f"learning rate {prose(dataset.defaults.learning_rate)}" in note and "2/λmax" in note
    assert f"{prose(2 / lambda_max(x))}" in note


def test_several_features_keep_the_plain_rate(tmp_path):
    path = tmp_path / "three.csv"
    path.write_text("a,b,y\n" + "".join(f"{i},{i * i},{2 * i + 1}\n" for i in range(20)))
    dataset = load_csv(path)
    assert dataset.defaults.learning_rate == 0.01 and dataset.defaults.normalize and dataset.defaults_note == ""


@pytest.mark.parametrize("sx,sy", [(1e-3, 1e6), (1e6, 1e-3), (1e6, 1e6)])
def test_the_cli_trains_with_it_and_says_so(tmp_path, capsys, sx, sy):
    x, y = data(sx, sy, offset=1.0, seed=1)
    path = write_csv(tmp_path / "d.csv", x, y)
    code = cli_main(["fit", "--data", str(path), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.startswith("note: learning rate ") and "half the largest stable rate" in out
    code = cli_main(["fit", "--data", str(path), "--quiet", "--lr", "0.5"])  # a rate given: no such note
    out = capsys.readouterr().out
    assert "half the largest stable rate" not in out
