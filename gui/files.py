"""The File menu's sessions and exports.

:class:`FileActions` belongs to the main window. It adds to the File menu:

- **Open session…** (Ctrl+Shift+O), **Save session** (Ctrl+S), **Save session as…** (Ctrl+Shift+S);
- **Export ▸** the current tab's plots by name (PNG or SVG), **History as CSV…**, **Trajectory as CSV…**,
  **Report…** (:mod:`gui.share`), **Animation…** (:mod:`gui.animation`).

Saving pauses any training and waits for it without running an event loop, so nothing the user does can
happen in the middle of a save: the states are taken, the file is written (atomically: a crash mid-write
leaves the old file whole), and the runs that were going go on. Opening reads and checks every tab's part
first and swaps them in only when all are good: a bad file changes nothing and gets a one-line message; a
fault of fitscope's own while swapping puts every tab back as it was and says so.
"""

from __future__ import annotations

import logging
import os

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu, QMessageBox

from fitscope.engine.data import BUILTIN
from fitscope.engine.run import StateError
from fitscope.gui import animation, export, prefs, share
from fitscope.gui.session import FILTER, SUFFIX, SessionError, read_session, write_session
from fitscope.gui.views.base import TrainingView
from fitscope.gui.worker import one_line

log = logging.getLogger(__name__)


