"""The tabs' models, headless: settings in one place, live or restarting changes, states that round-trip, and no
Qt anywhere in them."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys

import numpy as np
import pytest

from fitscope.engine.data import load_builtin
from fitscope.engine.experiment import Experiment
from fitscope.engine.run import HISTORY, NEW_RUN, SETTINGS, FitRun
from fitscope.engine.settings import DEFAULT_LEARNING_RATE
from fitscope.gui.models.multi import MultiRun
from fitscope.gui.models.race import RaceRun
from fitscope.gui.models.surface import SurfaceRun, drawn_init


@pytest.fixture(scope="module")
def download():
    return load_builtin("download-time")


@pytest.fixture(scope="module")
def boston():
    return load_builtin("boston-housing")


def train(run, n: int) -> None:
    """``n`` reports of the run's trainer, recorded as a view records them."""
    run.record(list(itertools.islice(run.trainable.run(), n)))


def heard(run) -> list[str]:
    said: list[str] = []
    run.listen(said.append)
    return said


def through_json(state):
    return json.loads(json.dumps(state, allow_nan=False))


def test_the_models_import_no_qt():
    code = ("import sys; import fitscope.gui.models.surface, fitscope.gui.models.multi, fitscope.gui.models.race, "
            "fitscope.engine.run; print([m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph'))])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_live_change_goes_to_the_trainer_and_the_settings_say_so(download):
    run = SurfaceRun(download)
    train(run, 3)
    said, trainer = heard(run), run.trainer
    run.update(learning_rate=0.05, batch_size=4)
    assert said == [SETTINGS] and run.trainer is trainer  # the same run goes on
    assert run.settings.learning_rate == 0.05 and run.settings.batch_size == 4
    assert trainer.next_hyperparameters()["learning_rate"] == 0.05
    report = next(r for r in trainer.run() if r.kind == "batch")
    assert report.learning_rate == 0.05 and len(report.indices) == 4


def test_a_change_before_the_first_step_starts_afresh(download):
    run = SurfaceRun(download)
    said, trainer = heard(run), run.trainer
    run.update(learning_rate=0.05)
    assert said == [NEW_RUN] and run.trainer is not trainer
    assert run.trainer.optimizer.learning_rate == 0.05 and run.experiment.settings == run.settings


def test_a_structural_change_starts_afresh_from_the_same_start(download):
    run = SurfaceRun(download)
    run.start_at(1.0, 0.5)
    train(run, 4)
    said = heard(run)
    run.update(seed=7)
    assert said == [NEW_RUN] and run.history.steps == 0
    assert np.array_equal(run.current, [1.0, 0.5]) and run.settings.seed == 7


def test_an_optimizer_takes_tfjs_default_rate_unless_one_is_given(download):
    run = SurfaceRun(download)
    train(run, 1)
    run.update(optimizer="adam")
    assert run.settings.learning_rate == DEFAULT_LEARNING_RATE["adam"]
    assert run.trainer.next_hyperparameters()["optimizer"].name == "adam"
    run.update(optimizer="momentum", learning_rate=0.2)
    assert run.settings.learning_rate == 0.2


def test_a_bad_setting_is_refused_and_changes_nothing(download):
    run = SurfaceRun(download)
    train(run, 2)
    before, said = run.settings, heard(run)
    with pytest.raises(ValueError, match="learning rate"):
        run.update(learning_rate=-1.0)
    with pytest.raises(ValueError, match="seed"):
        run.update(seed=2**40)
    assert run.settings == before and said == []


def test_reports_go_into_the_history_and_listeners_hear_of_them(download):
    run = SurfaceRun(download)
    said = heard(run)
    train(run, 5)  # the 20 rows make one batch an epoch: step, epoch, step, epoch, step
    assert said == [HISTORY] and run.history.steps == 3 and len(run.history.epochs) == 2
    assert np.array_equal(run.current, run.trainer.params)


def test_the_surface_run_starts_where_tfjs_would_draw_from_the_seed(download):
    run = SurfaceRun(download)
    assert run.settings.init == drawn_init(run.settings.seed)
    run.random_init()
    assert run.settings.seed == 1 and run.settings.init == drawn_init(1)
    assert np.array_equal(run.current, Experiment(download, run.settings).trainer.params)


def test_the_surface_run_refuses_data_of_several_features(boston):
    with pytest.raises(ValueError, match="exactly one feature"):
        SurfaceRun(boston)


@pytest.mark.parametrize("make", [
    lambda d, b: SurfaceRun(d),
    lambda d, b: MultiRun(b),
    lambda d, b: FitRun(b),
])
def test_a_state_round_trips_and_training_goes_on_alike(download, boston, make):
    run = make(download, boston)
    run.trainer.phases = True
    train(run, 7)  # a whole batch, then two phases of the next
    run.update(learning_rate=0.02)
    state = through_json(run.state())
    twin = type(run).from_state(state, run.dataset)
    twin.trainer.phases = True
    assert twin.settings == run.settings
    assert np.array_equal(twin.history.params, run.history.params)
    assert twin.trainer.phase_shown == run.trainer.phase_shown
    for r in (run, twin):
        train(r, 12)
    assert np.array_equal(twin.history.params, run.history.params)
    assert twin.history.last_step.learning_rate == run.history.last_step.learning_rate == 0.02


def test_a_state_whose_trajectory_does_not_end_at_its_trainer_is_refused(download):
    run = SurfaceRun(download)
    train(run, 3)
    state = through_json(run.state())
    state["trainer"]["params"] = [0.5, 0.5]
    with pytest.raises(ValueError, match="trajectory"):
        SurfaceRun.from_state(state, download)


def test_a_state_of_another_tabs_kind_is_refused(download, boston):
    state = through_json(MultiRun(boston).state())
    with pytest.raises(ValueError):
        SurfaceRun.from_state(state)
    state = through_json(SurfaceRun(download).state())
    state["settings"]["normalize"] = True  # not what the surface tab runs
    with pytest.raises(ValueError, match="not those of this tab"):
        SurfaceRun.from_state(state, download)


def test_the_multi_run_moves_its_slice_with_normalization_unless_chosen(boston):
    run = MultiRun(boston)
    names = boston.feature_names
    assert run.pair == (names.index("rm"), names.index("lstat"))
    run.update(normalize=False)
    assert run.pair == (run.wide, run.narrow)  # the two scales side by side
    run.set_pair(0, 1)
    run.update(normalize=True)
    assert run.pair == (0, 1)  # the user's choice stays


def test_the_multi_run_starts_from_a_point_of_its_slice(boston):
    run = MultiRun(boston)
    train(run, 3)
    i, j = run.pair
    current = run.current.copy()
    run.start_at(1.5, -2.0)
    assert run.history.steps == 0 and run.current[i] == 1.5 and run.current[j] == -2.0
    others = np.delete(run.current, [i, j])
    assert np.array_equal(others, np.delete(current, [i, j]))
    run.reset()
    assert run.current[i] == 1.5  # Reset goes back to the start clicked


def test_preferences_come_back_for_the_same_data(boston):
    run = MultiRun(boston)
    run.update(normalize=False, learning_rate=1e-6, epochs=7)
    prefs = through_json(run.preferences())
    again = MultiRun(boston)
    again.apply_preferences(prefs)
    assert again.settings == run.settings
    with pytest.raises(ValueError):
        again.apply_preferences({"settings": {**prefs["settings"], "learning_rate": 1e9}})  # beyond the app's


def test_the_race_run_restarts_on_its_course_and_goes_on_for_its_limit(download):
    race = RaceRun(download)
    assert race.keys == ["sgd", "momentum", "rmsprop", "adam"]
    said = heard(race)
    race.set_racer("rmsprop", enabled=False)
    assert said[-1] == NEW_RUN and race.keys == ["sgd", "momentum", "adam"]
    train(race, 3)
    race.update(epochs=500)
    assert said[-1] == SETTINGS and race.histories[0].steps == 2  # on the fly (3 reports: 2 steps and an epoch)
    race.update(batch_size=4)
    assert said[-1] == NEW_RUN and race.histories[0].steps == 0


def test_the_race_state_round_trips(download):
    race = RaceRun(download)
    race.set_racer("adam", learning_rate=0.05, beta1=0.8)
    race.set_tolerance(0.02)
    train(race, 4)
    twin = RaceRun.from_state(through_json(race.state()), download)
    assert twin.keys == race.keys and twin.tolerance == 0.02 and twin.racers == race.racers
    for r in (race, twin):
        train(r, 5)
    for a, b in zip(race.histories, twin.histories, strict=True):
        assert np.array_equal(a.params, b.params)


def test_a_race_state_with_a_racer_out_of_range_is_refused(download):
    state = through_json(RaceRun(download).state())
    state["racers"]["adam"]["options"]["beta1"] = 7.0
    with pytest.raises(ValueError, match="out of range"):
        RaceRun.from_state(state, download)


def test_a_learning_rate_beyond_the_apps_range_is_refused_and_nothing_changes():
    """A rate the app's fields and sessions refuse (a sweep once passed 1e-320 on, and the session saved with
    it could not be opened again) is refused by the run itself, in one line."""
    from fitscope.engine.data import load_builtin
    from fitscope.engine.run import FitRun

    run = FitRun(load_builtin("download-time"))
    before = run.settings
    for rate in (1e-320, 5e-324, 1e4):
        with pytest.raises(ValueError, match="outside the app's 1e-300 to 1,000"):
            run.update(learning_rate=rate)
        assert run.settings == before
    run.update(learning_rate=1e-300)
    assert run.settings.learning_rate == 1e-300
