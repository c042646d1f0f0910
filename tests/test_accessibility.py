"""What a screen reader is told, and what a keyboard user can reach and see: the whole tab order of every tab,
walked with the focus chain, has a name at every stop; every table, plot and scroll area is a stop; a plot's
description says what it shows now; buttons that change their text change their name; the focus shows."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QGraphicsView,
    QHeaderView,
    QScrollArea,
    QSlider,
    QToolButton,
    QWidget,
)

from fitscope.engine.numbers import prose
from fitscope.gui.app import MainWindow


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


def spoken_name(widget: QWidget) -> str:
    """The name a screen reader announces for ``widget`` (its accessible name, else its own text)."""
    face = QAccessible.queryAccessibleInterface(widget)
    return face.text(QAccessible.Text.Name).strip() if face is not None else ""


def walk(qtbot, window, index: int) -> list[QWidget]:
    """Every stop of tab ``index``'s tab order, from its page round to it again (focusNextChild)."""
    window.tabs.setCurrentIndex(index)
    page = window.views[index]
    page.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is page)
    stops = [page]
    for _ in range(300):
        page.focusNextChild()
        w = QApplication.focusWidget()
        if w is page or w in stops:
            break
        stops.append(w)
    return stops


def shown_tables(page: QWidget) -> list[QAbstractItemView]:
    return [t for t in page.findChildren(QAbstractItemView) if t.isVisible() and not isinstance(t, QHeaderView)
            and not isinstance(t.parentWidget().parentWidget(), QComboBox)]


@pytest.mark.parametrize("index", range(4))
def test_every_stop_of_every_tab_has_a_name_and_every_table_plot_and_scroll_area_is_a_stop(qtbot, window, index):
    page = window.views[index]
    stops = walk(qtbot, window, index)
    inside = [w for w in stops if w is page or page.isAncestorOf(w)]
    assert len(inside) > 8
    nameless = [f"{type(w).__name__} {w.objectName()}" for w in stops if not spoken_name(w)]
    assert nameless == []
    assert spoken_name(page) == f"{page.title} tab"
    for kind in (QGraphicsView, QScrollArea):
        shown = [w for w in page.findChildren(kind) if w.isVisible()]
        assert shown, kind
        assert [w for w in shown if w not in stops] == []
    plots = [w for w in stops if isinstance(w, QGraphicsView)]
    qtbot.waitUntil(lambda: all(w.accessibleDescription() for w in plots))  # each says what it shows
    assert [t.objectName() for t in shown_tables(page) if t not in stops] == []


def test_the_mlp_statistics_table_and_the_weights_table_are_stops(qtbot, window):
    view = window.boston_view
    window.tabs.setCurrentIndex(1)
    assert "weightsTable" in [w.objectName() for w in walk(qtbot, window, 1)]
    view.set_control("model", view.control("model").itemData(1))  # an MLP: its statistics per layer
    qtbot.waitUntil(lambda: not view.model.is_linear)
    names = [w.objectName() for w in walk(qtbot, window, 1)]
    assert "layerStats" in names and "inputWeightsTable" in names


def test_the_race_results_table_is_reached_with_tab_and_left_with_tab(qtbot, window):
    stops = walk(qtbot, window, 3)
    table = window.race_view.findChild(QAbstractItemView, "raceTable")
    assert table in stops
    assert stops[stops.index(table) + 1] is not table  # Tab goes on: the arrows move inside the table


def test_a_plot_description_says_what_it_shows_now(qtbot, window):
    view = window.surface_view
    stop = view.surface.graphics
    loss = view.model.settings.loss.upper()
    view.start_at(0.47, 0.0)
    qtbot.waitUntil(lambda: stop.accessibleDescription().startswith(
        f"Loss surface, {loss}; start at kernel 0.47, bias 0;"))
    view.set_control("loss", "mse" if loss == "MAE" else "mae")
    other = view.model.settings.loss.upper()
    assert other != loss
    qtbot.waitUntil(lambda: stop.accessibleDescription().startswith(f"Loss surface, {other};"))
    view.start_at(-0.25, 0.125)
    qtbot.waitUntil(lambda: "start at kernel -0.25, bias 0.125" in stop.accessibleDescription())
    x0, x1, _, _ = view.surface.visible_range()
    assert f"showing kernel from {prose(x0)} to {prose(x1)}" in stop.accessibleDescription()
    data = view.data_panel.widget
    assert data.accessibleName() == "Data and fitted line"
    assert data.accessibleDescription().startswith("Data and fitted line; Data and the current line")


def test_buttons_that_show_pause_are_named_pause(qtbot, window):
    view = window.boston_view
    window.tabs.setCurrentIndex(1)
    train = view.findChild(QToolButton, "trainButton")
    assert spoken_name(train) == "Train"
    view.toggle_run()
    qtbot.waitUntil(lambda: view.controller.running)
    assert train.text() == "Pause" and spoken_name(train) == "Pause"
    view.toggle_run()
    qtbot.waitUntil(lambda: not view.controller.busy, timeout=10_000)
    assert spoken_name(train) == "Train"


def test_the_focus_shows_on_plots_sliders_fields_and_tab_pages(qtbot, window):
    frame = window.descriptions.frame
    view = window.surface_view
    for widget in (view.surface.graphics, view.findChild(QSlider, "speed"), view,
                   view.findChild(QToolButton, "stepBatchButton"), view.findChild(QWidget, "learningRate"),
                   view.findChild(QComboBox, "optimizer"), view.data_panel.widget):
        widget.setFocus()
        qtbot.waitUntil(lambda widget=widget: QApplication.focusWidget() is widget)
        qtbot.waitUntil(frame.isVisible)
        corner = widget.mapTo(window, widget.rect().topLeft())
        assert frame.geometry().contains(corner) or frame.geometry().adjusted(-1, -1, 1, 1).contains(corner)
        assert frame.width() >= widget.width() and frame.height() >= widget.height()
    window.tabs.tabBar().setFocus()
    qtbot.waitUntil(lambda: frame.geometry().contains(window.tabs.tabBar().mapTo(window, window.tabs.tabBar()
                                                                                 .rect().center())))
