"""The loss-surface view, driven as a user would: clicks, steps, run, divergence, close."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import Qt

from fitscope.engine.data import load_builtin
from fitscope.engine.experiment import Experiment
from fitscope.engine.trainer import Phase, StepReport
from fitscope.gui.app import MainWindow
from fitscope.gui.views.surface_view import SurfaceView
from fitscope.gui.views.tab import SidebarScroll
from fitscope.gui.worker import Unit


@pytest.fixture
def view(window) -> SurfaceView:
    return window.views[0]


def idle(qtbot, view, timeout=10_000):
    qtbot.waitUntil(lambda: not view.controller.busy, timeout=timeout)


def click_surface(qtbot, view, k, b):
    pos = view.surface.widget_pos_of(k, b)
    qtbot.mouseClick(view.surface.graphics.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def engine_run(settings, steps):
    """The engine alone, with the same settings: the parameters after each of ``steps`` updates."""
    exp = Experiment(load_builtin("download-time"), settings)
    out = []
    for report in exp.trainer.run():
        if isinstance(report, StepReport):
            out.append(report.params_after)
            if len(out) == steps:
                break
    return out


def test_objects_are_named_for_tests_and_screen_readers(view):
    names = ["lossSurface", "dataPlot", "lossCurve", "stepPhaseButton", "stepBatchButton", "stepEpochButton",
             "runButton", "resetButton", "randomInitButton", "learningRate", "batchSize", "lossFunction",
             "optimizer", "seed", "kernelValue", "biasValue", "lossValue"]
    from PySide6.QtWidgets import QWidget

    for name in names:
        widget = view.findChild(QWidget, name)
        assert widget is not None, name
        assert widget.accessibleName(), name


def test_click_on_surface_sets_weights_to_the_clicked_point(qtbot, view):
    k, b = 0.8, -0.35
    click_surface(qtbot, view, k, b)
    px, py = view.surface.pixel_size()
    current = view.model.history.current
    assert abs(current[0] - k) <= px and abs(current[1] - b) <= abs(py)
    assert view.model.history.steps == 0
    assert view.kernel_edit.value() == pytest.approx(current[0], abs=1e-6)
    assert view.bias_edit.value() == pytest.approx(current[1], abs=1e-6)
    assert view.model.settings.init == (current[0], current[1])
    line_x, line_y = view.data_panel.line.getData()
    assert np.allclose(line_y, current[0] * line_x + current[1])


def test_a_drag_is_not_a_click(qtbot, view):
    before = view.model.history.current.copy()
    start = view.surface.widget_pos_of(0.5, 0.5)
    end = view.surface.widget_pos_of(1.0, 0.2)
    viewport = view.surface.graphics.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(viewport, pos=end)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=end)
    assert np.array_equal(view.model.history.current, before)


def test_step_batch_moves_weights_exactly_as_the_engine(qtbot, view):
    click_surface(qtbot, view, 1.2, 0.4)
    settings = view.model.settings
    for _ in range(3):
        qtbot.keyClick(view, Qt.Key.Key_Space)
        idle(qtbot, view)
    expected = engine_run(settings, 3)
    assert view.model.history.steps == 3
    for got, want in zip(view.model.history.params[1:], expected, strict=True):
        assert np.array_equal(got, want)
    assert view.readouts.text("stepValue") == "3"


def test_step_phase_walks_five_phases_per_batch(qtbot, view):
    seen = []
    view.controller.reports.connect(lambda rs: seen.extend(r.phase for r in rs if isinstance(r, StepReport)))
    for _ in range(10):
        view.commands["step_phase"].trigger()
        idle(qtbot, view)
    assert seen == [Phase.BATCH, Phase.FORWARD, Phase.LOSS, Phase.GRADIENT, Phase.UPDATE] * 2
    assert view.model.history.steps == 2
    assert view.phase_key == "update"


def test_each_phase_is_visible(qtbot, view):
    view.commands["step_phase"].trigger()
    idle(qtbot, view)
    assert view.phase_key == "batch"
    assert len(view.data_panel.batch_points.data) == min(view.control("batch_size").value(), 20)
    assert view.data_panel.residuals.getData()[0] is None or len(view.data_panel.residuals.getData()[0]) == 0
    view.commands["step_phase"].trigger()
    idle(qtbot, view)
    assert view.phase_key == "forward"
    assert len(view.data_panel.residuals.getData()[0]) == 2 * 20
    for key in ("loss", "gradient"):
        view.commands["step_phase"].trigger()
        idle(qtbot, view)
        assert view.phase_key == key
    assert view.surface.gradient_head.isVisible()
    assert "∂loss/∂kernel" in view.phase_text.text()
    view.commands["step_phase"].trigger()
    idle(qtbot, view)
    assert view.phase_key == "update"
    assert view.model.history.steps == 1


def test_step_epoch_and_epoch_report(qtbot, view):
    view.control("batch_size").setValue(6)  # 20 rows → 4 batches
    view.commands["step_epoch"].trigger()
    idle(qtbot, view)
    assert view.model.history.steps == 4
    assert len(view.model.history.epochs) == 1
    assert view.readouts.text("epochValue").startswith("1")


def test_run_reaches_the_optimum_and_stops_at_the_epoch_limit(qtbot, view):
    view.set_control("loss", "mse")
    view.control("learning_rate").setValue(0.02)
    view.control("epochs").setValue(300)
    view.control("batch_size").setValue(4)
    view.speed.setValue(view.speed.maximum())
    click_surface(qtbot, view, 1.0, 0.5)
    view.commands["run"].trigger()
    assert view.controller.running
    qtbot.waitUntil(lambda: not view.controller.running, timeout=30_000)
    assert len(view.model.history.epochs) == 300
    assert view.model.history.steps == 300 * 5
    optimum = view.model.experiment.stats.optimum()
    assert np.hypot(*(view.model.history.current - optimum)) < 0.02
    assert view.phase_key == "done"
    assert not view.commands["run"].isChecked()


def test_the_step_axis_holds_still_while_a_run_grows_and_ends_at_its_last_step_after(qtbot, view):
    def axis_end():
        lo, hi = view.loss_panel.plot.viewRange()[0]
        return round((hi - lo) / 1.04, 6)  # (framed with 2 % padding each side)

    view.control("epochs").setValue(400)
    view.control("batch_size").setValue(4)  # five steps an epoch
    view.speed.setValue(view.speed.maximum())
    view.commands["run"].trigger()
    qtbot.waitUntil(lambda: view.loss_panel.batch.getData()[0] is not None
                    and len(view.loss_panel.batch.getData()[0]) > 100, timeout=30_000)
    if view.controller.running:  # (a fast machine may have finished already)
        end = axis_end()
        assert end >= 10 and np.log2(end / 10) == round(np.log2(end / 10))  # 10·2ᵏ steps: it moves seldom
    qtbot.waitUntil(lambda: not view.controller.running, timeout=30_000)
    assert view.model.history.steps == 400 * 5
    assert axis_end() == 2000  # the finished run fills the chart


def test_pause_stops_a_run_and_steps_resume(qtbot, view):
    view.speed.setValue(0)  # one batch a second
    view.commands["run"].trigger()
    qtbot.waitUntil(lambda: view.model.history.steps >= 1, timeout=10_000)
    view.commands["run"].trigger()  # pause
    qtbot.waitUntil(lambda: not view.controller.running, timeout=10_000)
    steps = view.model.history.steps
    view.commands["step_batch"].trigger()
    idle(qtbot, view)
    assert view.model.history.steps == steps + 1


def test_learning_rate_change_applies_from_the_next_batch(qtbot, view):
    click_surface(qtbot, view, 1.0, 0.0)
    view.commands["step_batch"].trigger()
    idle(qtbot, view)
    view.control("learning_rate").setValue(0.05)
    view.commands["step_batch"].trigger()
    idle(qtbot, view)
    last = view.model.history.last_step
    assert last.learning_rate == 0.05
    assert np.allclose(last.params_after, last.params_before - 0.05 * last.gradient, rtol=0, atol=1e-15)


def test_divergence_is_caught_shown_and_recoverable(qtbot, view):
    view.set_control("loss", "mse")
    view.control("learning_rate").setValue(10)
    view.speed.setValue(view.speed.maximum())
    view.commands["run"].trigger()
    qtbot.waitUntil(lambda: not view.controller.running, timeout=10_000)
    h = view.model.history
    assert h.diverged is not None
    assert view.message.isVisible()
    assert "smaller learning rate" in view.message.text()
    assert np.isfinite(h.current).all()
    assert np.array_equal(h.current, h.diverged.params)
    assert view.phase_key == "diverged"
    # Run again at the same rate: the same batch diverges again, no step is let through.
    steps, where = h.steps, h.current.copy()
    view.commands["run"].trigger()
    qtbot.waitUntil(lambda: not view.controller.running, timeout=10_000)
    idle(qtbot, view)
    assert h.steps == steps and np.array_equal(h.current, where) and h.diverged is not None
    assert view.phase_key == "diverged" and "smaller learning rate" in view.message.text()
    # Lower the rate and go on from the last finite point.
    view.control("learning_rate").setValue(0.001)
    steps = h.steps
    view.commands["step_batch"].trigger()
    idle(qtbot, view)
    assert h.steps == steps + 1
    assert np.isfinite(h.current).all()


def test_clicking_go_back_leaves_the_sidebar_where_it_was(qtbot, view):
    """The button goes once clicked: the keyboard must not fall to the next field down, which scrolled the
    sidebar under the mouse (a student's next click landed in Epochs)."""
    view.set_control("loss", "mse")
    view.control("learning_rate").setValue(5)
    view.speed.setValue(view.speed.maximum())
    view.commands["run"].trigger()
    qtbot.waitUntil(lambda: not view.controller.running and view.go_back_button.isVisible(), timeout=10_000)
    bar = view.findChild(SidebarScroll).verticalScrollBar()
    assert bar.maximum() > 0  # (the sidebar scrolls at this size)
    before = bar.value()
    qtbot.mouseClick(view.go_back_button, Qt.MouseButton.LeftButton)
    idle(qtbot, view)
    assert view.model.history.steps == 0 and not view.go_back_button.isVisible()
    assert bar.value() == before
    assert view.control("learning_rate").hasFocus()  # what to change next


def test_typed_kernel_and_bias_start_there(qtbot, view):
    view.kernel_edit.setValue(0.25)
    view.bias_edit.setValue(-0.5)
    assert np.array_equal(view.model.history.current, [0.25, -0.5])
    assert view.model.history.steps == 0


def test_reset_returns_to_the_last_start(qtbot, view):
    click_surface(qtbot, view, 0.9, 0.3)
    start = view.model.history.current.copy()
    view.commands["step_epoch"].trigger()
    idle(qtbot, view)
    assert not np.array_equal(view.model.history.current, start)
    view.commands["reset"].trigger()
    assert np.array_equal(view.model.history.current, start)
    assert view.model.history.steps == 0


def test_random_init_draws_from_the_next_seed(view):
    seed = view.control("seed").value()
    view.commands["random_init"].trigger()
    assert view.control("seed").value() == seed + 1
    k, b = view.model.history.current
    assert -np.sqrt(3) <= k <= np.sqrt(3) and b == 0.0
    expected = Experiment(load_builtin("download-time"), replace(view.model.settings, init=None)).trainer.params
    assert np.array_equal(view.model.history.current, expected)


def test_loss_change_recomputes_the_surface(qtbot, view):
    before = view.surface.image.image.copy()
    view.set_control("loss", "mse")
    qtbot.waitUntil(lambda: not np.array_equal(view.surface.image.image, before), timeout=300)
    star = view.surface.optimum.getData()
    opt = view.model.experiment.stats.optimum()
    assert star[0][0] == pytest.approx(opt[0]) and star[1][0] == pytest.approx(opt[1])


def test_closing_during_a_run_stops_the_worker(qtbot):
    for _ in range(3):
        w = MainWindow()
        w.show()
        view = w.views[0]
        view.control("epochs").setValue(1_000_000)
        view.speed.setValue(view.speed.maximum())
        view.commands["run"].trigger()
        qtbot.waitUntil(lambda view=view: view.model.history.steps > 10, timeout=5000)
        w.close()
        assert not view.controller.thread_running


def test_unit_enum_round_trips():
    assert Unit("batch") is Unit.BATCH


def test_enter_in_a_field_gives_the_keys_back_to_training(qtbot, window, view):
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    view.control("learning_rate").setFocus()
    view.control("learning_rate").lineEdit().selectAll()
    qtbot.keyClicks(view.control("learning_rate").lineEdit(), "0.02")
    qtbot.keyClick(view.control("learning_rate").lineEdit(), Qt.Key.Key_Return)
    assert view.control("learning_rate").value() == 0.02
    assert not view.control("learning_rate").hasFocus()
    qtbot.keyClick(window.focusWidget() or window, Qt.Key.Key_Space)
    idle(qtbot, view)
    assert view.model.history.steps == 1 and view.model.history.last_step.learning_rate == 0.02


def test_frame_the_path_shows_a_point_far_off_the_map(view):
    view.start_at(40.0, -25.0)
    k_lo, k_hi, b_lo, b_hi = view.surface.visible_range()
    assert not (k_lo <= 40.0 <= k_hi)
    view.commands["frame"].trigger()
    k_lo, k_hi, b_lo, b_hi = view.surface.visible_range()
    assert k_lo <= 40.0 <= k_hi and b_lo <= -25.0 <= b_hi
    opt = view.model.experiment.stats.optimum()
    assert k_lo <= opt[0] <= k_hi and b_lo <= opt[1] <= b_hi


def test_after_zooming_the_map_shows_what_a_fresh_map_would(qtbot, view):
    """Four scrolls over the map, 0.1 s apart: 300 ms after the last, the picture is the one a map computed
    afresh for that range gives (no stale, blocky piece of the old picture, no isolines of another range)."""
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    viewport = view.surface.graphics.viewport()
    pos = QPointF(viewport.width() * 0.4, viewport.height() * 0.5)
    for _ in range(4):
        event = QWheelEvent(pos, viewport.mapToGlobal(pos), QPoint(0, 0), QPoint(0, 120), Qt.MouseButton.NoButton,
                            Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(viewport, event)
        qtbot.wait(100)
    qtbot.wait(300)
    shown = view.surface.grab().toImage()
    view.recompute_surface()
    qtbot.wait(50)
    assert view.surface.grab().toImage() == shown


def test_a_change_of_loss_starts_a_marked_segment_and_no_stale_batch_loss(qtbot, view):
    for _ in range(4):
        view.commands["step_batch"].trigger()
        idle(qtbot, view)
    assert view.readouts.text("lossValue") != "–"
    view.set_control("loss", "mse")  # MAE until now: its losses are not drawn under an MSE axis
    view.refresh()
    assert view.readouts.text("lossValue") == "–"  # the last batch's MAE is not an MSE
    x, _ = view.loss_panel.batch.getData()
    assert (x is None or len(x) == 0) and view.loss_panel.change.isVisible()
    assert view.loss_panel.change.label.format == "◂ MAE until here" and view.loss_panel.change.value() == 4.5
    view.commands["step_batch"].trigger()
    idle(qtbot, view)
    x, y = view.loss_panel.batch.getData()
    assert list(x) == [5] and y[0] == pytest.approx(np.log10(view.model.history.batch_loss[-1]))  # a log axis
    assert float(view.readouts.text("lossValue")) == pytest.approx(view.model.history.batch_loss[-1], rel=1e-4)


def test_reset_frames_the_loss_axis_afresh(qtbot, view):
    view.set_control("loss", "mse")
    view.control("learning_rate").setValue(10)
    view.speed.setValue(view.speed.maximum())
    view.commands["run"].trigger()
    qtbot.waitUntil(lambda: not view.controller.busy, timeout=10_000)
    view.commands["reset"].trigger()
    assert view.loss_panel.plot.getViewBox().autoRangeEnabled()[1]


def test_a_new_optimizers_default_rate_is_said(qtbot, view):
    view.commands["step_batch"].trigger()
    idle(qtbot, view)
    view.set_control("optimizer", "adam")
    assert view.model.settings.learning_rate == 0.001 == view.control("learning_rate").value()
    text = view.message.text()
    assert view.message.isVisibleTo(view) and "Adam" in text and "0.001" in text and "0.01" in text
