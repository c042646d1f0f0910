"""The main window and ``main()``: a QApplication, one tab per view, a clean shutdown."""

from __future__ import annotations

import importlib
import sys

from PySide6.QtCore import QByteArray, QCoreApplication, QSettings, Qt, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QMainWindow, QMessageBox, QTabWidget

from fitscope import resources
from fitscope.engine.data import Dataset, load_builtin
from fitscope.gui.dialogs.open_csv import CsvOpener
from fitscope.gui.files import FileActions
from fitscope.gui.views.base import View

#: The tabs, in order: (module, class). Each is a :class:`~gui.views.base.View`.
VIEWS: list[tuple[str, str]] = [
    ("fitscope.gui.views.surface_view", "SurfaceView"),
    ("fitscope.gui.views.boston_view", "BostonView"),
    ("fitscope.gui.views.backprop_view", "BackpropView"),
    ("fitscope.gui.views.race_view", "RaceView"),
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
            view.titleChanged.connect(self._on_view_title)
            view.hand_back_keys()
        by_class = {type(view).__name__: view for view in self.views}
        if "SurfaceView" in by_class and "BackpropView" in by_class:  # the graph follows the surface's example
            by_class["SurfaceView"].sampleChanged.connect(by_class["BackpropView"].set_sample)
            by_class["BackpropView"].set_sample(by_class["SurfaceView"].sample)
        self.opener = CsvOpener(self)  # File > Open CSV… and files dropped on the window
        self.opener.datasetReady.connect(self.show_dataset)
        self.setAcceptDrops(True)
        self._build_menus()
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self._on_tab_changed(self.tabs.currentIndex())
        self.resize(1400, 880)
        self._restore_layout()

    def _build_menus(self) -> None:
        bar = self.menuBar()
        self.file_menu = bar.addMenu("&File")
        self._add_data_actions()
        self.files = FileActions(self)  # sessions, exports, remembered settings
        self.files.add_to_menu(self.file_menu)
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        self.file_menu.addAction(quit_action)
        self.training_menu = bar.addMenu("&Training")
        view_menu = bar.addMenu("&View")
        for i, view in enumerate(self.views):
            action = QAction(view.title, self)
            action.setObjectName(f"showView{i}")
            action.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
            action.triggered.connect(lambda _=False, i=i: self.tabs.setCurrentIndex(i))
            view_menu.addAction(action)
        help_menu = bar.addMenu("&Help")
        about = QAction("&About fitscope", self)
        about.triggered.connect(lambda: QMessageBox.about(self, "About fitscope", ABOUT))
        help_menu.addAction(about)

    def _add_data_actions(self) -> None:
        """File > Open CSV… and File > Built-in data, at the top of the File menu."""
        open_csv = QAction("&Open CSV…", self)
        open_csv.setObjectName("openCsvAction")
        open_csv.setShortcut(QKeySequence.StandardKey.Open)
        open_csv.setStatusTip("Open your own CSV file: one feature opens on the loss surface, several in the "
                              "multi-feature view (or drop the file on the window)")
        open_csv.triggered.connect(self.opener.choose_file)
        self.file_menu.addAction(open_csv)
        builtin = self.file_menu.addMenu("&Built-in data")
        for name, text in (("download-time", "&Download time (1 feature)"),
                           ("boston-housing", "&Boston Housing (12 features)")):
            action = QAction(text, self)
            action.triggered.connect(lambda _=False, name=name: self.show_dataset(load_builtin(name)))
            builtin.addAction(action)
        self.file_menu.addSeparator()

    @Slot(object)
    def show_dataset(self, dataset: Dataset) -> None:
        """Show ``dataset`` in the view that fits it, and switch to it: one feature → the loss surface,
        several → the multi-feature (Boston Housing) view. That view's run starts afresh."""
        kind = "SurfaceView" if dataset.n_features == 1 else "BostonView"
        view = next(v for v in self.views if type(v).__name__ == kind)
        view.set_dataset(dataset)
        self.tabs.setCurrentWidget(view)

    @Slot(str)
    def _on_view_title(self, title: str) -> None:
        index = self.tabs.indexOf(self.sender())
        if index >= 0:
            self.tabs.setTabText(index, title)
            self.findChild(QAction, f"showView{index}").setText(title)

    @staticmethod
    def _dropped_file(event) -> str | None:
        """The local file of a drag that carries exactly one, else None."""
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        if len(urls) == 1 and urls[0].isLocalFile():
            return urls[0].toLocalFile()
        return None

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if self._dropped_file(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        path = self._dropped_file(event)
        if path:
            event.acceptProposedAction()
            self.opener.open(path)

    def _on_tab_changed(self, index: int) -> None:
        self.training_menu.clear()
        view = self.tabs.widget(index)
        if isinstance(view, View):
            self.training_menu.addActions(list(view.commands.values()))
        self.training_menu.setEnabled(bool(self.training_menu.actions()))

    def current_view(self) -> View:
        return self.tabs.currentWidget()

    def _restore_layout(self) -> None:
        """The window as it was left, and each view's last settings; a damaged value is ignored."""
        settings = QSettings()
        for key, restore in (("window/geometry", self.restoreGeometry), ("window/state", self.restoreState)):
            value = settings.value(key)
            if isinstance(value, QByteArray | bytes):
                restore(QByteArray(value))
        tab = settings.value("window/tab", 0)
        if isinstance(tab, int | str) and str(tab).isdigit() and int(tab) < self.tabs.count():
            self.tabs.setCurrentIndex(int(tab))
        self.files.recall()

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        settings = QSettings()
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/state", self.saveState())
        settings.setValue("window/tab", self.tabs.currentIndex())
        self.files.remember()
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop every view's training thread (safe to call more than once)."""
        self.opener.shutdown()
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
