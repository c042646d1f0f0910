"""The fit loop: batches, reports, phases, immutability, determinism, live changes, resuming, divergence."""

import warnings

import numpy as np
import pytest

from fitscope.engine.losses import MAE, MSE
from fitscope.engine.models import MLP, Linear
from fitscope.engine.optimizers import SGD, make_optimizer
from fitscope.engine.trainer import DivergedReport, EpochReport, Phase, StepReport, Trainer


def _download_time_like(n=20, seed=0):
    """Sizes in MB in [0, 10] and times ≈ 0.07·size + 0.09 s, like the book's download-time data."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.05, 10.0, size=(n, 1))
    y = 0.07 * X[:, 0] + 0.09 + rng.normal(scale=0.02, size=n)
    return X, y


def _trainer(n=10, batch_size=4, epochs=2, seed=0, model=None, optimizer="sgd", lr=0.01, loss=MSE, **kw):
    X, y = _download_time_like(n)
    model = Linear(1, seed=1) if model is None else model
    return Trainer(model, loss, make_optimizer(optimizer, lr), X, y, batch_size=batch_size, epochs=epochs,
                   seed=seed, **kw)


def _updates(reports):
    return [r for r in reports if isinstance(r, StepReport) and r.phase == Phase.UPDATE]


def _epochs(reports):
    return [r for r in reports if isinstance(r, EpochReport)]


# --- batches ---


def test_first_batch_is_the_start_of_the_seeded_permutation():
    t = _trainer(n=10, batch_size=4, seed=42)
    first = next(iter(t.run()))
    np.testing.assert_array_equal(first.indices, np.random.default_rng(42).permutation(10)[:4])


@pytest.mark.parametrize("seed", [0, 7])
def test_every_epoch_is_the_next_permutation_of_one_generator_in_batches(seed):
    n, bs, epochs = 10, 4, 3
    t = _trainer(n=n, batch_size=bs, epochs=epochs, seed=seed)
    steps = _updates(t.run())
    rng = np.random.default_rng(seed)
    expected = []
    for _ in range(epochs):
        perm = rng.permutation(n)
        expected += [perm[0:4], perm[4:8], perm[8:10]]  # the last batch is smaller
    assert len(steps) == len(expected) == 9
    for r, idx in zip(steps, expected, strict=True):
        np.testing.assert_array_equal(r.indices, idx)
    assert [len(r.indices) for r in steps[:3]] == [4, 4, 2]
    assert [r.batch for r in steps] == [0, 1, 2] * 3
    assert [r.epoch for r in steps] == [1] * 3 + [2] * 3 + [3] * 3
    assert all(r.batches_per_epoch == 3 for r in steps)


def test_no_shuffle_takes_the_rows_in_order():
    steps = _updates(_trainer(n=10, batch_size=4, epochs=2, shuffle=False).run())
    got = [r.indices.tolist() for r in steps]
    assert got == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]] * 2


def test_steps_and_epochs_are_counted():
    t = _trainer(n=10, batch_size=4, epochs=3)
    reports = list(t.run())
    assert [r.step for r in _updates(reports)] == list(range(1, 10))
    ends = _epochs(reports)
    assert [(e.epoch, e.step) for e in ends] == [(1, 3), (2, 6), (3, 9)]
    assert (t.epoch, t.step, t.finished) == (3, 9, True)
    # reports come in order: three batches, then the epoch's report
    assert [type(r).__name__ for r in reports[:4]] == ["StepReport"] * 3 + ["EpochReport"]
    np.testing.assert_array_equal(ends[-1].params, t.model.get_flat())
    np.testing.assert_array_equal(t.params, t.model.get_flat())


def test_epoch_loss_is_the_batch_size_weighted_mean_of_its_batch_losses():
    t = _trainer(n=10, batch_size=4, epochs=2, lr=0.05)
    reports = list(t.run())
    steps, ends = _updates(reports), _epochs(reports)
    for e in ends:
        mine = [r for r in steps if r.epoch == e.epoch]
        weighted = sum(r.loss * len(r.indices) for r in mine) / sum(len(r.indices) for r in mine)
        plain = np.mean([r.loss for r in mine])
        assert e.loss == pytest.approx(weighted, rel=1e-14)
        assert e.loss != pytest.approx(plain, rel=1e-6)  # the 2-row batch really weighs less


def test_report_numbers_are_the_batch_loss_and_gradient_before_the_update():
    t = _trainer(model=MLP(1, (4,), "tanh", seed=3), optimizer="adam", lr=0.01)
    X, y = t.X, t.y
    for r in _updates(t.run()):
        Xb, yb = X[r.indices], y[r.indices]
        ref = MLP(1, (4,), "tanh")
        ref.set_flat(r.params_before)
        pred = ref.forward(Xb)
        np.testing.assert_array_equal(r.predictions, pred)
        assert r.loss == MSE.loss(pred, yb)
        grads = ref.backward(MSE.grad(pred, yb))
        np.testing.assert_array_equal(r.gradient, np.concatenate([g.ravel() for g in grads]))


def test_epoch_report_has_validation_and_test_losses_at_the_epoch_end_params():
    X, y = _download_time_like(30, seed=1)
    t = Trainer(Linear(1, seed=0), MAE, SGD(0.01), X[:20], y[:20], batch_size=8, epochs=2,
                validation=(X[20:25], y[20:25]), test=(X[25:], y[25:]))
    for e in _epochs(t.run()):
        ref = Linear(1)
        ref.set_flat(e.params)
        assert e.val_loss == MAE.loss(ref.predict(X[20:25]), y[20:25])
        assert e.test_loss == MAE.loss(ref.predict(X[25:]), y[25:])
    no_eval = _epochs(_trainer().run())
    assert no_eval[0].val_loss is None and no_eval[0].test_loss is None


def test_one_sgd_batch_update_by_hand():
    # ŷ = 0.5·x + 0.1 on x = 1, 2, 3 and y = 1, 2, 2: residuals −0.4, −0.9, −0.4.
    X, y = np.array([[1.0], [2.0], [3.0]]), np.array([1.0, 2.0, 2.0])
    t = Trainer(Linear(1, kernel=[0.5], bias=0.1), MSE, SGD(0.1), X, y, batch_size=3, epochs=1, shuffle=False)
    r = _updates(t.run())[0]
    dk = 2 / 3 * (-0.4 * 1 - 0.9 * 2 - 0.4 * 3)  # = −6.8/3
    db = 2 / 3 * (-0.4 - 0.9 - 0.4)  # = −3.4/3
    assert r.loss == pytest.approx((0.16 + 0.81 + 0.16) / 3)
    np.testing.assert_allclose(r.gradient, [dk, db])
    np.testing.assert_allclose(r.params_after, [0.5 - 0.1 * dk, 0.1 - 0.1 * db])
    np.testing.assert_allclose(t.model.get_flat(), [0.5 + 0.68 / 3, 0.1 + 0.34 / 3])


# --- phases ---

PHASE_FIELDS = {  # the fields filled at each phase
    Phase.BATCH: (),
    Phase.FORWARD: ("predictions",),
    Phase.LOSS: ("predictions", "loss"),
    Phase.GRADIENT: ("predictions", "loss", "gradient"),
    Phase.UPDATE: ("predictions", "loss", "gradient", "params_after"),
}


def _run_with_phases(**kw):
    t = _trainer(**kw)
    t.phases = True
    return list(t.run())


def test_phases_yield_five_reports_per_batch_in_order_filled_progressively():
    reports = _run_with_phases(n=10, batch_size=4, epochs=2)
    steps = [r for r in reports if isinstance(r, StepReport)]
    assert len(steps) == 5 * 6
    assert len(_epochs(reports)) == 2
    for b in range(6):
        group = steps[5 * b : 5 * b + 5]
        assert [r.phase for r in group] == list(Phase)
        assert len({(r.step, r.epoch, r.batch) for r in group}) == 1
        for r in group:
            np.testing.assert_array_equal(r.indices, group[0].indices)
            np.testing.assert_array_equal(r.params_before, group[0].params_before)
            for name in ("predictions", "loss", "gradient", "params_after"):
                assert (getattr(r, name) is not None) == (name in PHASE_FIELDS[r.phase]), (r.phase, name)
            expected_params = r.params_after if r.phase == Phase.UPDATE else r.params_before
            np.testing.assert_array_equal(r.params, expected_params)
        for earlier, later in zip(group[1:], group[2:], strict=False):
            for name in PHASE_FIELDS[earlier.phase]:
                np.testing.assert_array_equal(getattr(later, name), getattr(earlier, name))


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_phases_give_the_same_numbers_as_no_phases(optimizer):
    kw = dict(n=10, batch_size=4, epochs=2, optimizer=optimizer,
              model=MLP(1, (3,), "sigmoid", seed=2))
    with_phases = _run_with_phases(**kw)
    kw["model"] = MLP(1, (3,), "sigmoid", seed=2)
    without = list(_trainer(**kw).run())
    assert len(_updates(with_phases)) == len(_updates(without)) == len(without) - 2
    for a, b in zip(_updates(with_phases), _updates(without), strict=True):
        assert (a.step, a.epoch, a.batch, a.loss) == (b.step, b.epoch, b.batch, b.loss)
        for name in ("indices", "params_before", "predictions", "gradient", "params_after"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    for a, b in zip(_epochs(with_phases), _epochs(without), strict=True):
        assert (a.epoch, a.step, a.loss) == (b.epoch, b.step, b.loss)
        np.testing.assert_array_equal(a.params, b.params)


# --- immutability ---


def _report_arrays(r):
    names = ("indices", "params_before", "predictions", "gradient", "params_after", "params")
    return {n: getattr(r, n) for n in names if getattr(r, n, None) is not None}


def test_reports_are_frozen_and_their_arrays_read_only():
    reports = _run_with_phases(model=MLP(1, (3,), seed=0))
    assert all(isinstance(r, StepReport | EpochReport) for r in reports)
    for r in reports:
        with pytest.raises(AttributeError):
            r.step = 99
        for name, a in _report_arrays(r).items():
            assert not a.flags.writeable, name
            with pytest.raises(ValueError, match="read-only"):
                a[0] = 1.0


@pytest.mark.parametrize("make_model", [lambda: Linear(1, seed=1), lambda: MLP(1, (3,), "relu", seed=1)],
                         ids=["linear", "mlp"])
def test_later_training_does_not_change_an_earlier_report(make_model):
    t = _trainer(model=make_model(), epochs=3)
    t.phases = True
    gen = t.run()
    first = [next(gen) for _ in range(5)]  # all phases of the first batch
    saved = [{n: a.copy() for n, a in _report_arrays(r).items()} for r in first]
    live = list(t.model.parameters().values())
    for r in first:
        for a in _report_arrays(r).values():
            assert not any(np.shares_memory(a, p) for p in live)
    rest = list(gen)
    assert len(rest) > 20
    for r, before in zip(first, saved, strict=True):
        for name, a in _report_arrays(r).items():
            np.testing.assert_array_equal(a, before[name])


# --- determinism ---


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "rmsprop", "adam"])
def test_same_seed_is_bit_for_bit_identical(optimizer):
    def run(seed):
        model = MLP(1, (4, 3), "tanh", seed=seed)
        return list(_trainer(n=13, batch_size=4, epochs=3, seed=seed, model=model, optimizer=optimizer).run())

    a, b = run(5), run(5)
    assert len(a) == len(b)
    for ra, rb in zip(a, b, strict=True):
        assert np.array_equal(ra.params, rb.params)
        assert ra.loss == rb.loss
    c = run(6)
    assert not np.array_equal(a[-1].params, c[-1].params)
    assert not np.array_equal(a[0].indices, c[0].indices)


# --- changes between reports ---


def test_batch_size_and_learning_rate_changes_apply_from_the_next_batch():
    t = _trainer(n=10, batch_size=4, epochs=2, seed=3)
    perm = np.random.default_rng(3).permutation(10)
    gen = t.run()
    first = next(gen)
    assert first.learning_rate == 0.01
    np.testing.assert_allclose(first.params_after, first.params_before - 0.01 * first.gradient, rtol=1e-15)

    t.batch_size = 3
    t.optimizer.learning_rate = 0.02
    second = next(gen)
    np.testing.assert_array_equal(second.indices, perm[4:7])  # the same epoch continues with 3 rows
    assert second.learning_rate == 0.02
    np.testing.assert_allclose(second.params_after, second.params_before - 0.02 * second.gradient, rtol=1e-15)
    # the rest of the epoch: rows 7..9, then the epoch's report, then epoch 2 in batches of 3
    third = next(gen)
    np.testing.assert_array_equal(third.indices, perm[7:10])
    assert isinstance(next(gen), EpochReport)
    assert [len(r.indices) for r in _updates(gen)] == [3, 3, 3, 1]


def test_loss_change_applies_from_the_next_batch():
    t = _trainer()
    gen = t.run()
    first = next(gen)
    assert first.loss == MSE.loss(first.predictions, t.y[first.indices])
    t.loss = MAE
    second = next(gen)
    assert second.loss == MAE.loss(second.predictions, t.y[second.indices])
    np.testing.assert_allclose(second.gradient, [
        np.sign(second.predictions - t.y[second.indices]) @ t.X[second.indices, 0] / len(second.indices),
        np.sign(second.predictions - t.y[second.indices]).sum() / len(second.indices),
    ])


def test_configure_applies_before_the_next_batch():
    t = _trainer(n=10, batch_size=4, epochs=2, seed=3)
    perm = np.random.default_rng(3).permutation(10)
    gen = t.run()
    next(gen)
    t.configure(batch_size=3, learning_rate=0.02, loss="mae")
    assert t.batch_size == 4 and t.loss is MSE  # asked for, not yet applied
    second = next(gen)
    np.testing.assert_array_equal(second.indices, perm[4:7])
    assert second.learning_rate == 0.02 and t.loss is MAE
    assert second.loss == MAE.loss(second.predictions, t.y[second.indices])


def test_configure_refuses_what_it_cannot_change():
    with pytest.raises(TypeError, match="seed"):
        _trainer().configure(seed=3)


def test_a_new_optimizer_replaces_a_rate_asked_for_before_it():
    t = _trainer()
    t.configure(learning_rate=0.5)
    t.configure(optimizer=make_optimizer("adam", 0.003))
    first = next(iter(t.run()))
    assert t.optimizer.name == "adam" and first.learning_rate == 0.003


def test_a_new_rate_chosen_between_phases_makes_that_batchs_update():
    t = _trainer(epochs=1)
    t.phases = True
    gen = t.run()
    for _ in range(4):  # batch, forward, loss, gradient
        gradient = next(gen)
    t.configure(learning_rate=0.5)
    update = next(gen)
    assert update.phase is Phase.UPDATE and update.learning_rate == 0.5
    np.testing.assert_allclose(update.params_after, gradient.params_before - 0.5 * gradient.gradient, rtol=1e-15)


def test_a_pending_epoch_limit_counts_for_finished():
    t = _trainer(epochs=1)
    list(t.run())
    assert t.finished
    t.configure(epochs=2)
    assert not t.finished
    assert [e.epoch for e in _epochs(t.run())] == [2]


def test_configure_from_another_thread_while_training_runs():
    import threading

    t = _trainer(n=10, batch_size=1, epochs=2000)
    started = threading.Event()

    def change():
        started.wait()
        t.configure(learning_rate=0.001)

    thread = threading.Thread(target=change)
    thread.start()
    rates = []
    for r in t.run():
        if isinstance(r, StepReport):
            rates.append(r.learning_rate)
            started.set()
            if r.learning_rate == 0.001:
                break
    thread.join()
    assert rates[0] == 0.01 and rates[-1] == 0.001
    assert rates == sorted(rates, reverse=True)  # each batch has one rate: the old, then the new


# --- resuming ---


def test_run_resumes_after_increasing_epochs():
    t = _trainer(n=10, batch_size=4, epochs=2, optimizer="momentum")
    first = list(t.run())
    assert [e.epoch for e in _epochs(first)] == [1, 2]
    assert list(t.run()) == []  # finished: nothing more to do
    t.epochs = 4
    second = list(t.run())
    assert [e.epoch for e in _epochs(second)] == [3, 4]
    assert second[0].step == 7

    straight = list(_trainer(n=10, batch_size=4, epochs=4, optimizer="momentum").run())
    for a, b in zip(first + second, straight, strict=True):
        assert np.array_equal(a.params, b.params)


def test_run_resumes_where_a_consumer_stopped():
    """A consumer that stops after any report (a paused GUI worker) and calls run() again later gets
    the same reports as one that never stopped."""
    straight = list(_trainer(n=10, batch_size=4, epochs=2).run())
    t = _trainer(n=10, batch_size=4, epochs=2)
    resumed = []
    while not t.finished:
        for r in t.run():
            resumed.append(r)
            break  # stop after each report; a new run() picks up
    assert [type(r) for r in resumed] == [type(r) for r in straight]
    for a, b in zip(resumed, straight, strict=True):
        assert np.array_equal(a.params, b.params)


@pytest.mark.parametrize("switch_off", [False, True])
def test_a_batch_shown_phase_by_phase_resumes_after_a_dropped_generator(switch_off):
    """Stepping by phase, a consumer that takes one report per run() call gets the very reports of one that
    never stopped; switching phases off in the middle of a batch finishes that batch's phases first."""
    straight = _trainer(n=10, batch_size=4, epochs=1)
    straight.phases = True
    expected = list(straight.run())
    t = _trainer(n=10, batch_size=4, epochs=1)
    t.phases = True
    got = []
    while not t.finished:
        r = next(t.run())
        got.append(r)
        if switch_off and len(got) == 2:
            t.phases = False  # the batch under way still shows its remaining phases
            got.extend(r for r in t.run())
    if switch_off:
        assert [getattr(r, "phase", None) for r in got[:5]] == list(Phase)
        assert all(getattr(r, "phase", Phase.UPDATE) is Phase.UPDATE for r in got[5:])
        got = [r for r in got if r.kind != "phase"]
        expected = [r for r in expected if r.kind != "phase"]
    assert [r.kind for r in got] == [r.kind for r in expected]
    for a, b in zip(got, expected, strict=True):
        assert np.array_equal(a.params, b.params)


