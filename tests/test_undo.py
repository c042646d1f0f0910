"""Edit > Undo (Ctrl+Z) and Redo (Ctrl+Shift+Z) of every action that throws a run away, and Edit > Restore all
defaults…, driven through the real window: each action, then undo, gives back the exact run it replaced."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDoubleSpinBox, QMessageBox, QToolButton

from fitscope.engine.run import dataset_key
from fitscope.gui import prefs
from fitscope.gui.app import MainWindow


@pytest.fixture
def window(qtbot) -> MainWindow:
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1400, 880)
    with qtbot.waitExposed(w):
        w.show()
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=5000)  # for the keyboard shortcuts
    yield w
    w.shutdown()


def state(view) -> str:
    """The run exactly: its history, trainer and optimizer state, settings, as JSON."""
    return json.dumps(view.model.state(), sort_keys=True)


def idle(qtbot, view, timeout=30_000) -> None:
    qtbot.waitUntil(lambda: not view.controller.busy, timeout=timeout)


def steps(qtbot, view, n: int) -> None:
    for _ in range(n):
        view.commands["step_batch"].trigger()
        idle(qtbot, view)


def show(qtbot, window, view) -> None:
    window.tabs.setCurrentWidget(view)
    qtbot.waitUntil(view.isVisible)


def click_map(qtbot, panel, x: float, y: float) -> None:
    qtbot.mouseClick(panel.graphics.viewport(), Qt.MouseButton.LeftButton, pos=panel.widget_pos_of(x, y))


def to_front(qtbot, window) -> None:
    """The window active again (after a dialog), its tab page focused: not a field with an undo of its own."""
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    window.tabs.currentWidget().setFocus()


def press_undo(qtbot, window) -> None:
    """Ctrl+Z, as typed."""
    to_front(qtbot, window)
    qtbot.keyClick(window.tabs.currentWidget(), Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)


def press_redo(qtbot, window) -> None:
    """Ctrl+Shift+Z, as typed."""
    to_front(qtbot, window)
    qtbot.keyClick(window.tabs.currentWidget(), Qt.Key.Key_Z,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)


def button(view, name: str) -> QToolButton:
    b = view.findChild(QToolButton, name)
    assert b is not None and b.isVisible(), name
    return b


def check_undo_redo(qtbot, window, view, before: str, menu_text: str) -> None:
    """The action just taken changed the run; Ctrl+Z gives back ``before``, Ctrl+Shift+Z the run after it."""
    after = state(view)
    assert after != before
    assert window.edit.undo_action.isEnabled() and window.edit.undo_action.text() == menu_text
    press_undo(qtbot, window)
    assert state(view) == before
    assert window.edit.redo_action.text() == "Redo" + menu_text[len("Undo"):]
    press_redo(qtbot, window)
    assert state(view) == after
    press_undo(qtbot, window)
    assert state(view) == before


# --------------------------------------------------------------------------- the loss-surface tab
def test_a_click_on_the_map_is_undone_exactly(qtbot, window):
    view = window.surface_view
    steps(qtbot, view, 7)
    before = state(view)
    assert not window.edit.undo_action.isEnabled()  # nothing done yet
    click_map(qtbot, view.surface, 0.4, 0.3)
    assert view.model.history.steps == 0
    check_undo_redo(qtbot, window, view, before, "Undo new start point")
    assert view.model.history.steps == 7
    assert view.kernel_edit.value() == pytest.approx(view.model.current[0], abs=1e-6)  # the tab shows it again


def test_a_typed_start_reset_random_init_and_book_settings_are_undone(qtbot, window):
    view = window.surface_view
    steps(qtbot, view, 4)
    before = state(view)
    field = view.findChild(QDoubleSpinBox, "kernelValue")
    field.setFocus()
    field.selectAll()
    qtbot.keyClicks(field, "0.25")
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert view.model.history.steps == 0
    press_undo(qtbot, window)  # typing may start afresh more than once: undo them all
    while window.edit.undo_action.isEnabled() and state(view) != before:
        press_undo(qtbot, window)
    assert state(view) == before

    qtbot.mouseClick(button(view, "resetButton"), Qt.MouseButton.LeftButton)
    check_undo_redo(qtbot, window, view, before, "Undo reset")

    qtbot.mouseClick(button(view, "randomInitButton"), Qt.MouseButton.LeftButton)
    check_undo_redo(qtbot, window, view, before, "Undo random init")

    view.set_control("learning_rate", 0.3)
    steps(qtbot, view, 2)
    before = state(view)
    view.commands["book_settings"].trigger()
    assert view.model.uses_defaults()
    check_undo_redo(qtbot, window, view, before, "Undo book settings")
    assert view.model.settings.learning_rate == 0.3 and view.control("learning_rate").value() == 0.3


def test_going_back_after_a_divergence_is_undone(qtbot, window):
    view = window.surface_view
    view.set_control("loss", "mse")
    view.set_control("learning_rate", 10.0)
    view.commands["run"].trigger()
    idle(qtbot, view)
    assert view.model.history.diverged is not None
    before = state(view)
    qtbot.mouseClick(view.go_back_button, Qt.MouseButton.LeftButton)
    assert view.model.history.diverged is None
    check_undo_redo(qtbot, window, view, before, "Undo go back")
    assert view.model.history.diverged is not None
    assert view.go_back_button.isVisible()  # offered again, as before


def test_a_new_data_set_is_undone_with_the_window_title(qtbot, window, tmp_path):
    from fitscope.engine.data import load_csv

    view = window.surface_view
    steps(qtbot, view, 3)
    before, title = state(view), window.windowTitle()
    path = tmp_path / "sizes.csv"
    path.write_text("size,time\n" + "\n".join(f"{k},{0.5 * k + 1}" for k in range(12)) + "\n")
    window.show_dataset(load_csv(str(path)))
    assert view.model.dataset.source == str(path) and "sizes" in window.windowTitle()
    check_undo_redo(qtbot, window, view, before, "Undo new data set")
    assert view.model.dataset.source == "download-time" and window.windowTitle() == title


def test_several_levels_are_undone_in_turn(qtbot, window):
    view = window.surface_view
    runs = [state(view)]
    for k, x in enumerate((0.2, -0.3, 0.6)):
        click_map(qtbot, view.surface, x, 0.2)
        steps(qtbot, view, k + 1)
        runs.append(state(view))
    for expected in reversed(runs[:-1]):
        press_undo(qtbot, window)
        assert state(view) == expected
    assert not window.edit.undo_action.isEnabled()


# --------------------------------------------------------------------------- the Boston tab
def test_a_click_on_the_slice_pauses_the_run_and_is_undone(qtbot, window):
    view = window.boston_view
    show(qtbot, window, view)
    view.speed.setValue(0)  # slow: the run is still going when the slice is clicked
    view.commands["run"].trigger()
    qtbot.waitUntil(lambda: view.model.history.steps >= 2, timeout=20_000)
    assert view.controller.running
    x0, x1, y0, y1 = view.slice_panel.visible_range()
    click_map(qtbot, view.slice_panel, (x0 + x1) / 2, (y0 + y1) / 2)
    assert not view.controller.running  # paused first
    assert window.edit.undo_action.text() == "Undo new start point"
    after = state(view)
    assert view.model.history.steps == 0
    press_undo(qtbot, window)
    assert view.model.history.steps >= 2 and not view.controller.running  # the run as it was paused
    paused = state(view)
    press_redo(qtbot, window)
    assert state(view) == after
    press_undo(qtbot, window)
    assert state(view) == paused


def test_boston_reset_and_a_built_in_data_set_are_undone(qtbot, window):
    view = window.boston_view
    show(qtbot, window, view)
    view.commands["step_epoch"].trigger()
    idle(qtbot, view)
    before = state(view)
    qtbot.mouseClick(button(view, "resetButton"), Qt.MouseButton.LeftButton)
    check_undo_redo(qtbot, window, view, before, "Undo reset")
    window.show_dataset(view.model.dataset, book=True)  # File > Built-in data > Boston Housing
    check_undo_redo(qtbot, window, view, before, "Undo new data set")


def test_another_model_chosen_mid_run_pauses_it_says_so_and_is_undone(qtbot, window):
    """Choosing another model while a run went threw it away without a word: the run is paused and kept for
    Undo, and a note says so. A setting taken on the fly (the learning rate) keeps the run going."""
    view = window.boston_view
    show(qtbot, window, view)
    view.speed.setValue(0)  # slow: the run is still going when the model is changed
    view.commands["run"].trigger()
    qtbot.waitUntil(lambda: view.model.history.steps >= 2, timeout=20_000)
    view.control("learning_rate").setValue(0.02)
    assert view.controller.running and window.edit.undo_action.text() == "Undo"  # nothing to undo
    view.control("model").setCurrentIndex(1)  # one hidden layer
    assert not view.controller.running and view.model.history.steps == 0
    assert "Edit ▸ Undo" in view.message.text()
    after = state(view)
    press_undo(qtbot, window)
    assert view.model.settings.model == "linear" and view.model.history.steps >= 2
    paused = state(view)
    press_redo(qtbot, window)
    assert state(view) == after
    press_undo(qtbot, window)
    assert state(view) == paused


# --------------------------------------------------------------------------- the race
def test_a_new_start_of_the_race_is_undone(qtbot, window):
    view = window.race_view
    show(qtbot, window, view)
    steps(qtbot, view, 5)
    before = state(view)
    click_map(qtbot, view.surface, 0.3, 0.5)
    check_undo_redo(qtbot, window, view, before, "Undo new start point")


def test_each_tab_undoes_its_own(qtbot, window):
    surface, boston = window.surface_view, window.boston_view
    click_map(qtbot, surface.surface, 0.2, 0.2)
    assert window.edit.undo_action.text() == "Undo new start point"
    show(qtbot, window, boston)
    assert not window.edit.undo_action.isEnabled()
    show(qtbot, window, window.backprop_view)
    assert not window.edit.undo_action.isEnabled()


# --------------------------------------------------------------------------- restore all defaults
def answer(monkeypatch, which: QMessageBox.StandardButton, seen: list[str]) -> None:
    """Answer the confirmation with ``which`` when it is shown (its text recorded in ``seen``). The modal loop
    itself is not run: under a loaded machine a real one was seen to end unanswered."""

    def exec_(box) -> QMessageBox.StandardButton:
        assert box.objectName() == "restoreAllDialog" and box.defaultButton() is box.button(
            QMessageBox.StandardButton.Cancel)
        seen.append(box.informativeText())
        return which

    monkeypatch.setattr(QMessageBox, "exec", exec_)


def test_restore_all_defaults_asks_then_resets_every_tab(qtbot, window, monkeypatch):
    surface, boston, race = window.surface_view, window.boston_view, window.race_view
    surface.set_control("learning_rate", 0.2)
    boston.set_control("epochs", 7)
    race.set_control("epochs", 3)
    surface.speed.setValue(1)
    steps(qtbot, surface, 2)
    for view in (surface, boston, race):
        view.remember()
        assert not view.model.uses_defaults()
    changed = {view: state(view) for view in (surface, boston, race)}
    key = dataset_key(surface.model.dataset)
    assert prefs.for_data(surface.objectName(), key) is not None

    seen: list[str] = []
    answer(monkeypatch, QMessageBox.StandardButton.Cancel, seen)
    window.edit.restore_action.trigger()
    assert seen and all(state(v) == s for v, s in changed.items())  # asked; nothing changed

    answer(monkeypatch, QMessageBox.StandardButton.RestoreDefaults, seen)
    window.edit.restore_action.trigger()
    assert "every tab" in seen[-1].lower() and "forgotten" in seen[-1]
    for view in (surface, boston, race):
        assert view.model.uses_defaults() and view.speed.value() == view.DEFAULT_SPEED
    assert surface.model.history.steps == 0
    assert prefs.for_data(surface.objectName(), key) is None and prefs.view_settings(surface.objectName()) == {}
    show(qtbot, window, boston)
    assert window.edit.undo_action.text() == "Undo restore all defaults"
    press_undo(qtbot, window)
    assert state(boston) == changed[boston]
