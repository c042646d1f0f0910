"""View ▸ Larger text / Smaller text / Normal size: every font and plot label, remembered between launches."""

from __future__ import annotations

import pyqtgraph as pg
import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QLabel

from fitscope.gui import text_size
from fitscope.gui.app import MainWindow


@pytest.fixture(autouse=True)
def normal_size_after():
    yield
    text_size.apply(100)  # one application for every test: the next one starts at the normal size


def new_window(qtbot) -> MainWindow:
    w = MainWindow()
    qtbot.addWidget(w)
    with qtbot.waitExposed(w):
        w.show()
    return w


@pytest.fixture
def window(qtbot):
    return new_window(qtbot)


def action(window, name: str) -> QAction:
    return window.findChild(QAction, name)


def tick_size(axis: pg.AxisItem, window) -> float:
    """The point size an axis draws its tick labels with (pyqtgraph: its tickFont, else the view's font)."""
    font = axis.style["tickFont"] or window.font()
    return font.pointSizeF()


def title_html(plot: pg.PlotItem) -> str:
    return plot.titleLabel.item.toHtml()


def test_larger_text_scales_labels_axes_titles_and_the_style_sheet(qtbot, window):
    label = window.surface_view.findChild(QLabel)
    plot = window.surface_view.surface.plot
    axis = plot.getAxis("bottom")
    before = (label.font().pointSizeF(), tick_size(axis, window), axis.label.font().pointSizeF())
    assert "font-size:10pt" in title_html(plot).replace(" ", "")
    action(window, "largerTextAction").trigger()
    action(window, "largerTextAction").trigger()
    assert window.text_size.percent == 150
    assert label.font().pointSizeF() == pytest.approx(before[0] * 1.5)
    assert tick_size(axis, window) == pytest.approx(before[1] * 1.5)
    assert axis.label.font().pointSizeF() == pytest.approx(before[2] * 1.5)
    assert "font-size:15pt" in title_html(plot).replace(" ", "")
    assert "font-size: 19.5px" in QApplication.instance().styleSheet()  # style.qss's 13 px readouts
    action(window, "smallerTextAction").trigger()
    assert window.text_size.percent == 125
    assert label.font().pointSizeF() == pytest.approx(before[0] * 1.25)
    action(window, "normalTextAction").trigger()
    assert window.text_size.percent == 100
    assert (label.font().pointSizeF(), tick_size(axis, window)) == pytest.approx(before[:2])
    assert "font-size:10pt" in title_html(plot).replace(" ", "")


def test_plots_and_widget_style_sheets_made_later_follow(qtbot, window):
    action(window, "largerTextAction").trigger()  # 125 %
    later = pg.PlotWidget()
    qtbot.addWidget(later)
    later.setTitle("made later", size="10pt")
    legend = later.addLegend()
    later.plot([0, 1], [0, 1], name="a curve")
    assert later.getPlotItem().getAxis("left").style["tickFont"].pointSizeF() == \
        pytest.approx(QApplication.font().pointSizeF())
    assert "font-size:12.5pt" in title_html(later.getPlotItem()).replace(" ", "")
    assert "font-size:11.2pt" in legend.items[0][1].item.toHtml().replace(" ", "")  # pyqtgraph's 9pt legend
    note = QLabel("a note")
    note.setStyleSheet("QLabel { font-size: 12px; }")
    qtbot.addWidget(note)
    note.show()
    assert note.styleSheet() == "QLabel { font-size: 15px; }"
    note.setStyleSheet("QLabel { font-size: 8pt; color: red; }")  # a new sheet: scaled too
    assert note.styleSheet() == "QLabel { font-size: 10pt; color: red; }"


def test_the_size_steps_stop_at_both_ends(qtbot, window):
    larger, smaller = action(window, "largerTextAction"), action(window, "smallerTextAction")
    assert not smaller.isEnabled()
    for _ in range(len(text_size.STEPS) + 2):
        if larger.isEnabled():
            larger.trigger()
    assert window.text_size.percent == text_size.STEPS[-1] and not larger.isEnabled()
    assert smaller.isEnabled()


def test_the_size_comes_back_in_a_new_window(qtbot, window):
    normal = QApplication.font().pointSizeF()
    action(window, "largerTextAction").trigger()
    action(window, "largerTextAction").trigger()
    window.close()
    again = new_window(qtbot)
    assert again.text_size.percent == 150
    assert again.boston_view.findChild(QLabel).font().pointSizeF() == pytest.approx(normal * 1.5)
    assert again.findChild(QAction, "normalTextAction").text().replace("&", "") == "Normal size (now 150 %)"


def test_a_damaged_remembered_size_is_ignored(qtbot):
    from PySide6.QtCore import QSettings

    for value in ("huge", "130", "-5", "1e9"):
        QSettings().setValue("display/text_size", value)
        w = new_window(qtbot)
        assert w.text_size.percent == 100
        w.close()


def test_the_keys_are_the_usual_ones_and_normal_size_leaves_ctrl_0_to_frame_the_path(window):
    keys = {name: [k.toString() for k in action(window, name).shortcuts()]
            for name in ("largerTextAction", "smallerTextAction", "normalTextAction")}
    assert keys["largerTextAction"][0] == "Ctrl++" and "Ctrl+=" in keys["largerTextAction"]
    assert keys["smallerTextAction"] == ["Ctrl+-"]
    assert keys["normalTextAction"] == ["Ctrl+Alt+0"]
    used = [k.toString() for a in window.findChildren(QAction) for k in a.shortcuts()]
    for key in ("Ctrl++", "Ctrl+=", "Ctrl+-", "Ctrl+Alt+0"):
        assert used.count(key) == 1, f"{key} is taken twice"


@pytest.mark.parametrize("steps", [0, 2])
def test_the_speed_name_keeps_its_width_at_every_speed_and_text_size(qtbot, window, steps):
    """"as fast as possible" widened the sidebar by 20 px when chosen: the label was as wide as that name in
    the font it had when it was made, not the one it is drawn with."""
    for _ in range(steps):
        action(window, "largerTextAction").trigger()
    view = window.surface_view
    widths = set()
    for position in range(view.speed.maximum() + 1):
        view.speed.setValue(position)
        QApplication.processEvents()
        label = view.speed_label
        assert label.width() >= label.fontMetrics().horizontalAdvance(label.text()), label.text()
        widths.add(label.sizeHint().width())
    assert len(widths) == 1
