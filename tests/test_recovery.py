"""After a divergence a run goes back exactly to the last step whose training loss was still below the start's
(the trainer replays from its checkpoints), and stepping on from there with a smaller rate converges; the CLI
gives the same advice with that step's number."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from fitscope.engine.cli import main
from fitscope.engine.data import load_builtin
from fitscope.engine.experiment import Experiment
from fitscope.engine.run import HISTORY, STATUS, FitRun
from fitscope.engine.trainer import CHECKPOINT_EVERY, CHECKPOINTS, EpochReport, Phase, StepReport

#: download-time, MSE, batch size 4: SGD at 0.05 slowly grows out of control (step 3,902), far past the
#: first checkpoints; at 0.01 it converges.
SLOW = {"loss": "mse", "learning_rate": 0.05, "batch_size": 4, "epochs": 1000}


def make(data: str = "download-time", **changes) -> FitRun:
    d = load_builtin(data)
    return FitRun(d, replace(d.defaults, **changes))


def train(run: FitRun, until: int | None = None, plan: dict | None = None) -> None:
    """Record the run's reports until it stops, or until update ``until`` is recorded (and its epoch's end,
    if it ended one); ``plan[step]`` is called with the run when update ``step`` is recorded (a setting
    changed there, say)."""
    plan = plan or {}
    while not run.trainer.finished:
        for report in run.trainer.run():
            run.record([report])
            if isinstance(report, StepReport) and report.phase is Phase.UPDATE:
                if report.step in plan:
                    plan.pop(report.step)(run)
                    break  # the change applies from the next batch
                if report.step == until and not run.trainer.at_epoch_end:
                    return
            if isinstance(report, EpochReport) and report.step == until:
                return
        if until is not None and run.trainer.step >= until and not run.trainer.at_epoch_end:
            return


def full_loss(run: FitRun, step: int) -> float:
    return run.experiment.loss_at(run.history.params[run.history.row_of(step)], "train")


def start_loss(run: FitRun) -> float:
    return run.experiment.loss_at(run.history.params[0], "train")


def go_back_and_compare(run: FitRun, fresh: FitRun) -> int:
    """Go back to the recovery step and check the trainer is exactly the fresh run's at that step."""
    step = run.recovery()
    assert step is not None and full_loss(run, step) < start_loss(run)
    trainer = run.trainer
    told = []
    run.listen(told.append)
    run.go_back(step)
    assert run.trainer is trainer and run.trainable is trainer  # the driver keeps the trainer it holds
    assert told == [HISTORY, STATUS] and not run.finished
    h = run.history
    assert h.steps == step == trainer.step and h.diverged is None and trainer.diverged is None
    assert h.last_step.step == step and h.last_step.phase is Phase.UPDATE
    assert np.array_equal(trainer.params, h.current) and np.array_equal(trainer.params, fresh.trainer.params)
    assert trainer.state() == fresh.trainer.state()
    assert run.in_step() and len(h.epochs) == trainer.epoch == len(fresh.history.epochs)
    assert np.array_equal(h.epochs, fresh.history.epochs, equal_nan=True)
    assert h.to_json() == fresh.history.to_json()
    json.loads(json.dumps(run.state()))
    FitRun.from_state(run.state())  # a consistent run
    return step


def converges(run: FitRun, rate: float = 0.01, steps: int = 2000) -> None:
    """Lower the rate and train on: no divergence, and the loss goes down."""
    at = start_loss(run), run.loss_now()
    run.update(learning_rate=rate, epochs=run.trainer.epoch + steps)
    train(run, until=run.trainer.step + steps)
    assert run.history.diverged is None and run.trainer.diverged is None
    assert run.loss_now() < at[1] < at[0]


