"""The backpropagation view, driven as a user would: the book's example, edge by edge, and following training."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from fitscope.engine.numbers import number, pretty
from fitscope.engine.trainer import Phase
from fitscope.gui.app import MainWindow
from fitscope.gui.views.backprop_view import BackpropView
from fitscope.gui.views.surface_view import SurfaceView


def _view(window, cls):
    return next(v for v in window.views if isinstance(v, cls))


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
def view(window) -> BackpropView:
    v = _view(window, BackpropView)
    window.tabs.setCurrentWidget(v)
    return v


@pytest.fixture
def surface(window) -> SurfaceView:
    return _view(window, SurfaceView)


def idle(qtbot, view, timeout=10_000):
    qtbot.waitUntil(lambda: not view.controller.busy, timeout=timeout)


def plain(text: str) -> str:
    """Displayed text with ASCII minus signs, to compare with numbers."""
    return text.replace("−", "-")


def test_objects_are_named_for_tests_and_screen_readers(view):
    names = ["backpropGraph", "backpropRule", "backpropSteps", "backpropUpdate", "backpropText", "forwardButton",
             "backwardStepButton", "resetPassButton", "applyUpdateButton", "bookExampleButton", "followTrainingButton",
             "exampleSource", "backpropFormula"]
    for name in names:
        widget = view.findChild(QWidget, name)
        assert widget is not None, name
        assert widget.accessibleName(), name


def test_book_example_shows_the_books_numbers(qtbot, view):
    qtbot.mouseClick(view.findChild(QWidget, "bookExampleButton"), Qt.MouseButton.LeftButton)
    assert not view.following
    assert "(v·x − y)²" in view.formula.text()
    texts = view.graph.edge_texts()
    assert set(texts) == {("loss_op", "loss"), ("sub", "loss_op"), ("mul", "sub"), ("y", "sub"), ("v", "mul"),
                          ("x", "mul")}
    assert texts[("loss_op", "loss")] == ("loss = 25", "∂loss/∂loss = ?")
    assert texts[("v", "mul")][0] == "v = 0" and texts[("x", "mul")][0] == "x = 2"
    assert texts[("y", "sub")][0] == "y = 5" and texts[("sub", "loss_op")][0] == "e = −5"

    for _ in range(view.n_steps):
        qtbot.keyClick(view, Qt.Key.Key_B)
    texts = view.graph.edge_texts()
    assert texts[("loss_op", "loss")][1] == "∂loss/∂loss = 1"
    assert texts[("sub", "loss_op")][1] == "∂loss/∂e = −10"  # ∂loss/∂(v·x − y) = 2·(−5)
    assert texts[("mul", "sub")][1] == "∂loss/∂ŷ = −10"  # ∂loss/∂(v·x)
    assert texts[("v", "mul")][1] == "∂loss/∂v = −20"  # −10 · x
    assert view.graph.highlighted() == ("x", "mul")  # the last edge worked out
    assert view.readouts.text("gradKValue") == "−20"
    assert "step" in view.log.toPlainText().lower() and "−20" in view.log.toPlainText()

    qtbot.keyClick(view, Qt.Key.Key_B)  # the update
    assert view.update_text.text() == "v ← 0 − 0.01 · (−20) = 0.2"
    assert view.rule.text() == "Update: v ← 0 − 0.01 · (−20) = 0.2"
    assert view.graph.badge_texts() == {"v": "new v = 0.2"}
    assert view.graph.items_overlap() == []

    qtbot.keyClick(view, Qt.Key.Key_U)  # take the step: v is 0.2 and the loss on (2, 5) falls from 25
    assert view.readouts.text("kValue") == "0.2"
    assert view.graph.edge_texts()[("v", "mul")][0] == "v = 0.2"
    assert "25 → 21.16" in view.rule.text()
    assert view.position == 0


def test_each_backward_step_works_out_one_edge_with_its_rule(qtbot, view):
    view.book_example()
    tr = view.trace
    assert view.position == 0
    for i, step in enumerate(tr.steps, start=1):
        view.commands["backward_step"].trigger()
        reached = [t for t in view.graph.edge_texts().values() if not t[1].endswith("= ?")]
        assert len(reached) == i
        edge = tr.edges[step.edge]
        assert view.graph.highlighted() == (edge.source, edge.target)
        assert view.rule.text().endswith(pretty(step.rule))  # the engine's rule, with true minus signs shown
        assert plain(view.rule.text()).endswith(step.rule.replace("−", "-"))
        assert f"Step {i} of {len(tr.steps)}" in view.rule.text()
        assert not view.commands["apply_update"].isEnabled() or i == len(tr.steps)
    assert view.commands["apply_update"].isEnabled()
    view.commands["backward_step"].trigger()
    assert not view.commands["backward_step"].isEnabled()  # nothing after the update


def test_reset_pass_and_forward_pass(qtbot, view):
    view.book_example()
    view.commands["backward_step"].trigger()
    view.commands["reset_pass"].trigger()
    texts = view.graph.edge_texts()
    assert texts[("mul", "sub")][0] == "ŷ = ?" and texts[("loss_op", "loss")][0] == "loss = ?"
    assert texts[("v", "mul")][0] == "v = 0"  # inputs and parameters are known before the forward pass
    assert all(t[1].endswith("= ?") for t in texts.values())
    assert view.readouts.text("sampleLossValue") == "?"
    qtbot.keyClick(view, Qt.Key.Key_F)
    assert view.graph.edge_texts()[("loss_op", "loss")][0] == "loss = 25"
    assert "loss = e² = (−5)² = 25" in view.log.toPlainText()
    view.commands["reset_pass"].trigger()
    view.commands["backward_step"].trigger()  # Backward step first does the forward pass
    assert view.position == 0


@pytest.mark.parametrize("loss", ["mse", "mae"])
def test_gradients_shown_equal_the_trainers_for_a_batch_of_one(qtbot, view, surface, loss):
    surface.set_control("loss", loss)
    surface.control("batch_size").setValue(1)
    surface.start_at(0.9, -0.3)
    for _ in range(2):  # one whole step first, so that the next batch starts from trained weights
        surface.commands["step_batch"].trigger()
        idle(qtbot, surface)
    for _ in range(4):  # batch → forward → loss → gradient: the gradient the trainer is about to use
        surface.commands["step_phase"].trigger()
        idle(qtbot, surface)
    step = surface.model.history.last_step
    assert step.phase is Phase.GRADIENT and len(step.indices) == 1
    assert view.following and view.example.x == surface.model.experiment.X[step.indices[0], 0]
    assert (view.example.k, view.example.b) == tuple(step.params_before)
    for _ in range(view.n_steps):
        view.commands["backward_step"].trigger()
    # The engine's own numbers, bit for bit …
    assert view.trace.grad_k == step.gradient[0] and view.trace.grad_b == step.gradient[1]
    # … and what the view shows.
    texts = view.graph.edge_texts()
    assert texts[("k", "mul")][1] == f"∂loss/∂k = {number(step.gradient[0])}"
    assert texts[("b", "add")][1] == f"∂loss/∂b = {number(step.gradient[1])}"
    assert float(plain(view.readouts.text("gradKValue"))) == pytest.approx(step.gradient[0], rel=1e-5)
    assert float(plain(view.readouts.text("gradBValue"))) == pytest.approx(step.gradient[1], rel=1e-5)
    # The update shown is the one the trainer makes (SGD).
    view.commands["backward_step"].trigger()
    shown = view.update_text.text()
    tr = view.trace
    surface.commands["step_phase"].trigger()
    idle(qtbot, surface)
    after = surface.model.history.last_step.params_after
    assert (tr.new_k, tr.new_b) == pytest.approx(tuple(after), abs=1e-15)
    assert shown.endswith(f"= {number(after[1])}")
    assert view.position == 0 and view.example.k == after[0]  # and the view moved on with the trainer


def test_the_graph_follows_training_and_starts_each_new_example_afresh(qtbot, view, surface):
    surface.start_at(1.0, 0.2)
    assert view.following and view.example.k == 1.0 and view.example.b == 0.2
    view.commands["backward_step"].trigger()
    view.commands["backward_step"].trigger()
    assert view.position == 2
    surface.commands["step_batch"].trigger()
    idle(qtbot, surface)
    current = surface.model.history.current
    assert (view.example.k, view.example.b) == (current[0], current[1])
    assert view.position == 0  # a new example: the pass starts again
    assert view.graph.edge_texts()[("k", "mul")][0] == f"k = {number(current[0])}"
    assert view.example.learning_rate == surface.control("learning_rate").value()
    # A point clicked in the data plot is followed instead of the batch's first.
    surface.choose_sample(7)
    assert view.example.x == surface.model.experiment.X[7, 0] and "clicked" in view.source.text()


def test_behind_another_tab_the_graph_is_drawn_when_shown_with_the_latest_example(qtbot, window, view, surface):
    window.tabs.setCurrentWidget(surface)
    shown_before = view.graph.edge_texts()[("k", "mul")][0]
    for _ in range(3):
        surface.commands["step_batch"].trigger()
        idle(qtbot, surface)
    current = surface.model.history.current
    assert (view.example.k, view.example.b) == (current[0], current[1])  # followed at once
    assert view.graph.edge_texts()[("k", "mul")][0] == shown_before  # but not drawn behind the surface tab
    window.tabs.setCurrentWidget(view)
    assert view.graph.edge_texts()[("k", "mul")][0] == f"k = {number(current[0])}"
    assert "first of the current batch" in view.source.text()


def test_book_example_stops_following_and_follow_training_returns(qtbot, view, surface):
    view.commands["book_example"].trigger()
    assert not view.commands["follow_training"].isChecked()
    surface.commands["step_batch"].trigger()
    idle(qtbot, surface)
    assert view.example.book  # unchanged by training
    view.commands["follow_training"].trigger()
    assert view.following and not view.example.book
    current = surface.model.history.current
    assert (view.example.k, view.example.b) == (current[0], current[1])


def test_labels_never_overlap(qtbot, view, surface):
    surface.start_at(-1.234567, 0.0001234)
    for _ in range(view.n_steps + 1):
        view.commands["backward_step"].trigger()
        assert view.graph.items_overlap() == []
