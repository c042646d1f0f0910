"""The learning-rate sweep dialog, driven as a user would: Training ▸ Learning-rate sweep…, a range, Start, the plot
of final losses with the diverged rates and the stability limit, Cancel, a click on a point, the CSV."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox

from fitscope.engine.experiment import Experiment
from fitscope.engine.sweep import SWEEP_HEADER, Sweep, log_rates
from fitscope.gui.app import MainWindow
from fitscope.gui.views.backprop_view import BackpropView
from fitscope.gui.views.base import TrainingView
from fitscope.gui.views.boston_view import BostonView
from fitscope.gui.views.race_view import RaceView
from fitscope.gui.views.surface_view import SurfaceView

#: The longest a sweep may take to stop once asked (a bound for the waits below, not a measurement).
STOP_MS = 3000


@pytest.fixture
def window(qtbot):
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1400, 880)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.tabs.setCurrentIndex(0)  # the window saves its tab when it closes: leave the next test on the first one


def tab(window, kind: type) -> TrainingView:
    view = next(v for v in window.views if isinstance(v, kind))
    window.tabs.setCurrentWidget(view)
    return view


def sweep_action(window):
    return next((a for a in window.training_menu.actions() if a.objectName() == "sweepAction"), None)


def open_sweep(qtbot, window, view) -> QDialog:
    """Training ▸ Learning-rate sweep… on ``view``'s tab."""
    window.tabs.setCurrentWidget(view)
    action = sweep_action(window)
    assert action is not None and action.isEnabled()
    action.trigger()
    dialog = next(d for d in window.findChildren(QDialog, "sweepDialog") if d.view is view)
    assert dialog.isVisible()
    qtbot.waitExposed(dialog)
    return dialog


def set_range(dialog, lo: str, hi: str, num: int, epochs: int | None = None) -> None:
    dialog.lr_min.setText(lo)
    dialog.lr_max.setText(hi)
    dialog.num.setValue(num)
    if epochs is not None:
        dialog.epochs.setValue(epochs)


def run_sweep(qtbot, dialog, timeout: int = 60_000) -> None:
    """Press Start and wait until the sweep has run every rate."""
    assert dialog.start_button.isEnabled(), dialog.message.text()
    with qtbot.waitSignal(dialog.sweepEnded, timeout=timeout) as ended:
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    assert ended.args == ["done"], dialog.message.text()
    assert not dialog.running


@pytest.fixture
def surface(window) -> SurfaceView:
    view = tab(window, SurfaceView)
    view.set_control("loss", "mse")  # full batch: the data's 20 rows in one batch of the default 32
    return view


# --------------------------------------------------------------------------- the menu
def test_the_training_menu_offers_the_sweep_on_training_tabs_only(window):
    for view in window.views:
        window.tabs.setCurrentWidget(view)
        action = sweep_action(window)
        if isinstance(view, (SurfaceView, BostonView)):
            assert action is not None and action.isEnabled(), view.title
            assert action.text().replace("&", "") == "Learning-rate sweep…"
        elif isinstance(view, RaceView):
            assert action is not None and not action.isEnabled()
            assert "race" in action.toolTip() and "Loss surface" in action.toolTip()
        elif isinstance(view, BackpropView):
            assert action is None


def test_each_tab_has_its_own_dialog_with_sensible_defaults(qtbot, window, surface):
    dialog = open_sweep(qtbot, window, surface)
    assert "Loss surface" in dialog.windowTitle()
    assert "download-time" in dialog.setup_label.text() and "MSE" in dialog.setup_label.text()
    lo, hi = float(dialog.lr_min.text()), float(dialog.lr_max.text())
    assert lo < 0.0464 < hi  # around the stability limit of the data
    assert 20 <= dialog.num.value() <= 60
    assert dialog.epochs.value() == surface.model.settings.epochs
    assert dialog.start_button.isEnabled() and not dialog.message.isVisible()
    boston = open_sweep(qtbot, window, tab(window, BostonView))
    assert boston is not dialog and "Boston Housing" in boston.windowTitle()
    assert "validation split 0.2" in boston.setup_label.text()


