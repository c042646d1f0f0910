"""Same seed, same settings → the same trace, bit for bit, whether trained in the app or by ``fitscope fit``.

The app trains in its worker thread with settings set through its controls, stepping by hand or running;
the CLI trains in a loop with the same settings given as options and writes ``--trace`` (every float in
full). The trajectory (start and the parameters after every update), the batch losses and each step's epoch
and batch must be equal with ``==``: same shuffles, same batches, same floating-point operations.
"""

from __future__ import annotations

import csv
from dataclasses import replace

import numpy as np
import pytest

from fitscope.engine.cli import main as cli_main
from fitscope.engine.data import load_builtin
from fitscope.engine.settings import FitSettings
from fitscope.engine.trainer import Phase, StepReport
from fitscope.gui.views.boston_view import BostonView
from fitscope.gui.views.surface_view import SurfaceView


def cli_args(data: str, s: FitSettings) -> list[str]:
    """Every setting as an option, so that nothing rests on the CLI's defaults."""
    args = ["fit", "--data", data, "--quiet", "--model", s.model, "--loss", s.loss,
            "--optimizer", s.optimizer, "--lr", repr(s.learning_rate), "--batch-size", str(s.batch_size),
            "--epochs", str(s.epochs),
            "--validation-split", repr(s.validation_split), "--seed", str(s.seed),
            "--normalize" if s.normalize else "--no-normalize",
            "--shuffle-data" if s.shuffle_data else "--no-shuffle-data"]
    if s.optimizer == "momentum":
        args += ["--momentum", repr(s.momentum)]
    if s.model == "mlp":
        args += ["--hidden", ",".join(map(str, s.hidden)), "--activation", s.activation]
    if not s.shuffle:
        args.append("--no-shuffle")
    if s.init is not None:
        args.append(f"--init={s.init[0]!r},{s.init[1]!r}")
    return args


def cli_trace(tmp_path, data: str, settings: FitSettings):
    """(params (steps + 1, n), losses (steps,), epochs (steps,), batches (steps,)) from ``--trace``."""
    path = tmp_path / "trace.csv"
    assert cli_main([*cli_args(data, settings), "--trace", str(path)]) == 0
    with open(path, newline="") as f:
        rows = list(csv.reader(f))[1:]
    params = np.array([[float(v) for v in row[4:]] for row in rows])
    steps = rows[1:]
    losses = np.array([float(row[3]) for row in steps])
    epochs = np.array([int(row[1]) for row in steps])
    batches = np.array([int(row[2]) for row in steps])
    assert [int(row[0]) for row in rows] == list(range(len(rows)))
    return params, losses, epochs, batches


class Updates:
    """Every update the view's controller delivers: (epoch, batch) of each, in order."""

    def __init__(self, view) -> None:
        self.seen: list[tuple[int, int]] = []
        view.controller.reports.connect(self.add)

    def add(self, reports) -> None:
        self.seen += [(r.epoch, r.batch) for r in reports if isinstance(r, StepReport) and r.phase is Phase.UPDATE]


def assert_same(view, updates: Updates, cli, prefix: bool = False) -> None:
    params, losses, epochs, batches = cli
    h = view.model.history
    n = h.steps + 1
    assert n > 1
    if prefix:
        assert len(params) >= n
        params, losses, epochs, batches = params[:n], losses[: n - 1], epochs[: n - 1], batches[: n - 1]
    assert h.params.shape == params.shape
    assert np.array_equal(h.params, params), "the trajectories differ"
    assert np.array_equal(h.batch_loss, losses), "the batch losses differ"
    assert updates.seen == list(zip(epochs.tolist(), batches.tolist(), strict=True)), "epochs or batches differ"


@pytest.fixture
def surface(qtbot):
    view = SurfaceView(dataset=load_builtin("download-time"))
    qtbot.addWidget(view)
    view.resize(1100, 700)
    view.show()
    qtbot.waitExposed(view)
    yield view
    view.shutdown()


