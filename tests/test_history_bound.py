"""A run's history is bounded and never stops training: past its cap it keeps the start, the latest step and an
evenly thinned middle, chosen by step numbers alone (the same every time), and sessions keep it exactly."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

import fitscope.engine.history as history_module
import fitscope.engine.run as run_module
from fitscope.engine.data import load_builtin
from fitscope.engine.history import MAX_ROWS, History, Thinned
from fitscope.engine.run import FitRun
from fitscope.gui.models.race import RaceRun


def train(run: FitRun, chunks: int | None = None, rng: np.random.Generator | None = None) -> None:
    """Train ``run`` to its end, recording as a driver would: the reports in deliveries of random sizes, and
    the trainer's generator dropped and taken up again at random moments (with ``rng``)."""
    while not run.trainer.finished:
        batch = []
        for report in run.trainer.run():
            batch.append(report)
            if rng is not None and rng.random() < 0.01:
                break  # a driver that stops after any report, and goes on later
            if len(batch) >= (chunks or 10_000):
                run.record(batch)
                batch = []
        run.record(batch)


def evenly_thinned(steps: np.ndarray, first: int, last: int) -> int:
    """Check the rule: ``first`` and ``last`` kept, the rest multiples of one power-of-two stride, all of
    them up to the last; return the stride."""
    assert steps[0] == first and steps[-1] == last
    middle = steps[1:-1]
    stride = int(middle[1] - middle[0]) if len(middle) > 1 else 1
    assert stride & (stride - 1) == 0  # a power of two
    body = middle[middle % stride == 0]
    assert np.array_equal(body, np.arange(body[0], body[-1] + 1, stride))
    assert body[-1] + stride > last - 1  # no multiple of the stride before the latest is missing
    return stride


@pytest.fixture
def small(monkeypatch):
    """Histories of at most 64 rows (parameters and batch losses alike)."""
    monkeypatch.setattr(history_module, "MAX_ROWS", 64)


def long_run(epochs: int = 500) -> FitRun:
    d = load_builtin("download-time")
    return FitRun(d, replace(d.defaults, loss="mse", learning_rate=0.01, batch_size=1, epochs=epochs))


# --------------------------------------------------------------------------- the rule
def test_a_column_keeps_its_first_step_its_latest_and_an_even_middle():
    column = Thinned(1, 64, first=0)
    for step in range(0, 10_001):
        column.append(step, float(step))
        assert column.n <= 64
    steps = column.steps
    stride = evenly_thinned(steps, 0, 10_000)
    assert stride == 256 and len(steps) > 32  # at least half full after thinning
    assert np.array_equal(column.values[:, 0], steps)  # each row holds its own step's values


def test_a_pinned_step_is_kept_until_another_is_pinned():
    column = Thinned(1, 16, first=0)
    for step in range(100):
        column.append(step, step)
        if step % 7 == 6:
            column.pin(step)  # an epoch ended
    steps = column.steps.tolist()
    assert 97 in steps and 90 not in steps and steps[-1] == 99
    assert len(steps) <= 16


def test_a_long_run_keeps_start_end_and_an_evenly_spaced_middle(monkeypatch):
    again = long_run()
    full = History(again.trainer.params)  # every step, for reference
    for report in again.trainer.run():
        full.add(report)
    assert not full.thinned
    monkeypatch.setattr(history_module, "MAX_ROWS", 64)
    run = long_run()
    train(run)
    h = run.history
    assert h.steps == run.trainer.step == 20 * 500 and h.diverged is None
    assert len(h.params) <= 64 and len(h.batch_loss) <= 64 and h.thinned
    evenly_thinned(h.param_steps, 0, h.steps)
    evenly_thinned(h.loss_steps, 1, h.steps)
    assert np.array_equal(h.current, run.trainer.params)
    assert len(h.epochs) == 500  # the epoch table is whole
    # Each kept row is that step's.
    assert np.array_equal(h.params, full.params[h.param_steps])
    assert np.array_equal(h.batch_loss, full.batch_loss[h.loss_steps - 1])
    assert np.array_equal(h.epochs, full.epochs, equal_nan=True)
    # The latest epoch's end is kept, for what is drawn at it.
    epoch, params = h.last_kept_epoch()
    assert epoch == 500 and np.array_equal(params, full.params[h.epoch_steps[-1]])


