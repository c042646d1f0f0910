"""Regression tests for the faults the monkey and the stress tests found, one each, made deterministic.

Each names how it was found (the monkey's seed and action number where it was the monkey).
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from gui_stress import no_modal_dialogs

import fitscope.gui.worker as worker
from fitscope.engine.data import load_builtin
from fitscope.engine.trainer import Phase
from fitscope.gui.app import MainWindow
from fitscope.gui.models.surface import drawn_init
from fitscope.gui.views.boston_view import BostonView
from fitscope.gui.views.surface_view import SurfaceView


@pytest.fixture
def surface(qtbot):
    view = SurfaceView(dataset=load_builtin("download-time"))
    qtbot.addWidget(view)
    view.show()
    yield view
    view.shutdown()


def idle(qtbot, view, timeout=10_000):
    qtbot.waitUntil(lambda: not view.controller.busy, timeout=timeout)


def test_random_init_after_the_largest_seed_starts_again_at_0(surface):
    """Monkey seed 3, action #593 (and seed 4, #213): Random init with the seed at its maximum raised
    OverflowError in the slot (the spin box cannot hold 2**31)."""
    surface.control("seed").setValue(surface.control("seed").maximum())
    surface.commands["random_init"].trigger()
    assert surface.control("seed").value() == 0
    assert np.array_equal(surface.model.history.current, drawn_init(0))
    assert surface.model.settings.init == drawn_init(0)


def test_a_weight_beyond_a_billion_is_shown_as_it_is(qtbot, surface):
    """Monkey seed 8, action #300: the kernel and bias boxes stopped at ±1e9, so a run that had carried the
    kernel to 1.45e15 (not yet counted as divergent) showed 1e9."""
    surface.set_control("loss", "mse")
    surface.control("learning_rate").setValue(1.0)
    surface.kernel_edit.setValue(1e9)
    assert surface.model.history.current[0] == 1e9  # a start typed at the old limit
    for _ in range(3):
        surface.commands["step_batch"].trigger()
        idle(qtbot, surface)
        if surface.model.history.diverged is not None:
            break
    k, b = surface.model.history.current
    assert abs(k) > 1e9 or abs(b) > 1e9  # training went past the old limit before stopping
    assert surface.kernel_edit.value() == pytest.approx(k, rel=1e-15, abs=6e-7)
    assert surface.bias_edit.value() == pytest.approx(b, rel=1e-15, abs=6e-7)


def test_turning_normalization_off_draws_the_path_in_the_new_pair(qtbot):
    """Monkey seed 7, action #175: after the slice moved to the raw features' default pair, the start point
    and path were still those of the previous pair of parameters until the next redraw."""
    view = BostonView(dataset=load_builtin("boston-housing"))
    qtbot.addWidget(view)
    view.show()
    try:
        before = view.slice.pair
        view.control("normalize").setChecked(False)
        i, j = view.slice.pair
        assert (i, j) != before
        x, y = view.slice_panel.current.getData()
        assert (x[0], y[0]) == (view.model.history.current[i], view.model.history.current[j])
        px, py = view.slice_panel.path.getData()
        params = view.model.history.params
        assert np.array_equal(px, params[:, i]) and np.array_equal(py, params[:, j])
    finally:
        view.shutdown()


def test_a_change_is_never_taken_by_the_trainer_being_replaced(qtbot, surface, monkeypatch):
    """Found by the monkey's settings invariant (the trainer trains with what the controls show): a Run's
    request finishing in the worker after a new start took the learning rate meant for the new trainer, which
    then trained at the old rate while the box showed the new one. Made deterministic by holding the worker
    between its stop check and its next batch."""
    in_sleep, go, armed = threading.Event(), threading.Event(), threading.Event()

    def give_way(*_, **__) -> None:  # where the worker waits for the GUI thread between two slices of a run
        if armed.is_set():
            armed.clear()
            in_sleep.set()
            go.wait(5)

    monkeypatch.setattr(worker, "give_way", give_way)
    surface.speed.setValue(surface.speed.maximum())
    surface.control("epochs").setValue(1_000_000)
    surface.commands["run"].trigger()
    qtbot.waitUntil(lambda: surface.model.history.steps > 3, timeout=5000)
    armed.set()
    assert in_sleep.wait(5)
    surface.start_at(0.5, 0.5)  # a click on the surface: a new trainer, the old request told to stop
    surface.control("learning_rate").setValue(0.0421)  # … and a new rate, for the new trainer
    go.set()
    idle(qtbot, surface)
    surface.commands["step_batch"].trigger()
    idle(qtbot, surface)
    assert surface.model.history.last_step.learning_rate == 0.0421


def test_a_change_after_a_new_start_reaches_only_the_new_trainer(qtbot):
    view = SurfaceView(dataset=load_builtin("download-time"))
    qtbot.addWidget(view)
    try:
        old = view.model.trainer
        view.start_at(0.5, 0.5)
        view.control("learning_rate").setValue(0.0421)
        new = view.model.trainer
        assert new is not old
        new.apply_requests()
        old.apply_requests()
        assert new.optimizer.learning_rate == 0.0421 and old.optimizer.learning_rate == 0.01
    finally:
        view.shutdown()


def test_a_session_saved_mid_batch_after_a_new_batch_size_opens(qtbot, tmp_path):
    """Monkey seed 111, action #1265: saved between two phases of a batch after the batch size was changed,
    a session could not be opened again ("the batch under way does not follow from the trainer's state"):
    the batch under way was replayed with the new size."""
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    try:
        view = next(v for v in window.views if isinstance(v, SurfaceView))
        for _ in range(2):
            view.commands["step_phase"].trigger()
            idle(qtbot, view)
        shown_indices = view.model.history.last_step.indices.copy()
        view.control("batch_size").setValue(3)  # applies from the next batch
        path = tmp_path / "mid-batch.fitscope.json"
        with no_modal_dialogs(iter([str(path), str(path)])) as shown:
            window.files.save_as_action.trigger()
            window.files.open_action.trigger()
        assert shown == []
        view = next(v for v in window.views if isinstance(v, SurfaceView))
        view.commands["step_phase"].trigger()  # the next phase of the same batch
        idle(qtbot, view)
        step = view.model.history.last_step
        assert step.phase is Phase.LOSS and np.array_equal(step.indices, shown_indices)
        view.commands["step_batch"].trigger()  # the rest of it, then a batch of the new size
        idle(qtbot, view)
        view.commands["step_batch"].trigger()
        idle(qtbot, view)
        assert len(view.model.history.last_step.indices) == 3
    finally:
        window.shutdown()


def test_the_backprop_example_takes_a_new_learning_rate_at_once(qtbot):
    """Monkey seed 7, action #225 (the invariant: the backpropagation tab's example has the loss-surface
    tab's weights, rate and loss): after a new rate (or optimizer) on the loss-surface tab, the
    backpropagation tab's update still used the old rate until the next step."""
    window = MainWindow()
    qtbot.addWidget(window)
    try:
        surface = next(v for v in window.views if isinstance(v, SurfaceView))
        backprop = next(v for v in window.views if type(v).__name__ == "BackpropView")
        surface.control("learning_rate").setValue(0.25)
        assert surface.sample.learning_rate == 0.25
        assert backprop.example.learning_rate == 0.25
        surface.set_control("optimizer", "adam")  # tfjs's default rate: 0.001
        assert backprop.example.learning_rate == surface.control("learning_rate").value() == 0.001
    finally:
        window.shutdown()


