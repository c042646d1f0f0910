"""View ▸ Code of this run: the TensorFlow.js and Keras code of the current tab's run, driven through the window.

The code must parse (Python with ``ast``, JavaScript with ``node --check`` where Node is installed), follow every
change made through the tab's widgets and highlight exactly the lines a change touched; exact code carries the
clicked start; Copy and Save as give the whole code; what the code cannot express is one line; a hidden panel
writes nothing.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import threading

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QTextCursor
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from fitscope.engine import codegen
from fitscope.engine.data import load_csv
from fitscope.gui.app import MainWindow
from fitscope.gui.models.multi import MultiRun
from fitscope.gui.panels.code_view import CHANGED_BACKGROUND

NODE = shutil.which("node")
SURFACE, BOSTON, BACKPROP, RACE = range(4)


@pytest.fixture
def warnings(monkeypatch) -> list[tuple[str, str]]:
    """(title, text) of every warning box; any other kind of message box fails the test."""
    shown: list[tuple[str, str]] = []

    def warning(_parent, title, text, *_args, **_kwargs):
        shown.append((title, text))
        return QMessageBox.StandardButton.Ok

    def forbidden(*args, **_kwargs):
        pytest.fail(f"unexpected message box: {args[1:]}")

    monkeypatch.setattr(QMessageBox, "warning", staticmethod(warning))
    monkeypatch.setattr(QMessageBox, "critical", staticmethod(forbidden))
    monkeypatch.setattr(QMessageBox, "information", staticmethod(forbidden))
    return shown


@pytest.fixture
def window(qtbot, warnings) -> MainWindow:
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1400, 880)
    w.tabs.setCurrentIndex(SURFACE)
    with qtbot.waitExposed(w):
        w.show()
    yield w
    w.close()


@pytest.fixture
def panel(qtbot, window):
    """The code panel, shown through View ▸ Code of this run, with the loss surface's code in it."""
    window.code_dock.action.trigger()
    qtbot.waitUntil(lambda: window.code_dock.panel.text.startswith("//"), timeout=10_000)
    return window.code_dock.panel


def literal(x: float) -> str:
    """A float as the code writes it: the shortest text that reads back to it."""
    return repr(float(x)).removesuffix(".0")


def background(panel, line: int) -> str:
    """The colour of the code view at the right end of ``line`` (0-based), past any text."""
    editor = panel.editor
    block = editor.document().findBlockByNumber(line)
    editor.setTextCursor(QTextCursor(block))
    editor.ensureCursorVisible()
    y = editor.cursorRect().center().y()
    image = editor.viewport().grab().toImage()
    return image.pixelColor(editor.viewport().width() - 3, y).name()


def wait_for(qtbot, panel, predicate, timeout: int = 10_000) -> None:
    qtbot.waitUntil(lambda: bool(predicate(panel)), timeout=timeout)


def show_tab(qtbot, window, panel, index: int) -> None:
    window.tabs.setCurrentIndex(index)
    if index == RACE:
        wait_for(qtbot, panel, lambda p: "no single fit() call" in p.note.text() and p.text)
        return
    name = window.views[index].model.dataset.name
    wait_for(qtbot, panel, lambda p: p.text and name in p.text.splitlines()[0] and "no single" not in p.note.text())


def choose(qtbot, panel, lang: str, exact: bool) -> None:
    """Pick the language and exactness as a user would, and wait for that code."""
    panel.language.setCurrentIndex(panel.language.findData(lang))
    panel.exact.setChecked(exact)
    comment = "//" if lang == "tfjs" else "#"
    wait_for(qtbot, panel, lambda p: p.text.startswith(comment) and ("Exact:" in p.text) == exact)


