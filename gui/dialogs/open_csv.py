"""Opening the user's own CSV file: read it off the GUI thread, preview it, choose the columns.

The flow, driven by :class:`CsvOpener` (a QObject of the GUI thread):

1. a path arrives: File > Open CSV…, a file dropped on the window, or a caller's :meth:`CsvOpener.open`;
2. a :class:`TableReader`, a QObject living in a thread of its own, reads and checks the whole file with
   :func:`engine.data.read_table`, while a busy progress dialog with a Cancel button appears (after
   :data:`PROGRESS_DELAY_MS`, so that a small file does not flash it);
3. a bad file: its one-line :class:`~engine.data.DataError` in a warning box, and nothing else happens;
   Cancel: the reader's result is dropped when it arrives;
4. a good file: :class:`OpenCsvDialog` shows its name, row count and first rows, and lets the user choose
   the target and the features;
5. OK: :attr:`CsvOpener.datasetReady` carries the :class:`~engine.data.Dataset`. Only then does anything in
   the window change.

Threading rules (DESIGN.md): the reader's signals reach only ``@Slot`` methods of the opener; the thread is
started on the first file and stopped by :meth:`CsvOpener.shutdown` (quit, then wait for the read under way).
"""

from __future__ import annotations

import html
import os
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fitscope.engine.data import DataError, Dataset, read_table, table_dataset
from fitscope.gui import prefs
from fitscope.gui.activity import install

#: Rows shown in the preview.
PREVIEW_ROWS = 20
#: The progress dialog appears only if reading takes longer than this.
PROGRESS_DELAY_MS = 300
#: Feature check boxes per row of the preview.
FEATURE_COLUMNS = 4
FILE_FILTER = "CSV files (*.csv *.tsv *.txt);;All files (*)"

TARGET_COLOUR = QColor("#fff3cd")  # the target column in the preview
UNUSED_COLOUR = QColor("#9e9e9e")  # columns that are neither target nor feature


def one_line(text: str) -> str:
    """``text`` with its line breaks (and runs of spaces around them) replaced by single spaces."""
    return " ".join(str(text).split())


def _size_text(path: str) -> str:
    try:
        size = os.path.getsize(path)
    except OSError:
        return ""
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


# --------------------------------------------------------------------------- the reader (its own thread)
class TableReader(QObject):
    """Reads one file at a time in the thread it was moved to. Only :class:`CsvOpener` talks to it."""

    done = Signal(int, str, object)  # token, path, (names, table)
    failed = Signal(int, str, str)  # token, path, one-line message

    def __init__(self) -> None:
        super().__init__()
        self.wanted = 0  # the token of the one read still wanted (an int write is atomic); others are skipped

    @Slot(int, str)
    def read(self, token: int, path: str) -> None:
        if token != self.wanted:
            return  # cancelled or replaced before it started
        name = Path(path).name or path
        try:
            result = read_table(path)
        except DataError as err:
            self.failed.emit(token, path, one_line(err))
        except MemoryError:
            self.failed.emit(token, path, f"{name}: too large to load into memory")
        except Exception as err:  # noqa: BLE001 (whatever it is, the user gets one line, never a traceback)
            self.failed.emit(token, path, one_line(f"{name}: cannot be read ({type(err).__name__}: {err})"))
        else:
            self.done.emit(token, path, result)


