"""fitscope: a desktop microscope on ``model.fit()``.

The package holds the training engine (:mod:`fitscope.engine`, NumPy only), the app (:mod:`fitscope.gui`,
PySide6 and pyqtgraph), the texts it shows (:mod:`fitscope.resources`) and the book's data sets
(:mod:`fitscope.data`). ``python -m fitscope`` is the ``fitscope`` command.
"""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # ``__version__`` is looked up when asked for: importing the package stays instant, so that the
    # ``fitscope`` command handles Ctrl-C from its first moments (importlib.metadata takes a tenth of a second).
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("fitscope")
        except PackageNotFoundError:  # run from a checkout that is not installed
            return "0+unknown"
    raise AttributeError(f"module 'fitscope' has no attribute {name!r}")
