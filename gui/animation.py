"""File > Export > Animation…: an animated GIF of the loss-surface tab's run, drawn from its recorded history.

- :class:`AnimationDialog` asks for the first and last step, the frames per second, the number of frames and
  the size in pixels.
- :class:`SurfaceFrames` draws one frame: a loss-surface panel of its own (never the one on screen), off
  screen, at the size asked for, with the path up to that step, under a band with the step number and
  training loss in the top-left corner (:func:`frame_label`) and the title. Nothing is trained again: the
  parameters are the history's (``params`` at the kept steps ``param_steps``).
- :class:`AnimationExport` renders the frames on the GUI thread, a few at a time from a timer (pyqtgraph draws
  only there), with a progress dialog that stays responsive and a Cancel button; it then encodes the GIF
  with Pillow in a background thread and writes it atomically. A cancelled or failed export writes nothing;
  a failure is one line in a dialog.
"""

from __future__ import annotations

import io
import math
import os
import threading
import time
from dataclasses import dataclass

import numpy as np
from PIL import Image
from PySide6.QtCore import QCoreApplication, QEvent, QObject, QRectF, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPen
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressDialog,
    QSpinBox,
    QWidget,
)

from fitscope.engine.export import ExportError, atomic_write
from fitscope.gui import activity, export, prefs
from fitscope.gui.panels.surface import SurfacePanel

GRID = 200  # the map's points per axis, as the tab draws it
TITLE = "Training loss over (kernel, bias)"
MAX_FRAMES = 1000
#: The most pixels of all frames together (each is kept, with one byte a pixel, until the GIF is encoded).
MAX_PIXELS = 400_000_000
SIZE_RANGE = ((160, 1920), (120, 1200))  # width, height in pixels
FRAMES_PER_SLICE_SECONDS = 0.05  # render frames for at most this long between two turns of the event loop


@dataclass(frozen=True)
class AnimationSpec:
    """What an animation shows: steps ``first`` to ``last`` in ``frames`` frames at ``fps`` frames per second,
    ``width`` × ``height`` pixels."""

    first: int
    last: int
    fps: int
    frames: int
    width: int
    height: int


def can_animate(view: QWidget) -> bool:
    """Whether ``view`` is a tab this module animates (the loss surface: one kernel and one bias)."""
    model = getattr(view, "model", None)
    return model is not None and hasattr(model, "surface") and hasattr(model, "home_window")


def kept_steps(run, first: int, last: int) -> np.ndarray:
    """The steps from ``first`` to ``last`` whose parameters the history kept."""
    steps = run.history.param_steps
    return steps[(steps >= first) & (steps <= last)]


