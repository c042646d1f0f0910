"""Pictures of the plots (PNG, SVG) and the run's numbers (CSV): for the plots' context menu and File > Export.

- Every pyqtgraph plot gets a right-click menu (:func:`install_plot_menu`, called by
  :func:`gui.panels.plotting.quiet_plot`, since that turns pyqtgraph's own menu off); a plain
  ``QGraphicsView`` (the backpropagation graph) gets the same menu through :func:`install_view_menus`.
- :func:`plots_of` finds a view's plots and names them (for File > Export); :func:`export_picture` writes one
  as PNG (twice the screen's resolution) or SVG, through pyqtgraph's exporters, atomically. A picture carries
  a title that describes it (:func:`picture_titles`): the plot's title without what to click on screen, and
  the data and step it shows.
- :func:`export_history_csv` and :func:`export_trajectory_csv` write a view's run in the CLI's formats
  (:mod:`engine.export`).

Errors (an unwritable folder, say) are shown in a one-line dialog; nothing is ever half-written.
"""

from __future__ import annotations

import html
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pyqtgraph as pg
import pyqtgraph.exporters  # noqa: F401 (registers pg.exporters)
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPoint, QRectF, QSize, Qt
from PySide6.QtGui import QAction, QFont, QFontMetricsF, QImage, QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QFileDialog, QGraphicsView, QMenu, QMessageBox, QWidget

from fitscope.engine.data import BUILTIN
from fitscope.engine.export import ExportError, atomic_write, write_history, write_trace
from fitscope.engine.run import FitRun
from fitscope.gui import prefs

FORMATS = {"png": "PNG image (*.png)", "svg": "SVG drawing (*.svg)"}
#: What a title says about clicking on screen (" — click to start there"): a picture leaves it out.
_CLICK_HINT = re.compile(r"\s*[—–-]\s*click\b[^<]*", re.IGNORECASE)
_DATA_NAMES = {"download-time": "download-time data", "boston-housing": "Boston Housing"}


#: What a Save dialog for a CSV file offers.
CSV_FILTER = "CSV file (*.csv);;All files (*)"

def data_name(dataset) -> str:
    """The data set as a picture's title names it ("download-time data", or a file's name)."""
    return _DATA_NAMES.get(dataset.source, dataset.name)
SCALE = 2  # a PNG has twice the plot's size on screen, in pixels: sharp when printed or on a HiDPI screen
_MENU_PROPERTY = "fitscopeExportMenu"


def install_patches() -> None:
    """Fixes to pyqtgraph the exports need; applied once, when the main window is made (idempotent)."""
    _patch_svg_exporter()


def _patch_svg_exporter() -> None:
    """Let pyqtgraph's SVG exporter read the paths of recent Qt versions.

    Qt 6's SVG generator ends a closed path with a bare ``Z``; pyqtgraph 0.14's ``correctCoordinates``
    expects every token of a path to be ``[command]x,y`` and fails on it (pyqtgraph issue #3485). Each ``Z``
    is given a dummy point for the exporter to transform, and stripped of it again afterwards.
    """
    module = sys.modules.get("pyqtgraph.exporters.SVGExporter")
    original = getattr(module, "correctCoordinates", None)
    if original is None or getattr(original, "_fitscope", False):
        return

    def paths(node):
        return node.getElementsByTagName("path")

    def correct(node, defs, item, options):
        for path in paths(node):
            d = path.getAttribute("d")
            if "Z" in d or "z" in d:
                path.setAttribute("d", re.sub(r"(?<!\S)([Zz])(?!\S)", r"\g<1>0,0", d))
        try:
            return original(node, defs, item, options)
        finally:
            for path in paths(node):
                d = path.getAttribute("d")
                if "Z" in d or "z" in d:
                    path.setAttribute("d", re.sub(r"(?<!\S)([Zz])\S*", r"\1", d))

    correct._fitscope = True
    module.correctCoordinates = correct



# --------------------------------------------------------------------------- finding and naming plots
def plot_name(view: QGraphicsView, top: QWidget | None = None) -> str:
    """What the user calls this plot: the accessible name of it or of its nearest named parent below ``top``."""
    w: QWidget | None = view
    while w is not None and w is not top:
        if w.accessibleName():
            return w.accessibleName()
        w = w.parentWidget()
    return "Plot"


