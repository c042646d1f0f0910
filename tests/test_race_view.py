"""The optimizer race tab, driven as a user would: pick racers, step and run them together, read the table."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from fitscope.engine.data import load_builtin
from fitscope.engine.experiment import Experiment
from fitscope.engine.race import steps_to_within
from fitscope.engine.trainer import StepReport
from fitscope.gui.app import MainWindow
from fitscope.gui.models.race import RACERS
from fitscope.gui.models.race_texts import COLUMNS
from fitscope.gui.views.race_view import RaceView


@pytest.fixture
def window(qtbot):
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1400, 880)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.tabs.setCurrentIndex(0)  # the window saves its tab when it closes: leave the next test on the first one


@pytest.fixture
def view(window) -> RaceView:
    v = next(v for v in window.views if isinstance(v, RaceView))
    window.tabs.setCurrentWidget(v)
    v.speed.setValue(v.speed.maximum())
    return v


def idle(qtbot, view, timeout=20_000):
    qtbot.waitUntil(lambda: not view.controller.busy, timeout=timeout)


def click_surface(qtbot, view, k, b):
    pos = view.surface.widget_pos_of(k, b)
    qtbot.mouseClick(view.surface.graphics.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def engine_alone(view, key, **changes):
    """The engine running one optimizer by itself with the view's seed, start and settings."""
    settings = replace(view.model.settings, optimizer=key, learning_rate=view.rates[key].value(), **changes)
    exp = Experiment(load_builtin("download-time"), settings)
    start = exp.trainer.params.copy()
    after = [r.params_after for r in exp.trainer.run() if isinstance(r, StepReport)]
    return np.vstack([start, *after])


def plain(html: str) -> str:
    """A text as the user reads it (markup and links dropped)."""
    return " ".join(re.sub(r"<[^>]+>", "", html.replace("<br>", " ")).split())


def cell(view, row, column) -> str:
    headers = [c.replace("\n", " ") for c in COLUMNS]
    assert view.table.horizontalHeaderItem(headers.index(column)).text().replace("\n", " ") == column
    return view.table.item(row, headers.index(column)).text()


def test_objects_are_named_for_tests_and_screen_readers(view):
    names = ["raceSurface", "raceLossCurve", "raceTable", "raceTolerance", "raceLoss", "raceBatchSize", "raceEpochs",
             "raceSeed", "stepBatchButton", "stepEpochButton", "runButton", "resetButton", "raceSpeed",
             "raceStartKernel", "raceStartBias"]
    names += [f"{key}Racer" for key in RACERS] + [f"{key}LearningRate" for key in RACERS]
    names += ["momentum_momentum", "rmsprop_rho", "rmsprop_momentum", "adam_beta1", "adam_beta2"]
    for name in names:
        widget = view.findChild(QWidget, name)
        assert widget is not None, name
        assert widget.accessibleName(), name


def test_tfjs_defaults_and_mse_by_default(view):
    assert [view.rates[k].value() for k in RACERS] == [0.01, 0.01, 0.001, 0.001]
    assert view.options["momentum"]["momentum"].value() == 0.9
    assert view.options["adam"]["beta2"].value() == 0.999
    assert view.control("loss").currentData() == "mse"
    assert view.table.rowCount() == 4
    assert view.surface.image.image is not None  # the map is drawn once the tab is shown


def test_each_trajectory_is_bit_for_bit_the_optimizer_alone(qtbot, view):
    view.control("batch_size").setValue(6)  # several shuffled batches an epoch: "the same batches" means something
    view.control("seed").setValue(5)
    view.control("epochs").setValue(4)
    view.rates["adam"].setValue(0.05)
    view.options["momentum"]["momentum"].setValue(0.8)
    click_surface(qtbot, view, 1.0, -0.5)
    view.commands["run"].trigger()
    qtbot.waitUntil(lambda: not view.controller.running, timeout=20_000)
    idle(qtbot, view)
    for key in RACERS:
        expected = engine_alone(view, key, momentum=0.8)  # the settings' momentum is used by "momentum" only
        got = view.trajectory(key)
        assert got.shape == (4 * 4 + 1, 2), key  # 20 rows in batches of 6: 4 steps an epoch
        assert np.array_equal(got, expected), key
    assert all(len(h.epochs) == 4 for h in view.model.histories)


def test_step_batch_and_epoch_move_every_racer_together(qtbot, view):
    view.control("batch_size").setValue(5)
    qtbot.keyClick(view, Qt.Key.Key_Space)
    idle(qtbot, view)
    assert [h.steps for h in view.model.histories] == [1, 1, 1, 1]
    batches = {tuple(h.last_step.indices) for h in view.model.histories}
    assert len(batches) == 1  # one seed: the same batch for all
    view.commands["step_epoch"].trigger()
    idle(qtbot, view)
    assert [h.steps for h in view.model.histories] == [4, 4, 4, 4]
    assert [len(h.epochs) for h in view.model.histories] == [1, 1, 1, 1]


def test_unticked_racers_stay_out_and_a_change_restarts_the_race(qtbot, view):
    view.commands["step_batch"].trigger()
    idle(qtbot, view)
    view.enabled["rmsprop"].setChecked(False)
    assert view.model.keys == ["sgd", "momentum", "adam"]
    assert view.table.rowCount() == 3 and len(view.losses.curves) == 3
    assert all(h.steps == 0 for h in view.model.histories)
    for key in RACERS:
        view.enabled[key].setChecked(False)
    assert view.table.rowCount() == 0 and not view.commands["run"].isEnabled()
    assert "at least one" in plain(view.text.text())
    view.enabled["adam"].setChecked(True)
    assert view.commands["run"].isEnabled()