def set_surface(view, loss, optimizer, lr, batch, epochs, seed):
    view.set_control("loss", loss)
    view.set_control("optimizer", optimizer)
    view.control("learning_rate").setValue(lr)
    view.control("batch_size").setValue(batch)
    view.control("epochs").setValue(epochs)
    view.control("seed").setValue(seed)
    view.speed.setValue(view.speed.maximum())


@pytest.mark.parametrize(
    ("loss", "optimizer", "lr", "batch", "epochs", "seed"),
    [("mse", "sgd", 0.02, 4, 30, 0), ("mae", "adam", 0.05, 1, 6, 7), ("mse", "rmsprop", 0.01, 20, 40, 3),
     ("mse", "momentum", 0.005, 6, 12, 11), ("mae", "sgd", 0.3, 7, 10, 2**31 - 1)],
)
def test_surface_run_traces_as_the_cli(qtbot, surface, tmp_path, loss, optimizer, lr, batch, epochs, seed):
    view = surface
    set_surface(view, loss, optimizer, lr, batch, epochs, seed)
    k, b = view.surface.visible_range()[0] * 0.3, view.surface.visible_range()[3] * 0.6
    view.start_at(k, b)  # as a click there does
    updates = Updates(view)
    view.commands["run"].trigger()
    qtbot.waitUntil(lambda: not view.controller.busy, timeout=30_000)
    assert view.phase_key == "done"
    settings = view.model.settings
    assert (settings.loss, settings.optimizer, settings.learning_rate, settings.batch_size, settings.seed) == (
        loss, optimizer, lr, batch, seed)
    assert_same(view, updates, cli_trace(tmp_path, "download-time", settings))


def test_surface_steps_by_hand_trace_as_the_cli(qtbot, surface, tmp_path):
    """Phases, batches and epochs stepped by hand, past the epoch limit: the CLI's trace, step for step."""
    view = surface
    set_surface(view, "mse", "adam", 0.1, 3, 2, 5)
    view.reset()
    updates = Updates(view)
    for key in ["step_phase"] * 7 + ["step_batch"] * 3 + ["step_epoch"] * 3 + ["step_phase"] * 5:
        view.commands[key].trigger()
        qtbot.waitUntil(lambda: not view.controller.busy, timeout=10_000)
    assert len(view.model.history.epochs) > 2  # beyond the limit of 2 epochs
    trace = cli_trace(tmp_path, "download-time", replace(view.model.settings, epochs=10))
    assert_same(view, updates, trace, prefix=True)


@pytest.fixture
def boston(qtbot):
    view = BostonView(dataset=load_builtin("boston-housing"))
    qtbot.addWidget(view)
    view.resize(1100, 700)
    view.show()
    qtbot.waitExposed(view)
    yield view
    view.shutdown()


@pytest.mark.parametrize(
    ("model", "normalize", "optimizer", "lr", "batch", "epochs", "split", "seed"),
    [(0, True, "sgd", 0.01, 40, 5, 0.2, 0), (1, True, "adam", 0.01, 32, 2, 0.2, 5),
     (0, False, "sgd", 1e-6, 1, 1, 0.5, 9), (2, True, "rmsprop", 0.002, 64, 2, 0.0, 1)],
    ids=["linear", "mlp-1", "raw-batch-1", "mlp-2"],
)
def test_boston_run_traces_as_the_cli(qtbot, boston, tmp_path, model, normalize, optimizer, lr, batch, epochs,
                                      split, seed):
    view = boston
    view.control("model").setCurrentIndex(model)
    view.control("normalize").setChecked(normalize)
    view.control("validation_split").setValue(split)
    view.control("seed").setValue(seed)
    view.set_control("optimizer", optimizer)
    view.control("learning_rate").setValue(lr)
    view.control("batch_size").setValue(batch)
    view.control("epochs").setValue(epochs)
    settings = view.model.experiment.settings
    assert settings == view.model.settings
    updates = Updates(view)
    view.commands["run"].trigger()
    qtbot.waitUntil(lambda: not view.controller.busy, timeout=60_000)
    assert len(view.model.history.epochs) == epochs
    assert_same(view, updates, cli_trace(tmp_path, "boston-housing", settings))
