"""The code of the current tab's run, beside the tabs: View ▸ Code of this run.

:class:`CodeDock` (object name ``codeDock``, so the window's layout keeps it) holds a :class:`CodePanel`, which
shows the TensorFlow.js or Keras program of the run in the tab shown (:func:`fitscope.engine.codegen.code`):

- it follows the current tab and every change of its run (:attr:`TrainingView.runChanged`): data set,
  settings, a new start point. The lines a change touched (:func:`~fitscope.engine.codegen.changed_lines`)
  are highlighted until the next change, and scrolled into view if none of them is in sight;
- **Exact** writes the code that reproduces the run's numbers, from the run's own start (a point clicked on
  a map, say); without it, the code a person would write;
- the race has no single ``fit()`` call: the panel shows one racer's (a chooser names which); the
  backpropagation tab has none at all, and the panel says so;
- settings the code cannot express get their one-line reason in place of the code;
- the code is written in a background thread, the latest request winning (exact code of a long run writes
  tens of thousands of numbers), and not at all while the panel is hidden.

What a tab's run stands for in codegen's terms is :mod:`fitscope.gui.models.code`; the background writing is
:mod:`fitscope.gui.views.code_writer`; this module holds the dock's widgets.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QFont, QFontDatabase, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from fitscope.engine import codegen
from fitscope.engine.data import BUILTIN
from fitscope.engine.export import atomic_write
from fitscope.engine.run import NEW_RUN
from fitscope.gui import prefs
from fitscope.gui.export import ask_save_path, written
from fitscope.gui.models.code import CodeRequest, RunStarts, request_for
from fitscope.gui.models.race import RaceRun
from fitscope.gui.panels.code_view import CodeView
from fitscope.gui.views.backprop_view import BackpropView
from fitscope.gui.views.base import TrainingView
from fitscope.gui.views.code_writer import CodeResult, CodeWriter
from fitscope.gui.views.controls import OPTIMIZER_NAMES

#: The languages offered, as the chooser names them.
LANGUAGE_NAMES = {"tfjs": "TensorFlow.js", "keras": "Keras (Python)"}
#: What the Save dialog offers for each language.
FILTERS = {"tfjs": "JavaScript (*.js)", "keras": "Python (*.py)"}
#: Where the panel keeps its choices (language, exact) between launches.
PREFS_KEY = "codePanel"

# --------------------------------------------------------------------------- the panel
class CodePanel(QWidget):
    """The code of the current tab's run (see the module's docstring).

    Its widgets: :attr:`language` (a chooser), :attr:`exact` (a tick box), :attr:`racer` (the race's racer,
    shown on the race tab), :attr:`copy_button`, :attr:`save_button`, :attr:`note` (what the code is),
    :attr:`editor` (the code, read-only), :attr:`problem` (a one-line reason in place of the code) and
    :attr:`status` (the lines a change touched, Copy and Save's news).

    ``updated()``: new code or a problem is shown.
    """

    updated = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("codePanel")
        self._view: QWidget | None = None
        self._shown: CodeRequest | None = None  # the request whose code (or problem) is shown
        self._asked: CodeRequest | None = None  # the last request given to the writer
        self._stale = True  # something changed while the panel was hidden
        self._text = ""  # the code in the editor
        self._starts = RunStarts()  # each run's settings at its start
        self.writer = CodeWriter(self)
        self.writer.ready.connect(self._on_ready)
        self._soon = QTimer(self, singleShot=True, interval=0)  # several changes at once make one request
        self._soon.timeout.connect(self.update_code)
        self._build_ui()
        self._recall()

    def _build_ui(self) -> None:
        self.language = QComboBox()
        self.language.setObjectName("codeLanguage")
        self.language.setAccessibleName("Language of the code")
        for lang in codegen.LANGUAGES:
            self.language.addItem(LANGUAGE_NAMES.get(lang, lang), lang)
        self.language.setToolTip("TensorFlow.js (a Node.js script, as in the book) or Keras 3 (a Python script)")
        self.exact = QCheckBox("Exact")
        self.exact.setObjectName("codeExact")
        self.exact.setToolTip("Code that reproduces this run's numbers: its start weights (a point you clicked, "
                              "say) and its row orders written out, the loss printed after every epoch")
        self.racer = QComboBox()
        self.racer.setObjectName("codeRacer")
        self.racer.setAccessibleName("Racer whose code is shown")
        self.racer.setToolTip("The race has no single fit() call: whose code to show")
        self.racer_label = QLabel("Racer")
        self.copy_button = QPushButton("Copy")
        self.copy_button.setObjectName("codeCopy")
        self.copy_button.setToolTip("Copy the whole code to the clipboard")
        self.save_button = QPushButton("Save as…")
        self.save_button.setObjectName("codeSave")
        self.save_button.setToolTip("Save the code to a file")
        row = QHBoxLayout()
        row.setSpacing(6)
        for w in (self.language, self.exact, self.racer_label, self.racer):
            row.addWidget(w)
        row.addStretch(1)
        row.addWidget(self.copy_button)
        row.addWidget(self.save_button)

        self.note = QLabel()
        self.note.setObjectName("codeNote")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #555;")
        self.editor = CodeView()
        self.editor.setObjectName("codeText")
        self.editor.setAccessibleName("Code of the run")
        self.editor.setReadOnly(True)
        self.editor.setUndoRedoEnabled(False)
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.editor.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                            | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setPointSizeF(max(8.0, font.pointSizeF() - 1))
        self.editor.setFont(font)
        self.writer.font = QFont(font)
        self.editor.setStyleSheet("QPlainTextEdit#codeText { background: #ffffff; }")
        self.problem = QLabel()
        self.problem.setObjectName("codeProblem")
        self.problem.setWordWrap(True)
        self.problem.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.problem.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problem.hide()
        self.status = QLabel()
        self.status.setObjectName("codeStatus")
        self.status.setStyleSheet("color: #555;")

        column = QVBoxLayout(self)
        column.setContentsMargins(6, 4, 6, 4)
        column.setSpacing(4)
        column.addLayout(row)
        column.addWidget(self.note)
        column.addWidget(self.editor, 1)
        column.addWidget(self.problem)
        column.addStretch(0)
        column.addWidget(self.status)

        self.language.currentIndexChanged.connect(self._on_choice)
        self.exact.toggled.connect(self._on_choice)
        self.racer.currentIndexChanged.connect(self._on_choice)
        self.copy_button.clicked.connect(self.copy)
        self.save_button.clicked.connect(self.save_as)
        self._show_racers(None)

    # ------------------------------------------------------------------ what to show
    @property
    def lang(self) -> str:
        return self.language.currentData()

    @property
    def text(self) -> str:
        """The code shown ("" while a problem is shown instead)."""
        if self._shown is None or not self.problem.isHidden():
            return ""
        return self._text

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        """Wide enough for the code's lines at first (about 84 characters); the dock can be resized."""
        hint = super().sizeHint()
        return QSize(max(hint.width(), self.editor.fontMetrics().horizontalAdvance("x" * 84)), hint.height())

    def follow(self, view: QWidget | None) -> None:
        """Show the code of ``view``'s run (the tab shown now), and follow its changes."""
        if view is self._view:
            return
        if isinstance(self._view, TrainingView):
            self._view.runChanged.disconnect(self._on_run_changed)
        self._view = view
        if isinstance(view, TrainingView):
            view.runChanged.connect(self._on_run_changed)
            self._starts.follow(view.model)
        self.schedule()

    @Slot(str)
    def _on_run_changed(self, what: str) -> None:
        model = getattr(self._view, "model", None)
        if what == NEW_RUN and model is not None:
            self._starts.restarted(model)
        self.schedule()

    def _on_choice(self, *_args) -> None:
        prefs.save_view_settings(PREFS_KEY, {"lang": self.lang, "exact": self.exact.isChecked()})
        self.schedule()

    def _recall(self) -> None:
        values = prefs.view_settings(PREFS_KEY)
        index = self.language.findData(values.get("lang"))
        blocked = self.language.blockSignals(True), self.exact.blockSignals(True)
        if index >= 0:
            self.language.setCurrentIndex(index)
        if isinstance(values.get("exact"), bool):
            self.exact.setChecked(values["exact"])
        self.language.blockSignals(blocked[0])
        self.exact.blockSignals(blocked[1])

    def schedule(self) -> None:
        """Update the code soon (changes made together make one request); nothing while hidden."""
        if not self.isVisible():
            self._stale = True
            self.writer.invalidate()
            return
        self._soon.start()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if self._stale:
            self.schedule()

    def update_code(self) -> None:
        """Ask for the code of the run shown now (if anything it depends on changed)."""
        if not self.isVisible():
            self._stale = True
            return
        self._stale = False
        model = getattr(self._view, "model", None)
        self._show_racers(model if isinstance(model, RaceRun) else None)
        request = request_for(self._view, self.lang, self.exact.isChecked(), self.racer.currentData(),
                              by_hand=isinstance(self._view, BackpropView))
        request = self._starts.noted(request, model)
        if request.same_as(self._shown):
            self.writer.invalidate()  # back to what is shown: an answer to a request made since is not wanted
            return
        if request.problem:
            self.writer.invalidate()
            self._show(CodeResult(self.writer.token, request, "", request.problem))
            return
        if self.writer.busy and request.same_as(self._asked):
            return  # on its way
        comparable = request.same_run(self._shown) and self.problem.isHidden()
        self._asked = request
        self.writer.request(request, self._text if comparable else None)

    def _show_racers(self, race: RaceRun | None) -> None:
        """The racer chooser: shown on the race tab, listing the optimizers in the race."""
        keys = list(race.keys) if race is not None else []
        current = [self.racer.itemData(i) for i in range(self.racer.count())]
        if keys != current:
            wanted = self.racer.currentData()
            blocked = self.racer.blockSignals(True)
            self.racer.clear()
            for key in keys:
                self.racer.addItem(OPTIMIZER_NAMES.get(key, key), key)
            index = self.racer.findData(wanted)
            self.racer.setCurrentIndex(index if index >= 0 else 0)
            self.racer.blockSignals(blocked)
        self.racer.setVisible(bool(keys))
        self.racer_label.setVisible(bool(keys))

    @Slot(object)
    def _on_ready(self, result: CodeResult) -> None:
        if self.isVisible():
            self._show(result)

    def _show(self, result: CodeResult) -> None:
        request, before = result.request, self._shown
        self._shown = request
        self.note.setText(request.note)
        self.note.setVisible(bool(request.note) and not result.error)
        if result.error:
            self.problem.setText(result.error)
            kind = "note" if request.problem else "error"  # no code to show here, or settings it cannot express
            self.problem.setStyleSheet(
                "QLabel#codeProblem { padding: 8px; border-radius: 6px; "
                + ("background: #e8f1fb; border: 1px solid #b6d0ee; color: #0d3c6e; }" if kind == "note" else
                   "background: #fdecea; border: 1px solid #f5c2c0; color: #8a1c12; }"))
            self.editor.hide()
            self.problem.show()
            self._set_changed([])
            self.status.setText("")
            for button in (self.copy_button, self.save_button):
                button.setEnabled(False)
            self.updated.emit()
            return
        self.problem.hide()
        self.editor.show()
        for button in (self.copy_button, self.save_button):
            button.setEnabled(True)
        removed = self._text.count("\n") - result.text.count("\n")
        if result.text != self._text:
            self._set_text(result, keep_place=result.changed is not None)
        else:
            removed = 0
        changed = list(result.changed or [])
        self._set_changed(changed)
        n = result.text.count("\n")
        if result.changed is None:
            self.status.setText(f"{n:,} lines")
        elif changed:
            where = f"line {changed[0] + 1:,}" if len(changed) == 1 else f"{len(changed):,} lines, from line " \
                    f"{changed[0] + 1:,}"
            self.status.setText(f"{n:,} lines · changed: {where} (highlighted)")
            self._bring_into_view(changed)
        elif removed > 0:
            self.status.setText(f"{n:,} lines · the last change took out {removed:,} line{'s' * (removed > 1)}")
        elif before is not None and (before.settings != request.settings or before.start != request.start
                                     or before.dataset is not request.dataset):
            hint = "" if request.exact else ": ordinary code starts from random weights and lets fit() shuffle"
            self.status.setText(f"{n:,} lines · the last change does not show in the code{hint}")
        self.updated.emit()

    def _set_text(self, result: CodeResult, keep_place: bool) -> None:
        bar = self.editor.verticalScrollBar()
        top, left = bar.value(), self.editor.horizontalScrollBar().value()
        self.editor.mark([])
        self.editor.show_document(result.document)
        self._text = result.text
        if keep_place:
            bar.setValue(min(top, bar.maximum()))
            self.editor.horizontalScrollBar().setValue(left)

    def _set_changed(self, lines: list[int]) -> None:
        """Highlight ``lines`` (0-based) until the next change."""
        self.editor.mark(lines)

    def highlighted_lines(self) -> list[int]:
        """The lines (0-based) highlighted as touched by the last change."""
        return self.editor.marked()

    def _bring_into_view(self, lines: list[int]) -> None:
        """If none of ``lines`` is in sight, scroll the first of them into view."""
        top = self.editor.firstVisibleBlock().blockNumber()
        shown = max(1, self.editor.viewport().height() // max(1, self.editor.fontMetrics().lineSpacing()))
        if any(top <= line < top + shown for line in lines):
            return
        bar = self.editor.verticalScrollBar()
        bar.setValue(max(0, min(bar.maximum(), lines[0] - shown // 3)))

    # ------------------------------------------------------------------ Copy and Save as
    def copy(self) -> None:
        """The whole code to the clipboard."""
        text = self.text
        if not text:
            return
        QApplication.clipboard().setText(text)
        self.status.setText(f"Copied the {LANGUAGE_NAMES[self._shown.lang].split(' ')[0]} code "
                            f"({text.count(chr(10)):,} lines) to the clipboard")

    def save_as(self) -> str | None:
        """Ask for a file (suggesting :func:`~fitscope.engine.codegen.file_name`) and write the code into it, whole
        or not at all. The path written, or None."""
        text, request = self.text, self._shown
        if not text or request is None or request.dataset is None:
            return None
        lang = request.lang
        path = ask_save_path(self, "Save the code", codegen.file_name(request.dataset, lang),
                             f"{FILTERS[lang]};;All files (*)", codegen.SUFFIXES[lang])
        if path is None:
            return None
        source = request.dataset.source
        inputs = () if source in BUILTIN else (source,)  # the data file is never written over
        if not written(self, lambda: atomic_write(path, text, inputs=inputs), "Save the code"):
            return None
        self.status.setText(f"Saved to {path}")
        return path

    def shutdown(self) -> None:
        """Stop the background writer (safe to call more than once)."""
        self._soon.stop()
        self.writer.shutdown()


class CodeDock(QDockWidget):
    """The :class:`CodePanel` in a dock of the main window, hidden at first; :attr:`action` (View ▸ Code of this
    run, Ctrl+Shift+C) shows and hides it."""

    SHORTCUT = "Ctrl+Shift+C"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Code of this run", parent)
        self.setObjectName("codeDock")
        self.panel = CodePanel(self)
        self.setWidget(self.panel)
        self.action = self.toggleViewAction()
        self.action.setText("&Code of this run")
        self.action.setObjectName("showCodeAction")
        self.action.setShortcut(QKeySequence(self.SHORTCUT))
        self.action.setStatusTip("Show the TensorFlow.js or Keras code of the current tab's run")
        self.hide()

    def follow(self, view: QWidget | None) -> None:
        """Show the code of ``view``'s run."""
        self.panel.follow(view)

    def shutdown(self) -> None:
        self.panel.shutdown()
