"""Learning-rate sweeps: exactly fit()'s numbers per rate, the divergence threshold against 2/λmax, cancelling."""

import math
import threading
from dataclasses import replace

import numpy as np
import pytest

from fitscope.engine.curvature import curvature_of
from fitscope.engine.data import load
from fitscope.engine.experiment import Experiment
from fitscope.engine.sweep import NUM_RATES, SWEEP_HEADER, Sweep, log_rates
from fitscope.engine.trainer import DivergedReport, EpochReport


@pytest.fixture(scope="module")
def download_time():
    ds = load("download-time")
    return Experiment(ds, replace(ds.defaults, loss="mse", batch_size=len(ds.y_train)))  # full-batch GD, MSE


@pytest.fixture(scope="module")
def boston_full_batch():
    ds = load("boston-housing")
    return Experiment(ds, replace(ds.defaults, batch_size=1000))  # normalized, validation split 0.2


def _fit(exp, lr, epochs, start=None):
    """The run `fitscope fit --lr lr` makes: its last epoch report, or its divergence."""
    exp = exp.with_settings(learning_rate=lr, epochs=epochs)
    if start is not None:
        exp.trainer.set_params(start)
    last = None
    for report in exp.trainer.run():
        if isinstance(report, EpochReport | DivergedReport):
            last = report
    return last


def test_log_rates_are_log_spaced_with_exact_ends():
    rates = log_rates(1e-3, 1.0, 40)
    assert rates.shape == (40,) and rates[0] == 1e-3 and rates[-1] == 1.0
    ratios = rates[1:] / rates[:-1]
    np.testing.assert_allclose(ratios, 1000 ** (1 / 39), rtol=1e-12)


@pytest.mark.parametrize(
    ("lo", "hi", "num", "match"),
    [
        (1.0, 1.0, 30, "below the largest"),
        (1.0, 0.1, 30, "below the largest"),
        (0.0, 1.0, 30, "smallest learning rate must be a positive"),
        (-1e-3, 1.0, 30, "smallest learning rate must be a positive"),
        (1e-3, math.inf, 30, "largest learning rate must be a positive"),
        (math.nan, 1.0, 30, "smallest learning rate must be a positive"),
        (1e-3, math.nan, 30, "largest learning rate must be a positive"),
        (1e-3, 1.0, NUM_RATES[0] - 1, "from 20 to 60"),
        (1e-3, 1.0, NUM_RATES[1] + 1, "from 20 to 60"),
        (1e-3, 1.0, 30.5, "whole number"),
    ],
)
def test_log_rates_refuse_bad_ranges(lo, hi, num, match):
    with pytest.raises(ValueError, match=match):
        log_rates(lo, hi, num)


def _assert_threshold_within_one_step_of(sweep, limit):
    stable, diverged = sweep.threshold()
    assert stable is not None and diverged is not None
    rates = list(sweep.rates)
    assert rates.index(diverged) == rates.index(stable) + 1  # neighbours on the grid: one step apart
    assert stable < limit <= diverged
    # every rate below the limit converged; every rate above it diverged
    for r in sweep.results:
        assert r.diverged == (r.learning_rate > limit), r


def test_download_time_full_batch_threshold_is_two_over_lambda_max(download_time):
    sweep = Sweep(download_time, log_rates(1e-3, 1.0, 40), epochs=200)
    assert sweep.limit_exact
    limit = curvature_of(download_time).stability_limit
    assert sweep.limit == pytest.approx(limit, rel=1e-12) and round(limit, 4) == 0.0464
    sweep.run_all()
    _assert_threshold_within_one_step_of(sweep, limit)


def test_normalized_boston_full_batch_threshold_is_two_over_lambda_max(boston_full_batch):
    sweep = Sweep(boston_full_batch, log_rates(1e-2, 1.0, 30), epochs=200)
    assert sweep.limit_exact and boston_full_batch.settings.normalize
    sweep.run_all()
    _assert_threshold_within_one_step_of(sweep, curvature_of(boston_full_batch).stability_limit)


def test_full_batch_momentum_threshold_is_two_one_plus_m_over_lambda_max():
    ds = load("download-time")
    exp = Experiment(ds, replace(ds.defaults, loss="mse", batch_size=20, optimizer="momentum", momentum=0.5))
    sweep = Sweep(exp, log_rates(1e-2, 1.0, 30), epochs=300)
    limit = 2 * 1.5 / curvature_of(exp).lam_max
    assert sweep.limit == pytest.approx(limit, rel=1e-12)
    sweep.run_all()
    _assert_threshold_within_one_step_of(sweep, limit)


