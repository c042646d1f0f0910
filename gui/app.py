"""The main window and ``main()``: a QApplication, one tab per view, a clean shutdown."""

from __future__ import annotations

import gc
import os
import sys

from PySide6.QtCore import QByteArray, QCoreApplication, QEvent, QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QMainWindow, QMessageBox, QTabWidget, QWidget

from fitscope import resources
from fitscope.engine.data import BUILTIN, Dataset, load_builtin
from fitscope.gui import access, activity, export, keys, share
from fitscope.gui import help as user_help
from fitscope.gui.dialogs.open_csv import CsvOpener
from fitscope.gui.dialogs.sweep import SweepMenu
from fitscope.gui.files import FileActions
from fitscope.gui.glossary import show_glossary
from fitscope.gui.lessons.dock import LessonDock
from fitscope.gui.text_size import TextSize
from fitscope.gui.views.backprop_view import BackpropView
from fitscope.gui.views.base import TrainingView
from fitscope.gui.views.boston_view import BostonView
from fitscope.gui.views.code_panel import CodeDock
from fitscope.gui.views.race_view import RaceView
from fitscope.gui.views.surface_view import SurfaceView
from fitscope.gui.views.tab import View
from fitscope.gui.views.undo import EditMenu

ABOUT = (
    "<h3>fitscope</h3><p>A microscope on <code>model.fit()</code>: gradient descent batch by batch, on a loss "
    "surface you can click, with the update rules of TensorFlow.js computed exactly in float64.</p>"
    "<p>Data: the download-time example and the Boston Housing split of <i>Deep Learning with "
    "JavaScript</i>, chapter 2.</p>"
)


#: The tabs, in order. Each tab's view is built when it is first shown or asked for (``window.boston_view``),
#: or soon after the window first shows: the window shows its first tab without waiting for the other three.
VIEW_CLASSES: tuple[type[View], ...] = (SurfaceView, BostonView, BackpropView, RaceView)

#: How long after the window first shows the tabs not shown yet are built (one per turn of the event loop).
BUILD_REST_MS = 300


