"""File > Export > Animation… of the loss-surface tab: a 200-frame GIF at 800 × 600 pixels.

The tab's run (the download-time data, batch size 4, 50 epochs: every step kept) is exported through the
app's own export (:class:`~fitscope.gui.animation.AnimationExport`: frames drawn off screen from the recorded
history, a few at a time in the GUI thread, then encoded with Pillow in a background thread and written).

(a) Seconds from the start of the export to the file written. Target: at most 20 s.
(b) The file's size in megabytes, reported as a ratio to 8 MB. Target: at most 1 (8 MB).
"""

from __future__ import annotations

import os
import tempfile
import time

from . import Result

FRAMES, WIDTH, HEIGHT, FPS = 200, 800, 600, 20
EPOCHS = 50
SIZE_LIMIT_MB = 8.0


def run() -> list[Result]:
    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

    from fitscope.gui.animation import AnimationExport, AnimationSpec
    from fitscope.gui.app import create_app
    from fitscope.gui.views.surface_view import SurfaceView
    from fitscope.gui.worker import Unit

    app = create_app()
    view = SurfaceView()
    view.resize(1400, 860)
    view.show()
    QCoreApplication.processEvents()
    try:
        view.control("batch_size").setValue(4)
        for _ in range(EPOCHS):
            view.step(Unit.EPOCH)
            while view.controller.busy:
                app.processEvents()
        steps = view.model.history.steps
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "surface.gif")
            loop = QEventLoop()
            job = AnimationExport(view.model, AnimationSpec(0, steps, FPS, FRAMES, WIDTH, HEIGHT), path)
            job.finished.connect(lambda _ok: loop.quit())
            start = time.perf_counter()
            job.start()
            QTimer.singleShot(300_000, loop.quit)
            loop.exec()
            seconds = time.perf_counter() - start
            if not job.done or job.error or not os.path.exists(path):
                raise RuntimeError(f"the export did not finish: {job.error or 'no file'}")
            megabytes = os.path.getsize(path) / 1e6
    finally:
        view.shutdown()
        view.close()
        QCoreApplication.processEvents()
    what = f"{FRAMES} frames of {WIDTH}x{HEIGHT} of {steps:,} steps"
    return [
        Result("animation: surface tab GIF, export time", seconds, target=20.0,
               note=f"{what}: drawn off screen, encoded, written"),
        Result("animation: surface tab GIF, size / 8 MB", megabytes / SIZE_LIMIT_MB, unit="x", target=1.0,
               note=f"{megabytes:.2f} MB"),
    ]