# --------------------------------------------------------------------------- the surface data
def test_a_slow_divergence_goes_back_exactly_and_converges_at_a_smaller_rate():
    run = make(**SLOW)
    train(run)
    d = run.history.diverged
    assert d is not None and d.step == 3902
    step = run.recovery()
    assert step == 3889 and step < d.step - CHECKPOINT_EVERY // 64
    fresh = make(**SLOW)
    train(fresh, until=step)
    go_back_and_compare(run, fresh)
    converges(run)


def test_a_rate_raised_to_10_mid_run_goes_back_to_before_it_blew_up():
    """Surface data, MSE, lr 10 from the start never has a step below the start's loss (the first update
    overshoots 400-fold), so the rate is raised after 300 good steps; the step after the change is still
    below the start and is reached from the checkpoint taken at the change: the replay crosses no change."""
    plan = {300: lambda r: r.update(learning_rate=10.0)}
    run = make(loss="mse", learning_rate=0.01, batch_size=4, epochs=1000)
    train(run, plan=dict(plan))
    assert run.history.diverged.step == 304
    assert 300 in run.trainer.checkpoint_steps
    fresh = make(loss="mse", learning_rate=0.01, batch_size=4, epochs=1000)
    step = run.recovery()
    assert step == 301
    train(fresh, until=step, plan=dict(plan))
    go_back_and_compare(run, fresh)
    assert run.settings.learning_rate == 10.0  # not changed by going back: the user lowers it
    converges(run)


def test_from_lr_10_at_the_start_there_is_nothing_to_go_back_to():
    run = make(loss="mse", learning_rate=10.0)
    train(run)
    assert run.history.diverged is not None and run.recovery() is None


def test_going_back_before_a_change_of_rate_asks_for_the_current_rate_again():
    """The recovery step is before the change (at it): the trainer replays from the checkpoint before, as
    the run was then, and is asked for the rate the settings hold now."""
    plan = {300: lambda r: r.update(learning_rate=1000.0)}
    run = make(loss="mse", learning_rate=0.01, batch_size=4, epochs=1000)
    train(run, plan=dict(plan))
    step = run.recovery()
    assert step == 300
    fresh = make(loss="mse", learning_rate=0.01, batch_size=4, epochs=1000)
    train(fresh, until=step, plan=dict(plan))  # the change is asked for at 300, applied at the next batch
    go_back_and_compare(run, fresh)
    assert run.trainer.next_hyperparameters()["learning_rate"] == 1000.0
    run.update(learning_rate=0.001)
    train(run, until=302)
    assert run.history.last_step.learning_rate == 0.001


# --------------------------------------------------------------------------- optimizers with state
@pytest.mark.parametrize(("optimizer", "rate", "then"), [("adam", 0.1, 1000.0), ("momentum", 0.01, 10.0)])
def test_an_optimizer_with_accumulators_is_restored_exactly(optimizer, rate, then):
    settings = {"loss": "mse", "optimizer": optimizer, "learning_rate": rate, "batch_size": 4, "epochs": 1000}
    plan = {300: lambda r: r.update(learning_rate=then)}
    run = make(**settings)
    train(run, plan=dict(plan))
    assert run.history.diverged is not None
    fresh = make(**settings)
    step = run.recovery()
    train(fresh, until=step, plan=dict(plan) if step > 300 else {})
    if step == 300:
        fresh.update(learning_rate=then)
    go_back_and_compare(run, fresh)
    assert run.trainer.optimizer.iterations == step  # its accumulators and step count are the run's
    converges(run, rate=rate / 10)


def test_momentum_diverging_by_itself_goes_back_past_many_checkpoints():
    run = make(loss="mse", optimizer="momentum", learning_rate=0.02, batch_size=4, epochs=1000)
    train(run)
    step = run.recovery()
    assert step == 1163 and len(run.trainer.checkpoint_steps) > 4
    fresh = make(loss="mse", optimizer="momentum", learning_rate=0.02, batch_size=4, epochs=1000)
    train(fresh, until=step)
    go_back_and_compare(run, fresh)
    converges(run, rate=0.002)


