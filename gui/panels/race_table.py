"""The optimizer race's table: where each racer stands against the finish line (:class:`RaceTable`).

One row per racer, its cells as :func:`~fitscope.gui.models.race_texts.cells` words them: the settled step (green
while inside, brown for one that ended outside), the first touch, the distance to the optimum, the training loss
and the status; a racer that diverged is shaded red, the winner (or those of a dead heat) in bold.
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from fitscope.engine.race import LABELS
from fitscope.gui.models.race import RaceRun
from fitscope.gui.models.race_texts import COLUMNS, cells

INSIDE, OUTSIDE = "#2e7d32", "#a34700"  # the settled cell of a racer inside, and of one that ended outside


def swatch(colour: str) -> QIcon:
    """A small square of ``colour``: a racer's mark beside its name."""
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(colour))
    return QIcon(pixmap)


class RaceTable(QTableWidget):
    """The race's table (object name ``raceTable``): read-only, a tab stop whose cells the arrow keys read."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setObjectName("raceTable")
        self.setAccessibleName("Race results")
        self.setHorizontalHeaderLabels(COLUMNS)
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # a tab stop: the arrow keys read its cells
        self.setTabKeyNavigation(False)  # Tab goes on to the next control
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.setWordWrap(False)
        self.setMinimumHeight(120)
        self.setToolTip("Settled: the step from which the racer stays within the tolerance of the optimum "
                        "to the end of the race (while it runs: since when it has been inside). First touch: "
                        "its first step within the tolerance (0: it started there)")

    def show_race(self, run: RaceRun, running: bool, colours: Mapping[str, str]) -> None:
        """Fill the rows from ``run`` (``running``: the race is being run now; ``colours``: each racer's)."""
        self.setRowCount(len(run.keys))
        standing = run.standing()
        winners = [] if standing is None else standing.winners
        said = []
        for row, key in enumerate(run.keys):
            texts = cells(run, row, winners, running)
            for col, text in enumerate(texts):
                item = self.item(row, col)
                if item is None:
                    item = QTableWidgetItem()
                    self.setItem(row, col, item)
                item.setText(text)
                if col > 0:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            self.item(row, 0).setIcon(swatch(colours[key]))
            bad = run.histories[row].diverged is not None
            font = QFont(self.font())
            font.setBold(row in winners)
            for col in range(len(COLUMNS)):
                item = self.item(row, col)
                item.setBackground(QColor("#fdecea") if bad else QColor("#ffffff"))
                item.setForeground(QColor("#8a1c12") if bad else QColor("#111111"))
                item.setFont(font)
            if run.inside_since(row) is not None:
                self.item(row, 1).setForeground(QColor(INSIDE))
            elif run.done and not bad:
                self.item(row, 1).setForeground(QColor(OUTSIDE))
            said.append(f"{LABELS[key]}: {texts[1]}, first touch {texts[2]}, {texts[3]} from the optimum, "
                        f"training loss {texts[4]}, {texts[5]}")
        self.setAccessibleDescription("; ".join(said) if said else "No racers")
