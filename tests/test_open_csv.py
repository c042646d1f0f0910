"""Your own data: File > Open CSV… and drag-and-drop, the preview, every bad file, cancel, a million rows.

Driven as a user would, through the main window. No modal dialog blocks: the file dialog and the message boxes
are replaced by recorders; the preview is opened window-modal (non-blocking) and driven programmatically.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import QElapsedTimer, QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QPushButton

import fitscope.gui.dialogs.open_csv as open_csv
from fitscope.engine.data import read_table
from fitscope.gui.app import MainWindow
from fitscope.gui.dialogs.open_csv import OpenCsvDialog
from fitscope.gui.models.surface import MAE_SURFACE_ROWS
from fitscope.gui.panels.data_plot import MAX_POINTS
from fitscope.gui.views.boston_view import BostonView
from fitscope.gui.views.surface_view import SurfaceView
from fitscope.gui.worker import Unit


# --------------------------------------------------------------------------- fixtures and helpers
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
    w.tabs.setCurrentIndex(0)
    with qtbot.waitExposed(w):
        w.show()
    yield w
    w.close()


def view_of(window: MainWindow, cls):
    return next(v for v in window.views if isinstance(v, cls))


def read(qtbot, window: MainWindow, path, timeout: int = 30_000) -> OpenCsvDialog | None:
    """Open ``path`` as File > Open CSV… does; the preview once the file is read (None if it was refused)."""
    window.opener.open(path)
    qtbot.waitUntil(lambda: not window.opener.loading, timeout=timeout)
    return window.opener.preview


def open_csv_file(qtbot, window: MainWindow, path, target=None, features=None, timeout: int = 30_000):
    """Open ``path``, choose the columns in the preview and press Open."""
    dialog = read(qtbot, window, path, timeout)
    assert dialog is not None, "no preview"
    if target is not None:
        dialog.set_target(target)
    if features is not None:
        dialog.set_features(features)
    assert dialog.ok_button.isEnabled(), dialog.status.text()
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: window.opener.preview is None, timeout=5000)


def write(tmp_path, name: str, content: str | bytes):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_bytes(content.encode("utf-8"))
    return path


def idle(qtbot, view, timeout=10_000):
    qtbot.waitUntil(lambda: not view.controller.busy, timeout=timeout)


THREE = "a,b,c,y\n1,2,3,10\n2,3,1,12\n3,1,2,9\n4,4,4,20\n5,2,2,15\n6,1,5,14\n"


# --------------------------------------------------------------------------- the menu and the preview
def test_file_open_csv_is_ctrl_o_and_asks_for_a_file(qtbot, window, tmp_path, monkeypatch):
    path = write(tmp_path, "three.csv", THREE)
    asked = []

    def get_open_file_name(parent, caption, folder, filters):
        asked.append((caption, folder, filters))
        return str(path), filters.split(";;")[0]

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(get_open_file_name))
    action = window.findChild(QAction, "openCsvAction")
    assert action in window.file_menu.actions()
    assert action.shortcut() == QKeySequence(QKeySequence.StandardKey.Open)
    action.trigger()
    assert asked and "CSV" in asked[0][2]
    qtbot.waitUntil(lambda: window.opener.preview is not None, timeout=10_000)
    window.opener.preview.reject()
    action.trigger()  # the next time, the dialog starts in the folder of this file
    assert asked[1][1] == str(tmp_path)
    qtbot.waitUntil(lambda: window.opener.preview is not None, timeout=10_000)
    window.opener.preview.reject()


def test_a_cancelled_file_dialog_does_nothing(qtbot, window, monkeypatch):
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a: ("", "")))
    window.findChild(QAction, "openCsvAction").trigger()
    assert not window.opener.loading and window.opener.preview is None


def test_preview_shows_name_row_count_first_rows_and_defaults(qtbot, window, tmp_path):
    rows = "\n".join(f"{i},{2 * i},{i % 3}" for i in range(45))
    dialog = read(qtbot, window, write(tmp_path, "many.csv", "size,weight,price\n" + rows + "\n"))
    assert dialog.isVisible() and dialog.windowModality() != Qt.WindowModality.NonModal
    assert "many.csv" in dialog.windowTitle()
    assert dialog.findChild(type(dialog.summary), "csvFileName").text() == "<b>many.csv</b>"
    assert dialog.summary.text().startswith("45 rows × 3 columns")
    table = dialog.preview
    assert table.rowCount() == open_csv.PREVIEW_ROWS and table.columnCount() == 3
    assert [table.item(r, 1).text() for r in range(3)] == ["0", "2", "4"]
    assert dialog.target() == "price" and dialog.features() == ["size", "weight"]
    assert dialog.ok_button.isEnabled()
    assert "multi-feature" in dialog.status.text()
    dialog.reject()


def test_ok_is_disabled_with_a_one_line_reason(qtbot, window, tmp_path):
    dialog = read(qtbot, window, write(tmp_path, "three.csv", THREE))
    dialog.set_features([])
    assert not dialog.ok_button.isEnabled()
    assert "at least one feature" in dialog.status.text() and "\n" not in dialog.status.text()
    dialog.set_features(["a", "y"])  # the target ticked as a feature
    assert not dialog.ok_button.isEnabled()
    assert "“y” is the target" in dialog.status.text() and "\n" not in dialog.status.text()
    dialog.feature_boxes[3].setChecked(False)  # as a click would: untick it
    assert dialog.ok_button.isEnabled() and dialog.features() == ["a"]
    assert "Loss surface" in dialog.status.text()
    dialog.reject()


def test_another_target_swaps_with_its_feature_box(qtbot, window, tmp_path):
    dialog = read(qtbot, window, write(tmp_path, "three.csv", THREE))
    dialog.set_target("a")
    assert dialog.features() == ["b", "c", "y"]  # "all the others" whatever the target
    assert dialog.preview.horizontalHeaderItem(0).text() == "a (target)"
    dialog.reject()


def test_cancel_in_the_preview_changes_nothing(qtbot, window, tmp_path):
    surface = view_of(window, SurfaceView)
    before = surface.model.dataset
    dialog = read(qtbot, window, write(tmp_path, "one.csv", "x,y\n1,2\n2,4\n3,7\n"))
    dialog.buttons.button(dialog.buttons.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: window.opener.preview is None, timeout=5000)
    assert surface.model.dataset is before and window.tabs.currentIndex() == 0


# --------------------------------------------------------------------------- where a file opens
def test_one_feature_opens_on_the_loss_surface(qtbot, window, tmp_path):
    window.tabs.setCurrentIndex(2)
    path = write(tmp_path, "rent.csv", "area,rent\n20,400\n35,610\n50,800\n80,1150\n")
    open_csv_file(qtbot, window, path)
    view = view_of(window, SurfaceView)
    assert window.tabs.currentWidget() is view
    assert view.model.dataset.name == "rent.csv" and view.model.dataset.feature_names == ("area",)
    assert view.data_panel.plot.getAxis("bottom").labelText == "area"
    assert view.data_panel.plot.getAxis("left").labelText == "rent"
    assert "rent.csv" in view.data_panel.plot.titleLabel.text
    s = view.model.settings
    x = np.array([20.0, 35.0, 50.0, 80.0])  # no normalization here: the rate suits the data's own scale
    z = np.column_stack([x, np.ones(4)])
    rate = float(f"{1 / np.linalg.eigvalsh(2 / 4 * z.T @ z)[-1]:.3g}")
    assert (s.loss, s.optimizer, s.learning_rate, s.batch_size, s.epochs) == ("mse", "sgd", rate, 4, 200)
    assert view.message.isVisibleTo(view) and "half the largest stable rate" in view.message.text()
    assert view.control("batch_size").value() == 4  # 32 clamped to the four rows
    view.commands["step_batch"].trigger()
    idle(qtbot, view)
    assert view.model.history.steps == 1


def test_several_features_open_in_the_multi_feature_view_named_after_the_file(qtbot, window, tmp_path):
    open_csv_file(qtbot, window, write(tmp_path, "three.csv", THREE))
    view = view_of(window, BostonView)
    index = window.tabs.indexOf(view)
    assert window.tabs.currentIndex() == index
    assert window.tabs.tabText(index) == "three.csv (3 features)"
    assert window.findChild(QAction, f"showView{index}").text() == "three.csv (3 features)"
    d = view.model.dataset
    assert d.feature_names == ("a", "b", "c") and d.target_name == "y" and not d.has_test
    s = view.model.settings
    assert (s.loss, s.optimizer, s.learning_rate, s.epochs, s.normalize) == ("mse", "sgd", 0.01, 200, True)
    assert s.batch_size == 6 and view.control("batch_size").maximum() == 6  # 32, clamped to the rows
    assert view.model.experiment.settings == s
    assert view.weights.linear.names == ["a", "b", "c"]
    assert view.weights.linear.headers[3] == "lowers ◂ y ▸ raises" and "price" not in view.weights.title.text()
    table = view.weights.table
    assert table.isColumnHidden(1)  # no descriptions for the user's columns
    QApplication.sendPostedEvents()
    header = table.horizontalHeader()
    used = sum(header.sectionSize(c) for c in range(4) if not table.isColumnHidden(c))
    assert used >= table.viewport().width() - 2  # the bars take the descriptions' room: no empty half
    x_param = view.slice.x_param
    assert [x_param.itemText(k) for k in range(x_param.count())] == ["weight of a", "weight of b", "weight of c",
                                                                      "bias"]
    assert "Boston" not in view.explanation.text() and "three.csv" in view.explanation.text()
    assert "price" not in view.explanation.text()
    assert view.readouts.form.labelForField(view.readouts.labels["bostonBaseline"]).text() == "baseline (training)"
    assert view.pred_panel.plot.titleLabel.text.startswith("Training set: predicted vs actual")
    assert view.pred_panel.plot.getAxis("bottom").labelText == "actual y"
    view.commands["step_epoch"].trigger()
    idle(qtbot, view)
    assert len(view.model.history.epochs) == 1 and view.readouts.text("bostonTestLoss") == "–"
    view.control("model").setCurrentIndex(1)  # an MLP on the user's data: its labels name the target
    assert view.model.param_labels()[-2] == "output: unit 50 → y"


def test_boston_comes_back_from_the_built_in_data_menu(qtbot, window, tmp_path):
    open_csv_file(qtbot, window, write(tmp_path, "three.csv", THREE))
    view = view_of(window, BostonView)
    menu = next(a.menu() for a in window.file_menu.actions() if a.menu() is not None and "Built-in" in a.text())
    next(a for a in menu.actions() if "Boston" in a.text()).trigger()
    index = window.tabs.indexOf(view)
    assert window.tabs.tabText(index) == "Boston Housing" and view.model.dataset.name == "boston-housing"
    assert view.model.settings == view.model.dataset.defaults
    names = view.model.dataset.feature_names
    assert view.model.pair == (names.index("rm"), names.index("lstat"))
    assert view.readouts.form.labelForField(view.readouts.labels["bostonBaseline"]).text() == "baseline (test)"
    assert view.model.experiment.baseline_loss("test") == pytest.approx(85.58, abs=0.005)
    next(a for a in menu.actions() if "Download" in a.text()).trigger()
    assert view_of(window, SurfaceView).model.dataset.name == "download-time"


def test_the_multi_feature_view_takes_any_data_set_directly(qtbot, tmp_path):
    from fitscope.engine.data import load_csv

    view = BostonView()
    qtbot.addWidget(view)
    path = write(tmp_path, "wide.csv", "p,q,const,t\n1,10,5,3\n2,30,5,4\n3,20,5,8\n4,50,5,9\n")
    view.set_dataset(load_csv(path))
    assert view.title == "wide.csv (3 features)"
    assert "const" in view.explanation.text()  # the constant column is centred, not divided: the user is told
    view.control("normalize").setChecked(False)
    i, j = view.model.pair
    assert i != j
    with pytest.raises(ValueError):
        view.set_dataset(load_csv(path, features=["p"]))
    view.shutdown()


# --------------------------------------------------------------------------- unusual but valid files
VALID = {
    "bom.csv": ("\ufeffx,y\n1,2\n2,4\n3,6.5\n", ("x", "y")),
    "crlf.csv": ("x,y\r\n1,2\r\n2,4\r\n3,6.5\r\n", ("x", "y")),
    "quoted.csv": ('"x","y"\n"1","2"\n"2","4"\n"3","6.5"\n', ("x", "y")),
    "spaces.csv": (" x , y \n 1 , 2 \n2,  4\n  3 ,6.5  \n", ("x", "y")),
    "scientific.csv": ("x,y\n1e0,2E0\n2.0e+00,4\n3,6.5e0\n", ("x", "y")),
    "semicolon.csv": ("x;y\n1;2\n2;4\n3;6.5\n", ("x", "y")),
    "tab.tsv": ("x\ty\n1\t2\n2\t4\n3\t6.5\n", ("x", "y")),
    "blank-lines.csv": ("x,y\n\n1,2\n2,4\n\n3,6.5\n\n", ("x", "y")),
}


@pytest.mark.parametrize("name", list(VALID))
def test_unusual_but_valid_files_load_as_a_user_expects(qtbot, window, tmp_path, warnings, name):
    content, names = VALID[name]
    open_csv_file(qtbot, window, write(tmp_path, name, content))
    view = view_of(window, SurfaceView)
    assert warnings == []
    assert (*view.model.dataset.feature_names, view.model.dataset.target_name) == names
    np.testing.assert_array_equal(view.model.dataset.X_train[:, 0], [1, 2, 3])
    np.testing.assert_array_equal(view.model.dataset.y_train, [2, 4, 6.5])


# --------------------------------------------------------------------------- bad files
BAD: dict[str, str | bytes] = {
    "empty.csv": b"",
    "blank.csv": "\n\n  \n",
    "header-only.csv": "x,y\n",
    "one-row.csv": "x,y\n1,2\n",
    "text-cell.csv": "x,y\n1,2\n2,abc\n3,4\n",
    "missing-cell.csv": "x,y\n1,2\n2,\n3,4\n",
    "nan.csv": "x,y\n1,2\n2,NaN\n3,4\n",
    "infinity.csv": "x,y\n1,2\n2,inf\n3,4\n",
    "ragged.csv": "x,y\n1,2\n2,3,4\n3,4\n",
    "duplicate-names.csv": "x,x\n1,2\n2,3\n",
    "numeric-header.csv": "1,2\n3,4\n5,6\n",
    "no-name.csv": "x,\n1,2\n2,3\n",
    "thousands.csv": 'x,y\n1,"1,200"\n2,"2,400"\n3,"3,600"\n',
    "decimal-comma.csv": "x;y\n1;2,5\n2;4,5\n",
    "utf16.csv": "x,y\n1,2\n2,4\n".encode("utf-16"),
    "latin1.csv": "größe,y\n1,2\n2,4\n".encode("latin-1"),
    "binary.csv": bytes(range(256)) * 8,
    "image.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64),
    "excel.csv": b"PK\x03\x04" + bytes(100),
}


def snapshot(window: MainWindow) -> list:
    """What a bad file must not change: each view's data set, settings, controls and history."""
    out: list = [window.tabs.currentIndex(), [window.tabs.tabText(k) for k in range(window.tabs.count())]]
    for v in (window.surface_view, window.boston_view):
        h = v.model.history
        out.append((v.model, v.model.dataset, v.model.settings, h.steps, h.params.copy(), h.batch_loss.copy()))
    return out


