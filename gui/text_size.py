"""View ▸ Larger text / Smaller text / Normal size: every font of the app in steps, for a classroom projector.

One size holds for the whole application and is remembered between launches (:mod:`fitscope.gui.prefs`). A
step scales

- the application font, from which the widgets take theirs, and the fonts a widget set for itself (a code
  editor's, a table's bold cells), by the ratio of the new size to the old: such fonts are made from the
  application font of their time;
- every ``font-size`` of a style sheet: the application's (``resources/style.qss``, written at 100 %) and each
  widget's own, also of widgets made later (an event filter rescales a widget's sheet when it is polished or
  its sheet changes; it is installed only while the size is not 100 %, so that nothing costs anything then);
  and a table's columns of fixed width;
- the plots: pyqtgraph's ``LabelItem`` (titles, legends) scales the ``size`` and ``font-size`` it is given,
  every ``AxisItem`` draws its ticks with the application font and scales its label's ``font-size``, and a
  ``TextItem`` given a font keeps its size as its normal size. These are small wrappers round pyqtgraph's
  methods (:func:`install`), so that plots made later follow too; the texts they keep (``LabelItem.text``,
  ``opts['size']``, ``AxisItem.labelStyle``) stay the unscaled ones the app gave. Texts already in a plot are
  redrawn at the size now (:func:`_refresh_plots`).

A size at which the window would no longer fit on its screen (with the tab shown, or a dock opened) is stepped
back, and the status bar says so (:meth:`TextSize.fit_screen`). The backpropagation graph draws its node texts
at fixed sizes and is fitted to its view, so it is left alone.
"""

from __future__ import annotations

import re

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QFont, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QGraphicsTextItem,
    QGraphicsView,
    QHeaderView,
    QLayout,
    QMainWindow,
    QMenu,
    QWidget,
)

from fitscope import resources
from fitscope.gui import prefs

#: The sizes offered, in per cent of the normal size.
STEPS = (100, 125, 150, 175, 200)
#: View ▸ Normal size: Ctrl+0 is the surface tab's "Frame the path".
NORMAL_KEYS = "Ctrl+Alt+0"

_FONT_SIZE = re.compile(r"(font-size\s*:\s*)(\d+(?:\.\d+)?)(\s*)(px|pt)", re.IGNORECASE)
_SCALED_SHEET = "scaledStyleSheet"  # the sheet this module last gave a widget
_UNSCALED_SHEET = "unscaledStyleSheet"  # the sheet the app gave it
_NORMAL_SECTIONS = "normalSectionSizes"  # a header's fixed column widths at the normal size

#: The key of a plot text's normal size in its ``QGraphicsItem.data``.
NORMAL_SIZE = 0x7E57

_factor = 1.0
_base_font: QFont | None = None


def factor() -> float:
    """The size now, as a factor of the normal size (1.0 … 2.0)."""
    return _factor


def scaled_css(text: str, by: float | None = None) -> str:
    """``text`` (a style sheet or HTML) with every ``font-size: N px|pt`` multiplied by ``by`` (default: now)."""
    by = _factor if by is None else by
    if by == 1.0 or "font-size" not in text.lower():
        return text
    return _FONT_SIZE.sub(lambda m: f"{m[1]}{float(m[2]) * by:.3g}{m[3]}{m[4]}", text)


def _scaled_size(size: str, by: float) -> str:
    return scaled_css(f"font-size: {size}", by)[len("font-size: "):] if isinstance(size, str) else size


def tick_font() -> QFont:
    """The font of every axis's ticks now: the application font."""
    return QFont(QApplication.font())