def test_two_identical_runs_keep_identical_histories_however_they_are_driven(small):
    a, b = long_run(100), long_run(100)
    train(a)
    train(b, chunks=7, rng=np.random.default_rng(1))
    for x, y in ((a.history.params, b.history.params), (a.history.param_steps, b.history.param_steps),
                 (a.history.batch_loss, b.history.batch_loss), (a.history.loss_steps, b.history.loss_steps)):
        assert np.array_equal(x, y)
    assert a.history.to_json() == b.history.to_json()


def test_training_never_stops_for_a_full_history(monkeypatch):
    """What stopped a long MLP run (its trajectory reached the budget) now only thins it."""
    d = load_builtin("boston-housing")
    settings = replace(d.defaults, model="mlp", hidden=(50,), batch_size=1, epochs=20)
    n_params = FitRun(d, settings).n_params
    monkeypatch.setattr(run_module, "HISTORY_BUDGET_BYTES", 100 * 8 * (n_params + 1))  # 100 rows and their steps
    run = FitRun(d, settings)
    train(run, chunks=50)
    h = run.history
    assert run.trainer.finished and h.steps == 20 * 266 and len(h.epochs) == 20
    assert len(h.params) <= 100 and h.nbytes <= run_module.HISTORY_BUDGET_BYTES
    assert not hasattr(run, "full")


def test_the_bound_in_bytes_holds_for_an_mlp_run_of_many_epochs():
    """The real budget: the two-layer MLP at batch size 1 would keep 26 kB a step; its trajectory stays within
    HISTORY_BUDGET_BYTES however long it runs (checked here well past the point where it is full)."""
    d = load_builtin("boston-housing")
    run = FitRun(d, replace(d.defaults, model="mlp", hidden=(50, 50), batch_size=1, epochs=40))
    rows = run.history.max_rows
    assert rows == run_module.HISTORY_BUDGET_BYTES // (8 * (run.n_params + 1))
    train(run, chunks=500)
    h = run.history
    assert h.steps == 40 * 266 > rows and len(h.params) <= rows
    assert h.nbytes <= run_module.HISTORY_BUDGET_BYTES


def test_a_two_parameter_run_keeps_at_most_the_row_cap():
    run = long_run(10)
    assert run.history.max_rows == MAX_ROWS == 2**20 and run.history.max_losses == MAX_ROWS


# --------------------------------------------------------------------------- sessions
def test_a_thinned_history_round_trips_exactly_and_goes_on_as_before(small):
    run = long_run(100)
    train(run)
    run.update(epochs=130)
    state = json.loads(json.dumps(run.state()))
    assert "param_steps" in state["history"] and "loss_steps" in state["history"]
    back = FitRun.from_state(state)
    for x, y in ((run.history.params, back.history.params), (run.history.param_steps, back.history.param_steps),
                 (run.history.batch_loss, back.history.batch_loss), (run.history.loss_steps, back.history.loss_steps)):
        assert np.array_equal(x, y)
    assert back.history.to_json() == run.history.to_json()
    train(run)
    train(back)
    assert run.history.to_json() == back.history.to_json()


def test_an_unthinned_history_is_written_as_before():
    run = long_run(2)
    train(run)
    value = run.history.to_json()
    assert set(value) == {"params", "batch_loss", "epochs", "last_step", "diverged"}
    back = History.from_json(value, 2, 20)
    assert np.array_equal(back.param_steps, np.arange(41)) and np.array_equal(back.loss_steps, np.arange(1, 41))


def test_an_old_history_longer_than_the_cap_is_thinned_when_read(small):
    from fitscope.engine.serial import array_to_json

    value = {"params": array_to_json(np.zeros((1001, 2))), "batch_loss": array_to_json(np.ones(1000)),
             "epochs": array_to_json(np.empty((0, 5))), "last_step": None, "diverged": None}
    back = History.from_json(value, 2, 20)
    assert back.steps == 1000 and len(back.params) <= 64 and len(back.batch_loss) <= 64
    evenly_thinned(back.param_steps, 0, 1000)
    evenly_thinned(back.loss_steps, 1, 1000)


def _thinned_value():
    h = History(np.zeros(2), max_rows=16, max_losses=16)
    for step in range(1, 200):
        h.add(_update(step))
    return h.to_json()


def _update(step: int):
    from fitscope.engine.trainer import Phase, StepReport

    p = np.full(2, float(step))
    return StepReport(Phase.UPDATE, step, 1, step - 1, 1000, np.array([0]), p - 1, np.zeros(1), float(step),
                      np.zeros(2), p, 0.1)