class FileActions(QObject):
    """Sessions and exports for ``window`` (a :class:`fitscope.gui.app.MainWindow`)."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.session_path: str | None = None

        self.open_action = self._action("Open s&ession…", self.open_session, QKeySequence("Ctrl+Shift+O"),
                                        "Open a saved session: data, settings, weights, trajectory and history")
        self.save_action = self._action("&Save session", self.save_session, QKeySequence.StandardKey.Save,
                                        "Save everything in every tab to a session file")
        self.save_as_action = self._action("Save session &as…", lambda: self.save_session(ask=True),
                                           QKeySequence("Ctrl+Shift+S"), "Save the session to another file")
        self.export_menu = QMenu("E&xport", window)
        self.export_menu.setObjectName("exportMenu")
        self.export_menu.aboutToShow.connect(self.fill_export_menu)
        window.statusBar().setSizeGripEnabled(False)  # there from the start: "Session saved…" moves nothing

    def _action(self, text: str, slot, shortcut: QKeySequence, tip: str) -> QAction:
        action = QAction(text, self.window)
        action.setShortcut(shortcut)
        action.setStatusTip(tip)
        action.setToolTip(tip)
        action.triggered.connect(lambda _=False: slot())
        return action

    def add_to_menu(self, menu: QMenu) -> None:
        """Open, Save, Save as, Export ▸ and a separator, at the end of ``menu``."""
        for action in (self.open_action, self.save_action, self.save_as_action):
            menu.addAction(action)
        menu.addSeparator()
        menu.addMenu(self.export_menu)
        menu.addSeparator()

    @property
    def training_views(self) -> list[TrainingView]:
        return [v for v in self.window.views if isinstance(v, TrainingView)]

    # ------------------------------------------------------------------ messages
    def _warn(self, title: str, text: str, capital: bool = False) -> None:
        QMessageBox.warning(self.window, title, export.sentence(text, capital))

    def _status(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 6000)

    def _set_path(self, path: str | None) -> None:
        self.session_path = path
        self.window.update_title()

    # ------------------------------------------------------------------ sessions
    def save_session(self, path: str | None = None, ask: bool = False) -> bool:
        """Save every tab to ``path`` (default: the session's file, or ask for one). True if saved."""
        if path is None:
            path = self.session_path if self.session_path and not ask else None
        if path is None:
            start = self.session_path or prefs.suggested_path(f"fitscope-session{SUFFIX}")
            path, _ = QFileDialog.getSaveFileName(self.window, "Save session", start, FILTER)
            path = prefs.completed_save_path(self.window, path, SUFFIX) if path else None
            if path is None:
                return False
        prefs.remember_folder(path)
        views = self.training_views
        was_running = [v for v in views if v.controller.running]
        try:
            if not all(v.pause(wait=True) for v in views):
                self._warn("Save session", "Cannot save now: training did not pause. Try again in a moment.")
                return False
            states = {v.objectName(): v.session_state() for v in views}
            inputs = [v.model.dataset.source for v in views if v.model.dataset.source not in BUILTIN]
            write_session(path, self.window.current_view().objectName(), states, inputs=inputs)
        except SessionError as e:
            self._warn("Save session", str(e), capital=True)
            return False
        finally:
            self._resume(was_running)
        self._set_path(path)
        self._status(f"Session saved to {path}")
        return True

    @staticmethod
    def _resume(views: list[TrainingView]) -> None:
        """Let the runs that were going go on (those that did not stop are left alone)."""
        for view in views:
            if not view.controller.running:
                view.toggle_run()

    def open_session(self, path: str | None = None) -> bool:
        """Open the session at ``path`` (default: ask). True if opened; else nothing has changed."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self.window, "Open session", prefs.last_folder(), FILTER)
            if not path:
                return False
        prefs.remember_folder(path)
        name = os.path.basename(path) or path
        try:
            doc = read_session(path)
        except SessionError as e:
            self._warn("Open session", str(e))
            return False
        views = [v for v in self.training_views if v.objectName() in doc["views"]]
        prepared = []
        for view in views:
            try:
                prepared.append((view, view.prepare(doc["views"][view.objectName()])))
            except (SessionError, StateError) as e:
                self._warn("Open session", f"Cannot open {name}: {e}")
                return False
            except (ValueError, KeyError, TypeError, IndexError, OverflowError, RecursionError) as e:
                # The file's values: a missing field, a wrong type, a number too large for what it stands for.
                if isinstance(e, KeyError):
                    what = f"lacks {str(e.args[0])[:40]!r}"
                elif isinstance(e, ValueError):
                    what = str(e) or "is malformed"
                else:
                    what = "holds values a session cannot have"
                self._warn("Open session", f"{name} is damaged: the {view.title} tab's part: {what}")
                return False
            except Exception as e:  # noqa: BLE001 (a fault of fitscope's, not of the file; nothing has changed)
                log.exception("opening a session")
                self._warn("Open session", f"Cannot open {name}: fitscope failed while reading it ({one_line(e)}); "
                           "nothing has changed")
                return False
        was_running = [view for view in views if view.controller.running]
        for view in views:
            view.pause(wait=True)
        before = [(view, view.model, view.view_state()) for view in views]
        try:
            for view, part in prepared:
                view.apply(part)
        except Exception as e:  # noqa: BLE001 (a fault of fitscope's: put every tab back as it was)
            log.exception("swapping in a session")
            for view, model, state in before:
                view.bind(model)
                try:
                    view.apply_view_state(view.check_view_state(state, model))
                except Exception:  # noqa: BLE001 (the model is back; a view's own state is a detail)
                    log.exception("putting a tab back")
            self._resume(was_running)
            self._warn("Open session", f"Cannot open {name}: fitscope failed while showing it ({one_line(e)}); "
                       "every tab is as it was")
            return False
        current = doc.get("current_view")
        for i, view in enumerate(self.window.views):
            if view.objectName() == current:
                self.window.tabs.setCurrentIndex(i)
        self._set_path(path)
        self._status(f"Session opened from {path}")
        return True

    def forget_session(self) -> None:
        """The window no longer shows the session's file (other data was opened)."""
        if self.session_path is not None:
            self._set_path(None)

    # ------------------------------------------------------------------ exports
    def fill_export_menu(self) -> None:
        """The current tab's plots, by name, then the run's numbers as CSV."""
        menu = self.export_menu
        menu.clear()
        view = self.window.current_view()
        if view is None:
            return
        for name, gv in export.plots_of(view):
            action = menu.addAction(f"{name}…")
            action.setStatusTip(f"Save the plot '{name}' as a PNG image or an SVG drawing")
            action.triggered.connect(lambda _=False, gv=gv, name=name: export.ask_and_export_picture(gv, name))
        menu.addSeparator()
        has_run = export.run_of(view) is not None
        for what, text in (("history", "&History as CSV…"), ("trajectory", "&Trajectory as CSV…")):
            action = menu.addAction(text)
            action.setEnabled(has_run)
            option = "--trace" if what == "trajectory" else "--history"
            action.setStatusTip(f"The {what} of this tab's run, as fitscope fit {option} writes it" if has_run
                                else "This tab has no single run to export")
            action.triggered.connect(lambda _=False, view=view, what=what: export.ask_and_export_csv(view, what))
        menu.addSeparator()
        report = menu.addAction("&Report…")
        report.setEnabled(has_run)
        report.setStatusTip("One HTML file: this tab's settings, data, final numbers, history and plots" if has_run
                            else "This tab has no single run to report")
        report.triggered.connect(lambda _=False, view=view: share.ask_and_export_report(view))
        movie = menu.addAction("&Animation…")
        movie.setEnabled(animation.can_animate(view))
        movie.setStatusTip("An animated GIF of this tab's run, drawn from its recorded steps"
                           if movie.isEnabled() else "This tab has no training run to animate")
        movie.triggered.connect(lambda _=False, view=view: animation.ask_and_export_animation(view))

    # ------------------------------------------------------------------ remembered settings
    def remember(self) -> None:
        """Each tab remembers its settings for its data set, for the next launch (a tab never built keeps what it
        remembered: it took up nothing else). Each takes them up as it is built (``TrainingView.recall``)."""
        for view in self.window.built_views():
            if isinstance(view, TrainingView):
                view.remember()
