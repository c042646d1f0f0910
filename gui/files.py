"""The File menu's sessions and exports, and the settings the app remembers between runs.

:class:`FileActions` belongs to the main window. It adds to the File menu:

- **Open session…** (Ctrl+Shift+O), **Save session** (Ctrl+S), **Save session as…** (Ctrl+Shift+S);
- **Export ▸** the current view's plots by name (PNG or SVG), **History as CSV…**, **Trajectory as CSV…**.

Saving pauses any training for the moment it takes (the saved state is exact: taken between two batches,
with every change of a setting applied), then lets it go on. Opening builds every view's part first and
swaps them in only when all are good: a bad file changes nothing and gets a one-line message.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QEventLoop, QObject, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu, QMessageBox

from fitscope.gui import export, prefs
from fitscope.gui.session import FILTER, SUFFIX, SessionError, read_session, write_session

PAUSE_TIMEOUT_MS = 5000


def _trainer_of(view):
    """What the view's controller trains: a race, or the experiment's trainer (None for views without)."""
    if hasattr(view, "race"):
        return view.race
    experiment = getattr(view, "experiment", None)
    return None if experiment is None else experiment.trainer


def pause(view) -> bool:
    """Stop the view's training at its next report and wait until the worker is idle; True if it was running."""
    controller = getattr(view, "controller", None)
    if controller is None:
        return False
    was_running = controller.running
    if controller.busy:
        controller.pause()
        loop = QEventLoop()
        timer = QTimer(singleShot=True, interval=PAUSE_TIMEOUT_MS)
        timer.timeout.connect(loop.quit)
        controller.stopped.connect(loop.quit)
        timer.start()
        try:
            while controller.busy and timer.isActive():
                loop.exec()
        finally:
            controller.stopped.disconnect(loop.quit)
            timer.stop()
    return was_running


class FileActions(QObject):
    """Sessions, exports and remembered settings for ``window`` (a :class:`gui.app.MainWindow`)."""

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
        export.install_view_menus(window.tabs)  # the plain graphics views (pyqtgraph's: in quiet_plot)
        window.statusBar().setSizeGripEnabled(False)  # there from the start: "Session saved…" moves nothing

    def _action(self, text: str, slot, shortcut: QKeySequence, tip: str) -> QAction:
        action = QAction(text, self.window)
        action.setShortcut(shortcut)
        action.setStatusTip(tip)
        action.setToolTip(tip)
        action.triggered.connect(lambda _=False: slot())
        return action

    def add_to_menu(self, menu: QMenu, before: QAction | None = None) -> None:
        """Open, Save, Save as, Export ▸ and a separator, inserted before ``before`` (or at the end)."""
        for action in (self.open_action, self.save_action, self.save_as_action):
            menu.insertAction(before, action)
        menu.insertSeparator(before)
        menu.insertMenu(before, self.export_menu)
        menu.insertSeparator(before)

    # ------------------------------------------------------------------ messages
    def _warn(self, title: str, text: str, capital: bool = False) -> None:
        QMessageBox.warning(self.window, title, export.sentence(text, capital))

    def _status(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 6000)

    def _set_path(self, path: str | None) -> None:
        self.session_path = path
        name = os.path.basename(path) if path else ""
        self.window.setWindowTitle(f"{name} — fitscope" if name else "fitscope")

    # ------------------------------------------------------------------ sessions
    def save_session(self, path: str | None = None, ask: bool = False) -> bool:
        """Save every view to ``path`` (default: the session's file, or ask for one). True if saved."""
        if path is None:
            path = self.session_path if self.session_path and not ask else None
        if path is None:
            start = self.session_path or prefs.suggested_path(f"fitscope-session{SUFFIX}")
            path, _ = QFileDialog.getSaveFileName(self.window, "Save session", start, FILTER)
            if not path:
                return False
            if not os.path.splitext(path)[1]:
                path += SUFFIX
        prefs.remember_folder(path)
        views = [v for v in self.window.views if hasattr(v, "session_state")]
        resume = []
        try:
            for view in views:
                if pause(view):
                    resume.append(view)
                trainer = _trainer_of(view)
                if trainer is not None and not view.controller.busy:
                    view.controller.settle(trainer)
            if any(v.controller.busy for v in views):
                self._warn("Save session", "Cannot save now: training did not pause. Try again in a moment.")
                return False
            states = {v.objectName(): v.session_state() for v in views}
            current = self.window.current_view().objectName()
            write_session(path, current, states)
        except SessionError as e:
            self._warn("Save session", str(e), capital=True)
            return False
        finally:
            for view in resume:
                view.toggle_run()
        self._set_path(path)
        self._status(f"Session saved to {path}")
        return True

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
        applies = []
        for view in self.window.views:
            key = view.objectName()
            if key not in doc["views"] or not hasattr(view, "prepare_session"):
                continue
            try:
                state = doc["views"][key]
                if not isinstance(state, dict):
                    raise ValueError(f"its part for the {view.title} tab is not a JSON object")
                applies.append(view.prepare_session(state))
            except SessionError as e:
                self._warn("Open session", f"Cannot open {name}: {e}")
                return False
            except KeyError as e:
                self._warn("Open session", f"{name} is damaged: the {view.title} tab's part lacks {e.args[0]!r}")
                return False
            except Exception as e:  # noqa: BLE001 (nothing has changed yet: any failure is a damaged file)
                self._warn("Open session", f"{name} is damaged: {str(e) or type(e).__name__}")
                return False
        for apply in applies:
            apply()
        current = doc.get("current_view")
        for i, view in enumerate(self.window.views):
            if view.objectName() == current:
                self.window.tabs.setCurrentIndex(i)
        self._set_path(path)
        self._status(f"Session opened from {path}")
        return True

    # ------------------------------------------------------------------ exports
    def fill_export_menu(self) -> None:
        """The current view's plots, by name, then the run's numbers as CSV."""
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

    # ------------------------------------------------------------------ remembered settings
    def recall(self) -> None:
        """Set each view's controls as they were when the app last closed (damaged values are ignored)."""
        for view in self.window.views:
            if not hasattr(view, "recall_controls"):
                continue
            values = prefs.view_settings(view.objectName())
            if values:
                try:
                    view.recall_controls(values)
                except Exception:  # noqa: BLE001 (a remembered value must never stop the app from starting)
                    pass

    def remember(self) -> None:
        """Remember each view's controls for the next run."""
        from fitscope.gui.session import read_controls

        for view in self.window.views:
            if hasattr(view, "controls"):
                prefs.save_view_settings(view.objectName(), read_controls(view.controls()))
