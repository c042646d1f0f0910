"""What a frame keeps of a long run's trajectory stays true, and stays kept: once the history is thinned, the end
of each epoch still moves the rows after it (the epoch end before goes), but no settled row. So the history's
growth changes only when it is thinned, and the paths, envelopes and epoch rows kept from frame to frame are
those drawn afresh."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import fitscope.engine.history as history_module
from fitscope.engine.data import load_builtin
from fitscope.engine.run import FitRun
from fitscope.gui.panels.decimate import GrowingEnvelope, GrowingPath, path

CAP = 256


@pytest.fixture
def capped(monkeypatch):
    monkeypatch.setattr(history_module, "MAX_ROWS", CAP)


def deliveries(run: FitRun, rng: np.random.Generator, most: int = 40):
    """Train ``run`` to its end, recording the reports in deliveries of 1 to ``most`` reports; yield after each."""
    batch: list = []
    size = int(rng.integers(1, most + 1))
    for report in run.trainer.run():
        batch.append(report)
        if len(batch) >= size:
            run.record(batch)
            yield
            batch, size = [], int(rng.integers(1, most + 1))
    run.record(batch)
    yield


def uneven_epochs(epochs: int = 600) -> FitRun:
    """Seven batches an epoch: the epochs end at steps the thinning's stride does not keep."""
    d = load_builtin("download-time")
    return FitRun(d, replace(d.defaults, loss="mse", learning_rate=0.01, batch_size=3, epochs=epochs))


@pytest.mark.parametrize("seed", range(3))
def test_a_thinned_history_changes_its_growth_only_when_it_is_thinned(capped, seed):
    run = uneven_epochs()
    h = run.history
    rng = np.random.default_rng(seed)
    growth, rows, thinnings, pins_moved = h.growth, len(h.params), 0, 0
    loss_growth, losses, loss_thinnings = h.loss_growth, len(h.batch_loss), 0
    for _ in deliveries(run, rng):
        if h.growth != growth:
            thinnings += 1
            assert len(h.params) <= rows - CAP // 4  # a thinning (about half the rows go), not an epoch's end
        elif h.thinned and len(h.params) <= rows:
            pins_moved += 1  # rows moved at the end (an epoch end let go), the growth kept
        if h.loss_growth != loss_growth:  # the batch losses, thinned on their own
            loss_thinnings += 1
            assert len(h.batch_loss) <= losses - CAP // 4
        growth, rows, loss_growth, losses = h.growth, len(h.params), h.loss_growth, len(h.batch_loss)
    assert h.thinned and 0 < thinnings <= int(np.log2(h.steps)) and 0 < loss_thinnings <= int(np.log2(h.steps))
    assert pins_moved > 0  # the case this is about did happen


@pytest.mark.parametrize("seed", range(3))
def test_what_is_kept_of_a_thinned_trajectory_is_what_would_be_drawn_afresh(capped, seed):
    run = uneven_epochs()
    h = run.history
    rng = np.random.default_rng(seed)
    kept_path, kept_envelope = GrowingPath(), GrowingEnvelope()
    pixel, columns = (1e-4, 1e-3), 40
    for _ in deliveries(run, rng):
        a, b = h.params[:, 0], h.params[:, 1]
        got = kept_path.update(a, b, pixel, most=100, key=h.growth, settled=h.settled)
        fresh = path(a, b, pixel, most=100)
        np.testing.assert_array_equal(got[0], fresh[0])
        np.testing.assert_array_equal(got[1], fresh[1])
        # The epoch ends' rows, kept between calls.
        np.testing.assert_array_equal(h.epoch_rows(), np.flatnonzero(np.isin(h.param_steps, h.epoch_steps)))
        # A value per trajectory row (as the race draws its losses), by pixel column of steps.
        x, y = h.param_steps, h.params[:, 0] * h.params[:, 1]
        x_max = 10.0 * 2 ** np.ceil(np.log2(max(10.0, float(x[-1])) / 10))
        ex, ey = kept_envelope.update(x, y, columns, x_max, key=h.growth, settled=h.settled)
        fx, fy = GrowingEnvelope().update(x, y, columns, x_max)
        np.testing.assert_array_equal(ex, fx)
        np.testing.assert_array_equal(ey, fy)
    assert h.thinned


@pytest.mark.parametrize("seed", range(3))
def test_the_settled_rows_stay_as_they_were_while_the_growth_stays(capped, seed):
    run = uneven_epochs()
    h = run.history
    growth, settled_steps, settled_rows, checked = None, None, None, 0
    for _ in deliveries(run, np.random.default_rng(seed)):
        if h.growth == growth:
            k = len(settled_steps)
            assert len(h.params) >= k
            np.testing.assert_array_equal(h.param_steps[:k], settled_steps)
            np.testing.assert_array_equal(h.params[:k], settled_rows)
            checked += 1
        growth, settled_steps, settled_rows = h.growth, h.param_steps[: h.settled].copy(), h.params[: h.settled].copy()
    assert checked > 100