def test_a_long_mlp_run_keeps_a_bounded_trajectory_and_goes_on(qtbot, monkeypatch):
    """Found measuring the Boston view under a long run: the two-hidden-layer MLP at batch size 1 stored
    26 kB of parameters a step, 1.3 GB of memory after 13 s, with up to 26.6 million steps to go (100,000
    epochs). Then a run paused when its trajectory reached a budget, at a step that depended on timing. Now
    the trajectory keeps at most the budget's rows (made small here), thinned evenly, and training goes on
    without a message."""
    import fitscope.engine.run as run

    view = BostonView(dataset=load_builtin("boston-housing"))
    qtbot.addWidget(view)
    view.show()
    try:
        view.control("model").setCurrentIndex(2)
        n_params = view.model.experiment.model.n_params
        monkeypatch.setattr(run, "HISTORY_BUDGET_BYTES", 200 * 8 * (n_params + 1))  # 200 rows
        view.reset()
        view.control("batch_size").setValue(1)
        view.control("epochs").setValue(3)
        view.commands["run"].trigger()
        qtbot.waitUntil(lambda: not view.controller.busy, timeout=60_000)
        h = view.model.history
        assert h.steps == 3 * len(view.model.experiment.y)  # every epoch trained: nothing stopped it
        assert len(h.params) <= 200 and h.param_steps[0] == 0 and h.param_steps[-1] == h.steps
        assert h.thinned and not view.message.isVisibleTo(view)
    finally:
        view.shutdown()