# --------------------------------------------------------------------------- phases, MLP, sessions
def test_a_batch_shown_phase_by_phase_with_a_change_during_it_is_not_replayed():
    """Batches shown phase by phase are replayed as whole batches (the same numbers); the one batch whose
    update took a rate chosen while it was shown cannot be, and recovery passes over it."""
    settings = {"loss": "mse", "learning_rate": 0.01, "batch_size": 4, "epochs": 1000}

    def phased(run: FitRun, changed_at: Phase | None) -> None:
        run.trainer.phases = True
        for report in run.trainer.run():
            run.record([report])
            if getattr(report, "phase", None) is changed_at:
                run.update(learning_rate=10.0)  # while the batch is shown: it makes this update
            if getattr(report, "phase", None) is Phase.UPDATE:
                break
        run.trainer.phases = False

    def script(run: FitRun) -> None:
        train(run, until=297)
        for _ in range(3):
            phased(run, None)  # steps 298 to 300, phase by phase, nothing changed
        phased(run, Phase.GRADIENT)  # step 301 takes lr 10 at its update

    run = make(**settings)
    script(run)
    train(run)
    d = run.history.diverged
    assert d is not None and d.step > 302
    assert not run.trainer.rewindable(301) and run.trainer.rewindable(300) and run.trainer.rewindable(302)
    with pytest.raises(ValueError, match="cannot be replayed") as e:
        run.go_back(301)
    assert "\n" not in str(e.value) and run.history.diverged is d  # nothing changed
    step = run.recovery()
    assert step != 301 and step in (300, 302)
    fresh = make(**settings)
    script(fresh)
    if step == 300:
        fresh = make(**settings)
        train(fresh, until=297)
        train(fresh, until=300)
        fresh.update(learning_rate=10.0)
    else:
        train(fresh, until=step)
    go_back_and_compare(run, fresh)
    converges(run)


def test_an_mlp_at_batch_size_1_goes_back_exactly():
    settings = {"model": "mlp", "hidden": (50,), "batch_size": 1, "learning_rate": 0.01, "epochs": 5}
    plan = {300: lambda r: r.update(learning_rate=0.5)}
    run = make("boston-housing", **settings)
    train(run, plan=dict(plan))
    assert run.history.diverged is not None
    step = run.recovery()
    assert step == 301
    fresh = make("boston-housing", **settings)
    train(fresh, until=step, plan=dict(plan))
    go_back_and_compare(run, fresh)
    converges(run, rate=0.01, steps=500)


def test_a_session_round_trip_keeps_what_going_back_needs():
    run = make(**SLOW)
    train(run)
    state = json.loads(json.dumps(run.state()))
    assert state["checkpoints"]
    back = FitRun.from_state(state)
    assert back.history.diverged is not None and back.recovery() == run.recovery() == 3889
    fresh = make(**SLOW)
    train(fresh, until=3889)
    go_back_and_compare(back, fresh)
    converges(back)


def test_an_older_session_without_checkpoints_cannot_go_back():
    run = make(**SLOW)
    train(run)
    state = run.state()
    del state["checkpoints"]
    back = FitRun.from_state(state)
    assert back.recovery() is None
    with pytest.raises(ValueError, match="older than the oldest checkpoint") as e:
        back.trainer.rewind(3889)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("damage", ["step", "order", "params"])
