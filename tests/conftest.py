"""Shared test set-up: headless Qt, isolated settings, and no test may leave a QThread running."""

from __future__ import annotations

import os
import weakref

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _qt_available() -> bool:
    try:
        import PySide6.QtWidgets  # noqa: F401
    except ImportError:
        return False
    return True


if _qt_available():
    from PySide6.QtCore import QSettings, QStandardPaths, QThread

    QStandardPaths.setTestModeEnabled(True)

    @pytest.fixture(autouse=True)
    def _isolated_settings(tmp_path):
        """Each test starts with empty QSettings of its own: nothing from the user, another test or run."""
        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
        yield

    _threads: weakref.WeakSet = weakref.WeakSet()
    _original_start = QThread.start

    def _tracked_start(self, *args, **kwargs):
        _threads.add(self)
        return _original_start(self, *args, **kwargs)

    QThread.start = _tracked_start

    @pytest.fixture(autouse=True)
    def _dangling_qthreads():
        """Fail any test that leaves a QThread running (napari's ``_dangling_qthreads`` is the model)."""
        yield
        running = [t for t in list(_threads) if _alive(t)]
        if running:
            for t in running:
                t.quit()
                t.wait(2000)
            pytest.fail(f"{len(running)} QThread(s) still running after the test", pytrace=False)

    @pytest.fixture
    def window(qtbot):
        """The main window, shown at 1400 × 880 (a test file may have its own); left on its first tab, which the
        window saves when it closes, for the next test."""
        from fitscope.gui.app import MainWindow

        w = MainWindow()
        qtbot.addWidget(w)
        w.resize(1400, 880)
        with qtbot.waitExposed(w):
            w.show()
        yield w
        w.tabs.setCurrentIndex(0)

    def _alive(thread) -> bool:
        try:
            return thread.isRunning()
        except RuntimeError:  # the C++ object is already gone
            return False


def pytest_sessionfinish(session, exitstatus):
    """Collect the session's garbage while the QApplication still exists: collection runs in the GUI thread only
    (gui/activity.py), and cycles holding Qt objects must not be left to the interpreter's own shutdown."""
    import gc

    gc.collect()
