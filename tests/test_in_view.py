"""What the current phase shows is in view, or marked at the plot's edge with its value (issue: the learner never
gets lost).

Driven through the real widgets: a start far from the optimum, the forward pass, zooms that leave the current
point outside the map, a run that leaves the map, a divergence.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QRectF

from fitscope.engine.data import load_builtin
from fitscope.engine.trainer import Phase
from fitscope.gui.panels.edges import EdgeMarkers, Mark
from fitscope.gui.views.surface_view import SurfaceView


@pytest.fixture
def view(qtbot):
    v = SurfaceView(dataset=load_builtin("download-time"))
    qtbot.addWidget(v)
    v.resize(1280, 760)
    v.show()
    qtbot.waitExposed(v)
    yield v
    v.shutdown()


def idle(qtbot, v):
    qtbot.waitUntil(lambda: not v.controller.busy, timeout=30_000)
    v.refresh()


def view_rect(plot) -> QRectF:
    (x0, x1), (y0, y1) = plot.getViewBox().viewRange()
    return QRectF(x0, y0, x1 - x0, y1 - y0)


def inside(plot, item) -> bool:
    """Whether a marker's label lies wholly inside the plot's view box (scene coordinates)."""
    box = plot.getViewBox().sceneBoundingRect()
    return box.contains(item.sceneBoundingRect())


def test_predictions_off_the_chart_are_marked_with_their_value(qtbot, view):
    view.start_at(1.28, 0.81)  # far from the optimum: predictions up to 13.6 s on a 0–0.85 s chart
    for _ in range(2):
        view.step("phase")
        idle(qtbot, view)
    step = view.model.history.last_step
    assert step.phase is Phase.FORWARD
    top = view.data_panel.plot.getViewBox().viewRange()[1][1]
    assert step.predictions.max() > top  # off the chart…
    shown = view.data_panel.marks.shown
    assert [m.label for m, _ in shown] == [f"highest prediction {step.predictions.max():.3g}"]
    (mark, (x, y)), = shown
    assert y <= top and y > top - 0.1 * top  # …and marked at its top edge, at the prediction's x
    assert x == pytest.approx(view.model.experiment.X[step.indices][np.argmax(step.predictions), 0])
    for text in view.data_panel.marks.text_items():
        assert inside(view.data_panel.plot, text)


def test_predictions_in_view_are_not_marked(qtbot, view):
    k, b = view.model.optimum()
    view.start_at(k, b)
    for _ in range(2):
        view.step("phase")
        idle(qtbot, view)
    assert view.data_panel.marks.shown == []


def test_a_line_off_the_chart_is_marked_before_the_forward_pass(qtbot, view):
    view.start_at(5.0, 30.0)
    view.step("phase")  # the batch is drawn: no predictions yet, only the line
    idle(qtbot, view)
    assert view.model.history.last_step.phase is Phase.BATCH
    labels = view.data_panel.marks.labels()
    assert len(labels) == 1 and labels[0].startswith("fitted line ")


def test_the_current_point_off_the_map_is_marked_and_follows_zooms(qtbot, view):
    view.start_at(0.2, 0.1)
    view.step("batch")
    idle(qtbot, view)
    assert view.map_marks.labels() == []  # in view: no mark
    now = view.model.current
    view.surface.set_range(now[0] + 1, now[0] + 2, now[1] + 1, now[1] + 2)  # the point is left and below
    qtbot.wait(50)
    shown = dict((m.label.split(" ")[0], pos) for m, pos in view.map_marks.shown)
    assert "now" in shown
    x, y = shown["now"]
    assert now[0] + 1 <= x < now[0] + 1.05 and now[1] + 1 <= y < now[1] + 1.05  # at the bottom-left corner
    for text in view.map_marks.text_items():
        assert inside(view.surface.plot, text)
    view.frame_path()
    qtbot.wait(50)
    assert view.map_marks.labels() == []


def test_the_gradient_phase_says_so_on_the_mark(qtbot, view):
    view.start_at(0.2, 0.1)
    for _ in range(4):
        view.step("phase")
        idle(qtbot, view)
    assert view.model.history.last_step.phase is Phase.GRADIENT
    view.surface.set_range(5, 6, 5, 6)
    qtbot.wait(50)
    assert any(label.endswith("with its gradient") for label in view.map_marks.labels())


def test_a_run_that_leaves_the_map_is_framed_when_it_stops(qtbot, view):
    view.start_at(0.2, 0.1)
    view.surface.set_range(0.15, 0.25, 0.05, 0.15)  # a close zoom around the start
    view.model.update(epochs=30)
    view.speed.setValue(view.speed.maximum())
    view.toggle_run()
    idle(qtbot, view)
    qtbot.wait(50)
    now = view.model.current
    k_lo, k_hi, b_lo, b_hi = view.surface.visible_range()
    assert k_lo <= now[0] <= k_hi and b_lo <= now[1] <= b_hi
    assert view.map_marks.labels() == []


def unit_plot(qtbot):
    """A 400 × 300 plot widget showing [0, 1] × [0, 1], on screen."""
    import pyqtgraph as pg

    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    widget.resize(400, 300)
    widget.show()
    qtbot.waitExposed(widget)
    widget.getPlotItem().setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
    return widget


def test_marks_stack_instead_of_overlapping(qtbot):
    widget = unit_plot(qtbot)
    plot = widget.getPlotItem()
    marks = EdgeMarkers(plot)
    marks.set([Mark(5, 5, "first point"), Mark(6, 6, "second point"), Mark(-np.inf, 0.5, "far left"),
               Mark(0.5, np.inf, "up")])
    qtbot.wait(20)
    items = marks.text_items()
    assert len(items) == 4
    rects = [t.sceneBoundingRect() for t in items]
    for i, a in enumerate(rects):
        assert inside(plot, items[i])
        for b in rects[i + 1 :]:
            assert not a.intersects(b)
    marks.set([Mark(0.5, 0.5, "in view")])
    assert marks.shown == []


def test_a_mark_hides_no_point_of_the_data_where_it_can_lie_elsewhere(qtbot):
    """Points crowd the top edge beside a prediction that left the chart: its label goes where they are not."""
    import pyqtgraph as pg

    widget = unit_plot(qtbot)
    plot = widget.getPlotItem()
    xs = np.linspace(0.32, 0.98, 40)  # along the top edge, right of the middle, where the label would go first
    points = pg.ScatterPlotItem(x=xs, y=np.full(40, 0.97), size=6)
    plot.addItem(points)
    marks = EdgeMarkers(plot)

    def hidden() -> int:
        (text,) = marks.text_items()
        box = text.sceneBoundingRect()
        return sum(box.contains(points.mapToScene(pg.Point(x, 0.97))) for x in xs)

    marks.set([Mark(0.3, 5.0, "highest prediction 13.6")])
    qtbot.wait(20)
    assert hidden() > 0  # where it went while nothing asked it to keep clear
    marks.keep_clear_of([points])
    qtbot.wait(20)
    assert hidden() == 0 and inside(plot, marks.text_items()[0])
    assert marks.shown[0][1][0] == pytest.approx(0.3)  # the arrow stays at the prediction's x


def test_predictions_off_the_chart_that_read_alike_get_one_mark(qtbot):
    """Tiny data, a line far above it: the highest and the lowest prediction of the batch both read 0.983."""
    from fitscope.gui.panels.data_plot import DataPanel

    panel = DataPanel("size", "time")
    qtbot.addWidget(panel)
    panel.resize(500, 400)
    panel.show()
    x = np.linspace(1e-6, 3e-5, 40)
    panel.set_data(x, 0.9 * x, None, None, "tiny.csv and the current line")
    qtbot.wait(20)
    panel.set_fit(2.0, 0.983, np.arange(0, 40, 4), residuals=True)
    qtbot.wait(20)
    assert panel.marks.labels() == ["predictions 0.983"]
    panel.set_fit(5000.0, 0.983, np.arange(0, 40, 4), residuals=True)  # 0.988 … 1.12: two marks
    qtbot.wait(20)
    assert sorted(panel.marks.labels()) == ["highest prediction 1.12", "lowest prediction 0.988"]


def test_boston_after_a_divergence_marks_the_kept_point_and_its_panels_agree(qtbot):
    from fitscope.gui.views.boston_view import BostonView

    view = BostonView(dataset=load_builtin("boston-housing"))
    qtbot.addWidget(view)
    view.resize(1280, 800)
    view.show()
    qtbot.waitExposed(view)
    try:
        view.set_control("normalize", False)  # raw features: diverges within a few steps at the book's rate
        view.toggle_run()
        idle(qtbot, view)
        h = view.model.history
        assert h.diverged is not None
        labels = view.slice_marks.labels()
        assert len(labels) == 1 and labels[0].startswith("kept after the divergence (")
        step = h.last_step
        # The progress bar and the Now box name the same epoch and batch.
        assert view.progress.text() == (f"Epoch {step.epoch} of 200 (batch {step.batch + 1} of "
                                        f"{step.batches_per_epoch})")
        assert view.readouts.text("bostonEpoch") == (f"{step.epoch:,} (batch {step.batch + 1} of "
                                                     f"{step.batches_per_epoch})")
        assert view.readouts.text("bostonStep") == f"{h.steps:,}"
    finally:
        view.shutdown()


def test_the_mae_optimum_does_not_follow_a_zoom(qtbot, view):
    """The star is the least-absolute-deviations line of the data, found exactly, not the lowest point of
    the part of the map in view: zoomed away from it, it is marked at the edge instead."""
    from fitscope.gui.models.surface import lad_line

    assert view.model.settings.loss == "mae"
    exp = view.model.experiment
    x, y = exp.X[:, 0], exp.y
    k, b = view.model.optimum()
    best = np.abs(y - (k * x + b)).mean()
    rng = np.random.default_rng(0)
    for dk, db in rng.normal(scale=0.01, size=(200, 2)):  # no line nearby does better
        assert np.abs(y - ((k + dk) * x + b + db)).mean() >= best - 1e-15
    import fitscope.gui.models.surface as surface_model

    old = surface_model.LAD_EXACT_ROWS
    surface_model.LAD_EXACT_ROWS = 0  # the iterative method for many rows agrees
    try:
        assert lad_line(x, y) == pytest.approx((k, b), abs=1e-7)
    finally:
        surface_model.LAD_EXACT_ROWS = old
    view.surface.set_range(-1, -0.5, -1, -0.5)
    view.recompute_surface()
    qtbot.wait(20)
    x, y = view.surface.optimum.getData()
    assert (x[0], y[0]) == (k, b)
    assert "optimum ★" in view.map_marks.labels()
