"""fitscope's desktop app: PySide6 + pyqtgraph. It draws what the engine computes and holds no training math."""