def test_a_batch_under_way_keeps_its_rows_when_the_batch_size_changes():
    t = _trainer(n=10, batch_size=4, epochs=1, seed=5)
    t.phases = True
    first = next(t.run())
    t.configure(batch_size=2)
    rest = list(t.run())
    update = next(r for r in rest if r.kind == "batch")
    np.testing.assert_array_equal(update.indices, first.indices)
    assert len(update.indices) == 4 and t.phase_shown is None


# --- divergence ---


def _diverging_trainer(**kw):
    """The book's trap: a linear model, MSE, learning rate 10 on download-time data."""
    X, y = _download_time_like(20)
    return Trainer(Linear(1, seed=0), MSE, SGD(10.0), X, y, batch_size=32, epochs=500, **kw)


def test_divergence_is_reported_once_and_keeps_the_last_finite_params():
    t = _diverging_trainer()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning (overflow, invalid value) may leak out
        gen = t.run()
        reports = list(gen)
    last = reports[-1]
    assert isinstance(last, DivergedReport)
    assert not any(isinstance(r, DivergedReport) for r in reports[:-1])
    steps = _updates(reports)
    assert last.step == steps[-1].step + 1 == t.step + 1
    assert last.epoch == t.epoch + 1  # one batch per epoch here
    assert last.what in ("loss", "gradient", "parameters")
    assert last.learning_rate == 10.0
    assert np.isfinite(last.params).all()
    np.testing.assert_array_equal(last.params, steps[-1].params_after)
    np.testing.assert_array_equal(t.model.get_flat(), last.params)
    np.testing.assert_array_equal(t.params, last.params)
    assert not last.params.flags.writeable
    assert f"step {last.step}" in last.message and "learning rate 10" in last.message
    assert t.diverged is last and t.finished
    with pytest.raises(StopIteration):
        next(gen)
    assert list(t.run()) == []


