"""Every tab driven from the keyboard alone: key events only (Tab to reach a control, Space and Enter to press
it, the arrow keys, +, −, Home and Enter on a map, Escape in a field, Ctrl+PgDown/PgUp between tabs); no mouse
event anywhere. Each key's effect is checked on what the user sees or on the model behind it."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QCheckBox, QToolButton, QWidget

from fitscope.engine.numbers import prose
from fitscope.gui.app import MainWindow

K = Qt.Key
SHIFT = Qt.KeyboardModifier.ShiftModifier
CTRL = Qt.KeyboardModifier.ControlModifier


@pytest.fixture
def window(qtbot):
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1400, 880)
    with qtbot.waitExposed(w):
        w.show()
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow)
    yield w
    w.shutdown()


def focus() -> QWidget:
    return QApplication.focusWidget()


def press(qtbot, key, modifiers=Qt.KeyboardModifier.NoModifier, times: int = 1) -> None:
    """``key`` pressed (and released) where the keyboard's focus is, as a user would."""
    for _ in range(times):
        qtbot.keyClick(focus(), key, modifiers)


def type_text(qtbot, text: str) -> None:
    qtbot.keyClicks(focus(), text)


def tab_to(qtbot, found, limit: int = 120) -> QWidget:
    """Press Tab until the focused widget is one ``found(widget)`` accepts; that widget."""
    for _ in range(limit):
        w = focus()
        if w is not None and found(w):
            return w
        press(qtbot, K.Key_Tab)
    raise AssertionError("not reached with Tab")


def named(name: str):
    return lambda w: w.objectName() == name


def show_tab(qtbot, window, index: int) -> None:
    """Switch to tab ``index`` with Ctrl+1…4, as the keyboard does."""
    press(qtbot, getattr(K, f"Key_{index + 1}"), CTRL)
    qtbot.waitUntil(lambda: window.tabs.currentIndex() == index)


def idle(qtbot, view) -> None:
    qtbot.waitUntil(lambda: not view.controller.busy, timeout=10_000)


def tab_stops(qtbot, window, index: int) -> list[QWidget]:
    """The widgets of tab ``index`` that Tab reaches, in order, from its page."""
    show_tab(qtbot, window, index)
    page = window.views[index]
    tab_to(qtbot, lambda w: w is page)
    stops: list[QWidget] = []
    for _ in range(200):
        press(qtbot, K.Key_Tab)
        w = focus()
        if w is page or w in stops:
            break
        if page.isAncestorOf(w):
            stops.append(w)
    return stops


# ---------------------------------------------------------------------------------------------- buttons and keys
def test_space_and_enter_press_the_focused_button_and_space_steps_elsewhere(qtbot, window):
    view = window.surface_view
    steps = lambda: view.model.history.steps  # noqa: E731
    tab_to(qtbot, named("stepBatchButton"))
    press(qtbot, K.Key_Space)
    qtbot.waitUntil(lambda: steps() == 1)
    idle(qtbot, view)
    press(qtbot, K.Key_Return)  # Enter presses the button too
    qtbot.waitUntil(lambda: steps() == 2)
    idle(qtbot, view)
    tab_to(qtbot, named("resetButton"))
    press(qtbot, K.Key_Space)  # Reset, not a step
    qtbot.waitUntil(lambda: steps() == 0)
    idle(qtbot, view)
    assert steps() == 0
    tab_to(qtbot, lambda w: w is view.surface.graphics)  # a map uses no Space: it steps a batch
    press(qtbot, K.Key_Space)
    qtbot.waitUntil(lambda: steps() == 1)
    idle(qtbot, view)
    tab_to(qtbot, named("learningRate"))  # a number field keeps its keys: R types, it does not run
    press(qtbot, K.Key_R)
    press(qtbot, K.Key_P)
    assert not view.controller.running
    assert steps() == 1


def test_every_check_box_toggles_with_space_and_enter(qtbot, window):
    toggled = []
    for index in range(window.tabs.count()):
        view = window.views[index]
        boxes = [w for w in tab_stops(qtbot, window, index) if isinstance(w, QCheckBox) and w.isEnabled()]
        stepped = []
        if "step_batch" in view.commands:
            view.commands["step_batch"].triggered.connect(lambda *_, s=stepped: s.append(1))
        for box in boxes:
            tab_to(qtbot, lambda w, box=box: w is box)
            was = box.isChecked()
            press(qtbot, K.Key_Space)
            assert box.isChecked() is not was, box.objectName()
            press(qtbot, K.Key_Return)
            assert box.isChecked() is was, box.objectName()
            toggled.append(box.objectName())
            if hasattr(view, "controller"):
                idle(qtbot, view)
        assert not stepped  # Space toggled the box: it did not step a batch
    # Show test data, three Log scale boxes, Normalize, and the four racers at least.
    for name in ("showTestData", "logScale", "normalize", "raceLogScale", "sgdRacer", "momentumRacer",
                 "rmspropRacer", "adamRacer"):
        assert name in toggled
    assert toggled.count("logScale") == 2


