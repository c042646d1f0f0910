"""Sharing a run: a plot on the clipboard (Copy, Ctrl+C) and a run report (File > Export > Report…).

- :func:`copy_picture` puts a plot on the clipboard as an image: the same picture as *Export as PNG*
  (:func:`gui.export.picture_bytes`: twice the screen's resolution, titled). Every plot's right-click menu has
  *Copy*, and Ctrl+C copies the plot that has the keyboard focus (:func:`install_copy`).
- :func:`ask_and_export_report` writes the current tab's run as one self-contained HTML file
  (:func:`engine.report.run_report`) with the tab's plots embedded as PNG pictures.

Errors are shown in a one-line dialog; nothing is ever half-written.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QKeySequence, QShortcut
from PySide6.QtWidgets import QGraphicsView, QMessageBox, QWidget

from fitscope.engine.export import ExportError, atomic_write
from fitscope.engine.report import Picture, run_report
from fitscope.gui import export

_COPY_PROPERTY = "fitscopeCopyShortcut"


def copy_keys() -> QKeySequence:
    """The platform's Copy keys (Ctrl+C here); made when asked, as a QKeySequence needs the application."""
    return QKeySequence(QKeySequence.StandardKey.Copy)


# --------------------------------------------------------------------------- Copy
def copy_picture(view: QGraphicsView) -> QImage:
    """Put the plot shown by ``view`` on the clipboard as an image; return the image."""
    image = QImage.fromData(export.picture_bytes(view, "png"), "PNG")
    # An image, which the clipboard offers as PNG too. (A QMimeData made here was freed twice at exit: the
    # clipboard owns what it is given, and so did its Python wrapper.)
    QGuiApplication.clipboard().setImage(image)
    window = view.window()
    status = getattr(window, "statusBar", None)
    if callable(status):
        status().showMessage(f"Copied the plot '{export.plot_name(view)}' as a picture", 4000)
    return image


def install_copy(top: QWidget) -> None:
    """Ctrl+C (the platform's Copy keys) on a focused plot under ``top`` copies it (idempotent)."""
    for gv in top.findChildren(QGraphicsView):
        if gv.property(_COPY_PROPERTY):
            continue
        gv.setProperty(_COPY_PROPERTY, True)
        shortcut = QShortcut(copy_keys(), gv)
        shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        shortcut.activated.connect(lambda gv=gv: _copy_quietly(gv))


def _copy_quietly(view: QGraphicsView) -> None:
    try:
        copy_picture(view)
    except ExportError as e:
        QMessageBox.warning(view.window(), "Copy", export.sentence(e, capital=True))


# --------------------------------------------------------------------------- the run report
def tab_pictures(view: QWidget) -> list[Picture]:
    """The plots of ``view``'s tab as PNG pictures (named as File > Export names them)."""
    return [Picture(name, export.picture_bytes(gv, "png")) for name, gv in export.plots_of(view)]


def export_report(view: QWidget, path: str | os.PathLike[str]) -> None:
    """Write the report of ``view``'s run (a tab with one run: :func:`gui.export.run_of`) to ``path``,
    atomically; :class:`ExportError` if it cannot be written."""
    run = export.run_of(view)
    if run is None:
        raise ExportError("this tab has no single run to report")
    text = run_report(run, pictures=tab_pictures(view), title=getattr(view, "title", ""))
    atomic_write(path, text, inputs=export.data_files(run))


def ask_and_export_report(view: QWidget) -> str | None:
    """A Save dialog for the report of ``view``'s run; write it. The path, or None."""
    if export.run_of(view) is None:
        return None
    parent = view.window()
    stem = f"{export.file_stem(getattr(view, 'title', '') or 'fitscope')}-report"
    path = export.ask_save_path(parent, "Export a report of the run", f"{stem}.html",
                                "HTML file (*.html *.htm);;All files (*)", ".html")
    if path is None:
        return None
    with paused(view):
        return path if export.written(parent, lambda: export_report(view, path)) else None


@contextmanager
def paused(view: QWidget) -> Iterator[None]:
    """While in the block: ``view``'s training paused (the history stands still), then going on if it was."""
    controller = getattr(view, "controller", None)
    running = controller is not None and controller.running
    if controller is not None:
        view.pause(wait=True)
    try:
        yield
    finally:
        if running and not controller.running:
            view.toggle_run()