def plots_of(view: QWidget) -> list[tuple[str, QGraphicsView]]:
    """The plots in ``view`` (each pyqtgraph or plain graphics view), with a distinct name each; in reading
    order of the layout, column by column."""
    out: list[tuple[str, QGraphicsView]] = []
    seen: dict[str, int] = {}
    found = view.findChildren(QGraphicsView)
    corners = {id(gv): gv.mapTo(view, QPoint(0, 0)) for gv in found}
    for gv in sorted(found, key=lambda gv: (corners[id(gv)].x(), corners[id(gv)].y())):
        name = plot_name(gv, view)
        seen[name] = seen.get(name, 0) + 1
        out.append((name if seen[name] == 1 else f"{name} ({seen[name]})", gv))
    return out


def file_stem(name: str) -> str:
    """A file name for a plot called ``name``: ``"Each racer's loss"`` → ``"each-racers-loss"``."""
    stem = re.sub(r"[^a-z0-9]+", "-", re.sub(r"['’]", "", name.lower())).strip("-")
    return stem[:60] or "plot"


# --------------------------------------------------------------------------- pictures
def picture_context(view: QWidget) -> str:
    """What a picture of a plot of ``view``'s tab shows: its data and how far training has gone
    (``"download-time data, after step 31"``), or "" for a tab without a run."""
    w: QWidget | None = view
    while w is not None and getattr(w, "model", None) is None:
        w = w.parentWidget()
    model = getattr(w, "model", None)
    dataset = getattr(model, "dataset", None)
    if dataset is None:
        return ""
    name = data_name(dataset)
    history = getattr(model, "history", None)
    steps = getattr(history, "steps", None) if history is not None else getattr(model, "steps", None)
    if isinstance(steps, int):
        return f"{name}, after step {steps:,}" if steps else f"{name}, at the start"
    return name


def picture_title(title: str) -> str:
    """A plot's title (rich text) as a picture carries it: without what to click on screen."""
    return _CLICK_HINT.sub("", title).strip()


def picture_titles(view: QGraphicsView) -> dict[str, str]:
    """The title each plot in ``view``'s scene carries in a picture, by its title on screen (for tests)."""
    with _titled(view) as titles:
        return titles


@contextmanager
def _titled(view: QGraphicsView) -> Iterator[dict[str, str]]:
    """While exporting: every plot in ``view``'s scene titled as a picture should be, then as it was."""
    scene = view.scene()
    plots = [item for item in scene.items() if isinstance(item, pg.PlotItem)
             and not isinstance(item, pg.ColorBarItem) and item.isVisible()]
    context = picture_context(view)
    saved, titles = [], {}
    for plot in plots:
        label = plot.titleLabel
        shown = label.isVisible()
        old = label.text if shown else ""
        fitted = getattr(plot, "_fitscope_title", None)  # a title broken in two on screen: its whole text
        whole = fitted.title if fitted is not None and shown else old
        new = picture_title(whole) if shown else ""
        if len(re.sub(r"<[^>]+>", " ", new).split()) < 2:  # no title, or one word ("Loss"): the plot's name
            new = html.escape(plot_name(view))
        if context:
            new += f"<br><span style='font-size: 8pt'>{html.escape(context)}</span>"
        titles[old] = new
        saved.append((plot, shown, old, dict(label.opts), label.minimumWidth()))
        plot.setTitle(new, **({} if shown else {"size": "10pt"}))
        label.setMinimumWidth(0)  # a long title must not widen the plot in the picture
        height = label.item.boundingRect().height()
        label.setMaximumHeight(height)
        plot.layout.setRowFixedHeight(0, height)
        plot.layout.activate()
    try:
        yield titles
    finally:
        for plot, shown, old, opts, minimum in saved:
            if shown:
                plot.setTitle(old, **opts)
                plot.titleLabel.setMinimumWidth(minimum)
            else:
                plot.setTitle(None)
            plot.layout.activate()