# --------------------------------------------------------------------------- pyqtgraph
def install() -> None:
    """Wrap pyqtgraph's ``LabelItem.setText``, ``AxisItem.__init__``, ``AxisItem.labelString`` and
    ``TextItem.setFont`` so that titles, legends, axes and texts in plots follow the text size (idempotent)."""
    if getattr(pg.LabelItem.setText, "_fitscope", False):
        return
    set_text, axis_init, label_string = pg.LabelItem.setText, pg.AxisItem.__init__, pg.AxisItem.labelString
    text_set_font = pg.TextItem.setFont

    def label_set_text(self, text, **args):
        size = args.get("size", self.opts.get("size"))
        if size is not None and _factor != 1.0:  # drawn at the scaled size, remembered unscaled
            args = {**args, "size": _scaled_size(size, _factor)}
        set_text(self, scaled_css(text), **args)
        if size is not None:
            self.opts["size"] = size
        self.text = text
        plot = self.parentItem()
        if isinstance(plot, pg.PlotItem) and getattr(plot, "titleLabel", None) is self and self.isVisible():
            # pyqtgraph gives a title 30 px, too few for larger text
            height = 30.0 if _factor == 1.0 else max(30.0, self.itemRect().height())
            self.setMaximumHeight(height)
            plot.layout.setRowFixedHeight(0, height)

    def axis_item_init(self, *args, **kwargs):
        axis_init(self, *args, **kwargs)
        if _factor != 1.0:
            self.setStyle(tickFont=tick_font())

    def axis_label_string(self):
        return scaled_css(label_string(self))

    def text_item_set_font(self, font):
        """A size chosen for the normal size (a contour label's 7 pt): kept as the item's normal size."""
        font = QFont(font)
        if font.pointSizeF() > 0:
            self.textItem.setData(NORMAL_SIZE, font.pointSizeF())
            font.setPointSizeF(font.pointSizeF() * _factor)
        text_set_font(self, font)

    for function in (label_set_text, axis_item_init, axis_label_string, text_item_set_font):
        function._fitscope = True
    pg.LabelItem.setText = label_set_text
    pg.TextItem.setFont = text_item_set_font
    pg.AxisItem.__init__ = axis_item_init
    pg.AxisItem.labelString = axis_label_string


def _refresh_plots(old: float) -> None:
    """Redraw every plot's texts at the size now (it was ``old`` times the normal size).

    A ``QGraphicsTextItem`` (an axis's label, a ``TextItem``) keeps the font it was made with: the application
    font of its time, or a size of its own chosen for the normal size (a contour label's 7 pt). It is drawn at
    its normal size times the factor now; its normal size is kept in its ``data(NORMAL_SIZE)``."""
    old_app = _base_font.pointSizeF() * old
    for view in (w for w in QApplication.allWidgets() if isinstance(w, QGraphicsView)):
        scene = view.scene()
        if scene is None:
            continue
        scene.setFont(QApplication.font())
        items = scene.items()
        for item in items:
            if isinstance(item, QGraphicsTextItem):
                font = item.font()
                if font.pointSizeF() <= 0:
                    continue
                normal = item.data(NORMAL_SIZE)
                if not isinstance(normal, float):
                    size = font.pointSizeF()
                    normal = size / old if abs(size - old_app) < 0.01 else size
                    item.setData(NORMAL_SIZE, normal)
                if abs(font.pointSizeF() - normal * _factor) > 0.01:
                    font.setPointSizeF(normal * _factor)
                    item.setFont(font)
        for item in items:
            if isinstance(item, pg.LabelItem):
                item.setText(item.text)
            elif isinstance(item, pg.AxisItem):
                item.label.setHtml(item.labelString())
                item.setStyle(tickFont=tick_font())


# --------------------------------------------------------------------------- widgets
def _rescale_sheet(widget: QWidget) -> None:
    """Give ``widget`` its own style sheet at the size now (the sheet the app gave it is kept in a property)."""
    sheet = widget.styleSheet()
    unscaled = widget.property(_UNSCALED_SHEET)
    if unscaled is None or sheet != widget.property(_SCALED_SHEET):  # a sheet this module has not seen
        if "font-size" not in sheet.lower():
            return
        unscaled = sheet
        widget.setProperty(_UNSCALED_SHEET, sheet)
    scaled = scaled_css(unscaled)
    widget.setProperty(_SCALED_SHEET, scaled)
    if scaled != sheet:
        widget.setStyleSheet(scaled)


