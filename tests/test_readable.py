"""Readable: log axes that never crowd, contour labels that never overlap, legends that hide no curve, a loss chart
that shows its first point, sidebars that scroll instead of cutting text, pictures titled for what they show,
and a window title that names what the window shows; an emptied loss chart that frames the next run afresh; a map's
colour bar whole and labelled at every size, labels that read differently over a narrow range, and contour labels
clear of the points and the path.

Everything is driven through the real widgets (offscreen), at the window sizes a user has (1400×880, 1280×800).
"""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QImage, QPainter
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QFileDialog,
    QLabel,
    QMessageBox,
    QWidget,
)

from fitscope.engine.data import load_builtin
from fitscope.engine.numbers import linear_texts, prose
from fitscope.gui import export
from fitscope.gui.app import MainWindow
from fitscope.gui.panels.axes import LogAxis, compact, log_ticks, number_text
from fitscope.gui.panels.loss_curve import LossCurvePanel
from fitscope.gui.panels.plotting import TITLE_SLACK, Swatch, fit_title
from fitscope.gui.panels.pred_actual import PredActualPanel
from fitscope.gui.panels.race_losses import RaceLossPanel
from fitscope.gui.views.boston_view import BostonView
from fitscope.gui.views.race_view import RaceView
from fitscope.gui.views.surface_view import SurfaceView
from fitscope.gui.worker import Unit

SIZES = [(1400, 880), (1280, 800)]
PLAIN = re.compile(r"^-?\d+(\.\d*[1-9])?$")  # 0.05, 20, 500 (no trailing zeros)
POWER = re.compile(r"^-?[1-9](\.\d*[1-9])?e-?[1-9]\d*$")  # 1e3, 2.5e-4


# --------------------------------------------------------------------------- helpers
@pytest.fixture
def warnings(monkeypatch) -> list[tuple[str, str]]:
    shown: list[tuple[str, str]] = []

    def warning(_parent, title, text, *_args, **_kwargs):
        shown.append((title, text))
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "warning", staticmethod(warning))
    return shown


def make_window(qtbot, size=(1400, 880)) -> MainWindow:
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(*size)
    w.tabs.setCurrentIndex(0)
    with qtbot.waitExposed(w):
        w.show()
    settle(qtbot)
    return w


@pytest.fixture
def window(qtbot, warnings):
    w = make_window(qtbot)
    yield w
    w.close()


def settle(qtbot, ms: int = 60) -> None:
    qtbot.wait(ms)
    QApplication.processEvents()


def view_of(window: MainWindow, cls):
    return next(v for v in window.views if isinstance(v, cls))


def idle(qtbot, view, timeout=30_000) -> None:
    qtbot.waitUntil(lambda: not view.controller.busy, timeout=timeout)


def step(qtbot, view, unit=Unit.BATCH, times=1) -> None:
    for _ in range(times):
        view.step(unit)
        idle(qtbot, view)
    view.redraw()
    settle(qtbot)


def open_csv(qtbot, window: MainWindow, path) -> None:
    """File > Open CSV… as a user would: read the file, press Open in the preview."""
    window.opener.open(str(path))
    qtbot.waitUntil(lambda: not window.opener.loading, timeout=30_000)
    dialog = window.opener.preview
    assert dialog is not None and dialog.ok_button.isEnabled(), dialog and dialog.status.text()
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: window.opener.preview is None, timeout=5000)
    settle(qtbot)


def big_csv(tmp_path, name="houses.csv"):
    """One feature in the thousands, a target in the millions: losses of 1e9 … 1e13 on the map."""
    rng = np.random.default_rng(1)
    x = rng.uniform(1000, 5000, 40)
    y = 320 * x + 150_000 + rng.normal(0, 40_000, 40)
    path = tmp_path / name
    path.write_text("area,price\n" + "".join(f"{a:.1f},{b:.1f}\n" for a, b in zip(x, y, strict=True)))
    return path