def test_damaged_checkpoints_are_refused_or_caught(damage):
    run = make(**SLOW)
    train(run)
    state = json.loads(json.dumps(run.state()))
    checkpoint = state["checkpoints"][-1]
    if damage == "step":
        checkpoint["step"] += 1
        with pytest.raises(ValueError, match="checkpoint"):
            FitRun.from_state(state)
        return
    if damage == "order":
        checkpoint["state"]["order"] = "previous"
        state["checkpoints"] = [checkpoint]
        with pytest.raises(ValueError, match="refers to none"):
            FitRun.from_state(state)
        return
    checkpoint["state"]["params"][0] += 1e-9  # well formed, but not the run's: replaying it shows a difference
    back = FitRun.from_state(state)
    before = back.trainer.state(), back.history.to_json()
    with pytest.raises(ValueError, match="recorded") as e:
        back.go_back(3889)
    assert "\n" not in str(e.value)
    assert (back.trainer.state(), back.history.to_json()) == before  # nothing changed


# --------------------------------------------------------------------------- the trainer's checkpoints
def test_rewind_replays_to_an_epoch_end_and_its_report():
    exp = Experiment(load_builtin("download-time"), replace(load_builtin("download-time").defaults, loss="mse",
                                                              batch_size=4, epochs=100))
    reports = list(exp.trainer.run())
    end = next(r for r in reports if isinstance(r, EpochReport) and r.step > 300)
    back = exp.trainer.rewind(end.step)
    assert isinstance(back[-1], EpochReport) and back[-1].epoch == end.epoch
    assert back[-1].loss == end.loss and np.array_equal(back[-1].params, end.params)
    steps = [r for r in back if isinstance(r, StepReport)]
    assert steps[-1].step == end.step and 0 < len(steps) <= CHECKPOINT_EVERY
    assert exp.trainer.between_epochs and exp.trainer.epoch == end.epoch
    start = exp.trainer.rewind(0)
    assert start == [] and exp.trainer.step == 0 and np.array_equal(exp.trainer.params, reports[0].params_before)


def test_a_start_set_while_a_run_is_kept_going_is_where_going_back_replays_from():
    """New parameters set between two reports of one generator, mid-epoch and far from the next regular
    checkpoint: the steps after them replay from them, not from the checkpoint before."""
    d = load_builtin("boston-housing")
    exp = Experiment(d, replace(d.defaults, model="linear", epochs=5))
    run = exp.trainer.run()
    for _ in range(3):
        next(run)
    exp.trainer.set_params(np.full(exp.trainer.params.size, 0.5))
    after = [r for r in (next(run) for _ in range(6)) if isinstance(r, StepReport)]
    assert exp.trainer.checkpoint_steps[-1] == 3 and CHECKPOINT_EVERY > 10
    target = after[1]
    assert exp.trainer.rewindable(target.step)
    exp.trainer.rewind(target.step)
    assert np.array_equal(exp.trainer.params, target.params_after)


def test_a_batch_changed_while_shown_is_not_replayable_before_its_checkpoint():
    """New parameters set in the middle of a batch shown phase by phase: once that batch is done, and before the
    next checkpoint marks it, its step is not offered for going back (the replay would differ from it)."""
    d = load_builtin("download-time")
    exp = Experiment(d, replace(d.defaults, batch_size=4, epochs=3))
    exp.trainer.phases = True
    run = exp.trainer.run()
    next(run)  # the first phase of step 1's batch
    exp.trainer.set_params(np.array([5.0, -3.0]))
    done = next(r for r in run if isinstance(r, StepReport) and r.phase is Phase.UPDATE)
    assert done.step == 1 == exp.trainer.step
    assert not exp.trainer.rewindable(1)
    with pytest.raises(ValueError, match="cannot be replayed"):
        exp.trainer.rewind(1)


def test_the_ring_is_bounded_and_an_old_step_is_refused():
    d = load_builtin("download-time")
    exp = Experiment(d, replace(d.defaults, loss="mse", batch_size=1, learning_rate=0.001, epochs=2000))
    for _ in exp.trainer.run():
        pass
    steps = exp.trainer.checkpoint_steps
    assert len(steps) == CHECKPOINTS and steps[-1] == 40_000 - 40_000 % CHECKPOINT_EVERY
    assert not exp.trainer.rewindable(steps[0]) and exp.trainer.rewindable(steps[0] + 1)
    with pytest.raises(ValueError, match="older than the oldest checkpoint"):
        exp.trainer.rewind(100)
    with pytest.raises(ValueError, match="not one of this run's"):
        exp.trainer.rewind(40_001)


