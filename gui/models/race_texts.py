"""What the optimizer race says in words, decided from its numbers (resources/race.md): the table's cells and
the "What is happening" text.

The texts are filled from a :class:`~fitscope.gui.models.race.RaceRun`: who is inside the finish line, who
settled, who won and why, what the surface does to SGD (from its curvature with MSE), and, for the racers of an
ended race that did not settle, which other rates would (:mod:`fitscope.gui.models.race_advice`, asked for in the
background by the view).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from fitscope import resources
from fitscope.engine.curvature import curvature_of
from fitscope.engine.numbers import prose
from fitscope.engine.race import LABELS
from fitscope.gui.models.race import RACERS, RaceRun

#: The table's columns.
COLUMNS = ["Optimizer", "Settled", "First touch", "Distance to\noptimum", "Training\nloss", "Status"]


def names(items: list[str]) -> str:
    """"A", "A and B", "A, B and C"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def cells(run: RaceRun, i: int, winners: list[int], running: bool) -> list[str]:
    """Racer ``i``'s row of the table (``winners``: the race's winner, or those of a dead heat, once it has
    ended; ``running``: the race is being run now)."""
    key, history = run.keys[i], run.histories[i]
    since, first = run.inside_since(i), run.first_touch(i)
    if history.diverged is not None:
        settled = "did not settle"
        status = f"diverged at step {history.diverged.step}"
    else:
        if run.done:
            settled = "outside: did not settle" if since is None else f"settled at step {since}"
        else:
            settled = "outside" if since is None else f"inside since step {since}"
        if running:
            status = "racing"
        elif history.steps == 0:
            status = "at the start"
        elif i in winners:
            status = "winner" if len(winners) == 1 else "winner (dead heat)"
        elif run.done:
            status = "done: epoch limit"
        else:
            status = "paused"
    touch = f"step {first}" if first is not None else ("never" if run.done else "not yet")
    return [f"{LABELS[key]}  (lr {run.racers[key].learning_rate:g})  ", settled, touch,
            prose(run.distance(i)), prose(float(run.losses(i)[-1]), 5), status]


def explanation(run: RaceRun, advice: Callable[[dict[str, str]], str]) -> str:
    """The "What is happening" text (rich text); ``advice(texts)`` says which other rates settle, once the race
    has ended (:func:`~fitscope.gui.models.race_advice.advice_text`)."""
    texts = resources.sections("race.md")
    if not run.keys:
        return texts["empty"]
    tol = f"{run.tolerance:g}"
    if run.steps == 0:
        body = texts["idle"].format(**rule_values(run))
    elif run.done:
        body = texts["done"].format(epochs=f"{run.epochs_done:,}", step=f"{run.steps:,}",
                                    winner=outcome(run, texts, advice))
    else:
        body = texts["running"].format(step=f"{run.steps:,}", epoch=f"{run.epochs_done:,}",
                                       epochs=f"{run.settings.epochs:,}",
                                       tolerance=tol,
                                       surface=surface_text(run, texts))
    gone = [LABELS[k] for k, h in zip(run.keys, run.histories, strict=True) if h.diverged is not None]
    if gone:
        body += "<br><br>" + texts["diverged"].format(names=names(gone))
    return body


def rule_values(run: RaceRun) -> dict[str, str]:
    """The optimizers' own numbers for the texts that write out their rules."""
    options = {key: run.racers[key].options for key in RACERS}
    m = options["momentum"]["momentum"]
    steps = math.log(0.5) / math.log(m) if m > 0 else 0.0
    half = f"every {prose(steps, 2)} steps" if steps >= 1.05 else "within a step"
    return {"m": f"{m:g}", "m_half": half, "m_gain": prose(1 / (1 - m)), "rho": f"{options['rmsprop']['rho']:g}",
            "beta1": f"{options['adam']['beta1']:g}", "beta2": f"{options['adam']['beta2']:g}"}


