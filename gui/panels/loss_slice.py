"""The loss over two parameters, the others held fixed: a :class:`~gui.panels.surface.SurfacePanel` with two
pickers for the parameters and a caption; or, for a network, over a plane through all its parameters (a chooser
beside the pickers: "two weights", "training path (PCA)", "random directions"), with a progress bar while the
slice is computed.

The grid arrives ready-made (:meth:`LossSlicePanel.draw`); a coarse one (an MLP's) is drawn interpolated.
The colour bar's axis labels round, short values however narrow its range (:class:`gui.panels.axes.LogAxis`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QProgressBar, QSizePolicy, QVBoxLayout, QWidget

from fitscope.gui.keys import PointFields
from fitscope.gui.panels.axes import compact, log_ticks
from fitscope.gui.panels.param_picker import ParamCombo
from fitscope.gui.panels.plotting import fit_title
from fitscope.gui.panels.surface import SurfacePanel

TITLE = "Training loss over two parameters — click to start there"
#: The slice's planes: key → what the chooser says.
MODES = {"weights": "two weights", "pca": "training path (PCA)", "random": "random directions"}
MODE_TIPS = {
    "weights": "The loss over two weights you pick, every other parameter held as it is",
    "pca": "The loss over the plane of the training path's two principal directions (PCA of θ_t − θ_final), "
           "through the final weights, with the path projected onto it",
    "random": "The loss over two random directions through the weights now, each unit's incoming weights scaled "
              "to their own norm (filter-normalized, Li et al. 2018)",
}


def nice_ticks(lo: float, hi: float, length: float = 200, label_px: float = 14) -> list[tuple[float, str]]:
    """(value, label) pairs of the round values a log-scaled colour bar ``length`` pixels long labels between
    ``lo`` and ``hi`` (> 0), with labels ``label_px`` high (:func:`gui.panels.axes.log_ticks`): 1-2-5 × 10^k
    over several decades, evenly spaced round numbers within one; short labels (``25``, ``0.31``, ``2e4``)."""
    if not hi > lo:
        return [(lo, compact(lo))]
    major, _ = log_ticks(math.log10(lo), math.log10(hi), length, lambda _label: label_px)
    return [(10.0**v, label) for v, label in major]


def smooth(a: np.ndarray, b: np.ndarray, grid: np.ndarray, points: int = 80):
    """A coarse grid drawn finer (about ``points`` per axis): interpolated linearly in log(loss), for the
    picture only. Finer would cost more in drawing the isolines than it shows."""
    factor = max(1, round((points - 1) / max(len(a) - 1, len(b) - 1, 1)))
    a2 = np.linspace(a[0], a[-1], (len(a) - 1) * factor + 1)
    b2 = np.linspace(b[0], b[-1], (len(b) - 1) * factor + 1)
    finite = np.isfinite(grid) & (grid > 0)
    if not finite.any():
        return a, b, grid
    lg = np.log(np.where(finite, grid, grid[finite].max()))
    along_a = np.stack([np.interp(a2, a, lg[:, k]) for k in range(len(b))], axis=1)
    fine = np.stack([np.interp(b2, b, along_a[k]) for k in range(len(a2))])
    return a2, b2, np.exp(fine)


class _SteadyCaption(QLabel):
    """A word-wrapped caption at least :attr:`LINES` lines tall: a new caption one line shorter or longer (an
    MLP's slice is drawn about once a second while training runs) does not resize the map above it, which would
    place its labels and paint the whole tab again."""

    LINES = 2

    def _least(self) -> int:
        margins = self.contentsMargins()
        return self.LINES * self.fontMetrics().lineSpacing() + margins.top() + margins.bottom()

    def heightForWidth(self, width: int) -> int:  # noqa: N802 (Qt's name)
        return max(super().heightForWidth(width), self._least())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        hint = super().minimumSizeHint()
        return QSize(hint.width(), max(hint.height(), self._least()))


class LossSlicePanel(QWidget):
    """Signals: ``pairChanged(int, int)`` when the user picks another parameter for an axis (never the same
    one on both); ``modeChanged(str)`` when the user chooses another plane (a key of :data:`MODES`).
    ``surface`` is the plot (clicks, range, trajectory: see :class:`SurfacePanel`)."""

    pairChanged = Signal(int, int)
    modeChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lossSlicePanel")
        self.surface = SurfacePanel("", "")
        self.surface.setObjectName("lossSlice")
        self.surface.setAccessibleName("Loss slice over two parameters")
        fit_title(self.surface.plot, TITLE)
        self.x_param = self._combo("sliceParamX", "Slice: parameter on the x axis")
        self.y_param = self._combo("sliceParamY", "Slice: parameter on the y axis")
        self.mode = QComboBox()
        self.mode.setObjectName("sliceMode")
        self.mode.setAccessibleName("Slice over")
        for k, (key, text) in enumerate(MODES.items()):
            self.mode.addItem(text, key)
            self.mode.setItemData(k, MODE_TIPS[key], Qt.ItemDataRole.ToolTipRole)
        self.mode.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.mode.currentIndexChanged.connect(self._on_mode)
        self.progress = QProgressBar()
        self.progress.setObjectName("sliceProgress")
        self.progress.setAccessibleName("Slice progress")
        self.progress.setFixedWidth(90)
        self.progress.setFormat("%p %")
        self.progress.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.progress.hide()
        self.status = QLabel()
        self.status.setObjectName("sliceStatus")
        self.status.setProperty("class", "readoutName")
        # "computing…" comes and goes about once a second while an MLP trains: it takes the room there is, and
        # never widens the panel (which moved the splitter beside it and laid out the whole tab each time).
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.caption = _SteadyCaption()
        self.caption.setObjectName("sliceCaption")
        self.caption.setProperty("class", "readoutName")
        self.caption.setContentsMargins(6, 0, 6, 0)
        self.caption.setWordWrap(True)  # never wider than the plot
        self.caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        pick = QHBoxLayout()
        pick.setContentsMargins(6, 0, 6, 0)
        pick.addWidget(self.mode)
        pick.addSpacing(6)
        self._x_label, self._y_label = QLabel("x"), QLabel("y")
        pick.addWidget(self._x_label)
        pick.addWidget(self.x_param, 1)
        pick.addSpacing(6)
        pick.addWidget(self._y_label)
        pick.addWidget(self.y_param, 1)
        pick.addSpacing(6)
        pick.addWidget(self.status, 1)  # takes the pickers' room while they are hidden
        pick.addWidget(self.progress)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(self.surface, 1)
        column.addLayout(pick)
        self.fields = PointFields(self.surface.plot, "sliceStart", "Now at")  # typed: as a click there
        self.fields.chosen.connect(self.surface.clicked)
        self.fields.layout().setContentsMargins(6, 0, 6, 0)
        column.addWidget(self.fields)
        column.addWidget(self.caption)
        self._pair = (0, 1)

    def _combo(self, name: str, accessible: str) -> QComboBox:
        combo = ParamCombo()
        combo.setObjectName(name)
        combo.setAccessibleName(accessible)
        combo.setMaxVisibleItems(20)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(12)
        combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        combo.currentIndexChanged.connect(self._on_pick)
        return combo

    @property
    def pair(self) -> tuple[int, int]:
        return self._pair

    @property
    def current_mode(self) -> str:
        """The plane chosen: a key of :data:`MODES`."""
        return self.mode.currentData()

    def set_mode(self, key: str) -> None:
        """Show plane ``key`` as chosen (no signal); the parameter pickers show for "weights" only."""
        blocked = self.mode.blockSignals(True)
        self.mode.setCurrentIndex(list(MODES).index(key))
        self.mode.blockSignals(blocked)
        weights = key == "weights"
        for widget in (self._x_label, self.x_param, self._y_label, self.y_param, self.fields):
            widget.setVisible(weights)  # (the typed start is in two weights' values)
        if weights:
            self.set_title(TITLE)
            self.set_pair(*self._pair)  # the axes are named after the two weights again

    def set_planes_available(self, available: bool, why: str = "") -> None:
        """Whether the planes through all the parameters can be chosen (``why`` not, as the chooser's tip)."""
        self.mode.setEnabled(available)
        self.mode.setToolTip("What the slice is taken over" if available else why)

    def _on_mode(self, _index: int) -> None:
        key = self.current_mode
        self.set_mode(key)
        self.modeChanged.emit(key)

    def set_title(self, text: str) -> None:
        fit_title(self.surface.plot, text)

    def set_axis_labels(self, x: str, y: str) -> None:
        """Name the plot's axes (a plane's directions)."""
        self.surface.plot.setLabel("bottom", x)
        self.surface.plot.setLabel("left", y)

    def show_progress(self, done: int, total: int) -> None:
        """The slice being computed: ``done`` of ``total`` grid points."""
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)
        self.progress.show()

    def hide_progress(self) -> None:
        self.progress.hide()

    def set_parameters(self, labels: Sequence[str], i: int, j: int,
                       groups: Sequence[tuple[str, tuple[int, ...]]] | None = None) -> None:
        """The parameters to choose from (one label each), and the pair shown; ``groups``: the arrays they come
        from (name, shape), for a network's: each chooser then lists them by array and searches them."""
        for combo in (self.x_param, self.y_param):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(list(labels))
            combo.set_groups(groups)
            combo.blockSignals(False)
        self.set_pair(i, j)

    def set_pair(self, i: int, j: int) -> None:
        """Show parameters ``i`` (x) and ``j`` (y); no signal."""
        for combo, k in ((self.x_param, i), (self.y_param, j)):
            combo.blockSignals(True)
            combo.setCurrentIndex(k)
            combo.blockSignals(False)
        self._pair = (i, j)
        self.surface.plot.setLabel("bottom", self.x_param.currentText())
        self.surface.plot.setLabel("left", self.y_param.currentText())

    def _on_pick(self, _index: int) -> None:
        i, j = self.x_param.currentIndex(), self.y_param.currentIndex()
        if i < 0 or j < 0:
            return
        if i == j:  # the same parameter twice: the other axis keeps its own, or moves on by one
            moved_x = self.sender() is self.x_param
            k = self._pair[1] if moved_x else self._pair[0]
            if k == i:
                k = (i + 1) % self.x_param.count()
            i, j = (i, k) if moved_x else (k, j)
        self.set_pair(i, j)
        self.pairChanged.emit(i, j)

    def draw(self, a: np.ndarray, b: np.ndarray, grid: np.ndarray, optimum: tuple[float, float], caption: str,
             coarse: bool = False) -> None:
        """The loss ``grid[ia, ib]`` at ``(a[ia], b[ib])``, its minimum ``optimum`` (★) and a caption; a
        ``coarse`` grid is drawn interpolated."""
        self.surface.set_surface(*(smooth(a, b, grid) if coarse else (a, b, grid)))
        self.surface.set_optimum(float(optimum[0]), float(optimum[1]))
        self.caption.setText(caption)
