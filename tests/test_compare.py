"""Compare with previous run: the run before the last action that threw one away, drawn faded under the current
one (its losses on the chart, its path on the map), with a legend entry, while the box is ticked."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox

from fitscope.gui.views.race_view import COLOURS


def idle(qtbot, view, timeout=30_000) -> None:
    qtbot.waitUntil(lambda: not view.controller.busy, timeout=timeout)


def steps(qtbot, view, n: int) -> None:
    for _ in range(n):
        view.commands["step_batch"].trigger()
        idle(qtbot, view)


def click_map(qtbot, panel, x: float, y: float) -> None:
    qtbot.mouseClick(panel.graphics.viewport(), Qt.MouseButton.LeftButton, pos=panel.widget_pos_of(x, y))


def compare_box(view) -> QCheckBox:
    box = view.findChild(QCheckBox, "compareRun")
    assert box is not None and box.isVisible() and box.text() == "Compare with previous run"
    return box


def run_copy(view) -> dict:
    h = view.model.history
    return {"batch": np.array(h.batch_loss), "epochs": np.array(h.epochs), "params": np.array(h.params)}


def test_the_previous_run_is_drawn_faded_while_ticked(qtbot, window):
    view = window.surface_view
    box = compare_box(view)
    assert not box.isChecked()  # off to start with
    steps(qtbot, view, 6)
    old = run_copy(view)
    click_map(qtbot, view.surface, 0.5, 0.6)
    steps(qtbot, view, 2)
    compare = view.compare
    assert not compare.shown and "previous run" not in view.loss_panel.legend.names()

    qtbot.mouseClick(box, Qt.MouseButton.LeftButton)
    assert box.isChecked() and compare.shown
    assert "previous run" in view.loss_panel.legend.names()
    x, y = (compare.batch.xData, compare.batch.yData)
    np.testing.assert_array_equal(y, old["batch"])
    np.testing.assert_array_equal(x, np.arange(1, 7))
    epoch_loss = compare.loss.yData
    np.testing.assert_array_equal(epoch_loss, old["epochs"][:, 2])
    a, b = compare.path.getData()
    np.testing.assert_array_equal(a, old["params"][:, 0])
    np.testing.assert_array_equal(b, old["params"][:, 1])
    assert compare.path.isVisible() and compare.label.isVisible()
    assert compare.path.zValue() < view.surface.path.zValue()  # under the current run's path
    current = view.loss_panel.batch.yData
    np.testing.assert_array_equal(current, view.model.history.batch_loss)  # the current run still drawn

    qtbot.mouseClick(box, Qt.MouseButton.LeftButton)
    assert not box.isChecked() and not compare.shown and not compare.path.isVisible()
    assert "previous run" not in view.loss_panel.legend.names()


def test_after_an_undo_the_previous_run_is_the_one_undone(qtbot, window):
    view = window.surface_view
    compare_box(view).setChecked(True)
    assert not view.compare.shown  # no previous run yet
    steps(qtbot, view, 3)
    first = run_copy(view)
    view.commands["reset"].trigger()
    steps(qtbot, view, 5)
    second = run_copy(view)
    np.testing.assert_array_equal(view.compare.batch.yData, first["batch"])
    window.edit.undo_action.trigger()  # the first run comes back; the second becomes the previous one
    np.testing.assert_array_equal(view.model.history.batch_loss, first["batch"])
    np.testing.assert_array_equal(view.compare.batch.yData, second["batch"])


def test_the_boston_slice_shows_the_previous_path_over_the_weights_shown(qtbot, window):
    view = window.boston_view
    window.tabs.setCurrentWidget(view)
    qtbot.waitUntil(view.isVisible)
    view.commands["step_epoch"].trigger()
    idle(qtbot, view)
    old = run_copy(view)
    x0, x1, y0, y1 = view.slice_panel.visible_range()
    click_map(qtbot, view.slice_panel, (x0 + x1) / 2, (y0 + y1) / 2)
    qtbot.mouseClick(compare_box(view), Qt.MouseButton.LeftButton)
    i, j = view.model.pair
    a, b = view.compare.path.getData()
    np.testing.assert_array_equal(a, old["params"][:, i])
    np.testing.assert_array_equal(b, old["params"][:, j])
    np.testing.assert_array_equal(view.compare.batch.yData, old["batch"])
    view.slice.y_param.setCurrentIndex(3)  # another weight on the y axis: the path follows it
    view.refresh()
    i, j = view.model.pair
    np.testing.assert_array_equal(view.compare.path.getData()[1], old["params"][:, j])


def test_the_previous_race_is_drawn_faded_racer_by_racer(qtbot, window):
    view = window.race_view
    window.tabs.setCurrentWidget(view)
    qtbot.waitUntil(view.isVisible)
    steps(qtbot, view, 8)
    run = view.model
    old = [(key, np.array(run.losses(i)), np.array(h.params)) for i, (key, h) in
           enumerate(zip(run.keys, run.histories, strict=True))]
    click_map(qtbot, view.surface, 0.3, 0.5)
    box = compare_box(view)
    assert not view.compare.shown
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton)
    assert view.compare.shown and "previous run" in view.losses.legend.names()
    assert len(view.compare.curves) == len(old) == len(view.compare.paths)
    for (key, losses, params), curve, path in zip(old, view.compare.curves, view.compare.paths, strict=True):
        np.testing.assert_array_equal(curve.yData, losses)
        a, b = path.getData()
        np.testing.assert_array_equal(a, params[:, 0])
        np.testing.assert_array_equal(b, params[:, 1])
        colour = curve.opts["pen"].color()
        assert colour.name() == COLOURS[key] and colour.alpha() < 255  # the racer's colour, faded
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton)
    assert not view.compare.shown and not view.compare.curves and "previous run" not in view.losses.legend.names()
