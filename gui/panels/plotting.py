"""What every plot of the app shares."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QGraphicsItem

from fitscope.gui.export import install_plot_menu


def quiet_plot(plot: pg.PlotItem) -> pg.PlotItem:
    """A plot without pyqtgraph's context menu, "A" button and SI prefixes, whose axes paint from a cache.

    Its right-click menu is the app's own instead: Export as PNG… / SVG… (:mod:`gui.export`).

    An axis (with the grid it draws) spans the whole plot, so without the cache it would be repainted, text
    and all, whenever any curve in the plot changes: most of the cost of a frame while training runs.
    """
    plot.setMenuEnabled(False)
    plot.hideButtons()
    for name in ("left", "bottom", "right", "top"):
        axis = plot.getAxis(name)
        axis.enableAutoSIPrefix(False)
        axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    install_plot_menu(plot)
    return plot
