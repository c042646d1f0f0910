"""Exports: every plot as PNG and SVG (context menu and File > Export), the run as CSV in the CLI's formats."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QFileDialog, QMenu, QMessageBox

from fitscope.engine.cli import main as cli_main
from fitscope.engine.export import ExportError, step_positions
from fitscope.gui import export
from fitscope.gui.views.backprop_view import BackpropView
from fitscope.gui.views.boston_view import BostonView
from fitscope.gui.views.surface_view import SurfaceView
from fitscope.gui.worker import Unit

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Dialogs:
    def __init__(self) -> None:
        self.answers: list[tuple[str, str]] = []
        self.asked: list[tuple[str, str, str]] = []
        self.warnings: list[tuple[str, str]] = []

    def save(self, parent=None, caption="", start="", filters="", *args, **kwargs):
        self.asked.append((caption, start, filters))
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


def view_of(window, cls):
    return next(v for v in window.views if isinstance(v, cls))


def step(qtbot, view, unit, times=1):
    for _ in range(times):
        view.step(unit)
        qtbot.waitUntil(lambda: not view.controller.busy, timeout=30_000)
    view.redraw()


def valid_png(path) -> QImage:
    data = open(path, "rb").read()
    assert data[:8] == PNG_MAGIC
    image = QImage(str(path))
    assert not image.isNull() and image.width() > 100 and image.height() > 100
    return image


def valid_svg(path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    assert len(list(root.iter())) > 10  # it draws something
    return root


# --------------------------------------------------------------------------- pictures
def test_every_plot_of_every_view_exports_as_png_and_svg(qtbot, window, tmp_path):
    names = {}
    for i, view in enumerate(window.views):
        window.tabs.setCurrentIndex(i)
        qtbot.wait(50)
        plots = export.plots_of(view)
        names[type(view).__name__] = [name for name, _ in plots]
        assert plots, view.title
        for name, gv in plots:
            stem = tmp_path / f"{i}-{export.file_stem(name)}"
            export.export_picture(gv, f"{stem}.png")
            export.export_picture(gv, f"{stem}.svg")
            image = valid_png(f"{stem}.png")
            assert image.width() >= gv.width()  # twice the screen's pixels (whole plots, colour bar and all)
            valid_svg(f"{stem}.svg")
    assert names["SurfaceView"] == ["Loss surface", "Data and fitted line", "Loss curve"]
    assert "Loss slice over two parameters" in names["BostonView"]
    assert names["BackpropView"] == ["Computational graph"]
    assert [f for f in os.listdir(tmp_path) if f.endswith(".tmp")] == []


def test_an_export_to_an_unknown_format_is_refused(window, tmp_path):
    gv = export.plots_of(view_of(window, SurfaceView))[0][1]
    with pytest.raises(ExportError, match="png or .svg"):
        export.export_picture(gv, tmp_path / "x.gif")


def test_right_click_on_a_plot_offers_png_and_svg(qtbot, window, dialogs, tmp_path):
    view = view_of(window, SurfaceView)
    gv = view.loss_panel.widget
    qtbot.mouseClick(gv.viewport(), Qt.MouseButton.RightButton, pos=gv.viewport().rect().center())
    qtbot.waitUntil(lambda: isinstance(QApplication.activePopupWidget(), QMenu), timeout=3000)
    menu = QApplication.activePopupWidget()
    texts = [a.text().replace("&", "") for a in menu.actions() if not a.isSeparator()]
    assert texts == ["Loss curve", "Export as PNG…", "Export as SVG…", "Copy"]  # which plot, then what to do
    assert not menu.actions()[0].isEnabled()
    dialogs.answers = [(str(tmp_path / "curve"), "SVG drawing (*.svg)")]
    menu.actions()[3].trigger()
    menu.close()
    caption, start, filters = dialogs.asked[-1]
    assert caption == "Export Loss curve" and start.endswith("loss-curve.svg") and filters == "SVG drawing (*.svg)"
    valid_svg(tmp_path / "curve.svg")  # the suffix is added


def test_a_left_click_still_starts_there_and_a_right_drag_opens_no_menu(qtbot, window):
    view = view_of(window, SurfaceView)
    gv = view.surface.graphics
    pos = view.surface.widget_pos_of(0.5, 0.1)
    qtbot.mouseClick(gv.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert QApplication.activePopupWidget() is None
    assert view.model.history.current[0] == pytest.approx(0.5, abs=0.02)


def test_the_backprop_graph_has_the_menu_too(qtbot, window, dialogs, tmp_path):
    view = view_of(window, BackpropView)
    window.tabs.setCurrentWidget(view)
    gv = export.plots_of(view)[0][1]
    assert gv.contextMenuPolicy() == Qt.ContextMenuPolicy.CustomContextMenu
    gv.customContextMenuRequested.emit(QPoint(20, 20))
    qtbot.waitUntil(lambda: isinstance(QApplication.activePopupWidget(), QMenu), timeout=3000)
    menu = QApplication.activePopupWidget()
    assert menu.actions()[0].text() == "Computational graph"
    dialogs.answers = [(str(tmp_path / "graph.png"), "PNG image (*.png)")]
    menu.actions()[2].trigger()
    menu.close()
    valid_png(tmp_path / "graph.png")


def test_file_export_lists_the_current_views_plots_and_the_csvs(qtbot, window, dialogs, tmp_path):
    files = window.files
    files.fill_export_menu()
    texts = [a.text().replace("&", "") for a in files.export_menu.actions() if not a.isSeparator()]
    assert texts == ["Loss surface…", "Data and fitted line…", "Loss curve…", "History as CSV…", "Trajectory as CSV…",
                     "Report…", "Animation…"]
    assert all(a.isEnabled() for a in files.export_menu.actions())
    dialogs.answers = [(str(tmp_path / "surface.png"), "PNG image (*.png)")]
    files.export_menu.actions()[0].trigger()
    valid_png(tmp_path / "surface.png")
    # The backprop tab has its graph, and no run of its own to export as CSV.
    window.tabs.setCurrentWidget(view_of(window, BackpropView))
    files.fill_export_menu()
    actions = [a for a in files.export_menu.actions() if not a.isSeparator()]
    assert [a.text() for a in actions][0] == "Computational graph…"
    assert [a.isEnabled() for a in actions[1:]] == [False, False, False, False]


def test_an_unwritable_folder_gets_one_line_and_no_file(qtbot, window, dialogs, tmp_path):
    gv = view_of(window, SurfaceView).surface.graphics
    target = tmp_path / "gone" / "surface.png"
    dialogs.answers = [(str(target), "PNG image (*.png)")]
    assert export.ask_and_export_picture(gv, "Loss surface") is None
    title, text = dialogs.warnings[-1]
    assert title == "Export" and text.startswith(f"Cannot write {target}") and "\n" not in text
    assert not target.parent.exists()


def test_a_failed_export_leaves_the_old_file(qtbot, window, dialogs, tmp_path, monkeypatch):
    gv = view_of(window, SurfaceView).surface.graphics
    path = tmp_path / "out" / "surface.svg"
    path.parent.mkdir()
    path.write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    import fitscope.engine.export as engine_export

    def broken(*args):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(engine_export.os, "replace", broken)
    dialogs.answers = [(str(path), "SVG drawing (*.svg)")]
    assert export.ask_and_export_picture(gv, "Loss surface") is None
    assert "Input/output error" in dialogs.warnings[-1][1]
    assert path.read_text() == "<svg xmlns='http://www.w3.org/2000/svg'/>"
    assert os.listdir(path.parent) == ["surface.svg"]


def test_export_dialogs_start_in_the_last_folder(qtbot, window, dialogs, tmp_path):
    gv = view_of(window, SurfaceView).surface.graphics
    folder = tmp_path / "pictures"
    folder.mkdir()
    dialogs.answers = [(str(folder / "a.png"), "PNG image (*.png)")]
    export.ask_and_export_picture(gv, "Loss surface")
    export.ask_and_export_csv(view_of(window, SurfaceView), "history")  # cancelled
    assert os.path.dirname(dialogs.asked[-1][1]) == str(folder)


# --------------------------------------------------------------------------- CSV in the CLI's formats
def cli_files(tmp_path, *args) -> tuple[bytes, bytes]:
    history, trace = tmp_path / "cli-history.csv", tmp_path / "cli-trace.csv"
    assert cli_main(["fit", *args, "--quiet", "--history", str(history), "--trace", str(trace)]) == 0
    return history.read_bytes(), trace.read_bytes()


def app_files(view, tmp_path) -> tuple[bytes, bytes]:
    history, trace = tmp_path / "app-history.csv", tmp_path / "app-trace.csv"
    export.export_history_csv(view, history)
    export.export_trajectory_csv(view, trace)
    return history.read_bytes(), trace.read_bytes()


def test_surface_view_csvs_equal_the_clis(qtbot, window, tmp_path):
    view = view_of(window, SurfaceView)
    view.control("batch_size").setValue(4)
    view.control("learning_rate").setValue(0.005)
    k, b = view.model.settings.init
    step(qtbot, view, Unit.EPOCH, 3)
    s = view.model.settings
    cli = cli_files(tmp_path, "--data", "download-time", "--epochs", "3", "--batch-size", "4", "--lr", "0.005",
                    "--loss", s.loss, "--optimizer", s.optimizer, "--seed", str(s.seed), "--init", f"{k!r},{b!r}")
    assert app_files(view, tmp_path) == cli
    assert cli[1].splitlines()[0] == b"step,epoch,batch,loss,kernel,bias"


def test_boston_view_csvs_equal_the_clis(qtbot, window, tmp_path):
    view = view_of(window, BostonView)
    window.tabs.setCurrentWidget(view)
    view.control("epochs").setValue(2)
    view.commands["run"].trigger()
    qtbot.waitUntil(lambda: not view.controller.busy, timeout=60_000)
    s = view.model.settings
    assert s.validation_split > 0  # the history has val_loss values
    cli = cli_files(tmp_path, "--data", "boston-housing", "--epochs", "2")
    assert app_files(view, tmp_path) == cli
    assert cli[0].splitlines()[0] == b"epoch,loss,val_loss" and len(cli[0].splitlines()) == 3


def test_a_run_paused_mid_epoch_exports_the_steps_so_far(qtbot, window, tmp_path):
    view = view_of(window, SurfaceView)
    view.control("batch_size").setValue(3)
    step(qtbot, view, Unit.EPOCH)
    step(qtbot, view, Unit.BATCH, 2)
    _, trace = app_files(view, tmp_path)
    rows = [line.split(b",") for line in trace.splitlines()[1:]]
    per_epoch = -(-len(view.model.experiment.y) // 3)
    assert len(rows) == per_epoch + 3
    assert [(r[1], r[2]) for r in rows[-2:]] == [(b"2", b"0"), (b"2", b"1")]


def test_step_positions():
    epoch, batch = step_positions(7, [3, 6])
    assert epoch.tolist() == [1, 1, 1, 2, 2, 2, 3]
    assert batch.tolist() == [0, 1, 2, 0, 1, 2, 0]


def test_file_names_of_plots():
    assert export.file_stem("Loss surface with each racer's trajectory") == "loss-surface-with-each-racers-trajectory"
    assert export.file_stem("Data and fitted line") == "data-and-fitted-line"
    assert export.file_stem("∂/∂") == "plot"