@pytest.mark.parametrize(("key", "steps", "message"), [
    ("param_steps", lambda s: s[::-1], "not increasing"),
    ("param_steps", lambda s: s + 1, "do not start at 0"),
    ("param_steps", lambda s: s[:-1], "rows but"),
    ("loss_steps", lambda s: s - 1, "do not run from 1"),
    ("loss_steps", lambda s: np.r_[s[:-1], s[-1] + 5], "do not run from 1"),
    ("loss_steps", lambda s: s.astype(float), "unknown or wrong type"),
])
def test_bad_step_columns_are_refused_in_one_line(key, steps, message):
    from fitscope.engine.serial import array_from_json, array_to_json

    value = _thinned_value()
    value[key] = array_to_json(steps(array_from_json(value[key], dtype="int64")))
    with pytest.raises(ValueError, match=message) as e:
        History.from_json(value, 2, 1000)
    assert "\n" not in str(e.value)


def test_the_race_keeps_bounded_histories_and_exact_finishes(monkeypatch):
    unbounded = RaceRun()  # keeps every step, for reference
    unbounded.update(batch_size=4, epochs=800)  # 4,000 steps a racer
    unbounded.record(list(unbounded.race.run()))
    monkeypatch.setattr(history_module, "MAX_ROWS", 64)
    race = RaceRun()
    race.update(batch_size=4, epochs=800)
    while not race.race.finished:
        race.record([r for _, r in zip(range(137), race.race.run(), strict=False)])
    for i, (h, full) in enumerate(zip(race.histories, unbounded.histories, strict=True)):
        assert len(h.params) <= 64 and h.steps == full.steps == 4000
        assert np.array_equal(h.params, full.params[h.param_steps])
        assert np.array_equal(race.losses(i), unbounded.losses(i)[h.param_steps])
        assert race.reached(i) == unbounded.reached(i)
    assert sum(race.reached(i) is not None for i in range(4)) >= 2  # (400, 135 and 2,633: none kept)