def drawn_labels(axis) -> list[tuple[QRectF, str]]:
    """The tick labels ``axis`` draws now, as pyqtgraph lays them out: (rect in the axis's coordinates, text)."""
    image = QImage(8, 8, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    painter.setFont(axis.style["tickFont"] or axis.font())
    specs = axis.generateDrawSpecs(painter)
    painter.end()
    assert specs is not None, "the axis is not on screen"
    return [(rect, text) for rect, _flags, text in specs[2]]


def check_rule(text: str) -> float:
    """A label is plain from 0.01 to 999 and 1e3-style beyond; never 10², 9·10¹, 1e+03. Its value."""
    assert "·" not in text and "+" not in text and not re.search("[⁰¹²³⁴⁵⁶⁷⁸⁹]", text), text
    if PLAIN.match(text):
        value = float(text)
        assert 0.01 <= abs(value) < 1000, f"{text} should be written 1e3-style"
    else:
        assert POWER.match(text), f"{text!r} is neither plain nor 1e3-style"
        value = float(text)
        assert not 0.01 <= abs(value) < 1000, f"{text} should be written plainly"
    return value


def check_axis(axis, lo: float, hi: float, least: int = 2) -> list[str]:
    """The labels of a vertical log axis showing [lo, hi]: at least ``least``, distinct, in range, following
    the rule, and no two overlapping at the axis's font (its full line height, not pyqtgraph's 0.8 of it)."""
    labels = drawn_labels(axis)
    texts = [t for _, t in labels]
    assert len(texts) >= least, texts
    assert len(set(texts)) == len(texts), texts
    for text in texts:
        assert lo * (1 - 1e-9) <= check_rule(text) <= hi * (1 + 1e-9), (text, lo, hi)
    height = QFontMetricsF(axis.style["tickFont"] or axis.font()).height()
    centres = sorted(rect.center().y() for rect, _ in labels)
    gaps = [b - a for a, b in itertools.pairwise(centres)]
    assert all(gap >= height for gap in gaps), (texts, gaps, height)
    return texts


def disjoint(rects: list[QRectF]) -> bool:
    return not any(a.intersects(b) for a, b in itertools.combinations(rects, 2))


# --------------------------------------------------------------------------- 1. log axes
def test_number_formats_are_plain_within_two_decades_and_1e3_style_beyond():
    assert [compact(v) for v in (0.931, 31.8, 123, 100, 1370, 3.8e3, 4.23e12, 0.00123, 0.01, 999.6, -2.5e-5)] == [
        "0.931", "31.8", "123", "100", "1.37e3", "3.8e3", "4.23e12", "1.23e-3", "0.01", "1e3", "-2.5e-5"]
    assert [number_text(v, last) for v, last in ((0.1, -2), (0.12, -2), (20, 1), (1e3, 3), (5e-4, -4))] == [
        "0.1", "0.12", "20", "1e3", "5e-4"]


def test_a_number_in_a_sentence_is_grouped_by_thousands_and_never_written_the_python_way():
    values = (0.0718, 22.5, 5.6e4, 1234.5, 999.96, -88_500, 123_456.7, 7.827e9, 2e-5, 0.00012, -0.0, math.inf, math.nan)
    assert [prose(v) for v in values] == ["0.0718", "22.5", "56,000", "1,230", "1,000", "-88,500", "123,000", "7.83e9",
                                          "2e-5", "0.00012", "0", "∞", "–"]
    assert [prose(v, 6) for v in (1234.5, 999_999, 7.827e9, 1e-7)] == ["1,234.5", "999,999", "7.827e9", "1e-7"]
    assert [prose(v) for v in (10**400, -(10**400), np.float32(0.1), np.int64(56_049))] == ["∞", "-∞", "0.1", "56,000"]


def test_the_texts_beside_the_plots_write_large_numbers_as_people_do(qtbot, warnings, tmp_path):
    """Prices in the hundred thousands and losses in the billions: what the tab's labels say (the Now box, the
    readouts, the notes) groups thousands or writes a short exponent, never ``8.85e+04``."""
    window = make_window(qtbot)
    view = view_of(window, SurfaceView)
    open_csv(qtbot, window, big_csv(tmp_path))
    step(qtbot, view, Unit.BATCH, times=3)
    texts = [w.text() for w in window.findChildren(QLabel) if w.isVisibleTo(window) and w.text()]
    assert any(re.search(r"\d,\d{3}", t) or re.search(r"\de\d", t) for t in texts), texts
    assert not [t for t in texts if re.search(r"\de[+-]0", t)]
    window.close()


@pytest.mark.parametrize("lo,hi", [(0.08, 0.12), (1, 10), (1, 1e10), (22.1, 22.3), (1e-3, 10), (181, 3.3e5),
                                   (5e-4, 9e-4), (1e-300, 1e300), (0.9, 1.1), (1e9, 1.4e13)])
@pytest.mark.parametrize("length", [60, 150, 300, 700])
def test_log_ticks_never_crowd(lo, hi, length):
    major, minor = log_ticks(math.log10(lo), math.log10(hi), length, lambda _label: 14.0)
    texts = [t for _, t in major]
    assert texts and len(set(texts)) == len(texts)
    for v, text in major:
        assert math.isclose(check_rule(text), 10**v, rel_tol=1e-6), (text, v)
        assert math.log10(lo) - 1e-9 <= v <= math.log10(hi) + 1e-9
    positions = [(v - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * length for v, _ in major]
    assert all(b - a >= 1.5 * 14 for a, b in itertools.pairwise(positions)), texts
    assert not set(minor) & {v for v, _ in major}
    if length >= 150:
        assert len(texts) >= 2, texts


@pytest.mark.parametrize("size", [(420, 320), (340, 250)])
@pytest.mark.parametrize("lo,hi", [(0.08, 0.12), (1, 10), (1, 1e10)])
def test_the_loss_charts_log_axis_labels_round_values_that_do_not_overlap(qtbot, size, lo, hi):
    for panel in (LossCurvePanel("Loss"), RaceLossPanel()):
        qtbot.addWidget(panel)
        panel.resize(*size)
        with qtbot.waitExposed(panel):
            panel.show()
        panel.log_scale.setChecked(True)
        losses = np.geomspace(lo, hi, 50)  # a chart with nothing drawn has no labels
        if isinstance(panel, LossCurvePanel):
            panel.set_history(losses, np.empty((0, 5)))
        else:
            panel.set_racers([("sgd", "SGD", "#1e88e5")])
            panel.set_losses("sgd", losses)
        panel.plot.setYRange(math.log10(lo), math.log10(hi), padding=0)
        settle(qtbot)
        axis = panel.plot.getAxis("left")
        assert isinstance(axis, LogAxis)
        texts = check_axis(axis, lo, hi)
        if (lo, hi) == (0.08, 0.12):
            assert len(texts) >= 3 and "0.1" in texts  # not 0.1 alone, and never 0.1/0.09/0.08 crowding
        if (lo, hi) == (1, 1e10):
            assert max(float(t) for t in texts) >= 1e8  # the labels reach the top decades
        panel.close()


@pytest.mark.parametrize("width", [900, 330])
def test_the_baseline_label_is_whole_in_a_narrow_chart(qtbot, width):
    panel = LossCurvePanel("Loss")
    qtbot.addWidget(panel)
    panel.resize(width, 300)
    with qtbot.waitExposed(panel):
        panel.show()
    panel.set_history(np.linspace(100, 20, 50), np.empty((0, 5)))
    panel.set_baseline(85.58, "baseline (always guessing the mean price)")
    settle(qtbot)
    label, box = panel.baseline.label, panel.plot.getViewBox()
    left = box.mapFromScene(label.mapToScene(label.boundingRect().topLeft())).x()
    assert 0 <= left  # nothing cut at the chart's left
    text = label.format
    assert text == ("baseline (always guessing the mean price) 85.58" if width > 500 else "baseline 85.58")
    panel.resize(900, 300)  # room again: the whole text
    settle(qtbot)
    assert label.format == "baseline (always guessing the mean price) 85.58"
    panel.close()


def test_the_loss_chart_labels_grow_with_the_data_without_crowding(qtbot, window):
    """The surface tab's loss chart (log scale) after a run whose loss falls over decades, at both window sizes."""
    view = view_of(window, SurfaceView)
    view.set_control("loss", "mse")
    step(qtbot, view, Unit.EPOCH, 30)
    for size in SIZES:
        window.resize(*size)
        settle(qtbot, 150)
        (y0, y1) = view.loss_panel.plot.getViewBox().viewRange()[1]
        check_axis(view.loss_panel.plot.getAxis("left"), 10**y0, 10**y1)


SUFFIX = {"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}


def read_tick(text: str) -> float:
    """The value of a linear axis's label: 1,500; 50k; 1.2M; 0.5."""
    assert "e" not in text and "+" not in text, text
    factor = SUFFIX.get(text[-1], 1.0)
    return float(text.rstrip("kMGT").replace(",", "")) * factor


def test_linear_tick_labels_are_written_one_way_along_the_axis():
    assert linear_texts([0, 250, 500]) is None  # plain decimals: pyqtgraph's own
    assert linear_texts([0, 500, 1000, 1500]) == ["0", "500", "1,000", "1,500"]
    assert linear_texts([1000.5, 1001.0, 1001.5]) == ["1,000.5", "1,001", "1,001.5"]
    assert linear_texts([0, 5e4, 1e5, 1.5e5]) == ["0", "50k", "100k", "150k"]
    assert linear_texts([-9e5, 0, 5e5, 1.1e6]) == ["-0.9M", "0", "0.5M", "1.1M"]
    assert linear_texts([0, 1e10, 2e10]) == ["0", "10G", "20G"]
    assert linear_texts([1e-4, 2e-4]) == ["1e-4", "2e-4"]


@pytest.mark.parametrize("hi,style", [(1.2e6, "M"), (3.5e5, "k"), (5e3, ","), (40, "")])
def test_linear_axes_write_every_label_one_way(qtbot, hi, style):
    """A step axis at a million steps read "500000" beside "1e+06" (pyqtgraph's own labels), and the project's
    own rule then read "500" beside "1e3": the linear axes of every chart write all their labels one way, as
    people write counts and prices (1,500; 50k; 1.2M)."""
    panels = [LossCurvePanel("Loss"), RaceLossPanel(), PredActualPanel()]
    for panel in panels:
        qtbot.addWidget(panel)
        panel.resize(420, 320)
        with qtbot.waitExposed(panel):
            panel.show()
        panel.plot.setXRange(0, hi, padding=0)
        settle(qtbot)
        texts = [text for _rect, text in drawn_labels(panel.plot.getAxis("bottom"))]
        assert len(texts) >= 2
        values = [read_tick(text) for text in texts]  # (major ticks, then minor)
        assert len(set(values)) == len(values) and 0 <= min(values) and max(values) <= hi, texts
        nonzero = [t for t in texts if t != "0"]
        if style in SUFFIX:
            assert all(t.endswith(style) for t in nonzero), texts
        elif style == ",":
            assert all("," in t for t in nonzero if read_tick(t) >= 1000) and not any(t[-1] in SUFFIX for t in texts)
        else:
            assert all(t.replace(".", "").isdigit() for t in nonzero), texts
        panel.close()


def test_a_title_broken_in_two_stays_so_while_its_room_wavers(qtbot):
    """The Boston slice's title flipped between one line and two from frame to frame while training ran (its
    colour bar's labels grow and shrink by a few pixels): back on one line only with room to spare."""
    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    widget.resize(900, 300)
    with qtbot.waitExposed(widget):
        widget.show()
    plot = widget.getPlotItem()
    fit_title(plot, "Training loss over two parameters — click to start there")

    def one_line_at(width: int) -> bool:
        widget.resize(width, 300)
        settle(qtbot, 20)
        return "<br>" not in plot.titleLabel.text

    assert one_line_at(900)
    width = 900
    while one_line_at(width):  # narrower, until it breaks
        width -= 4
        assert width > 100
    assert not one_line_at(width + 8) and not one_line_at(width)  # a few pixels more: still two lines
    assert one_line_at(width + 8 + TITLE_SLACK)  # room to spare: one line again


# --------------------------------------------------------------------------- 2. contour labels, 3. colour bar
def check_contour_labels(panel) -> list[str]:
    labels = panel.contour_labels()
    assert labels, "no isoline is labelled"
    area = panel.view_box.sceneBoundingRect()
    rects = [label.sceneBoundingRect() for label in labels]
    texts = [label.textItem.toPlainText() for label in labels]
    for rect, text in zip(rects, texts, strict=True):
        assert area.contains(rect), f"{text} runs out of the plot: {rect} not in {area}"
        check_rule(text)
        assert len(text.replace("-", "").replace(".", "")) <= 6, text  # three significant digits at most
    assert disjoint(rects), list(zip(texts, rects, strict=True))
    return texts


def zooms(panel):
    """The visible range, then zoomed out ×8 and in ×1/6 around its centre (as the wheel would)."""
    x0, x1, y0, y1 = panel.visible_range()
    cx, cy, wx, wy = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
    return [(x0, x1, y0, y1), (cx - 8 * wx, cx + 8 * wx, cy - 8 * wy, cy + 8 * wy),
            (cx - wx / 6, cx + wx / 6, cy - wy / 6, cy + wy / 6)]


@pytest.mark.parametrize("size", SIZES)
def test_contour_labels_are_apart_and_inside_the_map_built_in_and_large_numbers(qtbot, warnings, tmp_path, size):
    window = make_window(qtbot, size)
    view = view_of(window, SurfaceView)
    for data in ("built-in", "csv"):
        if data == "csv":
            open_csv(qtbot, window, big_csv(tmp_path))
            assert view.model.dataset.name == "houses.csv"
        for rng in zooms(view.surface):
            view.surface.set_range(*rng)
            view.recompute_surface()
            settle(qtbot)
            texts = check_contour_labels(view.surface)
            if data == "csv":
                assert any("e" in t for t in texts), texts  # 1e9 … 1e13: written 1.37e12, not 1.37e+12
            # 3. the colour bar: round labels, not crowded, whatever the range, and painted (1e10 as well as 5e9)
            lo, hi = (10**v for v in view.surface.colorbar.levels())
            check_axis(view.surface.colorbar.axis, lo, hi)
            assert unpainted_labels(view.surface.colorbar.axis) == []
        window.resize(size[0] - 200, size[1] - 150)  # a smaller map: the labels are placed again
        settle(qtbot, 150)
        check_contour_labels(view.surface)
        window.resize(*size)
        settle(qtbot, 150)
    window.close()


def test_the_loss_slice_colour_bar_and_labels_of_the_boston_tab(qtbot, window):
    window.tabs.setCurrentIndex(1)
    view = view_of(window, BostonView)
    qtbot.waitUntil(lambda: view.slice_grid is not None, timeout=10_000)
    settle(qtbot, 150)
    check_contour_labels(view.slice_panel)
    lo, hi = (10**v for v in view.slice_panel.colorbar.levels())
    check_axis(view.slice_panel.colorbar.axis, lo, hi)
    axis = view.slice_panel.colorbar.axis  # no fixed ticks: they follow the bar's length
    lo_v, hi_v = axis.range
    count = [sum(len(values) for _, values in axis.tickValues(lo_v, hi_v, length)) for length in (60, 600)]
    assert count[0] < count[1]


# --------------------------------------------------------------------------- 4. legends
def swatch_picture(sample: Swatch) -> QImage:
    image = QImage(24, 24, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    sample.paint(painter)
    painter.end()
    return image


def check_legend_outside(plot, legend, names: list[str]) -> None:
    """The legend lists ``names`` (in any order), lies outside the plot area, and every entry is whole on
    screen: in the scene, not clipped by the widget's edge."""
    assert sorted(legend.names()) == sorted(names)
    area = plot.getViewBox().sceneBoundingRect()
    visible = QRectF(plot.scene().views()[0].rect())
    for sample, label in legend.items:
        for item in (sample, label.item):
            rect = item.sceneBoundingRect()
            assert not rect.intersects(area), f"{label.text} lies over the plot area"
            assert visible.contains(rect), f"{label.text} is cut off: {rect} not in {visible}"
    texts = []
    for _, label in legend.items:  # the text's own box, without the empty margin around it
        m = label.item.document().documentMargin()
        texts.append(label.item.sceneBoundingRect().adjusted(m, m, -m, -m))
    assert disjoint(texts)


@pytest.mark.parametrize("size", SIZES)
def test_legends_hide_no_curve(qtbot, warnings, size):
    window = make_window(qtbot, size)
    surface = view_of(window, SurfaceView)
    step(qtbot, surface, Unit.BATCH, 3)
    panel = surface.loss_panel
    check_legend_outside(panel.plot, panel.legend, ["batch loss", "training loss (epoch)", "test loss"])

    window.tabs.setCurrentIndex(1)
    boston = view_of(window, BostonView)
    settle(qtbot, 150)
    check_legend_outside(boston.loss_panel.plot, boston.loss_panel.legend,
                         ["batch loss", "training loss (epoch)", "validation loss"])

    window.tabs.setCurrentIndex(3)
    race = view_of(window, RaceView)
    settle(qtbot, 150)
    step(qtbot, race, Unit.BATCH, 2)
    racers = ["SGD", "Momentum", "RMSProp", "Adam"]
    check_legend_outside(race.surface.plot, race.legend, [*racers, "optimum"])
    check_legend_outside(race.losses.plot, race.losses.legend, racers)
    window.close()


def test_a_hidden_curve_keeps_its_swatch_and_a_click_does_not_hide_one(qtbot):
    panel = LossCurvePanel("Loss")
    qtbot.addWidget(panel)
    panel.show()
    sample = next(s for s, label in panel.legend.items if label.text == "training loss (epoch)")
    assert isinstance(sample, Swatch)
    shown = swatch_picture(sample)
    assert any(shown.pixelColor(x, 11) != QColor("white") for x in range(20))  # a line, in the curve's colour
    panel.train.setVisible(False)
    assert swatch_picture(sample) == shown  # the same swatch: no black "eye"

    class Click:
        accepted = None

        def button(self):
            return Qt.MouseButton.LeftButton

        def ignore(self):
            self.accepted = False

    panel.train.setVisible(True)
    sample.mouseClickEvent(Click())
    assert panel.train.isVisible()


def test_a_racers_swatch_is_its_line_from_the_first_point_on(qtbot):
    """At the start each racer's loss is one point, drawn as a dot; the legend shows the same line throughout."""
    panel = RaceLossPanel()
    qtbot.addWidget(panel)
    panel.show()
    panel.set_racers([("sgd", "SGD", "#e53935")])
    sample = next(s for s, label in panel.legend.items if label.text == "SGD")
    panel.set_losses("sgd", np.array([27.3]))
    assert panel.curves["sgd"].opts["symbol"] is not None  # the lone point is drawn
    one = swatch_picture(sample)
    panel.set_losses("sgd", np.array([27.3, 20.1, 15.2, 12.0]))
    assert panel.curves["sgd"].opts["symbol"] is None and swatch_picture(sample) == one


def test_a_sidebar_keeps_its_width_whether_or_not_there_is_something_to_scroll(qtbot):
    """A text that grows past the sidebar's height makes it scroll; the fields beside it keep their width (in the
    race, every control widened when Run shortened the explanation), and so they do at every height of the window
    (a scroll bar's room kept only while it was hidden went back and forth without end at some heights)."""
    from PySide6.QtWidgets import QVBoxLayout

    from fitscope.gui.views.tab import SidebarScroll

    contents = QWidget()
    column = QVBoxLayout(contents)
    text = QLabel("Short.")
    text.setWordWrap(True)
    column.addWidget(text)
    column.addStretch(1)
    scroll = SidebarScroll(contents, (300, 300))
    qtbot.addWidget(scroll)
    scroll.resize(300, 200)
    scroll.show()
    qtbot.waitExposed(scroll)
    settle(qtbot)
    short, bar = contents.width(), scroll.verticalScrollBar()
    assert bar.maximum() == 0
    text.setText(" ".join(["A long explanation that needs the room of many lines."] * 30))
    qtbot.waitUntil(lambda: bar.maximum() > 0, timeout=2000)
    settle(qtbot)
    assert contents.width() == short
    for height in range(200, 1200, 3):  # through the height at which the text fits
        scroll.resize(300, height)
        QApplication.processEvents()
        assert contents.width() == short, height
    text.setText("Short again.")
    qtbot.waitUntil(lambda: bar.maximum() == 0, timeout=2000)
    settle(qtbot)
    assert contents.width() == short


def test_the_loss_chart_lists_only_the_curves_the_data_has(qtbot):
    panel = LossCurvePanel("Loss")
    qtbot.addWidget(panel)
    panel.show_curves(validation=True, test=False)
    assert panel.legend.names() == ["batch loss", "training loss (epoch)", "validation loss"]
    panel.show_curves(validation=False, test=True)
    assert panel.legend.names() == ["batch loss", "training loss (epoch)", "test loss"]


# --------------------------------------------------------------------------- 5. one point
def ink_near(widget: QWidget, plot, x: float, y: float, radius: int = 4) -> int:
    """How many pixels near the data point (x, y) of ``plot`` (inside ``widget``) are drawn on (far from the
    white background and its faint grid)."""
    image = widget.grab().toImage()
    scene = plot.getViewBox().mapViewToScene(QPointF(x, y))
    gv = plot.scene().views()[0]
    centre = gv.mapTo(widget, gv.mapFromScene(scene))
    ratio = image.devicePixelRatio()
    found = 0
    for dx in range(-radius, radius + 1):
        for dy in range(-radius, radius + 1):
            p = QPoint(int((centre.x() + dx) * ratio), int((centre.y() + dy) * ratio))
            if image.rect().contains(p):
                c = image.pixelColor(p)
                found += (765 - c.red() - c.green() - c.blue()) > 90
    return found


def test_after_one_step_the_loss_chart_shows_the_point(qtbot, window):
    view = view_of(window, SurfaceView)
    panel = view.loss_panel
    for log in (True, False):
        panel.log_scale.setChecked(log)
        view.reset()
        step(qtbot, view, Unit.BATCH)
        x, y = panel.batch.getData()  # as drawn (log10 of the loss on a log axis)
        assert len(x) == 1 and np.isfinite(y).all()
        assert panel.batch.opts["symbol"] is not None  # a dot: a line through one point draws nothing
        assert ink_near(panel, panel.plot, x[0], y[0]) >= 12
    step(qtbot, view, Unit.BATCH)
    assert panel.batch.opts["symbol"] is None  # two points: a line again


def test_the_race_chart_shows_its_start_points(qtbot, window):
    window.tabs.setCurrentIndex(3)
    race = view_of(window, RaceView)
    settle(qtbot, 100)
    for key, curve in race.losses.curves.items():
        x, _ = curve.getData()
        assert len(x) == 1 and curve.opts["symbol"] is not None, key


# --------------------------------------------------------------------------- 6. sidebars scroll
def clipped_in_sidebar(view) -> list[str]:
    """What the tab's sidebar cuts: widgets past its right edge, fields narrower than their text, wrapped
    labels shorter than their text, anything the scroll area cannot scroll to."""
    scroll = view.sidebar_scroll
    inner, port = scroll.widget(), scroll.viewport()
    problems = []
    if inner.width() > port.width():
        problems.append(f"the sidebar is {inner.width()} wide in a {port.width()} viewport")
    for w in inner.findChildren(QWidget):
        if not w.isVisibleTo(inner) or w.width() == 0:
            continue
        corner = w.mapTo(inner, QPoint(0, 0))
        name = w.objectName() or type(w).__name__
        if corner.x() + w.width() > port.width():
            problems.append(f"{name} ends at {corner.x() + w.width()} > {port.width()}")
        if isinstance(w, QLabel) and w.wordWrap() and w.text():
            if w.heightForWidth(w.width()) > w.height():
                problems.append(f"{name} needs {w.heightForWidth(w.width())} px of height, has {w.height()}")
        elif isinstance(w, QAbstractSpinBox | QComboBox | QAbstractButton):
            if w.minimumSizeHint().width() > w.width():
                problems.append(f"{name} is {w.width()} wide, needs {w.minimumSizeHint().width()}")
    if inner.height() < inner.minimumSizeHint().height():
        problems.append("the sidebar cannot be scrolled to its end")
    return problems


@pytest.mark.parametrize("size", [(1280, 800), (1100, 640)])
def test_sidebars_scroll_and_cut_nothing(qtbot, warnings, tmp_path, size):
    window = make_window(qtbot, size)
    states = {
        "surfaceView": lambda v: step(qtbot, v, Unit.PHASE, 3),
        "bostonView": lambda v: (v.control("normalize").setChecked(False), step(qtbot, v, Unit.EPOCH, 2)),
        "backpropView": lambda v: None,
        "raceView": lambda v: step(qtbot, v, Unit.EPOCH, 2),
    }
    for i, view in enumerate(window.views):
        window.tabs.setCurrentIndex(i)
        settle(qtbot, 150)
        assert clipped_in_sidebar(view) == [], view.objectName()
        states[view.objectName()](view)
        settle(qtbot, 150)
        assert clipped_in_sidebar(view) == [], view.objectName()
    # The user's data with many features: the longest explanation of the Boston tab.
    rows = "\n".join(",".join(str((i * 7 + j * 3) % 11 + j) for j in range(4)) + f",{i % 13}" for i in range(60))
    path = tmp_path / "many-columns-with-a-long-name.csv"
    path.write_text("alpha,beta,gamma,delta,target\n" + rows + "\n")
    open_csv(qtbot, window, path)
    settle(qtbot, 150)
    boston = view_of(window, BostonView)
    assert window.tabs.currentWidget() is boston
    assert clipped_in_sidebar(boston) == []
    scroll = boston.sidebar_scroll
    scroll.verticalScrollBar().setValue(scroll.verticalScrollBar().maximum())
    settle(qtbot)
    text = boston.explanation
    bottom = text.mapTo(scroll.viewport(), QPoint(0, text.height())).y()
    assert bottom <= scroll.viewport().height()  # scrolled down, the explanation's end is in view
    window.close()


def test_the_off_chart_note_wraps_inside_the_chart(qtbot):
    panel = PredActualPanel("$1000s")
    qtbot.addWidget(panel)
    panel.resize(300, 260)
    with qtbot.waitExposed(panel):
        panel.show()
    panel.set_limits(0, 50)
    actual = np.linspace(5, 45, 40)
    predicted = actual.copy()
    predicted[:7] = -np.linspace(10, 99.5, 7)
    predicted[7:17] = np.linspace(60, 153.2, 10)
    predicted[17] = np.nan
    panel.set_points(actual, predicted)
    settle(qtbot)
    note = panel.note
    assert note.toPlainText().startswith("Off this chart: 7 below it") and "up to 153" in note.toPlainText()
    assert panel.plot.getViewBox().sceneBoundingRect().contains(note.sceneBoundingRect())
    panel.set_points(actual, actual)
    assert not note.isVisible()


# --------------------------------------------------------------------------- 7. exported pictures
def test_exported_pictures_are_titled_for_what_they_show(qtbot, window, tmp_path):
    surface = view_of(window, SurfaceView)
    step(qtbot, surface, Unit.BATCH, 3)
    titles = {}
    for i, view in enumerate(window.views):
        window.tabs.setCurrentIndex(i)
        settle(qtbot, 100)
        for name, gv in export.plots_of(view):
            if isinstance(gv.scene(), type(surface.surface.plot.scene())):
                titles[view.objectName(), name] = export.picture_titles(gv)
    (map_title,) = titles["surfaceView", "Loss surface"].values()
    assert "click" not in map_title and map_title.startswith("Training loss over (kernel, bias)")
    assert "download-time data, after step 3" in map_title
    for name, shown in titles.items():
        for picture in shown.values():
            assert "click" not in picture.lower(), (name, picture)
            assert len(re.sub("<[^>]+>", " ", picture).split()) >= 3, (name, picture)
    (race_title,) = titles["raceView", "Loss surface with each racer's trajectory"].values()
    assert race_title.startswith("Training loss<br>")
    (loss_title,) = titles["surfaceView", "Loss curve"].values()
    assert loss_title.startswith("Loss curve<br>")  # "Loss" alone says too little

    window.tabs.setCurrentIndex(0)
    settle(qtbot)
    path = tmp_path / "map.svg"
    export.export_picture(surface.surface.graphics, path)
    svg = path.read_text(encoding="utf-8")
    assert "Training loss over (kernel, bias)" in svg and "click to start" not in svg
    assert "after step 3" in svg
    # … and the plot on screen is titled as before.
    assert "click to start there" in surface.surface.plot.titleLabel.text
    assert surface.surface.plot.titleLabel.maximumHeight() == 30

    window.tabs.setCurrentIndex(2)
    settle(qtbot)
    (name, gv), = export.plots_of(window.views[2])
    export.export_picture(gv, tmp_path / "graph.svg")
    assert f"{name}" in (tmp_path / "graph.svg").read_text(encoding="utf-8")


def test_a_title_broken_in_two_on_screen_is_exported_whole_without_the_click_hint(qtbot, window):
    """Found after titles learnt to break in two in a narrow plot: the hint then sat on the second line, where
    the picture's title did not look for it."""
    surface = view_of(window, SurfaceView)
    window.resize(900, 700)
    settle(qtbot, 200)
    shown = surface.surface.plot.titleLabel.text
    assert "<br>" in shown  # broken in two on screen
    (picture,) = export.picture_titles(surface.surface.graphics).values()
    assert "click" not in picture.lower() and picture.startswith("Training loss over (kernel, bias)")


# --------------------------------------------------------------------------- 8. the window's title
def test_the_window_title_names_the_current_data_and_session(qtbot, window, tmp_path, monkeypatch):
    assert window.windowTitle() == "fitscope"
    open_csv(qtbot, window, big_csv(tmp_path, "rent.csv"))
    assert window.windowTitle() == "rent.csv — fitscope"
    three = tmp_path / "three.csv"
    three.write_text("a,b,c,y\n1,2,3,10\n2,3,1,12\n3,1,2,9\n4,4,4,20\n5,2,2,15\n6,1,5,14\n")
    open_csv(qtbot, window, three)
    assert window.tabs.currentWidget() is view_of(window, BostonView)
    assert window.windowTitle() == "three.csv — fitscope"  # the data just opened, not the other tab's
    window.tabs.setCurrentIndex(0)
    assert window.windowTitle() == "rent.csv — fitscope"  # the current tab's data
    window.tabs.setCurrentIndex(2)
    assert window.windowTitle() == "rent.csv — fitscope"  # a tab without data: the last one's
    window.show_dataset(load_builtin("boston-housing"), book=True)
    assert window.windowTitle() == "fitscope"  # built-in data goes unnamed

    first, second = tmp_path / "first.json", tmp_path / "second.json"
    assert window.files.save_session(str(first))
    assert window.windowTitle() == "first.json — fitscope"
    window.tabs.setCurrentIndex(0)
    assert window.files.save_session(str(second))
    assert window.windowTitle() == "second.json — fitscope"
    assert window.files.open_session(str(first))
    assert window.windowTitle() == "first.json — fitscope"
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(second), "")))
    window.files.open_action.trigger()
    assert window.windowTitle() == "second.json — fitscope"
    open_csv(qtbot, window, big_csv(tmp_path, "after.csv"))
    assert window.windowTitle() == "after.csv — fitscope"


# --------------------------------------------------------------------------- 9. an empty chart starts afresh
def loss_range(panel) -> tuple[float, float]:
    """The loss axis's range, in losses (10**ends on a log axis)."""
    y0, y1 = panel.plot.getViewBox().viewRange()[1]
    return (10**y0, 10**y1) if panel.log_scale.isChecked() else (y0, y1)


def check_fresh(panel, losses: np.ndarray) -> None:
    """The chart frames ``losses`` (the first points of a run) and not a range of before: all of them in view,
    the range no more than a few times theirs (a decade, on a log axis), and labelled."""
    lo, hi = loss_range(panel)
    first_lo, first_hi = float(np.min(losses)), float(np.max(losses))
    assert lo <= first_lo and first_hi <= hi, (lo, hi, losses)
    axis = panel.plot.getAxis("left")
    if panel.log_scale.isChecked():
        assert math.log10(hi / lo) <= max(1.3, 1.3 * math.log10(first_hi / first_lo)), (lo, hi, losses)
        check_axis(axis, lo, hi, least=1)
    else:
        assert hi - lo <= max(2.2 * first_hi, 1.3 * (first_hi - first_lo)), (lo, hi, losses)
        assert drawn_labels(axis)


def check_empty(panel) -> None:
    """An empty chart shows no loss labels (no range of before) and follows the next data."""
    assert panel.plot.getViewBox().autoRangeEnabled()[1]
    assert all(np.isnan(c.getData()[1]).all() for c in (panel.batch, panel.train, panel.test, panel.val)
               if c.getData()[1] is not None)
    assert drawn_labels(panel.plot.getAxis("left")) == []


def first_losses(panel) -> np.ndarray:
    ys = [panel.batch.getData()[1], *(c.getData()[1] for c in (panel.train, panel.val, panel.test)
                                      if c.isVisible())]
    ys = np.concatenate([y for y in ys if y is not None])
    ys = ys[np.isfinite(ys)]
    return 10**ys if panel.log_scale.isChecked() else ys


@pytest.mark.parametrize("log", [True, False])
def test_an_emptied_loss_chart_frames_the_next_run_afresh(qtbot, window, tmp_path, log):
    """Reset after a divergence, Go back to the start, a CSV of large losses: the empty chart keeps no range of
    before, and frames the first points drawn."""
    view = view_of(window, SurfaceView)
    panel = view.loss_panel
    panel.log_scale.setChecked(log)
    view.set_control("loss", "mse")
    view.set_control("learning_rate", 10)  # diverges: losses up to 1e6 and beyond
    step(qtbot, view, Unit.EPOCH, 3)
    assert loss_range(panel)[1] > 1e4
    view.reset()
    settle(qtbot)
    check_empty(panel)
    view.set_control("learning_rate", 0.01)
    step(qtbot, view, Unit.BATCH)
    check_fresh(panel, first_losses(panel))

    view.speed.setValue(view.speed.maximum())
    view.reset()
    view.set_control("learning_rate", 10)
    view.toggle_run()  # on until it diverges
    idle(qtbot, view)
    assert view.model.history.diverged is not None and view.recovery_step() == 0
    view.go_back()  # back to the start: nothing was below the start's loss
    settle(qtbot)
    assert view.model.history.steps == 0
    check_empty(panel)
    step(qtbot, view, Unit.BATCH)
    check_fresh(panel, first_losses(panel))

    open_csv(qtbot, window, big_csv(tmp_path))  # losses of about 1e9 … 1e11
    assert window.tabs.currentWidget() is view
    check_empty(panel)
    step(qtbot, view, Unit.BATCH)
    losses = first_losses(panel)
    assert losses.min() > 1e8
    check_fresh(panel, losses)


def test_the_boston_and_race_loss_charts_frame_a_restarted_run_afresh(qtbot, window):
    window.tabs.setCurrentIndex(1)
    boston = view_of(window, BostonView)
    settle(qtbot, 100)
    panel = boston.loss_panel
    boston.set_control("learning_rate", 0.3)  # losses far above the baseline (85.6) …
    boston.control("normalize").setChecked(False)
    step(qtbot, boston, Unit.EPOCH, 2)
    lo, hi = loss_range(panel)
    assert hi / lo > 1e3
    boston.reset()
    settle(qtbot)
    baseline = boston.model.baseline()
    lo, hi = loss_range(panel)  # … then only the baseline: a decade around it
    assert lo < baseline < hi and math.log10(hi / lo) <= 1.01, (lo, hi)
    check_axis(panel.plot.getAxis("left"), lo, hi)
    boston.set_control("learning_rate", 1e-7)
    step(qtbot, boston, Unit.BATCH)
    check_fresh(panel, np.r_[first_losses(panel), baseline])

    window.tabs.setCurrentIndex(3)
    race = view_of(window, RaceView)
    settle(qtbot, 100)
    chart = race.losses
    for rate in race.rates.values():
        rate.setValue(10)  # every racer far off: losses of 1e4 and more
    step(qtbot, race, Unit.EPOCH, 3)
    assert 10 ** chart.plot.getViewBox().viewRange()[1][1] > 1e4
    race.reset()
    settle(qtbot)
    starts = np.r_[[chart.curves[k].getData()[1][0] for k in chart.curves]]
    assert len(set(starts)) == 1  # one start for all
    drawn = np.r_[10 ** starts, race.model.optimum_loss]
    lo, hi = (10**v for v in chart.plot.getViewBox().viewRange()[1])
    assert lo <= drawn.min() and drawn.max() <= hi
    assert math.log10(hi / lo) <= 1.3 * math.log10(drawn.max() / drawn.min()) + 0.1, (lo, hi, drawn)


# --------------------------------------------------------------------------- 10. the loss slice's colour bar
def run_to_end(qtbot, view, timeout=120_000) -> None:
    view.speed.setValue(view.speed.maximum())
    view.toggle_run()
    idle(qtbot, view, timeout)
    view.redraw()
    settle(qtbot, 150)


def check_colour_bar(panel) -> list[str]:
    """The map's colour bar lies wholly in its view, its axis as wide as its labels: every label whole on
    screen, distinct, round, not crowded (:func:`check_axis`), beside the bar; and the map beside the bar."""
    gv = panel.graphics
    visible = QRectF(gv.viewport().rect())
    bar = panel.colorbar
    assert bar.isVisible() and bar.sceneBoundingRect().width() > 20
    assert visible.contains(bar.sceneBoundingRect()), (bar.sceneBoundingRect(), visible)
    assert panel.view_box.sceneBoundingRect().right() <= bar.sceneBoundingRect().left()
    axis = bar.axis
    lo, hi = (10**v for v in bar.levels())
    texts = check_axis(axis, lo, hi)
    metrics = QFontMetricsF(axis.style["tickFont"] or axis.font())
    for rect, text in drawn_labels(axis):
        whole = axis.mapRectToScene(QRectF(rect.left(), rect.top(), metrics.horizontalAdvance(text), rect.height()))
        assert visible.contains(whole), f"{text} is cut off: {whole} not in {visible}"
        assert axis.sceneBoundingRect().adjusted(0, -rect.height(), 0, rect.height()).contains(whole), text
    assert unpainted_labels(axis) == [], texts
    return texts


def unpainted_labels(axis) -> list[str]:
    """The labels ``axis`` should show that are not painted on screen (the widget as grabbed): no ink where
    the label is (pyqtgraph skips a label wider than the axis; a cached axis may keep an old picture)."""
    gv = axis.scene().views()[0]
    image = gv.grab().toImage()
    ratio = image.devicePixelRatio()
    missing = []
    for rect, text in drawn_labels(axis):
        box = gv.mapFromScene(axis.mapRectToScene(rect)).boundingRect()
        ink = 0
        for x in range(box.left(), box.right() + 1):
            for y in range(box.top(), box.bottom() + 1):
                p = QPoint(int(x * ratio), int(y * ratio))
                if image.rect().contains(p):
                    c = image.pixelColor(p)
                    ink += (765 - c.red() - c.green() - c.blue()) > 150
        if ink < 4 * len(text):
            missing.append(text)
    return missing


def slice_ready(qtbot, view) -> None:
    qtbot.waitUntil(lambda: view.slice_grid is not None and view.slicer.token and not view.slice.status.text(),
                    timeout=30_000)
    settle(qtbot, 200)


@pytest.mark.parametrize("size", SIZES)
def test_the_boston_colour_bar_is_whole_and_labelled_at_every_size_and_slice(qtbot, warnings, size):
    """At the start, over tax and nox without normalization (1e2 … 1e5), for an MLP (a narrow range), and with
    the window resized from the other size: the bar is never cut or pushed out of its view."""
    window = make_window(qtbot, size)
    window.tabs.setCurrentIndex(1)
    view = view_of(window, BostonView)
    slice_ready(qtbot, view)
    check_colour_bar(view.slice_panel)
    view.control("normalize").setChecked(False)
    names = [view.slice.x_param.itemText(k) for k in range(view.slice.x_param.count())]
    view.slice.x_param.setCurrentIndex(names.index("weight of tax"))
    view.slice.y_param.setCurrentIndex(names.index("weight of nox"))
    slice_ready(qtbot, view)
    assert any("e" in t for t in check_colour_bar(view.slice_panel))
    view.control("normalize").setChecked(True)
    view.control("model").setCurrentIndex(1)  # an MLP
    view.set_control("epochs", 30)
    run_to_end(qtbot, view)
    slice_ready(qtbot, view)
    check_colour_bar(view.slice_panel)
    check_contour_labels(view.slice_panel)
    other = SIZES[1] if size == SIZES[0] else SIZES[0]
    window.resize(*other)
    settle(qtbot, 300)
    check_colour_bar(view.slice_panel)
    window.close()


@pytest.mark.parametrize("size", SIZES)
def test_the_maps_colour_bar_paints_every_label_when_its_labels_grow_wider(qtbot, warnings, tmp_path, size):
    """Opening a CSV of losses of 1e9 … 1e13 (labels wider than 0.05 … 50): the axis widens, and then shows
    every label, not only those that fitted before (5e9, 2e9, 1e9)."""
    window = make_window(qtbot, size)
    view = view_of(window, SurfaceView)
    open_csv(qtbot, window, big_csv(tmp_path))
    check_colour_bar(view.surface)
    window.close()


# --------------------------------------------------------------------------- 11. labels that read differently
def test_labels_over_a_narrow_range_read_differently(qtbot, window):
    """An MLP's slice spans 635 … 636.5: contour labels and the colour bar's never repeat a value."""
    window.tabs.setCurrentIndex(1)
    view = view_of(window, BostonView)
    view.control("model").setCurrentIndex(1)
    slice_ready(qtbot, view)
    lo, hi = (10**v for v in view.slice_panel.colorbar.levels())
    assert hi / lo < 1.05  # a narrow range indeed
    texts = check_contour_labels(view.slice_panel)
    assert len(texts) >= 3 and len(set(texts)) == len(texts), texts
    check_colour_bar(view.slice_panel)
    levels = np.geomspace(635.0, 636.5, 13)
    from fitscope.gui.panels.surface import level_labels
    labels = level_labels(levels)
    assert all(a != b for a, b in itertools.pairwise(labels)), labels
    assert all(abs(float(t) - v) <= 0.05 for t, v in zip(labels, levels, strict=True))
    assert level_labels([0.931, 31.8, 1370]) == ["0.931", "31.8", "1.37e3"]  # three digits where they do


# --------------------------------------------------------------------------- 12. a colour bar never crowded
@pytest.mark.parametrize("size", SIZES)
def test_zoomed_far_from_the_path_the_colour_bar_is_not_crowded_and_isolines_are_labelled(qtbot, warnings, size):
    window = make_window(qtbot, size)
    view = view_of(window, SurfaceView)
    view.set_control("loss", "mae")
    view.surface.set_range(-0.84, -0.66, -0.135, -0.03)  # far from the path and the optimum: 2.3 … 3 only
    view.recompute_surface()
    settle(qtbot)
    axis = view.surface.colorbar.axis
    lo, hi = (10**v for v in view.surface.colorbar.levels())
    texts = check_axis(axis, lo, hi, least=3)
    height = QFontMetricsF(axis.style["tickFont"] or axis.font()).height()
    assert len(texts) <= axis.geometry().height() / (2 * height) + 1, texts
    centres = sorted(rect.center().y() for rect, _ in drawn_labels(axis))
    assert min(b - a for a, b in itertools.pairwise(centres)) >= 1.99 * height  # a label's height between two
    assert len(check_contour_labels(view.surface)) >= 4
    window.close()


# --------------------------------------------------------------------------- 13. labels clear of the points
def symbol_rects(panel) -> dict[str, QRectF]:
    """Where the star, the start and the current point are drawn (scene), each with the size of its symbol."""
    out = {}
    for name, item in (("star", panel.optimum), ("start", panel.start), ("current", panel.current)):
        x, y = item.getData()
        if x is not None and len(x):
            centre = item.mapToScene(QPointF(float(x[-1]), float(y[-1])))
            half = item.opts["size"] / 2
            out[name] = QRectF(centre.x() - half, centre.y() - half, 2 * half, 2 * half)
    return out


def path_end(panel, length: float = 60, line=None) -> list[QPointF]:
    """Points of the last ``length`` pixels of the path (or of another ``line``), every 2 pixels (scene)."""
    line = panel.path if line is None else line
    x, y = line.getData()
    if x is None or len(x) < 2:
        return []
    pts = [line.mapToScene(QPointF(float(a), float(b))) for a, b in zip(x[-300:], y[-300:], strict=True)]
    out, walked = [pts[-1]], 0.0
    for p, q in itertools.pairwise(pts[::-1]):
        d = math.hypot(q.x() - p.x(), q.y() - p.y())
        for k in range(1, int(d // 2) + 1):
            if walked + 2 * k > length:
                return out
            out.append(p + (q - p) * (2 * k / d))
        walked += d
        out.append(q)
        if walked > length:
            break
    return out


def check_labels_clear(panel) -> None:
    labels = [(label.textItem.toPlainText(), label.sceneBoundingRect()) for label in panel.contour_labels()]
    assert labels
    for name, rect in symbol_rects(panel).items():
        for text, box in labels:
            assert not box.intersects(rect), f"{text} lies over the {name}"
    for name, points in (("path's end", path_end(panel)), ("step", path_end(panel, 2000, panel.step_line)),
                         ("gradient arrow", path_end(panel, 2000, panel.gradient_line))):
        for p in points:
            for text, box in labels:
                assert not box.adjusted(1, 1, -1, -1).contains(p), f"{text} lies over the {name}"
    area = panel.view_box.sceneBoundingRect()
    star = symbol_rects(panel).get("star")
    if star is not None and star.intersects(area):
        assert area.contains(star), f"the star is cut by the map's edge: {star} in {area}"


@pytest.mark.parametrize("size", SIZES)
def test_contour_labels_keep_clear_of_the_points_and_the_path(qtbot, warnings, tmp_path, size):
    window = make_window(qtbot, size)
    view = view_of(window, SurfaceView)
    for loss in ("mae", "mse"):  # "0.19" under the current point after 200 epochs; "1.58" by the star
        view.set_control("loss", loss)
        view.reset()
        run_to_end(qtbot, view)
        check_labels_clear(view.surface)
    open_csv(qtbot, window, big_csv(tmp_path))  # "5e10" under the start
    check_labels_clear(view.surface)
    view.step(Unit.BATCH)
    idle(qtbot, view)
    view.redraw()
    settle(qtbot)
    check_labels_clear(view.surface)

    window.tabs.setCurrentIndex(1)  # "608" under the start of the Boston slice
    boston = view_of(window, BostonView)
    slice_ready(qtbot, boston)
    check_labels_clear(boston.slice_panel)
    boston.control("model").setCurrentIndex(1)  # the MLP's star at the slice's edge: whole
    slice_ready(qtbot, boston)
    check_labels_clear(boston.slice_panel)
    window.close()


def test_contour_labels_make_way_for_more_points_and_keep_the_star_whole(qtbot):
    """A race's racers (points the map is told of) push labels aside like the current point; a star on the map's
    edge is drawn whole, inside, and its data stays exact."""
    import pyqtgraph as pg

    from fitscope.gui.panels.surface import SurfacePanel

    panel = SurfacePanel()
    qtbot.addWidget(panel)
    panel.resize(500, 420)
    with qtbot.waitExposed(panel):
        panel.show()
    a, b = np.linspace(-2, 2, 81), np.linspace(-1, 3, 81)
    panel.set_range(-2, 2, -1, 3)
    panel.set_surface(a, b, 1 + np.add.outer(a**2, 3 * (b - 1) ** 2))
    settle(qtbot)
    label = panel.contour_labels()[0]
    text, at = label.textItem.toPlainText(), label.pos()
    dot = pg.ScatterPlotItem(size=12, brush=pg.mkBrush("r"))
    panel.plot.addItem(dot)
    dot.setData([at.x()], [at.y()])
    panel.keep_labels_clear_of([dot])
    panel.make_way()
    assert text in [lab.textItem.toPlainText() for lab in panel.contour_labels()]  # elsewhere, not gone
    check_labels_clear(panel)
    box = dot.mapRectToScene(QRectF(at.x(), at.y(), 0, 0)).adjusted(-6, -6, 6, 6)
    assert not any(lab.sceneBoundingRect().intersects(box) for lab in panel.contour_labels())

    panel.set_optimum(-2.0, 3.0)  # the top left corner
    settle(qtbot)
    check_labels_clear(panel)
    star = symbol_rects(panel)["star"]
    assert panel.view_box.sceneBoundingRect().contains(star)
    x, y = panel.optimum.getData()
    assert (x[0], y[0]) == (-2.0, 3.0)
    panel.set_range(-3, 3, -2, 4)  # zoomed out, the star is at its place
    settle(qtbot)
    centre, drawn = panel.scene_pos_of(-2.0, 3.0), symbol_rects(panel)["star"].center()
    assert abs(drawn.x() - centre.x()) < 0.5 and abs(drawn.y() - centre.y()) < 0.5


@pytest.mark.parametrize(("value", "text"), [(5e-324, "4.94e-324"), (1e-320, "1e-320"), (-2.5e-310, "-2.5e-310"),
                                             (1e-300, "1e-300"), (1.7e308, "1.7e308")])
def test_the_smallest_and_largest_floats_are_written_too(value, text):
    """Subnormal numbers (a sweep's rates, a tiny data set's losses) once divided by 10**-324 = 0."""
    from fitscope.engine.numbers import compact

    assert compact(value) == text


def test_isolines_that_read_the_same_each_get_a_label_of_their_own(qtbot):
    # Levels closer than a float can write read alike: each placed label is an item of its own all the same.
    import numpy as np

    from fitscope.gui.panels.surface import SurfacePanel

    panel = SurfacePanel("kernel", "bias")
    qtbot.addWidget(panel)
    panel.resize(600, 500)
    panel.show()
    qtbot.waitExposed(panel)
    a = b = np.linspace(-1, 1, 60)
    A, B = np.meshgrid(a, b, indexing="ij")
    panel.set_surface(a, b, 1 + 1e-15 * (A**2 + B**2))
    labels = panel.contour_labels()
    assert len(labels) > 1 and len({id(label) for label in labels}) == len(labels)
    assert all(label.isVisible() for label in labels)
