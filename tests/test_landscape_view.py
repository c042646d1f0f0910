"""Landscapes of a network on the Boston tab: the slice over the training path's PCA plane and over two
filter-normalized random directions, computed off the GUI thread, and back to two weights; through the widgets."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QThread

from fitscope.engine.data import load_builtin
from fitscope.engine.landscape import pca_plane, random_plane, slice_plane
from fitscope.gui.panels.loss_slice import MODES
from fitscope.gui.views.boston_view import BostonView
from fitscope.gui.views.landscape import NO_PATH, RANDOM_SEED


@pytest.fixture
def view(qtbot) -> BostonView:
    v = BostonView(dataset=load_builtin("boston-housing"))
    qtbot.addWidget(v)
    v.resize(1400, 900)
    v.show()
    qtbot.waitExposed(v)
    yield v
    v.shutdown()


def choose(view, key: str) -> None:
    view.slice.mode.setCurrentIndex(list(MODES).index(key))


def mlp(qtbot, view) -> None:
    view.control("model").setCurrentIndex(1)  # one hidden layer of 50 sigmoid units
    assert view.model.settings.model == "mlp"


def step_epochs(qtbot, view, n: int) -> None:
    for _ in range(n):
        view.commands["step_epoch"].trigger()
        qtbot.waitUntil(lambda: not view.controller.busy, timeout=20_000)


def wait_plane(qtbot, view, kind: str):
    qtbot.waitUntil(lambda: view.landscape.plane is not None and view.landscape.plane.kind == kind
                    and not view.landscape.slicer.busy, timeout=30_000)
    return view.landscape.plane


def test_the_chooser_is_for_an_mlp(qtbot, view):
    assert view.slice.mode.count() == 3
    assert [view.slice.mode.itemText(k) for k in range(3)] == ["two weights", "training path (PCA)",
                                                               "random directions"]
    assert not view.slice.mode.isEnabled()  # the linear model: two weights
    mlp(qtbot, view)
    assert view.slice.mode.isEnabled()
    assert view.slice.x_param.isVisible()


def test_pca_before_any_training_says_it_needs_a_path(qtbot, view):
    mlp(qtbot, view)
    choose(view, "pca")
    qtbot.waitUntil(lambda: view.slice.caption.text() == NO_PATH, timeout=5000)
    assert not view.slice.x_param.isVisible()
    assert view.landscape.plane is None
    assert view.slice_panel.contour_labels() == []  # nothing of the old slice is left on the map
    xs, _ = view.slice_panel.isolines.getData()
    assert xs is None or len(xs) == 0
    assert not view.slice_panel.colorbar.isVisible()


def test_a_path_of_one_step_gets_a_window_that_is_not_a_sliver(qtbot, view):
    mlp(qtbot, view)
    view.commands["step_batch"].trigger()
    qtbot.waitUntil(lambda: not view.controller.busy, timeout=20_000)
    choose(view, "pca")
    plane = wait_plane(qtbot, view, "pca")
    assert plane.explained[1] == pytest.approx(0.0, abs=1e-12)  # a straight path: all along PC 1
    x0, x1, y0, y1 = view.slice_panel.visible_range()
    assert (y1 - y0) >= 0.39 * (x1 - x0)
    assert view.slice_panel.colorbar.isVisible()


def test_pca_plane_caption_and_path(qtbot, view):
    mlp(qtbot, view)
    step_epochs(qtbot, view, 3)
    with qtbot.waitSignal(view.landscape.slicer.progressed, timeout=30_000):  # the progress bar is fed
        choose(view, "pca")
    plane = wait_plane(qtbot, view, "pca")
    h = view.model.history
    points = h.params[np.r_[0, h.epoch_rows()]]  # the start and every epoch's end (the last one is now)
    assert len(points) == 4
    engine = pca_plane(points)
    e1, e2 = (100 * engine.explained).tolist()
    caption = view.slice.caption.text()
    assert f"({e1:.1f} % and {e2:.1f} % of its variance)" in caption
    assert caption.startswith("Axes: the training path's two principal directions")
    np.testing.assert_allclose(plane.explained, engine.explained, rtol=1e-9)
    assert f"{e1:.1f} %" in view.slice_panel.plot.getAxis("bottom").labelText
    xs, ys = view.slice_panel.path.getData()
    assert (xs[-1], ys[-1]) == (0.0, 0.0)  # the projected path ends at the origin
    np.testing.assert_allclose(np.column_stack([xs, ys]), engine.path, atol=1e-9)
    a, b, grid = view.landscape.grid
    assert grid.shape == (60, 60) and np.isfinite(grid).all()
    exp = view.model.experiment
    np.testing.assert_allclose(grid, slice_plane(exp.model, exp.X, exp.y, exp.loss, engine, a, b), rtol=1e-9)


def test_random_directions_caption_and_grid(qtbot, view):
    mlp(qtbot, view)
    step_epochs(qtbot, view, 1)
    choose(view, "random")
    plane = wait_plane(qtbot, view, "random")
    exp = view.model.experiment
    engine = random_plane(exp.model, view.model.history.current, seed=RANDOM_SEED)
    assert view.slice.caption.text().startswith(engine.caption + ";")
    np.testing.assert_array_equal(plane.d1, engine.d1)
    a, b, grid = view.landscape.grid
    assert (a[0], a[-1], b[0], b[-1]) == (-1.0, 1.0, -1.0, 1.0)  # Li et al.'s window
    np.testing.assert_allclose(grid, slice_plane(exp.model, exp.X, exp.y, exp.loss, engine, a, b), rtol=1e-9)
    xs, ys = view.slice_panel.current.getData()
    assert (xs[0], ys[0]) == (0.0, 0.0)  # the weights now, at the origin


def test_back_to_two_weights_restores_the_old_slice(qtbot, view):
    mlp(qtbot, view)
    step_epochs(qtbot, view, 1)
    qtbot.waitUntil(lambda: view.slice_current, timeout=30_000)
    before = view.slice_panel.visible_range()
    labels = view.slice.x_param.currentText(), view.slice.y_param.currentText()
    choose(view, "random")
    wait_plane(qtbot, view, "random")
    assert view.slice_panel.visible_range() != before
    choose(view, "weights")
    assert view.slice.x_param.isVisible()
    qtbot.waitUntil(lambda: view.slice_current, timeout=30_000)
    assert view.slice_panel.visible_range() == pytest.approx(before)
    plot = view.slice_panel.plot
    assert (plot.getAxis("bottom").labelText, plot.getAxis("left").labelText) == labels
    assert "parameters held as they are now" in view.slice.caption.text()
    a, b, grid = view.slice_grid
    i, j = view.model.pair
    np.testing.assert_allclose(grid, view.model.experiment.loss_slice(view.slice_theta0, i, j, a, b))
    xs, ys = view.slice_panel.path.getData()
    np.testing.assert_array_equal(xs, view.model.history.params[:, i])


def test_the_plane_is_computed_off_the_gui_thread_and_dropped_when_stale(qtbot, view):
    mlp(qtbot, view)
    step_epochs(qtbot, view, 1)
    threads = []
    view.landscape.slicer.progressed.connect(lambda *_: threads.append(QThread.currentThread()))
    choose(view, "random")
    token = view.landscape.slicer.token
    choose(view, "pca")  # a new choice: the random plane's job is called off
    assert view.landscape.slicer.token > token
    plane = wait_plane(qtbot, view, "pca")
    assert plane.kind == "pca" and view.landscape.mode == "pca"
    assert threads and all(t is view.thread() for t in threads)  # delivered in the GUI thread
    assert view.slice.progress.isHidden()


def test_a_click_on_the_plane_starts_from_that_point(qtbot, view):
    mlp(qtbot, view)
    step_epochs(qtbot, view, 1)
    choose(view, "random")
    plane = wait_plane(qtbot, view, "random")
    view.slice_panel.clicked.emit(0.5, -0.25)
    np.testing.assert_allclose(view.model.history.params[0], plane.point(0.5, -0.25))
    assert view.model.history.steps == 0


def test_switching_to_the_linear_model_goes_back_to_two_weights(qtbot, view):
    mlp(qtbot, view)
    choose(view, "random")
    view.control("model").setCurrentIndex(0)
    assert view.slice.current_mode == "weights" and not view.slice.mode.isEnabled()
    assert view.slice.x_param.isVisible()
