"""A tab's curvature, bound: the box's check box and readouts, and the axes on its map, from its experiment.

:class:`CurvatureOverlay` asks the tab, through a callable, what the map shows now (the experiment, the two
parameters on its axes and the slice's minimum), and draws the axes of the contour ellipses there while the
check box is on; they follow zoom and pan. The readouts come from :class:`~gui.models.curvature.CurvatureModel`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from PySide6.QtCore import QObject, Slot

from fitscope.engine.experiment import Experiment
from fitscope.gui.models.curvature import CurvatureModel, CurvatureReadout
from fitscope.gui.panels.curvature import CurvatureBox
from fitscope.gui.panels.surface import SurfacePanel


class MapShown(NamedTuple):
    """What a map shows: the loss of ``experiment`` over parameters ``i`` (x) and ``j`` (y), its minimum there
    at ``center``."""

    experiment: Experiment
    i: int
    j: int
    center: tuple[float, float]


class CurvatureOverlay(QObject):
    """Binds a :class:`CurvatureBox` and a :class:`SurfacePanel` to a tab.

    Parameters
    ----------
    box, panel
    shown : callable
        Returns the :class:`MapShown` now, or None when the map shows no slice of a linear model's MSE over
        two of its parameters (the axes are then hidden).
    compare_normalization : bool
        Show κ without and with normalization (a tab that can toggle it).
    """

    def __init__(self, box: CurvatureBox, panel: SurfacePanel, shown: Callable[[], MapShown | None],
                 compare_normalization: bool = False) -> None:
        super().__init__(box)
        self.box, self.panel, self._shown = box, panel, shown
        self.compare = compare_normalization
        self.model = CurvatureModel()
        self.readout: CurvatureReadout | None = None
        box.toggled.connect(self.redraw)
        panel.view_box.sigRangeChanged.connect(self._on_range)

    def update(self, exp: Experiment) -> None:
        """The readouts for ``exp`` (its numbers, or why there are none), then the axes."""
        self.readout = r = self.model.readout(exp, self.compare)
        self.box.show_readout(r.numbers, r.sentence, r.normalization, available=r.curvature is not None)
        self.redraw()

    def _on_range(self, *_) -> None:
        if self.panel.curvature_axes.visible:
            self.redraw()

    @Slot()
    def redraw(self) -> None:
        """Draw the axes through the slice's minimum, scaled to the view, if the check box is on."""
        shown = self._shown() if self.box.checked else None
        segments = None
        if shown is not None:
            segments = self.model.axes(shown.experiment, shown.i, shown.j, shown.center, self.panel.visible_range())
        if segments is not None and not np.all(np.isfinite(segments)):
            segments = None
        self.panel.set_curvature_axes(segments)
