"""The code panel's editor: a program shown read-only, the lines the last change touched painted across."""

from __future__ import annotations

from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QPainter, QTextDocument
from PySide6.QtWidgets import QPlainTextDocumentLayout, QPlainTextEdit

#: The background of the lines the last change touched.
CHANGED_BACKGROUND = QColor("#fff1a8")


class CodeView(QPlainTextEdit):
    """The code: read-only, monospace, not wrapped; the lines of :meth:`mark` are painted with a background
    across the whole width (only those in sight are looked at, however many are marked)."""

    def __init__(self) -> None:
        super().__init__()
        self._marked: list[int] = []
        self._marked_set: frozenset[int] = frozenset()
        self._document: QTextDocument | None = None

    def show_document(self, document: QTextDocument) -> None:
        """Show ``document`` (made in the writer's thread, now the GUI thread's); the one shown before goes."""
        document.setDocumentLayout(QPlainTextDocumentLayout(document))
        self.setDocument(document)
        self._document = document  # kept alive here: the editor does not own it

    def mark(self, lines: list[int]) -> None:
        """Paint ``lines`` (0-based block numbers) as touched by the last change; ``[]`` for none."""
        self._marked, self._marked_set = list(lines), frozenset(lines)
        self.viewport().update()

    def marked(self) -> list[int]:
        return list(self._marked)

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if self._marked_set:
            painter = QPainter(self.viewport())
            offset, width, bottom = self.contentOffset(), self.viewport().width(), event.rect().bottom()
            block = self.firstVisibleBlock()
            while block.isValid():
                box = self.blockBoundingGeometry(block).translated(offset)
                if box.top() > bottom:
                    break
                if block.blockNumber() in self._marked_set:
                    painter.fillRect(QRectF(0, box.top(), width, box.height()), CHANGED_BACKGROUND)
                block = block.next()
            painter.end()
        super().paintEvent(event)
