"""The window shows its first tab without building the other three: each is built when it is first shown or
asked for, or soon after the window shows, in its own place, taking up what it remembered; nobody that hears of
a tab shown ever sees anything but its view."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

from fitscope.gui.app import VIEW_CLASSES, MainWindow
from fitscope.gui.views.boston_view import BostonView
from fitscope.gui.views.race_view import RaceView
from fitscope.gui.views.surface_view import SurfaceView


def make(qtbot, show: bool = True) -> MainWindow:
    w = MainWindow()
    qtbot.addWidget(w)
    if show:
        with qtbot.waitExposed(w):
            w.show()
    return w


def test_a_new_window_builds_only_the_tab_it_shows_then_the_rest_soon_after(qtbot):
    w = make(qtbot, show=False)
    assert [type(v) for v in w.built_views()] == [SurfaceView]
    assert [w.tabs.tabText(i) for i in range(w.tabs.count())] == [cls.title for cls in VIEW_CLASSES]
    with qtbot.waitExposed(w):
        w.show()
    with qtbot.waitSignal(w.allBuilt, timeout=20_000):
        pass
    assert len(w.built_views()) == len(VIEW_CLASSES)
    assert [type(w.tabs.widget(i)) for i in range(w.tabs.count())] == list(VIEW_CLASSES)
    assert w.tabs.currentIndex() == 0 and w.current_view() is w.surface_view


def test_a_view_asked_for_is_built_in_its_place_and_the_tab_shown_stays(qtbot):
    w = make(qtbot, show=False)
    race = w.race_view
    assert isinstance(race, RaceView) and w.tabs.indexOf(race) == 3
    assert w.tabs.currentIndex() == 0 and w.tabs.currentWidget() is w.surface_view
    assert w.race_view is race  # built once
    assert w.findChild(RaceView) is race and len(w.findChildren(RaceView)) == 1


def test_whoever_hears_of_a_tab_shown_sees_its_view(qtbot):
    w = make(qtbot, show=False)
    seen = []
    w.tabs.currentChanged.connect(lambda i: seen.append(type(w.tabs.widget(i))))
    w.tabs.setCurrentIndex(1)
    assert seen == [BostonView] and w.current_view() is w.tabs.currentWidget() is w.boston_view
    assert w.training_menu.actions() and w.training_menu.actions()[0] in w.boston_view.commands.values()


def test_a_tab_built_later_takes_up_what_it_remembered(qtbot):
    first = make(qtbot)
    first.boston_view.change(epochs=321)
    first.tabs.setCurrentIndex(0)
    first.close()
    again = make(qtbot, show=False)
    assert len(again.built_views()) == 1
    assert again.boston_view.model.settings.epochs == 321


def test_closing_before_the_rest_are_built_forgets_nothing_they_remembered(qtbot):
    first = make(qtbot)
    first.boston_view.change(epochs=321)
    first.tabs.setCurrentIndex(0)
    first.close()
    quick = make(qtbot)
    assert len(quick.built_views()) == 1  # closed before the rest were built
    quick.close()
    QApplication.processEvents()
    again = make(qtbot, show=False)
    assert again.boston_view.model.settings.epochs == 321
