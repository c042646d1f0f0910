"""The code panel's code, written off the GUI thread: the latest request wins.

:class:`CodeWriter` writes one :class:`~fitscope.gui.models.code.CodeRequest` at a time
(:func:`fitscope.engine.codegen.code`) in a :class:`~fitscope.gui.background.SerialPool`; a request made while
one is written waits, replacing any that waited before it. Exact code of a long run writes tens of thousands of
numbers, so the job also compares the new text with the one shown (the lines a change touched) and makes the
coloured document (:class:`CodeColours`) there, handing it to the GUI thread ready to show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from PySide6.QtCore import QObject, QRunnable, Signal, Slot
from PySide6.QtGui import QColor, QFont, QTextCharFormat, QTextCursor, QTextDocument

from fitscope.engine import codegen
from fitscope.gui.activity import give_way
from fitscope.gui.background import SerialPool
from fitscope.gui.export import sentence
from fitscope.gui.models.code import CodeRequest
from fitscope.gui.worker import one_line


@dataclass(frozen=True)
class CodeResult:
    """What a request came to: ``text`` (the code, or "" with a one-line ``error``) and the lines of it that
    differ from the text shown before (``changed``, 0-based; None: not compared)."""

    token: int
    request: CodeRequest
    text: str
    error: str = ""
    changed: tuple[int, ...] | None = None
    document: QTextDocument | None = None  # ``text``, coloured, ready to show (it belongs to the GUI thread)


class _CodeJob(QRunnable):
    """Writes one request's code (and compares it with the text shown) in the writer's thread."""

    def __init__(self, writer: CodeWriter, token: int, request: CodeRequest, shown: str | None) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._writer, self._token, self._request, self._shown = writer, token, request, shown
        self._font = QFont(writer.font)
        self._gui = writer.thread()

    def run(self) -> None:
        try:
            result = self._write()
        except Exception as e:  # noqa: BLE001 (a fault of fitscope's own: one line, never a traceback)
            result = CodeResult(self._token, self._request, "", sentence(f"Cannot write the code: {one_line(e)}"))
        self._writer.finished.emit(result)

    def _write(self) -> CodeResult | None:
        """The result, or None if the request is no longer wanted."""
        writer, r = self._writer, self._request
        give_way(stop=lambda: writer.cancelled(self._token))
        if writer.cancelled(self._token):
            return None
        try:
            text = codegen.code(r.dataset, r.settings, r.lang, exact=r.exact, start=r.start)
        except ValueError as e:  # settings the code cannot express: the engine's one line
            return CodeResult(self._token, r, "", sentence(e, capital=True))
        give_way(stop=lambda: writer.cancelled(self._token))
        changed = None
        if self._shown is not None and not writer.cancelled(self._token):
            changed = tuple(codegen.changed_lines(self._shown, text))
        give_way(stop=lambda: writer.cancelled(self._token))
        if writer.cancelled(self._token):
            return None
        # The document is made here, not in the GUI thread: for long exact code that is most of the work.
        document = QTextDocument()
        document.setDefaultFont(self._font)
        document.setUndoRedoEnabled(False)
        document.setPlainText(text)
        CodeColours().apply(document, text, r.lang)
        document.moveToThread(self._gui)
        return CodeResult(self._token, r, text, changed=changed, document=document)


class CodeWriter(SerialPool):
    """One request at a time in a private thread pool; a request while one is written waits, replacing any
    request waiting before it (only the latest is wanted). :attr:`ready` carries current results only."""

    ready = Signal(object)
    finished = Signal(object)  # from the pool's thread

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.font = QFont()  # the documents' font
        self.finished.connect(self._on_finished)

    def invalidate(self) -> None:
        """Drop every request made so far (the one being written finishes unseen)."""
        self.drop()

    def request(self, request: CodeRequest, shown: str | None) -> None:
        """Write ``request``'s code; with ``shown``, also find the lines that differ from that text."""
        if self.stopped:
            return
        self.drop()
        self.submit(lambda token: _CodeJob(self, token, request, shown))

    @Slot(object)
    def _on_finished(self, result: CodeResult | None) -> None:
        self.job_ended()
        if result is not None and result.token == self.token:
            self.ready.emit(result)
        self.run_waiting()