def test_every_button_of_every_tab_is_pressed_by_focus(qtbot, window):
    pressed = []
    for index in range(window.tabs.count()):
        view = window.views[index]
        buttons = [w for w in tab_stops(qtbot, window, index) if isinstance(w, QToolButton)]
        assert buttons
        for k, button in enumerate(buttons):
            if not button.isEnabled():
                continue
            action = button.defaultAction()
            triggered = []
            action.triggered.connect(lambda *_, t=triggered: t.append(1))
            tab_to(qtbot, lambda w, button=button: w is button)
            key = K.Key_Space if k % 2 else K.Key_Return
            press(qtbot, key)
            assert triggered == [1], button.objectName()
            if action.isCheckable() and hasattr(view, "controller") and action is view.commands.get("run"):
                qtbot.waitUntil(lambda view=view: view.controller.running)
                assert button.accessibleName() == "Pause"  # what the button says, a screen reader says
                press(qtbot, key)  # and pauses
                qtbot.waitUntil(lambda view=view: not view.controller.running)
                assert button.accessibleName() != "Pause"
            if hasattr(view, "controller"):
                idle(qtbot, view)
            pressed.append(button.objectName())
    for name in ("stepPhaseButton", "stepBatchButton", "stepEpochButton", "runButton", "resetButton",
                 "randomInitButton", "trainButton", "forwardButton", "backwardStepButton", "resetPassButton",
                 "followTrainingButton", "bookExampleButton"):
        assert name in pressed


def test_escape_cancels_the_edit_of_a_number_field_and_hands_the_keys_back(qtbot, window):
    view = window.surface_view
    field = tab_to(qtbot, named("learningRate"))
    before = view.model.settings.learning_rate
    press(qtbot, K.Key_A, CTRL)
    type_text(qtbot, "0.05")
    press(qtbot, K.Key_Escape)
    assert focus() is view  # the keys are the tab's again
    assert view.model.settings.learning_rate == before  # the edit is cancelled
    assert float(field.text()) == before
    press(qtbot, K.Key_Space)  # … so Space steps
    qtbot.waitUntil(lambda: view.model.history.steps == 1)
    idle(qtbot, view)

    tab_to(qtbot, lambda w: w is field)
    press(qtbot, K.Key_A, CTRL)
    type_text(qtbot, "1e")  # not a number yet
    press(qtbot, K.Key_Escape)
    assert focus() is view
    assert view.model.settings.learning_rate == before

    tab_to(qtbot, lambda w: w is field)  # Enter is how an edit is kept
    press(qtbot, K.Key_A, CTRL)
    type_text(qtbot, "0.05")
    press(qtbot, K.Key_Return)
    assert view.model.settings.learning_rate == 0.05


def test_ctrl_page_down_and_up_switch_tabs_and_the_tab_takes_the_keys(qtbot, window):
    tab_to(qtbot, named("stepBatchButton"))
    press(qtbot, K.Key_PageDown, CTRL)
    assert window.tabs.currentIndex() == 1
    assert window.tabs.currentWidget().isAncestorOf(focus()) or focus() is window.tabs.currentWidget()
    press(qtbot, K.Key_PageDown, CTRL)
    assert window.tabs.currentIndex() == 2
    press(qtbot, K.Key_PageUp, CTRL, times=3)
    assert window.tabs.currentIndex() == 3  # round from the first to the last
    press(qtbot, K.Key_1, CTRL)
    assert window.tabs.currentIndex() == 0


# ---------------------------------------------------------------------------------------------- maps
def test_the_surface_map_crosshair_sets_the_start_zooms_pans_and_frames(qtbot, window):
    view = window.surface_view
    panel = view.surface
    tab_to(qtbot, lambda w: w is panel.graphics)
    assert panel.keys.showing()  # the crosshair is drawn while the map has the focus
    x0, x1, y0, y1 = panel.visible_range()
    start = panel.keys.crosshair()
    press(qtbot, K.Key_Right, times=4)
    press(qtbot, K.Key_Up, times=2)
    x, y = panel.keys.crosshair()
    assert x == pytest.approx(start[0] + 4 * (x1 - x0) / 40)
    assert y == pytest.approx(start[1] + 2 * (y1 - y0) / 40)
    press(qtbot, K.Key_Return)  # "clicks" there: a fresh run starts at the crosshair
    assert view.model.history.params[0] == pytest.approx([x, y])
    assert view.kernel_edit.value() == pytest.approx(x, abs=1e-6)
    qtbot.waitUntil(lambda: f"start at kernel {prose(x)}, bias {prose(y)}" in panel.graphics.accessibleDescription())

    press(qtbot, K.Key_Plus)  # zoom in about the crosshair
    zx0, zx1, zy0, zy1 = panel.visible_range()
    assert zx1 - zx0 == pytest.approx(0.8 * (x1 - x0), rel=1e-3)
    assert zx0 < x < zx1 and zy0 < y < zy1
    press(qtbot, K.Key_Minus)
    assert panel.visible_range()[1] - panel.visible_range()[0] == pytest.approx(x1 - x0, rel=1e-3)
    before = panel.visible_range()
    press(qtbot, K.Key_Right, SHIFT)  # pan
    after = panel.visible_range()
    assert after[0] == pytest.approx(before[0] + (before[1] - before[0]) / 8, rel=1e-3)
    press(qtbot, K.Key_Home)  # frame the data: the usual window
    assert panel.visible_range() == pytest.approx(view.model.home_window(), rel=1e-3)
    press(qtbot, K.Key_Tab)
    assert not panel.keys.showing()  # gone with the focus


