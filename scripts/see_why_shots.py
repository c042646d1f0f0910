"""Make the README's pictures of curvature and of a network's landscape from the real window.

    python scripts/see_why_shots.py [OUTPUT_DIR] [--all]     (default docs/images)

``curvature.png``: the loss-surface tab with MSE, thirty steps that zigzag across the valley, and the curvature
axes shown. ``landscape.png``: the Boston tab's two-layer MLP after its 200 epochs, its loss over the training
path's PCA plane. ``--all`` also saves the Boston linear slice with its axes (raw and normalized) and the
random-directions plane. Uses the current display; with none it starts Xvfb if it is installed, else renders
offscreen (as ``scripts/screenshots.py`` does).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path


def ensure_display() -> subprocess.Popen | None:
    if os.environ.get("DISPLAY") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if shutil.which("Xvfb"):
        display = ":96"
        proc = subprocess.Popen(["Xvfb", display, "-screen", "0", "1600x1000x24"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        os.environ["DISPLAY"] = display
        return proc
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    return None


def main() -> int:
    xvfb = ensure_display()
    try:
        return shots()
    finally:
        if xvfb is not None:
            xvfb.terminate()


def shots() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    out = Path(args[0] if args else "docs/images")
    out.mkdir(parents=True, exist_ok=True)
    every = "--all" in sys.argv
    from PySide6.QtCore import QEventLoop, QSettings, QStandardPaths, QTimer

    from fitscope.gui.app import MainWindow, create_app
    from fitscope.gui.worker import Unit

    QStandardPaths.setTestModeEnabled(True)  # the book's settings, not what this machine remembers
    app = create_app()
    QSettings().clear()
    window = MainWindow()
    window.resize(1500, 920)
    window.show()

    def wait(ms: int) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    def until(predicate, timeout_ms: int = 120_000) -> None:
        deadline = time.monotonic() + timeout_ms / 1000
        while not predicate() and time.monotonic() < deadline:
            wait(20)

    def save(name: str) -> None:
        wait(400)
        path = out / f"{name}.png"
        window.grab().save(str(path))
        print(path)

    views = {view.objectName(): (k, view) for k, view in enumerate(window.views)}

    index, surface = views["surfaceView"]
    window.tabs.setCurrentIndex(index)
    wait(300)
    surface.set_control("loss", "mse")
    surface.control("learning_rate").setValue(0.03)
    surface.start_at(1.0, 0.6)
    for _ in range(30):
        surface.controller.step(Unit.BATCH)
        until(lambda: not surface.controller.busy)
    surface.curvature_box.show_axes.setChecked(True)
    save("curvature")

    index, boston = views["bostonView"]
    window.tabs.setCurrentIndex(index)
    wait(300)
    if every:
        boston.curvature_box.show_axes.setChecked(True)
        boston.commands["run"].trigger()
        until(lambda: not boston.controller.busy)
        until(lambda: boston.slice_current)
        save("boston-curvature")
        boston.control("normalize").setChecked(False)
        until(lambda: boston.slice_current)
        save("boston-curvature-raw")
        boston.control("normalize").setChecked(True)
        boston.curvature_box.show_axes.setChecked(False)
    boston.control("model").setCurrentIndex(2)
    wait(300)
    boston.commands["run"].trigger()
    until(lambda: not boston.controller.busy)
    boston.slice.mode.setCurrentIndex(1)
    until(lambda: boston.landscape.grid is not None)
    save("landscape")
    if every:
        boston.slice.mode.setCurrentIndex(2)
        until(lambda: boston.landscape.grid is not None)
        save("landscape-random")
    window.close()
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
