"""Sharing a run: Copy (menu and Ctrl+C) puts a plot on the clipboard; the run report (app and CLI); the
animated GIF of the loss-surface tab (frames, size, corner labels, cancel, an unwritable target)."""

from __future__ import annotations

import base64
import os
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QApplication,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QSpinBox,
)

from fitscope.engine.cli import main as cli_main
from fitscope.engine.report import MAX_TABLE_ROWS
from fitscope.gui import animation, export
from fitscope.gui.views.surface_view import SurfaceView
from fitscope.gui.worker import Unit

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Dialogs:
    def __init__(self) -> None:
        self.answers: list[tuple[str, str]] = []
        self.warnings: list[tuple[str, str]] = []

    def save(self, parent=None, caption="", start="", filters="", *args, **kwargs):
        return self.answers.pop(0) if self.answers else ("", "")

    def warning(self, parent=None, title="", text="", *args, **kwargs):
        self.warnings.append((title, text))
        return QMessageBox.StandardButton.Ok


@pytest.fixture
def dialogs(monkeypatch) -> Dialogs:
    d = Dialogs()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(d.save))
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(d.warning))
    return d


def surface(window) -> SurfaceView:
    return next(v for v in window.views if isinstance(v, SurfaceView))


def train(qtbot, view, epochs: int) -> None:
    for _ in range(epochs):
        view.step(Unit.EPOCH)
        qtbot.waitUntil(lambda: not view.controller.busy, timeout=30_000)
    view.redraw()


def png_size(view) -> tuple[int, int]:
    image = QImage.fromData(export.picture_bytes(view, "png"), "PNG")
    return image.width(), image.height()


def clipboard_size() -> tuple[int, int]:
    image = QApplication.clipboard().image()
    return (0, 0) if image.isNull() else (image.width(), image.height())


# --------------------------------------------------------------------------- Copy
def test_copy_in_a_plots_menu_puts_its_picture_on_the_clipboard(qtbot, window):
    gv = surface(window).loss_panel.widget
    QApplication.clipboard().clear()
    qtbot.mouseClick(gv.viewport(), Qt.MouseButton.RightButton, pos=gv.viewport().rect().center())
    qtbot.waitUntil(lambda: isinstance(QApplication.activePopupWidget(), QMenu), timeout=3000)
    menu = QApplication.activePopupWidget()
    copy = next(a for a in menu.actions() if a.text().replace("&", "") == "Copy")
    assert copy.shortcut().toString() == "Ctrl+C"  # the menu tells the key
    copy.trigger()
    menu.close()
    width, height = clipboard_size()
    assert (width, height) == png_size(gv)  # the picture Export as PNG writes
    assert width >= gv.width() and height >= gv.height() * 0.9