class CodeColours:
    """Keywords, comments, strings and numbers of JavaScript or Python, set on a document once per text.

    The numbers exact code writes out (data rows, row orders, start weights: the constants at the end of the
    code, up to tens of thousands of lines) are greyed as one range, and only the program around them is read
    token by token, so that long code is coloured in a few milliseconds.
    """

    KEYWORDS = {
        "tfjs": "async await const let var function return if else for of in new true false null undefined "
                "require throw this",
        "keras": "import from def return if else elif for in not and or True False None with as lambda class "
                 "raise try except while is",
    }
    COMMENT = {"tfjs": "//", "keras": "#"}
    #: The first line of a written-out constant, and the last lines of the code after them.
    CONSTANT = re.compile(r"^(?:const )?(?:TRAIN|TEST|DATA_ORDER|START_WEIGHTS|EPOCH_ORDERS) = ", re.MULTILINE)
    DECLARATION = re.compile(r"^(?:const )?[A-Z_]+ = .*$", re.MULTILINE)
    TRAILER = {"tfjs": "\nmain();", "keras": '\nif __name__ == "__main__":'}
    ASTRAL = re.compile("[\U00010000-\U0010ffff]")

    def __init__(self) -> None:
        self.formats = {
            "comment": self._format("#6a737d", italic=True),
            "string": self._format("#1a7f37"),
            "number": self._format("#a04f00"),
            "keyword": self._format("#0b4f9c", bold=True),
            "data": self._format("#8c8c8c"),
        }
        self._patterns = {lang: self._compile(lang) for lang in self.KEYWORDS}

    @staticmethod
    def _format(colour: str, bold: bool = False, italic: bool = False) -> QTextCharFormat:
        f = QTextCharFormat()
        f.setForeground(QColor(colour))
        if bold:
            f.setFontWeight(QFont.Weight.DemiBold)
        f.setFontItalic(italic)
        return f

    def _compile(self, lang: str) -> re.Pattern:
        keywords = "|".join(self.KEYWORDS[lang].split())
        strings = r"'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"" + (r"|`(?:[^`\\]|\\.)*`" if lang == "tfjs" else "")
        return re.compile(rf"(?P<comment>{re.escape(self.COMMENT[lang])}.*)|(?P<string>{strings})"
                          rf"|(?P<number>\b\d+(?:\.\d*)?(?:[eE][+-]?\d+)?\b)|(?P<keyword>\b(?:{keywords})\b)")

    def apply(self, document: QTextDocument, text: str, lang: str) -> None:
        """Colour ``document``, which holds ``text`` (code in ``lang``)."""
        if not text.isascii() and self.ASTRAL.search(text):
            return  # a character outside Unicode's first plane counts twice in Qt's positions: left plain
        data = self.CONSTANT.search(text)
        begin = data.start() if data else len(text)
        trailer = text.rfind(self.TRAILER[lang])
        end = trailer if data and trailer > begin else len(text)
        cursor = QTextCursor(document)
        cursor.beginEditBlock()

        def paint(start: int, stop: int, kind: str) -> None:
            cursor.setPosition(start)
            cursor.setPosition(stop, QTextCursor.MoveMode.KeepAnchor)
            cursor.setCharFormat(self.formats[kind])

        if end > begin:
            paint(begin, end, "data")
        pattern = self._patterns[lang]
        pieces = [(0, begin), (end, len(text))]
        pieces += [m.span() for m in self.DECLARATION.finditer(text, begin, end)]
        for lo, hi in pieces:
            for m in pattern.finditer(text, lo, hi):
                paint(m.start(), m.end(), m.lastgroup)
        cursor.endEditBlock()