# --------------------------------------------------------------------------- the preview
class OpenCsvDialog(QDialog):
    """A file's name, row count and first rows; the target (default: the last column) and the features
    (default: all the others). OK is disabled, with a one-line reason, while the choice cannot be used.

    Choosing another target unticks it as a feature and ticks the previous target instead, so that the
    default "all the others" holds whatever the target; ticking the target as a feature is refused.
    """

    def __init__(self, path: str, names: list[str], table: np.ndarray, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("openCsvDialog")
        self.path, self.names, self.table = str(path), list(names), table
        name = Path(self.path).name
        self.setWindowTitle(f"Open {name}")
        n_rows, n_cols = table.shape

        heading = QLabel(f"<b>{html.escape(name)}</b>")
        heading.setObjectName("csvFileName")
        heading.setAccessibleName("File name")
        heading.setToolTip(os.path.abspath(self.path))
        heading.setStyleSheet("font-size: 15px;")
        shown = f" (the first {PREVIEW_ROWS} below)" if n_rows > PREVIEW_ROWS else ""
        self.summary = QLabel(f"{n_rows:,} rows × {n_cols} columns{shown}")
        self.summary.setObjectName("csvRowCount")
        self.summary.setAccessibleName("Row count")

        self.preview = QTableWidget(min(n_rows, PREVIEW_ROWS), n_cols)
        self.preview.setObjectName("csvPreview")
        self.preview.setAccessibleName("The first rows of the file")
        self.preview.setHorizontalHeaderLabels(self.names)
        self.preview.setVerticalHeaderLabels([str(i + 1) for i in range(self.preview.rowCount())])
        self.preview.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.preview.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.preview.setAlternatingRowColors(True)
        self.preview.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.preview.verticalHeader().setDefaultSectionSize(22)
        self.preview.horizontalHeader().setMinimumSectionSize(64)
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        for r in range(self.preview.rowCount()):
            for c in range(n_cols):
                item = QTableWidgetItem(f"{table[r, c]:.10g}")
                item.setTextAlignment(right)
                self.preview.setItem(r, c, item)

        self.target_box = QComboBox()
        self.target_box.setObjectName("csvTarget")
        self.target_box.setAccessibleName("Target: the column to predict")
        self.target_box.addItems(self.names)
        self.target_box.setToolTip("The column the model learns to predict")
        self._target = n_cols - 1
        self.target_box.setCurrentIndex(self._target)
        self.target_box.currentIndexChanged.connect(self._on_target_changed)

        boxes = QWidget()
        grid = QGridLayout(boxes)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(16)
        self.feature_boxes: list[QCheckBox] = []
        for i, column in enumerate(self.names):
            box = QCheckBox(column)
            box.setObjectName(f"csvFeature{i}")
            box.setAccessibleName(f"Feature {column}")
            box.setChecked(i != self._target)
            box.toggled.connect(self._validate)
            grid.addWidget(box, i // FEATURE_COLUMNS, i % FEATURE_COLUMNS)
            self.feature_boxes.append(box)
        grid.setColumnStretch(FEATURE_COLUMNS, 1)
        scroll = QScrollArea()
        scroll.setWidget(boxes)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        rows = -(-n_cols // FEATURE_COLUMNS)
        scroll.setMaximumHeight(min(rows, 5) * 26 + 6)
        all_button, none_button = QPushButton("All"), QPushButton("None")
        all_button.setObjectName("csvAllFeatures")
        none_button.setObjectName("csvNoFeatures")
        all_button.setToolTip("Every column but the target")
        all_button.clicked.connect(lambda: self.set_features([n for n in self.names if n != self.target()]))
        none_button.clicked.connect(lambda: self.set_features([]))
        feature_row = QHBoxLayout()
        feature_row.addWidget(scroll, 1)
        buttons_column = QVBoxLayout()
        buttons_column.addWidget(all_button)
        buttons_column.addWidget(none_button)
        buttons_column.addStretch(1)
        feature_row.addLayout(buttons_column)

        form = QFormLayout()
        form.addRow("Target (to predict)", self.target_box)
        form.addRow("Features (inputs)", feature_row)

        self.status = QLabel()
        self.status.setObjectName("csvStatus")
        self.status.setAccessibleName("What opening does")
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.setObjectName("csvButtons")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.summary)
        layout.addWidget(self.preview, 1)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self.resize(780, 600)
        self._validate()

    # --- the choice ---
    @property
    def ok_button(self) -> QPushButton:
        return self.buttons.button(QDialogButtonBox.StandardButton.Open)

    def target(self) -> str:
        return self.names[self.target_box.currentIndex()]

    def features(self) -> list[str]:
        """The ticked columns, in file order."""
        return [n for n, box in zip(self.names, self.feature_boxes, strict=True) if box.isChecked()]

    def set_target(self, name: str) -> None:
        self.target_box.setCurrentIndex(self.names.index(name))

    def set_features(self, names: list[str]) -> None:
        """Tick exactly ``names`` (the target too, if named: the dialog then refuses the choice)."""
        for n, box in zip(self.names, self.feature_boxes, strict=True):
            box.blockSignals(True)
            box.setChecked(n in names)
            box.blockSignals(False)
        self._validate()

    def problem(self) -> str:
        """Why the choice cannot be used (one line), or "" if it can."""
        features = self.features()
        if self.target() in features:
            return f"“{self.target()}” is the target: it cannot also be a feature. Untick it, or choose another target."
        if not features:
            return "Tick at least one feature: a column to predict the target from."
        return ""

    @Slot(int)
    def _on_target_changed(self, index: int) -> None:
        previous, self._target = self._target, index
        for k, on in ((index, False), (previous, True)):
            box = self.feature_boxes[k]
            box.blockSignals(True)
            box.setChecked(on)
            box.blockSignals(False)
        self._validate()

    @Slot()
    def _validate(self, *_) -> None:
        problem = self.problem()
        self.ok_button.setEnabled(not problem)
        if problem:
            self.status.setText(problem)
            self.status.setStyleSheet("color: #8a1c12; font-weight: 600;")
        else:
            features = self.features()
            target = html.escape(self.target())
            if len(features) == 1:
                plan = (f"One feature, <b>{html.escape(features[0])}</b>, to predict <b>{target}</b>: opens in "
                        "the <b>Loss surface</b> tab, where gradient descent fits a line to it.")
            else:
                plan = (f"{len(features)} features to predict <b>{target}</b>: opens in the <b>multi-feature</b> "
                        "tab (in place of Boston Housing), for linear regression or an MLP on normalized features.")
            self.status.setText(plan)
            self.status.setStyleSheet("color: #2e5e1e;")
        self._colour_columns()

    def _colour_columns(self) -> None:
        """The target column shaded and marked in its header; columns left out greyed."""
        features = set(self.features())
        target = self.target()
        bold = QFont()
        bold.setBold(True)
        for c, column in enumerate(self.names):
            header = self.preview.horizontalHeaderItem(c)
            header.setFont(bold if column == target else QFont())
            header.setText(f"{column} (target)" if column == target else column)
            background = QBrush(TARGET_COLOUR) if column == target else QBrush()
            foreground = QBrush(UNUSED_COLOUR) if column != target and column not in features else QBrush()
            for r in range(self.preview.rowCount()):
                item = self.preview.item(r, c)
                item.setBackground(background)
                item.setForeground(foreground)
        self.preview.resizeColumnsToContents()


# --------------------------------------------------------------------------- the opener (GUI thread)
class CsvOpener(QObject):
    """Opens CSV files for a window: file dialog, reading off the GUI thread, progress, preview, messages.

    Signals
    -------
    datasetReady(Dataset)
        The user chose the columns of a good file and pressed OK.
    failed(str)
        A file could not be opened; the one-line message was shown.
    """

    datasetReady = Signal(object)
    failed = Signal(str)
    _read = Signal(int, str)

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self._window = window
        self._thread: QThread | None = None
        self._reader: TableReader | None = None
        self._token = 0
        self._pending: int | None = None  # the token of the read under way, if its result is wanted
        self.progress: QProgressDialog | None = None
        self.preview: OpenCsvDialog | None = None

    @property
    def loading(self) -> bool:
        """True while a file is being read (and its result is wanted)."""
        return self._pending is not None

    # --- entry points ---
    def choose_file(self) -> None:
        """Ask for a file (starting in the last folder of any file dialog) and open it."""
        path, _ = QFileDialog.getOpenFileName(self._window, "Open CSV", prefs.last_folder(), FILE_FILTER)
        if path:
            prefs.remember_folder(path)
            self.open(path)

    def open(self, path: str | os.PathLike[str]) -> None:
        """Read ``path`` in the background, then preview it (or say in one line why it cannot be used)."""
        path = os.fspath(path)
        self._drop_current()
        self._start_thread()
        self._token += 1
        self._pending = self._reader.wanted = self._token
        self._show_progress(path)
        self._read.emit(self._token, path)

    @Slot()
    def cancel(self) -> None:
        """Give up the read under way: its result will be dropped, nothing changes."""
        self._pending = None
        if self._reader is not None:
            self._reader.wanted = 0
        self._close_progress()

    @property
    def thread(self) -> QThread | None:
        """The background reader's thread, once a file has been read."""
        return self._thread

    @property
    def reading(self) -> bool:
        """True while a file is read in the background thread."""
        return self._thread is not None and self._thread.isRunning()

    def shutdown(self) -> None:
        """Close the dialogs and stop the reader's thread (after the read under way; safe to call twice)."""
        self._drop_current()
        if self._thread is not None and self._thread.isRunning():
            self._thread.quit()
            self._thread.wait()

    # --- the reader's results ---
    @Slot(int, str, object)
    def _on_done(self, token: int, path: str, result: tuple) -> None:
        if token != self._pending:
            return
        self._pending = None
        self._close_progress()
        names, table = result
        self.preview = dialog = OpenCsvDialog(path, names, table, self._window)
        dialog.accepted.connect(self._on_accepted)
        dialog.finished.connect(self._on_preview_finished)
        dialog.open()

    @Slot(int, str, str)
    def _on_failed(self, token: int, path: str, message: str) -> None:
        if token != self._pending:
            return
        self._pending = None
        self._close_progress()
        self._warn(path, message)

    @Slot()
    def _on_accepted(self) -> None:
        dialog = self.preview
        if dialog is None:
            return
        try:
            dataset: Dataset = table_dataset(dialog.path, dialog.names, dialog.table, dialog.target(),
                                             dialog.features())
        except DataError as err:
            self._warn(dialog.path, one_line(err))
            return
        self.datasetReady.emit(dataset)

    @Slot(int)
    def _on_preview_finished(self, _result: int) -> None:
        if self.preview is not None:
            self.preview.deleteLater()
            self.preview = None

    # --- helpers ---
    def _warn(self, path: str, message: str) -> None:
        message = one_line(message)
        QMessageBox.warning(self._window, f"Cannot open {Path(path).name or path}", message)
        self.failed.emit(message)

    def _drop_current(self) -> None:
        """Forget a read under way and close an open preview, as if cancelled."""
        self.cancel()
        if self.preview is not None:
            preview, self.preview = self.preview, None
            preview.blockSignals(True)
            preview.reject()
            preview.deleteLater()

    def _start_thread(self) -> None:
        if self._thread is not None:
            return
        install()  # garbage is collected in the GUI thread only, never in the reader's
        self._thread = QThread()
        self._thread.setObjectName("csvReaderThread")
        self._reader = TableReader()
        self._reader.moveToThread(self._thread)
        self._read.connect(self._reader.read)
        self._reader.done.connect(self._on_done)
        self._reader.failed.connect(self._on_failed)
        self._thread.start()

    def _show_progress(self, path: str) -> None:
        size = _size_text(path)
        name = Path(path).name or path
        dialog = QProgressDialog(f"Reading {name}{f' ({size})' if size else ''}…", "Cancel", 0, 0, self._window)
        dialog.setObjectName("openCsvProgress")
        dialog.setWindowTitle("Opening a CSV file")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.setMinimumWidth(360)
        dialog.setMinimumDuration(PROGRESS_DELAY_MS)
        dialog.setValue(0)  # starts the timer that shows the dialog after PROGRESS_DELAY_MS
        dialog.canceled.connect(self.cancel)
        dialog.rejected.connect(self.cancel)  # Escape
        self.progress = dialog

    def _close_progress(self) -> None:
        if self.progress is not None:
            dialog, self.progress = self.progress, None
            dialog.blockSignals(True)  # closing a QProgressDialog emits canceled()
            dialog.reset()
            dialog.hide()
            dialog.deleteLater()