class MainWindow(QMainWindow):
    #: Every tab's view is built (the last stand-in has just been replaced).
    allBuilt = Signal()

    def __init__(self) -> None:
        super().__init__()
        export.install_patches()
        self.text_size = TextSize(self)  # View > Larger/Smaller text: the remembered size, before any widget
        self.tabs = QTabWidget()
        self.tabs.setObjectName("centralTabs")
        self.tabs.setDocumentMode(True)
        self.setCentralWidget(self.tabs)
        self._views: list[View | None] = [None] * len(VIEW_CLASSES)
        for cls in VIEW_CLASSES:
            self.tabs.addTab(QWidget(), cls.title)  # a stand-in (see _view)
        # Before anything else hears of it: a tab shown is built, in place of its stand-in, before it is looked at.
        self.tabs.currentChanged.connect(self._view)
        self.opener = CsvOpener(self)  # File > Open CSV… and files dropped on the window
        self.opener.datasetReady.connect(self.show_dataset)
        self.setAcceptDrops(True)
        self._data_view: TrainingView | None = None  # the training tab shown last: the title names its data
        self.code_dock = CodeDock(self)  # View > Code of this run: the code of the current tab's run
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.code_dock)
        self.code_dock.hide()
        self._build_menus()
        self.edit = EditMenu(self, before=self.training_menu.menuAction())  # Undo, Redo, Restore all defaults
        self.tabs.currentChanged.connect(self._on_tab_changed)
        for signal in (self.tabs.currentChanged, self.code_dock.visibilityChanged, self.lesson_dock.visibilityChanged):
            signal.connect(self.text_size.fit_later)  # a wider window at a larger text size: does it still fit?
        self.keys = keys.install(self, self.tabs)  # Space/Enter, Escape, Ctrl+PgDown/PgUp, maps (gui/keys.py)
        self.descriptions = access.install(self, self.tabs)  # names, focus frame (gui/access.py)
        self.resize(1400, 880)
        self._restore_layout()  # (the tab shown is built now)
        self._on_tab_changed(self.tabs.currentIndex())
        self.update_title()
        self.lesson_dock.offer_first_run()  # "New here? Start the guided lesson", on the first launch only
        self._rest_built = False

    # ------------------------------------------------------------------ the tabs' views
    @Slot(int)
    def _view(self, index: int) -> View:
        """The view of tab ``index``, built now if it was not (it takes its stand-in's place, the tab shown
        staying shown, and takes up the settings it used when the app last closed)."""
        view = self._views[index]
        if view is None:
            view = self._views[index] = VIEW_CLASSES[index](self)
            stand_in, shown = self.tabs.widget(index), self.tabs.currentIndex()
            focused = stand_in.hasFocus()  # (given it by the tabs, as the page shown, when the focus was on the last)
            blocked = self.tabs.blockSignals(True)  # the tab shown does not change: nobody is told it did
            self.tabs.removeTab(index)
            self.tabs.insertTab(index, view, view.title)
            self.tabs.setCurrentIndex(shown)
            self.tabs.blockSignals(blocked)
            stand_in.deleteLater()
            self._adopt(view)
            if focused:
                view.setFocus(Qt.FocusReason.TabFocusReason)
            if None not in self._views:
                self.allBuilt.emit()
        return view

    def _adopt(self, view: View) -> None:
        """What the window does for each view once it is built."""
        view.titleChanged.connect(self._on_view_title)
        view.hand_back_keys()
        self.keys.wheel.adopt(view)
        self.descriptions.adopt(view)
        self.edit.adopt(view)
        export.install_view_menus(view)  # the plain graphics views (pyqtgraph's: in quiet_plot)
        share.install_copy(view)  # Ctrl+C on a focused plot
        if isinstance(view, BackpropView):
            # The backpropagation graph follows the example the loss-surface tab trains on; its chooser picks it.
            surface = self.surface_view
            surface.sampleChanged.connect(self._on_sample)
            view.exampleChosen.connect(surface.choose_sample)
            self._on_sample(surface.sample)
        if isinstance(view, TrainingView):
            view.recall()  # what it used when the app last closed
        self.text_size.fit_later()

    def _build_rest(self) -> None:
        """Build the next view not built yet, and come back at the next turn of the event loop for the one after
        (clicks and keys get in between)."""
        waiting = [i for i, view in enumerate(self._views) if view is None]
        if waiting and not self.isHidden():
            self._view(waiting[0])
            if len(waiting) > 1:
                QTimer.singleShot(0, self._build_rest)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if not self._rest_built:
            self._rest_built = True
            QTimer.singleShot(BUILD_REST_MS, self._build_rest)

    @property
    def views(self) -> list[View]:
        """Every tab's view (all built)."""
        return [self._view(i) for i in range(len(VIEW_CLASSES))]

    def built_views(self) -> list[View]:
        """The views built so far (a view never built has nothing of its own to save, stop or remember)."""
        return [view for view in self._views if view is not None]

    @property
    def surface_view(self) -> SurfaceView:
        return self._view(0)

    @property
    def boston_view(self) -> BostonView:
        return self._view(1)

    @property
    def backprop_view(self) -> BackpropView:
        return self._view(2)

    @property
    def race_view(self) -> RaceView:
        return self._view(3)

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
        self.sweeps = SweepMenu(self)  # Training > Learning-rate sweep…: one dialog per training tab
        view_menu = bar.addMenu("&View")
        for i, cls in enumerate(VIEW_CLASSES):
            action = QAction(cls.title, self)
            action.setObjectName(f"showView{i}")
            action.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
            action.triggered.connect(lambda _=False, i=i: self.tabs.setCurrentIndex(i))
            view_menu.addAction(action)
        view_menu.addSeparator()
        view_menu.addAction(self.code_dock.action)
        view_menu.addSeparator()
        self.text_size.add_to_menu(view_menu)
        help_menu = bar.addMenu("&Help")
        glossary = QAction("&Glossary", self)
        glossary.setObjectName("glossaryAction")
        glossary.setShortcut(QKeySequence.StandardKey.HelpContents)
        glossary.setStatusTip("Every term and symbol the explanations use (or rest the pointer on a term)")
        glossary.triggered.connect(lambda: show_glossary(self))
        help_menu.addAction(glossary)
        user_help.add_to_menu(help_menu, self, self.tabs)  # User guide, Keyboard shortcuts (gui/help.py)
        self.lesson_dock = LessonDock(self)  # Help > Guided lesson, Open lesson file… (gui/lessons/)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.lesson_dock)
        self.lesson_dock.hide()
        self.lesson_dock.add_to_menu(help_menu)
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
            action.setStatusTip("The book's data set, with the book's settings")
            action.triggered.connect(lambda _=False, name=name: self.show_dataset(load_builtin(name), book=True))
            builtin.addAction(action)
        self.file_menu.addSeparator()

    @Slot(object)
    def _on_sample(self, sample) -> None:
        self.backprop_view.set_example_count(len(self.surface_view.model.experiment.y))
        self.backprop_view.set_sample(sample)

    @Slot(object)
    def show_dataset(self, dataset: Dataset, book: bool = False) -> None:
        """Show ``dataset`` in the tab that fits it, and switch to it: one feature → the loss surface, several
        → the multi-feature tab. That tab's run starts afresh, with the settings last used for this data set
        (or, with ``book`` or if none were remembered, the data set's own: the book's for its data sets)."""
        view = self.surface_view if dataset.n_features == 1 else self.boston_view
        try:
            view.show_dataset(dataset, book=book)
        except ValueError as e:  # numbers the engine cannot train on (too large to compute a loss with, say)
            QMessageBox.warning(self, "Open data", export.sentence(f"Cannot open {dataset.name}: {e}"))
            return
        self.tabs.setCurrentWidget(view)
        self.files.forget_session()
        self.update_title()

    def update_title(self) -> None:
        """The window's title names what it shows now: the session's file while the window shows that session
        (until other data is opened), else the user's file shown in the current tab (or, from a tab without
        data, in the training tab shown last); then "fitscope". Built-in data goes unnamed."""
        path = self.files.session_path
        if path:
            self.setWindowTitle(f"{os.path.basename(path)} — fitscope")
            return
        dataset = (self._data_view or self.surface_view).model.dataset
        self.setWindowTitle("fitscope" if dataset.source in BUILTIN else f"{dataset.name} — fitscope")

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
        if isinstance(view, TrainingView):
            self._data_view = view
            self.update_title()
        if isinstance(view, View):
            self.training_menu.addActions(list(view.commands.values()))
            self.sweeps.add_to(self.training_menu, view)
        self.training_menu.setEnabled(bool(self.training_menu.actions()))
        self.code_dock.follow(view)

    def current_view(self) -> View:
        return self._view(self.tabs.currentIndex())

    def _restore_layout(self) -> None:
        """The window as it was left, and each view's last settings; a damaged value is ignored."""
        settings = QSettings()
        for key, restore in (("window/geometry", self.restoreGeometry), ("window/state", self.restoreState)):
            value = settings.value(key)
            if isinstance(value, QByteArray | bytes):
                restore(QByteArray(value))
        tab = settings.value("window/tab", 0)
        if isinstance(tab, int | str) and str(tab) in {str(k) for k in range(self.tabs.count())}:
            self.tabs.setCurrentIndex(int(tab))
        self._view(self.tabs.currentIndex())  # (each view takes up its settings as it is built)

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
        self.keys.shutdown()
        self.descriptions.shutdown()
        self.sweeps.shutdown()
        self.code_dock.shutdown()
        self.lesson_dock.shutdown()
        for view in self.built_views():
            view.shutdown()


