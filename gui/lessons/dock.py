"""The lesson dock: a step's title and text, "step 3 of 14", Back / Show me / Next, and whether its check is met.

Help ▸ Guided lesson shows it (starting the built-in lesson the first time), Help ▸ Open lesson file… loads a
teacher's lesson. Before a lesson first changes the tabs, the student is offered to save their session.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from fitscope import resources
from fitscope.engine.data import BUILTIN
from fitscope.engine.lessons import Check, Lesson, LessonError, load, parse
from fitscope.gui import prefs
from fitscope.gui.lessons.player import LessonPlayer

BUILTIN_LESSON = "lessons/chapter2.md"
#: Remembered once the first-run offer was taken or dismissed (or a lesson was started): it is not made again.
OFFER_DONE = "lessons/first_run_offer_done"

#: How each condition of a check is said to the student.
SAID = {
    "phase_reached": "step until the {} phase shows", "diverged": "make training diverge",
    "steps_at_least": "take at least {} steps", "steps_at_most": "in at most {} steps",
    "epoch_at_least": "train {} epochs", "loss_below": "get the training loss below {:g}",
    "test_loss_below": "get the test loss below {:g}", "rate_below": "set a learning rate below {:g}",
    "rate_above": "set a learning rate above {:g}", "tab_is": "show the {} tab",
    "normalize": "normalization {}", "pass_done": "finish the backward pass",
}


def check_text(check: Check) -> str:
    """The check in words: "Your turn: make training diverge"."""
    parts = []
    for c in check.conditions:
        arg = {True: "on", False: "off"}.get(c.arg, c.arg) if c.name == "normalize" else c.arg
        parts.append(SAID[c.name].format(arg) if arg is not None else SAID[c.name])
    return "Your turn: " + ", ".join(parts) + "."


def builtin_lesson() -> Lesson:
    """The lesson shipped with the app (chapter 2)."""
    from importlib.resources import files
    return parse(files(resources).joinpath(BUILTIN_LESSON).read_text(encoding="utf-8"))


class LessonDock(QDockWidget):
    """The guided lesson beside the tabs (see the module's docstring)."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__("Guided lesson", window)
        self.setObjectName("lessonDock")
        self.main_window = window
        self.player = LessonPlayer(window)
        self.offered = False  # the student was offered to save their session
        self.offer: QWidget | None = None  # the first-run offer in the status bar (offer_first_run)
        self._build_ui()
        self.player.stepShown.connect(self._on_step)
        self.player.busyChanged.connect(self._on_busy)
        self.player.checkMet.connect(self._on_met)
        self.visibilityChanged.connect(self._on_visibility)
        self.action = QAction("Guided &lesson", self)
        self.action.setObjectName("lessonAction")
        self.action.setStatusTip("Chapter 2 step by step: each step sets the app up, shows you, and checks")
        self.action.triggered.connect(self.open_builtin)
        self.open_action = QAction("Open lesson &file…", self)
        self.open_action.setObjectName("openLessonAction")
        self.open_action.setStatusTip("Load a lesson a teacher wrote (a Markdown file; see the README)")
        self.open_action.triggered.connect(lambda: self.open_file())

    def _build_ui(self) -> None:
        body = QWidget(objectName="lessonBody")
        layout = QVBoxLayout(body)
        self.lesson_label = QLabel(objectName="lessonTitle", wordWrap=True)
        self.lesson_label.setStyleSheet("color: #555;")
        self.position_label = QLabel(objectName="lessonPosition")
        self.position_label.setStyleSheet("color: #555;")
        self.title_label = QLabel(objectName="lessonStepTitle", wordWrap=True)
        self.title_label.setStyleSheet("font-size: 13pt; font-weight: bold;")
        self.text_label = QLabel(objectName="lessonText", wordWrap=True)
        self.text_label.setTextFormat(Qt.TextFormat.MarkdownText)
        self.text_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.text_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.check_label = QLabel(objectName="lessonCheck", wordWrap=True)
        self.check_label.setStyleSheet("background: #fffbe6; border: 1px solid #e6d9a8; border-radius: 4px; "
                                       "padding: 6px;")
        self.status_label = QLabel(objectName="lessonStatus")
        self.status_label.setStyleSheet("color: #2e7d32; font-weight: bold;")
        page = QWidget(objectName="lessonPage")
        column = QVBoxLayout(page)
        column.setContentsMargins(0, 0, 4, 0)
        for w in (self.title_label, self.text_label, self.check_label, self.status_label):
            column.addWidget(w)
        column.addStretch(1)
        scroll = QScrollArea(widgetResizable=True, frameShape=QScrollArea.Shape.NoFrame)
        scroll.setWidget(page)
        scroll.setStyleSheet("QScrollArea, QWidget#lessonPage { background: transparent; }")
        buttons = QHBoxLayout()
        self.back_button = QPushButton("◀ &Back", objectName="lessonBack", clicked=self.back)
        self.show_button = QPushButton("&Show me", objectName="lessonShowMe", clicked=self.player.show_me)
        self.show_button.setToolTip("Do this step's actions in the app while you watch")
        self.next_button = QPushButton("&Next ▶", objectName="lessonNext", clicked=self.next)
        for button in (self.back_button, self.show_button, self.next_button):
            buttons.addWidget(button)
        layout.addWidget(self.lesson_label)
        layout.addWidget(self.position_label)
        layout.addWidget(scroll, 1)
        layout.addLayout(buttons)
        body.setMinimumWidth(340)
        self.setWidget(body)
        self.check_label.hide()
        self.title_label.setText("No lesson yet")
        self.lesson_label.setText("Guided lessons")
        self.text_label.setText("Press **Start** for the built-in lesson, chapter 2 step by step, or load a "
                                "teacher's lesson from Help ▸ Open lesson file.")
        self.back_button.setEnabled(False)
        self.show_button.setEnabled(False)
        self.next_button.setText("&Start")

    # ------------------------------------------------------------------ the first-run offer
    def offer_first_run(self) -> None:
        """On the very first launch (nothing remembered), offer the lesson in the status bar: a button, and a
        ✕ to dismiss it. Taken or dismissed, it is never made again."""
        settings = QSettings()
        if settings.value(OFFER_DONE) is not None or settings.contains("window/geometry"):
            return
        self.offer = QWidget(objectName="firstRunOffer")
        row = QHBoxLayout(self.offer)
        row.setContentsMargins(0, 0, 4, 0)
        row.setSpacing(2)
        start = QPushButton("New here? Start the guided lesson", objectName="firstRunStart")
        start.setFlat(True)
        start.setStyleSheet("QPushButton { color: #1565c0; font-weight: 600; padding: 2px 8px; }")
        start.setToolTip("Chapter 2 step by step (also in Help ▸ Guided lesson)")
        start.clicked.connect(self._take_offer)
        dismiss = QToolButton(objectName="firstRunDismiss", text="✕", autoRaise=True)
        dismiss.setToolTip("Not now (Help ▸ Guided lesson starts it any time)")
        dismiss.setAccessibleName("Dismiss the offer of the guided lesson")
        dismiss.clicked.connect(self.end_offer)
        row.addWidget(start)
        row.addWidget(dismiss)
        self.main_window.statusBar().addPermanentWidget(self.offer)

    @property
    def offering(self) -> bool:
        """Whether the first-run offer is in the status bar now."""
        offer = getattr(self, "offer", None)
        return offer is not None and not offer.isHidden()

    @Slot()
    def _take_offer(self) -> None:
        self.end_offer()
        self.open_builtin()

    @Slot()
    def end_offer(self) -> None:
        """Take the first-run offer away, for good."""
        QSettings().setValue(OFFER_DONE, True)
        offer = getattr(self, "offer", None)
        if offer is not None:
            self.main_window.statusBar().removeWidget(offer)
            offer.hide()
            offer.deleteLater()
            self.offer = None

    def add_to_menu(self, menu: QMenu) -> None:
        """Help ▸ Guided lesson and Help ▸ Open lesson file…"""
        menu.addAction(self.action)
        menu.addAction(self.open_action)

    # ------------------------------------------------------------------ lessons
    @Slot()
    def open_builtin(self) -> None:
        """Show the dock; the first time, start the built-in lesson."""
        if self.player.lesson is None:
            self.start(builtin_lesson())
        else:
            self.show()
            self.raise_()

    def open_file(self, path: str | None = None) -> bool:
        """Load the lesson at ``path`` (default: ask) and start it. A bad file: one line, nothing changes."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self.main_window, "Open lesson", prefs.last_folder(),
                                                  "Lessons (*.md *.txt);;All files (*)")
            if not path:
                return False
        try:
            lesson = load(path)
        except LessonError as e:
            QMessageBox.warning(self.main_window, "Open lesson", f"Cannot open this lesson: {str(e).rstrip('.')}.")
            return False
        prefs.remember_folder(path)
        return self.start(lesson)

    def start(self, lesson: Lesson) -> bool:
        """Start ``lesson`` at its first step, after offering to save what the student did. False if cancelled."""
        if not self.offer_to_save():
            return False
        self.end_offer()  # a lesson started: the first-run offer has done its work
        self.show()
        self.raise_()
        self.player.play(lesson)
        return True

    def student_work(self) -> bool:
        """Whether a tab holds something of the student's own: training done, or data of their own."""
        def touched(model) -> bool:
            histories = getattr(model, "histories", None) or [model.history]
            return any(h.steps for h in histories) or model.dataset.source not in BUILTIN

        return any(touched(v.model) for v in self.main_window.files.training_views)

    def offer_to_save(self) -> bool:
        """Before a lesson changes the tabs the first time: save the session? False if the student cancels."""
        if self.offered or not self.student_work():
            return True
        answer = QMessageBox.question(
            self.main_window, "Guided lesson", "The lesson sets the tabs up for each step. Save your session first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save)
        if answer == QMessageBox.StandardButton.Cancel:
            return False
        if answer == QMessageBox.StandardButton.Save and not self.main_window.files.save_session():
            return False
        self.offered = True
        return True

    # ------------------------------------------------------------------ moving
    @Slot()
    def back(self) -> None:
        if self.player.index > 0:
            self.player.show_step(self.player.index - 1)

    @Slot()
    def next(self) -> None:
        lesson = self.player.lesson
        if lesson is None:
            self.open_builtin()
        elif self.player.index < len(lesson.steps) - 1:
            self.player.show_step(self.player.index + 1)

    @Slot(int)
    def _on_step(self, index: int) -> None:
        lesson = self.player.lesson
        step = lesson.steps[index]
        self.lesson_label.setText(lesson.title)
        self.position_label.setText(f"step {index + 1} of {len(lesson.steps)}")
        self.title_label.setText(step.title)
        self.text_label.setText(step.text)
        self.check_label.setText(check_text(step.check) if step.check else "")
        self.check_label.setVisible(step.check is not None)
        self.status_label.setText("")
        self.back_button.setEnabled(index > 0)
        self.next_button.setText("&Next ▶")
        self.next_button.setEnabled(index < len(lesson.steps) - 1)
        self.show_button.setEnabled(bool(step.show))

    @Slot(bool)
    def _on_busy(self, busy: bool) -> None:
        step = self.player.step
        self.show_button.setEnabled(not busy and step is not None and bool(step.show))
        if busy:
            self.status_label.setText("Working…")
        elif not self.player.met:
            self.status_label.setText("")

    @Slot(int)
    def _on_met(self, index: int) -> None:
        self.status_label.setText("Done ✓")

    @Slot(bool)
    def _on_visibility(self, visible: bool) -> None:
        if not visible:
            self.player.cancel()  # leaving the lesson keeps the app as it is; only what it was doing stops

    @property
    def status(self) -> str:
        """What the dock says of the step's check now: "Done ✓", "Working…" or ""."""
        return self.status_label.text()

    def shutdown(self) -> None:
        self.player.shutdown()