# --------------------------------------------------------------------------- the stability limit
def limit_by_eigvalsh(X: np.ndarray) -> float:
    Z = np.column_stack([X, np.ones(len(X))])
    return 2.0 / float(np.linalg.eigvalsh(2.0 / len(Z) * Z.T @ Z)[-1])


@pytest.mark.parametrize("kind, lo, hi, num", [(SurfaceView, "0.001", "1", 40), (BostonView, "0.01", "1", 40)])
def test_full_batch_divergence_lies_within_one_grid_step_of_the_drawn_limit(qtbot, window, kind, lo, hi, num):
    view = tab(window, kind)
    if kind is SurfaceView:
        view.set_control("loss", "mse")
    rows = len(view.model.experiment.y)
    view.set_control("batch_size", rows)  # full batch: the limit is exact
    dialog = open_sweep(qtbot, window, view)
    set_range(dialog, lo, hi, num, epochs=200)
    run_sweep(qtbot, dialog)

    limit = dialog.plot.limit_drawn()
    assert limit == pytest.approx(limit_by_eigvalsh(view.model.experiment.X), rel=1e-9)
    if kind is SurfaceView:
        assert limit == pytest.approx(0.0464, abs=5e-5)
    crosses, _ = dialog.plot.diverged_points()
    converged, _ = dialog.plot.training_points()
    first = crosses.min()
    stable = converged[converged < first].max()
    step = (float(hi) / float(lo)) ** (1 / (num - 1))
    assert stable < limit < first
    assert first / limit <= step and limit / stable <= step
    assert np.all(converged < limit) and np.all(crosses > limit)  # full-batch descent: a sharp threshold
    caption = dialog.caption.text()
    assert f"lies between neighbouring rates of the sweep, {stable:.3g}, the largest rate that converged" in caption


# --------------------------------------------------------------------------- what is drawn
def test_diverged_rates_are_crosses_along_the_top_edge(qtbot, window, surface):
    dialog = open_sweep(qtbot, window, surface)
    set_range(dialog, "0.001", "1", 30, epochs=100)
    run_sweep(qtbot, dialog)
    diverged = [r for r in dialog.results if r.diverged]
    assert diverged and len(diverged) < len(dialog.results)
    x, y = dialog.plot.diverged_points()
    assert list(x) == [r.learning_rate for r in diverged]
    losses = dialog.plot.training_points()[1]
    bottom, top = dialog.plot.y_range()
    assert np.all(y > losses.max()) and np.all(y < top)  # above every loss, inside the plot
    assert np.all(y > max(dialog.plan.start_loss, losses.max()))
    assert len(dialog.plot.training_points()[0]) + len(x) == len(dialog.results)
    assert "diverged" in dialog.plot.legend.names()
    assert "✕" in dialog.caption.text()


def test_partial_results_show_as_they_come_and_cancel_keeps_them(qtbot, window, surface):
    dialog = open_sweep(qtbot, window, surface)
    set_range(dialog, "0.0001", "0.01", 30, epochs=40_000)  # every rate converges, slowly: a long sweep
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    assert dialog.running and dialog.cancel_button.isEnabled() and not dialog.start_button.isEnabled()
    qtbot.waitUntil(lambda: len(dialog.plot.training_points()[0]) >= 2, timeout=60_000)
    assert dialog.running  # drawn while the sweep goes on
    with qtbot.waitSignal(dialog.sweepEnded, timeout=STOP_MS) as ended:
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert ended.args == ["cancelled"]
    assert not dialog.running and dialog.start_button.isEnabled()
    kept = len(dialog.results)
    assert 2 <= kept < 30
    assert len(dialog.plot.training_points()[0]) == kept
    assert f"after {kept} of 30 rates" in dialog.message.text()
    assert dialog.export_button.isEnabled()


