"""After a divergence a tab offers to go back to the last step whose training loss was below the start's, frames
it, and training on from there with a smaller rate converges."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from fitscope.engine.data import load_builtin
from fitscope.gui.views.boston_view import BostonView
from fitscope.gui.views.surface_view import SurfaceView


@pytest.fixture
def make(qtbot):
    made = []

    def build(cls, name):
        view = cls(dataset=load_builtin(name))
        qtbot.addWidget(view)
        view.resize(1280, 800)
        view.show()
        qtbot.waitExposed(view)
        made.append(view)
        return view

    yield build
    for view in made:
        view.shutdown()


def idle(qtbot, view):
    qtbot.waitUntil(lambda: not view.controller.busy, timeout=30_000)
    qtbot.wait(20)


def diverge(qtbot, view, **changes):
    view.change(**changes)
    view.speed.setValue(view.speed.maximum())
    view.toggle_run()
    idle(qtbot, view)
    assert view.model.history.diverged is not None


def test_the_surface_tab_offers_to_go_back_and_frames_that_point(qtbot, make):
    view = make(SurfaceView, "download-time")
    view.change(loss="mse")
    k, b = view.model.optimum()
    view.start_at(k, b + 0.3)  # the loss falls for a few steps before the rate's instability takes over
    diverge(qtbot, view, learning_rate=0.047)
    run = view.model
    step = run.recovery()
    assert step is not None and step > 0
    button = view.go_back_button
    assert button.isVisible() and button.text() == f"Go back to step {step:,}"
    assert button.toolTip().startswith(f"Step {step:,} was the last whose training loss was below the start's")
    assert view.commands["go_back"].isEnabled()
    # The map frames the run up to that step, not the diverged point (which is marked at the edge instead).
    k_lo, k_hi, b_lo, b_hi = view.surface.visible_range()
    point = run.history.params[run.history.row_of(step)]
    assert k_lo <= point[0] <= k_hi and b_lo <= point[1] <= b_hi
    assert any(label.startswith("kept after the divergence") for label in view.map_marks.labels())
    start_loss = run.experiment.loss_at(run.history.params[0], "train")

    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    h = run.history
    assert h.diverged is None and h.steps == step
    assert run.experiment.loss_at(h.current, "train") < start_loss
    assert f"Back at step {step:,}" in view.message.text()
    assert not button.isVisible() and not view.commands["go_back"].isEnabled()
    qtbot.waitUntil(lambda: view.control("learning_rate").hasFocus())  # what to change next has the keys
    k_lo, k_hi, b_lo, b_hi = view.surface.visible_range()
    assert k_lo <= h.current[0] <= k_hi and b_lo <= h.current[1] <= b_hi

    # On from there with the smaller rate the message suggests: it converges.
    view.change(learning_rate=run.smaller_rate(), epochs=h.steps // len(run.experiment.y) + 300)
    view.toggle_run()
    idle(qtbot, view)
    assert run.history.diverged is None
    assert run.experiment.loss_at(run.history.current, "train") < run.experiment.loss_at(point, "train")


def test_the_boston_tab_goes_back_too(qtbot, make):
    view = make(BostonView, "boston-housing")
    view.set_control("normalize", False)
    view.toggle_run()
    idle(qtbot, view)
    run = view.model
    assert run.history.diverged is not None
    step = view.recovery_step()  # the last step below the start's loss, or the start itself
    assert step is not None and view.go_back_button.isVisible()
    view.commands["go_back"].trigger()
    assert run.history.diverged is None and run.history.steps == step
    assert view.readouts.text("bostonStep") == f"{step:,}"
    assert np.array_equal(run.trainer.params, run.history.current)


def test_with_no_better_step_it_offers_the_start(qtbot, make):
    view = make(SurfaceView, "download-time")
    diverge(qtbot, view, loss="mse", learning_rate=10.0)  # the loss grows from the first step
    assert view.model.recovery() is None
    assert view.go_back_button.text() == "Go back to the start"
    assert view.go_back_button.toolTip().startswith("No later step had a lower training loss")
    view.go_back()
    assert view.model.history.steps == 0 and view.model.history.diverged is None
    assert view.message.text().startswith("Back at the start. Lower the learning rate (to ")
    k_lo, k_hi, b_lo, b_hi = view.surface.visible_range()
    start = view.model.history.current
    assert k_lo <= start[0] <= k_hi and b_lo <= start[1] <= b_hi


def test_nothing_is_offered_without_a_divergence(qtbot, make):
    view = make(SurfaceView, "download-time")
    view.step("batch")
    idle(qtbot, view)
    assert not view.go_back_button.isVisible() and not view.commands["go_back"].isEnabled()
    view.go_back()  # the command does nothing then
    assert view.model.history.steps == 1
