"""A training run as one object: its data, settings, trainer and history, what follows from them, its state.

A :class:`FitRun` is what a training tab of the app holds and what ``fitscope fit`` trains: the data set,
the settings (always the ones the run uses now), the :class:`~fitscope.engine.experiment.Experiment` and its
trainer, the start point, the :class:`~fitscope.engine.history.History` of the reports it made, and the
numbers that follow from them (the losses now, the baseline, where the run stands). It has no widgets and
no threads of its own:

- Settings change through :meth:`FitRun.update`. A change the trainer can take on the fly (learning rate,
  batch size, loss, optimizer, epochs) is asked of it with
  :meth:`~fitscope.engine.trainer.Trainer.configure`, which is safe while another thread trains; any other
  change (model, normalization, split, seed…) starts the run afresh, and so does every change made before
  the first step. Whatever changed, :attr:`FitRun.settings` describe the run.
- Reports come back through :meth:`FitRun.record` (from whoever drives the trainer) and go into the history.
- Whoever shows the run :meth:`~Observable.listen`\\ s to it and is told what changed: :data:`NEW_RUN` (a new
  trainer and history: hand the trainer to the driver), :data:`SETTINGS`, :data:`HISTORY`, :data:`STATUS`.
- :meth:`FitRun.state` is the run as JSON-safe values (for a session) and :meth:`FitRun.from_state` builds a
  run back from it, checking everything before anything is built.
- After a divergence, :meth:`FitRun.recovery` names the last step whose training loss was still below the
  start's, and :meth:`FitRun.go_back` returns the run to it exactly (the trainer replays from its
  checkpoint); :meth:`FitRun.smaller_rate` suggests a rate to go on with.

Only the thread that owns the run calls its methods; the trainer is read by the driving thread meanwhile,
and :meth:`FitRun.state` is taken while nobody drives it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from .data import BUILTIN, DataError, Dataset, load_builtin, load_csv
from .experiment import Experiment, build_optimizer
from .history import MIN_ROWS, History
from .losses import get_loss
from .numbers import prose
from .serial import floats_from_json, floats_to_json
from .settings import (
    DEFAULT_LEARNING_RATE,
    LEARNING_RATE_RANGE,
    FitSettings,
    check_app_ranges,
    n_train_rows,
    settings_from_json,
    settings_to_json,
)
from .trainer import EpochReport, Phase, Report, StepReport, Trainer

#: What a run tells its listeners (see :meth:`Observable.notify`).
NEW_RUN = "run"  # a new trainer and history: the old trainer is no longer this run's
SETTINGS = "settings"  # the settings changed (the trainer takes them on before its next batch)
HISTORY = "history"  # reports were recorded
STATUS = "status"  # the run finished, stopped or can go on again

#: Settings a trainer takes on while it trains; any other change starts the run afresh.
LIVE = frozenset({"learning_rate", "batch_size", "loss", "optimizer", "momentum", "epochs"})
#: Settings that change what the parameters mean: a start point chosen before does not carry over.
SHAPE = frozenset({"model", "hidden", "activation", "normalize"})

#: The most memory a run's trajectory reserves at once, and the most it holds: a longer run keeps its start,
#: its latest step and an evenly thinned middle (see :mod:`engine.history`), and training never stops for it
#: (an MLP's 3,251 parameters a step would fill a gigabyte in a minute at batch size 1).
HISTORY_ROOM_BYTES = 32 * 2**20
#: The trajectory keeps at most this much (then it is thinned, see :mod:`engine.history`). Small enough that
#: growing or thinning it (a copy of it) stays a short pause of the GUI thread: 32 MiB keeps about 6,000 steps
#: of the one-hidden-layer MLP (701 parameters) and 1,300 of the two-layer one (3,251), more than a plot shows.
HISTORY_BUDGET_BYTES = 32 * 2**20
#: :meth:`FitRun.recovery` searches an MLP's steps back from the end for at most this many multiply-adds
#: (rows × parameters × evaluations); a linear model's are all evaluated at once.
RECOVERY_WORK = 200_000_000


def history_room(examples: int, batch_size: int, epochs: int, n_params: int) -> int:
    """Updates a run's :class:`~engine.history.History` makes room for at once: the whole run, up to
    :data:`HISTORY_ROOM_BYTES` of trajectory. Room is memory only once rows are written in it; growing instead
    copies what is kept into memory never touched, tens of milliseconds of the GUI thread's time once the
    trajectory or the epoch table holds a few megabytes."""
    per_epoch = -(-examples // max(1, batch_size))
    return max(1023, min(max(epochs, 1) * per_epoch, HISTORY_ROOM_BYTES // (8 * n_params)))


class StateError(ValueError):
    """A saved run cannot be used; ``str(e)`` is one line for the user (its data file is gone, say)."""


class Observable:
    """Listeners told, in the owner's thread, what changed: ``listener(what)``."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[str], None]] = []

    def listen(self, listener: Callable[[str], None]) -> None:
        if listener not in self._listeners:
            self._listeners.append(listener)

    def unlisten(self, listener: Callable[[str], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def notify(self, what: str) -> None:
        for listener in list(self._listeners):
            listener(what)


# --------------------------------------------------------------------------- where the data comes from
def digest(dataset: Dataset) -> str:
    """A fingerprint of the numbers trained on (so that a CSV changed since it was saved is noticed)."""
    h = hashlib.sha256()
    for a in (dataset.X_train, dataset.y_train):
        h.update(np.ascontiguousarray(a, dtype="<f8").tobytes())
    return h.hexdigest()


def data_source(dataset: Dataset) -> dict[str, Any]:
    """Where ``dataset`` comes from: ``{"builtin": name}`` or ``{"csv": path, "target", "features", "sha256"}``."""
    if dataset.source in BUILTIN:
        return {"builtin": dataset.source}
    return {"csv": dataset.source, "target": dataset.target_name, "features": list(dataset.feature_names),
            "sha256": digest(dataset)}


def dataset_key(dataset: Dataset) -> str:
    """A short name of the data set for what is remembered about it: ``builtin:NAME`` or ``csv:PATH#DIGEST``."""
    if dataset.source in BUILTIN:
        return f"builtin:{dataset.source}"
    return f"csv:{dataset.source}#{digest(dataset)[:16]}"


def load_source(source: Any, current: Dataset | None = None) -> Dataset:
    """The data set ``source`` names: ``current`` itself if it is that one, else loaded afresh.

    :class:`StateError` if it names nothing, or its file is gone, unreadable or changed.
    """
    if not isinstance(source, dict):
        raise StateError("the session names no data")
    if "builtin" in source:
        name = source["builtin"]
        if name not in BUILTIN:
            raise StateError(f"the session names an unknown built-in data set, {str(name)[:40]!r}")
        if current is not None and current.source == name:
            return current
        return load_builtin(name)
    path, target, features = source.get("csv"), source.get("target"), source.get("features")
    if not (isinstance(path, str) and isinstance(target, str) and isinstance(features, list)
            and all(isinstance(f, str) for f in features) and isinstance(source.get("sha256"), str)):
        raise StateError("the session's data source is malformed")
    if (current is not None and current.source == path and current.target_name == target
            and list(current.feature_names) == features and digest(current) == source["sha256"]):
        return current
    if not os.path.exists(path):
        raise StateError(f"its data file {path} is gone (moved or deleted)")
    try:
        dataset = load_csv(path, target=target, features=features)
    except DataError as e:
        raise StateError(f"its data file cannot be read: {e}") from None
    if digest(dataset) != source["sha256"]:
        raise StateError(f"its data file {path} has changed since the session was saved")
    return dataset


def bool_field(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{what} is not true or false")
    return value


# --------------------------------------------------------------------------- the run
class FitRun(Observable):
    """One training run of a data set, as its settings describe (see the module's docstring).

    Parameters
    ----------
    dataset : Dataset
    settings : FitSettings, optional
        Default: the data set's own (:attr:`Dataset.defaults`). :meth:`constrain` fits them to the run's kind.
    start : ndarray (n_params,), optional
        Start from these flat parameters instead of the seed's initial weights (or ``settings.init``).

    Attributes
    ----------
    dataset, settings, experiment, history
    start : ndarray or None
        The start point chosen (None: the settings' own); :meth:`reset` goes back to it.
    finished : bool
        The run reached its epoch limit (a new limit lets it go on).
    """

    def __init__(self, dataset: Dataset, settings: FitSettings | None = None, start: np.ndarray | None = None
                 ) -> None:
        super().__init__()
        self.dataset = dataset
        self._build(self.constrain(dataset, dataset.defaults if settings is None else settings), start)

    # --- for subclasses: the kind of run ---
    @classmethod
    def constrain(cls, dataset: Dataset, settings: FitSettings) -> FitSettings:
        """The settings this kind of run uses for ``dataset`` (a subclass may fix some of them)."""
        return settings

    # --- building ---
    def _build(self, settings: FitSettings, start: np.ndarray | None) -> None:
        """A fresh experiment (:class:`ValueError` from bad settings, before anything changes or is allocated)."""
        d = self.dataset
        settings.validate(len(d.y_train), d.n_features, 0 if d.y_test is None else len(d.y_test))
        experiment = Experiment(self.dataset, settings)
        if start is not None:
            start = np.array(start, dtype=np.float64)
            if start.shape != (experiment.model.n_params,) or not np.isfinite(start).all():
                raise ValueError(f"a start point needs {experiment.model.n_params} finite numbers")
            experiment.trainer.set_params(start)
        self.settings, self.experiment, self.start = settings, experiment, start
        self.history = History(experiment.trainer.params, steps=self._room(), max_rows=self._max_rows())
        self.finished = False
        #: The losses of steps up to this one were measured with another loss function (changed during the run).
        self.loss_since = 0
        self._recovery: tuple | None = None  # recovery()'s last answer, and what it was for
        self.recovery_complete = True  # whether recovery() looked at every step it could go back to

    def _room(self) -> int:
        s = self.settings
        return history_room(len(self.experiment.y), s.batch_size, s.epochs, self.n_params)

    def _max_rows(self) -> int:
        """The most rows of parameters the history keeps: :data:`HISTORY_BUDGET_BYTES` of them and their step
        numbers (the history keeps at most :data:`~engine.history.MAX_ROWS` in any case, and at least
        :data:`~engine.history.MIN_ROWS`)."""
        return max(MIN_ROWS, HISTORY_BUDGET_BYTES // (8 * (self.n_params + 1)))

    def restart(self, settings: FitSettings | None = None, start: np.ndarray | None = None) -> None:
        """Start afresh: with ``settings`` (default: the current ones), from ``start`` (default: none chosen,
        the settings' own start)."""
        settings = self.constrain(self.dataset, self.settings if settings is None else settings)
        self._build(settings, start)
        self.notify(NEW_RUN)

    def reset(self) -> None:
        """Back to the start point, forgetting the training so far."""
        self.restart(self.settings, self.start)

    def restore_defaults(self) -> None:
        """The data set's own settings (the book's, for its data sets), and a fresh start."""
        self.restart(self.dataset.defaults)

    # --- settings ---
    def update(self, **changes: Any) -> None:
        """Change settings: on the fly where the trainer can take them, else by starting afresh.

        Choosing an optimizer without a learning rate takes TensorFlow.js's default rate for it. Raises
        :class:`ValueError` (one line; nothing changes) for settings out of range.
        """
        if "optimizer" in changes and "learning_rate" not in changes:
            changes["learning_rate"] = DEFAULT_LEARNING_RATE[changes["optimizer"]]
        new = self.constrain(self.dataset, replace(self.settings, **changes))
        new.validate(len(self.dataset.y_train))
        lo, hi = LEARNING_RATE_RANGE
        if "learning_rate" in changes and not lo <= new.learning_rate <= hi:  # as the app's fields and sessions
            raise ValueError(f"the learning rate {prose(new.learning_rate)} is outside the app's "
                             f"{prose(lo)} to {prose(hi)}")
        changed = self._changed_by(new)
        if not changed:
            return
        if changed - LIVE or self.untouched:
            self.restart(new, None if changed & SHAPE else self.start)
            return
        requests: dict[str, Any] = {}
        if changed & {"optimizer", "momentum"}:
            requests["optimizer"] = build_optimizer(new)  # its state starts afresh
        elif "learning_rate" in changed:
            requests["learning_rate"] = new.learning_rate
        if "batch_size" in changed:
            requests["batch_size"] = new.batch_size
        if "loss" in changed:
            requests["loss"] = new.loss
            self.experiment.loss = get_loss(new.loss)  # for the numbers drawn in this thread
            self.loss_since = self.history.steps  # the losses recorded so far are another loss's
        if "epochs" in changed:
            requests["epochs"] = new.epochs
            self.finished = False
        self.trainer.configure(**requests)
        self.settings = new
        if "epochs" in changed:
            self.history.reserve(self._room())  # room for the longer run now, not at some frame of it
        self.notify(SETTINGS)

    # --- reports ---
    def record(self, reports: tuple[Report, ...] | list[Report]) -> None:
        """Add the trainer's reports, in order, to the history."""
        self.history.add_many(reports)
        if reports:
            self.notify(HISTORY)

    def stopped(self, why: str) -> None:
        """The driver stopped: ``"done"`` (the epoch limit), ``"paused"``, ``"step"``, ``"diverged"``…"""
        finished = why == "done"
        if finished != self.finished:
            self.finished = finished
            self.notify(STATUS)

    @property
    def finished(self) -> bool:
        """The run reached its epoch limit: its driver said so, and its trainer has no epoch to go (a step taken
        by hand past the limit, or a limit raised, gives it one)."""
        return self._finished and self.trainer.finished

    @finished.setter
    def finished(self, value: bool) -> None:
        self._finished = bool(value)

    # --- what follows ---
    @property
    def trainer(self) -> Trainer:
        return self.experiment.trainer

    @property
    def trainable(self) -> Trainer:
        """What a driver trains: the trainer (see :class:`~fitscope.engine.trainer.Trainable`)."""
        return self.experiment.trainer

    @property
    def n_params(self) -> int:
        return self.experiment.model.n_params

    def discards(self, **changes: Any) -> bool:
        """Whether :meth:`update` with ``changes`` would start afresh a run that has trained (a setting the
        trainer cannot take on the fly, such as another model): what a tab lets its user undo."""
        if self.untouched:
            return False
        try:
            new = self.constrain(self.dataset, replace(self.settings, **changes))
        except (TypeError, ValueError):
            return False  # (refused by update, which says why)
        return bool(self._changed_by(new) - LIVE)

    def _changed_by(self, new: FitSettings) -> set[str]:
        """The names of the settings in which ``new`` differs from the run's."""
        old = self.settings
        return {f.name for f in dataclasses.fields(FitSettings) if getattr(new, f.name) != getattr(old, f.name)}

    @property
    def untouched(self) -> bool:
        """Nothing has been reported yet: no step, not even a phase."""
        return self.history.steps == 0 and self.history.last_step is None and self.history.diverged is None

    def in_step(self) -> bool:
        """Whether the history and the trainer agree (steps, epochs, where the parameters stand): false only
        after a failure left the trainer ahead of what was recorded."""
        h, t = self.history, self.trainer
        return h.steps == t.step and len(h.epochs) == t.epoch and np.array_equal(h.current, t.params)

    def batch_loss_now(self) -> float | None:
        """The loss of the batch shown last, if it was measured with the loss function in use (else None)."""
        step = self.history.last_step
        if step is None or step.loss is None or step.step <= self.loss_since:
            return None
        return step.loss

    @property
    def current(self) -> np.ndarray:
        """The parameters now (after the last update recorded)."""
        return self.history.current

    @property
    def eval_split(self) -> str:
        """Where the baseline and the predictions are measured: the test rows, or the training rows if none."""
        return "test" if self.dataset.has_test else "train"

    def baseline(self, split: str | None = None) -> float:
        """The loss of always predicting the mean training target (on :attr:`eval_split` by default)."""
        return self.experiment.baseline_loss(split or self.eval_split)

    def loss_now(self, split: str = "train") -> float | None:
        """The loss of the current parameters on ``split`` (None if the data has no such rows)."""
        if split == "val" and self.experiment.X_val is None or split == "test" and self.experiment.X_test is None:
            return None
        return self.experiment.loss_at(self.current, split)

    @property
    def epochs_done(self) -> int:
        return len(self.history.epochs)

    def last_epoch(self) -> tuple[float, float | None, float | None] | None:
        """(training, validation, test) loss of the last epoch ended, None where there is none."""
        if not self.epochs_done:
            return None
        _, _, loss, val, test = self.history.epochs[-1]
        return float(loss), (float(val) if math.isfinite(val) else None), (float(test) if math.isfinite(test)
                                                                           else None)

    def epoch_text(self) -> str:
        """Where the run stands: ``"3 (batch 2 of 7)"``, or ``"0 of 200"`` before the first step (thousands
        grouped: ``"2,775 (batch 1 of 7)"``)."""
        step = self.history.last_step
        if step is None:
            return f"{self.epochs_done:,} of {self.settings.epochs:,}"
        return f"{step.epoch:,} (batch {step.batch + 1:,} of {step.batches_per_epoch:,})"

    def longest_epoch_text(self) -> str:
        """The longest :meth:`epoch_text` the run's settings lead to (its last epoch, at its last batch): what a
        readout of it keeps room for, so as not to widen as the run goes on."""
        batches = self._batches_per_epoch()
        return f"{max(self.settings.epochs, self.epochs_done):,} (batch {batches:,} of {batches:,})"

    def longest_step_text(self) -> str:
        """The most steps the run's settings lead to, as a readout writes it (see :meth:`longest_epoch_text`)."""
        return f"{max(self.settings.epochs, self.epochs_done) * self._batches_per_epoch():,}"

    def _batches_per_epoch(self) -> int:
        s = self.settings
        rows = max(1, n_train_rows(len(self.dataset.y_train), s.validation_split))
        return -(-rows // max(1, min(s.batch_size, rows)))

    # --- after a divergence ---
    def recovery(self) -> int | None:
        """After a divergence, the step to go back to: the last kept step of the trajectory whose loss on the
        training rows (the loss function in use) is below the loss at the run's start, and that
        :meth:`go_back` can reach exactly (the trainer's checkpoints reach it). None if there is no divergence
        or no such step; :attr:`recovery_complete` says whether every reachable step was looked at (a linear
        model's are, at once; an MLP's up to :data:`RECOVERY_WORK` multiply-adds, latest first)."""
        h, t = self.history, self.trainer
        if h.diverged is None or h.diverged.what == "data":
            self.recovery_complete = True
            return None
        key = (h.version, self.experiment.loss.name, t.checkpoint_steps)
        if self._recovery is not None and self._recovery[0] == key:
            self.recovery_complete = self._recovery[2]
            return self._recovery[1]
        exp = self.experiment
        start = exp.loss_at(h.params[0], "train")
        steps, params = h.param_steps, h.params
        oldest = min(t.checkpoint_steps, default=t.step)
        first = int(np.searchsorted(steps, oldest, side="right"))  # rows a replay can reach
        rows = np.arange(max(first, 1), len(steps))
        found, complete = None, True
        if math.isfinite(start) and len(rows):
            if exp.is_linear:
                losses = self.training_losses(params[rows])
                below = rows[losses < start]
                for row in below[::-1]:
                    if t.rewindable(int(steps[row])):
                        found = int(steps[row])
                        break
            else:
                budget = max(1, RECOVERY_WORK // (len(exp.y) * self.n_params))
                for row in rows[::-1]:
                    step = int(steps[row])
                    if budget <= 0:
                        complete = False
                        break
                    if not t.rewindable(step):
                        continue
                    budget -= 1
                    if exp.loss_at(params[row], "train") < start:
                        found = step
                        break
        self.recovery_complete = complete
        self._recovery = (key, found, complete)
        return found

    def training_losses(self, thetas: np.ndarray) -> np.ndarray:
        """A linear model's training loss at each row of ``thetas`` (flat parameters), vectorised (MSE from the
        data's sufficient statistics, MAE 1,024 rows at a time)."""
        exp = self.experiment
        with np.errstate(all="ignore"):
            if exp.loss.name == "mse":
                st = exp.stats
                out = np.einsum("ij,jk,ik->i", thetas, st.G, thetas) - 2 * thetas @ st.h + st.c
                return np.maximum(out, 0.0)
            out = np.empty(len(thetas))
            for lo in range(0, len(thetas), 1024):  # MAE: predictions of 1,024 parameter rows at a time
                part = thetas[lo : lo + 1024]
                pred = exp.X @ part[:, :-1].T + part[:, -1]
                out[lo : lo + 1024] = np.abs(pred - exp.y[:, None]).mean(axis=0)
            return out

    def back_to(self) -> int | None:
        """Where going back after a divergence leads: :meth:`recovery`'s step, or the start (0) if no step was
        better. None: no divergence, or one no step can undo (the data's)."""
        d = self.history.diverged
        if d is None or d.what == "data":
            return None
        step = self.recovery()
        return 0 if step is None else step

    def go_back(self, step: int) -> None:
        """Return the run to the kept step ``step`` exactly (after a divergence, to :meth:`recovery`'s step; step 0
        is a fresh start from the start point).

        The trainer rewinds to it (see :meth:`~engine.trainer.Trainer.rewind`); every step it replays must be
        the one recorded, else :class:`ValueError` and nothing changes. The history then ends at that step
        (its last step report that of ``step``, no divergence), and the settings of the run now that the
        trainer did not have then (a smaller learning rate chosen since, say) are asked of it for the next
        batch. Listeners are told :data:`HISTORY` and :data:`STATUS` (the trainer is the same object).
        Only while nobody drives the trainer.
        """
        if step == 0:  # the start: where the run began (what :meth:`back_to` offers when no step was better)
            self.reset()
            return
        h, t = self.history, self.trainer
        row = h.row_of(step)
        if row is None:
            raise ValueError(f"step {step} is not a kept step of the trajectory")

        def same_as_recorded(reports: list) -> None:
            for r in reports:
                if isinstance(r, StepReport):
                    i, loss = h.row_of(r.step), h.loss_of(r.step)
                    if i is not None and not np.array_equal(h.params[i], r.params_after) or (
                            loss is not None and not np.array_equal(loss, r.loss)):
                        raise ValueError(f"replaying step {r.step} did not make the step recorded")
                elif r.epoch <= len(h.epochs) and not np.array_equal(h.epochs[r.epoch - 1, 1:3], (r.step, r.loss)):
                    raise ValueError(f"replaying epoch {r.epoch} did not end it as recorded")
            if not np.array_equal(t.params, h.params[row]):
                raise ValueError(f"going back to step {step} did not give its recorded parameters")

        reports = t.rewind(step, check=same_as_recorded)
        last = next((r for r in reversed(reports) if isinstance(r, StepReport)), None)
        h.truncate(last)
        for r in reports:
            if isinstance(r, EpochReport) and r.epoch == len(h.epochs) + 1:
                h.add(r)  # the epoch ended at that step but its report had not been recorded yet
        s, hp = self.settings, t.next_hyperparameters()
        requests: dict[str, Any] = {}
        optimizer = hp["optimizer"]
        if optimizer.name != s.optimizer or (s.optimizer == "momentum" and optimizer.momentum != s.momentum):
            requests["optimizer"] = build_optimizer(s)
        elif hp["learning_rate"] != s.learning_rate:
            requests["learning_rate"] = s.learning_rate
        if hp["batch_size"] != s.batch_size:
            requests["batch_size"] = s.batch_size
        self.loss_since = min(self.loss_since, step)
        if hp["loss"] != s.loss:
            requests["loss"] = s.loss
            self.loss_since = step  # the losses recorded up to here are the other loss's
        if hp["epochs"] != max(s.epochs, t.epoch):
            requests["epochs"] = s.epochs
        if requests:
            t.configure(**requests)
        self.finished = False
        self.notify(HISTORY)
        self.notify(STATUS)

    def smaller_rate(self) -> float:
        """A learning rate to go on with after a divergence (three significant digits): a tenth of the rate in
        use; for a linear model with MSE trained with SGD or momentum, half the largest stable rate of
        full-batch training instead — whatever the rate was, with full batches (a rate that converges, and not
        slowly), and if it is smaller with batches of a part of the data (whose own curvatures vary)."""
        from .curvature import curvature_of

        s = self.settings
        rate = s.learning_rate / 10
        if self.experiment.is_linear and s.loss == "mse" and s.optimizer in ("sgd", "momentum"):
            limit = curvature_of(self.experiment).limit(s.optimizer, s.momentum)
            if limit is not None and math.isfinite(limit):
                full = s.batch_size >= len(self.experiment.y)
                rate = limit / 2 if full else min(rate, limit / 2)
        return float(f"{rate:.3g}")

    # --- what is remembered of the run between two launches of the app ---
    def preferences(self) -> dict[str, Any]:
        """The settings to take up again next time for this data set (JSON-safe; the start is not kept)."""
        return {"settings": settings_to_json(replace(self.settings, init=None))}

    def uses_defaults(self) -> bool:
        """Whether the settings are the data set's own (the start aside)."""
        defaults = self.constrain(self.dataset, self.dataset.defaults)
        return replace(self.settings, init=None) == replace(defaults, init=None)

    def apply_preferences(self, values: Any) -> None:
        """Start afresh with remembered :meth:`preferences` (:class:`ValueError` if they do not apply)."""
        if not isinstance(values, dict):
            raise ValueError("the remembered settings are malformed")
        settings = settings_from_json(values.get("settings"))
        check_app_ranges(settings)
        if self.constrain(self.dataset, replace(settings, init=self.settings.init)) != replace(
                settings, init=self.settings.init, batch_size=min(settings.batch_size, len(self.dataset.y_train))):
            raise ValueError("the remembered settings are not those this tab offers")
        self.restart(settings)

    # --- the saved state ---
    def state(self) -> dict[str, Any]:
        """The run as JSON-safe values; take it while nobody drives the trainer."""
        return {
            "data": data_source(self.dataset),
            "settings": settings_to_json(self.settings),
            "start": None if self.start is None else floats_to_json(self.start),
            "trainer": self.trainer.state(),
            "history": self.history.to_json(),
            "finished": self.finished,
            "loss_since": self.loss_since,
            "checkpoints": self.trainer.checkpoints_to_json(),
        }

    @classmethod
    def from_state(cls, state: Any, current: Dataset | None = None) -> FitRun:
        """A run built from :meth:`state`'s values, everything checked first.

        ``current``: the data set shown now, used as it is if the state names it. :class:`StateError` for
        data that cannot be had; :class:`ValueError` (one line) for anything malformed or out of range.
        """
        if not isinstance(state, dict):
            raise ValueError("the run is not a JSON object")
        try:
            dataset = load_source(state["data"], current)
            settings = settings_from_json(state["settings"])
            check_app_ranges(settings)
            if cls.constrain(dataset, settings) != settings:
                raise ValueError("the settings are not those of this tab")
            run = cls.__new__(cls)
            Observable.__init__(run)
            run.dataset = dataset
            run._build(settings, None)
            initial = run.trainer.params  # where a run of these settings starts
            if state["start"] is not None:
                start = floats_from_json(state["start"], "the start", run.n_params)
                if not np.isfinite(start).all():
                    raise ValueError("the start is not finite")
                run.start = start
                initial = start
            run.trainer.restore(state["trainer"])
            run.trainer.load_checkpoints(state.get("checkpoints", []))  # absent from older sessions: none
            run.experiment.loss = run.trainer.loss
            run.history = History.from_json(state["history"], run.n_params, len(run.experiment.y),
                                            room=run._room(), max_rows=run._max_rows())
            run.finished = bool_field(state["finished"], "finished")
            loss_since = state.get("loss_since", 0)  # absent from sessions saved before it was kept: none
            if type(loss_since) is not int or not 0 <= loss_since <= run.history.steps:
                raise ValueError("the step the loss changed at is out of range")
            run.loss_since = loss_since
        except KeyError as e:
            raise ValueError(f"the run has no {str(e.args[0])[:40]!r}") from None
        run._check_consistent(initial)
        return run

    def _check_consistent(self, initial: np.ndarray) -> None:
        """The settings must be those the trainer trains with, and the history must start where the settings
        start and end where the trainer stands, also inside a batch shown phase by phase."""
        h, t, s = self.history, self.trainer, self.settings
        hp = t.next_hyperparameters()
        optimizer = hp["optimizer"]
        if (optimizer.name != s.optimizer or hp["learning_rate"] != s.learning_rate or hp["loss"] != s.loss
                or hp["batch_size"] != s.batch_size or t.shuffle != s.shuffle
                or (s.optimizer == "momentum" and optimizer.momentum != s.momentum)):
            raise ValueError("the trainer's state does not match the settings")
        if not max(s.epochs, t.epoch) <= t.epochs <= max(s.epochs, t.epoch + 1):
            raise ValueError("the trainer's epoch limit does not match the settings")
        if not np.array_equal(h.params[0], initial):
            raise ValueError("the trajectory does not start where the settings start")
        if not np.array_equal(h.current, t.params):
            raise ValueError("the trajectory does not end at the trainer's parameters")
        if h.steps != t.step or len(h.epochs) != t.epoch:
            raise ValueError("the history's steps and epochs are not the trainer's")
        if (h.diverged is None) != (t.diverged is None):
            raise ValueError("the history and the trainer disagree on a divergence")
        if self._finished and not t.finished:  # (as the file says: a run saves itself finished only if so)
            raise ValueError("the run is said to be finished, but its trainer has epochs to go")
        if h.last_step is not None and (h.last_step.step not in (t.step, t.step + 1)
                                        or h.last_step.epoch not in (t.epoch, t.epoch + 1)):
            raise ValueError("the last step shown is not one of the trainer's")
        last = h.last_step
        shown = t.phase_shown
        if shown is not None:
            if last is None or last.phase != shown or not np.array_equal(last.indices, t.in_flight_indices()):
                raise ValueError("the batch under way does not follow from the trainer's state")
        elif last is not None and last.phase is not Phase.UPDATE and h.diverged is None:
            raise ValueError("the last phase shown is not part of the trainer's state")
