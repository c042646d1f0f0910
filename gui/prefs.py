"""What the app remembers between runs (QSettings): the last folder of any file dialog, each tab's own values
(its speed, say), and the settings each tab used for each data set.

Every reader here survives a damaged or foreign value: it is ignored (the default is used), never a crash.
Window geometry and the current tab are kept by :class:`gui.app.MainWindow` itself, with the same care.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from PySide6.QtCore import QSettings

LAST_FOLDER = "files/last_folder"


def last_folder() -> str:
    """The folder of the last file opened or saved in any dialog, if it still exists; else the home folder."""
    value = QSettings().value(LAST_FOLDER)
    if isinstance(value, str) and value and os.path.isdir(value):
        return value
    return os.path.expanduser("~")


def remember_folder(path: str | os.PathLike[str]) -> None:
    """Remember the folder of ``path`` (a file, or a folder itself) for the next file dialog."""
    path = os.fspath(path)
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    if folder:
        QSettings().setValue(LAST_FOLDER, folder)


def suggested_path(file_name: str) -> str:
    """``file_name`` in the last folder: where a Save dialog starts."""
    return os.path.join(last_folder(), file_name)


def save_view_settings(key: str, values: dict[str, Any]) -> None:
    """Remember a view's control values (JSON text under ``views/<key>``)."""
    try:
        text = json.dumps(values, allow_nan=False)
    except (TypeError, ValueError):
        return
    QSettings().setValue(f"views/{key}", text)


def view_settings(key: str) -> dict[str, Any]:
    """A view's remembered control values, or ``{}`` if there are none or they are damaged."""
    value = QSettings().value(f"views/{key}")
    if not isinstance(value, str):
        return {}
    try:
        values = json.loads(value, parse_constant=lambda _: None)
    except (ValueError, RecursionError):
        return {}
    return values if isinstance(values, dict) else {}


# --------------------------------------------------------------------------- settings per data set
def _data_key(tab: str, dataset_key: str) -> str:
    return f"runs/{tab}/{hashlib.sha1(dataset_key.encode()).hexdigest()[:16]}"


def save_for_data(tab: str, dataset_key: str, values: dict[str, Any]) -> None:
    """Remember what a tab used for one data set (``dataset_key``: :func:`fitscope.engine.run.dataset_key`)."""
    try:
        text = json.dumps({"data": dataset_key, "values": values}, allow_nan=False)
    except (TypeError, ValueError):
        return
    QSettings().setValue(_data_key(tab, dataset_key), text)


def for_data(tab: str, dataset_key: str) -> dict[str, Any] | None:
    """What a tab last used for this data set, or None (nothing remembered, or damaged)."""
    value = QSettings().value(_data_key(tab, dataset_key))
    if not isinstance(value, str):
        return None
    try:
        saved = json.loads(value, parse_constant=lambda _: None)
    except (ValueError, RecursionError):
        return None
    if not isinstance(saved, dict) or saved.get("data") != dataset_key or not isinstance(saved.get("values"), dict):
        return None
    return saved["values"]


def forget(tab: str | None = None) -> None:
    """Forget what a tab (or, with None, every tab) remembers; the window's place and the last folder stay."""
    settings = QSettings()
    if tab is None:
        for group in ("runs", "views"):
            settings.remove(group)
    else:
        settings.remove(f"runs/{tab}")
        settings.remove(f"views/{tab}")


def completed_save_path(parent, path: str, suffix: str) -> str | None:
    """The file to write for ``path`` as chosen in a Save dialog: with ``suffix`` (".js", ".csv"…) added when it
    has none. The dialog asked before replacing the file it was given, but not one the suffix leads to, nor can
    it stop a folder's name: those are asked about, or refused, here. None: the user said no, or it is a folder.
    """
    from PySide6.QtWidgets import QMessageBox  # this module is read without a GUI too (remembered settings)

    full = path if os.path.splitext(path)[1] else path + suffix
    if os.path.isdir(path) or os.path.isdir(full):
        QMessageBox.warning(parent, "Save", f"{os.path.basename(full.rstrip(os.sep)) or full} is a folder: choose a "
                            "file name.")
        return None
    if full != path and os.path.exists(full):
        answer = QMessageBox.question(parent, "Replace file?", f"{os.path.basename(full)} already exists. Replace it?",
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        if answer != QMessageBox.StandardButton.Yes:
            return None
    return full


# --------------------------------------------------------------------------- text size
TEXT_SIZE = "display/text_size"


def text_size() -> int:
    """The text size (per cent) remembered from the last launch; 100 if none or damaged."""
    value = QSettings().value(TEXT_SIZE)
    try:
        return int(value) if isinstance(value, int | str) and str(value).isdigit() else 100
    except ValueError:
        return 100


def remember_text_size(percent: int) -> None:
    """Remember the text size (View ▸ Larger text / Smaller text) for the next launch."""
    QSettings().setValue(TEXT_SIZE, int(percent))