def test_a_failure_in_the_worker_ends_the_request_and_the_tab_goes_on(qtbot, monkeypatch):
    """Whatever raises in the training thread ends that request with a one-line message in the tab; the tab
    is not left busy, and Step and Run work again."""
    from fitscope.engine.trainer import Trainer

    view = SurfaceView(dataset=load_builtin("download-time"))
    qtbot.addWidget(view)
    view.show()
    try:
        real, calls = Trainer.run, []

        def failing(self):
            calls.append(1)
            if len(calls) == 2:
                raise FloatingPointError("an injected failure")
            yield from real(self)

        monkeypatch.setattr(Trainer, "run", failing)
        stops = []
        view.controller.stopped.connect(lambda why, message: stops.append((why, message)))
        view.commands["step_batch"].trigger()
        qtbot.waitUntil(lambda: not view.controller.busy, timeout=10_000)
        view.commands["step_batch"].trigger()
        qtbot.waitUntil(lambda: len(stops) == 2, timeout=10_000)
        assert stops[1] == ("error", "FloatingPointError: an injected failure")
        assert not view.controller.busy and view.message.isVisibleTo(view)
        text = view.message.text()
        assert "an injected failure" in text and "\n" not in text
        view.commands["step_batch"].trigger()  # the next request starts afresh
        qtbot.waitUntil(lambda: len(stops) == 3, timeout=10_000)
        assert stops[2][0] == "step" and view.model.history.steps == 2
        assert not view.message.isVisibleTo(view)
        view.control("epochs").setValue(3)
        view.commands["run"].trigger()
        qtbot.waitUntil(lambda: not view.controller.busy, timeout=10_000)
        assert stops[-1][0] == "done" and len(view.model.history.epochs) == 3
    finally:
        view.shutdown()


def test_a_failure_after_the_trainer_moved_on_starts_the_run_afresh_and_says_so(qtbot, monkeypatch):
    """A failure between a step of the trainer and its report would leave the history behind the trainer:
    the run starts again from its start point rather than show numbers that are no longer true."""
    from fitscope.engine.trainer import Trainer

    view = SurfaceView(dataset=load_builtin("download-time"))
    qtbot.addWidget(view)
    view.show()
    try:
        real = Trainer.run

        def failing_after_a_step(self):
            for report in real(self):
                if report.kind == "batch" and report.step == 3:
                    raise RuntimeError("lost on the way")  # the trainer took step 3; nobody saw its report
                yield report

        monkeypatch.setattr(Trainer, "run", failing_after_a_step)
        for _ in range(3):
            view.commands["step_batch"].trigger()
            qtbot.waitUntil(lambda: not view.controller.busy, timeout=10_000)
        assert "started again from its start point" in view.message.text()
        assert view.model.in_step() and view.model.history.steps == 0
        monkeypatch.setattr(Trainer, "run", real)
        view.commands["step_batch"].trigger()
        qtbot.waitUntil(lambda: not view.controller.busy, timeout=10_000)
        assert view.model.history.steps == 1 and view.model.in_step()
    finally:
        view.shutdown()


def test_lowering_epochs_below_those_done_leaves_steps_by_hand_working(qtbot):
    view = SurfaceView(dataset=load_builtin("download-time"))
    qtbot.addWidget(view)
    view.show()
    try:
        for _ in range(5):
            view.commands["step_epoch"].trigger()
            qtbot.waitUntil(lambda: not view.controller.busy, timeout=10_000)
        view.control("epochs").setValue(2)
        view.commands["step_epoch"].trigger()
        qtbot.waitUntil(lambda: not view.controller.busy, timeout=10_000)
        assert len(view.model.history.epochs) == 6 and view.model.in_step()
    finally:
        view.shutdown()


def test_changing_the_races_epochs_while_it_runs_keeps_every_racer_in_step(qtbot):
    from fitscope.gui.views.race_view import RaceView

    view = RaceView(dataset=load_builtin("download-time"))
    qtbot.addWidget(view)
    view.show()
    try:
        view.control("batch_size").setValue(1)
        view.speed.setValue(view.speed.maximum())
        view.control("epochs").setValue(1_000_000)
        stops = []
        view.controller.stopped.connect(lambda why, message: stops.append(why))
        view.commands["run"].trigger()
        for k in range(60):
            done = view.model.epochs_done
            view.control("epochs").setValue(max(1, done + (k % 3)))  # at, just above, or below the epochs done
            qtbot.wait(15)
            if not view.controller.running:
                view.commands["run"].trigger()
        view.controller.pause()
        qtbot.waitUntil(lambda: not view.controller.busy, timeout=10_000)
        assert "error" not in stops and view.model.in_step()
    finally:
        view.shutdown()