def surface_text(run: RaceRun, texts: dict[str, str]) -> str:
    """What the surface does to SGD, from its curvature (MSE) or its shape (MAE)."""
    loss_name = run.loss.name.upper()
    if run.loss.name != "mse":
        return texts["surface_mae"].format(loss_name=loss_name)
    if "sgd" not in run.keys:
        return ""
    c = curvature_of(run.experiment)
    rate = run.racers["sgd"].learning_rate
    sharp = rate * c.lam_max
    key = "surface_sharp" if sharp < 1 else "surface_zigzag" if sharp < 2 else "surface_diverging"
    kappa = f"{c.condition:,.0f}" if c.condition >= 10 else prose(c.condition, 2)
    text = texts[key].format(loss_name=loss_name, kappa=kappa, sgd_rate=f"{rate:g}", sharp=f"{sharp:.2f}",
                             crawl=prose(100 * rate * c.lam_min, 2), limit=prose(c.stability_limit))
    rows = len(run.experiment.y)
    if run.settings.batch_size < rows:
        text += " " + texts["surface_batches"].format(batch=run.settings.batch_size, rows=rows)
    return text


def outcome(run: RaceRun, texts: dict[str, str], advice: Callable[[dict[str, str]], str]) -> str:
    """Who won and why, who ended outside, and what other rates would do for those that did not settle."""
    standing = run.standing()
    n = len(run.keys)
    dist = [run.distance(i) for i in range(n)]
    parts = []
    if standing is None or standing.winner is None:
        parts.append(texts["nobody"].format(tolerance=f"{run.tolerance:g}"))
    elif len(standing.winners) > 1:
        w = standing.winner
        parts.append(texts["dead_heat"].format(names=names([LABELS[run.keys[i]] for i in standing.winners]),
                                               tolerance=f"{run.tolerance:g}", settled=run.settled(w),
                                               final=prose(dist[w])))
    else:
        w = standing.winner
        name, settled, first = LABELS[run.keys[w]], run.settled(w), run.first_touch(w)
        parts.append(texts["winner" if first == settled else "winner_touched"].format(
            name=name, tolerance=f"{run.tolerance:g}", settled=settled, first=first, final=prose(dist[w])))
        if standing.tie:
            others = [i for i in standing.order[1:] if run.settled(i) == settled]
            parts.append(texts["tie"].format(names=names([LABELS[run.keys[i]] for i in others]), name=name,
                                             settled=settled, final=prose(dist[w]),
                                             other_final=prose(dist[others[0]])))
    start = float(np.hypot(*(np.array(run.start) - run.optimum)))
    slow: list[int] = []
    for i, key in enumerate(run.keys):
        if run.settled(i) is not None or run.histories[i].diverged is not None:
            continue
        rate = run.racers[key].learning_rate
        if run.first_touch(i) is not None:
            parts.append(texts["outside"].format(name=LABELS[key], first=run.first_touch(i), final=prose(dist[i])))
        if key == "rmsprop" and dist[i] <= 2 * rate:
            if run.first_touch(i) is None:
                parts.append(texts["ends"].format(name=LABELS[key], final=prose(dist[i])))
            parts.append(texts["hover"].format(name=LABELS[key], rate=f"{rate:g}"))
        elif key in ("rmsprop", "adam") and 0 < start - dist[i] < start / 2:
            slow.append(i)
    if slow:
        rates = sorted({f"{run.racers[run.keys[i]].learning_rate:g}" for i in slow})
        who, moved = names([LABELS[run.keys[i]] for i in slow]), names([prose(start - dist[i]) for i in slow])
        parts.append(texts["slow"].format(names=who, rate=names(rates), moved=moved, distance=prose(start)))
    text = " ".join(parts)
    said = advice(texts)
    if said:
        text += "<br><br>" + said
    return text + "<br><br>" + texts["try mae" if run.settings.loss == "mae" else "try"]
