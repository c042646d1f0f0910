"""The optimizer race's model: SGD, momentum, RMSProp and Adam from one start, on the same batches.

:class:`RaceRun` holds the course (the download-time data, the loss, batch size, epochs, seed and start
point), each racer's settings (ticked or not, its learning rate and options), the finish line (a distance to
the optimum), the :class:`~fitscope.engine.race.Race` built from them and one
:class:`~fitscope.engine.history.History` per racer. Changing a racer, the loss, the batch size, the seed or
the start starts the race again; the epoch limit and the finish line change on the fly.

The finish is fair: a racer *first touches* the finish line at its first step within the tolerance, and is
*inside since* the step after its last step outside; once the race has ended, that is the step it *settled* at
(every later step within the tolerance). A racer that ends outside did not settle and cannot win; the winner
settled first, and of two that settled at the same step, the one that ends closer wins
(:meth:`RaceRun.standing`). Both are kept up from every step, also those the bounded histories leave out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from fitscope.engine.data import Dataset, load_builtin
from fitscope.engine.experiment import Experiment
from fitscope.engine.history import Growable, History
from fitscope.engine.race import (
    LABELS,
    Finish,
    Race,
    RaceEpochReport,
    RacerSpec,
    RaceStepReport,
    Standing,
    distances,
    optimum,
    standing,
)
from fitscope.engine.race import training_losses as losses_of
from fitscope.engine.run import (
    HISTORY,
    NEW_RUN,
    SETTINGS,
    STATUS,
    Observable,
    bool_field,
    data_source,
    history_room,
    load_source,
)
from fitscope.engine.serial import finite_from_json, float_to_json
from fitscope.engine.settings import (
    DEFAULT_LEARNING_RATE,
    MOMENTUM_MAX,
    FitSettings,
    settings_from_json,
    settings_to_json,
)
from fitscope.engine.surface import default_window
from fitscope.engine.trainer import Phase, StepReport

RACERS = ("sgd", "momentum", "rmsprop", "adam")
START = (1.3, -0.6)  # far enough from the optimum that the racers' paths part ways
TOLERANCE = 0.01
TOLERANCE_RANGE = (0.0001, 10.0)


@dataclass(frozen=True)
class Option:
    """One hyperparameter of an optimizer besides its rate: keyword, symbol, tfjs default, range, step, tip."""

    keyword: str
    symbol: str
    default: float
    lo: float
    hi: float
    step: float
    decimals: int
    tip: str
    #: What the default is: TensorFlow.js's own, or (where tfjs has none) the usual value.
    default_is: str = "TensorFlow.js default"


#: Each optimizer's other hyperparameters.
OPTIONS: dict[str, tuple[Option, ...]] = {
    "sgd": (),
    "momentum": (Option("momentum", "m", 0.9, 0.0, MOMENTUM_MAX, 0.05, 3, "Momentum: how much of the last step "
                        "is kept", "tf.train.momentum has no default; the usual value is"),),
    "rmsprop": (
        Option("rho", "ρ", 0.9, 0.0, 0.9999, 0.01, 4, "Decay of the running mean of squared gradients"),
        Option("momentum", "μ", 0.0, 0.0, MOMENTUM_MAX, 0.05, 3, "Momentum of RMSProp"),
    ),
    "adam": (
        Option("beta1", "β₁", 0.9, 0.0, 0.9999, 0.01, 4, "Decay of the running mean of gradients"),
        Option("beta2", "β₂", 0.999, 0.0, 0.99999, 0.001, 5, "Decay of the running mean of squared gradients"),
    ),
}
#: The racers' learning rates.
RATE_RANGE = (1e-4, 1000.0)


@dataclass(frozen=True)
class Racer:
    """One optimizer's entry: in the race or not, its learning rate and its other hyperparameters."""

    enabled: bool
    learning_rate: float
    options: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def default(cls, key: str) -> Racer:
        return cls(True, DEFAULT_LEARNING_RATE[key], {o.keyword: o.default for o in OPTIONS[key]})


#: The settings of the course: a change of any starts the race afresh (epochs are taken on the fly).
RESTART_KEYS = ("loss", "batch_size", "seed", "init")


