"""Make the README's screenshots: open the real window, use each tab, the code panel and the sweep dialog as a user
would, save PNGs (the curvature and landscape pictures are scripts/see_why_shots.py's).

    python scripts/screenshots.py [OUTPUT_DIR]      (default docs/images)

Uses the current display; with no DISPLAY it starts Xvfb if it is installed, else renders offscreen.
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
        display = ":97"
        proc = subprocess.Popen(["Xvfb", display, "-screen", "0", "1600x1000x24"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        os.environ["DISPLAY"] = display
        return proc
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    return None


def surface_tour(view, step, wait, until) -> None:
    """MSE at a learning rate that zigzags: 30 steps from a start up and to the right of the valley, then the
    phases of the next step up to its gradient."""
    from fitscope.gui.worker import Unit

    view.set_control("loss", "mse")
    view.control("learning_rate").setValue(0.03)
    view.start_at(1.0, 0.6)
    for _ in range(30):
        step(view, Unit.BATCH)
    for _ in range(4):
        step(view, Unit.PHASE)


def boston_tour(view, step, wait, until) -> None:
    """The book's linear model trained for its 200 epochs."""
    view.commands["run"].trigger()
    until(lambda: not view.controller.busy)


def backprop_tour(view, step, wait, until) -> None:
    """The book's example, backpropagated back to ∂loss/∂v."""
    view.book_example()
    view.forward_pass()
    for _ in range(5):
        view.backward_step()


def race_tour(view, step, wait, until) -> None:
    """The four optimizers raced for 100 epochs with rates that let each of them get somewhere."""
    for key, rate in (("rmsprop", 0.02), ("adam", 0.05)):
        view.rates[key].setValue(rate)
    view.control("epochs").setValue(100)
    view.commands["run"].trigger()
    until(lambda: not view.controller.busy)


#: objectName of a view → what a user does in it before the picture is taken.
TOURS = {"surfaceView": surface_tour, "bostonView": boston_tour, "backpropView": backprop_tour,
         "raceView": race_tour}


def code_shot(window, step, wait, until):
    """The code panel beside the loss-surface tab: TensorFlow.js code of a run from a clicked start, 30 steps in,
    then a batch size of 10 and a learning rate of 0.03 (the line that changed last highlighted). The window."""
    from fitscope.gui.worker import Unit

    view = window.surface_view
    view.set_control("loss", "mse")
    view.start_at(1.0, 0.6)
    window.code_dock.action.trigger()
    wait(500)
    panel = window.code_dock.panel
    panel.language.setCurrentIndex(panel.language.findData("tfjs"))
    for _ in range(30):
        step(view, Unit.BATCH)
    view.set_control("batch_size", 10)
    until(lambda: "batchSize: 10," in panel.text)
    wait(200)
    view.control("learning_rate").setValue(0.03)
    until(lambda: "sgd(0.03)" in panel.text)
    return window


def sweep_shot(window, step, wait, until):
    """The learning-rate sweep of the loss-surface tab (download-time, MSE, full batch): 40 rates from 0.001 to 1,
    the rate nearest 0.03 chosen. The dialog."""
    view = window.surface_view
    window.tabs.setCurrentWidget(view)
    wait(300)
    view.set_control("loss", "mse")
    dialog = window.sweeps.open()
    dialog.move(560, 160)
    wait(300)
    dialog.lr_min.setText("0.001")
    dialog.lr_max.setText("1")
    dialog.num.setValue(40)
    dialog.start()
    until(lambda: not dialog.running, 120_000)
    rates, _ = dialog.plot.training_points()
    dialog.train_with(rates[int(abs(rates - 0.03).argmin())])
    return dialog


#: The pictures of a fresh window each: name → what a user does, returning the widget to picture.
SHOTS = {"code": code_shot, "sweep": sweep_shot}


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/images")
    out.mkdir(parents=True, exist_ok=True)
    xvfb = ensure_display()
    try:
        from PySide6.QtCore import QEventLoop, QSettings, QStandardPaths, QTimer

        from fitscope.gui.app import MainWindow, create_app

        QStandardPaths.setTestModeEnabled(True)  # the book's settings, not what this machine remembers
        app = create_app()

        def open_window() -> MainWindow:
            QSettings().clear()  # nothing of the window before
            window = MainWindow()
            window.resize(1500, 920)
            window.show()
            return window

        window = open_window()

        def wait(ms: int) -> None:
            loop = QEventLoop()
            QTimer.singleShot(ms, loop.quit)
            loop.exec()

        def until(predicate, timeout_ms: int = 60_000) -> None:
            deadline = time.monotonic() + timeout_ms / 1000
            while not predicate() and time.monotonic() < deadline:
                wait(20)

        def save(name: str, widget=None) -> None:
            wait(300)
            path = out / f"{name}.png"
            (widget or window).grab().save(str(path))
            print(path)

        def step(view, unit) -> None:
            view.controller.step(unit)
            until(lambda: not view.controller.busy)
            wait(30)

        for index, view in enumerate(window.views):
            tour = TOURS.get(view.objectName())
            if tour is None:
                continue
            window.tabs.setCurrentIndex(index)
            wait(300)
            tour(view, step, wait, until)
            save(view.objectName().removesuffix("View"))
        window.close()
        app.processEvents()
        for name, shot in SHOTS.items():
            window = open_window()
            wait(300)
            save(name, shot(window, step, wait, until))
            window.close()
            app.processEvents()
    finally:
        if xvfb is not None:
            xvfb.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