def test_closing_the_dialog_mid_sweep_stops_its_thread(qtbot, window, surface):
    dialog = open_sweep(qtbot, window, surface)
    set_range(dialog, "0.0001", "0.01", 30, epochs=40_000)
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(dialog.results) >= 1, timeout=60_000)
    with qtbot.waitSignal(dialog.sweepEnded, timeout=STOP_MS) as ended:
        dialog.close()
        assert not dialog.running  # the thread has ended when close returns
    assert ended.args == ["cancelled"]
    assert dialog.results and "closed" in dialog.message.text()
    open_sweep(qtbot, window, surface)  # opened again: the results so far are still there
    assert len(dialog.plot.training_points()[0]) == len(dialog.results)


def test_closing_the_window_mid_sweep_stops_its_thread(qtbot, window, surface):
    dialog = open_sweep(qtbot, window, surface)
    set_range(dialog, "0.0001", "0.01", 30, epochs=40_000)
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(dialog.results) >= 1, timeout=60_000)
    window.close()
    assert not dialog.running  # (and the test fixture checks that no QThread is left running)


# --------------------------------------------------------------------------- choosing a rate
def click_point(qtbot, dialog, rate: float, loss: float) -> None:
    pos = dialog.plot.widget_pos_of(rate, loss)
    qtbot.mouseClick(dialog.plot.widget.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def test_clicking_a_point_sets_the_tabs_learning_rate(qtbot, window, surface):
    dialog = open_sweep(qtbot, window, surface)
    set_range(dialog, "0.001", "1", 30, epochs=50)
    run_sweep(qtbot, dialog)
    rates, losses = dialog.plot.training_points()
    k = len(rates) // 2
    assert rates[k] != surface.model.settings.learning_rate
    click_point(qtbot, dialog, rates[k], losses[k])
    assert surface.model.settings.learning_rate == rates[k]
    assert surface.control("learning_rate").value() == rates[k]  # the tab's own field shows it
    assert "now trains with learning rate" in dialog.chosen_label.text()

    crosses, tops = dialog.plot.diverged_points()  # a rate that diverged can be tried too
    click_point(qtbot, dialog, crosses[0], tops[0])
    assert surface.model.settings.learning_rate == crosses[0]
    assert "diverged in the sweep" in dialog.chosen_label.text()

    qtbot.mouseClick(dialog.best_button, Qt.MouseButton.LeftButton)
    lowest = min((r for r in dialog.results if not r.diverged), key=lambda r: r.final_loss)
    assert surface.model.settings.learning_rate == lowest.learning_rate


def test_a_click_far_from_every_point_changes_nothing(qtbot, window, surface):
    dialog = open_sweep(qtbot, window, surface)
    set_range(dialog, "0.001", "0.01", 20, epochs=20)
    run_sweep(qtbot, dialog)
    rate = surface.model.settings.learning_rate
    bottom, top = dialog.plot.y_range()
    click_point(qtbot, dialog, 0.003, math.sqrt(bottom * top) * 50)  # high above the curve
    assert surface.model.settings.learning_rate == rate


# --------------------------------------------------------------------------- bad input
BAD_RANGES = [
    ("0.1", "0.01", 30, "must be below the largest"),
    ("0.1", "0.1", 30, "must be below the largest"),
    ("0", "1", 30, "positive number"),
    ("-0.01", "1", 30, "positive number"),
    ("fast", "1", 30, "positive number"),
    ("", "1", 30, "positive number"),
    ("0.001", "nan", 30, "positive number"),
    ("0.001", "1", 19, "from 20 to 60"),
    ("0.001", "1", 61, "from 20 to 60"),
    ("0.001", "5000", 30, "at most 1000"),
]


def test_a_bad_range_disables_start_with_one_line(qtbot, window, surface):
    dialog = open_sweep(qtbot, window, surface)
    for lo, hi, num, says in BAD_RANGES:
        set_range(dialog, lo, hi, num)
        case = (lo, hi, num)
        assert not dialog.start_button.isEnabled(), case
        assert dialog.message.isVisible() and says in dialog.message.text(), case
        assert "\n" not in dialog.message.text()
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
        assert not dialog.running and not dialog.results
        set_range(dialog, "0.001", "1", 30)  # put right: the message goes, Start comes back
        assert dialog.start_button.isEnabled() and not dialog.message.isVisible(), case


def test_a_sweep_the_engine_refuses_is_one_line_and_the_dialog_stays_usable(qtbot, window, surface, monkeypatch):
    from fitscope.gui.dialogs import sweep as sweep_dialog

    def refuse(*args, **kwargs):
        raise ValueError("a sweep needs at least one epoch per rate, not 0\n(second line)")

    dialog = open_sweep(qtbot, window, surface)
    set_range(dialog, "0.001", "1", 20, epochs=10)
    run_sweep(qtbot, dialog)
    kept = list(dialog.results)
    monkeypatch.setattr(sweep_dialog, "Sweep", refuse)
    with qtbot.waitSignal(dialog.sweepEnded, timeout=STOP_MS) as ended:
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    assert ended.args == ["error"]
    assert dialog.message.text() == ("The sweep could not run: a sweep needs at least one epoch per rate, not 0 "
                                     "(second line).")
    assert not dialog.running and dialog.start_button.isEnabled()
    assert dialog.results == kept  # the last sweep's results stay
    assert len(dialog.plot.training_points()[0]) + len(dialog.plot.diverged_points()[0]) == len(kept)
    monkeypatch.undo()
    run_sweep(qtbot, dialog)
    assert [r.final_loss for r in dialog.results] == [r.final_loss for r in kept]


# --------------------------------------------------------------------------- the CSV
def read_csv(path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_the_csv_export_matches_the_plot_and_the_engine(qtbot, window, tmp_path, monkeypatch):
    view = tab(window, BostonView)
    dialog = open_sweep(qtbot, window, view)
    set_range(dialog, "0.001", "10", 20, epochs=30)
    run_sweep(qtbot, dialog)
    path = tmp_path / "sweep.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), "CSV file (*.csv)"))
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    header, *rows = read_csv(path)
    assert header == list(SWEEP_HEADER)
    assert len(rows) == 20
    rates = [float(r[0]) for r in rows]
    assert rates == sorted(rates)
    kept = [r for r in rows if r[3] == "0"]
    diverged = [r for r in rows if r[3] == "1"]
    assert kept and diverged
    x, y = dialog.plot.training_points()
    assert [float(r[0]) for r in kept] == list(x) and [float(r[1]) for r in kept] == list(y)
    vx, vy = dialog.plot.validation_points()
    assert [float(r[0]) for r in kept] == list(vx) and [float(r[2]) for r in kept] == list(vy)
    assert [float(r[0]) for r in diverged] == list(dialog.plot.diverged_points()[0])

    # the same numbers as the engine's sweep (and so as `fitscope sweep --csv`) of the tab's setup
    run = view.model
    engine = Sweep(Experiment(run.dataset, run.settings), log_rates(0.001, 10, 20), epochs=30,
                   start=run.history.params[0])
    engine.run_all()
    assert rows == engine.csv_rows()


def test_an_export_that_cannot_be_written_is_one_line(qtbot, window, surface, tmp_path, monkeypatch):
    dialog = open_sweep(qtbot, window, surface)
    set_range(dialog, "0.001", "1", 20, epochs=10)
    run_sweep(qtbot, dialog)
    said = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *a, **k: (str(tmp_path / "missing" / "sweep.csv"), "CSV file (*.csv)"))
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: said.append(text))
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    assert len(said) == 1 and "\n" not in said[0] and "sweep.csv" in said[0]
    assert not (tmp_path / "missing").exists()
    assert len(dialog.results) == 20  # nothing lost


# --------------------------------------------------------------------------- following the tab
def test_the_dialog_follows_the_tabs_setup(qtbot, window, surface):
    dialog = open_sweep(qtbot, window, surface)
    set_range(dialog, "0.001", "1", 20, epochs=10)
    run_sweep(qtbot, dialog)
    surface.set_control("batch_size", 5)
    qtbot.waitUntil(lambda: "batches of 5 of 20 rows" in dialog.setup_label.text())
    assert "before it changed" in dialog.setup_label.text()  # the plot is of the setup swept then
    run_sweep(qtbot, dialog)
    assert "before it changed" not in dialog.setup_label.text()
    assert "only a reference" in dialog.caption.text()  # mini-batches: 2/λmax is the full batch's limit
