"""fitscope: a desktop microscope on ``model.fit()``.

The package holds the training engine (:mod:`fitscope.engine`, NumPy only), the app (:mod:`fitscope.gui`,
PySide6 and pyqtgraph), the texts it shows (:mod:`fitscope.resources`) and the book's data sets
(:mod:`fitscope.data`). ``python -m fitscope`` is the ``fitscope`` command.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fitscope")
except PackageNotFoundError:  # run from a checkout that is not installed
    __version__ = "0+unknown"
