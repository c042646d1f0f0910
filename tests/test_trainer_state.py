"""A run's exact state as JSON: Trainer/Optimizer/Race ``state()`` and ``restore()``, and the codecs under them.

The promise: save a trainer between two reports, restore it into a fresh experiment, and both go on bit for
bit alike (``np.array_equal``, not ``allclose``).
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from fitscope.engine.data import load_builtin
from fitscope.engine.experiment import Experiment
from fitscope.engine.optimizers import OPTIMIZERS, make_optimizer, optimizer_from_state
from fitscope.engine.race import Race, RacerSpec
from fitscope.engine.serial import (
    array_from_json,
    array_to_json,
    float_from_json,
    float_to_json,
    floats_from_json,
    floats_to_json,
)
from fitscope.engine.trainer import DivergedReport, EpochReport, Phase, StepReport


@pytest.fixture(scope="module")
def boston():
    return load_builtin("boston-housing")


@pytest.fixture(scope="module")
def download():
    return load_builtin("download-time")


def through_json(state):
    """What a file gives back: written as strict JSON (no bare NaN), read again."""
    return json.loads(json.dumps(state, allow_nan=False))


def advance(it, n):
    """Take ``n`` reports from the generator ``it``."""
    return [next(it) for _ in range(n)]


def same_reports(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert type(x) is type(y)
        assert np.array_equal(x.params, y.params)
        if isinstance(x, StepReport):
            assert (x.step, x.epoch, x.batch) == (y.step, y.epoch, y.batch)
            assert np.array_equal(x.indices, y.indices)
            assert x.loss == y.loss
            assert np.array_equal(x.gradient, y.gradient)
        elif isinstance(x, EpochReport):
            assert (x.epoch, x.step) == (y.epoch, y.step)
            assert x.loss == y.loss and x.val_loss == y.val_loss and x.test_loss == y.test_loss


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("model", ["linear", "mlp"])
def test_a_restored_trainer_goes_on_bit_for_bit(boston, optimizer, model):
    settings = replace(boston.defaults, model=model, optimizer=optimizer, epochs=3, hidden=(8,),
                       learning_rate=0.01, validation_split=0.2)
    original = Experiment(boston, settings)
    it = original.trainer.run()
    advance(it, 17)  # mid-epoch (11 batches an epoch): the order, cursor and loss sum matter
    state = through_json(original.trainer.state())

    fresh = Experiment(boston, settings)
    fresh.trainer.restore(state)
    same_reports(list(it), list(fresh.trainer.run()))


def test_restore_between_the_last_batch_and_its_epoch_report(download):
    settings = replace(download.defaults, batch_size=4, epochs=2, init=(0.5, -0.2))
    original = Experiment(download, settings)
    it = original.trainer.run()
    per_epoch = -(-len(original.y) // 4)
    reports = advance(it, per_epoch)
    assert original.trainer.at_epoch_end and isinstance(reports[-1], StepReport)
    fresh = Experiment(download, settings)
    fresh.trainer.restore(through_json(original.trainer.state()))
    assert fresh.trainer.at_epoch_end
    rest_a, rest_b = list(it), list(fresh.trainer.run())
    assert isinstance(rest_b[0], EpochReport)
    same_reports(rest_a, rest_b)


def test_changes_made_during_the_run_are_part_of_the_state(download):
    """Batch size, epochs, loss and a new optimizer set mid-run are restored with the rest."""
    from fitscope.engine.losses import MAE

    settings = replace(download.defaults, batch_size=4, epochs=2, init=(0.5, -0.2))
    original = Experiment(download, settings)
    it = original.trainer.run()
    advance(it, 3)
    t = original.trainer
    t.batch_size, t.epochs, t.loss = 3, 4, MAE
    t.optimizer = make_optimizer("adam", 0.05)
    advance(it, 4)
    fresh = Experiment(download, settings)
    fresh.trainer.restore(through_json(t.state()))
    assert fresh.trainer.batch_size == 3 and fresh.trainer.epochs == 4 and fresh.trainer.loss is MAE
    assert fresh.trainer.optimizer.name == "adam" and fresh.trainer.optimizer.learning_rate == 0.05
    same_reports(list(it), list(fresh.trainer.run()))


def test_phases_continue_alike_after_a_restore(download):
    settings = replace(download.defaults, batch_size=5, epochs=1, init=(1.0, 0.0))
    original = Experiment(download, settings)
    original.trainer.phases = True
    it = original.trainer.run()
    advance(it, 5 * 2)  # two whole batches, five phases each
    fresh = Experiment(download, settings)
    fresh.trainer.restore(through_json(original.trainer.state()))
    fresh.trainer.phases = True
    a, b = list(it), list(fresh.trainer.run())
    assert [r.phase for r in a if isinstance(r, StepReport)] == [r.phase for r in b if isinstance(r, StepReport)]
    same_reports([r for r in a if not isinstance(r, StepReport) or r.phase is Phase.UPDATE],
                 [r for r in b if not isinstance(r, StepReport) or r.phase is Phase.UPDATE])


@pytest.mark.parametrize("phases_shown", [1, 2, 3, 4])
def test_a_state_taken_between_two_phases_goes_on_with_the_next_phase(download, phases_shown):
    settings = replace(download.defaults, batch_size=5, epochs=1, init=(1.0, 0.0))
    original = Experiment(download, settings)
    original.trainer.phases = True
    it = original.trainer.run()
    advance(it, 5 + phases_shown)  # one whole batch, then some phases of the next
    state = through_json(original.trainer.state())
    assert state["shown_phase"] == phases_shown - 1 and state["shown_rows"] == 5
    fresh = Experiment(download, settings)
    fresh.trainer.restore(state)
    fresh.trainer.phases = True
    assert fresh.trainer.phase_shown == Phase(phases_shown - 1)
    a, b = list(it), list(fresh.trainer.run())
    assert [getattr(r, "phase", None) for r in a] == [getattr(r, "phase", None) for r in b]
    assert b[0].phase == Phase(phases_shown)
    same_reports([r for r in a if r.kind != "phase"], [r for r in b if r.kind != "phase"])


def test_a_diverged_trainer_is_restored_diverged_and_recovers_alike(boston):
    settings = replace(boston.defaults, normalize=False, learning_rate=0.5, epochs=2)
    original = Experiment(boston, settings)
    reports = list(original.trainer.run())
    assert isinstance(reports[-1], DivergedReport)
    state = original.trainer.state()
    text = json.dumps(state, allow_nan=False)  # non-finite accumulators are written as strings, never NaN
    assert "NaN" not in text and "Infinity" not in text
    fresh = Experiment(boston, settings)
    fresh.trainer.restore(json.loads(text))
    d0, d1 = original.trainer.diverged, fresh.trainer.diverged
    assert d0._replace(params=None) == d1._replace(params=None) and np.array_equal(d0.params, d1.params)
    assert fresh.trainer.finished and list(fresh.trainer.run()) == []
    for t in (original.trainer, fresh.trainer):
        t.clear_divergence()
        t.optimizer.learning_rate = 1e-7
    same_reports(list(original.trainer.run()), list(fresh.trainer.run()))


@pytest.mark.parametrize("bad", [
    {"params": [1.0]},  # wrong length
    {"order": [0, 0, 1]},  # not an order of the rows
    {"cursor": -1},
    {"rng": {"bit_generator": "MT19937", "state": {}}},
    {"optimizer": {"name": "lbfgs"}},
    {"loss": "hinge"},
    {"batch_size": 0},
    {"shuffle": "yes"},
    {"loss_sum": "many"},
    {"epoch": 1.5},
])
def test_a_bad_state_is_refused_and_changes_nothing(download, bad):
    settings = replace(download.defaults, batch_size=4, epochs=2, init=(0.5, -0.2))
    exp = Experiment(download, settings)
    advance(exp.trainer.run(), 2)
    before = json.dumps(exp.trainer.state())
    state = exp.trainer.state()
    state.update(bad)
    victim = Experiment(download, settings)
    untouched = json.dumps(victim.trainer.state())
    with pytest.raises(ValueError):
        victim.trainer.restore(state)
    assert json.dumps(victim.trainer.state()) == untouched
    assert json.dumps(exp.trainer.state()) == before


def test_a_state_without_a_field_is_refused(download):
    exp = Experiment(download, replace(download.defaults, init=(0.5, -0.2)))
    state = exp.trainer.state()
    del state["rng"]
    with pytest.raises(ValueError, match="rng"):
        exp.trainer.restore(state)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_state_round_trips_exactly(name):
    rng = np.random.default_rng(1)
    shapes = [(3, 2), (2,)]
    a = make_optimizer(name, 0.01)
    params = [rng.normal(size=s) for s in shapes]
    for _ in range(3):
        a.step(params, [rng.normal(size=s) for s in shapes])
    b = optimizer_from_state(through_json(a.state()))
    assert b.config() == a.config() and b.iterations == a.iterations
    pa, pb = [p.copy() for p in params], [p.copy() for p in params]
    for _ in range(3):
        g = [rng.normal(size=s) for s in shapes]
        a.step(pa, g)
        b.step(pb, g)
    assert all(np.array_equal(x, y) for x, y in zip(pa, pb, strict=True))


def test_non_finite_accumulators_are_saved_as_strings_and_come_back():
    a = make_optimizer("momentum", 0.01)
    with np.errstate(all="ignore"):
        a.step([np.zeros(3)], [np.array([1e308, 1.0, 2.0])])
        a.step([np.zeros(3)], [np.array([1e308, np.nan, 2.0])])  # 0.9·1e308 + 1e308 overflows
    text = json.dumps(a.state(), allow_nan=False)
    assert '"inf"' in text and '"nan"' in text
    b = optimizer_from_state(json.loads(text))
    assert b.state() == a.state()


def test_optimizer_refuses_another_kinds_state():
    state = make_optimizer("adam").state()
    with pytest.raises(ValueError):
        make_optimizer("sgd").restore(state)
    state["slots"] = {"m": {}, "v": {}, "extra": {}}
    with pytest.raises(ValueError):
        make_optimizer("adam").restore(state)


def test_a_race_restored_goes_on_bit_for_bit(download):
    settings = replace(download.defaults, batch_size=4, epochs=3, init=(1.3, -0.6))
    specs = [RacerSpec("sgd", 0.05), RacerSpec("momentum"), RacerSpec("adam", 0.1, {"beta1": 0.8})]
    race = Race.build(download, settings, specs)
    it = race.run()
    advance(it, 7)
    fresh = Race.build(download, settings, specs)
    fresh.restore(through_json(race.state()))
    a, b = list(it), list(fresh.run())
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert type(x) is type(y) and np.array_equal(x.params, y.params, equal_nan=True)


def test_a_race_with_one_bad_racer_changes_no_racer(download):
    settings = replace(download.defaults, batch_size=4, epochs=3, init=(1.3, -0.6))
    specs = [RacerSpec("sgd"), RacerSpec("adam")]
    race = Race.build(download, settings, specs)
    advance(race.run(), 3)
    state = race.state()
    state["racers"][1]["params"] = [0.0]
    fresh = Race.build(download, settings, specs)
    untouched = json.dumps(fresh.state())
    with pytest.raises(ValueError):
        fresh.restore(state)
    assert json.dumps(fresh.state()) == untouched


# --- the codecs ---
@pytest.mark.parametrize("x", [0.1, -0.0, 5e-324, 1.7976931348623157e308, 1 / 3, math.pi, math.nan, math.inf,
                               -math.inf])
def test_floats_round_trip_exactly_including_non_finite(x):
    back = float_from_json(json.loads(json.dumps(float_to_json(x), allow_nan=False)))
    assert (math.isnan(x) and math.isnan(back)) or (back == x and math.copysign(1, back) == math.copysign(1, x))


def test_float_lists_and_encoded_arrays_round_trip():
    a = np.array([0.1, np.nan, np.inf, -np.inf, -0.0, 2.5e-300])
    back = floats_from_json(through_json(floats_to_json(a)))
    assert np.array_equal(back, a, equal_nan=True)
    m = np.random.default_rng(0).normal(size=(7, 3))
    m[2, 1] = np.nan
    assert np.array_equal(array_from_json(through_json(array_to_json(m))), m, equal_nan=True)
    ints = np.arange(5)
    assert array_from_json(array_to_json(ints)).dtype == np.int64


@pytest.mark.parametrize("bad", [
    "NaN", None, True, "1.0", [1.0],
])
def test_float_decoding_is_strict(bad):
    with pytest.raises(ValueError):
        float_from_json(bad)


@pytest.mark.parametrize("bad", [
    {"dtype": "object", "shape": [1], "base64": "AAAAAAAAAAA="},
    {"dtype": "float64", "shape": [2], "base64": "AAAAAAAAAAA="},  # 8 bytes for 2 values
    {"dtype": "float64", "shape": [1], "base64": "not base64!"},
    {"dtype": "float64", "shape": [-1], "base64": ""},
    [1, 2, 3],
])
def test_array_decoding_is_strict(bad):
    with pytest.raises(ValueError):
        array_from_json(bad)


def test_a_run_whose_epoch_limit_was_lowered_mid_epoch_saves_a_state_that_opens_again():
    # Epochs lowered to 1 during the fourth epoch: that epoch still ends, and the limit counts it.
    import json
    from dataclasses import replace

    from fitscope.engine.data import load_builtin
    from fitscope.engine.run import FitRun

    d = load_builtin("download-time")
    run = FitRun(d, replace(d.defaults, batch_size=1, epochs=200))
    gen = run.trainer.run()
    run.record([next(gen) for _ in range(70)])  # three epochs of 20 batches (and their reports), and a bit
    assert run.trainer.epoch == 3 and not run.trainer.between_epochs
    run.update(epochs=1)
    run.record(list(run.trainer.run()))
    assert (run.trainer.epoch, run.trainer.epochs, run.settings.epochs) == (4, 4, 1)
    back = FitRun.from_state(json.loads(json.dumps(run.state())))
    assert back.trainer.epoch == 4 and back.history.steps == run.history.steps


def test_a_phase_stepped_after_a_divergence_leaves_a_state_that_opens_again():
    # Going on after a divergence clears it in the trainer at once; the history follows at the first report,
    # a phase of the retried batch included (a session saved then was refused as damaged).
    import json
    from dataclasses import replace

    from fitscope.engine.data import load_builtin
    from fitscope.engine.run import FitRun

    d = load_builtin("download-time")
    run = FitRun(d, replace(d.defaults, learning_rate=50.0, epochs=100))
    run.record(list(run.trainer.run()))
    assert run.history.diverged is not None
    run.trainer.clear_divergence()  # as the worker does when a step is asked for
    run.trainer.phases = True
    run.record([next(run.trainer.run())])  # the batch drawn, the first of its five phases
    assert run.history.diverged is None and run.trainer.diverged is None
    back = FitRun.from_state(json.loads(json.dumps(run.state())))
    assert back.history.diverged is None and back.trainer.phase_shown is not None


def test_a_finished_run_given_another_epoch_by_a_step_saves_itself_unfinished():
    # The driver said "done"; a step taken by hand then raised the trainer's limit, and its news was dropped (the
    # trainer was handed over again, say): the run is not finished, and its session opens again.
    import json
    from dataclasses import replace

    from fitscope.engine.data import load_builtin
    from fitscope.engine.run import FitRun

    d = load_builtin("download-time")
    run = FitRun(d, replace(d.defaults, epochs=2))
    run.record(list(run.trainer.run()))
    run.stopped("done")
    assert run.finished
    run.trainer.allow_another_epoch()  # as the worker does for a step by hand past the limit
    assert not run.finished
    back = FitRun.from_state(json.loads(json.dumps(run.state())))
    assert not back.finished