def check_syntax(text: str, lang: str, tmp_path) -> None:
    if lang == "keras":
        ast.parse(text)
        return
    if NODE is None:
        pytest.skip("Node.js is not installed: the JavaScript cannot be checked")
    path = tmp_path / "code.js"
    path.write_text(text, encoding="utf-8")
    done = subprocess.run([NODE, "--check", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


# --------------------------------------------------------------------------- the dock and its menu entry
def test_view_menu_shows_and_hides_the_dock_with_a_shortcut_of_its_own(qtbot, window):
    dock = window.code_dock
    assert dock.objectName() == "codeDock" and dock.isHidden()
    view_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    action = next(a for a in view_menu.actions() if a.text().replace("&", "") == "Code of this run")
    keys = action.shortcut()
    assert not keys.isEmpty()
    others = [a for a in window.findChildren(QAction) if a is not action and not a.shortcut().isEmpty()]
    assert all(a.shortcut() != keys for a in others), [a.text() for a in others if a.shortcut() == keys]
    qtbot.keyClick(window, keys[0].key(), keys[0].keyboardModifiers())
    qtbot.waitUntil(dock.isVisible)
    assert action.isChecked()
    action.trigger()
    assert dock.isHidden() and not action.isChecked()
    assert keys == QKeySequence("Ctrl+Shift+C")


def test_the_window_keeps_the_dock_open_between_launches(qtbot, window, panel):
    window.close()  # saves the window's layout
    again = MainWindow()
    qtbot.addWidget(again)
    with qtbot.waitExposed(again):
        again.show()
    assert again.code_dock.isVisible() and again.code_dock.action.isChecked()
    wait_for(qtbot, again.code_dock.panel, lambda p: p.text.startswith("// download-time"))
    again.close()


# --------------------------------------------------------------------------- the code parses
@pytest.mark.parametrize("tab", [SURFACE, BOSTON])
@pytest.mark.parametrize("lang", ["tfjs", "keras"])
@pytest.mark.parametrize("exact", [False, True])
def test_the_code_of_the_surface_and_boston_tabs_parses(qtbot, window, panel, tmp_path, tab, lang, exact):
    show_tab(qtbot, window, panel, tab)
    choose(qtbot, panel, lang, exact)
    view = window.views[tab]
    assert panel.editor.isVisible() and panel.problem.isHidden()
    assert panel.text == codegen.code(view.model.dataset, view.model.settings, lang, exact=exact,
                                      start=view.model.start)
    assert ("model.fit(" in panel.text) and ("tf.sequential" in panel.text if lang == "tfjs" else
                                             "keras.Sequential" in panel.text)
    check_syntax(panel.text, lang, tmp_path)


@pytest.mark.parametrize("columns", [1, 3])
def test_an_opened_csv_is_read_from_its_path_in_the_code(qtbot, window, panel, tmp_path, columns):
    path = tmp_path / "my data.csv"
    names = ["a", "b", "c"][:columns]
    rows = [",".join(str((i * 7 + j * 3) % 11) for j in range(columns)) + f",{i * 1.5}" for i in range(30)]
    path.write_text(",".join(names) + ",y\n" + "\n".join(rows) + "\n", encoding="utf-8")
    window.show_dataset(load_csv(path))
    wait_for(qtbot, panel, lambda p: "my data.csv" in p.text.splitlines()[0])
    for lang in ("keras", "tfjs"):
        choose(qtbot, panel, lang, False)
        assert str(path) in panel.text
        check_syntax(panel.text, lang, tmp_path)


# --------------------------------------------------------------------------- it follows the settings
def test_a_setting_changed_in_the_tab_changes_the_code_and_highlights_exactly_its_lines(qtbot, window, panel):
    view = window.views[SURFACE]
    before = panel.text
    assert "batchSize: 10," not in before and panel.highlighted_lines() == []
    view.set_control("batch_size", 10)
    wait_for(qtbot, panel, lambda p: "batchSize: 10," in p.text)
    after = panel.text
    lines = after.splitlines()
    expected = codegen.changed_lines(before, after)
    assert expected and panel.highlighted_lines() == expected
    assert [lines[i].strip() for i in expected] == ["batchSize: 10,"]
    assert "changed: line" in panel.status.text()
    # What the user sees: that line's background, across the whole width, and no other's.
    assert background(panel, expected[0]) == CHANGED_BACKGROUND.name()
    assert background(panel, expected[0] - 1) == background(panel, expected[0] + 1) == "#ffffff"

    # Another setting: the highlight moves to its lines, the last change's go.
    loss, name = ("mse", "meanSquaredError") if view.model.settings.loss == "mae" else ("mae", "meanAbsoluteError")
    view.set_control("loss", loss)
    wait_for(qtbot, panel, lambda p: name in p.text)
    assert panel.highlighted_lines() == codegen.changed_lines(after, panel.text)
    assert [name in panel.text.splitlines()[i] for i in panel.highlighted_lines()] == [True]


def test_boston_settings_change_the_keras_code(qtbot, window, panel):
    show_tab(qtbot, window, panel, BOSTON)
    choose(qtbot, panel, "keras", False)
    view = window.views[BOSTON]
    for key, value, text in (("validation_split", 0.3, "validation_split=0.3"),
                             ("optimizer", "adam", "keras.optimizers.Adam(learning_rate=0.001)"),
                             ("epochs", 50, "epochs=50"),
                             ("model", 2, 'Dense(50, activation="sigmoid"')):  # the two-hidden-layer MLP
        before = panel.text
        if key == "model":
            view.control("model").setCurrentIndex(value)
        else:
            view.set_control(key, value)
        wait_for(qtbot, panel, lambda p, text=text: text in p.text)
        changed = codegen.changed_lines(before, panel.text)
        assert changed and panel.highlighted_lines() == changed, key
    assert view.model.settings.hidden == MultiRun.model_changes(2)["hidden"]
    assert panel.text.count('Dense(50, activation="sigmoid"') == 2  # two hidden layers
    ast.parse(panel.text)


def test_a_change_that_does_not_show_says_so(qtbot, window, panel):
    """Ordinary TensorFlow.js code starts from random weights: a new start point changes nothing in it."""
    view = window.views[SURFACE]
    before = panel.text
    view.start_at(0.9, 0.2)
    wait_for(qtbot, panel, lambda p: "does not show" in p.status.text())
    assert panel.text == before and panel.highlighted_lines() == []


# --------------------------------------------------------------------------- exact code
def test_exact_code_starts_at_the_point_clicked_on_the_map(qtbot, window, panel):
    view = window.views[SURFACE]
    choose(qtbot, panel, "tfjs", True)
    before = panel.text
    pos = view.surface.widget_pos_of(0.8, -0.35)
    qtbot.mouseClick(view.surface.graphics.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    k, b = view.model.settings.init
    assert abs(k - 0.8) < 0.05 and abs(b + 0.35) < 0.05
    wait_for(qtbot, panel, lambda p: p.text != before)
    lines = panel.text.splitlines()
    start = lines.index("const START_WEIGHTS = [")
    weights = "\n".join(lines[start : start + 9])
    assert f"[{literal(k)}]," in weights and f"[{literal(b)}]," in weights
    assert panel.highlighted_lines() == codegen.changed_lines(before, panel.text)
    assert any(repr(k) in lines[i] for i in panel.highlighted_lines())
    assert any(repr(b) in lines[i] for i in panel.highlighted_lines())


def test_exact_code_says_when_the_settings_changed_while_the_run_trained(qtbot, window, panel):
    view = window.views[SURFACE]
    choose(qtbot, panel, "tfjs", True)
    assert "changed while it trained" not in panel.note.text()
    view.commands["step_batch"].trigger()
    qtbot.waitUntil(lambda: not view.controller.busy and view.model.history.steps == 1, timeout=10_000)
    view.set_control("learning_rate", 0.05)  # on the fly: the run took its first step at 0.01
    wait_for(qtbot, panel, lambda p: "tf.train.sgd(0.05)" in p.text)
    assert "changed while it trained" in panel.note.text()
    view.commands["reset"].trigger()  # a fresh run, all of it at 0.05
    wait_for(qtbot, panel, lambda p: "changed while it trained" not in p.note.text())
    assert "tf.train.sgd(0.05)" in panel.text


def test_exact_boston_code_is_written_off_the_gui_thread(qtbot, window, panel, monkeypatch):
    threads = []
    real = codegen.code

    def spy(*args, **kwargs):
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(codegen, "code", spy)
    show_tab(qtbot, window, panel, BOSTON)
    choose(qtbot, panel, "tfjs", True)
    assert "const EPOCH_ORDERS = [" in panel.text and panel.text.count("// epoch ") == 200
    assert threads and all(t is not threading.main_thread() for t in threads)


def test_the_latest_request_wins(qtbot, window, panel, monkeypatch):
    """While one code is written, newer requests replace each other: only the last is written and shown."""
    real = codegen.code
    entered, release = threading.Event(), threading.Event()
    asked, shown = [], []

    def slow(dataset, settings, lang, **kwargs):
        asked.append(settings.batch_size)
        if len(asked) == 1:
            entered.set()
            release.wait(30)
        return real(dataset, settings, lang, **kwargs)

    monkeypatch.setattr(codegen, "code", slow)
    panel.updated.connect(lambda: shown.append(panel.text))
    view = window.views[SURFACE]
    view.set_control("batch_size", 5)
    qtbot.waitUntil(entered.is_set, timeout=10_000)
    for size in (6, 7, 8):
        view.set_control("batch_size", size)
        panel.update_code()  # asked at once, while the first is still being written
    release.set()
    wait_for(qtbot, panel, lambda p: "batchSize: 8," in p.text)
    assert asked == [5, 8]
    assert not any("batchSize: 5," in text for text in shown)


def test_code_the_engine_cannot_write_is_one_line_in_place_of_the_code(qtbot, window, panel):
    show_tab(qtbot, window, panel, BOSTON)
    choose(qtbot, panel, "tfjs", True)
    view = window.views[BOSTON]
    view.set_control("epochs", 5000)  # 5,000 epochs of 266 rows' order: over a million numbers
    wait_for(qtbot, panel, lambda p: p.problem.isVisible())
    message = panel.problem.text()
    assert "\n" not in message and "1,000,000" in message and "Traceback" not in message
    assert panel.editor.isHidden() and panel.text == ""
    assert not panel.copy_button.isEnabled() and not panel.save_button.isEnabled()
    # Fewer epochs: the code is back.
    view.set_control("epochs", 20)
    wait_for(qtbot, panel, lambda p: p.editor.isVisible() and p.text.count("// epoch ") == 20)
    assert panel.copy_button.isEnabled() and panel.problem.isHidden()


def test_a_fault_of_the_code_writer_is_one_line_and_the_panel_goes_on(qtbot, window, panel, monkeypatch):
    real = codegen.code

    def broken(*args, **kwargs):
        raise RuntimeError("something\nwent wrong")

    monkeypatch.setattr(codegen, "code", broken)
    window.views[SURFACE].set_control("batch_size", 7)
    wait_for(qtbot, panel, lambda p: p.problem.isVisible())
    assert panel.problem.text() == "Cannot write the code: RuntimeError: something went wrong."
    monkeypatch.setattr(codegen, "code", real)
    window.views[SURFACE].set_control("batch_size", 8)
    wait_for(qtbot, panel, lambda p: "batchSize: 8," in p.text)


# --------------------------------------------------------------------------- the other tabs
def test_the_race_shows_one_racers_code_and_the_backprop_tab_a_note(qtbot, window, panel):
    show_tab(qtbot, window, panel, RACE)
    assert panel.racer.isVisible() and panel.racer.count() == 4
    assert "no single fit() call" in panel.note.text()
    assert "tf.train.sgd(0.01)" in panel.text
    panel.racer.setCurrentIndex(panel.racer.findData("momentum"))
    wait_for(qtbot, panel, lambda p: "tf.train.momentum(0.01, 0.9)" in p.text)
    race_view = window.views[RACE]
    race_view.options["momentum"]["momentum"].setValue(0.5)
    wait_for(qtbot, panel, lambda p: "tf.train.momentum(0.01, 0.5)" in p.text)
    # An option the code cannot set: one line instead of code.
    panel.racer.setCurrentIndex(panel.racer.findData("adam"))
    wait_for(qtbot, panel, lambda p: "tf.train.adam(" in p.text)
    race_view.options["adam"]["beta1"].setValue(0.8)
    wait_for(qtbot, panel, lambda p: p.problem.isVisible())
    assert "\n" not in panel.problem.text() and "0.8" in panel.problem.text()

    window.tabs.setCurrentIndex(BACKPROP)
    wait_for(qtbot, panel, lambda p: "no fit() call" in p.problem.text() and p.problem.isVisible())
    assert not panel.racer.isVisible() and panel.text == ""
    show_tab(qtbot, window, panel, SURFACE)
    assert panel.problem.isHidden()


# --------------------------------------------------------------------------- Copy and Save as
def test_copy_puts_the_whole_code_on_the_clipboard(qtbot, window, panel):
    QApplication.clipboard().clear()
    qtbot.mouseClick(panel.copy_button, Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text() == panel.text == panel.editor.toPlainText()
    assert panel.text.startswith("// download-time") and panel.text.endswith("main();\n")
    assert "Copied" in panel.status.text()


def test_save_as_writes_the_code_under_the_suggested_name(qtbot, window, panel, monkeypatch, tmp_path):
    show_tab(qtbot, window, panel, BOSTON)
    choose(qtbot, panel, "keras", False)
    asked = []

    def dialog(_parent, _title, suggested, _filter, *args, **kwargs):
        asked.append(suggested)
        return str(tmp_path / "mine"), "Python (*.py)"

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(dialog))
    qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    assert os.path.basename(asked[0]) == "boston-housing-keras.py"
    written = tmp_path / "mine.py"
    assert written.read_text(encoding="utf-8") == panel.text
    assert str(written) in panel.status.text()


def test_save_as_to_a_place_that_cannot_be_written_is_one_line_and_leaves_nothing(qtbot, window, panel, warnings,
                                                                                   monkeypatch, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "afile").write_text("not a folder")
    before = sorted(os.listdir(folder))
    target = folder / "afile" / "code.js"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(target), "JavaScript (*.js)")))
    qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    assert len(warnings) == 1
    title, text = warnings[0]
    assert "\n" not in text and "code.js" in text
    assert sorted(os.listdir(folder)) == before and (folder / "afile").read_text() == "not a folder"
    # Cancel writes nothing and says nothing.
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: ("", "")))
    qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    assert len(warnings) == 1 and sorted(os.listdir(folder)) == before


# --------------------------------------------------------------------------- no work while hidden
def test_the_hidden_dock_writes_no_code(qtbot, window, monkeypatch):
    calls = []
    real = codegen.code

    def counting(*args, **kwargs):
        calls.append(args[3] if len(args) > 3 else kwargs.get("lang"))
        return real(*args, **kwargs)

    monkeypatch.setattr(codegen, "code", counting)
    surface, boston = window.views[SURFACE], window.views[BOSTON]
    surface.set_control("batch_size", 5)
    window.tabs.setCurrentIndex(BOSTON)
    boston.set_control("epochs", 30)
    window.tabs.setCurrentIndex(SURFACE)
    surface.set_control("seed", 3)
    QApplication.processEvents()  # anything queued runs: a hidden panel queues nothing
    assert calls == []
    panel = window.code_dock.panel
    window.code_dock.action.trigger()
    wait_for(qtbot, panel, lambda p: "batchSize: 5," in p.text)
    assert len(calls) == 1
    window.code_dock.action.trigger()  # hidden again
    surface.set_control("batch_size", 6)
    QApplication.processEvents()
    assert len(calls) == 1 and "batchSize: 5," in panel.text