def test_the_trace_of_a_thinned_history_names_the_steps_it_keeps(small, tmp_path):
    """The trajectory CSV the app exports (File ▸ Export) writes the kept rows at their own step numbers, with
    the batch loss where it was kept, and the epoch and batch of each step."""
    import csv

    from fitscope.engine.export import write_trace

    run = long_run(epochs=20)
    train(run)
    h = run.history
    assert h.thinned
    path = tmp_path / "trace.csv"
    write_trace(path, run.experiment.param_names, h.params, h.batch_loss, h.epoch_steps,
                param_steps=h.param_steps, loss_steps=h.loss_steps)
    rows = list(csv.reader(path.open()))[1:]
    assert [int(r[0]) for r in rows] == h.param_steps.tolist()
    n = len(run.experiment.y)  # batch size 1: step s is batch (s - 1) % n of epoch (s - 1) // n + 1
    for row, step, params in zip(rows[1:], h.param_steps[1:], h.params[1:], strict=True):
        assert (int(row[1]), int(row[2])) == ((step - 1) // n + 1, (step - 1) % n)
        loss = h.loss_of(int(step))
        assert row[3] == ("" if loss is None else repr(loss)) or float(row[3]) == loss
        assert np.array_equal([float(v) for v in row[4:]], params)


# --------------------------------------------------------------------------- in one go
def _reports(rng: np.random.Generator, n_steps: int, n_params: int = 2) -> list:
    """Reports as a trainer makes them: updates, an epoch end every few steps (of varying length), some phases
    of a batch shown phase by phase, and a divergence now and then (training then goes on)."""
    from fitscope.engine.trainer import DivergedReport, EpochReport, Phase, StepReport

    out: list = []
    params = np.zeros(n_params)
    length = int(rng.integers(1, 30))  # an epoch's steps: the same through the run, or (0) varying
    epoch, next_end = 1, length
    idx = np.arange(3)
    for step in range(1, n_steps + 1):
        if rng.random() < 0.05:
            out.append(StepReport(Phase.FORWARD, step, epoch, 0, 4, idx, params))
        if rng.random() < 0.01:
            out.append(DivergedReport(step, epoch, 0, "loss", 0.1, params))
        after = rng.normal(size=n_params)
        out.append(StepReport(Phase.UPDATE, step, epoch, 0, 4, idx, params, None, float(rng.random()), None, after,
                              0.1))
        params = after
        if step == next_end:
            val = None if rng.random() < 0.5 else float(rng.random())
            out.append(EpochReport(epoch, step, float(rng.random()), val, None, params))
            epoch, next_end = epoch + 1, step + (length if length > 1 else int(rng.integers(1, 9)))
    return out


def _same(a: History, b: History) -> None:
    np.testing.assert_array_equal(a.params, b.params)
    np.testing.assert_array_equal(a.param_steps, b.param_steps)
    np.testing.assert_array_equal(a.batch_loss, b.batch_loss)
    np.testing.assert_array_equal(a.loss_steps, b.loss_steps)
    np.testing.assert_array_equal(a.epochs, b.epochs)  # NaN where there is no loss, in both
    assert a.last_step is b.last_step and a.diverged is b.diverged and a.steps == b.steps


@pytest.mark.parametrize("seed", range(24))
def test_recording_a_delivery_in_one_go_keeps_the_rows_one_by_one_would(seed):
    rng = np.random.default_rng(seed)
    cap = int(rng.choice([16, 40, 64, 1 << 20]))
    reports = _reports(rng, int(rng.integers(50, 3000)))
    one, many = History(np.zeros(2), max_rows=cap, max_losses=cap), History(np.zeros(2), max_rows=cap,
                                                                         max_losses=cap)
    start = 0
    while start < len(reports):  # deliveries of random sizes, split anywhere (an epoch's end from its step, too)
        end = start + int(rng.choice([rng.integers(1, 50), rng.integers(1, 3000)]))
        for report in reports[start:end]:
            one.add(report)
        many.add_many(reports[start:end])
        _same(one, many)
        start = end
    whole = History(np.zeros(2), max_rows=cap, max_losses=cap)
    whole.add_many(reports)  # the whole run in one delivery
    _same(one, whole)
    if cap < 1 << 20:
        assert many.thinned  # the thinning regime was exercised


def test_a_race_and_a_run_record_deliveries_exactly_as_one_by_one(small):
    d = load_builtin("download-time")
    settings = replace(d.defaults, loss="mse", learning_rate=0.01, batch_size=3, epochs=40)
    whole, parts = FitRun(d, settings), FitRun(d, settings)
    reports = list(whole.trainer.run())
    for report in reports:
        whole.history.add(report)
    for start in range(0, len(reports), 37):
        parts.record(reports[start : start + 37])
    _same(whole.history, parts.history)


@pytest.mark.parametrize("seed", range(8))
def test_the_epoch_rows_kept_between_calls_are_those_looked_up_afresh(seed):
    rng = np.random.default_rng(100 + seed)
    cap = int(rng.choice([16, 40, 1 << 20]))
    reports = _reports(rng, int(rng.integers(200, 3000)))
    h = History(np.zeros(2), max_rows=cap, max_losses=cap)
    start = 0
    while start < len(reports):
        end = start + int(rng.integers(1, 60))
        h.add_many(reports[start:end])
        fresh = History.from_arrays(h.params, h.batch_loss, h.epochs, param_steps=h.param_steps,
                                    loss_steps=h.loss_steps, max_rows=cap, max_losses=cap)
        np.testing.assert_array_equal(h.epoch_rows(), fresh.epoch_rows())
        start = end


def test_a_race_makes_room_for_the_whole_race_as_a_fit_run_does():
    """Growing a history copies what it keeps into memory never touched: four racers' tables doubled in the
    same delivery (a 69 ms pause of the GUI thread). A race makes room for all its steps at once, and again
    when its epochs are raised."""
    from fitscope.gui.models.race import RaceRun

    race = RaceRun()
    for epochs in (race.settings.epochs, 5000):
        race.update(epochs=epochs)
        s = race.settings
        room = run_module.history_room(len(race.experiment.y), s.batch_size, s.epochs, 2)
        assert room == max(1023, epochs * -(-len(race.experiment.y) // s.batch_size))
        for h in race.histories:
            assert h.nbytes == (room + 1) * 3 * 8  # the start and every step: two parameters and a step number


def test_raising_the_epochs_of_a_run_under_way_makes_room_for_it_then():
    d = load_builtin("download-time")
    run = FitRun(d, replace(d.defaults, epochs=2))
    train(run, chunks=1)
    before = run.history.to_json()
    run.update(epochs=4000)
    room = run_module.history_room(len(run.experiment.y), run.settings.batch_size, 4000, 2)
    assert room > 1023 and run.history.nbytes == (room + 1) * 3 * 8
    assert run.history.to_json() == before  # what was kept is kept