def assert_same(before: list, after: list) -> None:
    assert before[:2] == after[:2]
    for b, a in zip(before[2:], after[2:], strict=True):
        assert b[0] is a[0] and b[1] == a[1] and b[2] == a[2] and b[3] == a[3]
        np.testing.assert_array_equal(b[4], a[4])
        np.testing.assert_array_equal(b[5], a[5])


@pytest.fixture
def trained_window(qtbot, window):
    """A window with some work in it: a batch on the surface, an epoch and a changed setting in the other."""
    surface, boston = view_of(window, SurfaceView), view_of(window, BostonView)
    surface.control("learning_rate").setValue(0.02)
    surface.commands["step_batch"].trigger()
    idle(qtbot, surface)
    boston.step(Unit.EPOCH)
    idle(qtbot, boston)
    assert surface.model.history.steps == 1 and len(boston.model.history.epochs) == 1
    return window


@pytest.mark.parametrize("name", list(BAD))
def test_each_bad_file_gets_one_line_and_changes_nothing(qtbot, trained_window, tmp_path, warnings, name):
    window = trained_window
    before = snapshot(window)
    path = write(tmp_path, name, BAD[name])
    assert read(qtbot, window, path) is None
    assert len(warnings) == 1, warnings
    title, text = warnings[0]
    assert name in title and text.startswith(f"{name}:") and "\n" not in text and len(text) < 300, text
    assert "Traceback" not in text
    assert_same(before, snapshot(window))