def test_ignoring_overflow_inside_the_trainer_leaves_the_callers_error_settings_alone():
    # The trainer ignores floating-point errors in a context of its own: between two reports, and after a
    # divergence, the caller's NumPy error settings are its own (here: raise on everything).
    t = _diverging_trainer()
    reports = []
    with np.errstate(all="raise"):
        for report in t.run():
            reports.append(report)
            assert np.geterr() == {"divide": "raise", "over": "raise", "under": "raise", "invalid": "raise"}
            with pytest.raises(FloatingPointError):
                np.array([1e308]) * 10
    assert isinstance(reports[-1], DivergedReport) and len(reports) > 1


def test_a_trainer_goes_on_in_another_thread():
    # A run begun in one thread and continued in another (the worker after a step by hand, say) gives the same
    # reports as one run in one thread.
    import threading

    one, two = _trainer(n=20, epochs=3), _trainer(n=20, epochs=3)
    whole = [r.loss for r in _updates(one.run())]
    gen = two.run()
    first = [next(gen).loss for _ in range(4)]
    rest: list = []
    thread = threading.Thread(target=lambda: rest.extend(r.loss for r in _updates(two.run())))
    thread.start()
    thread.join()
    assert first + rest == whole


def test_divergence_of_the_parameters_restores_the_model():
    # A finite loss and gradient, but the update overflows: lr 1e308 · gradient 200 = −inf.
    X, y = np.array([[10.0]]), np.array([0.0])
    t = Trainer(Linear(1, kernel=[1.0], bias=0.0), MSE, SGD(1e308), X, y, batch_size=1, epochs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reports = list(t.run())
    assert len(reports) == 1
    (r,) = reports
    assert isinstance(r, DivergedReport)
    assert (r.what, r.step, r.epoch, r.batch) == ("parameters", 1, 1, 0)
    np.testing.assert_array_equal(r.params, [1.0, 0.0])
    np.testing.assert_array_equal(t.model.get_flat(), [1.0, 0.0])


def test_divergence_with_phases_stops_after_the_forward_phase():
    t = _diverging_trainer()
    t.phases = True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reports = list(t.run())
    last = reports[-1]
    assert isinstance(last, DivergedReport) and last.what == "loss"
    assert [r.phase for r in reports[-3:-1]] == [Phase.BATCH, Phase.FORWARD]
    assert np.isfinite(last.params).all()


def test_evaluate_does_not_warn_on_overflow():
    X = np.array([[1e200]])
    t = Trainer(Linear(1, kernel=[1e200]), MSE, SGD(), X, np.array([0.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert t.evaluate(X, np.array([0.0])) == np.inf
