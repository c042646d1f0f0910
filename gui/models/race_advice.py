"""Which other learning rates settle, for the racers of an ended race that did not: what to ask for and what
the answer says (resources/race.md's ``scan_…`` sections).

The scan itself is the engine's :class:`~fitscope.engine.race.RateScan`: the same course, the same batches and
the same steps, at each of :data:`~fitscope.engine.race.SCAN_RATES`. The view asks for it in the background
(:class:`~fitscope.gui.views.race_advisor.RateAdvisor`) and says it once known.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import replace

from fitscope.engine.numbers import prose
from fitscope.engine.race import LABELS, SCAN_RATES, RacerSpec, RateScan, Trial
from fitscope.gui.models.race import RaceRun
from fitscope.gui.models.race_texts import names

#: Other rates are tried for races up to this many steps (about a second in the background).
SCAN_MAX_STEPS = 2000

#: Asks for a scan in the background: ``ask(key, build)``, ``build()`` making the scan in the worker's thread.
Ask = Callable[[tuple, Callable[[], RateScan]], None]


def rate_list(rates: list[float]) -> str:
    """Rates of :data:`~fitscope.engine.race.SCAN_RATES` in words: three or more in a row as "0.05 to 1"."""
    index = [SCAN_RATES.index(r) for r in rates]
    runs: list[list[float]] = []
    for k, rate in zip(index, rates, strict=True):
        if runs and SCAN_RATES.index(runs[-1][-1]) == k - 1:
            runs[-1].append(rate)
        else:
            runs.append([rate])
    words: list[str] = []
    for r in runs:
        words += [f"{r[0]:g} to {r[-1]:g}"] if len(r) >= 3 else [f"{x:g}" for x in r]
    return names(words)


def unsettled(run: RaceRun) -> list[RacerSpec]:
    """The racers of an ended race that did not settle, with their options (the rate left to the scan)."""
    return [RacerSpec(key, None, dict(run.racers[key].options)) for i, key in enumerate(run.keys)
            if run.settled(i) is None]


def scan_key(run: RaceRun, specs: list[RacerSpec]) -> tuple:
    """What a scan of other rates is for: the course, the racers, the finish line, the steps raced."""
    return (json.dumps(run.preferences(), sort_keys=True), run.epochs_done, tuple(s.optimizer for s in specs))


def advice_text(run: RaceRun, texts: dict[str, str], known: tuple[object, list[Trial] | None] | None,
                asked: object, ask: Ask) -> str:
    """Which other rates settle, for the racers that did not.

    ``known`` is the last answer, ``(key, trials)`` (trials None: the scan failed); ``asked`` the key of the scan
    under way. Where neither is for this race, ``ask`` is called for one, and the text says it is on its way.
    """
    specs = unsettled(run)
    if not specs:
        return ""
    if run.steps > SCAN_MAX_STEPS:
        return texts["scan_long"]
    key = scan_key(run, specs)
    if known is None or known[0] != key:
        if asked != key:
            dataset, settings = run.dataset, replace(run.settings, epochs=run.epochs_done)
            target, tolerance = run.optimum.copy(), run.tolerance
            ask(key, lambda: RateScan(dataset, settings, specs, target, tolerance))
        return texts["scan_running"].format(names=names([LABELS[s.optimizer] for s in specs]))
    trials = known[1]
    if trials is None:
        return ""
    said, never, closest = [texts["scan_intro"].format(steps=run.steps)], [], []
    for spec in specs:
        mine = [t for t in trials if t.optimizer == spec.optimizer]
        name = LABELS[spec.optimizer]
        settles = [t for t in mine if t.settled is not None]
        if settles:
            best = min(settles, key=lambda t: (t.settled, t.final))
            said.append(texts["scan_settles"].format(name=name, rates=rate_list([t.rate for t in settles]),
                                                     best_rate=f"{best.rate:g}", best_step=best.settled))
            continue
        never.append(name)
        near = min(mine, key=lambda t: t.final)
        closest.append(f"{name} at {near.rate:g}, {prose(near.final)} away" if math.isfinite(near.final)
                       else f"{name} diverges at every rate")
    if never:
        said.append(texts["scan_never"].format(names=names(never), lo=f"{SCAN_RATES[0]:g}",
                                               hi=f"{SCAN_RATES[-1]:g}", closest="; ".join(closest)))
    return " ".join(said)
