"""File > Export > Animation…: an animated GIF (or MP4) of a training tab's run, drawn from its recorded history.

- A :class:`FramePainter` draws one tab's frames: a panel of its own (never the one on screen), off screen, at
  the size asked for, showing the run up to a step, under a band with the step number and a loss in the
  top-left corner (:meth:`FramePainter.label`) and the title. Nothing is trained again: the painters read the
  history's kept steps. :class:`SurfaceFrames` draws the loss-surface tab (the map with the path growing),
  :class:`LossCurveFrames` the Boston tab (its loss chart with the curves growing), :class:`RaceFrames` the
  optimizer race (the map with every racer's path growing). :func:`painter_for` picks one for a tab's model.
- :class:`AnimationDialog` asks for the first and last step, the frames per second, the number of frames and
  the size in pixels.
- :class:`AnimationExport` renders the frames on the GUI thread, a few at a time from a timer (pyqtgraph draws
  only there), with a progress dialog that stays responsive and a Cancel button, into an encoder
  (:class:`GifEncoder`: Pillow, the GIF encoded in a background thread at the end; :class:`Mp4Encoder`: the
  optional FFmpeg wheel, fed as the frames come), and writes the file atomically. A cancelled or failed export
  writes nothing; a failure is one line in a dialog.
- :func:`fit_run_animation` makes the animation of a one-feature run trained elsewhere (``fitscope fit
  --animate``), with the same painter, synchronously.
"""

from __future__ import annotations