def test_checkpoints_cost_the_run_nothing_it_can_see():
    """Taking checkpoints changes no number: the run equals one whose trainer never rewinds."""
    a, b = make(**SLOW), make(**SLOW)
    train(a)
    for report in b.trainer.run():
        b.record([report])
    assert a.history.to_json() == b.history.to_json() and a.trainer.state() == b.trainer.state()


# --------------------------------------------------------------------------- the CLI
def test_the_cli_names_the_step_to_go_back_to_and_a_smaller_rate(capsys):
    code = main(["fit", "--loss", "mse", "--lr", "0.05", "--batch-size", "4", "--epochs", "1000", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 3
    assert err.startswith("Training diverged at step 3902") and err.count("\n") == 1
    run = make(**SLOW)
    train(run)
    step = run.recovery()
    assert out == (f"step {step} was the last with a training loss below the start's "
                   f"({full_loss(run, step):.6g} < {start_loss(run):.6g}): "
                   f"train with a smaller --lr, e.g. {run.smaller_rate():g}\n")
    assert step == 3889 and run.smaller_rate() == 0.005


def test_the_cli_suggests_a_rate_from_the_curvature_when_nothing_can_be_gone_back_to(capsys):
    code = main(["fit", "--loss", "mse", "--lr", "10", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 3 and err.count("\n") == 1
    assert out == ("no step the run can go back to had a training loss below the start's (3.27416): "
                   "train with a smaller --lr, e.g. 0.0232\n")  # half of 2/λmax = 0.0464


def test_two_changes_at_one_step_replay_from_the_later():
    """A change at an epoch's end, then another once its report is made: two checkpoints at the same step;
    the run went on from the later one, and so does a rewind."""
    d = load_builtin("download-time")
    t = Experiment(d, replace(d.defaults, loss="mse", batch_size=4, epochs=100)).trainer
    for r in t.run():
        if isinstance(r, StepReport) and r.step == 10:
            break  # the last batch of epoch 2; its report not made yet
    t.configure(learning_rate=0.02)
    run = t.run()
    assert isinstance(next(run), EpochReport)
    t.configure(learning_rate=0.03)
    made = [r for _, r in zip(range(3), run, strict=False)]
    assert t.checkpoint_steps.count(10) == 2 and made[-1].step == 13 and made[0].learning_rate == 0.03
    back = t.rewind(12)
    assert [r.step for r in back] == [11, 12] and all(r.learning_rate == 0.03 for r in back)
    assert np.array_equal(back[-1].params_after, made[1].params_after) and back[0].loss == made[0].loss
    assert t.checkpoint_steps[-3:] == (10, 10, 12)


def test_recovery_looks_at_every_reachable_step_of_a_linear_run():
    """Found by a hostile pass: the search stopped after the latest 1,024 kept steps, so a slow blow-up
    (at just above the stable rate) was said to have no step below the start's loss. A linear model's steps
    are now all evaluated at once, and the answer is the same as the loss function's, one step at a time."""
    from dataclasses import replace

    from fitscope.engine.curvature import curvature_of
    from fitscope.engine.data import load_builtin
    from fitscope.engine.run import FitRun

    d = load_builtin("download-time")
    probe = FitRun(d, replace(d.defaults, loss="mse", batch_size=20))
    limit = curvature_of(probe.experiment).limit("sgd", 0.0)
    k, b = probe.experiment.stats.optimum()
    run = FitRun(d, replace(d.defaults, loss="mse", batch_size=20, epochs=100_000, learning_rate=1.0005 * limit),
                 start=np.array([k, b + 0.3]))
    for report in run.trainer.run():
        run.record([report])
    h = run.history
    assert h.diverged is not None and h.steps > 2000, h.steps
    step = run.recovery()
    assert run.recovery_complete
    exp = run.experiment
    start = exp.loss_at(h.params[0], "train")
    below = [int(s) for s, p in zip(h.param_steps, h.params, strict=True) if s > 0 and exp.loss_at(p, "train") < start]
    assert step == below[-1] and h.steps - step > 1024  # farther back than the old search went
    losses = run.training_losses(h.params)
    assert np.allclose(losses, [exp.loss_at(p, "train") for p in h.params], rtol=1e-9, atol=0)
    run.go_back(step)
    assert h.steps == step and exp.loss_at(h.current, "train") < start


@pytest.mark.parametrize("forge", ["shape", "broadcast", "huge step"])
def test_a_forged_trainer_state_is_refused_in_one_line(forge):
    """Found by a hostile pass: an accumulator of another shape broadcast silently (or failed every step
    later), and a step of 2**63 - 1 overflowed the history at the next step."""
    from fitscope.engine.data import load_builtin
    from fitscope.engine.run import FitRun

    d = load_builtin("download-time")
    run = FitRun(d, replace(d.defaults, optimizer="adam", learning_rate=0.01))
    for report in run.trainer.run():
        run.record([report])
        if run.history.steps == 3:
            break
    state = json.loads(json.dumps(run.state()))
    trainer = state["trainer"]
    if forge == "huge step":
        trainer["step"] = 2**63 - 1
    else:
        slot = trainer["optimizer"]["slots"]["m"]["0"]
        slot["shape"], slot["values"] = ([1], [0.5]) if forge == "broadcast" else ([5], [0.0] * 5)
    with pytest.raises(ValueError) as e:
        FitRun.from_state(state, d)
    assert "\n" not in str(e.value)


def test_back_to_is_the_start_when_no_step_was_better_and_going_there_starts_afresh():
    from fitscope.engine.data import load_builtin
    from fitscope.engine.run import FitRun

    d = load_builtin("download-time")
    run = FitRun(d, replace(d.defaults, loss="mse", learning_rate=10.0))
    assert run.back_to() is None  # no divergence: nowhere to go back to
    for report in run.trainer.run():
        run.record([report])
    assert run.history.diverged is not None and run.recovery() is None and run.back_to() == 0
    start = run.history.params[0].copy()
    run.go_back(0)
    assert run.history.steps == 0 and run.history.diverged is None
    assert np.array_equal(run.trainer.params, start) and run.back_to() is None


def test_the_cli_suggests_normalizing_when_raw_features_diverge(capsys):
    code = main(["fit", "--data", "boston-housing", "--no-normalize", "--epochs", "5", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 3 and err.count("\n") == 1 and out.count("\n") == 1
    assert out.rstrip().endswith("or normalize the features (--normalize), which lets every weight learn at one rate")
    code = main(["fit", "--data", "boston-housing", "--normalize", "--lr", "5", "--epochs", "5", "--quiet"])
    out, _ = capsys.readouterr()
    assert code == 3 and "--normalize" not in out  # already normalized: not offered


def test_after_a_full_batch_divergence_the_suggested_rate_is_half_the_stable_limit():
    """Whatever the rate that diverged (0.05 or 10), full-batch SGD on the linear MSE is offered half of 2/λmax:
    a rate that converges, and not slowly (a tenth of 0.05 once made 200 epochs fall short of the star)."""
    d = load_builtin("download-time")
    Z = np.column_stack([d.X_train[:, 0], np.ones(len(d.y_train))])
    limit = 2 / np.linalg.eigvalsh(2 / len(Z) * Z.T @ Z)[-1]
    for lr in (0.05, 10.0):
        run = make(loss="mse", learning_rate=lr, batch_size=len(d.y_train))
        assert run.smaller_rate() == float(f"{limit / 2:.3g}")
