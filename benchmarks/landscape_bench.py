"""The network landscape in the app: the Boston tab's 60 × 60 slice of the 2-layer MLP over a plane.

(a) From choosing "random directions" to the grid drawn: the plane made in the GUI thread, the 60 × 60 grid of
    the 2-layer Boston MLP (12 → 50 → 50 → 1, 266 rows) computed in the view's background pool, batched, with
    its progress reported, and drawn. Target: at most 2 s (the engine alone: ``sweep_bench``).
(b) The same for "training path (PCA)" after 200 epochs (the PCA of the start and the 200 epochs' ends, then
    the grid). Target: at most 2 s.
(c) The longest gap between ticks of a 5 ms QTimer in the GUI thread while (a) computes, less the 5 ms.
    Target: at most 50 ms: the slice is computed off the GUI thread.

The sweep's benchmark (Boston linear, 30 rates × 200 epochs) and the engine's slice are in ``sweep_bench``.
"""

from __future__ import annotations

import time

from . import Result

TICK_MS = 5
REPEAT = 3


def _choose(view, key: str) -> tuple[float, float]:
    """(seconds until the plane ``key``'s grid is drawn, the longest event-loop stall meanwhile)."""
    from PySide6.QtCore import QEventLoop, QTimer

    from fitscope.gui.panels.loss_slice import MODES

    view.slice.mode.setCurrentIndex(0)  # from two weights each time, once their slice is drawn
    for _ in range(300):
        settle = QEventLoop()
        QTimer.singleShot(100, settle.quit)
        settle.exec()
        if not view.slicer.busy:
            break
    gaps: list[float] = []
    last = [0.0]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    ticker = QTimer(interval=TICK_MS)
    ticker.timeout.connect(tick)
    loop = QEventLoop()
    done = [0.0]

    def drawn(_result) -> None:  # connected after the view's own slot: the grid is drawn when this runs
        done[0] = time.perf_counter()
        loop.quit()

    view.landscape.slicer.ready.connect(drawn)
    start = last[0] = time.perf_counter()
    ticker.start()
    view.slice.mode.setCurrentIndex(list(MODES).index(key))
    QTimer.singleShot(60_000, loop.quit)
    loop.exec()
    ticker.stop()
    view.landscape.slicer.ready.disconnect(drawn)
    if view.landscape.grid is None or view.landscape.plane.kind != key:
        raise RuntimeError(f"the {key} plane was not drawn")
    return done[0] - start, max(max(gaps, default=0.0) - TICK_MS / 1000, 0.0)


def run() -> list[Result]:
    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

    from fitscope.gui.app import create_app
    from fitscope.gui.views.boston_view import BostonView

    create_app()
    view = BostonView()
    view.resize(1400, 860)
    view.show()
    QCoreApplication.processEvents()
    try:
        view.control("model").setCurrentIndex(2)  # 2 hidden layers of 50
        random_times, stalls = zip(*(_choose(view, "random") for _ in range(REPEAT)), strict=True)
        loop = QEventLoop()
        view.controller.stopped.connect(lambda *_: loop.quit())
        view.commands["run"].trigger()
        QTimer.singleShot(120_000, loop.quit)
        loop.exec()
        pca_times = [_choose(view, "pca")[0] for _ in range(REPEAT)]
        n = view.model.n_params
    finally:
        view.shutdown()
        view.close()
        QCoreApplication.processEvents()
    return [
        Result("landscape in the view: random directions, 60x60", min(random_times), target=2.0,
               note=f"boston MLP 50-50, {n:,} parameters; choice to grid drawn, in the background"),
        Result("landscape in the view: training path (PCA), 60x60", min(pca_times), target=2.0,
               note="after 200 epochs: PCA of 201 points, then the grid"),
        Result("landscape in the view: longest event-loop stall", min(stalls), target=0.050,
               note=f"{TICK_MS} ms timer in the GUI thread while the slice is computed"),
    ]