def test_the_messages_say_what_is_wrong(qtbot, window, tmp_path, warnings):
    expected = {
        "empty.csv": "empty",
        "header-only.csv": "no data rows",
        "one-row.csv": "only 1 data row",
        "text-cell.csv": "line 3",
        "ragged.csv": "line 3",
        "thousands.csv": "thousands separators",
        "utf16.csv": "UTF-16",
        "binary.csv": "binary",
        "excel.csv": "Excel",
    }
    for name, words in expected.items():
        read(qtbot, window, write(tmp_path, name, BAD[name]))
        assert words in warnings[-1][1], warnings[-1]


def test_a_missing_file_and_a_folder(qtbot, trained_window, tmp_path, warnings):
    before = snapshot(trained_window)
    read(qtbot, trained_window, tmp_path / "gone.csv")
    (tmp_path / "folder.csv").mkdir()
    read(qtbot, trained_window, tmp_path / "folder.csv")
    assert [t for _, t in warnings] == [
        f"gone.csv: no such file ({tmp_path / 'gone.csv'})", "folder.csv: is a folder, not a file"]
    assert_same(before, snapshot(trained_window))


def test_an_unexpected_error_is_still_one_line(qtbot, window, tmp_path, warnings, monkeypatch):
    def broken(path):
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(open_csv, "read_table", broken)
    read(qtbot, window, write(tmp_path, "odd.csv", THREE))
    assert warnings == [("Cannot open odd.csv", "odd.csv: cannot be read (RuntimeError: disk on fire second line)")]