class RaceRun(Observable):
    """The race (see the module's docstring).

    Attributes
    ----------
    dataset, settings (the course: loss, batch size, epochs, seed, start as ``init``), racers, tolerance
    race : Race or None (no racer ticked)
    keys : the optimizers racing, in table order
    histories : one History per racer
    done : the race reached its end (the epoch limit, or every racer diverged)
    """

    def __init__(self, dataset: Dataset | None = None) -> None:
        super().__init__()
        self.dataset = dataset or load_builtin("download-time")
        self.restore_defaults()  # MSE: the most telling surface

    def constrain(self, settings: FitSettings) -> FitSettings:
        return replace(settings, model="linear", normalize=False, validation_split=0.0, optimizer="sgd",
                       learning_rate=0.01, batch_size=min(settings.batch_size, len(self.dataset.y_train)))

    # --- the course and the racers ---
    def specs(self) -> list[RacerSpec]:
        """The racers in the race, in table order, with their settings."""
        return [RacerSpec(key, r.learning_rate, dict(r.options)) for key, r in self.racers.items() if r.enabled]

    @property
    def start(self) -> tuple[float, float]:
        return self.settings.init

    def _set_context(self) -> None:
        """The loss function's data view, optimum and optimum loss."""
        self.experiment = Experiment(self.dataset, self.settings)
        self.loss = self.experiment.loss
        self.optimum, self.optimum_loss = optimum(self.experiment.X, self.experiment.y, self.loss)

    def restart(self) -> None:
        """A fresh race from the start point with the current settings."""
        specs = self.specs()
        self.keys = [s.optimizer for s in specs]
        self.race = Race.build(self.dataset, self.settings, specs) if specs else None
        start = np.array(self.start)
        self.histories = [History(start, steps=self._room()) for _ in specs]
        self._forget_derived()
        self.done = False
        self.notify(NEW_RUN)

    def _room(self) -> int:
        """Updates each history makes room for: the whole race (growing a history copies it, see history_room)."""
        s = self.settings
        return history_room(len(self.experiment.y), s.batch_size, s.epochs, len(self.start))

    def discards(self, **changes: Any) -> bool:
        """Whether :meth:`update` with ``changes`` would start a race under way afresh (the loss, batch size or
        seed: the course)."""
        if not self.steps:
            return False
        try:
            new = self.constrain(replace(self.settings, **changes))
        except (TypeError, ValueError):
            return False
        return self._restarts(new)

    def _restarts(self, new: FitSettings) -> bool:
        """Whether settings ``new`` change the course (:data:`RESTART_KEYS`)."""
        return any(getattr(new, k) != getattr(self.settings, k) for k in RESTART_KEYS)

    def update(self, **changes: Any) -> None:
        """Change the course: ``loss``, ``batch_size``, ``seed`` (the race starts again), ``epochs`` (on the fly)."""
        new = self.constrain(replace(self.settings, **changes))
        new.validate(len(self.dataset.y_train))
        if new == self.settings:
            return
        if self._restarts(new) or self.race is None:
            before = (self.settings, self.experiment, self.loss, self.optimum, self.optimum_loss)
            try:
                self.settings = new
                if new.loss != before[0].loss:
                    self._set_context()
                self.restart()
            except ValueError:  # a start no racer can train from: everything as it was
                self.settings, self.experiment, self.loss, self.optimum, self.optimum_loss = before
                raise
            return
        self.settings = new
        self.race.configure(epochs=new.epochs)
        room = self._room()  # for the longer race now, not at some frame of it
        for history in self.histories:
            history.reserve(room)
        self.done = False
        self.notify(SETTINGS)

    def restore_defaults(self) -> None:
        """TensorFlow.js's defaults for every racer, the first course and finish line, a fresh race."""
        self.settings = self.constrain(replace(self.dataset.defaults, loss="mse", init=START))
        self.racers = {key: Racer.default(key) for key in RACERS}
        self.tolerance = TOLERANCE
        self._set_context()
        self.restart()

    def start_at(self, kernel: float, bias: float) -> None:
        """Every racer starts again from (kernel, bias)."""
        if not (math.isfinite(kernel) and math.isfinite(bias)):
            raise ValueError("a start point needs finite numbers")
        self.update(init=(float(kernel), float(bias)))

    def set_racer(self, key: str, enabled: bool | None = None, learning_rate: float | None = None,
                  **options: float) -> None:
        """Change one racer's entry (the race starts again)."""
        racer = self.racers[key]
        known = {o.keyword for o in OPTIONS[key]}
        if set(options) - known:
            raise ValueError(f"{LABELS[key]} takes no option {', '.join(sorted(set(options) - known))}")
        new = Racer(racer.enabled if enabled is None else bool(enabled),
                    racer.learning_rate if learning_rate is None else float(learning_rate),
                    {**racer.options, **{k: float(v) for k, v in options.items()}})
        if not (new.learning_rate > 0 and math.isfinite(new.learning_rate)):
            raise ValueError("a learning rate must be a positive number")
        if new != racer:
            self.racers[key] = new
            self.restart()

    def set_tolerance(self, tolerance: float) -> None:
        """The finish line: the distance to the optimum within which a racer has arrived."""
        if not (tolerance > 0 and math.isfinite(tolerance)):
            raise ValueError("the tolerance must be a positive number")
        self.tolerance = float(tolerance)
        self._finishes = [self._finish_of(h) for h in self.histories]
        self.notify(SETTINGS)

    # --- driving ---
    @property
    def trainable(self) -> Race | None:
        return self.race

    def record(self, reports) -> None:
        """Add the race's reports to the racers' histories, and note the first step each racer crosses the
        finish line at (from every step, also those the bounded histories do not keep)."""
        own_reports: list[list] = [[] for _ in self.histories]
        for report in reports:
            if isinstance(report, RaceStepReport | RaceEpochReport):
                for mine, own in zip(own_reports, report.racers, strict=True):
                    if own is not None:
                        mine.append(own)
        for history, finish, mine in zip(self.histories, self._finishes, own_reports, strict=True):
            history.add_many(mine)
            steps = [r for r in mine if type(r) is StepReport and r.phase is Phase.UPDATE]
            if steps:
                finish.add(np.array([r.step for r in steps]),
                           distances(np.array([r.params_after for r in steps]), self.optimum))
        if reports:
            self.notify(HISTORY)

    def stopped(self, why: str) -> None:
        done = why in ("done", "diverged")
        if done != self.done:
            self.done = done
            self.notify(STATUS)

    # --- what follows ---
    def home_window(self) -> tuple[float, float, float, float]:
        return default_window(self.experiment.X, self.experiment.y, self.experiment.stats.optimum())

    def surface(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self.experiment.loss_slice(np.zeros(2), 0, 1, a, b)

    def _forget_derived(self) -> None:
        """The numbers derived from the histories start afresh (new histories)."""
        self._losses = [Growable(1, 256) for _ in self.histories]
        self._losses_layout = [(-1, 0)] * len(self.histories)  # (layout, settled rows) of the losses computed
        self._finishes = [self._finish_of(h) for h in self.histories]

    def _finish_of(self, history: History) -> Finish:
        """Where the steps ``history`` keeps stand against the finish line (exact while it keeps every step)."""
        return Finish.of(history.params, self.optimum, self.tolerance, history.param_steps)

    def losses(self, i: int) -> np.ndarray:
        """Racer ``i``'s training loss on all the data at each kept step (``histories[i].param_steps``; row 0:
        the start)."""
        h, grow = self.histories[i], self._losses[i]
        params = h.params
        layout, settled = self._losses_layout[i]
        if layout != h.layout:  # rows were thinned out: compute afresh
            settled = 0
        grow.n = min(settled, grow.n, len(params))  # the rows after the settled ones may have moved since
        grow.extend(losses_of(self.experiment.X, self.experiment.y, self.loss, params[grow.n :]))
        self._losses_layout[i] = (h.layout, h.settled)
        return grow.view[:, 0]

    def first_touch(self, i: int) -> int | None:
        """The first step at which racer ``i`` was within the tolerance of the optimum (None: not yet). Exact
        for the steps recorded since the tolerance was set; after a change of tolerance (or a session opened),
        the first such step among those the history keeps (every step, unless the race is very long)."""
        return self._finishes[i].first_touch

    reached = first_touch  # the name it had before the finish was made fair

    def inside_since(self, i: int) -> int | None:
        """The step since which racer ``i`` has stayed within the tolerance, up to its last step (None: it is
        outside now, or it diverged). Once the race has ended, the step it settled at. Exact as
        :meth:`first_touch` is."""
        if self.histories[i].diverged is not None:
            return None
        return self._finishes[i].inside_since

    def settled(self, i: int) -> int | None:
        """The step racer ``i`` settled at, once the race has ended (None: it ended outside, or the race goes on)."""
        return self.inside_since(i) if self.done else None

    def standing(self) -> Standing | None:
        """The race's outcome once it has ended (:func:`~fitscope.engine.race.standing`); None while it goes on."""
        if not self.done:
            return None
        n = len(self.keys)
        return standing([self.settled(i) for i in range(n)], [self.distance(i) for i in range(n)])

    def in_step(self) -> bool:
        """Whether every racer's history agrees with its trainer (false only after a failure)."""
        if self.race is None:
            return True
        return all(h.steps == t.step and len(h.epochs) == t.epoch and np.array_equal(h.current, t.params)
                   for h, t in zip(self.histories, self.race.trainers, strict=True))

    def distance(self, i: int) -> float:
        return float(np.hypot(*(self.histories[i].current - self.optimum)))

    @property
    def steps(self) -> int:
        return max((h.steps for h in self.histories), default=0)

    @property
    def epochs_done(self) -> int:
        return max((len(h.epochs) for h in self.histories), default=0)

    # --- what is remembered between two launches of the app ---
    def preferences(self) -> dict[str, Any]:
        """The course, the racers and the finish line, to take up again next time (JSON-safe)."""
        return {"settings": settings_to_json(self.settings), "racers": self._racers_json(),
                "tolerance": float_to_json(self.tolerance)}

    def uses_defaults(self) -> bool:
        """Whether the course, the racers and the finish line are the first ones."""
        return (self.settings == self.constrain(replace(self.dataset.defaults, loss="mse", init=START))
                and self.racers == {key: Racer.default(key) for key in RACERS} and self.tolerance == TOLERANCE)

    def apply_preferences(self, values: Any) -> None:
        """A fresh race with remembered :meth:`preferences` (:class:`ValueError` if they do not apply)."""
        if not isinstance(values, dict):
            raise ValueError("the remembered race is malformed")
        settings = settings_from_json(values.get("settings"))
        if self.constrain(settings) != settings or settings.init is None:
            raise ValueError("the remembered course is not a race's")
        settings.validate(len(self.dataset.y_train))
        racers, tolerance = _racers_from_json(values.get("racers")), _tolerance_from_json(values.get("tolerance"))
        old_loss = self.settings.loss
        self.settings, self.racers, self.tolerance = settings, racers, tolerance
        if settings.loss != old_loss:
            self._set_context()
        self.restart()

    def _racers_json(self) -> dict[str, Any]:
        return {key: {"enabled": r.enabled, "learning_rate": float_to_json(r.learning_rate),
                      "options": {k: float_to_json(v) for k, v in r.options.items()}} for key, r in self.racers.items()}

    # --- the saved state ---
    def state(self) -> dict[str, Any]:
        return {
            "data": data_source(self.dataset),
            "settings": settings_to_json(self.settings),
            "racers": self._racers_json(),
            "tolerance": float_to_json(self.tolerance),
            "race": None if self.race is None else self.race.state(),
            "histories": [h.to_json() for h in self.histories],
            "done": self.done,
        }

    @classmethod
    def from_state(cls, state: Any, current: Dataset | None = None) -> RaceRun:
        """A race built from :meth:`state`'s values, everything checked first."""
        if not isinstance(state, dict):
            raise ValueError("the race is not a JSON object")
        try:
            dataset = load_source(state["data"], current)
            if dataset.source != "download-time":
                raise ValueError("the optimizer race runs on the download-time data only")
            run = cls.__new__(cls)
            Observable.__init__(run)
            run.dataset = dataset
            settings = settings_from_json(state["settings"])
            if run.constrain(settings) != settings or settings.init is None:
                raise ValueError("the race's settings are not those of a race")
            run.settings = settings
            run.racers = _racers_from_json(state["racers"])
            run.tolerance = _tolerance_from_json(state["tolerance"])
            run._set_context()
            run.restart()  # nobody listens yet: builds the race, its histories, the racers' keys
            if run.race is not None:
                run.race.restore(state["race"])
            elif state["race"] is not None:
                raise ValueError("a race without racers has a state")
            histories = state["histories"]
            if not isinstance(histories, list) or len(histories) != len(run.keys):
                raise ValueError("there is not one history per racer")
            run.histories = [History.from_json(h, 2, len(run.experiment.y)) for h in histories]
            run._forget_derived()
            run.done = bool_field(state["done"], "done")
        except KeyError as e:
            raise ValueError(f"the race has no {str(e.args[0])[:40]!r}") from None
        run._check_consistent()
        return run

    def _check_consistent(self) -> None:
        """Each racer trains as its entry says, on the course's batches, and its history is its trainer's."""
        if self.race is None:
            return
        s, running = self.settings, []
        for key, h, t in zip(self.keys, self.histories, self.race.trainers, strict=True):
            hp, racer = t.next_hyperparameters(), self.racers[key]
            optimizer = hp["optimizer"]
            if (optimizer.name != key or hp["learning_rate"] != racer.learning_rate
                    or any(getattr(optimizer, kw) != v for kw, v in racer.options.items())
                    or hp["batch_size"] != s.batch_size or hp["loss"] != s.loss or t.shuffle != s.shuffle):
                raise ValueError(f"{LABELS[key]}'s trainer does not train as its entry and the course say")
            if not np.array_equal(h.params[0], self.start) or not np.array_equal(h.current, t.params):
                raise ValueError(f"{LABELS[key]}'s trajectory is not its trainer's")
            if h.steps != t.step or len(h.epochs) != t.epoch or (h.diverged is None) != (t.diverged is None):
                raise ValueError(f"{LABELS[key]}'s history is not its trainer's")
            if t.diverged is None:
                state = t.state()
                running.append((state["order"], state["cursor"], state["rng"]))
        if any(r != running[0] for r in running[1:]):
            raise ValueError("the racers are not on the same batches")
        if self.done and not self.race.finished:
            raise ValueError("the race is said to be done, but it has epochs to go")



def _racers_from_json(racers: Any) -> dict[str, Racer]:
    """Every racer's entry, checked (:class:`ValueError` if anything is malformed or out of range)."""
    if not isinstance(racers, dict) or set(racers) != set(RACERS):
        raise ValueError("the racers are malformed")
    out = {}
    for key in RACERS:
        r = racers[key]
        if not isinstance(r, dict) or not isinstance(r.get("options"), dict):
            raise ValueError("a racer is malformed")
        options = {k: finite_from_json(v, "a racer's option") for k, v in r["options"].items()}
        if set(options) != {o.keyword for o in OPTIONS[key]}:
            raise ValueError("a racer's options are not its optimizer's")
        for o in OPTIONS[key]:
            if not o.lo <= options[o.keyword] <= o.hi or round(options[o.keyword], o.decimals) != options[o.keyword]:
                raise ValueError(f"{LABELS[key]}'s {o.keyword} is out of range or finer than its field")
        rate = finite_from_json(r.get("learning_rate"), "a racer's rate")
        if not RATE_RANGE[0] <= rate <= RATE_RANGE[1]:
            raise ValueError(f"{LABELS[key]}'s learning rate is out of range")
        out[key] = Racer(bool_field(r.get("enabled"), "a racer's tick"), rate, options)
    return out


def _tolerance_from_json(value: Any) -> float:
    tolerance = finite_from_json(value, "the tolerance")
    if not TOLERANCE_RANGE[0] <= tolerance <= TOLERANCE_RANGE[1]:
        raise ValueError("the tolerance is out of range")
    return tolerance
