"""fitscope's training engine: pure NumPy, no Qt. See :mod:`engine.experiment` for the entry point."""
