"""The keyboard: every function of the app has a key, and a key goes where the user expects.

- :class:`KeyRouter` (one for the main window, :func:`install`): Space and Enter operate the focused button,
  check box or radio button; a tab's one-key shortcuts (Space = Step batch, R = Run, …) act only when the
  focus is not on a control that uses the key itself (a button, a field, a drop-down list, a slider, a table,
  a map); Escape cancels the edit of a number field (the value it had when it took the focus comes back),
  leaves it and hands the keys back to the tab; Ctrl+PgDown / Ctrl+PgUp switch tabs, and the tab shown takes
  the focus when the one that had it is hidden.
- :class:`WheelGuard`: in a scrolled sidebar the wheel scrolls the sidebar, and changes a setting only in the
  field that has the focus.
- :class:`MapKeys` (one per map, :class:`~fitscope.gui.panels.surface.SurfacePanel`): with the map focused,
  the arrow keys move a visible crosshair, Shift+arrows pan, + and − zoom about the crosshair, Enter "clicks"
  at the crosshair (exactly as a mouse click there) and Home frames the data (:attr:`MapKeys.homeRequested`).
- :class:`PointFields`: two number fields for a point of a map (the two parameters of a loss slice), for
  those who set it by typing.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QAction, QFont, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractScrollArea,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDoubleSpinBox,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPlainTextEdit,
    QScrollBar,
    QTabWidget,
    QTextEdit,
    QWidget,
)
from shiboken6 import isValid

from fitscope.engine.numbers import coordinate

K = Qt.Key
ENTER = (K.Key_Return, K.Key_Enter)
ARROWS = (K.Key_Left, K.Key_Right, K.Key_Up, K.Key_Down)
NAVIGATION = (*ARROWS, K.Key_PageUp, K.Key_PageDown, K.Key_Home, K.Key_End)
#: The keys a focused map uses (:class:`MapKeys`).
MAP_KEYS = (*ARROWS, *ENTER, K.Key_Plus, K.Key_Minus, K.Key_Equal, K.Key_Underscore, K.Key_Home)
COMMAND_MODIFIERS = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier | \
    Qt.KeyboardModifier.MetaModifier


def uses_key(widget: QWidget, event: QKeyEvent) -> bool:
    """Whether the focused ``widget`` does something with the key of ``event`` itself (then no shortcut of the
    window may take it). Keys with Ctrl, Alt or Meta are left to the shortcuts."""
    if event.modifiers() & COMMAND_MODIFIERS:
        return False
    key = event.key()
    for w in (widget, widget.parentWidget()):  # a spin box's or a combo box's line edit: its box decides
        if w is None:
            continue
        if isinstance(w, QAbstractButton):
            return key in (K.Key_Space, *ENTER)
        if isinstance(w, QTextEdit | QPlainTextEdit):
            return True if not w.isReadOnly() else key in (*NAVIGATION, K.Key_Space)
        if isinstance(w, QAbstractSpinBox | QLineEdit | QComboBox | QAbstractItemView):
            return True  # typing, keyboard search, Space to open or select
        if isinstance(w, QAbstractSlider):
            return key in NAVIGATION
    return False


def spin_box_of(widget: QWidget | None) -> QAbstractSpinBox | None:
    """The number field ``widget`` is (or whose line edit it is), else None."""
    for w in (widget, widget.parentWidget() if widget is not None else None):
        if isinstance(w, QAbstractSpinBox):
            return w
    return None


class KeyRouter(QObject):
    """The keyboard rules of the main window (see the module's docstring). It watches each widget of the
    window that takes the focus (an event filter installed on it then), so it costs nothing elsewhere."""

    def __init__(self, window: QMainWindow, tabs: QTabWidget) -> None:
        super().__init__(window)
        self.window, self.tabs = window, tabs
        app = QApplication.instance()
        app.focusChanged.connect(self._on_focus_changed)
        for key, step in (("Ctrl+PgDown", 1), ("Ctrl+PgUp", -1)):
            action = QAction("Next tab" if step > 0 else "Previous tab", window)
            action.setObjectName("nextTab" if step > 0 else "previousTab")
            action.setShortcut(QKeySequence(key))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.triggered.connect(lambda _=False, step=step: self.switch_tab(step))
            window.addAction(action)
        tabs.currentChanged.connect(self._on_tab_changed)
        if app.focusWidget() is not None:
            self._watch(app.focusWidget())

    def switch_tab(self, step: int) -> None:
        """The next (``step`` 1) or previous (−1) tab, round."""
        n = self.tabs.count()
        if n:
            self.tabs.setCurrentIndex((self.tabs.currentIndex() + step) % n)

    def _on_tab_changed(self, _index: int) -> None:
        """The tab shown takes the keyboard when the focus was in the one now hidden (or nowhere)."""
        page = self.tabs.currentWidget()
        focus = QApplication.focusWidget()
        if page is None or not self.window.isActiveWindow():
            return
        if focus is None or not focus.isVisible() or self.tabs.isAncestorOf(focus) and not page.isAncestorOf(focus):
            page.setFocus(Qt.FocusReason.TabFocusReason)

    def _on_focus_changed(self, _old: QWidget | None, now: QWidget | None) -> None:
        if now is not None and self.window.isAncestorOf(now):
            self._watch(now)
            box = spin_box_of(now)
            if box is not None:  # what Escape puts back
                box.setProperty("textOnFocus", box.lineEdit().text())

    def shutdown(self) -> None:
        """Stop watching (the window is closing): no key or focus event reaches this object any more."""
        if getattr(self, "_stopped", False):
            return
        self._stopped = True
        QApplication.instance().focusChanged.disconnect(self._on_focus_changed)
        for widget in self.window.findChildren(QWidget):
            if widget.property("keyRouted"):
                widget.removeEventFilter(self)
                widget.setProperty("keyRouted", False)

    def _watch(self, widget: QWidget) -> None:
        if not widget.property("keyRouted"):
            widget.setProperty("keyRouted", True)
            widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        kind = event.type()
        if kind == QEvent.Type.ShortcutOverride and isinstance(watched, QWidget):
            if uses_key(watched, event):
                event.accept()  # the key goes to the control, not to a shortcut
                return True
            return False
        if kind != QEvent.Type.KeyPress or not isinstance(watched, QWidget):
            return False
        key = event.key()
        if key in ENTER and isinstance(watched, QAbstractButton) and not event.modifiers() & COMMAND_MODIFIERS:
            if watched.isEnabled():
                watched.click()  # a tool button does nothing with Enter of itself, a check box neither
            return True
        if key == K.Key_Escape and spin_box_of(watched) is not None:
            self.hand_back(watched)
            return True
        return False

    def hand_back(self, widget: QWidget) -> None:
        """Leave the field ``widget`` for its tab, its edit cancelled: the text it had when it took the focus is
        put back first (so leaving it changes nothing)."""
        from fitscope.gui.views.tab import View  # the views import this module's neighbours, not the reverse

        box = spin_box_of(widget)
        before = box.property("textOnFocus") if box is not None else None
        if isinstance(before, str):
            box.lineEdit().setText(before)

        page = widget.parentWidget()
        while page is not None and not isinstance(page, View):
            page = page.parentWidget()
        target = page if page is not None else self.window
        target.setFocus(Qt.FocusReason.OtherFocusReason)


class WheelGuard(QObject):
    """In a scrolled panel, a number field, drop-down list or slider takes the mouse wheel only while it has the
    focus; otherwise the wheel scrolls the panel, so scrolling past a setting never changes it."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.adopt(window)

    def adopt(self, top: QWidget) -> None:
        """Guard the fields under ``top`` (the window; a tab built later)."""
        for widget in top.findChildren(QWidget):
            if isinstance(widget, QAbstractSpinBox | QComboBox | QAbstractSlider) and not isinstance(
                    widget, QScrollBar) and scroll_area_of(widget):
                self.guard(widget)

    def guard(self, widget: QWidget) -> None:
        widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # the wheel does not give it the focus either
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() != QEvent.Type.Wheel or not isinstance(watched, QWidget) or watched.hasFocus():
            return False
        area = scroll_area_of(watched)
        if area is not None:
            QApplication.sendEvent(area.viewport(), event)  # the panel scrolls instead
        return True


def scroll_area_of(widget: QWidget) -> QAbstractScrollArea | None:
    """The scrolled panel ``widget`` is in (not a table or a plot), or None."""
    w = widget.parentWidget()
    while w is not None:
        if isinstance(w, QAbstractScrollArea) and not isinstance(w, QAbstractItemView | QGraphicsView):
            return w
        w = w.parentWidget()
    return None


def install(window: QMainWindow, tabs: QTabWidget) -> KeyRouter:
    """The keyboard rules for ``window`` and its ``tabs`` (call once, when the window is built), and the
    wheel's (:class:`WheelGuard`)."""
    router = KeyRouter(window, tabs)
    router.wheel = WheelGuard(window)
    return router


class MapKeys(QObject):
    """The keyboard on a map (see the module's docstring): a crosshair, shown while the map has the focus.

    Signals
    -------
    homeRequested()
        Home was pressed: the view frames the data.
    moved(float, float)
        The crosshair moved to (x, y), in the map's coordinates.
    """

    homeRequested = Signal()
    moved = Signal(float, float)

    MOVE = 1 / 40  # an arrow key moves the crosshair by this part of the visible range
    PAN = 1 / 8  # Shift+arrow pans by this part
    ZOOM = 0.8  # + shows this part of the range, about the crosshair; − its inverse

    def __init__(self, panel) -> None:
        super().__init__(panel)
        self.panel = panel
        self.stop: QWidget = panel.graphics  # the tab stop: the map's graphics view
        self.stop.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.at: tuple[float, float] | None = None  # the crosshair, in the map's coordinates
        pen = pg.mkPen((255, 255, 255, 200), width=1, style=Qt.PenStyle.DashLine)
        self.lines = (pg.InfiniteLine(angle=90, pen=pen, movable=False),
                      pg.InfiniteLine(angle=0, pen=pen, movable=False))
        # A white ring on a black one (seen on any colour of the map), with a cross in it.
        self.ring = pg.ScatterPlotItem(size=24, symbol="o", brush=pg.mkBrush(None), pen=pg.mkPen("#000000", width=5))
        self.dot = pg.ScatterPlotItem(size=24, symbol="o", brush=pg.mkBrush(None), pen=pg.mkPen("#ffffff", width=2))
        self.cross = pg.ScatterPlotItem(size=9, symbol="+", brush=pg.mkBrush("#ffffff"), pen=pg.mkPen("#000000"))
        self.label = pg.TextItem("", color="#111111", anchor=(0, 1), fill=pg.mkBrush(255, 255, 255, 225),
                                 border=pg.mkPen("#1565c0"))
        font = QFont()
        font.setPointSize(8)
        self.label.setFont(font)
        for z, item in enumerate(self.items):
            item.setZValue(20 + z)
            item.hide()
            panel.plot.addItem(item, ignoreBounds=True)
        self.stop.installEventFilter(self)
        panel.clicked.connect(self._clicked)

    def _clicked(self, x: float, y: float) -> None:
        """A start chosen (by mouse or Enter): the crosshair is there, the point training starts from."""
        self.at = (float(x), float(y))
        if self.showing():
            self._draw()

    @property
    def items(self) -> tuple:
        return (*self.lines, self.ring, self.dot, self.cross, self.label)

    def crosshair(self) -> tuple[float, float] | None:
        """Where the crosshair is (None before the map first had the focus; at the current point each time it
        takes the focus, and at a start when one is chosen)."""
        return self.at

    def showing(self) -> bool:
        """Whether the crosshair is drawn now (the map has the focus)."""
        return self.ring.isVisible()

    # ------------------------------------------------------------------ keys
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        kind = event.type()
        if kind == QEvent.Type.FocusIn:
            self._show(True)
        elif kind == QEvent.Type.FocusOut:
            self._show(False)
        elif kind == QEvent.Type.ShortcutOverride and self._handles(event):
            event.accept()
            return True
        elif kind == QEvent.Type.KeyPress and self._handles(event):
            self.key(event.key(), bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier))
            return True
        return False

    @staticmethod
    def _handles(event: QKeyEvent) -> bool:
        mods = event.modifiers() & ~(Qt.KeyboardModifier.KeypadModifier | Qt.KeyboardModifier.ShiftModifier)
        return event.key() in MAP_KEYS and not mods

    def key(self, key: int, shift: bool = False) -> None:
        """Act on ``key`` (with Shift held, if ``shift``) as the focused map does."""
        if self.at is None:
            self._place()
        x0, x1, y0, y1 = self.panel.visible_range()
        if key in ARROWS:
            dx = {K.Key_Left: -1, K.Key_Right: 1}.get(key, 0)
            dy = {K.Key_Down: -1, K.Key_Up: 1}.get(key, 0)
            if shift:
                self._set_range(x0 + dx * self.PAN * (x1 - x0), x1 + dx * self.PAN * (x1 - x0),
                                y0 + dy * self.PAN * (y1 - y0), y1 + dy * self.PAN * (y1 - y0))
            else:
                self._move(self.at[0] + dx * self.MOVE * (x1 - x0), self.at[1] + dy * self.MOVE * (y1 - y0))
        elif key in (K.Key_Plus, K.Key_Equal, K.Key_Minus, K.Key_Underscore):
            f = self.ZOOM if key in (K.Key_Plus, K.Key_Equal) else 1 / self.ZOOM
            cx, cy = self.at
            self._set_range(cx - (cx - x0) * f, cx + (x1 - cx) * f, cy - (cy - y0) * f, cy + (y1 - cy) * f)
        elif key in ENTER:
            self.panel.clicked.emit(float(self.at[0]), float(self.at[1]))
        elif key == K.Key_Home:
            self.homeRequested.emit()
            self._place()

    def _set_range(self, x0: float, x1: float, y0: float, y1: float) -> None:
        if not all(map(math.isfinite, (x0, x1, y0, y1))) or not (x1 > x0 and y1 > y0):
            return
        self.panel.set_range(x0, x1, y0, y1)
        self.panel.rangeChanged.emit(self.panel.visible_range())  # as after a zoom or pan with the mouse
        self._move(*self.at)

    def _move(self, x: float, y: float) -> None:
        """The crosshair to (x, y); the view pans along when it would leave it."""
        x0, x1, y0, y1 = self.panel.visible_range()
        sx = min(0.0, x - x0) + max(0.0, x - x1)
        sy = min(0.0, y - y0) + max(0.0, y - y1)
        if sx or sy:
            self.panel.set_range(x0 + sx, x1 + sx, y0 + sy, y1 + sy)
            self.panel.rangeChanged.emit(self.panel.visible_range())
        self.at = (float(x), float(y))
        self._draw()
        self.moved.emit(*self.at)

    def _place(self) -> None:
        """The crosshair at the current point, if it is in view, else in the middle of the view."""
        x0, x1, y0, y1 = self.panel.visible_range()
        xs, ys = self.panel.current.getData()
        if len(xs) and x0 <= xs[-1] <= x1 and y0 <= ys[-1] <= y1:
            self.at = (float(xs[-1]), float(ys[-1]))
        else:
            self.at = ((x0 + x1) / 2, (y0 + y1) / 2)
        self._draw()

    def _show(self, on: bool) -> None:
        if not all(isValid(item) for item in self.items):
            return  # the window is being closed
        if on:
            self._place()  # at the current point whenever the map takes the focus: never a stale start
        for item in self.items:
            item.setVisible(on)
        if on:
            self._draw()

    def _draw(self) -> None:
        x, y = self.at
        self.lines[0].setValue(x)
        self.lines[1].setValue(y)
        self.ring.setData([x], [y])
        self.dot.setData([x], [y])
        self.cross.setData([x], [y])
        self.label.setText(f"({coordinate(x)}, {coordinate(y)}) · Enter: start here")
        x0, x1, y0, y1 = self.panel.visible_range()
        right, top = x > (x0 + x1) / 2, y > (y0 + y1) / 2
        self.label.setAnchor((1.05 if right else -0.05, -0.15 if top else 1.15))
        self.label.setPos(x, y)

    def description(self) -> str:
        """The crosshair's place, for a screen reader (while the map has the focus), else ""."""
        if self.at is None or not self.showing():
            return ""
        names = [self.panel.plot.getAxis(side).labelText or side for side in ("bottom", "left")]
        return (f"crosshair at {names[0]} {coordinate(self.at[0])}, {names[1]} {coordinate(self.at[1])} "
                "(arrows move it, Enter starts there, plus and minus zoom, Shift+arrows pan, Home frames the data)")