def most_frames(width: int, height: int) -> int:
    """The most frames of ``width`` × ``height`` pixels an animation may hold."""
    return max(1, min(MAX_FRAMES, MAX_PIXELS // max(1, width * height)))


def frame_steps(run, spec: AnimationSpec) -> np.ndarray:
    """The step each frame shows: ``spec.frames`` distinct kept steps, evenly spaced from the first to the last
    (a long run keeps some steps only). :class:`ValueError` if there are fewer kept steps than frames, or more
    frames than :func:`most_frames` allows."""
    if spec.frames > most_frames(spec.width, spec.height):
        raise ValueError(f"at {spec.width} × {spec.height} pixels an animation holds at most "
                         f"{most_frames(spec.width, spec.height):,} frames")
    steps = kept_steps(run, spec.first, spec.last)
    if spec.frames < 1 or len(steps) < spec.frames:
        raise ValueError(f"steps {spec.first:,} to {spec.last:,} hold {len(steps):,} recorded steps: choose at most "
                         f"that many frames")
    if spec.frames == 1:
        return steps[-1:]
    return steps[np.round(np.linspace(0, len(steps) - 1, spec.frames)).astype(int)]


def frame_label(run, step: int) -> str:
    """The corner label of the frame of ``step``: ``"step 12 · training loss 0.837877"``."""
    row = run.history.row_of(step)
    loss = run.experiment.loss_at(run.history.params[row], "train")
    return f"step {step:,} · training loss {loss:.6g}" if math.isfinite(loss) else f"step {step:,} · diverged"


def label_font(height: int) -> QFont:
    """The corner label's font for frames ``height`` pixels high."""
    font = QFont()
    font.setPixelSize(max(11, round(height / 34)))
    font.setBold(True)
    return font


def label_rect(text: str, height: int) -> QRectF:
    """Where the corner label of ``text`` is drawn in a frame ``height`` pixels high (box and all)."""
    metrics = QFontMetricsF(label_font(height))
    pad = metrics.height() * 0.35
    margin = max(4.0, height / 80)
    return QRectF(margin, margin, metrics.horizontalAdvance(text) + 2 * pad, metrics.height() + 2 * pad)


def band_height(height: int) -> int:
    """The height of the band above the map, in a frame ``height`` pixels high: the label and the title."""
    rect = label_rect("step 0", height)
    return math.ceil(rect.bottom() + rect.top())


def draw_label(image: QImage, text: str, title: str = "") -> None:
    """Draw ``text`` in a white box with a thin frame in ``image``'s top-left corner, and ``title`` after it."""
    rect = label_rect(text, image.height())
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    painter.setPen(QPen(QColor("#555555"), 1))
    painter.setBrush(QColor(255, 255, 255))
    painter.drawRoundedRect(rect, 4, 4)
    font = label_font(image.height())
    painter.setFont(font)
    painter.setPen(QColor("#111111"))
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
    if title:
        font.setBold(False)
        font.setPixelSize(max(10, round(font.pixelSize() * 0.8)))
        painter.setFont(font)
        painter.setPen(QColor("#444444"))
        room = QRectF(rect.right() + 2 * rect.left(), rect.top(), image.width() - rect.right() - 3 * rect.left(),
                      rect.height())
        metrics = QFontMetricsF(font)
        if metrics.horizontalAdvance(title) > room.width() and ", " in title:
            title = title.rsplit(", ", 1)[0]  # without the data's name, rather than cut
        shown = metrics.elidedText(title, Qt.TextElideMode.ElideRight, room.width())
        painter.drawText(room, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, shown)
    painter.end()


def to_pil(image: QImage) -> Image.Image:
    """A Qt image as a Pillow RGB image (the bytes copied)."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    return Image.frombuffer("RGB", (rgb.width(), rgb.height()), bytes(rgb.constBits()), "raw", "RGB",
                            rgb.bytesPerLine(), 1).copy()


class SurfaceFrames:
    """Frames of a loss-surface run (:class:`~fitscope.gui.models.surface.SurfaceRun`) at ``width`` × ``height``:
    a map framed on the whole path, drawn once; each frame adds the path up to its step."""

    def __init__(self, run, width: int, height: int) -> None:
        self.run = run
        self.width, self.height = width, height
        self.band = band_height(height)  # above the map: the step, the loss and the title
        self.panel = SurfacePanel("kernel", "bias")
        self.panel.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen)
        self.panel.resize(width, height - self.band)
        self.panel.show()
        self.panel.plot.setTitle(None)
        # Smaller than the plot, its axes and its colour bar can be laid out: drawn larger, then scaled down.
        least = self.panel.graphics.ci.effectiveSizeHint(Qt.SizeHint.MinimumSize)
        scale = max(1.0, least.width() / width, least.height() / (height - self.band))
        if scale > 1:
            self.panel.resize(math.ceil(width * scale), math.ceil((height - self.band) * scale))
        k_lo, k_hi, b_lo, b_hi = run.home_window()
        a, b = np.linspace(k_lo, k_hi, GRID), np.linspace(b_lo, b_hi, GRID)
        grid, note = run.surface(a, b)
        self.title = TITLE if note is None else f"Training MAE over (kernel, bias), {note}"
        self.title += f", {export.data_name(run.dataset)}"
        self.panel.set_range(k_lo, k_hi, b_lo, b_hi)
        self.panel.set_surface(a, b, grid)
        self.panel.set_optimum(*run.optimum(a, b, grid))
        self._epoch_rows = run.history.epoch_rows()

    def render(self, step: int) -> QImage:
        """The frame of ``step`` (a kept step), ``width`` × ``height`` pixels, with its corner label."""
        h = self.run.history
        row = h.row_of(step)
        params = h.params[: row + 1]
        ends = self._epoch_rows[self._epoch_rows <= row]
        self.panel.set_trajectory(params[:, 0], params[:, 1], ends)
        self.panel.set_step(None, None, None)
        QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)  # the layout fitted to the panel now
        image = QImage(self.width, self.height, QImage.Format.Format_RGB32)
        image.fill(Qt.GlobalColor.white)
        painter = QPainter(image)
        map_rect = QRectF(0, self.band, self.width, self.height - self.band)
        shot = self.panel.grab()  # the device's pixels (twice as many on a HiDPI screen): scaled into place
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawPixmap(map_rect, shot, QRectF(shot.rect()))
        painter.end()
        draw_label(image, frame_label(self.run, step), self.title)
        return image

    def close(self) -> None:
        self.panel.hide()
        self.panel.deleteLater()


def encode_gif(frames: list[Image.Image], fps: int) -> bytes:
    """The frames (palette images) as an animated GIF that loops, at ``fps`` frames per second."""
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=max(20, round(1000 / fps)),
                   loop=0, optimize=False)
    return buffer.getvalue()


def quantized(image: Image.Image, palette: Image.Image | None) -> Image.Image:
    """``image`` with 256 colours at most: its own palette (the first frame), or ``palette`` (the others, so
    that colours do not flicker from frame to frame)."""
    if palette is None:
        return image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    return image.quantize(palette=palette, dither=Image.Dither.NONE)


# --------------------------------------------------------------------------- the export
class AnimationExport(QObject):
    """One export of ``spec`` from ``run`` to ``path``: frames from a timer, then the GIF encoded in a thread.

    Signals: ``frameDone(int)`` after each frame drawn (how many are); ``finished(bool)`` — True when the file
    is written, False when cancelled or failed (then :attr:`error` holds the one-line message, "" for a
    cancel). Nothing is written unless it succeeds.
    """

    finished = Signal(bool)
    frameDone = Signal(int)  # how many frames are drawn
    _encoded = Signal()

    def __init__(self, run, spec: AnimationSpec, path: str | os.PathLike[str], parent: QWidget | None = None,
                 inputs: list[str] | None = None) -> None:
        super().__init__(parent)
        self.run, self.spec, self.path = run, spec, os.fspath(path)
        self.inputs = inputs or []
        self.error = ""
        self.done = False
        self.steps = frame_steps(run, spec)
        self.frames: list[Image.Image] = []
        self._palette: Image.Image | None = None
        self._cancelled = False
        self._thread: threading.Thread | None = None
        self._result: bytes | BaseException | None = None
        self.progress = QProgressDialog("Drawing the frames…", "Cancel", 0, spec.frames + 1, parent)
        self.progress.setWindowTitle("Export animation")
        self.progress.setWindowModality(Qt.WindowModality.WindowModal)
        self.progress.setMinimumDuration(0)
        self.progress.setAutoClose(False)
        self.progress.setAutoReset(False)
        self.progress.canceled.connect(self.cancel)
        self._timer = QTimer(self, interval=0)
        self._timer.timeout.connect(self._slice)
        self._encoded.connect(self._write)
        self._painter: SurfaceFrames | None = None

    def start(self) -> None:
        """Begin (returns at once; ``finished`` tells the end)."""
        self.progress.setValue(0)
        try:
            self._painter = SurfaceFrames(self.run, self.spec.width, self.spec.height)
        except Exception as e:  # noqa: BLE001 (a map that cannot be drawn: one line, nothing written)
            self._fail(f"cannot draw the frames: {e}")
            return
        self._timer.start()

    @Slot()
    def cancel(self) -> None:
        """Stop; nothing is written (a GIF being encoded is thrown away)."""
        if self.done:
            return
        self._cancelled = True
        self._end(False)

    @Slot()
    def _slice(self) -> None:
        """Render frames for a short while, then give the event loop its turn."""
        start = time.perf_counter()
        try:
            while len(self.frames) < len(self.steps) and time.perf_counter() - start < FRAMES_PER_SLICE_SECONDS:
                image = to_pil(self._painter.render(int(self.steps[len(self.frames)])))
                frame = quantized(image, self._palette)
                if self._palette is None:
                    self._palette = frame
                self.frames.append(frame)
                self.frameDone.emit(len(self.frames))
                if self.done:  # cancelled by a slot of frameDone
                    return
        except Exception as e:  # noqa: BLE001 (drawing failed: one line, nothing written)
            self._fail(f"cannot draw frame {len(self.frames) + 1}: {e}")
            return
        self.progress.setValue(len(self.frames))
        self.progress.setLabelText(f"Drawing frame {len(self.frames):,} of {len(self.steps):,}…")
        if len(self.frames) < len(self.steps):
            return
        self._timer.stop()
        self.progress.setLabelText("Encoding the GIF…")
        activity.install()
        self._thread = threading.Thread(target=self._encode, name="gif-encoder", daemon=True)
        self._thread.start()

    def _encode(self) -> None:
        """In the background thread: Pillow only, no Qt object but the signal that says it is done."""
        try:
            self._result = encode_gif(self.frames, self.spec.fps)
        except Exception as e:  # noqa: BLE001 (handed to the GUI thread)
            self._result = e
        self._encoded.emit()

    @Slot()
    def _write(self) -> None:
        if self._thread is not None:
            self._thread.join()
        if self._cancelled or self.done:
            return
        result = self._result
        if isinstance(result, BaseException):
            self._fail(f"cannot encode the GIF: {result}")
            return
        try:
            atomic_write(self.path, result, inputs=self.inputs)
        except ExportError as e:
            self._fail(str(e))
            return
        self.progress.setValue(self.spec.frames + 1)
        self._end(True)

    def _fail(self, message: str) -> None:
        self.error = export.sentence(message, capital=True)
        self._end(False)

    def _end(self, ok: bool) -> None:
        self.done = True
        self._timer.stop()
        self.frames = []
        if self._painter is not None:
            self._painter.close()
            self._painter = None
        self.progress.canceled.disconnect(self.cancel)
        self.progress.close()
        self.progress.deleteLater()
        self.finished.emit(ok)

    def wait_encoder(self) -> None:
        """Wait for the encoding thread, if one runs (at shutdown)."""
        if self._thread is not None:
            self._thread.join()


# --------------------------------------------------------------------------- the dialog
class AnimationDialog(QDialog):
    """First and last step, frames per second, number of frames, size: the fields of an :class:`AnimationSpec`."""

    def __init__(self, run, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run = run
        self.setWindowTitle("Export animation")
        self.setObjectName("animationDialog")
        steps = int(run.history.steps)
        self.first = self._spin("firstStep", 0, steps, 0, "The step the animation starts at")
        self.last = self._spin("lastStep", 0, steps, steps, "The step the animation ends at")
        self.fps = self._spin("framesPerSecond", 1, 50, 10, "How fast it plays")
        self.frames = self._spin("frameCount", 1, MAX_FRAMES, 100, "How many pictures it holds (at most the "
                                 "steps recorded between the first and the last)")
        self.width_box = self._spin("frameWidth", *SIZE_RANGE[0], 800, "Width in pixels")
        self.height_box = self._spin("frameHeight", *SIZE_RANGE[1], 600, "Height in pixels")
        size = QHBoxLayout()
        size.addWidget(self.width_box)
        size.addWidget(QLabel("×"))
        size.addWidget(self.height_box)
        size.addWidget(QLabel("pixels"))
        form = QFormLayout(self)
        form.addRow("&First step", self.first)
        form.addRow("&Last step", self.last)
        form.addRow("Frames per &second", self.fps)
        form.addRow("&Number of frames", self.frames)
        form.addRow("Si&ze", size)
        self.summary = QLabel()
        self.summary.setObjectName("animationSummary")
        self.summary.setWordWrap(True)
        form.addRow(self.summary)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export…")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        for box in (self.first, self.last, self.fps, self.frames, self.width_box, self.height_box):
            box.valueChanged.connect(self._update)
        self._update()

    def _spin(self, name: str, low: int, high: int, value: int, tip: str) -> QSpinBox:
        box = QSpinBox()
        box.setObjectName(name)
        box.setRange(low, high)
        box.setValue(value)
        box.setGroupSeparatorShown(True)
        box.setToolTip(tip)
        box.setAccessibleDescription(tip)
        return box

    @Slot()
    def _update(self) -> None:
        """Keep the fields consistent (first ≤ last, frames ≤ recorded steps) and say what the GIF will be."""
        self.last.setMinimum(self.first.value())
        available = len(kept_steps(self.run, self.first.value(), self.last.value()))
        self.frames.setMaximum(max(1, min(most_frames(self.width_box.value(), self.height_box.value()), available)))
        seconds = self.frames.value() / self.fps.value()
        self.summary.setText(f"{self.frames.value():,} frames of steps {self.first.value():,} to "
                             f"{self.last.value():,}: {seconds:.1f} s, looping.")

    def spec(self) -> AnimationSpec:
        return AnimationSpec(self.first.value(), self.last.value(), self.fps.value(), self.frames.value(),
                             self.width_box.value(), self.height_box.value())


def ask_and_export_animation(view: QWidget) -> AnimationExport | None:
    """The dialog, then a Save dialog, then the export (which goes on from the event loop; its ``finished``
    tells the end, and a failure is shown in a one-line dialog). None if the user cancelled."""
    if not can_animate(view):
        return None
    run = view.model
    parent = view.window()
    controller = getattr(view, "controller", None)
    was_running = controller is not None and controller.running
    if controller is not None:
        view.pause(wait=True)  # the history must stand still while it is drawn (it goes on after the export)

    def resume() -> None:
        if was_running and not controller.running:
            view.toggle_run()

    if run.history.steps < 1:
        QMessageBox.information(parent, "Export animation", "Train first: the animation shows the recorded steps.")
        resume()
        return None
    dialog = AnimationDialog(run, parent)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        resume()
        return None
    spec = dialog.spec()
    path, _ = QFileDialog.getSaveFileName(parent, "Export animation", prefs.suggested_path("loss-surface.gif"),
                                          "Animated GIF (*.gif)")
    if path:
        prefs.remember_folder(path)
        path = prefs.completed_save_path(parent, path, ".gif")
    if not path:
        resume()
        return None
    try:
        job = AnimationExport(run, spec, path, parent, inputs=export.data_files(run))
    except ValueError as e:
        QMessageBox.warning(parent, "Export animation", export.sentence(e, capital=True))
        resume()
        return None

    def done(ok: bool) -> None:
        resume()
        if ok:
            parent.statusBar().showMessage(f"Animation saved to {path}", 6000)
        elif job.error:
            QMessageBox.warning(parent, "Export animation", job.error)

    job.finished.connect(done)
    job.start()
    return job