def test_the_boston_slice_weights_by_crosshair_and_by_fields(qtbot, window):
    show_tab(qtbot, window, 1)
    view = window.boston_view
    panel = view.slice_panel
    i, j = view.model.pair
    tab_to(qtbot, lambda w: w is panel.graphics)
    press(qtbot, K.Key_Left, times=3)
    press(qtbot, K.Key_Down)
    x, y = panel.keys.crosshair()
    press(qtbot, K.Key_Enter)
    start = view.model.history.params[0]
    assert (start[i], start[j]) == pytest.approx((x, y))

    press(qtbot, K.Key_Minus)  # zoom out: the slice is computed for the wider range
    x0, x1, _, _ = panel.visible_range()
    qtbot.waitUntil(lambda: view.slice_grid is not None and view.slice_grid[0][0] == pytest.approx(x0))

    field = tab_to(qtbot, named("sliceStartX"))
    assert isinstance(field, QAbstractSpinBox)
    assert view.slice.x_param.currentText() in field.accessibleName()
    press(qtbot, K.Key_A, CTRL)
    type_text(qtbot, "1.25")
    press(qtbot, K.Key_Return)
    assert focus() is view  # Enter hands the keys back to the tab
    start = view.model.history.params[0]
    assert start[i] == pytest.approx(1.25)
    assert start[j] == pytest.approx(y, abs=1e-4)
    tab_to(qtbot, named("sliceStartY"))  # its arrow key moves the weight a step
    press(qtbot, K.Key_Up)
    assert view.model.history.params[0][j] == pytest.approx(round(y, 4) + 0.05, abs=1e-6)


def test_the_backprop_example_chooser_follows_the_chosen_training_row(qtbot, window):
    show_tab(qtbot, window, 2)
    view = window.backprop_view
    press(qtbot, K.Key_K)  # the book's example: no longer following training
    assert view.example.book
    chooser = tab_to(qtbot, named("exampleChooser"))
    assert chooser.maximum() == len(window.surface_view.model.experiment.y)
    press(qtbot, K.Key_A, CTRL)
    type_text(qtbot, "5")
    press(qtbot, K.Key_Return)
    surface = window.surface_view
    assert surface.model.chosen == 4  # as a click on the fifth point of the data plot
    assert surface.sample.index == 4 and surface.sample.chosen
    assert not view.example.book and view.following
    assert (view.example.x, view.example.y) == (surface.sample.x, surface.sample.y)
    assert view.source.text().startswith("Training example 5: the point you clicked in the data plot or chose here")
    tab_to(qtbot, lambda w: w is chooser)  # Enter handed the keys back to the tab
    press(qtbot, K.Key_Up)
    assert surface.model.chosen == 5
    assert view.example.x == surface.model.experiment.X[5, 0]


def test_the_wheel_scrolls_the_sidebar_past_a_setting_without_changing_it(qtbot, window):
    """Scrolling the sidebar with the pointer over a number field changed the seed and threw the run away."""
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QSpinBox

    view = window.surface_view
    window.resize(1400, 600)  # a sidebar taller than the window: it scrolls
    qtbot.wait(50)
    seed = next(w for w in view.findChildren(QSpinBox) if w.objectName() == "seed")
    bar = view.sidebar_scroll.verticalScrollBar()
    assert bar.maximum() > 0
    bar.setValue(0)

    def wheel(widget, steps: int) -> None:
        centre = QPointF(widget.rect().center())
        event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0),
                            QPoint(0, -120 * steps), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                            Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(widget, event)

    before = seed.value()
    wheel(seed, 2)
    assert seed.value() == before and bar.value() > 0  # the sidebar scrolled, the seed stayed
    seed.setFocus()
    wheel(seed, -1)
    assert seed.value() == before + 1  # a focused field takes the wheel


def test_the_crosshair_is_never_a_stale_start(qtbot, window):
    """A start clicked with the mouse moves the crosshair there; the map taking the focus puts it on the
    current point (it once kept the old start, which Enter would have restarted from)."""
    view = window.surface_view
    panel = view.surface
    panel.graphics.setFocus()
    qtbot.waitUntil(lambda: panel.keys.showing())
    panel.clicked.emit(0.3, 0.2)  # what a mouse click on the map sends
    assert panel.keys.crosshair() == (0.3, 0.2)
    assert tuple(view.model.current) == (0.3, 0.2)
    view.commands["step_epoch"].trigger()
    qtbot.waitUntil(lambda: not view.controller.busy and view.model.history.steps > 0)
    view.setFocus()
    panel.graphics.setFocus()
    qtbot.waitUntil(lambda: panel.keys.showing())
    assert np.allclose(panel.keys.crosshair(), view.model.current)