#: A field is named after its parameter if the name is this short ("weight of lstat", "lstat → unit 1"); else
#: after its axis ("x"), as the chooser above it is (an elided "layer 1: rm → uni…" read as a cut label).
SHORT_NAME = 18


def field_name(name: str, axis: str) -> str:
    """What a field holding parameter ``name`` on ``axis`` is called: the name, without its layer if need be
    (the chooser above says it), or the axis."""
    if len(name) <= SHORT_NAME:
        return name
    _layer, _, rest = name.partition(": ")
    return rest if rest and len(rest) <= SHORT_NAME else axis


class PointFields(QWidget):
    """Two number fields for a point of a map (the two parameters a loss slice shows), with their names.

    ``chosen(float, float)``: the user entered a value in either field; the point both fields show.
    :meth:`show_point` shows a point (a field being typed in is left alone); no signal fires. The fields are
    named after the map's axes' parameters (or the axes, for long names; the whole name is their tip).
    """

    chosen = Signal(float, float)

    def __init__(self, plot: pg.PlotItem, object_name: str, accessible: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(object_name)
        self.plot = plot  # the map: its axes' labels name the fields
        self._accessible = accessible
        self._names: tuple[str, str] | None = None
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        caption = QLabel(f"{accessible}:")
        caption.setToolTip("The two weights now; type a value to start training from there, as a click on the map")
        row.addWidget(caption)
        self.names: list[QLabel] = []
        self.fields: list[QDoubleSpinBox] = []
        for axis in ("x", "y"):
            name = QLabel(axis)
            name.setProperty("class", "readoutName")
            box = QDoubleSpinBox()
            box.setObjectName(f"{object_name}{axis.upper()}")
            box.setDecimals(4)
            box.setRange(-1e9, 1e9)
            box.setSingleStep(0.05)
            box.setKeyboardTracking(False)
            box.setMinimumWidth(box.fontMetrics().horizontalAdvance("−0000.0000") + 32)  # not the range's width
            box.valueChanged.connect(self._on_value)
            name.setBuddy(box)
            row.addWidget(name)
            row.addWidget(box, 1)
            self.names.append(name)
            self.fields.append(box)
        self.follow_axes()

    def follow_axes(self) -> None:
        """Name the fields after the map's axes (the two parameters it shows)."""
        names = (self.plot.getAxis("bottom").labelText or "x", self.plot.getAxis("left").labelText or "y")
        if names == self._names:
            return
        self._names = names
        for label, box, text, axis in zip(self.names, self.fields, names, "xy", strict=True):
            label.setText(field_name(text, axis))
            label.setToolTip(text)
            box.setAccessibleName(f"{self._accessible} {text}")
            box.setToolTip(f"{text}: type a value (or step it with the arrow keys) to start training there")

    def show_point(self, x: float, y: float) -> None:
        """Show the point (x, y): where the run is now."""
        self.follow_axes()
        for box, v in zip(self.fields, (x, y), strict=True):
            if box.hasFocus() or not np.isfinite(v):
                continue
            blocked = box.blockSignals(True)
            box.setValue(float(v))
            box.blockSignals(blocked)

    def point(self) -> tuple[float, float]:
        return self.fields[0].value(), self.fields[1].value()

    def _on_value(self, _value: float) -> None:
        self.chosen.emit(*self.point())