import io
import math
import os
import sys
import threading
import time
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PIL import Image
from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QObject,
    QRectF,
    QSize,
    Qt,
    QTimer,
    Signal,
    Slot,
    qInstallMessageHandler,
)
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPen
from PySide6.QtWidgets import (
    QApplication,
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
from fitscope.engine.numbers import prose
from fitscope.engine.race import LABELS
from fitscope.engine.run import FitRun
from fitscope.gui import activity, export, prefs
from fitscope.gui.models.multi import MultiRun
from fitscope.gui.models.race import RaceRun
from fitscope.gui.models.surface import SurfaceRun
from fitscope.gui.panels.loss_curve import LossCurvePanel
from fitscope.gui.panels.plotting import OutsideLegend
from fitscope.gui.panels.surface import SurfacePanel
from fitscope.gui.views.race_view import COLOURS

GRID = 200  # the map's points per axis, as the tab draws it
TITLE = "Training loss over (kernel, bias)"
MAX_FRAMES = 1000
#: The most pixels of all frames together (each is kept, with one byte a pixel, until the GIF is encoded).
MAX_PIXELS = 400_000_000
SIZE_RANGE = ((160, 1920), (120, 1200))  # width, height in pixels
FPS_RANGE = (1, 50)
FRAMES_PER_SLICE_SECONDS = 0.05  # render frames for at most this long between two turns of the event loop
MAX_PATH_POINTS = 4000  # a racer's path is drawn thinned to about this many points


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


def most_frames(width: int, height: int) -> int:
    """The most frames of ``width`` × ``height`` pixels an animation may hold."""
    return max(1, min(MAX_FRAMES, MAX_PIXELS // max(1, width * height)))


def check_size(frames: int, fps: int, width: int, height: int) -> None:
    """:class:`ValueError` with a one-line reason if the size, rate or number of frames is out of range."""
    (w_lo, w_hi), (h_lo, h_hi) = SIZE_RANGE
    if not (w_lo <= width <= w_hi and h_lo <= height <= h_hi):
        raise ValueError(f"an animation is {w_lo:,} to {w_hi:,} pixels wide and {h_lo:,} to {h_hi:,} high, "
                         f"not {width:,} × {height:,}")
    if not FPS_RANGE[0] <= fps <= FPS_RANGE[1]:
        raise ValueError(f"an animation plays {FPS_RANGE[0]} to {FPS_RANGE[1]} frames per second, not {fps:,}")
    if frames > most_frames(width, height):
        raise ValueError(f"at {width} × {height} pixels an animation holds at most "
                         f"{most_frames(width, height):,} frames")
    if frames < 1:
        raise ValueError("an animation needs at least 1 frame")


def frame_label(run, step: int) -> str:
    """The corner label of the frame of ``step`` in an animation of ``run``."""
    return painter_for(run).label(run, step)


def kept_steps(run, first: int, last: int) -> np.ndarray:
    """The steps from ``first`` to ``last`` that ``run``'s history kept (the frames can show)."""
    steps = painter_for(run).timeline(run)
    return steps[(steps >= first) & (steps <= last)]


def frame_steps(run, spec: AnimationSpec) -> np.ndarray:
    """The step each frame shows: ``spec.frames`` distinct kept steps, evenly spaced from the first to the last
    (a long run keeps some steps only). :class:`ValueError` if there are fewer kept steps than frames, or more
    frames than :func:`most_frames` allows."""
    check_size(spec.frames, spec.fps, spec.width, spec.height)
    steps = kept_steps(run, spec.first, spec.last)
    if len(steps) < spec.frames:
        raise ValueError(f"steps {spec.first:,} to {spec.last:,} hold {len(steps):,} recorded steps: choose at most "
                         f"that many frames")
    if spec.frames == 1:
        return steps[-1:]
    return steps[np.round(np.linspace(0, len(steps) - 1, spec.frames)).astype(int)]


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
    """The height of the band above the plot, in a frame ``height`` pixels high: the label and the title."""
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


def loss_label(step: int, loss: float, what: str = "training loss") -> str:
    """``"step 12 · training loss 0.837877"`` (``"step 12 · diverged"`` for a loss that is not finite)."""
    return f"step {step:,} · {what} {prose(loss, 6)}" if math.isfinite(loss) else f"step {step:,} · diverged"


# --------------------------------------------------------------------------- the painters
class FramePainter:
    """Draws the frames of one tab's run at ``width`` × ``height`` pixels, off screen.

    A subclass builds its panel in :meth:`make_panel` (once: what does not change from frame to frame is
    drawn there) and puts the run up to a step on it in :meth:`show`; this class lays the panel out at the
    frame's size, grabs it under the band and writes the corner label. The class methods say what the
    dialog needs before any panel exists: which models it draws, the steps it can show, a frame's label.
    """

    #: The file name the Save dialog suggests.
    file_name = "run.gif"
    title = ""

    def __init__(self, run, width: int, height: int) -> None:
        self.run = run
        self.width, self.height = width, height
        self.band = band_height(height)  # above the plot: the step, the loss and the title
        self.panel = self.make_panel()
        self.panel.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen)
        self.panel.resize(width, height - self.band)
        self.panel.show()
        # Smaller than the plot, its axes and its legend can be laid out: drawn larger, then scaled down.
        least = self.least_size()
        scale = max(1.0, least.width() / width, least.height() / (height - self.band))
        if scale > 1:
            self.panel.resize(math.ceil(width * scale), math.ceil((height - self.band) * scale))
        self.prepare()

    # --- what a tab's painter says ---
    @classmethod
    def draws(cls, run) -> bool:
        """Whether this painter draws ``run`` (a tab's model)."""
        raise NotImplementedError

    @classmethod
    def timeline(cls, run) -> np.ndarray:
        """The steps a frame can show (the history's kept steps), increasing; step 0 is the start."""
        return run.history.param_steps

    @classmethod
    def last_step(cls, run) -> int:
        """The run's latest step."""
        return int(run.history.steps)

    @classmethod
    def label(cls, run, step: int) -> str:
        """The corner label of the frame of ``step``: the step and the training loss on all the data there."""
        row = run.history.row_of(step)
        return loss_label(step, run.experiment.loss_at(run.history.params[row], "train"))

    # --- what a painter does ---
    def make_panel(self) -> QWidget:
        """The panel the frames are grabbed from."""
        raise NotImplementedError

    def least_size(self) -> QSize:
        """The smallest size the panel can be laid out at."""
        return self.panel.minimumSizeHint()

    def prepare(self) -> None:
        """Draw what every frame shares, once the panel has its size."""

    def show(self, step: int) -> None:
        """Put the run up to ``step`` (a kept step) on the panel."""
        raise NotImplementedError

    def render(self, step: int) -> QImage:
        """The frame of ``step`` (a kept step), ``width`` × ``height`` pixels, with its corner label."""
        self.show(step)
        QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)  # the layout fitted to the panel now
        image = QImage(self.width, self.height, QImage.Format.Format_RGB32)
        image.fill(Qt.GlobalColor.white)
        painter = QPainter(image)
        plot_rect = QRectF(0, self.band, self.width, self.height - self.band)
        shot = self.panel.grab()  # the device's pixels (twice as many on a HiDPI screen): scaled into place
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawPixmap(plot_rect, shot, QRectF(shot.rect()))
        painter.end()
        draw_label(image, self.label(self.run, step), self.title)
        return image

    def close(self) -> None:
        self.panel.hide()
        self.panel.deleteLater()


class MapFrames(FramePainter):
    """A painter over a (kernel, bias) loss map (:class:`~fitscope.gui.panels.surface.SurfacePanel`)."""

    def make_panel(self) -> QWidget:
        panel = SurfacePanel("kernel", "bias")
        panel.plot.setTitle(None)
        return panel

    def least_size(self) -> QSize:
        return self.panel.graphics.ci.effectiveSizeHint(Qt.SizeHint.MinimumSize).toSize()

    def draw_map(self, window: tuple[float, float, float, float], grid_of, optimum: tuple[float, float]) -> None:
        """The map over ``window`` (k_lo, k_hi, b_lo, b_hi): ``grid_of(a, b)`` the loss, and its optimum."""
        k_lo, k_hi, b_lo, b_hi = window
        a, b = np.linspace(k_lo, k_hi, GRID), np.linspace(b_lo, b_hi, GRID)
        self.panel.set_range(k_lo, k_hi, b_lo, b_hi)
        self.panel.set_surface(a, b, grid_of(a, b))
        self.panel.set_optimum(*optimum)


class SurfaceFrames(MapFrames):
    """Frames of a loss-surface run (:class:`~fitscope.gui.models.surface.SurfaceRun`): a map framed on the
    whole path, drawn once; each frame adds the path up to its step."""

    file_name = "loss-surface.gif"

    @classmethod
    def draws(cls, run) -> bool:
        return isinstance(run, SurfaceRun)

    def prepare(self) -> None:
        run = self.run
        notes: list[str | None] = []

        def grid_of(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            grid, note = run.surface(a, b)
            notes.append(note)
            return grid

        self.draw_map(run.home_window(), grid_of, run.optimum())
        self.title = TITLE if notes[0] is None else f"Training MAE over (kernel, bias), {notes[0]}"
        self.title += f", {export.data_name(run.dataset)}"
        self._epoch_rows = run.history.epoch_rows()

    def show(self, step: int) -> None:
        h = self.run.history
        row = h.row_of(step)
        params = h.params[: row + 1]
        ends = self._epoch_rows[self._epoch_rows <= row]
        self.panel.set_trajectory(params[:, 0], params[:, 1], ends)
        self.panel.set_step(None, None, None)


class LossCurveFrames(FramePainter):
    """Frames of the Boston tab's run (:class:`~fitscope.gui.models.multi.MultiRun`): its loss chart, with the
    batch, training and validation curves growing over axes framed once on the whole run.

    The chart, rather than the slice of the loss with the path: it is what ``fit()`` reports, it reads at any
    size and speed, and it means the same for any model, whereas a slice shows two of many weights (a plane the
    user chose, which a GIF cannot explain)."""

    file_name = "boston-loss.gif"

    @classmethod
    def draws(cls, run) -> bool:
        return isinstance(run, MultiRun)

    def make_panel(self) -> QWidget:
        panel = LossCurvePanel("", object_name="animationLossCurve")
        panel.plot.setTitle(None)
        panel.log_scale.hide()
        return panel

    def prepare(self) -> None:
        run, panel = self.run, self.panel
        panel.show_curves(validation=run.experiment.X_val is not None, test=False)
        panel.set_baseline(run.baseline(), f"baseline (always guessing the mean {run.target_noun})")
        h = run.history
        panel.set_history(h.batch_loss, h.epochs, steps=h.loss_steps)  # the whole run: the axes' frame
        QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
        self._y_range = panel.plot.viewRange()[1]
        epoch_losses = h.epochs[:, 2:4][np.isfinite(h.epochs[:, 2:4])]
        top = max([*epoch_losses, run.baseline()])
        if math.isfinite(top) and top > 0:  # from the first epoch on: a run whose start is off the chart is dull
            self._y_range = (0.0, top * 1.08)
        self._x_range = (0.0, float(max(1, self.last_step(run))))
        self.title = f"Loss per step ({run.settings.loss.upper()}), {export.data_name(run.dataset)}"

    def show(self, step: int) -> None:
        h, plot = self.run.history, self.panel.plot
        losses = h.loss_steps <= step
        epochs = h.epochs[h.epochs[:, 1] <= step]
        self.panel.set_history(h.batch_loss[losses], epochs, steps=h.loss_steps[losses])
        plot.setXRange(*self._x_range, padding=0.02)
        plot.setYRange(*self._y_range, padding=0)


class RaceFrames(MapFrames):
    """Frames of the optimizer race (:class:`~fitscope.gui.models.race.RaceRun`): the map with every racer's
    path growing, the finish line and a legend under the map."""

    file_name = "optimizer-race.gif"

    @classmethod
    def draws(cls, run) -> bool:
        return isinstance(run, RaceRun)

    @classmethod
    def timeline(cls, run) -> np.ndarray:
        longest = max(run.histories, key=lambda h: h.steps, default=None)
        return np.zeros(0, dtype=np.int64) if longest is None else longest.param_steps

    @classmethod
    def last_step(cls, run) -> int:
        return int(run.steps)

    @classmethod
    def label(cls, run, step: int) -> str:
        """``"step 40 · lowest loss 0.0123 (Adam)"``: the racer with the lowest training loss at ``step``."""
        best: tuple[float, str] | None = None
        for i, (key, h) in enumerate(zip(run.keys, run.histories, strict=True)):
            n = int(np.searchsorted(h.param_steps, step, side="right"))
            loss = float(run.losses(i)[n - 1]) if n else math.nan
            if math.isfinite(loss) and (best is None or loss < best[0]):
                best = (loss, LABELS[key])
        if best is None:
            return f"step {step:,} · every racer diverged"
        if step == 0:  # every racer at the start
            return loss_label(0, best[0])
        return f"step {step:,} · lowest loss {prose(best[0], 6)} ({best[1]})"

    def prepare(self) -> None:
        run, panel = self.run, self.panel
        for item in (panel.path, panel.current, panel.epoch_marks, panel.step_line, panel.gradient_line,
                     panel.gradient_head):
            item.hide()
        self.draw_map(self._window(), run.surface, (float(run.optimum[0]), float(run.optimum[1])))
        panel.start.setData([run.start[0]], [run.start[1]])
        t = np.linspace(0, 2 * np.pi, 120)
        finish = pg.PlotCurveItem(run.optimum[0] + run.tolerance * np.cos(t),
                                  run.optimum[1] + run.tolerance * np.sin(t),
                                  pen=pg.mkPen("w", width=1.5, style=Qt.PenStyle.DashLine))
        finish.setZValue(5)
        panel.plot.addItem(finish)
        legend = OutsideLegend(panel.plot, text_size="9pt")
        self._items: list[tuple[pg.PlotCurveItem, pg.PlotCurveItem, pg.ScatterPlotItem, pg.ScatterPlotItem]] = []
        for key in run.keys:
            colour = COLOURS[key]
            casing = pg.PlotCurveItem(pen=pg.mkPen((255, 255, 255, 170), width=5))
            line = pg.PlotCurveItem(pen=pg.mkPen(colour, width=2.5))
            dot = pg.ScatterPlotItem(size=12, brush=pg.mkBrush(colour), pen=pg.mkPen("k", width=1.2))
            cross = pg.ScatterPlotItem(symbol="x", size=18, brush=pg.mkBrush(colour), pen=pg.mkPen("w", width=1))
            for z, item in enumerate((casing, line, dot, cross)):
                item.setZValue(6 + z)
                panel.plot.addItem(item)
            legend.addItem(line, LABELS[key])
            self._items.append((casing, line, dot, cross))
        legend.addItem(panel.optimum, "optimum")
        panel.keep_labels_clear_of([items[2] for items in self._items])
        self.title = f"Optimizer race on the training loss, {export.data_name(run.dataset)}"

    def _window(self) -> tuple[float, float, float, float]:
        """The race's usual window, widened to take in the paths (not beyond three times its size: a racer
        that diverges leaves the map)."""
        k_lo, k_hi, b_lo, b_hi = self.run.home_window()
        paths = [h.params[(np.abs(h.params) < 1e300).all(axis=1)] for h in self.run.histories]
        points = np.vstack([np.array([[k_lo, b_lo], [k_hi, b_hi]]), *paths])
        lo, hi = points.min(axis=0), points.max(axis=0)
        pad = 0.08 * (hi - lo)
        span = np.array([k_hi - k_lo, b_hi - b_lo])
        lo = np.maximum(lo - pad, np.array([k_lo, b_lo]) - span)
        hi = np.minimum(hi + pad, np.array([k_hi, b_hi]) + span)
        return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])

    def show(self, step: int) -> None:
        for h, (casing, line, dot, cross) in zip(self.run.histories, self._items, strict=True):
            n = int(np.searchsorted(h.param_steps, step, side="right"))
            params = h.params[:n]
            drawn = params[:: max(1, -(-n // MAX_PATH_POINTS))]
            drawn = np.vstack([drawn, params[-1:]]) if n else drawn
            casing.setData(drawn[:, 0], drawn[:, 1])
            line.setData(drawn[:, 0], drawn[:, 1])
            dot.setData(params[-1:, 0], params[-1:, 1])
            ended = h.diverged is not None and n == len(h.params)
            cross.setData(params[-1:, 0] if ended else [], params[-1:, 1] if ended else [])
        self.panel.make_way()


#: The painters, one per training tab.
PAINTERS: tuple[type[FramePainter], ...] = (SurfaceFrames, LossCurveFrames, RaceFrames)


def painter_for(run) -> type[FramePainter]:
    """The painter of ``run`` (a training tab's model); :class:`ValueError` if no tab of this kind animates."""
    for painter in PAINTERS:
        if painter.draws(run):
            return painter
    raise ValueError("this tab has no animation")


def can_animate(view: QWidget) -> bool:
    """Whether ``view`` is a tab this module animates (its model has a painter)."""
    model = getattr(view, "model", None)
    return model is not None and any(p.draws(model) for p in PAINTERS)


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


def mp4_available() -> bool:
    """Whether MP4 can be written here: the optional FFmpeg wheel (``pip install 'fitscope[video]'``)."""
    try:
        import imageio_ffmpeg

        return os.path.exists(imageio_ffmpeg.get_ffmpeg_exe())
    except Exception:  # noqa: BLE001 (not installed, or its FFmpeg missing: no MP4)
        return False


class GifEncoder:
    """Frames into an animated GIF: each quantized as it comes (to the palette of the frame :meth:`prime` was
    given, which holds every colour), kept, and encoded by :meth:`finish`."""

    kind = "GIF"
    primed = True  # wants the last frame first, for its palette

    def __init__(self, fps: int, width: int, height: int) -> None:
        self.fps = fps
        self.images: list[Image.Image] = []
        self._palette: Image.Image | None = None

    def prime(self, image: Image.Image) -> None:
        self._palette = quantized(image, None)

    def add(self, image: Image.Image) -> None:
        self.images.append(quantized(image, self._palette))

    def finish(self) -> bytes:
        """The file's bytes (Pillow only: may run in a background thread)."""
        return encode_gif(self.images, self.fps)

    def discard(self) -> None:
        self.images = []


class Mp4Encoder:
    """Frames into an H.264 MP4, streamed to FFmpeg (the optional ``imageio-ffmpeg`` wheel) as they come, into
    a temporary file that :meth:`finish` reads and removes. Its size is rounded up to even pixels (H.264's
    colour format needs it)."""

    kind = "MP4"
    primed = False

    def __init__(self, fps: int, width: int, height: int) -> None:
        import tempfile

        import imageio_ffmpeg

        self.size = (width + width % 2, height + height % 2)
        self._folder = tempfile.mkdtemp(prefix="fitscope-video-")
        self.path = os.path.join(self._folder, "video.mp4")
        self._writer = imageio_ffmpeg.write_frames(self.path, self.size, fps=fps, codec="libx264", quality=7,
                                                   macro_block_size=2, ffmpeg_log_level="error")
        self._writer.send(None)  # FFmpeg started

    def prime(self, image: Image.Image) -> None:  # pragma: no cover (not primed)
        pass

    def add(self, image: Image.Image) -> None:
        if image.size != self.size:
            padded = Image.new("RGB", self.size, "white")
            padded.paste(image)
            image = padded
        self._writer.send(image.tobytes())

    def finish(self) -> bytes:
        """FFmpeg finishes the file; its bytes (no Qt: may run in a background thread)."""
        try:
            self._writer.close()
            with open(self.path, "rb") as f:
                return f.read()
        finally:
            self.discard()

    def discard(self) -> None:
        import shutil

        try:
            self._writer.close()
        except Exception:  # noqa: BLE001, S110 (stopping FFmpeg on the way out: nothing left to do)
            pass
        shutil.rmtree(self._folder, ignore_errors=True)


def encoder_for(path: str, spec: AnimationSpec) -> GifEncoder | Mp4Encoder:
    """The encoder of the file ``path`` names (``.mp4``: MP4, else GIF); :class:`ValueError` for MP4 where no
    encoder is installed."""
    if path.lower().endswith(".mp4"):
        if not mp4_available():
            raise ValueError("MP4 needs the optional video encoder (pip install 'fitscope[video]'); GIF works as is")
        return Mp4Encoder(spec.fps, spec.width, spec.height)
    return GifEncoder(spec.fps, spec.width, spec.height)


class Frames:
    """The frames of an animation, drawn one by one (:meth:`next`) and handed to an encoder."""

    def __init__(self, run, spec: AnimationSpec, encoder: GifEncoder | Mp4Encoder | None = None) -> None:
        self.run, self.spec = run, spec
        self.painter_class = painter_for(run)
        self.steps = frame_steps(run, spec)
        self.encoder = encoder or GifEncoder(spec.fps, spec.width, spec.height)
        self.count = 0
        self._painter: FramePainter | None = None

    @property
    def done(self) -> bool:
        return self.count == len(self.steps)

    def next(self) -> None:
        """Draw the next frame. The first call builds the painter's panel (and, for a GIF, takes the palette
        from the last frame, which holds every colour the others show: a path's, a racer's)."""
        if self._painter is None:
            self._painter = self.painter_class(self.run, self.spec.width, self.spec.height)
            if self.encoder.primed:
                self.encoder.prime(to_pil(self._painter.render(int(self.steps[-1]))))
        self.encoder.add(to_pil(self._painter.render(int(self.steps[self.count]))))
        self.count += 1

    def close(self) -> None:
        """Let the panel go."""
        if self._painter is not None:
            self._painter.close()
            self._painter = None


def animation_bytes(run, spec: AnimationSpec, path: str = "run.gif") -> bytes:
    """The animation of ``spec`` from ``run`` in the format ``path`` names (GIF, or MP4 where it can be
    encoded), drawn and encoded here and now (a script's or the CLI's way)."""
    frame_steps(run, spec)  # ValueError for a spec the run cannot show, before an encoder starts
    frames = Frames(run, spec, encoder_for(path, spec))
    try:
        while not frames.done:
            frames.next()
        return frames.encoder.finish()
    finally:
        frames.close()
        frames.encoder.discard()


# --------------------------------------------------------------------------- the CLI's animation
def start_qt() -> QApplication:
    """The running QApplication, or a new one (on the platform ``QT_QPA_PLATFORM`` names: the CLI chooses
    ``offscreen`` where no display is set); :class:`RuntimeError` if there is only a non-widget Qt application."""
    app = QCoreApplication.instance()
    if app is None:
        previous = qInstallMessageHandler(None)
        qInstallMessageHandler(lambda kind, context, text: None if "propagateSizeHints" in text else (
            previous(kind, context, text) if previous is not None else print(text, file=sys.stderr)))
        app = QApplication(["fitscope"])  # the off-screen platform's note on size hints left unsaid
    if not isinstance(app, QApplication):
        raise RuntimeError("Qt runs here without widgets")
    return app


def check_surface(run: FitRun) -> None:
    """:class:`ValueError` with a one-line reason unless ``run`` has a loss surface to animate (a linear model
    of one feature)."""
    if run.dataset.n_features != 1:
        raise ValueError(f"an animation shows the loss surface of one-feature data, and this data has "
                         f"{run.dataset.n_features:,} features")
    if run.settings.model != "linear":
        raise ValueError("an animation shows the loss surface of a linear model, not of an MLP")


def surface_of(run: FitRun) -> SurfaceRun:
    """The loss-surface tab's model over a one-feature linear ``run`` trained elsewhere (the CLI's): its data,
    settings, numbers and history shared, not copied. :class:`ValueError` if the run has no loss surface."""
    check_surface(run)
    shown = SurfaceRun(run.dataset, run.settings)  # a start drawn if none was given: replaced just below
    shown.settings, shown.experiment, shown.history = run.settings, run.experiment, run.history
    return shown


def fit_run_animation(run: FitRun, path: str, frames: int, fps: int, width: int, height: int
                      ) -> tuple[bytes, int]:
    """The loss-surface animation of a one-feature run from its start to its last step, in the format ``path``
    names, and how many frames it holds: ``frames``, or every kept step if the run kept fewer (it stopped
    early)."""
    shown = surface_of(run)
    available = len(SurfaceFrames.timeline(shown))
    spec = AnimationSpec(0, shown.history.steps, fps, min(frames, available), width, height)
    return animation_bytes(shown, spec, path), spec.frames


# --------------------------------------------------------------------------- the export
class AnimationExport(QObject):
    """One export of ``spec`` from ``run`` to ``path``: frames from a timer, then the GIF encoded in a thread.

    Signals: ``frameDone(int)`` after each frame drawn (how many are); ``finished(bool)`` — True when the file
    is written, False when cancelled or failed (then :attr:`error` holds the one-line message, "" for a
    cancel). Nothing is written unless it succeeds. :class:`ValueError` at once for a spec the run cannot show.
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
        frame_steps(run, spec)  # ValueError for a spec the run cannot show, before an encoder starts
        self.frames = Frames(run, spec, encoder_for(self.path, spec))
        self.steps = self.frames.steps
        self.kind = self.frames.encoder.kind
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

    def start(self) -> None:
        """Begin (returns at once; ``finished`` tells the end)."""
        self.progress.setValue(0)
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
        frames = self.frames
        try:
            while not frames.done and time.perf_counter() - start < FRAMES_PER_SLICE_SECONDS:
                frames.next()
                self.frameDone.emit(frames.count)
                if self.done:  # cancelled by a slot of frameDone
                    return
        except Exception as e:  # noqa: BLE001 (drawing failed: one line, nothing written)
            self._fail(f"cannot draw frame {frames.count + 1}: {e}")
            return
        self.progress.setValue(frames.count)
        self.progress.setLabelText(f"Drawing frame {frames.count:,} of {len(self.steps):,}…")
        if not frames.done:
            return
        self._timer.stop()
        self.progress.setLabelText(f"Encoding the {self.kind}…")
        activity.install()
        self._thread = threading.Thread(target=self._encode, args=(frames.encoder,), name="animation-encoder",
                                        daemon=True)
        self._thread.start()

    def _encode(self, encoder: GifEncoder | Mp4Encoder) -> None:
        """In the background thread: Pillow or FFmpeg only, no Qt object but the signal that says it is done."""
        try:
            self._result = encoder.finish()
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
            self._fail(f"cannot encode the {self.kind}: {result}")
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
        self.frames.close()
        if self._thread is None:  # an encoder still given frames: stopped (a finishing one ends on its own)
            self.frames.encoder.discard()
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
        steps = painter_for(run).last_step(run)
        self.first = self._spin("firstStep", 0, steps, 0, "The step the animation starts at")
        self.last = self._spin("lastStep", 0, steps, steps, "The step the animation ends at")
        self.fps = self._spin("framesPerSecond", *FPS_RANGE, 10, "How fast it plays")
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

    painter = painter_for(run)
    if painter.last_step(run) < 1:
        QMessageBox.information(parent, "Export animation", "Train first: the animation shows the recorded steps.")
        resume()
        return None
    dialog = AnimationDialog(run, parent)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        resume()
        return None
    spec = dialog.spec()
    kinds = ["Animated GIF (*.gif)", *(["MP4 video (*.mp4)"] if mp4_available() else [])]
    path, chosen = QFileDialog.getSaveFileName(parent, "Export animation", prefs.suggested_path(painter.file_name),
                                               ";;".join(kinds))
    if path:
        prefs.remember_folder(path)
        mp4 = path.lower().endswith(".mp4") or ("*.mp4" in (chosen or "") and not path.lower().endswith(".gif"))
        path = prefs.completed_save_path(parent, path, ".mp4" if mp4 else ".gif")
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