def picture_bytes(view: QGraphicsView, fmt: str) -> bytes:
    """The plot shown by ``view`` as a PNG or SVG file's bytes (everything in its scene: plot, colour bar…),
    titled as :func:`picture_titles` says."""
    scene = view.scene()
    if isinstance(scene, pg.GraphicsScene):
        with _titled(view):
            if fmt == "svg":
                return bytes(pg.exporters.SVGExporter(scene).export(toBytes=True))
            exporter = pg.exporters.ImageExporter(scene)
            exporter.parameters()["width"] = max(1, int(exporter.parameters()["width"] * SCALE))
            return _png(exporter.export(toBytes=True))
    # A plain QGraphicsView: render what it shows, under a title band.
    title = plot_name(view)
    context = picture_context(view)
    font = QFont(view.font())
    font.setPointSizeF(max(font.pointSizeF(), 10.0))
    band = int(QFontMetricsF(font).height() * 1.8)
    source = view.mapToScene(view.viewport().rect()).boundingRect()
    shown = view.viewport().size()
    size = QSize(shown.width(), shown.height() + band)
    if fmt == "svg":
        buffer = QBuffer()
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        generator = QSvgGenerator()
        generator.setOutputDevice(buffer)
        generator.setSize(size)
        generator.setViewBox(QRectF(0, 0, size.width(), size.height()))
        generator.setTitle(plot_name(view))
        painter = QPainter(generator)
        painter.fillRect(QRectF(0, 0, size.width(), size.height()), Qt.GlobalColor.white)
        painter.fillRect(QRectF(0, band, shown.width(), shown.height()), view.backgroundBrush())
        _draw_title(painter, font, QRectF(0, 0, size.width(), band), title, context)
        view.scene().render(painter, QRectF(0, band, shown.width(), shown.height()), source)
        painter.end()
        return bytes(buffer.data())
    image = QImage(QSize(size.width() * SCALE, size.height() * SCALE), QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.white)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    painter.scale(SCALE, SCALE)
    _draw_title(painter, font, QRectF(0, 0, size.width(), band), title, context)
    view.scene().render(painter, QRectF(0, band, shown.width(), shown.height()), source)
    painter.end()
    return _png(image)


def _draw_title(painter: QPainter, font: QFont, rect: QRectF, title: str, context: str) -> None:
    painter.save()
    painter.setFont(font)
    painter.setPen(Qt.GlobalColor.black)
    text = f"{title} — {context}" if context else title
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
    painter.restore()


def _png(image: QImage) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise ExportError("cannot make the PNG image")
    buffer.close()
    return bytes(data)


def export_picture(view: QGraphicsView, path: str | os.PathLike[str], fmt: str | None = None) -> None:
    """Write the plot as ``fmt`` ("png" or "svg"; default: from the file's extension), atomically."""
    fmt = fmt or os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    if fmt not in FORMATS:
        raise ExportError(f"cannot write {os.fspath(path)}: choose a .png or .svg file")
    atomic_write(path, picture_bytes(view, fmt))


def sentence(text: object, capital: bool = False) -> str:
    """``text`` as a one-line message ending in one full stop; ``capital``: with a capital first letter (for
    the engine's "cannot write …", which the CLI prints after "error: ")."""
    text = " ".join(str(text).split()).rstrip(".")
    return (text[:1].upper() + text[1:] if capital else text) + "."


def ask_save_path(parent: QWidget, caption: str, file_name: str, filters: str, suffix: str) -> str | None:
    """A Save dialog opened in the folder last used, suggesting ``file_name``; the path chosen, completed with
    ``suffix`` (asking before that replaces a file: :func:`~fitscope.gui.prefs.completed_save_path`). None if the
    user gave up."""
    path, _ = QFileDialog.getSaveFileName(parent, caption, prefs.suggested_path(file_name), filters)
    if not path:
        return None
    prefs.remember_folder(path)
    return prefs.completed_save_path(parent, path, suffix)


def written(parent: QWidget, write: Callable[[], object], title: str = "Export") -> bool:
    """Call ``write``; a file it cannot write is said in one line in a warning titled ``title``. True if written."""
    try:
        write()
    except (ExportError, OSError) as e:
        QMessageBox.warning(parent, title, sentence(e, capital=True))
        return False
    return True


def ask_and_export_picture(view: QGraphicsView, name: str | None = None, fmt: str | None = None) -> str | None:
    """A Save dialog for one plot (as ``fmt``, or PNG or SVG as the user picks); write it. The path, or None."""
    parent = view.window()
    name = name or plot_name(view)
    formats = [fmt] if fmt else list(FORMATS)
    path, chosen = QFileDialog.getSaveFileName(
        parent, f"Export {name}", prefs.suggested_path(f"{file_stem(name)}.{formats[0]}"),
        ";;".join(FORMATS[f] for f in formats))
    if not path:
        return None
    prefs.remember_folder(path)
    picked = next((f for f in formats if FORMATS[f] == chosen), formats[0])
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    path = prefs.completed_save_path(parent, path, f".{picked}")
    if path is None:
        return None
    try:
        export_picture(path=path, view=view, fmt=ext if ext in formats else picked)
    except ExportError as e:
        QMessageBox.warning(parent, "Export", sentence(e, capital=True))
        return None
    return path


