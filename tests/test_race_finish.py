"""A fair finish: a racer settles at the first step after which it stays within the tolerance, one that ends
outside never wins, and the texts say only what the engine's numbers bear out. The race cases are the ones
reported (default race; every rate 0.05; MAE), with the engine's real numbers."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible

import fitscope.engine.history as history_module
from fitscope.engine.curvature import hessian
from fitscope.engine.numbers import prose
from fitscope.engine.race import SCAN_RATES, Finish, Race, RacerSpec, RaceStepReport, settled_step, standing
from fitscope.gui.app import MainWindow
from fitscope.gui.models.race import RACERS, RaceRun
from fitscope.gui.models.race_texts import COLUMNS
from fitscope.gui.views.race_view import RaceView


# ---------------------------------------------------------------- the definition, by brute force
def settled_by_definition(d: np.ndarray, tol: float) -> int | None:
    """The first step s with every distance from s to the end within tol (None: the last is outside)."""
    return next((s for s in range(len(d)) if (d[s:] <= tol).all()), None)


def distances_of(run: RaceRun, i: int) -> np.ndarray:
    return np.linalg.norm(run.histories[i].params - run.optimum, axis=1)


@pytest.mark.parametrize("seed", range(6))
def test_settled_step_is_the_first_after_which_every_step_is_inside(seed):
    rng = np.random.default_rng(seed)
    path = rng.normal(0, 1, (80, 2)) * np.linspace(2, 0.01, 80)[:, None]  # closing in, noisily
    d = np.linalg.norm(path, axis=1)
    for tol in (0.05, 0.2, 0.5, 1.0, 3.0):
        expected = settled_by_definition(d, tol)
        assert settled_step(path, np.zeros(2), tol) == expected
        # Kept up step by step, in chunks of any size, it comes out the same.
        finish = Finish(tol)
        cuts = np.sort(rng.choice(np.arange(1, 80), 7, replace=False))
        for part in np.split(np.arange(80), cuts):
            finish.add(part, d[part])
        assert finish.inside_since == expected
        inside = np.flatnonzero(d <= tol)
        assert finish.first_touch == (int(inside[0]) if inside.size else None)


def test_a_racer_that_leaves_the_circle_has_not_settled_and_nan_is_outside():
    d = np.array([3.0, 0.5, 0.1, 2.0, 0.1, 0.05])
    path = np.column_stack([d, np.zeros_like(d)])
    assert settled_step(path, np.zeros(2), 0.2) == 4
    assert Finish.of(path, np.zeros(2), 0.2).first_touch == 2
    assert settled_step(path[:4], np.zeros(2), 0.2) is None  # ends outside
    assert settled_step(np.array([[0.0, 0.0], [np.nan, 0.0]]), np.zeros(2), 1.0) is None


def test_standing_ranks_by_settled_step_then_final_distance_and_outside_never_wins():
    result = standing([None, 30, 30, 10], [0.0, 0.002, 0.001, 0.009])
    assert result.order == [3, 2, 1] and result.winner == 3 and not result.tie and result.winners == [3]
    tie = standing([None, 30, 30], [0.0, 0.002, 0.001])
    assert tie.winner == 2 and tie.tie and tie.winners == [2]
    heat = standing([30, 30, 40], [0.001, 0.001, 0.0])
    assert heat.tie and heat.winners == [0, 1]
    assert standing([None, None], [0.0, 0.0]).winner is None  # the one closest at the end is still outside


# ---------------------------------------------------------------- the reported races, in the model
def raced(loss="mse", tolerance=None, **rates) -> RaceRun:
    run = RaceRun()
    run.update(loss=loss)
    if tolerance is not None:
        run.set_tolerance(tolerance)
    for key, rate in rates.items():
        run.set_racer(key, learning_rate=rate)
    run.record(list(run.race.run()))
    run.stopped("done")
    return run


def test_default_race_momentum_touches_at_57_and_settles_at_88():
    run = raced()
    m = run.keys.index("momentum")
    assert (run.first_touch(m), run.settled(m)) == (57, 88)
    d = distances_of(run, m)
    assert settled_by_definition(d, run.tolerance) == 88
    assert (d[57:88] > run.tolerance).sum() > 0  # it left the circle again after touching it
    assert run.standing().winner == m
    for i in range(4):
        assert run.settled(i) == settled_by_definition(distances_of(run, i), run.tolerance)


def test_rates_005_rmsprop_touches_first_but_ends_outside_and_cannot_win():
    run = raced(sgd=0.05, momentum=0.05, rmsprop=0.05, adam=0.05)
    r, a, m = (run.keys.index(k) for k in ("rmsprop", "adam", "momentum"))
    assert run.first_touch(r) == 70 and run.first_touch(r) < run.first_touch(m)  # first touch: it would have won
    assert run.settled(r) is None and run.distance(r) == pytest.approx(0.0357, abs=5e-4)
    assert run.settled(a) == 152 and run.distance(a) < 0.001
    assert run.settled(m) == 98
    assert run.standing().order == [m, a]
    assert run.histories[run.keys.index("sgd")].diverged is not None
    assert run.settled(run.keys.index("sgd")) is None


def test_mae_rmsprop_touches_at_17_ends_outside_with_the_worst_loss():
    run = raced("mae", tolerance=0.05, rmsprop=0.05, adam=0.05)
    r, a = run.keys.index("rmsprop"), run.keys.index("adam")
    assert run.first_touch(r) == 17 and run.settled(r) is None
    losses = [float(run.losses(i)[-1]) for i in range(4)]
    assert losses[r] == max(losses)
    assert run.standing().winner == a and run.settled(a) == 55
    assert r not in run.standing().order


def test_while_the_race_goes_on_nothing_is_settled_and_nobody_has_won():
    run = RaceRun()
    reports = list(run.race.run())
    upto = next(k for k, rep in enumerate(reports) if isinstance(rep, RaceStepReport) and rep.step == 60)
    run.record(reports[: upto + 1])
    m = run.keys.index("momentum")
    d = distances_of(run, m)
    expected = settled_by_definition(d, run.tolerance)  # "inside since", up to now
    assert run.inside_since(m) == expected and run.first_touch(m) == 57
    assert run.settled(m) is None and run.standing() is None


def test_a_new_tolerance_recomputes_the_finish_from_the_steps():
    run = raced()
    run.set_tolerance(0.1)
    for i in range(4):
        d = distances_of(run, i)
        assert run.settled(i) == settled_by_definition(d, 0.1)
        inside = np.flatnonzero(d <= 0.1)
        assert run.first_touch(i) == (int(inside[0]) if inside.size else None)


def test_bounded_histories_keep_exact_finishes(monkeypatch):
    unbounded = RaceRun()
    unbounded.update(batch_size=4, epochs=300)  # 1,500 steps a racer
    unbounded.record(list(unbounded.race.run()))
    monkeypatch.setattr(history_module, "MAX_ROWS", 64)
    race = RaceRun()
    race.update(batch_size=4, epochs=300)
    while not race.race.finished:
        race.record([r for _, r in zip(range(97), race.race.run(), strict=False)])
    assert any(h.thinned for h in race.histories)
    for i in range(4):
        d = distances_of(unbounded, i)
        assert race.inside_since(i) == unbounded.inside_since(i) == settled_by_definition(d, race.tolerance)
        assert race.first_touch(i) == unbounded.first_touch(i)


def test_sessions_keep_their_format_and_the_finish_comes_back():
    run = raced(adam=0.05)
    state = json.loads(json.dumps(run.state(), allow_nan=False))
    assert set(state) == {"data", "settings", "racers", "tolerance", "race", "histories", "done"}  # as before
    twin = RaceRun.from_state(state)
    assert twin.done
    assert [twin.settled(i) for i in range(4)] == [run.settled(i) for i in range(4)]
    assert [twin.first_touch(i) for i in range(4)] == [run.first_touch(i) for i in range(4)]
    assert twin.standing() == run.standing()


# ---------------------------------------------------------------- the engine's scan of other rates
def test_the_rate_scan_is_the_race_at_each_rate():
    run = RaceRun()
    from fitscope.engine.race import RateScan

    scan = RateScan(run.dataset, run.settings, [RacerSpec("adam"), RacerSpec("rmsprop")], run.optimum,
                    run.tolerance, rates=(0.001, 0.05))
    steps = list(scan.run())
    assert steps == list(range(1, 201))
    adam_005 = next(t for t in scan.trials if (t.optimizer, t.rate) == ("adam", 0.05))
    assert adam_005.settled == 152 and not adam_005.diverged
    alone = raced(adam=0.05)
    assert adam_005.final == pytest.approx(alone.distance(alone.keys.index("adam")), rel=1e-12)
    rms = next(t for t in scan.trials if (t.optimizer, t.rate) == ("rmsprop", 0.001))
    assert rms.settled is None


# ---------------------------------------------------------------- the tab
@pytest.fixture
def window(qtbot):
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1400, 880)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.tabs.setCurrentIndex(0)


@pytest.fixture
def view(window) -> RaceView:
    v = next(v for v in window.views if isinstance(v, RaceView))
    window.tabs.setCurrentWidget(v)
    v.speed.setValue(v.speed.maximum())
    return v


def run_to_end(qtbot, view):
    view.commands["run"].trigger()
    qtbot.waitUntil(lambda: view.model.done and not view.controller.busy, timeout=30_000)


def cell(view, row, column) -> str:
    return view.table.item(row, [c.replace("\n", " ") for c in COLUMNS].index(column)).text()


def plain(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", "", html.replace("<br>", " ")).split())


def race_alone(view, key, rate) -> int | None:
    """Where the engine's racer ``key`` at ``rate`` settles on the view's course (None: it does not)."""
    run = view.model
    spec = RacerSpec(key, rate, dict(run.racers[key].options))
    race = Race.build(run.dataset, replace(run.settings, epochs=run.epochs_done), [spec])
    path = [np.array(run.start)] + [r.params_after[0] for r in race.run() if isinstance(r, RaceStepReport)]
    if race.trainers[0].diverged is not None:
        return None
    return settled_by_definition(np.linalg.norm(np.array(path) - run.optimum, axis=1), run.tolerance)


def test_the_table_and_text_name_the_winner_by_its_settled_step(qtbot, view):
    for key in RACERS:
        view.rates[key].setValue(0.05)
    run_to_end(qtbot, view)
    rows = {key: row for row, key in enumerate(view.model.keys)}
    assert cell(view, rows["momentum"], "Settled") == "settled at step 98"
    assert cell(view, rows["momentum"], "Status") == "winner"
    assert cell(view, rows["rmsprop"], "First touch") == "step 70"
    assert cell(view, rows["rmsprop"], "Settled") == "outside: did not settle"
    assert cell(view, rows["adam"], "Settled") == "settled at step 152"
    assert cell(view, rows["sgd"], "Settled") == "did not settle"
    text = plain(view.text.text())
    assert "Momentum wins" in text and "settled inside it at step 98" in text
    assert "RMSProp first touched the circle at step 70 but ends outside it" in text
    assert "RMSProp wins" not in text


def test_while_running_the_table_is_provisional(qtbot, view):
    for _ in range(60):
        view.commands["step_epoch"].trigger()
        qtbot.waitUntil(lambda: not view.controller.busy, timeout=10_000)
    run = view.model
    assert not run.done and run.steps == 60
    for row in range(4):
        since = settled_by_definition(distances_of(run, row), run.tolerance)
        assert cell(view, row, "Settled") == ("outside" if since is None else f"inside since step {since}")
    assert cell(view, run.keys.index("momentum"), "First touch") == "step 57"
    text = plain(view.text.text())
    assert not re.search(r"(SGD|Momentum|RMSProp|Adam) wins", text) and "decided when the race ends" in text


def test_the_advice_on_other_rates_is_what_the_engine_does(qtbot, view):
    run_to_end(qtbot, view)
    text = plain(view.text.text())
    assert "0.01 or 0.05" not in text
    qtbot.waitUntil(lambda: "Other learning rates" in view.text.text(), timeout=30_000)
    text = plain(view.text.text())
    said = re.findall(r"(SGD|Momentum|RMSProp|Adam) settles at ([0-9., tond]+?) \(soonest at ([0-9.]+): step (\d+)\)",
                      text)
    never = re.search(r"lets ([A-Za-z, ]+?) settle;", text)
    assert said or never
    key_of = {"SGD": "sgd", "Momentum": "momentum", "RMSProp": "rmsprop", "Adam": "adam"}
    for name, rates, best, step in said:
        grid = []
        for part in re.split(r", | and ", rates):
            lo, _, hi = part.partition(" to ")
            grid += [r for r in SCAN_RATES if float(lo) <= r <= float(hi or lo)]
        for rate in grid:
            assert race_alone(view, key_of[name], rate) is not None, (name, rate)
        assert race_alone(view, key_of[name], float(best)) == int(step)
        for rate in set(SCAN_RATES) - set(grid):
            assert race_alone(view, key_of[name], rate) is None, (name, rate)
    if never:
        for name in re.split(r", | and ", never.group(1)):
            assert all(race_alone(view, key_of[name], r) is None for r in SCAN_RATES), name


@pytest.mark.parametrize(("rate", "words"), [(0.01, "does not zig-zag"), (0.03, "zig-zags across it"),
                                             (0.05, "SGD diverges")])
def test_what_the_text_says_of_sgd_follows_the_curvature(qtbot, view, rate, words):
    view.rates["sgd"].setValue(rate)
    view.commands["step_batch"].trigger()
    qtbot.waitUntil(lambda: view.model.steps == 1 and not view.controller.busy, timeout=10_000)
    exp = view.model.experiment
    lam = np.linalg.eigvalsh(hessian(exp.X))
    text = plain(view.text.text())
    assert words in text and f"is {rate * lam[-1]:.2f}" in text
    assert "wobble" not in text  # one batch of all the data: no estimate
    view.control("batch_size").setValue(5)
    view.commands["step_batch"].trigger()
    qtbot.waitUntil(lambda: view.model.steps == 1 and not view.controller.busy, timeout=10_000)
    if rate < 0.05:
        assert "each batch of 5 of the 20 examples gives only an estimate" in plain(view.text.text())


def test_the_rules_are_written_with_the_racers_own_numbers(view):
    view.options["momentum"]["momentum"].setValue(0.8)
    text = plain(view.text.text())
    assert "velocity = 0.8 × velocity + gradient" in text and "halves every 3.1 steps" in text  # 0.8³·¹ = ½
    assert "up to 5 times the gradient" in text
    assert "running sum" not in text
    assert "that weight's squared gradients" in text


def type_into(qtbot, field, text):
    field.setFocus()
    field.selectAll()
    qtbot.keyClick(field, Qt.Key.Key_Backspace)
    qtbot.keyClicks(field, text)


def test_the_start_is_typed_as_exactly_as_a_click(qtbot, view):
    f = view.start_fields
    type_into(qtbot, f.kernel, "-0.75")
    type_into(qtbot, f.bias, "0.4")
    qtbot.keyClick(f.bias, Qt.Key.Key_Return)
    assert view.model.start == (-0.75, 0.4)
    assert all(np.array_equal(h.params, [[-0.75, 0.4]]) for h in view.model.histories)
    view.commands["step_batch"].trigger()
    qtbot.waitUntil(lambda: view.model.steps == 1 and not view.controller.busy, timeout=10_000)
    twin = RaceRun()
    twin.start_at(-0.75, 0.4)  # what a click there does
    twin.record([next(iter(twin.race.run()))])
    for h, t in zip(view.model.histories, twin.histories, strict=True):
        assert np.array_equal(h.params, t.params)
    # A click, then a kernel typed: the bias stays the clicked one to the last digit.
    pos = view.surface.widget_pos_of(-0.8, 0.6)
    qtbot.mouseClick(view.surface.graphics.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    clicked = view.model.start
    assert clicked != (-0.75, 0.4) and f.bias.text() == f"{clicked[1]:.6g}"
    type_into(qtbot, f.kernel, "0.5")
    qtbot.keyClick(f.kernel, Qt.Key.Key_Return)
    assert view.model.start == (0.5, clicked[1])
    # A start far off the map: the map takes it in.
    type_into(qtbot, f.kernel, "40")
    qtbot.keyClick(f.kernel, Qt.Key.Key_Enter)
    k_lo, k_hi, _, _ = view.surface.visible_range()
    assert view.model.start == (40.0, clicked[1]) and k_lo < 40 < k_hi


@pytest.mark.parametrize("typed", ["abc", "", "nan", "1e400", "inf"])
def test_a_bad_start_is_one_line_and_changes_nothing(qtbot, view, typed):
    view.commands["step_batch"].trigger()
    qtbot.waitUntil(lambda: view.model.steps == 1 and not view.controller.busy, timeout=10_000)
    before = [h.params.copy() for h in view.model.histories]
    type_into(qtbot, view.start_fields.kernel, typed)
    qtbot.keyClick(view.start_fields.kernel, Qt.Key.Key_Return)
    message = view.message.text()
    assert view.message.isVisible() and "kernel" in message and "\n" not in message
    assert view.model.start == (1.3, -0.6) and view.model.steps == 1
    assert all(np.array_equal(h.params, b) for h, b in zip(view.model.histories, before, strict=True))
    qtbot.keyClick(view.start_fields.kernel, Qt.Key.Key_Escape)  # puts the start back in the field
    assert view.start_fields.kernel.text() == "1.3"


def test_a_start_no_racer_can_train_from_is_refused(qtbot, view):
    type_into(qtbot, view.start_fields.kernel, "1e200")
    qtbot.keyClick(view.start_fields.kernel, Qt.Key.Key_Return)
    assert view.message.text().startswith("Cannot start there") and view.model.start == (1.3, -0.6)


def test_the_results_table_is_a_tab_stop_with_a_name_and_what_it_says(qtbot, view):
    run_to_end(qtbot, view)
    chain, w = [], view.start_fields.kernel
    while not chain or w is not view.start_fields.kernel:  # the focus chain, as Tab walks it, once round
        w = w.nextInFocusChain()
        chain.append(w)
    table = view.table
    assert table in chain and table.focusPolicy() & Qt.FocusPolicy.TabFocus
    assert not table.tabKeyNavigation()  # Tab leaves it; the arrows move within it
    assert table.accessibleName() == "Race results"
    assert "Momentum: settled at step 88, first touch step 57" in table.accessibleDescription()
    said = QAccessible.queryAccessibleInterface(table)  # what a screen reader is told
    assert said.text(QAccessible.Text.Name) == "Race results"
    assert "Momentum: settled at step 88" in said.text(QAccessible.Text.Description)
    for key in ("kernel", "bias"):
        field = QAccessible.queryAccessibleInterface(getattr(view.start_fields, key))
        assert field.text(QAccessible.Text.Name) == f"Start {key}"


def test_the_map_says_what_it_shows(qtbot, view):
    view.set_control("loss", "mae")
    run_to_end(qtbot, view)
    said = view.map_description()
    assert said.startswith("Loss surface, MAE") and "finish circle of radius 0.01" in said
    m = view.model.keys.index("momentum")
    k, b = view.model.histories[m].current
    assert f"Momentum at kernel {prose(k)}, bias {prose(b)}, {prose(view.model.distance(m))} from the optimum" in said
    assert view.surface.accessibleDescription() == said
    assert "Adam" in view.losses.description()


def test_a_race_saved_by_fitscope_0_1_opens_with_its_finish(qtbot, window, view, monkeypatch):
    """tests/data/session-v1.json (session version 1) holds a race of three: it opens, and the table says where
    each racer stands from the steps it kept."""
    from pathlib import Path

    from PySide6.QtWidgets import QMessageBox

    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda *a, **k: warnings.append(str(a[2:3]))))
    assert window.files.open_session(str(Path(__file__).parent / "data" / "session-v1.json")), warnings
    race = next(v for v in window.views if isinstance(v, RaceView))
    window.tabs.setCurrentWidget(race)
    race.redraw()
    run = race.model
    assert run.keys == ["sgd", "momentum", "adam"] and run.steps > 0
    for row in range(len(run.keys)):
        d = distances_of(run, row)
        since = settled_by_definition(d, run.tolerance)
        inside = np.flatnonzero(d <= run.tolerance)
        assert run.inside_since(row) == since
        assert run.first_touch(row) == (int(inside[0]) if inside.size else None)
        if run.done:
            expected = "outside: did not settle" if since is None else f"settled at step {since}"
        else:
            expected = "outside" if since is None else f"inside since step {since}"
        assert cell(race, row, "Settled") == expected


def test_a_dead_heat_and_a_tie_broken_by_distance_are_said(qtbot, view):
    """Momentum with momentum 0 is plain SGD: at the same rate they take the same steps, a dead heat."""
    view.rates["sgd"].setValue(0.04)
    view.rates["momentum"].setValue(0.04)
    view.options["momentum"]["momentum"].setValue(0.0)
    run_to_end(qtbot, view)
    run = view.model
    assert run.settled(0) == run.settled(1) == 100 and run.distance(0) == run.distance(1)
    assert cell(view, 0, "Status") == cell(view, 1, "Status") == "winner (dead heat)"
    text = plain(view.text.text())
    assert "SGD and Momentum tie: they settled within 0.01 of the optimum at step 100" in text
    assert not re.search(r"(SGD|Momentum) wins", text)
    view.options["momentum"]["momentum"].setValue(0.05)  # a little momentum: it settles sooner, or with SGD
    run_to_end(qtbot, view)
    assert (run.settled(0), run.settled(1)) == (100, 94)
    assert "Momentum wins" in plain(view.text.text())
    view.control("tolerance").setValue(0.4622)  # a wide finish line: both settle at step 14
    assert run.settled(0) == run.settled(1) == 14 and run.distance(1) < run.distance(0)
    qtbot.waitUntil(lambda: "0.4622" in view.text.text(), timeout=5000)  # the next frame
    text = plain(view.text.text())
    assert "Momentum wins" in text
    assert f"SGD also settled at step 14: Momentum wins by ending closer to the optimum ({prose(run.distance(1))} " \
           f"against {prose(run.distance(0))})" in text


@pytest.mark.parametrize(("loss", "rates", "batch"), [
    ("mse", {}, 20), ("mae", {}, 20), ("mse", {"sgd": 5.0, "rmsprop": 0.05, "adam": 0.05}, 20),
    ("mse", {"sgd": 0.03}, 5), ("mae", {"rmsprop": 0.05, "momentum": 0.001}, 7),
])
def test_every_text_is_filled_in_at_the_start_midway_and_at_the_end(qtbot, view, loss, rates, batch):
    view.set_control("loss", loss)
    view.control("batch_size").setValue(batch)
    view.control("epochs").setValue(40)
    for key, rate in rates.items():
        view.rates[key].setValue(rate)
    texts = [view.text.text()]
    view.commands["step_epoch"].trigger()
    qtbot.waitUntil(lambda: not view.controller.busy, timeout=10_000)
    view.redraw()
    texts.append(view.text.text())
    run_to_end(qtbot, view)
    qtbot.waitUntil(lambda: "Trying" not in view.text.text(), timeout=30_000)
    texts.append(view.text.text())
    for text in texts:
        assert text and "{" not in text and "}" not in text, text
    assert texts[0] != texts[1] != texts[2]


def test_a_long_race_says_to_try_another_rate_without_naming_one(qtbot, view, monkeypatch):
    import fitscope.gui.models.race_advice as race_advice

    monkeypatch.setattr(race_advice, "SCAN_MAX_STEPS", 30)  # races longer than this are not raced again
    view.control("epochs").setValue(40)
    run_to_end(qtbot, view)
    text = plain(view.text.text())
    assert "race again at another rate to see" in text
    assert "Other learning rates" not in text and "Trying" not in text
    assert view.advisor.active_jobs == 0


def test_closing_while_other_rates_are_raced_stops_them(qtbot, view, window):
    view.control("batch_size").setValue(1)
    view.control("epochs").setValue(50)  # 1,000 steps: the scan of the racers that did not settle takes a while
    run_to_end(qtbot, view)
    assert "Trying other learning rates" in plain(view.text.text())
    window.close()
    assert view.advisor.active_jobs == 0 and not view.controller.thread_running
