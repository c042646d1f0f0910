"""The optimizer race in the engine: lockstep, same batches, each racer = that optimizer alone, divergence."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from fitscope.engine.data import load_builtin
from fitscope.engine.experiment import Experiment
from fitscope.engine.losses import MAE, MSE
from fitscope.engine.race import (
    Race,
    RaceEpochReport,
    RacerSpec,
    RaceStepReport,
    optimum,
    steps_to_within,
    training_losses,
)
from fitscope.engine.surface import linear_slice
from fitscope.engine.trainer import DivergedReport, EpochReport, StepReport

ALL = [RacerSpec(name) for name in ("sgd", "momentum", "rmsprop", "adam")]


@pytest.fixture(scope="module")
def data():
    return load_builtin("download-time")


def settings(data, **changes):
    base = replace(data.defaults, loss="mse", batch_size=6, epochs=3, seed=11, init=(1.1, -0.4))
    return replace(base, **changes)


def alone(data, s, name, lr):
    """The engine running one optimizer by itself: parameters after each update, and the batches."""
    exp = Experiment(data, replace(s, optimizer=name, learning_rate=lr))
    steps = [r for r in exp.trainer.run() if isinstance(r, StepReport)]
    return np.array([r.params_after for r in steps]), [r.indices for r in steps]


@pytest.mark.parametrize("loss", ["mse", "mae"])
def test_each_racer_is_bit_for_bit_that_optimizer_alone(data, loss):
    s = settings(data, loss=loss)
    race = Race.build(data, s, ALL)
    reports = list(race.run())
    for i, spec in enumerate(ALL):
        mine = np.array([r.racers[i].params_after for r in reports if isinstance(r, RaceStepReport)])
        expected, _ = alone(data, s, spec.optimizer, spec.rate)
        assert np.array_equal(mine, expected), spec.optimizer
    assert race.finished and race.epoch == 3 and race.diverged is None


def test_all_racers_train_on_the_same_batches_in_lockstep(data):
    s = settings(data)
    reports = list(Race.build(data, s, ALL).run())
    steps = [r for r in reports if isinstance(r, RaceStepReport)]
    assert len(steps) == 3 * 4  # 20 rows in batches of 6: 4 batches an epoch
    for r in steps:
        for own in r.racers:
            assert own.step == r.step and own.epoch == r.epoch and own.batch == r.batch
            assert np.array_equal(own.indices, r.indices)
        assert r.params_after.shape == (4, 2)
    _, batches = alone(data, s, "adam", 0.001)
    assert all(np.array_equal(a, r.indices) for a, r in zip(batches, steps, strict=True))
    epochs = [r for r in reports if isinstance(r, RaceEpochReport)]
    assert [r.epoch for r in epochs] == [1, 2, 3]
    assert all(isinstance(own, EpochReport) for r in epochs for own in r.racers)


def test_race_reports_say_what_they_end_as_the_trainers_do(data):
    reports = list(Race.build(data, replace(settings(data), epochs=1), ALL).run())
    assert [r.kind for r in reports] == ["batch"] * (len(reports) - 1) + ["epoch"]
    assert all(not r.params_after.flags.writeable for r in reports[:-1])
    own = reports[0].racers[0]
    assert own.kind == "batch" and isinstance(own, StepReport)


def test_options_and_rates_reach_the_optimizer(data):
    opt = RacerSpec("adam", 0.05, {"beta1": 0.5, "beta2": 0.9}).build()
    assert (opt.learning_rate, opt.beta1, opt.beta2) == (0.05, 0.5, 0.9)
    assert RacerSpec("momentum").build().momentum == 0.9
    assert RacerSpec("rmsprop").rate == 0.001 and RacerSpec("sgd").rate == 0.01
    with pytest.raises(ValueError, match="takes no option"):
        RacerSpec("sgd", 0.1, {"beta1": 0.5}).build()
    with pytest.raises(ValueError, match="unknown optimizer"):
        RacerSpec("nadam").build()
    # A racer with non-default options is still that optimizer alone.
    s = settings(data)
    spec = RacerSpec("momentum", 0.02, {"momentum": 0.5})
    race = Race.build(data, s, [spec])
    mine = np.array([r.racers[0].params_after for r in race.run() if isinstance(r, RaceStepReport)])
    exp = Experiment(data, replace(s, optimizer="momentum", learning_rate=0.02, momentum=0.5))
    expected = np.array([r.params_after for r in exp.trainer.run() if isinstance(r, StepReport)])
    assert np.array_equal(mine, expected)


def test_a_diverging_racer_stops_and_the_others_go_on(data):
    s = settings(data, epochs=5)
    race = Race.build(data, s, [RacerSpec("sgd", 5.0), RacerSpec("adam")])
    reports = list(race.run())
    sgd = [r.racers[0] for r in reports if isinstance(r, RaceStepReport) and r.racers[0] is not None]
    assert isinstance(sgd[-1], DivergedReport)
    assert all(isinstance(x, StepReport) for x in sgd[:-1])
    assert race.running == [1]
    assert race.finished and race.diverged is None and race.epoch == 5
    adam, _ = alone(data, s, "adam", 0.001)
    mine = np.array([r.racers[1].params_after for r in reports if isinstance(r, RaceStepReport)])
    assert np.array_equal(mine, adam)
    race.clear_divergence()  # the worker calls it before every request: the diverged racer stays out
    assert race.running == [1]


def test_the_race_diverges_when_every_racer_has(data):
    race = Race.build(data, settings(data, epochs=50), [RacerSpec("sgd", 5.0)])
    list(race.run())
    assert race.finished and isinstance(race.diverged, DivergedReport)


def test_more_epochs_after_the_end_continue_the_race(data):
    s = settings(data, epochs=1)
    race = Race.build(data, s, ALL)
    list(race.run())
    assert race.finished
    race.epochs = race.epoch + 1  # what the worker does for a step by hand past the limit
    more = list(race.run())
    assert len(more) == 5 and isinstance(more[-1], RaceEpochReport) and race.epoch == 2
    expected, _ = alone(data, replace(s, epochs=2), "rmsprop", 0.001)
    assert np.array_equal(more[-2].racers[2].params_after, expected[-1])


def test_racers_must_share_rows_and_batch_size(data):
    a = Experiment(data, settings(data)).trainer
    b = Experiment(data, settings(data, batch_size=5)).trainer
    with pytest.raises(ValueError, match="same batch size"):
        Race([a, b], ["a", "b"])
    with pytest.raises(ValueError, match="at least one"):
        Race([], [])


def test_optimum_is_exact_for_both_losses(data):
    X, y = data.X_train, data.y_train
    theta, loss = optimum(X, y, MSE)
    assert theta == pytest.approx([0.0684, 0.0868], abs=5e-5)  # the book's least squares
    assert loss == pytest.approx(MSE.loss(X[:, 0] * theta[0] + theta[1], y))
    theta, loss = optimum(X, y, MAE)
    grid = linear_slice(X, y, MAE, np.zeros(2), 0, 1, np.linspace(-0.2, 0.3, 301), np.linspace(-0.2, 0.3, 301))
    assert loss <= grid.min() + 1e-12
    assert loss == pytest.approx(MAE.loss(X[:, 0] * theta[0] + theta[1], y))


def test_training_losses_and_steps_to_within(data):
    X, y = data.X_train, data.y_train
    thetas = np.array([[0.5, 0.1], [0.1, -0.2]])
    for loss in (MSE, MAE):
        expected = [loss.loss(X[:, 0] * k + b, y) for k, b in thetas]
        assert training_losses(X, y, loss, thetas) == pytest.approx(expected, rel=1e-12)
    path = np.array([[1.0, 1.0], [0.5, 0.5], [0.05, 0.0], [0.0, 0.0]])
    assert steps_to_within(path, np.zeros(2), 0.1) == 2
    assert steps_to_within(path, np.zeros(2), 0.1, start=3) == 3
    assert steps_to_within(path, np.zeros(2), 0.01) == 3
    assert steps_to_within(path, np.ones(2) * 5, 0.1) is None
    assert steps_to_within(path, np.zeros(2), 0.1, start=4) is None