def _rescale_sections(header: QHeaderView) -> None:
    """A table's columns of fixed width (set in pixels for the normal size) at the size now."""
    normal = header.property(_NORMAL_SECTIONS) or {}
    for i in range(header.count()):
        if header.sectionResizeMode(i) != QHeaderView.ResizeMode.Fixed:
            continue
        width = normal.setdefault(str(i), header.sectionSize(i))
        if header.sectionSize(i) != round(width * _factor):
            header.resizeSection(i, round(width * _factor))
    header.setProperty(_NORMAL_SECTIONS, normal)


class _SheetWatcher(QObject):
    """Rescales the style sheet of each widget that is polished, or whose sheet changes, while installed."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() in (QEvent.Type.Polish, QEvent.Type.StyleChange) and isinstance(watched, QWidget):
            _rescale_sheet(watched)
        return False


_watcher: _SheetWatcher | None = None


def apply(percent: int) -> None:
    """Show every text at ``percent`` of its normal size (one of :data:`STEPS`)."""
    global _factor, _base_font, _watcher
    app = QApplication.instance()
    install()
    if _base_font is not None and percent / 100 == _factor:
        return  # nothing to change (each new window asks for the size remembered): no app-wide restyle
    if _base_font is None:
        _base_font = QFont(app.font())
    old, _factor = _factor, percent / 100
    font = QFont(_base_font)
    if _base_font.pointSizeF() > 0:
        font.setPointSizeF(_base_font.pointSizeF() * _factor)
    else:
        font.setPixelSize(round(_base_font.pixelSize() * _factor))
    app.setFont(font)
    sheet = scaled_css(resources.read_text("style.qss"))
    if app.styleSheet() != sheet:  # setting it restyles every widget of the application
        app.setStyleSheet(sheet)
    if _watcher is None and _factor != 1.0:
        _watcher = _SheetWatcher()
        app.installEventFilter(_watcher)
    elif _watcher is not None and _factor == 1.0:
        app.removeEventFilter(_watcher)
        _watcher = None
    for widget in QApplication.allWidgets():
        _rescale_sheet(widget)
        if isinstance(widget, QHeaderView):
            _rescale_sections(widget)
        if old != _factor and widget.testAttribute(Qt.WidgetAttribute.WA_SetFont):
            own = QFont(widget.font())
            if own.pointSizeF() > 0:
                own.setPointSizeF(own.pointSizeF() * _factor / old)
                widget.setFont(own)
    _refresh_plots(old)
    _relayout_hidden()


def _relayout_hidden() -> None:
    """Lay out hidden widgets (other tabs) for the fonts now, so that the window's least size is known: Qt does
    that only when they are shown, and a tab's sidebar fits its width to its contents on a layout request."""
    for top in QApplication.topLevelWidgets():
        for layout in top.findChildren(QLayout):  # nested layouts keep their sizes until invalidated one by one
            layout.invalidate()
    for widget in QApplication.allWidgets():
        if widget.layout() is not None and not widget.isVisible():
            QApplication.sendEvent(widget, QEvent(QEvent.Type.LayoutRequest))


