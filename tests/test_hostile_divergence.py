"""Divergence judged without tuning to the data's scale: the epoch's loss against the larger of the loss at the
start and the loss of always predicting the mean target.

Nearly exact data is not "divergence" at 8e-5; optimizers with bounded steps (Adam, RMSProp at rate 1000)
that make the loss explode are; data that overflows float64 by itself is bad data, not a learning rate; and
runs that do not diverge compute exactly the same numbers as without the test.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import replace

import numpy as np
import pytest
from hostile import fit, one_line, snapshot

from fitscope.engine import trainer as trainer_module
from fitscope.engine.data import load_builtin
from fitscope.engine.experiment import Experiment
from fitscope.engine.losses import MAE, MSE
from fitscope.engine.models import Linear
from fitscope.engine.optimizers import SGD, make_optimizer
from fitscope.engine.trainer import DivergedReport, EpochReport, StepReport, Trainer


def reports_of(t: Trainer) -> list:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return list(t.run())


def test_nearly_exact_data_is_not_a_divergence():
    # The first batch fits to 1e-21; a later batch holds the few noisy rows: a loss of about 8e-5.
    x = np.arange(50) / 10
    y = 2 * x + 1
    y[40:] += np.array([0.009, -0.009] * 5)
    t = Trainer(Linear(1, kernel=[2 + 1e-11], bias=1.0), MSE, SGD(1e-4), x[:, None], y, batch_size=10,
                epochs=3, shuffle=False)
    reports = reports_of(t)
    steps = [r for r in reports if isinstance(r, StepReport)]
    assert steps[0].loss < 1e-20 and max(r.loss for r in steps) > 7e-5
    assert not any(isinstance(r, DivergedReport) for r in reports)


def test_an_outlier_in_one_batch_is_not_a_divergence():
    y = np.zeros(1001)
    y[500] = 1e3
    t = Trainer(Linear(1, kernel=[0.0], bias=0.0), MSE, SGD(1e-6), np.zeros((1001, 1)), y, batch_size=1,
                epochs=2, shuffle=False)
    reports = reports_of(t)
    assert max(r.loss for r in reports if isinstance(r, StepReport)) == 1e6  # a million times most batches
    assert not any(isinstance(r, DivergedReport) for r in reports)


@pytest.mark.parametrize(("optimizer", "data"), [
    ("adam", "boston-housing"), ("rmsprop", "boston-housing"), ("adam", "download-time"),
    ("rmsprop", "download-time"),
])
def test_bounded_step_optimizers_at_rate_1000_diverge(tmp_path, optimizer, data):
    (tmp_path / "keep.txt").write_text("untouched\n")
    before = snapshot(tmp_path)
    code, out, err = fit("--data", data, "--optimizer", optimizer, "--lr", 1000, "--loss", "mse", "--quiet",
                         "--history", "h.csv", cwd=tmp_path)
    assert code == 3
    line = one_line(err, "Training diverged at step ")
    assert "over 10000 times" in line and "Try a smaller learning rate." in line
    assert "final training loss" not in out
    assert {k: v for k, v in snapshot(tmp_path).items() if k != "h.csv"} == before


@pytest.mark.parametrize(("optimizer", "rate"), [("adam", 1.0), ("adam", 10.0), ("rmsprop", 0.1), ("sgd", 0.01),
                                                 ("momentum", 0.01)])
def test_reasonable_runs_do_not_diverge(optimizer, rate):
    dataset = load_builtin("boston-housing")
    exp = Experiment(dataset, replace(dataset.defaults, optimizer=optimizer, learning_rate=rate, epochs=20))
    assert not any(isinstance(r, DivergedReport) for r in reports_of(exp.trainer))


def test_mae_blows_up_at_a_hundred_times_its_reference():
    dataset = load_builtin("download-time")
    exp = Experiment(dataset, replace(dataset.defaults, loss="mae", learning_rate=1000.0))
    last = reports_of(exp.trainer)[-1]
    assert isinstance(last, DivergedReport) and "over 100 times" in last.how


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "rmsprop", "adam"])
def test_runs_that_do_not_diverge_compute_the_same_numbers_as_without_the_test(monkeypatch, optimizer):
    dataset = load_builtin("boston-housing")
    settings = replace(dataset.defaults, optimizer=optimizer, epochs=5, learning_rate=0.01)

    def trajectory():
        exp = Experiment(dataset, settings)
        return [(r.loss, r.params_after.tobytes()) for r in reports_of(exp.trainer) if isinstance(r, StepReport)]

    with_test = trajectory()
    monkeypatch.setattr(trainer_module, "BLOWUP", math.inf)
    assert trajectory() == with_test


@pytest.mark.parametrize(("data", "optimizer", "loss", "rate"), [
    ("boston-housing", "adam", "mse", 1000.0), ("boston-housing", "sgd", "mae", 1e4),
    ("download-time", "sgd", "mse", 0.1), ("download-time", "rmsprop", "mae", 1000.0),
])
def test_phases_and_whole_batches_diverge_at_the_same_step(data, optimizer, loss, rate):
    # Whole batches test the blow-up against a bound on the epoch's loss sum; phases, as the slow path, exactly.
    dataset = load_builtin(data)
    settings = replace(dataset.defaults, optimizer=optimizer, loss=loss, learning_rate=rate, epochs=50)
    whole = reports_of(Experiment(dataset, settings).trainer)[-1]
    phased_exp = Experiment(dataset, settings)
    phased_exp.trainer.phases = True
    phased = reports_of(phased_exp.trainer)[-1]
    assert isinstance(whole, DivergedReport), (data, optimizer, loss)
    assert (whole.step, whole.what, whole.how) == (phased.step, phased.what, phased.how)


def test_the_blow_up_test_follows_a_loss_chosen_during_the_run():
    # MAE's bound is the square root of MSE's: a run that switches to MAE must be judged by MAE's from then on.
    dataset = load_builtin("download-time")

    def last_report(phases: bool):
        exp = Experiment(dataset, replace(dataset.defaults, loss="mse", learning_rate=0.001, epochs=100))
        t = exp.trainer
        t.phases = phases
        reports = []
        for report in t.run():
            reports.append(report)
            if isinstance(report, EpochReport) and report.epoch == 2:
                t.configure(loss="mae", optimizer=make_optimizer("sgd", 1000.0))
        return reports[-1]

    whole, phased = last_report(False), last_report(True)
    assert isinstance(whole, DivergedReport) and whole.epoch > 2 and "over 100 times" in whole.how
    assert (whole.step, whole.how) == (phased.step, phased.how)


@pytest.mark.parametrize(("X", "y", "fragment"), [
    (np.arange(4.0)[:, None], np.array([1e308, 1.5e308, 1.7e308, 1e308]), "the targets are too large"),
    (np.array([[1e300], [2e300], [3e300]]), np.array([1.0, 2.0, 3.0]), "the loss at the start is not finite"),
])
def test_data_that_overflows_by_itself_is_reported_as_data(X, y, fragment):
    t = Trainer(Linear(1, kernel=[1.0], bias=0.0), MSE, SGD(0.01), X, y, batch_size=2, epochs=1)
    (last,) = reports_of(t)
    assert isinstance(last, DivergedReport) and last.what == "data"
    assert fragment in last.message and "learning rate cannot help" in last.message
    assert "Try a smaller learning rate" not in last.message


def test_data_near_1e308_in_the_cli_is_bad_input_not_divergence(tmp_path):
    (tmp_path / "d.csv").write_text("x,y\n1,1.7e308\n2,1.6e308\n3,-1.7e308\n")
    code, _, err = fit("--data", "d.csv", cwd=tmp_path)
    assert code == 2
    assert "too large" in one_line(err) and "learning rate" not in err


def test_the_reference_is_part_of_the_state_and_old_states_still_restore():
    dataset = load_builtin("download-time")
    settings = replace(dataset.defaults, loss="mse", learning_rate=10.0)
    a = Experiment(dataset, settings)
    first = next(iter(a.trainer.run()))
    state = a.trainer.state()
    assert state["reference"] > 0 and state["reference_of"]
    b = Experiment(dataset, settings)
    b.trainer.restore(state)
    rest_a, rest_b = reports_of(a.trainer), reports_of(b.trainer)
    assert rest_a[-1].message == rest_b[-1].message and first.step == 1
    old = dict(state)
    del old["reference"], old["reference_of"]
    c = Experiment(dataset, settings)
    c.trainer.restore(old)  # a state saved before the reference existed: it is taken afresh
    assert isinstance(reports_of(c.trainer)[-1], DivergedReport)


def test_training_goes_on_after_a_divergence_with_a_smaller_rate():
    dataset = load_builtin("boston-housing")
    exp = Experiment(dataset, replace(dataset.defaults, optimizer="adam", learning_rate=1000.0, epochs=10))
    diverged = reports_of(exp.trainer)[-1]
    assert isinstance(diverged, DivergedReport)
    exp.trainer.clear_divergence()
    exp.trainer.optimizer = make_optimizer("adam", 0.001)
    after = reports_of(exp.trainer)
    assert not any(isinstance(r, DivergedReport) for r in after)
    assert isinstance(after[-1], EpochReport) and np.isfinite(after[-1].loss)


def test_going_on_after_a_divergence_with_nothing_changed_diverges_again_at_once():
    """Run pressed again at the rate that diverged: the same batch is caught again, not let through because the
    loss where training resumed (already huge) became the reference."""
    dataset = load_builtin("download-time")
    exp = Experiment(dataset, replace(dataset.defaults, loss="mse", learning_rate=5.0, batch_size=4, epochs=50))
    t = exp.trainer
    first = reports_of(t)[-1]
    assert isinstance(first, DivergedReport)
    for _ in range(3):
        t.clear_divergence()
        again = reports_of(t)
        assert len(again) == 1 and isinstance(again[0], DivergedReport)
        assert again[0].step == first.step and np.array_equal(t.params, first.params)
    t.clear_divergence()
    t.configure(learning_rate=0.01)  # a smaller rate: it goes on from there
    after = reports_of(t)
    assert not any(isinstance(r, DivergedReport) for r in after) and t.step > first.step


def test_a_mae_run_at_a_sane_rate_oscillates_without_diverging():
    X = np.linspace(0, 1, 30)[:, None]
    y = 3 * X[:, 0] + 1
    t = Trainer(Linear(1, kernel=[0.0], bias=0.0), MAE, SGD(0.5), X, y, batch_size=30, epochs=200)
    assert not any(isinstance(r, DivergedReport) for r in reports_of(t))
