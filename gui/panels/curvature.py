"""The curvature of a linear model's MSE, shown: the axes of the contour ellipses on a map, and a box of numbers.

:class:`CurvatureAxes` draws two line segments through the optimum along the eigenvectors of the loss's
Hessian (its 2 × 2 block on a slice), with a small legend; :class:`CurvatureBox` holds the check box that
shows them and the readouts (λmax, λmin, κ, the sentence that ties κ to gradient descent, and κ with and
without normalization where the tab can toggle it). Both only draw what they are given.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QGroupBox, QLabel, QSizePolicy, QVBoxLayout, QWidget

#: The axes' colour: white with a dark outline reads on every colour of the map.
AXIS_COLOUR = "#ffffff"
LEGEND = "curvature axes (length ∝ 1/√λ)"


class CurvatureAxes:
    """Two segments on ``plot``: the long axis (smallest eigenvalue) solid, the short one dashed, and a legend.

    Hidden until :meth:`set_segments` gets segments; :meth:`segments` gives back what is drawn.
    """

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        self.halo = pg.PlotCurveItem(pen=pg.mkPen((0, 0, 0, 150), width=4), connect="pairs")
        self.lines = [pg.PlotCurveItem(pen=pg.mkPen(AXIS_COLOUR, width=2)),
                      pg.PlotCurveItem(pen=pg.mkPen(AXIS_COLOUR, width=2, style=Qt.PenStyle.DashLine))]
        for z, item in enumerate([self.halo, *self.lines]):
            item.setZValue(4 + 0.1 * z)  # above the isolines, below the path and the star
            plot.addItem(item)
        self.legend = pg.LegendItem(offset=(6, 6), labelTextColor="w", brush=pg.mkBrush(0, 0, 0, 150),
                                    labelTextSize="8pt", verSpacing=-6)
        self.legend.setParentItem(plot.getViewBox())
        self.legend.addItem(pg.PlotDataItem(pen=pg.mkPen(AXIS_COLOUR, width=2)), LEGEND)
        self.legend.setZValue(20)
        self.set_segments(None)

    def set_segments(self, segments: np.ndarray | None) -> None:
        """Draw ``segments`` ``[k, end, (x, y)]`` (the long axis first), or hide the axes (None)."""
        self._segments = None if segments is None else np.array(segments, dtype=float)
        if self._segments is None:
            for item in (self.halo, *self.lines):
                item.setData([], [])
                item.hide()
            self.legend.hide()
            return
        s = self._segments
        self.halo.setData(s[:, :, 0].ravel(), s[:, :, 1].ravel())
        for k, item in enumerate(self.lines):
            item.setData(s[k, :, 0], s[k, :, 1])
        for item in (self.halo, *self.lines):
            item.show()
        self.legend.show()

    @property
    def visible(self) -> bool:
        return self._segments is not None

    def segments(self) -> np.ndarray | None:
        """What is drawn: ``[k, end, (x, y)]`` as read back from the plot's lines, or None when hidden."""
        if not self.visible:
            return None
        out = np.empty((2, 2, 2))
        for k, item in enumerate(self.lines):
            x, y = item.getData()
            out[k, :, 0], out[k, :, 1] = x, y
        return out


class CurvatureBox(QGroupBox):
    """"Curvature": a check box "Show curvature axes" (off) and the readouts.

    Signals: ``toggled(bool)`` when the check box changes.
    """

    toggled = Signal(bool)

    def __init__(self, prefix: str, parent: QWidget | None = None) -> None:
        super().__init__("Curvature", parent)
        self.setObjectName(f"{prefix}CurvatureBox")
        self.show_axes = QCheckBox("Show curvature axes")
        self.show_axes.setObjectName(f"{prefix}ShowCurvatureAxes")
        self.show_axes.setAccessibleName("Show curvature axes")
        self.show_axes.setToolTip("Draw the axes of the loss's contour ellipses through the optimum: the "
                                  "eigenvectors of its Hessian, each as long as 1/√λ of its eigenvalue λ")
        self.show_axes.toggled.connect(self.toggled)
        self.numbers = self._label(f"{prefix}CurvatureNumbers", "Curvature: eigenvalues and κ", "readoutValue")
        self.sentence = self._label(f"{prefix}CurvatureSentence", "What κ means", "readoutName")
        self.normalization = self._label(f"{prefix}KappaNormalization", "κ without and with normalization",
                                         "readoutValue")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(3)
        for widget in (self.show_axes, self.numbers, self.normalization, self.sentence):
            layout.addWidget(widget)

    def _label(self, name: str, accessible: str, kind: str) -> QLabel:
        label = QLabel()
        label.setObjectName(name)
        label.setAccessibleName(accessible)
        label.setProperty("class", kind)
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        return label

    @property
    def checked(self) -> bool:
        return self.show_axes.isChecked()

    def show_readout(self, numbers: str, sentence: str = "", normalization: str = "", available: bool = True
                     ) -> None:
        """The numbers (or the one-line note when there is no curvature to show), the sentence, and κ with and
        without normalization (hidden when empty); the check box is enabled only when ``available``."""
        self.numbers.setText(numbers)
        kind = "readoutValue" if available else "readoutName"  # a note reads as text, not as a number
        if self.numbers.property("class") != kind:
            self.numbers.setProperty("class", kind)
            self.numbers.style().unpolish(self.numbers)
            self.numbers.style().polish(self.numbers)
        self.sentence.setText(sentence)
        self.sentence.setVisible(bool(sentence))
        self.normalization.setText(normalization)
        self.normalization.setVisible(bool(normalization))
        self.show_axes.setEnabled(available)
