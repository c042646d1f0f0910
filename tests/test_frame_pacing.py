"""What a frame costs training while it runs at full speed, and what a new number costs the window's layout.

- The GUI thread counts the time it holds background threads (:func:`fitscope.gui.activity.held_seconds`).
- At full speed a training tab's frames keep to :attr:`TrainingView.FRAME_SHARE` of the time, however much a
  frame costs on the machine: a dearer frame comes later. Below full speed, nothing is held back.
- A :class:`SteadyLabel` (the live readouts) changes its text without asking any layout around it for room, and
  grows, never shrinks, with its texts; a new font fits it afresh.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from fitscope.gui.activity import gui_free, held_seconds, hold_until_painted
from fitscope.gui.panels.readouts import SteadyLabel
from fitscope.gui.views.controls import SPEEDS


def test_held_seconds_count_a_hold_while_it_lasts_and_stop_when_it_is_painted(qtbot):
    free = gui_free()
    qtbot.waitUntil(free.is_set, timeout=5000)  # no hold of an earlier test under way
    before = held_seconds()
    hold_until_painted()
    time.sleep(0.03)  # (no event loop runs: the frame is not painted)
    assert held_seconds() - before >= 0.03
    qtbot.waitUntil(free.is_set, timeout=5000)  # the release comes after the paint
    done = held_seconds()
    time.sleep(0.03)  # (no event loop runs: nothing begins another hold)
    assert held_seconds() == done


def _count_frames_while_running(qtbot, view, seconds: float, cost: float) -> int:
    """Run ``view`` for ``seconds`` with every part of its frames costing ``cost`` seconds; the parts drawn."""
    drawn = []
    plain = view.redraw_parts

    def dear_parts() -> list:
        def dear(part):
            def draw() -> None:
                time.sleep(cost)
                part()
                drawn.append(time.perf_counter())
            return draw
        return [dear(part) for part in plain()]

    view.redraw_parts = dear_parts
    try:
        view.commands["run"].trigger()
        qtbot.wait(int(seconds * 1000))
        assert view.pause(wait=True)
        qtbot.wait(50)
    finally:
        view.redraw_parts = plain
    return len(drawn)


def test_at_full_speed_frames_keep_to_their_share_of_the_time(window, qtbot):
    view = window.surface_view
    view.change(epochs=1_000_000)
    view.speed.setValue(len(SPEEDS) - 1)  # as fast as possible
    cost, seconds = 0.02, 1.5
    parts = _count_frames_while_running(qtbot, view, seconds, cost)
    # Each part held training up for at least `cost`: within the share, no more than this many fit in the time
    # (a frame every RUN_FRAME_MS / parts would draw about 1.5 / (0.025 + 0.02) = 33).
    most = seconds * view.FRAME_SHARE / cost + 2
    assert 3 <= parts <= most, (parts, most)
    assert view.model.history.steps > 0


def test_below_full_speed_frames_are_not_held_back(window, qtbot):
    view = window.surface_view
    view.change(epochs=1_000_000)
    view.speed.setValue(len(SPEEDS) - 2)  # 100 batches a second: the worker sleeps between batches
    assert not view.controller.full_speed
    view.commands["run"].trigger()
    qtbot.waitUntil(lambda: view.model.history.steps > 5, timeout=5000)
    assert not view.controller.full_speed
    view.speed.setValue(len(SPEEDS) - 1)
    assert view.controller.full_speed
    assert view.pause(wait=True)
    assert not view.controller.full_speed


class _LayoutRequests(QObject):
    def __init__(self, widget: QWidget) -> None:
        super().__init__()
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.LayoutRequest:
            self.count += 1
        return False


def _in_a_layout(qtbot, label: QLabel) -> tuple[QWidget, _LayoutRequests]:
    box = QWidget()
    qtbot.addWidget(box)
    QVBoxLayout(box).addWidget(label)
    box.show()
    qtbot.waitExposed(box)
    label.setText("12,345")
    qtbot.wait(20)
    return box, _LayoutRequests(box)


def test_a_steady_label_asks_its_layout_nothing_when_its_number_changes(qtbot):
    label = SteadyLabel()
    box, requests = _in_a_layout(qtbot, label)
    for text in ("12,346", "9,999", "0.125", "–"):
        label.setText(text)
        qtbot.wait(5)
    assert requests.count == 0 and label.text() == "–"

    plain = QLabel()  # the same with a plain label: each text asks the layout for room again
    other, plain_requests = _in_a_layout(qtbot, plain)
    for text in ("12,346", "9,999", "0.125", "–"):
        plain.setText(text)
        qtbot.wait(5)
    assert plain_requests.count >= 4


def test_a_steady_label_grows_with_its_texts_and_never_shrinks(qtbot):
    label = SteadyLabel()
    box, requests = _in_a_layout(qtbot, label)
    width = label.width()
    assert label.minimumSize() == label.maximumSize() and width >= label.fontMetrics().horizontalAdvance("12,345")
    label.setText("1,234,567,890 (batch 12 of 13)")
    qtbot.wait(5)
    wider = label.width()
    assert wider >= label.fontMetrics().horizontalAdvance(label.text()) > width
    assert requests.count >= 1  # room asked for once
    label.setText("1")
    qtbot.wait(5)
    assert label.width() == wider


def test_a_steady_label_fits_a_new_font_afresh(qtbot):
    label = SteadyLabel()
    box, _ = _in_a_layout(qtbot, label)
    width = label.width()
    font = QFont(label.font())
    font.setPointSizeF(font.pointSizeF() * 2)
    label.setFont(font)
    assert label.width() > width and label.height() >= label.fontMetrics().height()
    assert label.width() >= label.fontMetrics().horizontalAdvance(label.text())


def test_a_steady_label_comes_back_to_its_width_with_its_font(qtbot):
    # Larger text, then smaller again: the readouts take the room they took before (a label of fixed size reports
    # that size as its size hint: measured so, it would only ever grow).
    label = SteadyLabel()
    box, _ = _in_a_layout(qtbot, label)
    font = QFont(label.font())
    base = font.pointSizeF()
    widths = []
    for size in (base, base * 1.25, base * 1.5, base * 1.25, base):
        font.setPointSizeF(size)
        label.setFont(font)
        widths.append(label.width())
    assert widths[0] < widths[1] < widths[2] and widths[3] == widths[1] and widths[4] == widths[0], widths


def test_a_steady_label_keeps_room_for_what_it_reserves_and_settles_on_a_new_text(qtbot):
    label = SteadyLabel(reserve="1000000 (batch 20 of 20)")
    box, requests = _in_a_layout(qtbot, label)
    room = label.width()
    assert room >= label.fontMetrics().horizontalAdvance("1000000 (batch 20 of 20)")
    label.setText("999999 (batch 19 of 20)")
    qtbot.wait(5)
    assert label.width() == room and requests.count == 0
    label.reserve("")
    label.settle()
    label.setText("7")
    assert label.width() < room


def test_frames_come_again_soon_after_the_gui_thread_held_training_up_for_long(window, qtbot):
    # Time held by something else (another tab's frames, a dialog's work) is not owed by this tab's frames for
    # seconds: a frame waits at most LONGEST_FRAME_WAIT.
    from fitscope.gui.views.frames import LONGEST_FRAME_WAIT

    assert LONGEST_FRAME_WAIT <= 0.5
    view = window.surface_view
    view.change(epochs=1_000_000)
    view.speed.setValue(len(SPEEDS) - 1)
    drawn = []
    plain = view.redraw_parts
    def first_noted() -> list:  # the first part of each frame notes when it was drawn
        first, *others = plain()
        return [lambda: (first(), drawn.append(time.perf_counter())), *others]

    view.redraw_parts = first_noted
    try:
        view.commands["run"].trigger()
        qtbot.wait(300)
        hold_until_painted()
        time.sleep(1.0)  # the GUI thread held training up for a second (four seconds' worth of frames)
        held_until = time.perf_counter()
        qtbot.wait(1500)  # (without the bound: no frame for some three seconds)
        came = any(t > held_until for t in drawn)  # (before Pause, which draws the whole state)
        assert view.pause(wait=True)
    finally:
        view.redraw_parts = plain
    assert came, "no frame came after the long hold"