def test_the_white_start_ring_rings_the_racers_dots_on_top_of_them(view):
    """The text says every racer starts at the white ring: before a race the four dots sit on it, and the ring
    was the dots' size and under them (a student saw only Adam's purple dot)."""
    ring = view.surface.start
    dots = [view.drawn(key)["dot"] for key in view.model.keys]
    assert all(ring.zValue() > dot.zValue() for dot in dots)
    assert all(ring.opts["size"] > dot.opts["size"] for dot in dots)
    assert "white ring" in view.text.text()


def test_a_click_on_the_surface_is_everyones_start(qtbot, view):
    click_surface(qtbot, view, -0.8, 0.6)
    px, py = view.surface.pixel_size()
    k, b = view.model.start
    assert abs(k + 0.8) <= px and abs(b - 0.6) <= abs(py)
    assert all(np.array_equal(h.current, [k, b]) for h in view.model.histories)
    view.commands["step_batch"].trigger()
    idle(qtbot, view)
    assert all(np.array_equal(h.params[0], [k, b]) for h in view.model.histories)


def settled_by_definition(path, optimum, tol):
    """The first step after which every later step is within ``tol`` (None if the last one is not), by brute
    force."""
    d = np.linalg.norm(path - optimum, axis=1)
    return next((s for s in range(len(d)) if (d[s:] <= tol).all()), None)


def test_table_says_where_each_racer_settled_first_touched_and_ends(qtbot, view):
    view.control("epochs").setValue(120)
    view.rates["adam"].setValue(0.05)
    view.commands["run"].trigger()
    qtbot.waitUntil(lambda: not view.controller.running, timeout=20_000)
    idle(qtbot, view)
    tol = view.control("tolerance").value()
    for row, key in enumerate(view.model.keys):
        path = view.trajectory(key)
        first = steps_to_within(path, view.model.optimum, tol)
        settled = settled_by_definition(path, view.model.optimum, tol)
        assert cell(view, row, "First touch") == ("never" if first is None else f"step {first}")
        assert cell(view, row, "Settled") == ("outside: did not settle" if settled is None
                                              else f"settled at step {settled}")
        exp = view.model.experiment
        loss = exp.loss.loss(exp.X[:, 0] * path[-1, 0] + path[-1, 1], exp.y)
        assert float(cell(view, row, "Training loss")) == pytest.approx(loss, rel=1e-4)
        distance = np.linalg.norm(path[-1] - view.model.optimum)
        assert float(cell(view, row, "Distance to optimum")) == pytest.approx(distance, rel=1e-2)
        assert cell(view, row, "Status") == ("winner" if key == "momentum" else "done: epoch limit")
    # A looser finish line is settled in earlier (or at the same step).
    row = view.model.keys.index("momentum")
    before = int(cell(view, row, "Settled").split()[-1])
    view.control("tolerance").setValue(0.2)
    after = settled_by_definition(view.trajectory("momentum"), view.model.optimum, 0.2)
    qtbot.waitUntil(lambda: cell(view, row, "Settled") == f"settled at step {after}", timeout=5000)  # next frame
    assert after < before
    assert "Momentum wins" in plain(view.text.text())
    # The loss curves: one per racer, the start and every step.
    for key in view.model.keys:
        x, _ = view.losses.curves[key].getData()
        assert len(x) == view.model.histories[view.model.keys.index(key)].steps + 1


def test_a_diverging_racer_is_marked_and_the_others_go_on(qtbot, view):
    view.control("epochs").setValue(30)
    view.rates["sgd"].setValue(5.0)
    view.commands["run"].trigger()
    qtbot.waitUntil(lambda: not view.controller.running, timeout=20_000)
    idle(qtbot, view)
    sgd = view.model.histories[view.model.keys.index("sgd")]
    assert sgd.diverged is not None and np.isfinite(sgd.current).all()
    assert cell(view, 0, "Status").startswith("diverged at step")
    assert view.table.item(0, 0).background().color().name() == "#fdecea"
    assert len(view.marker(view.model.keys[0])) == 1  # ✕ at the last finite point
    for key in ("momentum", "rmsprop", "adam"):
        assert len(view.model.histories[view.model.keys.index(key)].epochs) == 30
    assert "SGD diverged" in plain(view.text.text())


def test_mae_surface_and_optimum(qtbot, view):
    view.set_control("loss", "mae")
    assert view.model.loss.name == "mae"
    star = view.surface.optimum.getData()
    assert (star[0][0], star[1][0]) == (view.model.optimum[0], view.model.optimum[1])
    view.commands["step_batch"].trigger()
    idle(qtbot, view)
    assert all(h.steps == 1 for h in view.model.histories)


def test_closing_during_a_race_stops_the_worker(qtbot):
    w = MainWindow()
    w.show()
    view = next(v for v in w.views if isinstance(v, RaceView))
    view.control("epochs").setValue(1_000_000)
    view.speed.setValue(view.speed.maximum())
    view.commands["run"].trigger()
    qtbot.waitUntil(lambda: view.model.histories[0].steps > 10, timeout=5000)
    w.close()
    assert not view.controller.thread_running


def test_the_speed_control_paces_the_race(qtbot, view):
    view.speed.setValue(3)  # 10 batches a second
    assert view.speed_label.text() == "10 batches/s"
    view.commands["run"].trigger()
    qtbot.wait(450)
    view.commands["run"].trigger()  # pause
    qtbot.waitUntil(lambda: not view.controller.running, timeout=3000)
    idle(qtbot, view)
    steps = [h.steps for h in view.model.histories]
    assert len(set(steps)) == 1 and 1 <= steps[0] <= 8  # about 5 at ten a second, all together
