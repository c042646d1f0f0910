"""The lesson dock, driven as a student would: Help ▸ Guided lesson, Next, Show me, Back, a teacher's file."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from fitscope.engine.lessons import parse
from fitscope.gui.lessons.dock import builtin_lesson

LONG = 60_000


def settled(qtbot, window) -> None:
    """The lesson's setup or Show me has ended, and every tab's worker is idle."""
    dock = window.lesson_dock
    qtbot.waitUntil(lambda: not dock.player.busy and not any(v.controller.busy for v in window.files.training_views),
                    timeout=LONG)


def snapshot(window, step) -> tuple:
    """What a step's setup decides, as the student sees it: the tab shown, and that tab's run or pass."""
    tab = window.tabs.currentIndex()
    if step.tab in ("surface", "boston"):
        run = (window.surface_view if step.tab == "surface" else window.boston_view).model
        return (tab, run.dataset.name, run.settings, run.history.steps, run.epochs_done,
                tuple(np.round(run.current, 12)), run.history.diverged is not None)
    if step.tab == "backprop":
        view = window.backprop_view
        return tab, view.example, view.position
    return (tab,)


def test_help_menu_opens_the_lesson_at_its_first_step(qtbot, window):
    window.lesson_dock.action.trigger()
    settled(qtbot, window)
    dock = window.lesson_dock
    assert dock.isVisible()
    assert dock.position_label.text() == f"step 1 of {len(builtin_lesson().steps)}"
    assert dock.title_label.text() == "The data and the model"
    assert not dock.back_button.isEnabled() and dock.next_button.isEnabled()
    assert window.tabs.currentWidget() is window.surface_view
    assert window.surface_view.model.settings.init == (0.5, 0.5)


def test_the_whole_builtin_lesson_through_show_me_and_back(qtbot, window):
    lesson = builtin_lesson()
    dock = window.lesson_dock
    dock.start(lesson)
    seen: list[tuple] = []
    for i, step in enumerate(lesson.steps):
        if i:
            qtbot.mouseClick(dock.next_button, Qt.MouseButton.LeftButton)
        settled(qtbot, window)
        assert dock.position_label.text() == f"step {i + 1} of {len(lesson.steps)}"
        assert dock.title_label.text() == step.title
        now = snapshot(window, step)
        view = {"surface": window.surface_view, "boston": window.boston_view,
                "backprop": window.backprop_view, "race": window.race_view}[step.tab]
        assert window.tabs.currentWidget() is view, step.title
        if step.tab in ("surface", "boston"):
            s = view.model.settings
            for key, value in step.settings.items():
                if key != "model":
                    assert getattr(s, key) == value, (step.title, key)
            if step.start is not None and step.train is None:
                assert np.allclose(view.model.current, step.start)
        if i:  # Back restores the previous step exactly, and Next this one
            dock.back()
            settled(qtbot, window)
            assert snapshot(window, lesson.steps[i - 1]) == seen[-1], lesson.steps[i - 1].title
            dock.next()
            settled(qtbot, window)
            assert snapshot(window, step) == now, step.title
        seen.append(now)
        if step.show:
            assert step.check is None or not dock.player.evaluate(), step.title  # not done before the action
            assert dock.show_button.isEnabled(), step.title
            qtbot.mouseClick(dock.show_button, Qt.MouseButton.LeftButton)
            settled(qtbot, window)
        if step.check is not None:
            assert dock.player.evaluate(), step.title  # its own Show me satisfies it
            qtbot.waitUntil(lambda: dock.status == "Done ✓")
        if step.title == "Boston Housing and its baseline":
            assert window.boston_view.readouts.labels["bostonBaseline"].text().startswith("85.58")
        if step.title == "Train the linear model":
            assert window.boston_view.readouts.labels["bostonTestLoss"].text().startswith("22.7")
    window.race_view.pause(wait=True)
    assert not dock.next_button.isEnabled()


def test_a_check_is_not_met_before_the_student_acts(qtbot, window):
    dock = window.lesson_dock
    lesson = builtin_lesson()
    index = next(i for i, s in enumerate(lesson.steps) if s.title == "Too large: the run diverges")
    dock.start(lesson)
    dock.player.show_step(index)
    settled(qtbot, window)
    assert not dock.player.evaluate()
    assert dock.status != "Done ✓"
    assert "make training diverge" in dock.check_label.text()


def test_starting_the_lesson_offers_to_save_the_students_work(qtbot, window, monkeypatch, tmp_path):
    view = window.surface_view
    view.step("batch")
    qtbot.waitUntil(lambda: view.model.history.steps == 1)
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.Cancel)
    assert not window.lesson_dock.start(builtin_lesson())
    assert asked and view.model.history.steps == 1  # cancelled: nothing changed
    path = tmp_path / "mine.fitscope"
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Save)
    monkeypatch.setattr(window.files, "save_session", lambda *a, **k: window.files.__class__.save_session(
        window.files, str(path)))
    assert window.lesson_dock.start(builtin_lesson())
    assert path.exists()
    settled(qtbot, window)


def test_closing_the_dock_keeps_the_app_as_it_is(qtbot, window):
    dock = window.lesson_dock
    dock.start(builtin_lesson())
    settled(qtbot, window)
    dock.player.show_step(2)
    settled(qtbot, window)
    before = snapshot(window, dock.player.step)
    dock.close()
    assert not dock.isVisible()
    assert snapshot(window, builtin_lesson().steps[2]) == before
    dock.action.trigger()  # brought back from the menu, at the same step
    assert dock.isVisible() and dock.position_label.text().startswith("step 3 of")


def test_a_teachers_file_is_loaded_and_a_bad_one_refused_in_one_line(qtbot, window, monkeypatch, tmp_path):
    good = tmp_path / "mine.md"
    good.write_text("# Mine\n\n## First\ntab: surface\nlearning_rate: 0.02\n\nHello.\n", encoding="utf-8")
    bad = tmp_path / "bad.md"
    bad.write_text("# Bad\n\n## First\ntab: surface\nlerning_rate: 0.02\n\nHello.\n", encoding="utf-8")
    warned = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: warned.append(text))
    before = snapshot(window, parse(good.read_text()).steps[0])
    assert not window.lesson_dock.open_file(str(bad))
    assert len(warned) == 1 and "\n" not in warned[0] and "lerning_rate" in warned[0] and "step 1" in warned[0]
    assert snapshot(window, parse(good.read_text()).steps[0]) == before and not window.lesson_dock.isVisible()
    assert window.lesson_dock.open_file(str(good))
    settled(qtbot, window)
    assert window.lesson_dock.title_label.text() == "First"
    assert window.surface_view.model.settings.learning_rate == 0.02


def test_the_help_menu_holds_the_lesson_entries(window):
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    texts = [a.text() for a in help_menu.actions()]
    assert "Guided &lesson" in texts and "Open lesson &file…" in texts
