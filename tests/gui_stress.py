"""Stress drivers for the whole app, shared by the tests and ``make bench``: a seeded monkey and a closer.

Not a test module itself (pytest collects ``test_*.py`` only). Everything here needs a QApplication and
nothing from pytest, so ``benchmarks/monkey_bench.py`` runs the same code for longer.

- :class:`ErrorTrap` catches what a user would never see but must never happen: an exception raised in any
  slot (``sys.excepthook``) and Qt's critical or fatal messages, thread warnings among them.
- :class:`Monkey` performs random user actions on a :class:`~gui.app.MainWindow` (clicks, keys, steps, runs,
  extreme settings, tab switches, data sets, bad and good files, sessions, exports) from one seed, and
  checks the invariants every few actions (:meth:`Monkey.check`).
- :func:`close_mid_run` opens a window, starts runs in one to three random tabs and closes the window a
  random moment later: the close must be quick and leave no thread behind.

Actions whose menu entry the window lacks (Open CSV, sessions, exports) are left out, not failed.
"""

from __future__ import annotations

import contextlib
import math
import random
import re
import sys
import time
import traceback
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PySide6.QtCore import (
    QMimeData,
    QPoint,
    QPointF,
    Qt,
    QThread,
    QtMsgType,
    QUrl,
    qInstallMessageHandler,
)
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QLabel, QMessageBox, QTableWidget

from fitscope.engine.numbers import prose

#: Qt warnings that mean a real fault (a thread destroyed while running, a timer touched from the wrong
#: thread, a shortcut that fires nothing): treated as failures even though Qt only warns.
BAD_WARNINGS = (
    "QThread",
    "Destroyed while thread",
    "Ambiguous shortcut",
    "Timers cannot",
    "QBasicTimer",
    "Cannot queue arguments",
    "Cannot create children for a parent that is in a different thread",
    "QObject::killTimer",
    "QObject::startTimer",
)


class MonkeyFailure(AssertionError):
    """An invariant broken or an error caught; the message says how to reproduce it."""


# --------------------------------------------------------------------------- errors in slots and Qt messages
class ErrorTrap:
    """Records every uncaught exception (any slot, any thread that reports through ``sys.excepthook``) and
    every Qt critical/fatal message, and Qt warnings matching :data:`BAD_WARNINGS`.

    Use as a context manager; :attr:`errors` lists them as text. Messages are also passed on to the
    handler installed before (pytest-qt's, say).
    """

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.messages: list[tuple[str, str]] = []  # every Qt message: (type, text)
        self._old_hook = None
        self._old_handler = None

    def __enter__(self) -> ErrorTrap:
        self._old_hook = sys.excepthook
        sys.excepthook = self._excepthook
        self._old_handler = qInstallMessageHandler(self._handler)
        return self

    def __exit__(self, *exc) -> None:
        sys.excepthook = self._old_hook
        qInstallMessageHandler(self._old_handler)

    def _excepthook(self, kind, value, tb) -> None:
        self.errors.append("".join(traceback.format_exception(kind, value, tb)).rstrip())

    def _handler(self, mode, context, message) -> None:
        kind = {QtMsgType.QtDebugMsg: "debug", QtMsgType.QtInfoMsg: "info", QtMsgType.QtWarningMsg: "warning",
                QtMsgType.QtCriticalMsg: "critical", QtMsgType.QtFatalMsg: "fatal"}.get(mode, str(mode))
        self.messages.append((kind, message))
        if kind in ("critical", "fatal") or (kind == "warning" and any(w in message for w in BAD_WARNINGS)):
            self.errors.append(f"Qt {kind}: {message}")
            if kind == "fatal":  # Qt aborts after this call: say what happened first
                print(f"Qt fatal message: {message}", file=sys.stderr, flush=True)
        if self._old_handler is not None:
            with contextlib.suppress(Exception):
                self._old_handler(mode, context, message)

    def check(self, where: str = "") -> None:
        if self.errors:
            raise MonkeyFailure(f"{where}{len(self.errors)} error(s) caught:\n" + "\n---\n".join(self.errors))


