"""What a screen reader says and what a keyboard user sees: names, descriptions and a visible focus frame.

:func:`install` (once, when the main window is built):

- every plot is a tab stop named as its panel is, with a description of what it shows now (its title, its
  axes' ranges; on a map also the start, the current point and the crosshair), kept up to date while it is
  visible (:class:`Descriptions`; a view may give a map its subject with :func:`describe`);
- every table is a tab stop (Tab leaves it: the arrow keys move within it), every tab page is named after
  its tab;
- :class:`FocusFrame` draws one clear frame around whatever has the focus: a plot, a table, a slider, a scroll
  area, a text, a button, a check box, a field, a drop-down list, a tab page (the current cell of a focused
  table is marked by the style sheet).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPoint, QRect, QRectF, Qt, QTimer, Slot
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QGraphicsView,
    QHeaderView,
    QMainWindow,
    QTabWidget,
    QWidget,
)
from shiboken6 import isValid

from fitscope.engine.numbers import coordinate

FOCUS = "#1565c0"  # the focus frame's colour (resources/style.qss uses the same)
OUTSET, OUTSET_BELOW = 3, 40  # the frame lies this far outside a widget lower than OUTSET_BELOW pixels
DESCRIBE_MS = 300  # descriptions of the plots shown follow what they show at most this often

_subjects: dict[int, Callable[[], str]] = {}


def describe(panel: QWidget, subject: Callable[[], str]) -> None:
    """``panel``'s description starts with ``subject()`` (say, "Loss surface, MSE") instead of its name."""
    _subjects[id(panel)] = subject