# --------------------------------------------------------------------------- drag and drop
def drag(mime: QMimeData, cls=QDragEnterEvent):
    return cls(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
               Qt.KeyboardModifier.NoModifier)


def test_a_csv_dropped_on_the_window_opens(qtbot, window, tmp_path):
    path = write(tmp_path, "dropped.csv", THREE)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    target = view_of(window, SurfaceView).data_panel.widget.viewport()  # anywhere, even over a plot
    enter, drop = drag(mime), drag(mime, QDropEvent)
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(target, drop)
    assert drop.isAccepted()
    qtbot.waitUntil(lambda: window.opener.preview is not None, timeout=10_000)
    assert window.opener.preview.path == str(path)
    window.opener.preview.reject()


def test_a_drag_of_several_files_or_text_is_refused(qtbot, window, tmp_path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "a.csv")), QUrl.fromLocalFile(str(tmp_path / "b.csv"))])
    enter = drag(mime)
    window.dragEnterEvent(enter)
    assert not enter.isAccepted()
    text = QMimeData()
    text.setText("x,y")
    enter = drag(text)
    window.dragEnterEvent(enter)
    assert not enter.isAccepted()


# --------------------------------------------------------------------------- reading off the GUI thread
@pytest.fixture
def slow_reader(monkeypatch):
    """read_table that waits (in the reader's thread) until the test lets it go."""
    release = threading.Event()
    threads = []

    def slow(path):
        threads.append(threading.current_thread())
        release.wait(10)
        return read_table(path)

    monkeypatch.setattr(open_csv, "read_table", slow)
    yield release, threads
    release.set()