def test_ctrl_c_on_a_focused_plot_copies_that_plot(qtbot, window):
    plots = dict(export.plots_of(surface(window)))
    gv = plots["Data and fitted line"]
    QApplication.clipboard().clear()
    gv.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(gv.hasFocus, timeout=3000)
    qtbot.keyClick(gv, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert clipboard_size() == png_size(gv)
    assert clipboard_size() != png_size(plots["Loss surface"])  # this plot, not another


# --------------------------------------------------------------------------- reading a report
class Report(HTMLParser):
    """What a report holds: the final numbers by label, the history table's rows, the pictures, the text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.final: dict[str, float] = {}
        self.history: list[list[str]] = []
        self.values: list[list[float | None]] = []
        self.images: list[tuple[str, str]] = []
        self.text: list[str] = []
        self._table = ""
        self._row: list[str] | None = None
        self._row_values: list[float | None] = []
        self._cell: str | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("class", "")
        elif tag == "tr":
            self._row, self._row_values = [], []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ""
            value = a.get("data-value")
            if tag == "td":
                self._row_values.append(None if value is None else float(value))
        elif tag == "img":
            self.images.append((a.get("alt", ""), a.get("src", "")))

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._table == "final" and self._row_values[0] is not None:
                self.final[self._row[0]] = self._row_values[0]
            elif self._table == "history" and self._row_values:
                self.history.append(self._row)
                self.values.append(self._row_values)
            self._row = None
        elif tag == "table":
            self._table = ""

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        self.text.append(data)

    @property
    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())


def decoded_png(src: str) -> bytes:
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix)
    return base64.b64decode(src[len(prefix):], validate=True)


def export_action(window, text: str):
    window.files.fill_export_menu()
    return next(a for a in window.files.export_menu.actions() if a.text().replace("&", "") == text)


# --------------------------------------------------------------------------- the report from the app
def test_file_export_report_writes_the_runs_numbers_history_and_plots(qtbot, window, dialogs, tmp_path):
    view = surface(window)
    view.control("batch_size").setValue(4)
    train(qtbot, view, 3)
    run = view.model
    dialogs.answers = [(str(tmp_path / "run"), "HTML file (*.html *.htm)")]
    action = export_action(window, "Report…")
    assert action.isEnabled()
    action.trigger()
    assert dialogs.warnings == []
    report = Report((tmp_path / "run.html").read_text(encoding="utf-8"))  # the suffix is added

    loss, _, _ = run.last_epoch()
    assert report.final["final training loss"] == loss
    assert report.final["test loss"] == run.loss_now("test")
    assert report.final["baseline loss"] == pytest.approx(run.baseline(), rel=1e-15)
    assert [row[:2] for row in report.history] == [["1", "5"], ["2", "10"], ["3", "15"]]  # 20 rows, batches of 4
    assert [v[2] for v in report.values] == [float(x) for x in run.history.epochs[:, 2]]
    text = report.all_text
    assert "batch size 4" in text and "learning rate" in text
    assert "Cai, Bileschi, Nielsen" in text  # the data README's provenance of the download-time data
    names = [name for name, _ in export.plots_of(view)]
    assert [alt for alt, _ in report.images] == names
    for _, src in report.images:
        png = decoded_png(src)
        assert png[:8] == PNG_MAGIC and not QImage.fromData(png, "PNG").isNull()


def test_a_report_to_an_unwritable_place_is_one_line_and_no_file(qtbot, window, dialogs, tmp_path):
    train(qtbot, surface(window), 1)
    out = tmp_path / "out"
    out.mkdir()
    target = out / "missing" / "run.html"
    dialogs.answers = [(str(target), "HTML file (*.html *.htm)")]
    export_action(window, "Report…").trigger()
    assert len(dialogs.warnings) == 1
    title, text = dialogs.warnings[0]
    assert title == "Export" and "\n" not in text and str(target) in text
    assert not target.exists() and os.listdir(out) == []


def test_a_tab_without_a_run_offers_no_report(qtbot, window):
    window.tabs.setCurrentIndex(2)  # backpropagation: no single run
    assert not export_action(window, "Report…").isEnabled()


# --------------------------------------------------------------------------- the report from the CLI
def test_fit_report_holds_what_the_cli_prints(tmp_path, capsys):
    path = tmp_path / "run.html"
    assert cli_main(["fit", "--data", "boston-housing", "--epochs", "3", "--quiet", "--report", str(path)]) == 0
    printed = {line.split(":")[0]: line.split(":")[1].split()[0] for line in capsys.readouterr().out.splitlines()
               if ":" in line}
    report = Report(path.read_text(encoding="utf-8"))
    for label in ("final training loss", "final validation loss", "test loss", "baseline loss"):
        assert f"{report.final[label]:.6g}" == printed[label]
    assert [row[0] for row in report.history] == ["1", "2", "3"]
    assert report.images == [] and "Plots: in the app" in report.all_text
    assert "Harrison, D. and Rubinfeld" in report.all_text


def test_a_long_history_is_thinned_with_a_note(tmp_path):
    path = tmp_path / "run.html"
    epochs = MAX_TABLE_ROWS + 150
    assert cli_main(["fit", "--data", "download-time", "--epochs", str(epochs), "--quiet",
                     "--report", str(path)]) == 0
    report = Report(path.read_text(encoding="utf-8"))
    shown = [int(row[0]) for row in report.history]
    assert len(shown) == MAX_TABLE_ROWS and shown[0] == 1 and shown[-1] == epochs and shown == sorted(set(shown))
    assert f"{epochs:,} epochs: {MAX_TABLE_ROWS} of them are shown" in report.all_text


def test_fit_report_to_an_unwritable_place_is_one_error_line_and_writes_nothing(tmp_path, capsys):
    history, report = tmp_path / "h.csv", tmp_path / "missing" / "run.html"
    code = cli_main(["fit", "--epochs", "2", "--history", str(history), "--report", str(report)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("error:")
    assert not history.exists() and not report.exists()


# --------------------------------------------------------------------------- the animation
def gif_frames(path) -> list[Image.Image]:
    with Image.open(path) as gif:
        assert gif.format == "GIF"
        frames = []
        for i in range(gif.n_frames):
            gif.seek(i)
            frames.append(gif.convert("RGB"))
        return frames


def label_crop(image: Image.Image, text: str) -> np.ndarray:
    r = animation.label_rect(text, image.height)
    box = (int(r.left()), int(r.top()), int(r.right()) + 1, int(r.bottom()) + 1)
    return np.asarray(image.convert("L").crop(box), dtype=float)


def label_alone(text: str, width: int, height: int) -> Image.Image:
    """The corner label of ``text`` drawn alone on white, as a frame of that size carries it."""
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.white)
    animation.draw_label(image, text)
    return animation.to_pil(image)


def shows_label(frame: Image.Image, text: str) -> bool:
    """Whether the frame's corner label reads ``text`` (its pixels against the label drawn alone)."""
    expected = label_crop(label_alone(text, *frame.size), text)
    return float(np.abs(label_crop(frame, text) - expected).mean()) < 3.0


def run_export(qtbot, view, spec, path):
    job = animation.AnimationExport(view.model, spec, path, view.window())
    with qtbot.waitSignal(job.finished, timeout=60_000) as blocker:
        job.start()
    return job, blocker.args[0]


def test_an_animation_has_the_frames_size_and_steps_asked_for(qtbot, window, tmp_path):
    view = surface(window)
    view.control("batch_size").setValue(4)
    train(qtbot, view, 4)  # 20 steps
    run = view.model
    spec = animation.AnimationSpec(first=2, last=20, fps=5, frames=7, width=480, height=360)
    job, ok = run_export(qtbot, view, spec, tmp_path / "run.gif")
    assert ok and job.error == ""
    frames = gif_frames(tmp_path / "run.gif")
    assert len(frames) == 7 and all(f.size == (480, 360) for f in frames)
    with Image.open(tmp_path / "run.gif") as gif:
        assert gif.info["duration"] == 200 and gif.info["loop"] == 0
    first, last = animation.frame_label(run, 2), animation.frame_label(run, 20)
    assert first.startswith("step 2 · training loss") and last.startswith("step 20 · ")
    assert shows_label(frames[0], first) and not shows_label(frames[0], last)
    assert shows_label(frames[-1], last) and not shows_label(frames[-1], first)
    assert frames[0].crop((0, 60, 480, 360)) != frames[-1].crop((0, 60, 480, 360))  # the map shows the path grow
    assert os.listdir(tmp_path) == ["run.gif"] or sorted(os.listdir(tmp_path)) == ["run.gif", "settings"]


def test_a_cancelled_animation_writes_nothing(qtbot, window, tmp_path):
    view = surface(window)
    view.control("batch_size").setValue(1)
    train(qtbot, view, 5)  # 100 steps
    out = tmp_path / "out"
    out.mkdir()
    job = animation.AnimationExport(view.model, animation.AnimationSpec(0, 100, 10, 100, 400, 300), out / "a.gif",
                                    window)
    drawn = []

    def cancel_after_three(n: int) -> None:
        drawn.append(n)
        if n == 3:
            assert job.progress.isVisible() and job.progress.maximum() == 101
            button = job.progress.findChild(QPushButton)
            assert button.text() == "Cancel"
            qtbot.mouseClick(button, Qt.MouseButton.LeftButton)

    job.frameDone.connect(cancel_after_three)
    with qtbot.waitSignal(job.finished, timeout=30_000) as blocker:
        job.start()
    assert blocker.args == [False] and job.error == "" and drawn == [1, 2, 3]
    qtbot.wait(50)
    assert os.listdir(out) == []


def test_an_animation_to_an_unwritable_place_is_one_line_and_no_file(qtbot, window, tmp_path):
    view = surface(window)
    train(qtbot, view, 3)
    target = tmp_path / "missing" / "a.gif"
    job, ok = run_export(qtbot, view, animation.AnimationSpec(0, 3, 10, 3, 200, 150), target)
    assert not ok and "\n" not in job.error and job.error.startswith("Cannot write") and str(target) in job.error
    assert not target.exists()


def test_the_animation_dialog_asks_for_steps_rate_frames_and_size(qtbot, window, dialogs, tmp_path):
    view = surface(window)
    view.control("batch_size").setValue(4)
    train(qtbot, view, 2)  # 10 steps
    assert export_action(window, "Animation…").isEnabled()

    def fill_in():
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, animation.AnimationDialog)
        values = {"firstStep": 1, "lastStep": 9, "framesPerSecond": 5, "frameCount": 50, "frameWidth": 300,
                  "frameHeight": 200}
        for name, value in values.items():
            dialog.findChild(QSpinBox, name).setValue(value)
        assert dialog.findChild(QSpinBox, "frameCount").value() == 9  # steps 1 to 9: nine frames at most
        assert "9 frames of steps 1 to 9: 1.8 s" in dialog.findChild(QLabel, "animationSummary").text()
        qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)

    QTimer.singleShot(0, fill_in)
    dialogs.answers = [(str(tmp_path / "walk"), "Animated GIF (*.gif)")]
    job = animation.ask_and_export_animation(view)
    assert job is not None
    qtbot.waitUntil(lambda: job.done, timeout=60_000)
    frames = gif_frames(tmp_path / "walk.gif")
    assert len(frames) == 9 and frames[0].size == (300, 200)
    assert shows_label(frames[0], animation.frame_label(view.model, 1))
    assert shows_label(frames[-1], animation.frame_label(view.model, 9))
    window.tabs.setCurrentIndex(2)
    assert not export_action(window, "Animation…").isEnabled()  # the backpropagation tab: no run to animate


def test_large_frames_limit_how_many_a_gif_holds(qtbot, window):
    view = surface(window)
    view.control("batch_size").setValue(1)
    train(qtbot, view, 10)  # 200 steps
    dialog = animation.AnimationDialog(view.model, window)
    qtbot.addWidget(dialog)
    count = dialog.findChild(QSpinBox, "frameCount")
    count.setValue(200)
    assert count.value() == 200  # every step recorded, at 800 × 600
    dialog.findChild(QSpinBox, "frameWidth").setValue(1920)
    dialog.findChild(QSpinBox, "frameHeight").setValue(1200)
    assert count.value() == count.maximum() == animation.MAX_PIXELS // (1920 * 1200) < 200
    spec = animation.AnimationSpec(0, 200, 10, 200, 1920, 1200)
    with pytest.raises(ValueError, match=r"at 1920 × 1200 pixels an animation holds at most \d+ frames"):
        animation.AnimationExport(view.model, spec, "unused.gif", window)