def test_each_rate_gives_exactly_what_fit_gives(boston_full_batch):
    exp = boston_full_batch.with_settings(batch_size=40)  # mini-batches, shuffled every epoch
    sweep = Sweep(exp, [0.003, 0.05, 0.4, 2.0], epochs=30)
    sweep.run_all()
    assert not sweep.limit_exact and "a reference" in sweep.limit_text()
    for result in sweep.results:
        report = _fit(exp, result.learning_rate, 30)
        if isinstance(report, DivergedReport):
            assert result.stopped and result.diverged and result.diverged_step == report.step
            assert math.isnan(result.final_loss) and math.isnan(result.val_loss)
        else:
            assert result.final_loss == report.loss and result.val_loss == report.val_loss
            assert result.epochs == 30 and not result.stopped
    assert any(r.stopped for r in sweep.results) and any(not r.diverged for r in sweep.results)


def test_a_sweep_from_a_chosen_start(download_time):
    start = np.array([0.5, -2.0])
    sweep = Sweep(download_time, [0.01, 0.03], epochs=20, start=start)
    assert sweep.start_loss == pytest.approx(download_time.loss_at(start), rel=1e-12)
    for result in sweep.run_all():
        assert result.final_loss == _fit(download_time, result.learning_rate, 20, start=start).loss


def test_results_are_ascending_and_written_as_csv_rows(download_time):
    sweep = Sweep(download_time, [0.1, 0.001, 0.01], epochs=50)
    results = sweep.run_all()
    assert [r.learning_rate for r in results] == [0.001, 0.01, 0.1]
    assert [r.index for r in results] == [0, 1, 2]
    assert len(SWEEP_HEADER) == 4
    ok, _, bad = (r.csv_row() for r in results)
    assert ok[0] == "0.001" and float(ok[1]) == results[0].final_loss and ok[2] == "" and ok[3] == "0"
    assert bad == ["0.1", "nan", "", "1"]


def test_no_limit_without_a_linear_model_and_mse_and_sgd():
    ds = load("boston-housing")
    for changes in ({"optimizer": "adam"}, {"loss": "mae"}, {"model": "mlp", "hidden": (3,)}):
        sweep = Sweep(Experiment(ds, replace(ds.defaults, **changes)), [0.01, 0.1], epochs=1)
        assert sweep.limit is None and sweep.limit_text() == "" and not sweep.limit_exact


def test_progress_counts_every_epoch_of_every_rate(download_time):
    calls = []
    sweep = Sweep(download_time, [0.001, 0.01, 1.0], epochs=10)  # the last diverges early
    sweep.run_all(progress=lambda done, total: calls.append((done, total)))
    dones = [d for d, _ in calls]
    assert all(t == 30 for _, t in calls) and dones == sorted(dones) and dones[-1] == 30
    assert sweep.results[-1].stopped and sweep.results[-1].diverged_step < 10


def test_cancel_stops_within_the_rate_under_way_and_resume_goes_on(download_time):
    rates = log_rates(1e-3, 1.0, 20)
    sweep = Sweep(download_time, rates, epochs=100)
    calls = []

    def progress(done, total):
        calls.append(done)
        if done == 3 * 100 + 40:  # 40 epochs into the fourth rate
            sweep.cancel()

    got = list(sweep.run(progress))
    assert len(got) == 3 and sweep.results == got and sweep.cancelled and not sweep.done
    assert calls[-1] == 340  # it stopped there, without running the fourth rate to its end
    assert list(sweep.run()) == []  # still cancelled
    sweep.resume()
    sweep.run_all()
    whole = Sweep(download_time, rates, epochs=100).run_all()
    assert [(r.final_loss, r.diverged) for r in sweep.results] == [(r.final_loss, r.diverged) for r in whole]


def test_cancel_from_another_thread(boston_full_batch):
    sweep = Sweep(boston_full_batch.with_settings(batch_size=1), log_rates(1e-4, 1e-2, 20), epochs=50)
    first = threading.Event()
    results = []

    def work():
        for r in sweep.run():
            results.append(r)
            first.set()

    worker = threading.Thread(target=work)
    worker.start()
    assert first.wait(60)
    sweep.cancel()
    worker.join(60)
    assert not worker.is_alive()
    assert 1 <= len(results) < 20


def test_bad_sweeps_are_refused(download_time):
    with pytest.raises(ValueError):
        Sweep(download_time, [0.01, -1.0])
    with pytest.raises(ValueError):
        Sweep(download_time, [0.01], epochs=0)
    with pytest.raises(ValueError):
        Sweep(download_time, [0.01], start=np.zeros(3))