def test_reading_happens_off_the_gui_thread_with_a_progress_dialog(qtbot, window, tmp_path, slow_reader):
    release, threads = slow_reader
    # Every tab built now: the tabs not shown yet are built just after the window shows, each a moment of the
    # GUI thread's, which is not what this test measures.
    assert len(window.views) == len(window.built_views())
    window.opener.open(write(tmp_path, "slow.csv", THREE))
    qtbot.waitUntil(lambda: window.opener.progress is not None and window.opener.progress.isVisible(),
                    timeout=5000)
    assert threads and threads[0] is not threading.main_thread()
    progress = window.opener.progress
    assert progress.maximum() == 0 and "slow.csv" in progress.labelText()  # busy, and names the file
    ticks = []
    timer = QTimer(interval=10, timeout=lambda: ticks.append(1))
    timer.start()
    qtbot.wait(200)
    timer.stop()
    assert len(ticks) >= 5  # the GUI thread is free while the file is read
    release.set()
    qtbot.waitUntil(lambda: window.opener.preview is not None, timeout=10_000)
    assert window.opener.progress is None
    window.opener.preview.reject()


def test_cancel_drops_the_load_and_changes_nothing(qtbot, trained_window, tmp_path, slow_reader, warnings):
    window = trained_window
    release, _ = slow_reader
    before = snapshot(window)
    window.opener.open(write(tmp_path, "slow.csv", THREE))
    qtbot.waitUntil(lambda: window.opener.progress is not None and window.opener.progress.isVisible(),
                    timeout=5000)
    qtbot.mouseClick(window.opener.progress.findChild(QPushButton), Qt.MouseButton.LeftButton)  # Cancel
    assert not window.opener.loading and window.opener.progress is None
    release.set()
    qtbot.wait(300)  # the reader finishes; its result must be dropped
    assert window.opener.preview is None and warnings == []
    assert_same(before, snapshot(window))
    window.opener.open(write(tmp_path, "next.csv", THREE))  # and the next file opens as usual
    qtbot.waitUntil(lambda: window.opener.preview is not None, timeout=10_000)
    window.opener.preview.reject()


