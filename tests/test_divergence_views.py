"""Divergence at learning rates up to 1000 in every training view: caught, explained, recoverable.

For each view (loss surface, Boston Housing, optimizer race; the backpropagation view does not train), each
rate (10, 100, 1000) and each loss the view offers:

- **caught within one step**: the view stops at the very step the engine alone calls divergent (a loss,
  gradient or parameter not finite, or a loss 1e8 times the first): its trajectory is the engine's, bit for
  bit, up to the step before, and nothing non-finite is recorded or drawn. Stepping by hand, the press that
  makes the step that diverges shows it at once.
- **explained**: a one-line message is visible (the race: the racer's status, "diverged at step n").
- **recoverable**: with a small rate, the next step trains on from the last finite point and the message
  goes; Reset starts afresh.

With MAE and plain SGD the steps are bounded (the gradient is a mean of signs): training at rate 1000 then
oscillates without overflowing, and the views must not call that divergence.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from fitscope.engine.data import load_builtin
from fitscope.engine.experiment import Experiment
from fitscope.engine.trainer import DivergedReport, StepReport
from fitscope.gui.views.boston_view import BostonView
from fitscope.gui.views.race_view import RaceView
from fitscope.gui.views.surface_view import SurfaceView

RATES = [10, 100, 1000]
EPOCHS = 40  # enough for every divergent case below to diverge (asserted from the engine alone)


@pytest.fixture(scope="module")
def datasets():
    return {name: load_builtin(name) for name in ("download-time", "boston-housing")}


@pytest.fixture
def make_view(qtbot, datasets):
    """A view of ``cls`` by itself (quicker than a main window of four), shown; shut down afterwards."""
    made = []

    def make(cls, data):
        view = cls(dataset=datasets[data])
        qtbot.addWidget(view)
        view.resize(1100, 700)
        view.show()
        qtbot.waitExposed(view)
        made.append(view)
        return view

    yield make
    for view in made:
        view.shutdown()


def idle(qtbot, view, timeout=30_000):
    qtbot.waitUntil(lambda: not view.controller.busy, timeout=timeout)


def engine_alone(dataset, settings, start=None):
    """The trajectory (start + each update) and the DivergedReport (or None) of the engine by itself."""
    exp = Experiment(dataset, settings)
    if start is not None:
        exp.trainer.set_params(start)
    params, diverged = [exp.trainer.params.copy()], None
    for report in exp.trainer.run():
        if isinstance(report, StepReport):
            params.append(report.params_after)
        elif isinstance(report, DivergedReport):
            diverged = report
    return np.array(params), diverged


def one_line(label) -> str:
    text = label.text()
    assert label.isVisibleTo(label.window()), "the message is not shown"
    assert text and "\n" not in text and "<br" not in text, f"not one line: {text!r}"
    return text


def assert_caught_like_the_engine(h, params, diverged):
    """The view's history stops where the engine's does: same trajectory, same divergent step."""
    assert np.isfinite(h.params).all()
    if diverged is None:
        assert h.diverged is None
        return
    assert h.diverged is not None, f"the engine diverges at step {diverged.step}; the view went on"
    assert h.diverged.step == diverged.step == h.steps + 1
    assert h.diverged.what == diverged.what
    assert np.array_equal(h.params, params), "the trajectory before the divergence is not the engine's"


# --------------------------------------------------------------------------- the loss surface
def surface_settings(view, lr, loss, optimizer="sgd"):
    view.set_control("loss", loss)
    view.set_control("optimizer", optimizer)  # sets tfjs's default rate: first
    view.control("learning_rate").setValue(lr)
    view.control("epochs").setValue(EPOCHS)
    view.speed.setValue(view.speed.maximum())
    view.reset()  # a fresh run with these settings from the start point
    assert view.control("learning_rate").value() == lr
    return view.model.settings


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "rmsprop", "adam"])
@pytest.mark.parametrize("loss", ["mse", "mae"])
@pytest.mark.parametrize("lr", RATES)
def test_surface_view(qtbot, make_view, datasets, lr, loss, optimizer):
    view = make_view(SurfaceView, "download-time")
    settings = surface_settings(view, lr, loss, optimizer)
    assert settings.optimizer == optimizer and settings.learning_rate == lr
    params, diverged = engine_alone(datasets["download-time"], settings)
    if loss == "mse" and optimizer == "sgd":
        assert diverged is not None  # the case is worth testing
    view.commands["run"].trigger()
    qtbot.waitUntil(lambda: not view.controller.busy, timeout=30_000)
    h = view.model.history
    assert_caught_like_the_engine(h, params, diverged)
    assert np.isfinite(view.surface.path.getData()[0]).all() and np.isfinite(view.surface.path.getData()[1]).all()
    if diverged is None:
        assert not view.message.isVisibleTo(view)
        assert view.phase_key == "done"
        return
    assert "smaller learning rate" in one_line(view.message)
    assert view.phase_key == "diverged"
    assert view.kernel_edit.value() == pytest.approx(h.current[0], rel=1e-15, abs=6e-7)  # the last finite point

    # Recover: a small rate, and the next step trains on from the last finite point.
    view.control("learning_rate").setValue(1e-4)
    steps = h.steps
    view.commands["step_batch"].trigger()
    idle(qtbot, view)
    assert h.steps == steps + 1 and np.isfinite(h.current).all()
    assert h.last_step.learning_rate == 1e-4
    assert not view.message.isVisibleTo(view) and view.phase_key != "diverged"
    # … and Reset starts afresh.
    view.commands["reset"].trigger()
    assert view.model.history.steps == 0 and not view.message.isVisibleTo(view)


@pytest.mark.parametrize("lr", RATES)
def test_surface_view_by_hand(qtbot, make_view, datasets, lr):
    """Step by step: the press whose step diverges shows it; no step before it does."""
    view = make_view(SurfaceView, "download-time")
    settings = surface_settings(view, lr, "mse")
    _, diverged = engine_alone(datasets["download-time"], settings)
    for press in range(1, diverged.step + 1):
        view.commands["step_batch"].trigger()
        idle(qtbot, view)
        assert view.message.isVisibleTo(view) == (press == diverged.step), f"press {press}"
        assert view.model.history.steps == min(press, diverged.step - 1)
    assert view.model.history.diverged.step == diverged.step


# --------------------------------------------------------------------------- Boston Housing
@pytest.mark.parametrize("normalize", [True, False], ids=["normalized", "raw"])
@pytest.mark.parametrize("model", [0, 1], ids=["linear", "mlp"])
@pytest.mark.parametrize("lr", RATES)
def test_boston_view(qtbot, make_view, datasets, lr, model, normalize):
    view = make_view(BostonView, "boston-housing")
    view.control("model").setCurrentIndex(model)
    view.control("normalize").setChecked(normalize)
    view.control("epochs").setValue(EPOCHS if model == 0 else 3)
    view.control("learning_rate").setValue(lr)
    assert view.control("learning_rate").value() == lr
    settings = view.model.experiment.settings
    assert settings.learning_rate == lr  # a change before the first step starts afresh with it
    params, diverged = engine_alone(datasets["boston-housing"], settings)
    assert diverged is not None  # every case here diverges within a few steps
    view.commands["run"].trigger()
    qtbot.waitUntil(lambda: not view.controller.busy, timeout=60_000)
    h = view.model.history
    assert_caught_like_the_engine(h, params, diverged)
    message = one_line(view.message)
    assert f"step {diverged.step}" in message
    assert ("normalization" in message) == (not normalize)  # raw features: the likely cause is named

    view.control("learning_rate").setValue(1e-6)
    steps = h.steps
    view.commands["step_batch"].trigger()
    idle(qtbot, view)
    assert view.model.history is h and h.steps == steps + 1 and np.isfinite(h.current).all()
    assert h.last_step.learning_rate == 1e-6
    assert not view.message.isVisibleTo(view)
    view.commands["reset"].trigger()
    assert view.model.history.steps == 0 and not view.message.isVisibleTo(view)


# --------------------------------------------------------------------------- the optimizer race
@pytest.mark.parametrize("loss", ["mse", "mae"])
@pytest.mark.parametrize("lr", RATES)
def test_race_view(qtbot, make_view, datasets, lr, loss):
    """SGD races at the extreme rate, the others at their defaults: SGD drops out at the engine's step, the
    others go on; a smaller rate (a fresh race) or Reset brings it back."""
    view = make_view(RaceView, "download-time")
    view.speed.setValue(view.speed.maximum())
    view.set_control("loss", loss)
    view.control("epochs").setValue(EPOCHS)
    view.rates["sgd"].setValue(lr)
    assert view.rates["sgd"].value() == lr
    sgd = view.model.keys.index("sgd")
    params, diverged = engine_alone(datasets["download-time"],
                                    replace(view.model.settings, optimizer="sgd", learning_rate=lr))
    if loss == "mse":
        assert diverged is not None
    view.commands["run"].trigger()
    qtbot.waitUntil(lambda: not view.controller.busy, timeout=30_000)
    assert_caught_like_the_engine(view.model.histories[sgd], params, diverged)
    status = view.table.item(sgd, view.table.columnCount() - 1).text()
    assert all(np.isfinite(h.params).all() for h in view.model.histories)
    if diverged is None:
        assert not status.startswith("diverged")
        return
    assert status == f"diverged at step {diverged.step}"
    assert "diverged" in view.text.text()
    others = [h for i, h in enumerate(view.model.histories) if i != sgd]
    assert all(h.diverged is None and h.steps > view.model.histories[sgd].steps for h in others)

    view.rates["sgd"].setValue(0.01)  # a new race at the default rate
    assert all(h.steps == 0 and h.diverged is None for h in view.model.histories)
    view.commands["step_batch"].trigger()
    idle(qtbot, view)
    assert all(h.steps == 1 and np.isfinite(h.current).all() for h in view.model.histories)
    view.commands["reset"].trigger()
    assert all(h.steps == 0 for h in view.model.histories)
    assert not view.table.item(sgd, view.table.columnCount() - 1).text().startswith("diverged")