class FocusFrame(QWidget):
    """A frame drawn over the edge of the focused widget (round a small one), the same on every kind of widget,
    where the style shows the focus faintly or not at all. It is a child of the window, on top of everything
    and transparent to the mouse, laid over the part of the widget that is visible (a widget half scrolled out
    of its sidebar is framed where it shows)."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.setObjectName("focusFrame")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.target: QWidget | None = None
        self._watched: list[QWidget] = []
        self.hide()
        QApplication.instance().focusChanged.connect(self._on_focus_changed)

    def wants(self, widget: QWidget) -> bool:
        """Whether ``widget`` gets the frame: any in this window (not in a dialog or a drop-down list's popup)."""
        return widget.window() is self.window()

    def shutdown(self) -> None:
        """Stop following the focus (the window is closing)."""
        if getattr(self, "_stopped", False):
            return
        self._stopped = True
        QApplication.instance().focusChanged.disconnect(self._on_focus_changed)
        self._on_focus_changed(None, None)

    @Slot(QWidget, QWidget)
    def _on_focus_changed(self, _old: QWidget | None, now: QWidget | None) -> None:
        for w in self._watched:
            if isValid(w):
                w.removeEventFilter(self)
        self._watched = []
        by_mouse = QApplication.mouseButtons() != Qt.MouseButton.NoButton  # a click shows where it is already
        self.target = now if now is not None and self.wants(now) and not by_mouse else None
        if self.target is None:
            self.hide()
            return
        w = self.target
        while w is not None and w is not self.window():
            w.installEventFilter(self)  # it or a widget around it moves (a sidebar scrolls), resizes, hides
            self._watched.append(w)
            w = w.parentWidget()
        self.place()

    def place(self) -> None:
        """Lay the frame over the visible part of the focused widget (hidden if none of it shows)."""
        t = self.target
        if t is None or not isValid(t) or not t.isVisible():
            self.hide()
            return
        window = self.window()
        visible = QRect(t.mapTo(window, QPoint(0, 0)), t.size())
        if t.height() < OUTSET_BELOW:  # a small control (a slider, a tick box): the frame goes round it
            visible.adjust(-OUTSET, -OUTSET, OUTSET, OUTSET)
        w = t.parentWidget()
        while w is not None and w is not window:  # clipped by each widget around it (a sidebar's scroll area)
            visible = visible.intersected(QRect(w.mapTo(window, QPoint(0, 0)), w.size()))
            w = w.parentWidget()
        if visible.isEmpty():
            self.hide()
            return
        self.setGeometry(visible)
        self.show()
        self.raise_()
        self.update()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() in (QEvent.Type.Move, QEvent.Type.Resize, QEvent.Type.Show, QEvent.Type.Hide):
            QTimer.singleShot(0, self, self.place)  # once the layout has settled
        return False

    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt's name)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(QPen(QColor(FOCUS), 2.5))
        p.drawRoundedRect(QRectF(self.rect()).adjusted(1.5, 1.5, -1.5, -1.5), 4, 4)
        p.setPen(QPen(QColor(255, 255, 255, 200), 1))
        p.drawRoundedRect(QRectF(self.rect()).adjusted(3.5, 3.5, -3.5, -3.5), 3, 3)


def _panel_of(stop: QWidget) -> QWidget:
    """The panel a plot's graphics view belongs to: the nearest widget (itself included) with a name."""
    w: QWidget | None = stop
    while w is not None and not w.accessibleName():
        w = w.parentWidget()
    return w if w is not None else stop


def _plot_of(stop: pg.GraphicsView, panel: QWidget) -> pg.PlotItem | None:
    """The plot a panel draws in (a map's, not its colour bar's)."""
    for owner in (panel, stop):
        plot = getattr(owner, "plot", None)
        if isinstance(plot, pg.PlotItem):
            return plot
    if isinstance(stop, pg.PlotWidget):
        return stop.getPlotItem()
    return next((item for item in stop.scene().items() if isinstance(item, pg.PlotItem)), None)


def plot_description(stop: QGraphicsView, panel: QWidget) -> str:
    """What the plot ``stop`` shows now: its subject, what a map's start, current point and crosshair are, its
    title and the ranges of its axes (a drawing that is not a plot: its subject alone)."""
    subject = _subjects.get(id(panel))
    parts = [subject() if subject is not None else panel.accessibleName()]
    plot = _plot_of(stop, panel) if isinstance(stop, pg.GraphicsView) else None
    keys = getattr(panel, "keys", None)
    if plot is not None:
        x_name = plot.getAxis("bottom").labelText or "x"
        y_name = plot.getAxis("left").labelText or "y"
        for what in ("start", "current"):
            item = getattr(panel, what, None)
            if isinstance(item, pg.ScatterPlotItem):
                xs, ys = item.getData()
                if len(xs):
                    where = "start at" if what == "start" else "now at"
                    parts.append(f"{where} {x_name} {coordinate(xs[-1])}, {y_name} {coordinate(ys[-1])}")
        if keys is not None and keys.description():
            parts.append(keys.description())
        title = plot.titleLabel.text if plot.titleLabel.isVisible() else ""
        if title:
            parts.append(_plain(title))
        (x0, x1), (y0, y1) = plot.getViewBox().viewRange()
        if getattr(plot.getAxis("bottom"), "logMode", False):
            x0, x1 = 10.0**x0, 10.0**x1
        if getattr(plot.getAxis("left"), "logMode", False):
            y0, y1 = 10.0**y0, 10.0**y1
        parts.append(f"showing {x_name} from {coordinate(x0)} to {coordinate(x1)}, "
                     f"{y_name} from {coordinate(y0)} to {coordinate(y1)}")
    return "; ".join(p for p in parts if p)


@functools.lru_cache(maxsize=64)
def _plain(html: str) -> str:
    """Rich text as plain text (a plot's title)."""
    from PySide6.QtGui import QTextDocument

    doc = QTextDocument()
    doc.setHtml(html)
    return " ".join(doc.toPlainText().split())


class Descriptions(QObject):
    """Keeps the description of each plot shown up to date (at most every :data:`DESCRIBE_MS`), and of the
    focused one at once when it gets the focus."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.stops: list[tuple[QGraphicsView, QWidget]] = []
        self._timer = QTimer(self, interval=DESCRIBE_MS)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        QApplication.instance().focusChanged.connect(self._on_focus_changed)

    @Slot(QWidget, QWidget)
    def _on_focus_changed(self, _old: QWidget | None, now: QWidget | None) -> None:
        self.refresh(now)

    def adopt(self, view: QWidget) -> None:
        """Names, descriptions and tab stops for the tab ``view`` (once it is built)."""
        view.setAccessibleName(f"{view.title} tab")
        view.setAccessibleDescription(f"The {view.title} tab; Tab goes to its plots and controls")
        view.titleChanged.connect(lambda title, view=view: view.setAccessibleName(f"{title} tab"))
        for stop in view.findChildren(QGraphicsView):
            panel = _panel_of(stop)
            if not stop.accessibleName():
                stop.setAccessibleName(panel.accessibleName() or "Plot")
            if stop.focusPolicy() & Qt.FocusPolicy.TabFocus:
                self.add(stop, panel)
        for table in view.findChildren(QAbstractItemView):
            if isinstance(table, QHeaderView) or isinstance(table.parentWidget().parentWidget(), QComboBox):
                continue  # a table's header, a drop-down list's own list
            table.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            table.setTabKeyNavigation(False)  # Tab goes on to the next control; the arrows move in the table

    def shutdown(self) -> None:
        """Stop describing and framing (the window is closing)."""
        self._timer.stop()
        if getattr(self, "_stopped", False):
            return
        self._stopped = True
        QApplication.instance().focusChanged.disconnect(self._on_focus_changed)
        self.frame.shutdown()

    def add(self, stop: QGraphicsView, panel: QWidget) -> None:
        self.stops.append((stop, panel))
        self.update(stop, panel)

    def refresh(self, only: QWidget | None = None) -> None:
        """Describe the plots shown now again (or only ``only``, if it is one)."""
        for stop, panel in self.stops:
            if (only is None or stop is only) and isValid(stop) and stop.isVisible():
                self.update(stop, panel)

    @staticmethod
    def update(stop: QGraphicsView, panel: QWidget) -> None:
        try:
            text = plot_description(stop, panel)
        except RuntimeError:  # the window is being torn down: its plot items go before its widgets
            return
        if stop.accessibleDescription() != text:
            stop.setAccessibleDescription(text)


def install(window: QMainWindow, tabs: QTabWidget) -> Descriptions:
    """The focus frame for ``window``, and its descriptions of plots (see the module's docstring); each tab's
    names and tab stops come as it is built (:meth:`Descriptions.adopt`)."""
    descriptions = Descriptions(window)
    tabs.tabBar().setAccessibleName("Tabs")
    descriptions.frame = FocusFrame(window)
    return descriptions