def create_app(argv: list[str] | None = None) -> QApplication:
    QCoreApplication.setOrganizationName("fitscope")
    QCoreApplication.setApplicationName("fitscope")
    app = QApplication.instance() or QApplication(["fitscope", *(argv or [])])
    app.setStyleSheet(resources.read_text("style.qss"))
    return app


def app_window() -> MainWindow:
    """The app's one window: once its tabs are all built, the garbage collector sets them aside for good (a
    full collection no longer looks at them; see gui/activity.py). A process that makes many windows makes them
    with ``MainWindow()``, or each would stay in memory."""
    window = MainWindow()
    window.allBuilt.connect(activity.set_aside)
    return window


def main(argv: list[str] | None = None) -> int:
    app = create_app(argv)
    QApplication.setAttribute(Qt.ApplicationAttribute.AA_DontShowIconsInMenus, False)
    window = app_window()
    app.aboutToQuit.connect(window.shutdown)
    window.show()
    code = app.exec()
    close_window(window)
    del window
    gc.collect()  # while the application exists: garbage is collected in the GUI thread only (gui/activity.py)
    return code


def close_window(window: MainWindow) -> None:
    """Stop the window's work and delete its Qt side now, while Python is whole. Its parts refer to it (and Qt
    keeps them alive), so Python alone would leave it to the interpreter's exit, which tears objects down in no
    particular order: an event filter then ran on a half-deleted plot, and its traceback was printed."""
    window.shutdown()
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
