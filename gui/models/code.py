"""What the code panel writes, in codegen's terms and without widgets: which run a tab's code stands for.

- :class:`CodeRequest`: the code wanted now (a tab's data set, settings and start; the language; exact or not),
  or the one-line reason there is none;
- :func:`request_for`: the request of the tab shown (the race: one racer's run, with the race's course and start;
  the backpropagation tab and a tab without a run: a reason);
- :class:`RunStarts`: each run's settings when it started, so that exact code can say when the settings changed
  on the fly (the code then follows the run only until that change).

The panel (:mod:`fitscope.gui.views.code_panel`) has the code written in the background
(:class:`~fitscope.gui.views.code_writer.CodeWriter`).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, replace

from fitscope.engine.data import Dataset
from fitscope.engine.race import LABELS
from fitscope.engine.run import FitRun
from fitscope.engine.settings import FitSettings
from fitscope.gui.models.race import OPTIONS, RaceRun

NOTES = {
    "ordinary": "What a person would write: random start weights, and fit() shuffles. Tick Exact to reproduce "
                "this run's numbers.",
    "exact": "Reproduces this run's numbers to float32 precision: its start weights and row orders are written "
             "out, and it prints every epoch's loss.",
    "changed": "This run's settings changed while it trained: the code uses the settings shown now from the "
               "start, so it follows the run only until that change.",
}


@dataclass(frozen=True, eq=False)
class CodeRequest:
    """The code wanted now: the tab's run (data set, settings, start), the language, exact or not.

    ``problem`` is set instead of a run when there is no code to write (a tab without ``fit()``, a racer the
    code cannot express); ``note`` says what the code is.
    """

    view: object
    lang: str
    exact: bool
    racer: str | None = None
    dataset: Dataset | None = None
    settings: FitSettings | None = None
    start: tuple[float, ...] | None = None
    note: str = ""
    problem: str = ""

    def same_run(self, other: CodeRequest | None) -> bool:
        """The same tab, racer, language and exactness: a new text is a change of the same code."""
        return (other is not None and other.view is self.view and other.lang == self.lang
                and other.exact == self.exact and other.racer == self.racer)

    def same_as(self, other: CodeRequest | None) -> bool:
        """Nothing that the code depends on differs."""
        return (self.same_run(other) and other.dataset is self.dataset and other.settings == self.settings
                and other.start == self.start and other.problem == self.problem and other.note == self.note)


def request_for(view: object, lang: str, exact: bool, racer: str | None, by_hand: bool = False) -> CodeRequest:
    """What the tab ``view`` shows, as a :class:`CodeRequest` (``racer``: the race's racer wanted; ``by_hand``:
    the tab is the backpropagation tab, which works its example out by hand)."""
    model = getattr(view, "model", None)
    base = CodeRequest(view, lang, exact)
    note = NOTES["exact" if exact else "ordinary"]
    if isinstance(model, FitRun):
        start = None if model.start is None else tuple(float(v) for v in model.start)
        return replace(base, dataset=model.dataset, settings=model.settings, start=start, note=note)
    if isinstance(model, RaceRun):
        return _racer_request(base, model, racer, note)
    title = getattr(view, "title", "") or "this"
    if by_hand:
        return replace(base, problem="The backpropagation tab works out one example's gradients by hand: it has no "
                       "fit() call. Its example is the loss-surface tab's, whose code trains the same model on the "
                       "same data.")
    return replace(base, problem=f"The {title} tab has no fit() call to show.")


def _racer_request(base: CodeRequest, race: RaceRun, racer: str | None, note: str) -> CodeRequest:
    """One racer's run: the race's course with that racer's optimizer."""
    if not race.keys:
        return replace(base, problem="No optimizer is in the race: tick one to see its code.")
    key = racer if racer in race.keys else race.keys[0]
    entry = race.racers[key]
    name = LABELS.get(key, key)
    # Momentum's momentum is a setting of the run; the code writes the others at TensorFlow.js's defaults.
    odd = [o for o in OPTIONS[key] if not (key == "momentum" and o.keyword == "momentum")
           and entry.options.get(o.keyword, o.default) != o.default]
    base = replace(base, racer=key)
    if odd:
        which = ", ".join(f"{o.symbol} {entry.options[o.keyword]:g} (TensorFlow.js's default: {o.default:g})"
                          for o in odd)
        return replace(base, problem=f"The code of a run sets only the learning rate of {name}, not its {which}: "
                                     f"set {'it' if len(odd) == 1 else 'them'} back to see this racer's code.")
    settings = replace(race.settings, optimizer=key, learning_rate=entry.learning_rate)
    if key == "momentum":
        settings = replace(settings, momentum=entry.options.get("momentum", settings.momentum))
    start = tuple(float(v) for v in race.start)
    note = (f"The race has no single fit() call: this is {name}'s run, from the race's start on the same batches. "
            + note)
    return replace(base, dataset=race.dataset, settings=settings, start=start, note=note)


class RunStarts:
    """Each run's settings when it started (weakly kept: a run that goes is forgotten)."""

    def __init__(self) -> None:
        self._started: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def follow(self, model: object) -> None:
        """Remember ``model``'s settings as those it started with, unless they are known already."""
        self._started.setdefault(model, model.settings)

    def restarted(self, model: object) -> None:
        """``model`` started a new run: its settings now are those it starts with."""
        self._started[model] = model.settings

    def changed(self, model: object) -> bool:
        """Whether ``model``'s settings changed on the fly since its run started (other than the epoch limit,
        which changes no step already taken)."""
        if model is None or not hasattr(model, "settings"):
            return False
        first = self._started.setdefault(model, model.settings)
        return replace(first, epochs=0) != replace(model.settings, epochs=0)

    def noted(self, request: CodeRequest, model: object) -> CodeRequest:
        """``request``, its note saying so if it is exact code of ``model``'s run and the settings changed while
        it trained."""
        if request.exact and request.settings is not None and self.changed(model):
            return replace(request, note=f"{request.note} {NOTES['changed']}")
        return request