# --------------------------------------------------------------------------- waiting without pytest
def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Process events until ``predicate()`` holds; :class:`MonkeyFailure` after ``timeout`` seconds."""
    end = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > end:
            raise MonkeyFailure(f"timed out after {timeout:g} s waiting for {what}")
        QTest.qWait(1)


def pump(ms: int = 0) -> None:
    """Let the event loop run for about ``ms`` milliseconds (0: the events already queued)."""
    if ms > 0:
        QTest.qWait(ms)
    else:
        QApplication.processEvents()


_started: weakref.WeakSet = weakref.WeakSet()
_original_start = None


def track_qthreads() -> None:
    """From now on, remember every QThread started from Python (weakly): :func:`running_qthreads` lists them.

    Cheaper than searching the garbage collector's objects at every check; idempotent.
    """
    global _original_start
    if _original_start is not None:
        return
    _original_start = start = QThread.start

    def tracked(self, *args, **kwargs):
        _started.add(self)
        return start(self, *args, **kwargs)

    QThread.start = tracked


def running_qthreads() -> list[QThread]:
    """Every QThread started since :func:`track_qthreads` that is running."""
    out = []
    for thread in list(_started):
        with contextlib.suppress(RuntimeError):  # the C++ object is gone
            if thread.isRunning():
                out.append(thread)
    return out


@contextlib.contextmanager
def coarse_grids() -> Iterator[None]:
    """Loss surfaces and slices on coarse grids: the same code paths, a fraction of the drawing time (most of
    a monkey's time otherwise goes into isolines)."""
    from fitscope.gui.views import pair_slice, race_view, surface_view

    patches = [(surface_view, "GRID", 40), (race_view, "GRID", 40), (pair_slice, "LINEAR_GRID", 30),
               (pair_slice, "LINEAR_GRID_RUNNING", 20), (pair_slice, "MLP_GRID", {1: 9, 2: 7})]
    saved = [(module, name, getattr(module, name)) for module, name, _ in patches]
    for module, name, value in patches:
        setattr(module, name, value)
    try:
        yield
    finally:
        for module, name, value in saved:
            setattr(module, name, value)


# --------------------------------------------------------------------------- modal dialogs never block
@contextlib.contextmanager
def no_modal_dialogs(answers: Iterator[str] | None = None) -> Iterator[list[str]]:
    """While active, file dialogs answer with the next path of ``answers`` (or nothing) and message boxes
    return at once. Yields the list of the messages shown (title: text), for checks."""
    shown: list[str] = []
    saved: list[tuple[type, str, object]] = []

    def patch(cls, name, fn):
        saved.append((cls, name, cls.__dict__.get(name, getattr(cls, name))))
        setattr(cls, name, fn)

    def next_path() -> str:
        return next(answers, "") if answers is not None else ""

    def open_name(*args, **kwargs):
        return next_path(), ""

    def open_names(*args, **kwargs):
        path = next_path()
        return ([path] if path else []), ""

    def message(kind):
        def show(parent=None, title="", text="", *args, **kwargs):
            shown.append(f"{kind}: {title}: {text}")
            return QMessageBox.StandardButton.Ok
        return staticmethod(show)

    def dialog_exec(self, *args, **kwargs):
        if isinstance(self, QMessageBox):
            shown.append(f"box: {self.windowTitle()}: {self.text()}")
        else:
            shown.append(f"dialog: {type(self).__name__}: {self.windowTitle()}")
        return QDialog.DialogCode.Rejected.value

    patch(QFileDialog, "getOpenFileName", staticmethod(open_name))
    patch(QFileDialog, "getOpenFileNames", staticmethod(open_names))
    patch(QFileDialog, "getSaveFileName", staticmethod(open_name))
    for kind in ("critical", "warning", "information", "question", "about"):
        patch(QMessageBox, kind, message(kind))
    for cls in (QDialog, QMessageBox, QFileDialog):
        patch(cls, "exec", dialog_exec)
    try:
        yield shown
    finally:
        for cls, name, old in reversed(saved):
            setattr(cls, name, old)


def close_stray_windows(window) -> None:
    """Close popups (a context menu) and any dialog left open, so the next action reaches the window."""
    for _ in range(5):
        popup = QApplication.activePopupWidget()
        if popup is None:
            break
        popup.close()
    modal = QApplication.activeModalWidget()
    if modal is not None and modal is not window:
        modal.close()


def bad_files(folder: Path) -> list[Path]:
    """Files a user might try to open that no loader can take, each in its own way."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "empty.csv": b"",
        "header_only.csv": b"x,y\n",
        "binary.csv": bytes(range(256)) * 8,
        "utf16.csv": "size_mb,time_sec\n1.5,0.2\n2.5,0.3\n".encode("utf-16"),
        "latin1.csv": "gr\xf6\xdfe,zeit\n1,2\n3,4\n".encode("latin-1"),
        "text.csv": b"a,b\nfoo,bar\nbaz,qux\n",
        "thousands.csv": b'x,y\n"1,000","2,000"\n"3,000","4,000"\n',
        "one_column.csv": b"x\n1\n2\n3\n",
        "ragged.csv": b"x,y\n1,2\n3\n4,5,6\n",
        "nan.csv": b"x,y\n1,nan\n2,inf\n",
        "one_row.csv": b"x,y\n1,2\n",
    }
    paths = []
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        paths.append(path)
    paths.append(folder / "does_not_exist.csv")
    paths.append(folder)  # a folder, not a file
    return paths


def good_files(folder: Path) -> list[Path]:
    """Files the app opens, some of them odd: two rows, a constant column, tiny and huge numbers."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    x = [rng.uniform(0, 10) for _ in range(40)]
    files = {
        "one_feature.csv": "size,time\n" + "".join(f"{v!r},{0.5 * v + 1 + rng.gauss(0, 0.3)!r}\n" for v in x),
        "two_rows.csv": "x,y\n1,2\n3,5\n",
        "three_features.csv": "a,b,c,y\n" + "".join(
            f"{v!r},{v * v!r},{rng.gauss(0, 1)!r},{2 * v + rng.gauss(0, 1)!r}\n" for v in x),
        "constant.csv": "k,x,y\n" + "".join(f"7,{v!r},{v + 1!r}\n" for v in x),
        "big_numbers.csv": "x,y\n" + "".join(f"{v * 1e6!r},{v * 3e9!r}\n" for v in x),
        "tiny_numbers.csv": "x;y\n" + "".join(f"{v * 1e-6:.6e};{v * 1e-9:.6e}\n" for v in x),
    }
    paths = []
    for name, text in files.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def find_action(menu, *words: str):
    """The first action of ``menu`` (or its submenus) whose text holds every word (case-insensitive)."""
    if menu is None:
        return None
    for action in menu.actions():
        text = action.text().replace("&", "").lower()
        if action.menu() is not None:
            found = find_action(action.menu(), *words)
            if found is not None:
                return found
        elif all(w in text for w in words):
            return action
    return None


# --------------------------------------------------------------------------- the monkey
class Monkey:
    """Random user actions on ``window`` from ``seed``; :meth:`run` performs them and checks invariants.

    Every action is a short, named function; the log of the last actions goes into any failure, with the
    seed and the action's number, so that ``Monkey(window, seed).run(n)`` reproduces it.
    """

    def __init__(self, window, seed: int, folder: Path | None = None, trap: ErrorTrap | None = None) -> None:
        from fitscope.gui.views.backprop_view import BackpropView
        from fitscope.gui.views.boston_view import BostonView
        from fitscope.gui.views.race_view import RaceView
        from fitscope.gui.views.surface_view import SurfaceView

        self.window = window
        self.seed = seed
        self.rng = random.Random(seed)
        self.trap = trap
        self.log: list[str] = []
        self.counts: dict[str, int] = {}
        self.done = 0
        by_type = {type(v): v for v in window.views}
        self.surface: SurfaceView = by_type[SurfaceView]
        self.boston: BostonView = by_type[BostonView]
        self.backprop: BackpropView = by_type[BackpropView]
        self.race: RaceView = by_type[RaceView]
        self.training_views = [self.surface, self.boston, self.race]
        self.files = bad_files(folder) if folder is not None else []
        self.good = good_files(folder / "good") if folder is not None else []
        self.open_action = find_action(getattr(window, "file_menu", None), "open", "csv")
        files = getattr(window, "files", None)  # sessions (File > Save session, Open session), if the app has them
        self.sessions = files if hasattr(files, "save_action") and hasattr(files, "open_action") else None
        self.folder = folder
        self.actions: list[tuple[str, float, Callable[[], None]]] = self._actions()

    # ------------------------------------------------------------------ helpers
    def _say(self, text: str) -> None:
        self.log.append(f"#{self.done}: {text}")
        if len(self.log) > 60:
            del self.log[:20]

    def _fail(self, message: str) -> None:
        tail = "\n".join(self.log[-25:])
        raise MonkeyFailure(f"monkey seed {self.seed}, action #{self.done}: {message}\nlast actions:\n{tail}")

    def _show(self, view) -> None:
        if self.window.tabs.currentWidget() is not view:
            self.window.tabs.setCurrentWidget(view)

    def _lr(self, hi: float = 1000.0) -> float:
        r = self.rng.random()
        if r < 0.15:
            return 1e-6
        if r < 0.3:
            return hi
        return 10 ** self.rng.uniform(-6, math.log10(hi))

    def _int(self, lo: int, hi: int) -> int:
        r = self.rng.random()
        if r < 0.15:
            return lo
        if r < 0.3:
            return hi
        return self.rng.randint(lo, hi)

    def _epochs(self, hi: int) -> int:
        return self.rng.choice([1, 2, 3, 5, 20, 200, hi])

    def _key(self, view, key: Qt.Key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
        """A key press as a user makes it: to the visible tab, with the window active."""
        self._show(view)
        if not self.window.isActiveWindow():
            self.window.activateWindow()
        QTest.keyClick(view, key, modifier)

    def _click_panel(self, panel, point: tuple[float, float] | None, button=Qt.MouseButton.LeftButton) -> None:
        """A click on a SurfacePanel: at parameter ``point``, or (None) anywhere on its widget."""
        viewport = panel.graphics.viewport()
        if point is None:
            pos = QPoint(self.rng.randint(0, max(0, viewport.width() - 1)),
                         self.rng.randint(0, max(0, viewport.height() - 1)))
        else:
            p = panel.widget_pos_of(*point)
            if not (abs(p.x()) < 1e6 and abs(p.y()) < 1e6):
                return
            pos = QPoint(int(p.x()), int(p.y()))
        QTest.mouseClick(viewport, button, Qt.KeyboardModifier.NoModifier, pos)
        if button != Qt.MouseButton.LeftButton:
            close_stray_windows(self.window)

    def _inside(self, panel) -> tuple[float, float]:
        x0, x1, y0, y1 = panel.visible_range()
        return self.rng.uniform(x0, x1), self.rng.uniform(y0, y1)

    def _wheel(self, panel) -> None:
        viewport = panel.graphics.viewport()
        pos = QPointF(viewport.width() / 2 + self.rng.uniform(-100, 100), viewport.height() / 2)
        delta = self.rng.choice([-480, -120, 120, 480])
        event = QWheelEvent(pos, viewport.mapToGlobal(pos), QPoint(0, 0), QPoint(0, delta),
                            Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                            False)
        QApplication.sendEvent(viewport, event)

    def _drag(self, panel) -> None:
        viewport = panel.graphics.viewport()
        w, h = viewport.width(), viewport.height()
        start = QPoint(self.rng.randint(w // 4, 3 * w // 4), self.rng.randint(h // 4, 3 * h // 4))
        end = start + QPoint(self.rng.randint(-150, 150), self.rng.randint(-150, 150))
        QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
        for k in range(1, 4):
            QTest.mouseMove(viewport, start + (end - start) * (k / 3))
        QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)

    # ------------------------------------------------------------------ the actions
    def _actions(self) -> list[tuple[str, float, Callable[[], None]]]:
        s, bo, bp, ra = self.surface, self.boston, self.backprop, self.race
        rng = self.rng
        acts: list[tuple[str, float, Callable[[], None]]] = []

        def add(name: str, weight: float, fn: Callable[[], None]) -> None:
            acts.append((name, weight, fn))

        # Global: tabs, by click and by Ctrl+number.
        add("tab", 4, lambda: self.window.tabs.setCurrentIndex(rng.randrange(self.window.tabs.count())))
        add("tab key", 2, lambda: QTest.keyClick(self.window, getattr(Qt.Key, f"Key_{rng.randint(1, 4)}"),
                                                  Qt.KeyboardModifier.ControlModifier))

        # The training views: commands by QAction, by keyboard, and their settings.
        keys = {"step_phase": (Qt.Key.Key_P, None), "step_batch": (Qt.Key.Key_Space, None),
                "step_epoch": (Qt.Key.Key_E, None), "run": (Qt.Key.Key_R, None),
                "reset": (Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier), "random_init": (Qt.Key.Key_I, None)}
        for view in (s, bo, ra):
            name = type(view).__name__

            def command(view=view):
                key = rng.choice(list(view.commands))
                self._say(f"{type(view).__name__}: trigger {key}")
                view.commands[key].trigger()

            def keyboard(view=view):
                key = rng.choice([k for k in view.commands if k in keys])
                code, mod = keys[key]
                self._say(f"{type(view).__name__}: key for {key}")
                self._key(view, code, mod or Qt.KeyboardModifier.NoModifier)

            def wait_idle(view=view):
                wait_until(lambda: not view.controller.busy or view.controller.running, 20,
                           f"{type(view).__name__} to finish its step")

            add(f"{name} command", 10, command)
            add(f"{name} key", 6, keyboard)
            add(f"{name} wait", 3, wait_idle)

        # Surface.
        add("surface click", 5, lambda: (self._show(s), self._click_panel(s.surface, self._inside(s.surface))))
        add("surface click anywhere", 2, lambda: (self._show(s), self._click_panel(s.surface, None)))
        add("surface right click", 0.5, lambda: (self._show(s), self._click_panel(
            s.surface, self._inside(s.surface), Qt.MouseButton.RightButton)))
        add("surface wheel", 1, lambda: (self._show(s), self._wheel(s.surface)))
        add("surface drag", 1, lambda: (self._show(s), self._drag(s.surface)))
        add("surface lr", 3, lambda: s.control("learning_rate").setValue(self._lr()))
        add("surface lr slider", 1, lambda: (lambda w: w.setValue(rng.randint(0, w.maximum())))(
            s.control("learning_rate.slider")))
        add("surface batch", 2, lambda: (lambda w: w.setValue(self._int(1, w.maximum())))(s.control("batch_size")))
        add("surface epochs", 1, lambda: s.control("epochs").setValue(self._epochs(s.control("epochs").maximum())))
        add("surface seed", 1, lambda: s.control("seed").setValue(self._int(0, s.control("seed").maximum())))
        add("surface loss", 1, lambda: s.control("loss").setCurrentIndex(rng.randrange(s.control("loss").count())))
        add("surface optimizer", 1, lambda: (lambda w: w.setCurrentIndex(rng.randrange(w.count())))(
            s.control("optimizer")))
        add("surface speed", 1, lambda: s.speed.setValue(rng.choice([s.speed.maximum()] * 3 + [0, 3, 5])))
        add("surface kernel", 1, lambda: s.kernel_edit.setValue(rng.choice([rng.uniform(-3, 3), 1e9, -1e9, 0.0])))
        add("surface bias", 1, lambda: s.bias_edit.setValue(rng.choice([rng.uniform(-3, 3), 1e9, -1e9, 0.0])))
        add("surface sample", 1, lambda: s.choose_sample(rng.randrange(len(s.model.dataset.y_train))))

        # Boston.
        add("boston slice click", 3, lambda: (self._show(bo), self._click_panel(bo.slice_panel,
                                                                               self._inside(bo.slice_panel))))
        add("boston click anywhere", 1, lambda: (self._show(bo), self._click_panel(bo.slice_panel, None)))
        add("boston wheel", 0.5, lambda: (self._show(bo), self._wheel(bo.slice_panel)))
        add("boston model", 1, lambda: bo.control("model").setCurrentIndex(rng.randrange(bo.control("model").count())))
        add("boston normalize", 1, lambda: bo.control("normalize").toggle())
        add("boston optimizer", 1, lambda: (lambda w: w.setCurrentIndex(rng.randrange(w.count())))(
            bo.control("optimizer")))
        add("boston lr", 3, lambda: (lambda w: w.setValue(self._lr(w.maximum())))(bo.control("learning_rate")))
        add("boston batch", 2, lambda: (lambda w: w.setValue(self._int(1, w.maximum())))(bo.control("batch_size")))
        add("boston epochs", 1, lambda: bo.control("epochs").setValue(self._epochs(bo.control("epochs").maximum())))
        add("boston split", 1, lambda: bo.control("validation_split").setValue(rng.choice([0.0, 0.2, 0.5, 0.9,
                                                                                   rng.uniform(0, 0.9)])))
        add("boston seed", 1, lambda: bo.control("seed").setValue(self._int(0, bo.control("seed").maximum())))
        add("boston slice x", 1, lambda: bo.slice.x_param.setCurrentIndex(rng.randrange(bo.slice.x_param.count())))
        add("boston slice y", 1, lambda: bo.slice.y_param.setCurrentIndex(rng.randrange(bo.slice.y_param.count())))

        # Race.
        add("race click", 2, lambda: (self._show(ra), self._click_panel(ra.surface, self._inside(ra.surface))))
        add("race click anywhere", 1, lambda: (self._show(ra), self._click_panel(ra.surface, None)))
        add("race tick", 2, lambda: ra.enabled[rng.choice(list(ra.enabled))].toggle())
        add("race rate", 2, lambda: (lambda spin: spin.setValue(self._lr(spin.maximum())))(
            ra.rates[rng.choice(list(ra.rates))]))

        def race_option():
            spins = [spin for options in ra.options.values() for spin in options.values()]
            spin = rng.choice(spins)
            spin.setValue(rng.choice([spin.minimum(), spin.maximum(), rng.uniform(spin.minimum(), spin.maximum())]))

        add("race option", 1, race_option)
        add("race loss", 1, lambda: ra.control("loss").setCurrentIndex(rng.randrange(ra.control("loss").count())))
        add("race batch", 1, lambda: (lambda w: w.setValue(self._int(1, w.maximum())))(ra.control("batch_size")))
        add("race epochs", 1, lambda: ra.control("epochs").setValue(self._epochs(ra.control("epochs").maximum())))
        add("race seed", 1, lambda: ra.control("seed").setValue(self._int(0, ra.control("seed").maximum())))
        add("race tolerance", 0.5, lambda: (lambda w: w.setValue(rng.choice([w.minimum(), w.maximum(), 0.05])))(
            ra.control("tolerance")))
        add("race speed", 0.5, lambda: ra.speed.setValue(rng.choice([ra.speed.maximum()] * 3 + [0, 4])))

        # Backpropagation: its commands by QAction and by key.
        bp_keys = {"forward_pass": (Qt.Key.Key_F, None), "backward_step": (Qt.Key.Key_B, None),
                   "reset_pass": (Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier),
                   "apply_update": (Qt.Key.Key_U, None), "book_example": (Qt.Key.Key_K, None),
                   "follow_training": (Qt.Key.Key_T, None)}

        def bp_command():
            key = rng.choice(list(bp.commands))
            self._say(f"BackpropView: trigger {key}")
            bp.commands[key].trigger()

        def bp_key():
            key = rng.choice(list(bp_keys))
            code, mod = bp_keys[key]
            self._say(f"BackpropView: key for {key}")
            self._key(bp, code, mod or Qt.KeyboardModifier.NoModifier)

        add("backprop command", 5, bp_command)
        add("backprop key", 3, bp_key)

        # Files: File > Open CSV with a bad file, if the app has it.
        if self.open_action is not None and self.files:
            add("open bad file", 1.5, self._open_bad_file)
        if self.window.acceptDrops() and self.files:
            add("drop bad file", 0.5, lambda: self._open_bad_file(drop=True))
        if self.open_action is not None and self.good:
            add("open good file", 1, self._open_good_file)
        menu = getattr(self.window, "file_menu", None)
        self.builtin = [a for a in (find_action(menu, "download time"), find_action(menu, "boston housing")) if a]
        if self.builtin:
            add("built-in data", 0.7, lambda: rng.choice(self.builtin).trigger())
        if self.sessions is not None and self.folder is not None:
            add("export", 1, self._export)
            add("save session", 1, self._save_session)
            add("open session", 1, self._open_session)
            add("open bad session", 0.5, self._open_bad_session)
        return acts

    def _open_bad_file(self, drop: bool = False) -> None:
        """File > Open CSV (or a drop on the window) with a bad file: a message, and nothing else changes."""
        path = self.rng.choice(self.files)
        self._say(f"{'drop' if drop else 'open'} {path.name}")
        before = [(v.model, v.model.history) for v in (self.surface, self.boston)]
        opener = getattr(self.window, "opener", None)
        with no_modal_dialogs(iter([str(path)])) as shown:
            if drop:
                mime = QMimeData()
                mime.setUrls([QUrl.fromLocalFile(str(path))])
                pos = QPointF(self.window.width() / 2, self.window.height() / 2)
                for cls in (QDragEnterEvent, QDropEvent):
                    event = cls(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier)
                    QApplication.sendEvent(self.window, event)
            else:
                self.open_action.trigger()
            wait_until(lambda: not getattr(opener, "loading", False), 20, f"{path.name} to be read")
            pump(2)
            preview = getattr(opener, "preview", None)
            close_stray_windows(self.window)
            pump()
        after = [(v.model, v.model.history) for v in (self.surface, self.boston)]
        if any(a[0] is not b[0] or a[1] is not b[1] for a, b in zip(after, before, strict=True)):
            self._fail(f"opening the bad file {path.name} changed what was open")
        if not shown and preview is None:
            self._fail(f"opening the bad file {path.name} showed neither a message nor a preview")
        for message in shown:
            if "\n" in message.strip():
                self._fail(f"the message for {path.name} is not one line: {message!r}")

    def _open_good_file(self) -> None:
        """File > Open CSV with a readable file; in the preview, a random target and features, then Open (or
        Cancel). One feature goes to the loss surface, several to the multi-feature view."""
        path = self.rng.choice(self.good)
        opener = self.window.opener
        with no_modal_dialogs(iter([str(path)])) as shown:
            self.open_action.trigger()
            wait_until(lambda: not opener.loading, 20, f"{path.name} to be read")
            pump()
            dialog = opener.preview
            if dialog is None:
                self._fail(f"{path.name} gave no preview: {shown}")
            names = list(dialog.names)
            target = self.rng.choice(names)
            dialog.set_target(target)
            others = [n for n in names if n != target]
            dialog.set_features(self.rng.sample(others, self.rng.randint(1, len(others))))
            self._say(f"open {path.name}: target {dialog.target()}, features {dialog.features()}")
            if self.rng.random() < 0.8 and dialog.ok_button.isEnabled():
                dialog.ok_button.click()
            else:
                dialog.reject()
            pump()
        close_stray_windows(self.window)

    def _export(self) -> None:
        """File > Export > one of the current tab's plots (PNG or SVG) or its history or trajectory (CSV)."""
        menu = self.sessions.export_menu
        self.sessions.fill_export_menu()
        actions = [a for a in menu.actions() if not a.isSeparator() and a.isEnabled()
                   and a.text().replace("&", "") != "Animation…"]  # a dialog of its own, not one file
        if not actions:
            return
        action = self.rng.choice(actions)
        text = action.text().replace("&", "")
        ext = "csv" if "CSV" in text else self.rng.choice(["png", "svg"])
        folder = self.folder / "exports"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"export-{self.done}.{ext}"
        self._say(f"export {text} to {path.name}")
        with no_modal_dialogs(iter([str(path)])) as shown:
            action.trigger()
            pump()
        if shown:
            self._fail(f"exporting {text} showed {shown}")
        if not path.exists() or path.stat().st_size == 0:
            self._fail(f"exporting {text} wrote nothing to {path.name}")

    def _session_file(self) -> Path:
        folder = self.folder / "sessions"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / "saved.fitscope.json"

    def _save_session(self) -> None:
        """File > Save session as…, to a file of the monkey's (training may be running: it pauses, resumes)."""
        with no_modal_dialogs(iter([str(self._session_file())])) as shown:
            self.sessions.save_as_action.trigger()
            pump()
        if shown:
            self._fail(f"saving a session showed {shown}")

    def _open_session(self) -> None:
        """File > Open session… with the file saved last (if any): the window becomes what was saved."""
        path = self._session_file()
        if not path.exists():
            return
        with no_modal_dialogs(iter([str(path)])) as shown:
            self.sessions.open_action.trigger()
            pump()
        if shown:
            self._fail(f"opening the session just saved showed {shown}")

    def _open_bad_session(self) -> None:
        """File > Open session… with a damaged file: a message and nothing changed (or, if the damage left a
        valid session, no message and the session opened)."""
        saved = self._session_file()
        text = saved.read_bytes() if saved.exists() else b'{"format": "fitscope-session", "version": 1}'
        bad = saved.parent / "bad.fitscope.json"
        bad.write_bytes(self.rng.choice([b"", b"{", text[: len(text) // 2], bytes(range(256)), b'{"format": "x"}',
                                         b"[1, 2, 3]", text.replace(b'"steps"', b'"stops"')]))
        before = [(v.model, v.model.history) for v in (self.surface, self.boston)]
        with no_modal_dialogs(iter([str(bad)])) as shown:
            self.sessions.open_action.trigger()
            pump()
        after = [(v.model, v.model.history) for v in (self.surface, self.boston)]
        changed = any(x is not y for pair in zip(after, before, strict=True) for x, y in zip(*pair, strict=True))
        if shown and changed:
            self._fail(f"a damaged session was refused ({shown}) yet changed the window")
        if not shown and not changed:
            self._fail("opening a damaged session neither opened it nor said why not")

    # ------------------------------------------------------------------ running
    def step(self) -> None:
        """One random action, then a little of the event loop (sometimes none: actions pile up)."""
        names, weights, fns = zip(*self.actions, strict=True)
        k = self.rng.choices(range(len(fns)), weights=weights)[0]
        name = names[k]
        self.counts[name] = self.counts.get(name, 0) + 1
        self._say(name)
        fns[k]()
        r = self.rng.random()
        if r < 0.35:
            pass  # the next action comes before this one's events are handled
        elif r < 0.85:
            pump()
        else:
            pump(self.rng.choice([1, 2, 5, 10]))
        self.done += 1

    def run(self, n: int, check_every: int = 50) -> None:
        """``n`` actions, the invariants checked every ``check_every`` and at the end."""
        for i in range(n):
            try:
                self.step()
            except MonkeyFailure:
                raise
            except Exception as e:  # an action itself failed (not a slot): report it the same way
                self._fail(f"{type(e).__name__}: {e}\n{traceback.format_exc()}")
            if self.trap is not None and self.trap.errors:
                self._fail("error in a slot or a Qt warning:\n" + "\n---\n".join(self.trap.errors))
            if (i + 1) % check_every == 0:
                self.check()
        self.check()

    def settle(self) -> None:
        """Pause every run and wait until no view's worker is busy; the frames drawn."""
        for view in self.training_views:
            if view.controller.running:
                view.controller.pause()
        for view in self.training_views:
            wait_until(lambda view=view: not view.controller.busy, 30, f"{type(view).__name__} to go idle")
        pump(20)

    def check(self) -> None:
        """Settle, then check every invariant."""
        self.settle()
        if self.trap is not None and self.trap.errors:
            self._fail("error in a slot or a Qt warning:\n" + "\n---\n".join(self.trap.errors))
        try:
            check_surface(self.surface)
            check_boston(self.boston)
            check_race(self.race)
            check_backprop(self.backprop)
            check_sample(self.surface, self.backprop)
            check_no_nan_shown(self.window)
            check_threads(self.window)
        except AssertionError as e:
            self._fail(f"invariant broken: {e}")


# --------------------------------------------------------------------------- invariants
def effective(trainer) -> dict:
    """What ``trainer``'s next batch trains with, counting the settings asked of it and not yet applied."""
    return trainer.next_hyperparameters()


def _history_ok(h, label: str) -> None:
    assert len(h.params) == h.steps + 1, f"{label}: {len(h.params)} rows of trajectory for {h.steps} steps"
    assert len(h.batch_loss) == h.steps, f"{label}: {len(h.batch_loss)} batch losses for {h.steps} steps"
    assert np.isfinite(h.params).all(), f"{label}: a non-finite point in the trajectory"
    if len(h.epochs):
        assert h.epoch_steps[-1] <= h.steps, f"{label}: an epoch ends after the last step"


def _trainer_ok(trainer, h, label: str) -> None:
    assert np.array_equal(trainer.params, h.current), (
        f"{label}: the engine's parameters {trainer.params} differ from the history's {h.current}")
    assert trainer.step == h.steps, f"{label}: the engine took {trainer.step} steps, the history {h.steps}"


def _curve_finite(item, label: str) -> None:
    x, y = item.getData()
    if x is not None and len(x):
        assert np.isfinite(x).all() and np.isfinite(y).all(), f"{label}: non-finite points drawn"


def check_surface(view) -> None:
    h = view.model.history
    _history_ok(h, "surface")
    _trainer_ok(view.model.experiment.trainer, h, "surface")
    assert view.readouts.text("stepValue") == str(h.steps), (
        f"surface: step readout {view.readouts.text('stepValue')!r}, history {h.steps}")
    for box, value, name in ((view.kernel_edit, h.current[0], "kernel"), (view.bias_edit, h.current[1], "bias")):
        if not box.hasFocus():  # the box rounds to its decimals (and to what a double holds, for big values)
            assert abs(box.value() - value) <= 0.5 * 10.0 ** -box.decimals() + 4 * np.spacing(abs(value)), (
                f"surface: {name} box shows {box.value()}, the engine {value}")
    _curve_finite(view.surface.path, "surface trajectory")
    cx, cy = view.surface.current.getData()
    assert len(cx) == 1 and cx[0] == h.current[0] and cy[0] == h.current[1], "surface: current point not drawn"
    if h.diverged is not None:
        assert view.message.isVisibleTo(view) and view.message.text(), "surface: divergence not explained"
    train = view.model.experiment.loss_at(h.current, "train")
    shown = view.readouts.text("trainLossValue")
    assert shown == (prose(train, 5) if math.isfinite(train) else "–"), f"surface: training loss shows {shown!r}"
    step = h.last_step
    k, b = step.params if step is not None and h.diverged is None else h.current
    lx, ly = view.data_panel.line.getData()
    with np.errstate(all="ignore"):
        assert np.array_equal(ly, k * lx + b), "surface: the fitted line is not the current weights'"
    _settings_ok(view, "surface")


def _settings_ok(view, label: str) -> None:
    """The settings are in one place: what the next batch trains with is what the model says, and what the
    controls show."""
    t, s = effective(view.model.trainer), view.model.settings
    assert t["optimizer"].name == s.optimizer == view.control("optimizer").currentData(), (
        f"{label}: trains with {t['optimizer'].name}, the model says {s.optimizer}")
    rate = view.control("learning_rate").value()
    assert t["learning_rate"] == s.learning_rate == rate, (
        f"{label}: trains at rate {t['learning_rate']}, the model says {s.learning_rate}, the box {rate}")
    assert t["batch_size"] == s.batch_size == view.control("batch_size").value(), (
        f"{label}: trains in batches of {t['batch_size']}, the model says {s.batch_size}")
    assert t["loss"] == s.loss == view.model.experiment.loss.name, (
        f"{label}: trains on {t['loss']}, the model says {s.loss}")
    if label == "surface":  # the multi-feature tab trains on MSE only, and has no loss box
        assert view.control("loss").currentData() == s.loss, f"{label}: the loss box says otherwise"
    assert view.control("epochs").value() == s.epochs, f"{label}: the epochs box says otherwise"
    assert view.control("seed").value() == s.seed == view.model.experiment.settings.seed, (
        f"{label}: the seed box says {view.control('seed').value()}, the run's seed is {s.seed}")


def check_boston(view) -> None:
    h = view.model.history
    _history_ok(h, "boston")
    _trainer_ok(view.model.experiment.trainer, h, "boston")
    assert view.readouts.text("bostonStep") == f"{h.steps:,}", (
        f"boston: step readout {view.readouts.text('bostonStep')!r}, history {h.steps}")
    assert view.progress.value() == len(h.epochs), f"boston: progress {view.progress.value()}, {len(h.epochs)} epochs"
    if len(h.epochs):
        loss = h.epochs[-1, 2]
        shown = view.readouts.text("bostonTrainLoss")
        assert shown == (prose(loss, 5) if math.isfinite(loss) else "–"), f"boston: training loss shows {shown!r}"
    i, j = view.slice.pair
    assert 0 <= i < h.params.shape[1] and 0 <= j < h.params.shape[1] and i != j, f"boston: slice pair {(i, j)}"
    _curve_finite(view.slice_panel.path, "boston trajectory")
    cx, cy = view.slice_panel.current.getData()
    assert len(cx) == 1 and cx[0] == h.current[i] and cy[0] == h.current[j], "boston: current point not drawn"
    if h.diverged is not None:
        assert view.message.isVisibleTo(view) and view.message.text(), "boston: divergence not explained"
    _settings_ok(view, "boston")
    shown, used = view.model.settings, view.model.experiment.settings
    for name in ("model", "hidden", "normalize", "validation_split", "seed"):
        assert getattr(shown, name) == getattr(used, name), (
            f"boston: {name} is {getattr(used, name)!r} in the run, {getattr(shown, name)!r} in the model")
    assert view.control("normalize").isChecked() == shown.normalize, "boston: the Normalize box says otherwise"


def check_race(view) -> None:
    assert len(view.model.histories) == len(view.model.keys) == view.table.rowCount(), "race: one row per racer"
    if view.model.race is None:
        assert not view.model.keys, "race: racers without a race"
        return
    for key, trainer in zip(view.model.keys, view.model.race.trainers, strict=True):
        t = effective(trainer)
        assert t["optimizer"].name == key, f"race: racer {key} trains with {t['optimizer'].name}"
        assert t["learning_rate"] == view.rates[key].value() == view.model.racers[key].learning_rate, (
            f"race {key}: trains at rate {t['learning_rate']}, its box says {view.rates[key].value()}")
        for kw, spin in view.options[key].items():
            assert getattr(t["optimizer"], kw) == spin.value(), f"race {key}: {kw} differs from its box"
        assert t["batch_size"] == view.control("batch_size").value(), f"race {key}: batches of {t['batch_size']}"
        assert t["loss"] == view.control("loss").currentData(), f"race {key}: trains on {t['loss']}"
    for key, history, trainer in zip(view.model.keys, view.model.histories, view.model.race.trainers, strict=True):
        items = view.drawn(key)
        _history_ok(history, f"race {key}")
        _trainer_ok(trainer, history, f"race {key}")
        _curve_finite(items["line"], f"race {key} trajectory")
        dx, dy = items["dot"].getData()
        assert (dx[0], dy[0]) == tuple(history.current), f"race {key}: its dot is not where it is"
        status = view.table.item(view.model.keys.index(key), view.table.columnCount() - 1).text()
        if history.diverged is not None:
            assert status.startswith("diverged"), f"race {key}: diverged, but its status says {status!r}"
        else:
            assert not status.startswith("diverged"), f"race {key}: status {status!r}, yet it did not diverge"


def check_backprop(view) -> None:
    n = view.n_steps
    assert -1 <= view.position <= n + 1, f"backprop: position {view.position} of {n}"
    assert view.commands["backward_step"].isEnabled() == (view.position <= n)


_NOT_A_NUMBER = re.compile(r"(?<![A-Za-z])(nan|inf)(?![A-Za-z])")


def check_no_nan_shown(window) -> None:
    """No label or table cell of any tab shows ``nan`` or ``inf`` (non-finite numbers are shown as "–")."""
    for view in window.views:
        for label in view.findChildren(QLabel):
            assert not _NOT_A_NUMBER.search(label.text()), (
                f"{type(view).__name__}: {label.objectName() or 'a label'} shows {label.text()!r}")
        for table in view.findChildren(QTableWidget):
            for row in range(table.rowCount()):
                for col in range(table.columnCount()):
                    item = table.item(row, col)
                    if item is not None:
                        assert not _NOT_A_NUMBER.search(item.text()), (
                            f"{type(view).__name__}: {table.objectName()} shows {item.text()!r}")


def own_threads(window) -> list[QThread]:
    """The QThreads the window keeps for its life: each view's training thread, the CSV reader's if any."""
    threads = [v.controller.thread for v in window.views if hasattr(v, "controller")]
    reader = window.opener.thread
    return threads + ([reader] if isinstance(reader, QThread) else [])


def check_sample(surface, backprop) -> None:
    """The example the backpropagation tab follows is the loss-surface tab's, with its current weights,
    learning rate and loss."""
    from fitscope.gui.models.backprop_pass import Example

    sample, h = surface.sample, surface.model.history
    step = h.last_step
    k, b = step.params if step is not None and h.diverged is None else h.current
    assert (sample.kernel, sample.bias) == (k, b), f"surface: the example's weights {sample} are not the view's"
    rate = surface.model.settings.learning_rate
    assert sample.learning_rate == rate, f"surface: the example's learning rate {sample.learning_rate} is not {rate}"
    assert sample.loss == surface.model.settings.loss, f"surface: the example's loss is {sample.loss}"
    if backprop.following and backprop.example.hand_updates == 0:
        assert backprop.example == Example.from_sample(sample), "backprop: not the loss-surface tab's example"


def check_threads(window) -> None:
    """When idle: the only QThreads running are the window's own (:func:`own_threads`)."""
    own = {id(t) for t in own_threads(window)}
    others = [t for t in running_qthreads() if id(t) not in own]
    assert not others, f"{len(others)} unexpected QThread(s) running: {[t.objectName() for t in others]}"


# --------------------------------------------------------------------------- closing mid-run
def start_runs(window, rng: random.Random) -> list:
    """Start runs at full speed in one to three random training tabs (endless: the epoch limit at its
    maximum); the last one's tab is shown. Returns the views started."""
    views = [v for v in window.views if hasattr(v, "controller")]
    chosen = rng.sample(views, rng.choice([1, 1, 2, 3]))
    for view in chosen:
        window.tabs.setCurrentWidget(view)
        if hasattr(view, "speed"):
            view.speed.setValue(view.speed.maximum())
        if view is window.boston_view and rng.random() < 0.5:
            view.control("model").setCurrentIndex(rng.randrange(view.control("model").count()))
        view.control("epochs").setValue(view.control("epochs").maximum())
        view.commands["run"].trigger()
    return chosen


def close_mid_run(make_window: Callable[[], object], rng: random.Random, trap: ErrorTrap) -> float:
    """Open a window, start runs in random tabs, close the window 0–300 ms later; return how long ``close()``
    took, in seconds. :class:`MonkeyFailure` on an error or Qt warning, or a thread left running."""
    window = make_window()
    window.show()
    wait_until(window.isVisible, 5, "the window to show")
    views = start_runs(window, rng)
    threads = own_threads(window)
    slicer = window.boston_view.slicer
    pump(rng.choice([0, 0, 1, 5, 20, 50, 100, 300]))
    running = [type(v).__name__ for v in views if v.controller.running]
    start = time.perf_counter()
    window.close()
    took = time.perf_counter() - start
    still = [t.objectName() for t in threads if t.isRunning()]
    jobs = slicer.active_jobs
    window.deleteLater()
    pump()
    if still or jobs:
        raise MonkeyFailure(f"after close: thread(s) {still} still running, {jobs} slice job(s) (runs: {running})")
    trap.check(f"closing mid-run ({running}): ")
    return took