# --------------------------------------------------------------------------- the context menu
def export_menu(view: QGraphicsView, parent: QWidget | None = None) -> QMenu:
    """The menu of one plot: Export as PNG…, Export as SVG…, Copy."""
    menu = QMenu(parent or view)
    menu.setObjectName("plotExportMenu")
    menu.setToolTipsVisible(True)
    title = menu.addAction(plot_name(view))  # which plot: the one under the pointer
    title.setEnabled(False)
    menu.addSeparator()
    for fmt, text in (("png", "Export as &PNG…"), ("svg", "Export as &SVG…")):
        action = QAction(text, menu)
        action.triggered.connect(lambda _=False, fmt=fmt: ask_and_export_picture(view, fmt=fmt))
        menu.addAction(action)
    from fitscope.gui import share  # it builds on this module

    menu.addSeparator()
    copy = QAction("&Copy", menu)
    copy.setShortcut(share.copy_keys())
    copy.setStatusTip("Put this plot on the clipboard as a picture (as Export as PNG draws it)")
    copy.triggered.connect(lambda _=False: share.copy_picture(view))
    menu.addAction(copy)
    return menu


def _popup(view: QGraphicsView, global_pos: QPoint) -> QMenu:
    menu = export_menu(view)
    menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    menu.popup(global_pos)
    return menu


def install_plot_menu(plot: pg.PlotItem) -> None:
    """A right click (not a drag: that zooms) anywhere on ``plot``'s scene opens the export menu."""
    scene = plot.scene()
    if scene is None or scene.property(_MENU_PROPERTY):
        return
    scene.setProperty(_MENU_PROPERTY, True)

    def clicked(event) -> None:
        if event.button() != Qt.MouseButton.RightButton or event.isAccepted() or not scene.views():
            return
        event.accept()
        _popup(scene.views()[0], event.screenPos().toPoint())

    scene.sigMouseClicked.connect(clicked)


def install_view_menus(top: QWidget) -> None:
    """The export menu on every plain ``QGraphicsView`` under ``top`` (pyqtgraph's get theirs from quiet_plot)."""
    for gv in top.findChildren(QGraphicsView):
        if isinstance(gv, pg.GraphicsView) or gv.property(_MENU_PROPERTY):
            continue
        gv.setProperty(_MENU_PROPERTY, True)
        gv.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        gv.customContextMenuRequested.connect(
            lambda pos, gv=gv: _popup(gv, gv.viewport().mapToGlobal(pos)))


# --------------------------------------------------------------------------- the run's numbers
def run_of(view: QWidget) -> FitRun | None:
    """The run of a tab that trains one model (the surface and multi-feature tabs), or None."""
    model = getattr(view, "model", None)
    return model if isinstance(model, FitRun) else None


def export_history_csv(view: QWidget, path: str | os.PathLike[str]) -> None:
    """``epoch,loss,val_loss``: as ``fitscope fit --history``."""
    run = run_of(view)
    write_history(path, run.history.epochs, run.experiment.X_val is not None, inputs=data_files(run))


def export_trajectory_csv(view: QWidget, path: str | os.PathLike[str]) -> None:
    """``step,epoch,batch,loss,<parameters>``: as ``fitscope fit --trace``."""
    run = run_of(view)
    h = run.history
    write_trace(path, run.experiment.param_names, h.params, h.batch_loss, h.epoch_steps, param_steps=h.param_steps,
                loss_steps=h.loss_steps, inputs=data_files(run))


def data_files(run: FitRun) -> list[str]:
    """The files a run reads (a user's CSV): no export may overwrite them."""
    return [] if run.dataset.source in BUILTIN else [run.dataset.source]


def ask_and_export_csv(view: QWidget, what: str) -> str | None:
    """A Save dialog for the history (``what="history"``) or trajectory (``"trajectory"``) CSV; write it."""
    if run_of(view) is None:
        return None
    parent = view.window()
    stem = f"{file_stem(getattr(view, 'title', '') or 'fitscope')}-{what}"
    path = ask_save_path(parent, f"Export the {what} as CSV", f"{stem}.csv", CSV_FILTER, ".csv")
    write = export_history_csv if what == "history" else export_trajectory_csv
    return path if path is not None and written(parent, lambda: write(view, path)) else None