class TextSize(QObject):
    """View ▸ Larger text (Ctrl++), Smaller text (Ctrl+−) and Normal size (:data:`NORMAL_KEYS`) of a window.

    Made at the start of the window, before its widgets: it applies the remembered size to the application.
    ``changed(int)``: the size, in per cent, after a step.
    """

    changed = Signal(int)

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.percent = self.remembered()
        self.normal_fits = True  # the window fits on its screen at the normal size (measured on leaving it)
        apply(self.percent)
        if self.percent != STEPS[0]:  # once the window is built: its plots' and tables' own sizes too
            QTimer.singleShot(0, self, self._settle)
        self.larger = self._action("&Larger text", "largerTextAction", 1,
                                   [QKeySequence(QKeySequence.StandardKey.ZoomIn), QKeySequence("Ctrl+=")],
                                   "Every text and plot label one step larger (for a projector)")
        self.smaller = self._action("&Smaller text", "smallerTextAction", -1,
                                    [QKeySequence(QKeySequence.StandardKey.ZoomOut)],
                                    "Every text and plot label one step smaller")
        self.normal = self._action("&Normal size", "normalTextAction", 0, [QKeySequence(NORMAL_KEYS)],
                                   "Every text at its normal size")
        self._update_actions()

    @Slot()
    def _settle(self) -> None:
        """Once the window is built and shown: its plots' and tables' own sizes, and a size that fits."""
        apply(self.percent)
        self.fit_screen()

    @staticmethod
    def remembered() -> int:
        """The size remembered from the last launch, or 100 (none, or damaged)."""
        value = prefs.text_size()
        return value if value in STEPS else 100

    def _action(self, text: str, name: str, step: int, keys: list[QKeySequence], tip: str) -> QAction:
        action = QAction(text, self.parent())
        action.setObjectName(name)
        action.setShortcuts(keys)
        action.setStatusTip(tip)
        action.triggered.connect(lambda _=False: self.step(step))
        return action

    def add_to_menu(self, menu: QMenu) -> None:
        menu.addActions([self.larger, self.smaller, self.normal])

    def step(self, step: int) -> None:
        """One step larger (1), smaller (−1), or back to normal (0)."""
        i = STEPS.index(self.percent)
        self.set_percent(STEPS[0] if step == 0 else STEPS[max(0, min(len(STEPS) - 1, i + step))])

    def set_percent(self, percent: int) -> bool:
        """Show every text at ``percent`` (one of :data:`STEPS`) and remember it. A size at which the window
        would not fit on its screen is not kept (see :meth:`fit_screen`): False then."""
        if percent not in STEPS:
            raise ValueError(f"text size {percent} % is not one of {STEPS}")
        if percent != self.percent:
            if self.percent == STEPS[0]:
                self.normal_fits = self.fits()
            self.percent = percent
            apply(percent)
        prefs.remember_text_size(self.percent)
        self._update_actions()
        fitted = self.fit_screen()
        self.changed.emit(self.percent)
        return fitted

    def fits(self) -> bool:
        """Whether the window, at its smallest with the tab shown, fits on its screen now (True if hidden)."""
        window = self.parent()
        screen = window.screen() if window.isVisible() else None
        if screen is None:
            return True
        _ = getattr(window, "views", None)  # every tab built: the least size is that of the largest
        for _ in range(3):  # the new fonts' polish and layout requests, which may post more
            QApplication.sendPostedEvents()
        need, room = window.minimumSizeHint(), screen.availableGeometry()
        return need.width() <= room.width() and need.height() <= room.height()

    @Slot()
    def fit_later(self) -> None:
        """:meth:`fit_screen` once the window has laid out what changed (another tab shown)."""
        if self.percent != STEPS[0]:
            QTimer.singleShot(0, self, self.fit_screen)

    @Slot()
    def fit_screen(self) -> bool:
        """Step the text down while the window would not fit on its screen (but not on a screen too small for
        the window at its normal size: there the text size is not to blame); the status bar says so. False if
        the size was lowered."""
        if self.percent == STEPS[0] or not self.normal_fits or self.fits():
            return True
        wanted = self.percent
        while self.percent > STEPS[0] and not self.fits():
            self.percent = STEPS[STEPS.index(self.percent) - 1]
            apply(self.percent)
        if self.percent == STEPS[0] and not self.fits():  # the screen is too small for the window anyway
            self.normal_fits = False
            self.percent = wanted
            apply(wanted)
            return True
        prefs.remember_text_size(self.percent)
        self._update_actions()
        window = self.parent()
        room = window.screen().availableGeometry()
        if window.width() > room.width() or window.height() > room.height():
            window.resize(min(window.width(), room.width()), min(window.height(), room.height()))
            window.move(room.topLeft())
        window.statusBar().showMessage(f"At {wanted} % the window would not fit on this screen: text is at "
                                       f"{self.percent} %.", 8000)
        return False

    def _update_actions(self) -> None:
        self.larger.setEnabled(self.percent < STEPS[-1])
        self.smaller.setEnabled(self.percent > STEPS[0])
        self.normal.setEnabled(self.percent != 100)
        self.normal.setText(f"&Normal size (now {self.percent} %)" if self.percent != 100 else "&Normal size")
