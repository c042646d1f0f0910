"""The main window and ``main()``: a QApplication, one tab per view, a clean shutdown."""

from __future__ import annotations

import importlib
import sys

from PySide6.QtCore import QCoreApplication, QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QMainWindow, QMessageBox, QTabWidget

import resources
from gui.views.base import View

#: The tabs, in order: (module, class). Each is a :class:`~gui.views.base.View`.
VIEWS: list[tuple[str, str]] = [
    ("gui.views.surface_view", "SurfaceView"),
    ("gui.views.boston_view", "BostonView"),
    ("gui.views.backprop_view", "BackpropView"),
    ("gui.views.race_view", "RaceView"),
]

ABOUT = (
    "<h3>fitscope</h3><p>A microscope on <code>model.fit()</code>: gradient descent batch by batch, on a loss "
    "surface you can click, with the update rules of TensorFlow.js computed exactly in float64.</p>"
    "<p>Data: the download-time example and the Boston Housing split of <i>Deep Learning with "
    "JavaScript</i>, chapter 2.</p>"
)


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("fitscope")
        self.tabs = QTabWidget()
        self.tabs.setObjectName("centralTabs")
        self.tabs.setDocumentMode(True)
        self.setCentralWidget(self.tabs)
        self.views: list[View] = []
        for module, name in VIEWS:
            view = getattr(importlib.import_module(module), name)(self)
            self.views.append(view)
            self.tabs.addTab(view, view.title)
        by_class = {type(view).__name__: view for view in self.views}
        if "SurfaceView" in by_class and "BackpropView" in by_class:  # the graph follows the surface's example
            by_class["SurfaceView"].sampleChanged.connect(by_class["BackpropView"].set_sample)
            by_class["BackpropView"].set_sample(by_class["SurfaceView"].sample)
        self._build_menus()
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self._on_tab_changed(self.tabs.currentIndex())
        self.resize(1400, 880)
        self._restore_layout()

    def _build_menus(self) -> None:
        bar = self.menuBar()
        self.file_menu = bar.addMenu("&File")
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        self.file_menu.addAction(quit_action)
        self.training_menu = bar.addMenu("&Training")
        view_menu = bar.addMenu("&View")
        for i, view in enumerate(self.views):
            action = QAction(view.title, self)
            action.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
            action.triggered.connect(lambda _=False, i=i: self.tabs.setCurrentIndex(i))
            view_menu.addAction(action)
        help_menu = bar.addMenu("&Help")
        about = QAction("&About fitscope", self)
        about.triggered.connect(lambda: QMessageBox.about(self, "About fitscope", ABOUT))
        help_menu.addAction(about)

    def _on_tab_changed(self, index: int) -> None:
        self.training_menu.clear()
        view = self.tabs.widget(index)
        if isinstance(view, View):
            self.training_menu.addActions(list(view.commands.values()))
        self.training_menu.setEnabled(bool(self.training_menu.actions()))

    def current_view(self) -> View:
        return self.tabs.currentWidget()

    def _restore_layout(self) -> None:
        settings = QSettings()
        geometry = settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        self.tabs.setCurrentIndex(int(settings.value("window/tab", 0)))

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        settings = QSettings()
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/tab", self.tabs.currentIndex())
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop every view's training thread (safe to call more than once)."""
        for view in self.views:
            view.shutdown()


def create_app(argv: list[str] | None = None) -> QApplication:
    QCoreApplication.setOrganizationName("fitscope")
    QCoreApplication.setApplicationName("fitscope")
    app = QApplication.instance() or QApplication(["fitscope", *(argv or [])])
    app.setStyleSheet(resources.read_text("style.qss"))
    return app


def main(argv: list[str] | None = None) -> int:
    app = create_app(argv)
    QApplication.setAttribute(Qt.ApplicationAttribute.AA_DontShowIconsInMenus, False)
    window = MainWindow()
    app.aboutToQuit.connect(window.shutdown)
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
