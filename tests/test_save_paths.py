"""A Save dialog's answer, completed: a suffix the app adds never replaces a file unasked, and a folder's name is
refused (a folder chosen once wrote "/tmp.csv" beside it)."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from fitscope.engine.data import load_builtin
from fitscope.gui import prefs
from fitscope.gui.export import ask_and_export_csv
from fitscope.gui.views.surface_view import SurfaceView


@pytest.fixture
def answers(monkeypatch):
    """Records the questions and warnings shown; answers questions with ``answers.reply``."""

    class Answers:
        reply = QMessageBox.StandardButton.No
        asked: list[str] = []
        warned: list[str] = []

    a = Answers()
    a.asked, a.warned = [], []
    monkeypatch.setattr(QMessageBox, "question", lambda _p, _t, text, *args, **kw: (a.asked.append(text), a.reply)[1])
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, _t, text, *args, **kw: a.warned.append(text))
    return a


def test_a_suffix_that_leads_to_an_existing_file_asks_first(qtbot, tmp_path, answers):
    precious = tmp_path / "precious.js"
    precious.write_text("mine")
    assert prefs.completed_save_path(None, str(tmp_path / "precious"), ".js") is None
    assert answers.asked == ["precious.js already exists. Replace it?"]
    answers.reply = QMessageBox.StandardButton.Yes
    assert prefs.completed_save_path(None, str(tmp_path / "precious"), ".js") == str(precious)
    assert precious.read_text() == "mine"  # asked, not written


def test_a_new_name_or_one_with_its_suffix_is_not_asked_about(qtbot, tmp_path, answers):
    assert prefs.completed_save_path(None, str(tmp_path / "new"), ".csv") == str(tmp_path / "new.csv")
    (tmp_path / "there.csv").write_text("x")  # the dialog itself asked about this one
    assert prefs.completed_save_path(None, str(tmp_path / "there.csv"), ".csv") == str(tmp_path / "there.csv")
    assert answers.asked == []


def test_a_folder_is_refused(qtbot, tmp_path, answers):
    assert prefs.completed_save_path(None, str(tmp_path), ".csv") is None
    assert len(answers.warned) == 1 and "is a folder" in answers.warned[0]
    (tmp_path / "d.csv").mkdir()
    assert prefs.completed_save_path(None, str(tmp_path / "d"), ".csv") is None


def test_the_history_export_keeps_an_existing_file_when_the_user_says_no(qtbot, tmp_path, answers, monkeypatch):
    view = SurfaceView(dataset=load_builtin("download-time"))
    qtbot.addWidget(view)
    kept = tmp_path / "run.csv"
    kept.write_text("keep me")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "run"), ""))
    try:
        assert ask_and_export_csv(view, "history") is None
        assert kept.read_text() == "keep me" and answers.asked
        answers.reply = QMessageBox.StandardButton.Yes
        assert ask_and_export_csv(view, "history") == str(kept)
        assert kept.read_text() != "keep me"  # replaced by the history
    finally:
        view.shutdown()


def test_the_code_panel_asks_before_its_suffix_replaces_a_file(qtbot, tmp_path, answers, monkeypatch):
    from fitscope.gui.app import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    with qtbot.waitExposed(window):
        window.show()
    try:
        window.code_dock.action.trigger()
        panel = window.code_dock.panel
        qtbot.waitUntil(lambda: panel.text.startswith("//"), timeout=10_000)
        precious = tmp_path / "precious.js"
        precious.write_text("mine")
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "precious"), ""))
        assert panel.save_as() is None
        assert precious.read_text() == "mine" and answers.asked == ["precious.js already exists. Replace it?"]
    finally:
        window.shutdown()