def test_closing_the_window_during_a_load_leaves_no_thread(qtbot, tmp_path, slow_reader, warnings):
    release, _ = slow_reader
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    w.opener.open(write(tmp_path, "slow.csv", THREE))
    threading.Timer(0.2, release.set).start()  # the read ends 0.2 s from now (the GUI thread waits in close)
    start = time.perf_counter()
    w.close()  # waits for the read under way, then stops the reader's thread
    assert not w.opener.reading and time.perf_counter() - start < 5
    assert w.opener.preview is None and warnings == []


def test_a_second_file_replaces_one_being_read(qtbot, window, tmp_path, slow_reader):
    release, _ = slow_reader
    window.opener.open(write(tmp_path, "first.csv", THREE))
    window.opener.open(write(tmp_path, "second.csv", "u,v\n1,2\n3,4\n"))
    release.set()
    qtbot.waitUntil(lambda: window.opener.preview is not None, timeout=10_000)
    qtbot.wait(100)
    assert window.opener.preview.path.endswith("second.csv")
    window.opener.preview.reject()


# --------------------------------------------------------------------------- a million rows
@pytest.fixture(scope="module")
def million_rows(tmp_path_factory):
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 10, 1_000_000)
    y = 2.5 * x - 1 + rng.normal(0, 1, x.size)
    path = tmp_path_factory.mktemp("big") / "million.csv"
    path.write_text("x,y\n" + "\n".join(map("{:.5f},{:.5f}".format, x, y)) + "\n")
    return path


def test_a_million_row_file_keeps_the_surface_interactive(qtbot, window, million_rows):
    open_csv_file(qtbot, window, million_rows, timeout=60_000)
    view = view_of(window, SurfaceView)
    assert len(view.model.dataset.y_train) == 1_000_000 and window.tabs.currentWidget() is view
    # a fixed sample of the points is drawn, and the title says so
    shown = view.data_panel.train_points.data
    assert len(shown) == MAX_POINTS
    assert f"showing {MAX_POINTS:,} of 1,000,000 points" in view.data_panel.plot.titleLabel.text

    gaps, last = [], [time.perf_counter()]

    def tick():
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer(interval=10, timeout=tick)
    timer.start()
    view.commands["step_batch"].trigger()
    idle(qtbot, view)
    batch = view.model.history.last_step.indices
    np.testing.assert_array_equal(view.data_panel.batch_points.getData()[0], view.model.dataset.X_train[batch, 0])

    clock = QElapsedTimer()
    clock.start()
    view.set_control("loss", "mae")  # no closed form: a row sample
    qtbot.waitUntil(lambda: f"random {MAE_SURFACE_ROWS:,} of 1,000,000 rows" in view.surface.plot.titleLabel.text,
                    timeout=5000)
    assert clock.elapsed() < 5000
    view.commands["run"].trigger()
    qtbot.wait(1500)
    view.commands["run"].trigger()
    idle(qtbot, view)
    timer.stop()
    assert view.model.history.steps > 10
    gaps = gaps[2:]  # the first ticks include the MAE surface, computed once
    print(f"longest gap between 10 ms ticks: {max(gaps) * 1000:.0f} ms over {len(gaps)} ticks")
    assert gaps and max(gaps) < 1.0, f"the GUI stalled for {max(gaps):.2f} s"
    assert view.readouts.text("trainLossValue") != "–"


def test_many_rows_in_the_multi_feature_view_are_drawn_as_a_sample(qtbot, window, tmp_path):
    from fitscope.gui.models.multi import PRED_POINTS
    from fitscope.gui.views.pair_slice import MLP_SLICE_ROWS

    rng = np.random.default_rng(2)
    X = rng.normal(size=(20_000, 3))
    y = X @ [1.0, -2.0, 0.5] + 3 + rng.normal(0, 0.1, len(X))
    rows = "\n".join(",".join(f"{v:.6f}" for v in (*x, t)) for x, t in zip(X, y, strict=True))
    open_csv_file(qtbot, window, write(tmp_path, "wide.csv", "p,q,r,t\n" + rows + "\n"))
    view = view_of(window, BostonView)
    actual, _ = view.pred_panel.data()
    assert len(actual) == PRED_POINTS
    assert f"showing a random {PRED_POINTS:,} of 20,000 rows" in view.pred_panel.plot.titleLabel.text
    view.control("model").setCurrentIndex(1)  # an MLP: its slice is computed over a sample of the rows
    qtbot.waitUntil(lambda: view.slice_grid is not None and not view.slicer.busy, timeout=30_000)
    assert f"a random {MLP_SLICE_ROWS:,} of the 20,000 rows" in view.slice.caption.text()


def test_numbers_too_large_to_train_on_are_refused_in_one_line(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from fitscope.engine.data import load_csv

    said = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda parent, title, text, *a: said.append(text)))
    from fitscope.engine.data import DataError

    # One feature: refused as it is read (no learning rate the app takes is stable on it).
    path = write(tmp_path, "huge.csv", "x,y\n1e-300,1\n1e150,2\n1e300,3\n")
    with pytest.raises(DataError, match=r"^huge.csv: the feature 'x' has values too large to train on"):
        load_csv(path)
    # Several features that normalization cannot handle: refused by the tab, nothing changes.
    path = write(tmp_path, "huge2.csv", "a,x,y\n1,1e-300,1\n2,1e150,2\n3,1e308,3\n")
    before = snapshot(window)
    window.show_dataset(load_csv(path))
    assert len(said) == 1 and said[0].startswith("Cannot open huge2.csv") and "\n" not in said[0]
    assert_same(before, snapshot(window))


def test_a_start_far_out_on_the_map_is_refused_with_a_message(qtbot, window):
    race = window.race_view
    model = race.model
    race.start_at(1e200, 1e200)
    assert race.model is model and race.model.start == (1.3, -0.6)
    assert race.message.isVisibleTo(race) and race.message.text().startswith("Cannot start there")
