"""The fit loop as a generator of immutable reports.

:meth:`Trainer.run` does what TensorFlow.js's ``model.fit()`` does, one batch at a time, and yields:

- a :class:`StepReport` per batch (``phase == Phase.UPDATE``, after the optimizer's update) — and, when
  :attr:`Trainer.phases` is true, one before each of the four earlier phases of that batch too: the five
  steps of the book's training loop (batch drawn → forward pass → loss → gradient → update);
- an :class:`EpochReport` after the last batch of each epoch, with the epoch's training loss (the mean of
  its batch losses weighted by batch size, as tfjs logs it), the validation loss and the test loss;
- a :class:`DivergedReport` if a loss, gradient or parameter is not finite, or if the loss grows so much that
  the epoch's loss is sure to be over :data:`BLOWUP` times the reference (for MAE, over its square root):
  the larger of the loss at the start and the loss of always predicting the mean target, both on the training
  rows. The test needs no tuning to the data's scale, and it catches optimizers whose bounded steps (Adam,
  RMSProp at a huge rate) make the loss explode without ever overflowing. The parameters from before that
  step are kept, and the generator ends. Data too large for float64 by itself is a :class:`DivergedReport`
  whose ``what`` is ``"data"`` (no learning rate can help).

Parameters in reports are flat float64 vectors in the model's :meth:`~engine.models.Model.get_flat` order.
Reports are named tuples (cheap to make, one per batch) and every array in them is a read-only copy: a
report never changes after it is yielded.

The trainer's hyperparameters (``batch_size``, ``epochs``, ``loss``, ``optimizer`` and its learning rate)
are changed with :meth:`Trainer.configure`, from any thread, even while another thread runs the trainer: the
change applies before the next batch (a new learning rate or optimizer also before the update of a batch
shown phase by phase).

The trainer is a resumable state machine: every report is yielded with the trainer's state already
consistent, so a consumer may drop a :meth:`run` generator after any report and call ``run()`` again later
(for the next step, or for more epochs): training continues exactly where it stopped, even in the middle of
a batch shown phase by phase.

:meth:`Trainer.state` is all of that as JSON-safe values (parameters, progress, the epoch's order, the
shuffling generator, the optimizer's accumulators, the hyperparameters), and :meth:`Trainer.restore` takes
it back: a trainer restored between two reports goes on bit for bit as the saved one would have.

The trainer keeps checkpoints of its own state, in memory (a ring of at most :data:`CHECKPOINTS`, and
:data:`CHECKPOINT_BYTES`): one when it first runs, one after anything that changes it outside the normal step
(changes asked for with :meth:`Trainer.configure` and applied, :meth:`Trainer.set_params`,
:meth:`Trainer.clear_divergence`, :meth:`Trainer.restore`, a rewind) — taken at the first moment it is between
batches afterwards — and one every :data:`CHECKPOINT_EVERY` steps. So replaying plain batches from the latest
checkpoint at or before a step reproduces the run up to that step bit for bit, and :meth:`Trainer.rewind`
goes back to a step exactly (a batch during which a change was applied, shown phase by phase, is the one step
that cannot be replayed: :meth:`Trainer.rewindable`).
"""

from __future__ import annotations

import contextvars
import copy
import math
import threading
from collections.abc import Callable, Iterator
from enum import IntEnum
from typing import Any, NamedTuple, Protocol

import numpy as np

from .losses import MAE, MSE, get_loss
from .models import Model
from .numbers import prose
from .optimizers import Optimizer, optimizer_from_state
from .serial import float_from_json, float_to_json, floats_from_json, floats_to_json, int_from_json

#: The most steps (and epochs) a saved state may count: every count stays exact as a float64 and an int64.
MAX_STEPS = 2**53


class Phase(IntEnum):
    """The five steps of one training iteration."""

    BATCH = 0
    FORWARD = 1
    LOSS = 2
    GRADIENT = 3
    UPDATE = 4


def _finite(v: np.ndarray) -> bool:
    """Whether every number in the vector ``v`` is finite: its squared norm, the fast test, overflows only when
    one is not, or when one is beyond 1e154, which the exact test then tells apart."""
    return math.isfinite(v @ v) or bool(np.isfinite(v).all())


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(False)  # read-only: setflags(write=False), in a fifth of the time of flags.writeable = False
    return a


_new_tuple = tuple.__new__  # a named tuple from all its fields, without the Python frame of its own __new__


class StepReport(NamedTuple):
    """One phase of one batch. Fields not reached yet in this phase are ``None``.

    ``step`` is the number of the update this batch makes (1-based): after the ``UPDATE`` phase the model
    has taken ``step`` steps. ``epoch`` is 1-based, ``batch`` 0-based within the epoch.
    """

    phase: Phase
    step: int
    epoch: int
    batch: int
    batches_per_epoch: int
    indices: np.ndarray  # (batch_size,) rows of the training arrays
    params_before: np.ndarray  # (n_params,)
    predictions: np.ndarray | None = None  # (batch_size,)
    loss: float | None = None  # mean loss of the batch, before the update
    gradient: np.ndarray | None = None  # (n_params,)
    params_after: np.ndarray | None = None  # (n_params,)
    learning_rate: float = 0.0

    @property
    def params(self) -> np.ndarray:
        """The parameters as they stand at this phase."""
        return self.params_before if self.params_after is None else self.params_after

    @property
    def kind(self) -> str:
        """What this report ends: ``"batch"`` (the update) or ``"phase"`` (an earlier phase)."""
        return "batch" if self.phase is Phase.UPDATE else "phase"


class EpochReport(NamedTuple):
    """The end of an epoch (1-based ``epoch``), after ``step`` updates in all."""

    epoch: int
    step: int
    loss: float  # tfjs's epoch loss: batch losses averaged, weighted by batch size
    val_loss: float | None
    test_loss: float | None
    params: np.ndarray

    kind = "epoch"  # what this report ends (not a field)


class DivergedReport(NamedTuple):
    """Training stopped before update ``step``: ``what`` ("loss", "gradient" or "parameters") ``how`` (became
    infinite or NaN, or grew too large); ``what == "data"`` when the data cannot be trained on at all."""

    step: int
    epoch: int
    batch: int
    what: str
    learning_rate: float
    params: np.ndarray  # the parameters kept, from before that step
    how: str = "became infinite or NaN"

    kind = "diverged"  # what this report ends (not a field)

    @property
    def message(self) -> str:
        if self.what == "data":
            return (f"Training cannot go on: {self.how}. A smaller learning rate cannot help: rescale the data "
                    "(or normalize the features).")
        return (
            f"Training diverged at step {self.step} (epoch {self.epoch}): the {self.what} {self.how} "
            f"at learning rate {prose(self.learning_rate)}, so the weights stay as they were after step "
            f"{self.step - 1}. Try a smaller learning rate."
        )


Report = StepReport | EpochReport | DivergedReport


class Trainable(Protocol):
    """What :mod:`fitscope.gui.worker` drives: a :class:`Trainer`, or a :class:`~fitscope.engine.race.Race`.

    Its reports have a ``kind``: ``"phase"``, ``"batch"``, ``"epoch"`` or ``"diverged"`` (what the report
    ends). ``run()`` may be dropped after any report and called again: it goes on where it stopped.
    """

    phases: bool  # report the phases of each batch (read when a batch starts)

    @property
    def finished(self) -> bool: ...

    @property
    def diverged(self) -> Any: ...

    @property
    def at_epoch_end(self) -> bool: ...

    def run(self) -> Iterator[Any]: ...

    def clear_divergence(self) -> None: ...

    def allow_another_epoch(self) -> None: ...

#: An epoch's loss this many times the reference (the larger of the loss at the start and the loss of always
#: predicting the mean target, on the training rows) counts as divergence, for MSE; for MAE (whose errors are
#: not squared) the square root of it: errors a hundred times larger either way. The test is made at every
#: batch on what the epoch has summed so far, a lower bound of the epoch's loss, so it fires as soon as the
#: epoch is sure to cross the line.
BLOWUP = 1e4
_ROOT_BLOWUP = math.sqrt(BLOWUP)  # for MAE

#: A checkpoint every this many steps (see :meth:`Trainer.rewind`): a rewind replays at most this many
#: batches after the last change.
CHECKPOINT_EVERY = 256
#: The most checkpoints kept, and the most memory they take (parameters, the optimizer's accumulators and the
#: epochs' orders they hold): the oldest go first.
CHECKPOINTS = 64
CHECKPOINT_BYTES = 64 * 2**20
#: The most numbers (parameters, accumulators, rows of an order) of the checkpoints a saved state holds
#: (:meth:`Trainer.checkpoints_to_json`): the newest that fit.
SAVED_CHECKPOINT_NUMBERS = 200_000


class Checkpoint(NamedTuple):
    """The trainer's state at ``step``, between two batches (see :meth:`Trainer.rewind`).

    ``changed``: something changed during the batch of ``step`` itself (a request applied while it was shown
    phase by phase), so that batch cannot be replayed from an earlier checkpoint. ``values``: the state, as
    :meth:`Trainer._capture` takes it.
    """

    step: int
    changed: bool
    values: dict
    nbytes: int


class Trainer:
    """Mini-batch training of ``model`` on ``(X, y)``, as tfjs's ``fit()``.

    Parameters
    ----------
    model : Model
    loss : MSE or MAE
    optimizer : Optimizer
    X, y : ndarray of shape (n, n_features) and (n,)
        The rows trained on (a validation split is already taken off: see :mod:`engine.experiment`).
    batch_size, epochs : int
    validation, test : (X, y) pairs, optional
        Evaluated at the end of every epoch.
    shuffle : bool
        Shuffle the rows at the start of every epoch with ``np.random.default_rng(seed)``.
    seed : int
    """

    def __init__(
        self,
        model: Model,
        loss: type[MSE] | type[MAE],
        optimizer: Optimizer,
        X: np.ndarray,
        y: np.ndarray,
        *,
        batch_size: int = 32,
        epochs: int = 1,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
        test: tuple[np.ndarray, np.ndarray] | None = None,
        shuffle: bool = True,
        seed: int = 0,
    ) -> None:
        self.model = model
        self.loss = loss
        self.optimizer = optimizer
        self.X, self.y = X, y
        self.batch_size = int(batch_size)
        self.epochs = int(epochs)
        self.validation = validation
        self.test = test
        self.shuffle = shuffle
        self.phases = False
        self._rng = np.random.default_rng(seed)
        self._params = _frozen(model.get_flat())
        # Progress: completed epochs and steps, and where the current epoch stands.
        self.epoch = 0
        self.step = 0
        self._order: np.ndarray | None = None
        self._cursor = 0
        self._batch = 0
        self._loss_sum = 0.0
        self.diverged: DivergedReport | None = None
        # The divergence test's reference loss (None: to be computed at the next batch, from the parameters then).
        self._reference: float | None = None
        self._reference_of = ""  # what the reference is, for the message
        # The reference a divergence was found against, and the hyperparameters then (clear_divergence): going on
        # with the same ones keeps it, so that the same batch diverges again instead of being let through.
        self._diverged_against: tuple | None = None
        self._blowup_at = (None, None, math.inf)  # (reference, loss, the loss sum over which the epoch blows up)
        # A batch shown phase by phase: the last phase reported (-1: none) and the batch's row count.
        self._shown = -1
        self._shown_rows = 0
        # Changes asked for by configure(), from any thread, applied before the next batch.
        self._requests: dict[str, Any] = {}
        self._requests_lock = threading.Lock()
        # Checkpoints (see rewind()): the ring, whether something changed since the last one (and during a
        # batch under way), and the step at which the next regular one is due.
        self._checkpoints: list[Checkpoint] = []
        self._changed = True  # the first run takes one
        self._changed_in_batch = False
        self._due = 0
        self._quiet: contextvars.Context | None = None  # see _quietly

    def _quietly(self) -> contextvars.Context:
        """A context of this trainer's own in which NumPy ignores floating-point errors: ``.run(f)`` in it costs
        a fortieth of entering ``np.errstate(all="ignore")`` at every batch. Made once, in the first thread that
        runs the trainer; a context is entered by one thread at a time, as a trainer is run."""
        if self._quiet is None:
            self._quiet = contextvars.copy_context()
            self._quiet.run(np.seterr, all="ignore")
        return self._quiet

    @property
    def n_rows(self) -> int:
        return len(self.y)

    @property
    def params(self) -> np.ndarray:
        """The current parameters (a read-only flat vector)."""
        return self._params

    @property
    def finished(self) -> bool:
        """True when ``epochs`` epochs are done (counting a new limit asked for with :meth:`configure`), or
        training diverged."""
        epochs = self._requests.get("epochs", self.epochs)
        return self.diverged is not None or (self._order is None and self.epoch >= epochs)

    @property
    def at_epoch_end(self) -> bool:
        """True between the last batch of an epoch and its :class:`EpochReport`."""
        return self._order is not None and self._cursor >= self.n_rows

    @property
    def phase_shown(self) -> Phase | None:
        """The last phase reported of a batch shown phase by phase and not yet updated (None: between batches)."""
        return None if self._shown < 0 else Phase(self._shown)

    @property
    def between_epochs(self) -> bool:
        """True when no epoch is under way (before the first, or after an epoch's report)."""
        return self._order is None

    def allow_another_epoch(self) -> None:
        """Raise the epoch limit by one if it is reached (a step taken by hand may go past the limit); from the
        thread that runs the trainer (a limit asked for with :meth:`configure` is applied first)."""
        if self._shown < 0:
            self.apply_requests()
        if self.diverged is None and self._order is None and self.epoch >= self.epochs:
            self.epochs = self.epoch + 1

    # --- hyperparameters, from any thread ---
    CONFIGURABLE = ("learning_rate", "batch_size", "loss", "optimizer", "epochs")

    def configure(self, **changes: Any) -> None:
        """Ask for new hyperparameters; safe to call from any thread, also while another runs :meth:`run`.

        ``learning_rate`` (float), ``batch_size`` (int), ``loss`` (``"mse"``/``"mae"`` or a loss class),
        ``optimizer`` (an :class:`~fitscope.engine.optimizers.Optimizer`, which starts with its own state),
        ``epochs`` (int; never below the epochs done and the one under way, which ends whatever the limit).
        They apply before the next batch; a learning rate or an optimizer also before the update of a batch shown
        phase by phase. Later requests of the same name replace earlier ones.
        """
        unknown = set(changes) - set(self.CONFIGURABLE)
        if unknown:
            raise TypeError(f"cannot configure {', '.join(sorted(unknown))}")
        if "loss" in changes and isinstance(changes["loss"], str):
            changes["loss"] = get_loss(changes["loss"])
        with self._requests_lock:
            if "optimizer" in changes:
                self._requests.pop("learning_rate", None)  # the new optimizer carries its own rate
            self._requests.update(changes)

    def next_hyperparameters(self) -> dict[str, Any]:
        """What the next batch trains with, counting what :meth:`configure` asked for: ``learning_rate``,
        ``batch_size``, ``loss`` (its name), ``optimizer`` (the optimizer object) and ``epochs``."""
        with self._requests_lock:
            requests = dict(self._requests)
        optimizer = requests.get("optimizer", self.optimizer)
        return {
            "learning_rate": float(requests.get("learning_rate", optimizer.learning_rate)),
            "batch_size": int(requests.get("batch_size", self.batch_size)),
            "loss": requests.get("loss", self.loss).name,
            "optimizer": optimizer,
            "epochs": max(int(requests.get("epochs", self.epochs)), self._epochs_begun()),
        }

    def _epochs_begun(self) -> int:
        """The epochs done and the one under way, if any (it ends whatever the limit): the lowest limit there is."""
        return self.epoch + (self._order is not None)

    def apply_requests(self) -> None:
        """Apply what :meth:`configure` asked for now (done by :meth:`run` before each batch, and by
        :meth:`state`); only from the thread that runs the trainer, or while nobody runs it."""
        if not self._requests:
            return
        with self._requests_lock:
            requests, self._requests = self._requests, {}
        self._note_change()
        if "optimizer" in requests:
            self.optimizer = requests["optimizer"]
        if "learning_rate" in requests:
            self.optimizer.learning_rate = float(requests["learning_rate"])
        if "batch_size" in requests:
            self.batch_size = int(requests["batch_size"])
        if "loss" in requests:
            self.loss = requests["loss"]
        if "epochs" in requests:
            self.epochs = max(int(requests["epochs"]), self._epochs_begun())

    def set_params(self, flat: np.ndarray) -> None:
        """Start from the flat parameters ``flat`` (e.g. a point clicked on a loss slice) instead.

        The model's arrays are set in place, the optimizer's state starts afresh, and the next report
        starts from these parameters. Progress (epochs, steps, the shuffling) is left as it is.
        """
        self.model.set_flat(flat)
        self._params = _frozen(self.model.get_flat())
        self.optimizer.reset()
        self._reference, self._diverged_against = None, None  # a new start
        self._note_change()

    def state(self) -> dict:
        """The trainer's whole state as JSON-safe values (see :meth:`restore`).

        Taken between two reports, while no other thread runs the trainer (changes asked for with
        :meth:`configure` are applied first), it holds everything the next reports depend on apart from the
        model's structure and the data.
        """
        self.apply_requests()
        return _state_json(self._capture(copy_optimizer=False))

    def restore(self, state: dict) -> None:
        """Take back a :meth:`state` of a trainer of the same model and rows.

        Everything is checked before anything changes: a bad state raises :class:`ValueError` (a one-line
        message) and leaves this trainer as it was. The checkpoints taken before are forgotten (they are of
        another run, or of another moment of this one).
        """
        values = self._parse_state(state)
        self._apply(values)
        with self._requests_lock:
            self._requests = {}
        self._checkpoints = []
        self._note_change()

    def _parse_state(self, state: Any) -> dict:
        """The values of a :meth:`state`, checked (:class:`ValueError`, one line, if anything is wrong)."""
        if not isinstance(state, dict):
            raise ValueError("the trainer state is not a JSON object")
        n, n_params = self.n_rows, self.model.n_params
        try:
            params = floats_from_json(state["params"], "the parameters", n_params)
            epoch = int_from_json(state["epoch"], "the epoch")
            step = int_from_json(state["step"], "the step")
            if max(step, epoch) > MAX_STEPS:
                raise ValueError(f"the step or epoch count is over {MAX_STEPS:,}")
            order = state["order"]
            if order is not None:
                if not isinstance(order, list) or not all(type(i) is int for i in order):
                    raise ValueError("the epoch's order is not a list of rows")
                order = np.array(order, dtype=np.int64)
                if order.shape != (n,) or not np.array_equal(np.sort(order), np.arange(n)):
                    raise ValueError(f"the epoch's order is not an order of the {n} training rows")
                order = _frozen(order)
            cursor = int_from_json(state["cursor"], "the position in the epoch")
            if cursor > n:
                raise ValueError("the position in the epoch is past its end")
            batch = int_from_json(state["batch"], "the batch number")
            loss_sum = float_from_json(state["loss_sum"], "the epoch's loss sum")
            reference = state.get("reference")  # absent from states saved before the test had a reference
            reference = None if reference is None else float_from_json(reference, "the reference loss")
            reference_of = state.get("reference_of", "")
            if not isinstance(reference_of, str) or len(reference_of) > 100:
                raise ValueError("the reference loss's description is not a short text")
            rng_state = state["rng"]
            bit_generator = type(self._rng.bit_generator)()
            try:
                bit_generator.state = rng_state
            except (TypeError, ValueError, KeyError, OverflowError):
                raise ValueError("the shuffling generator's state is not valid") from None
            optimizer = optimizer_from_state(state["optimizer"], [(n_params,)])  # it updates the flat vector
            if not isinstance(state["loss"], str):
                raise ValueError("the loss is not a name")
            loss = get_loss(state["loss"])
            batch_size = int_from_json(state["batch_size"], "the batch size", 1)
            epochs = int_from_json(state["epochs"], "the number of epochs")
            shuffle = state["shuffle"]
            if not isinstance(shuffle, bool):
                raise ValueError("shuffle is not true or false")
            # A batch shown phase by phase (absent from states saved before phases were kept here: none).
            shown = int_from_json(state.get("shown_phase", -1), "the phase shown", minimum=-1)
            shown_rows = int_from_json(state.get("shown_rows", 0), "the rows of the batch shown")
            if shown > Phase.GRADIENT:
                raise ValueError("the phase shown is not one before the update")
            if shown >= 0 and (order is None or not 0 < shown_rows <= n - cursor):
                raise ValueError("the batch shown does not fit the epoch under way")
            diverged = None
            if state["diverged"] is not None:
                d = state["diverged"]
                if not isinstance(d, dict) or not isinstance(d["what"], str) or not isinstance(d["how"], str):
                    raise ValueError("the divergence is malformed")
                diverged = DivergedReport(
                    int_from_json(d["step"], "the divergence's step"), int_from_json(d["epoch"], "its epoch"),
                    int_from_json(d["batch"], "its batch"), d["what"],
                    float_from_json(d["learning_rate"], "its learning rate"),
                    _frozen(floats_from_json(d["params"], "its parameters", n_params)), d["how"],
                )
        except KeyError as e:
            raise ValueError(f"the trainer state has no {e.args[0]!r}") from None
        except TypeError:
            raise ValueError("the trainer state is malformed") from None
        return {
            "params": _frozen(params), "epoch": epoch, "step": step, "order": order, "cursor": cursor,
            "batch": batch, "loss_sum": loss_sum, "reference": reference, "reference_of": reference_of,
            "rng": bit_generator.state, "optimizer": optimizer, "loss": loss, "batch_size": batch_size,
            "epochs": epochs, "shuffle": shuffle, "diverged": diverged, "shown": shown,
            "shown_rows": shown_rows if shown >= 0 else 0,
        }

    def _capture(self, copy_optimizer: bool = True) -> dict:
        """The whole state, in memory (what :meth:`_apply` takes back): the arrays are read-only and shared,
        the optimizer copied (unless ``copy_optimizer`` is false: to be written out at once)."""
        return {
            "params": self._params, "epoch": self.epoch, "step": self.step, "order": self._order,
            "cursor": self._cursor, "batch": self._batch, "loss_sum": self._loss_sum,
            "reference": self._reference, "reference_of": self._reference_of, "rng": self._rng.bit_generator.state,
            "optimizer": _copy_optimizer(self.optimizer) if copy_optimizer else self.optimizer, "loss": self.loss,
            "batch_size": self.batch_size, "epochs": self.epochs, "shuffle": self.shuffle,
            "diverged": self.diverged, "shown": self._shown, "shown_rows": self._shown_rows,
        }

    def _apply(self, values: dict) -> None:
        """Take on a state from :meth:`_capture` or :meth:`_parse_state` (the optimizer is copied: the values
        stay as they are, to be applied again)."""
        self.model.set_flat(values["params"])
        self._params = _frozen(self.model.get_flat())
        self.epoch, self.step = values["epoch"], values["step"]
        self._order, self._cursor, self._batch = values["order"], values["cursor"], values["batch"]
        self._loss_sum, self._reference, self._reference_of = (values["loss_sum"], values["reference"],
                                                               values["reference_of"])
        self._diverged_against = None
        bit_generator = type(self._rng.bit_generator)()
        bit_generator.state = values["rng"]
        self._rng = np.random.Generator(bit_generator)
        self.optimizer = _copy_optimizer(values["optimizer"])
        self.loss = values["loss"]
        self.batch_size, self.epochs, self.shuffle = values["batch_size"], values["epochs"], values["shuffle"]
        self.diverged = values["diverged"]
        self._shown, self._shown_rows = values["shown"], values["shown_rows"]

    def clear_divergence(self) -> None:
        """Go on after a divergence (with a smaller learning rate, say): the failed batch is tried again.

        The parameters are those kept by the :class:`DivergedReport`; the optimizer's accumulators, which
        may hold the non-finite step, start afresh, and so does the blow-up test's reference loss.
        """
        if self.diverged is not None:
            self.diverged = None
            self.optimizer.reset()
            if self._reference is not None:
                self._diverged_against = (self._reference, self._reference_of, self._hyperparameters())
            self._reference = None  # the blow-up test starts again from here (unless nothing changed: see above)
            self._shown = -1
            self._note_change()

    def _hyperparameters(self) -> tuple:
        """What a batch's update depends on besides the parameters and the rows: the optimizer (the object, which
        a new choice replaces) and its rate, the loss, the batch size."""
        return self.optimizer, self.optimizer.learning_rate, self.loss, self.batch_size

    # --- checkpoints and rewinding ---
    def _note_change(self) -> None:
        """Something changed the state outside the normal step: a checkpoint is due at the next batch boundary
        (and if a batch is under way, that batch cannot be replayed). A run under way sees it through ``_due``
        and stops its plain batches there, though its generator is kept across the change."""
        self._changed = True
        self._due = min(self._due, self.step)
        if self._shown >= 0:
            self._changed_in_batch = True

    def _checkpoint(self) -> None:
        """Keep the state now (between two batches) in the ring; the oldest go beyond its bounds."""
        values = self._capture()
        optimizer = values["optimizer"]
        nbytes = self._params.nbytes + sum(a.nbytes for slot in optimizer._slots().values() for a in slot.values())
        self._checkpoints.append(Checkpoint(self.step, self._changed_in_batch, values, nbytes))
        self._changed = self._changed_in_batch = False
        self._due = self.step + CHECKPOINT_EVERY
        ring = self._checkpoints
        while len(ring) > 1 and (len(ring) > CHECKPOINTS or _ring_bytes(ring) > CHECKPOINT_BYTES):
            del ring[0]

    @property
    def checkpoint_steps(self) -> tuple[int, ...]:
        """The steps of the checkpoints kept, oldest first."""
        return tuple(c.step for c in self._checkpoints)

    def _rewind_from(self, step: int) -> Checkpoint | None:
        """The checkpoint to replay from to reach ``step``: the latest strictly before it (at it, for step 0);
        None if there is none, or if the batch of ``step`` was changed while it was under way."""
        ring = self._checkpoints
        if not 0 <= step <= self.step:
            return None
        if step > 0 and (any(c.step == step and c.changed for c in ring)
                         or step == self.step and self._shown < 0 and self._changed_in_batch):  # (no checkpoint yet)
            return None
        found = None
        for c in ring:
            if c.step < step or c.step == step == 0:
                found = c
        return found

    def rewindable(self, step: int) -> bool:
        """Whether :meth:`rewind` can go back to ``step`` exactly."""
        return self._rewind_from(step) is not None

    def rewind(self, step: int, check: Callable[[list], None] | None = None) -> list[StepReport | EpochReport]:
        """Go back to the state right after update ``step`` (0: the start), exactly as the run was then.

        The latest checkpoint before ``step`` is taken back and the batches from there to ``step`` are
        replayed (by whole batches, as they were computed), and if ``step`` ended an epoch, its epoch report
        is made too. Returns the reports replayed, in order (none for step 0): the last
        :class:`StepReport` is that of ``step``. The hyperparameters are those the run had then; changes asked
        for with :meth:`configure` and not applied yet stay asked for. The checkpoints after ``step`` go.
        Only while nobody runs the trainer.

        ``check``, if given, is called with the reports replayed before anything is kept: whatever it raises
        puts the trainer back as it was and is raised again.

        :class:`ValueError` (one line; nothing changes) for a step older than the oldest checkpoint, later than
        the trainer's, or whose batch was changed while it was under way (shown phase by phase).
        """
        start = self._rewind_from(step)
        if start is None:
            if not 0 <= step <= self.step:
                raise ValueError(f"step {step} is not one of this run's (0 to {self.step})")
            oldest = self._checkpoints[0].step if self._checkpoints else self.step
            if step < oldest or step == 0:
                raise ValueError(f"step {step} is older than the oldest checkpoint kept (step {oldest})")
            raise ValueError(f"step {step} cannot be replayed: its batch was changed while it was shown")
        saved, ring, flags = self._capture(), list(self._checkpoints), (self._changed, self._changed_in_batch,
                                                                       self._due)
        try:
            self._apply(start.values)
            reports = self._replay(step)
            if check is not None:
                check(reports)
        except BaseException:
            self._apply(saved)
            self._checkpoints = ring
            self._changed, self._changed_in_batch, self._due = flags
            raise
        del self._checkpoints[next(i for i, c in enumerate(self._checkpoints) if c is start) + 1:]
        self._due = start.step + CHECKPOINT_EVERY
        self._changed = self._changed_in_batch = False
        if step > start.step:
            self._checkpoint()
        return reports

    def _replay(self, step: int) -> list[StepReport | EpochReport]:
        """Plain batches (and epoch ends) from a checkpoint's state until update ``step`` is done, and the end
        of its epoch if it ended one."""
        reports: list[StepReport | EpochReport] = []
        n = self.n_rows
        while True:
            if self._order is not None and self._cursor >= n:
                reports.append(self._quietly().run(self._end_epoch))
            if self.step >= step:
                return reports
            if self._order is None:
                self._start_epoch()
            report = self._quietly().run(self._batch_step)
            if isinstance(report, DivergedReport):
                raise ValueError(f"replaying step {report.step} diverged: the checkpoint is not this run's")
            reports.append(report)

    def checkpoints_to_json(self, limit: int = SAVED_CHECKPOINT_NUMBERS) -> list[dict]:
        """The newest checkpoints whose numbers add up to at most ``limit``, oldest first, as JSON-safe values
        (each a :meth:`state`; an epoch's order written once for the checkpoints that share it)."""
        chosen: list[Checkpoint] = []
        total = 0
        for c in reversed(self._checkpoints):
            order = c.values["order"]
            numbers = c.nbytes // 8 + (0 if order is None else len(order))
            if total + numbers > limit:
                break
            total += numbers
            chosen.append(c)
        out, previous = [], None
        for c in reversed(chosen):
            state = _state_json(c.values)
            if c.values["order"] is not None and c.values["order"] is previous:
                state["order"] = "previous"
            previous = c.values["order"]
            out.append({"step": c.step, "changed": c.changed, "state": state})
        return out

    def load_checkpoints(self, value: Any) -> None:
        """Take back :meth:`checkpoints_to_json`'s checkpoints, before the one of the state now (after a
        :meth:`restore`). :class:`ValueError` (one line; nothing changes) if they are malformed or not
        before this state."""
        if not isinstance(value, list) or len(value) > CHECKPOINTS:
            raise ValueError("the checkpoints are not a list")
        loaded: list[Checkpoint] = []
        previous = None
        for item in value:
            if not isinstance(item, dict) or not isinstance(item.get("state"), dict) or not isinstance(
                    item.get("changed"), bool):
                raise ValueError("a checkpoint is malformed")
            state = dict(item["state"])
            same = state.get("order") == "previous"
            if same:
                if previous is None:
                    raise ValueError("a checkpoint's order refers to none before it")
                state["order"] = None  # checked once, with the checkpoint that wrote it
            values = self._parse_state(state)
            if same:
                values["order"] = previous  # shared, as when they were taken
            previous = values["order"]
            step = int_from_json(item.get("step"), "a checkpoint's step")
            if step != values["step"] or values["shown"] >= 0 or values["diverged"] is not None:
                raise ValueError("a checkpoint is not one taken between two batches")
            if loaded and step < loaded[-1].step or step > self.step:
                raise ValueError("the checkpoints are not in the order of the run")
            optimizer = values["optimizer"]
            nbytes = values["params"].nbytes + sum(a.nbytes for slot in optimizer._slots().values()
                                                   for a in slot.values())
            loaded.append(Checkpoint(step, item["changed"], values, nbytes))
        self._checkpoints = loaded + self._checkpoints

    def evaluate(self, X: np.ndarray, y: np.ndarray) -> float:
        """The loss of the current model on ``(X, y)`` (NaN where it overflows)."""
        with np.errstate(all="ignore"):
            return self.loss.loss(self.model.predict(X), y)

    def run(self) -> Iterator[Report]:
        """Train until ``epochs`` epochs are done or training diverges, yielding reports.

        The generator may be dropped after any report; a new ``run()`` goes on from there.
        """
        n = self.n_rows
        while not self.finished:
            if self._shown < 0:
                if self._requests:
                    self.apply_requests()
                if self._changed or self.step >= self._due:
                    self._checkpoint()
                if self._order is None and self.epoch >= self.epochs:
                    return
            if self._order is None:
                self._start_epoch()
            if not self.phases and self._shown < 0:
                # The plain batches of the epoch under way, as long as nothing asks for another look (a change
                # requested, a checkpoint due, phases wanted): the loop a run spends its time in.
                quietly = self._quietly().run
                while self._cursor < n and not self._requests and self.step < self._due and not self.phases:
                    yield quietly(self._batch_step)
                    if self.diverged is not None:
                        return
                if self._cursor < n:
                    continue  # something asks for another look before the next batch
            elif self._cursor < n:  # a consumer may have stopped between a last batch and its epoch
                yield from self._phased_batch()  # a batch begun phase by phase ends so
                if self.diverged is not None:
                    return
            if self._cursor >= n:
                yield self._quietly().run(self._end_epoch)

    __iter__ = run

    def _start_epoch(self) -> None:
        n = self.n_rows
        order = self._rng.permutation(n) if self.shuffle else np.arange(n)
        self._order = _frozen(order)
        self._cursor = 0
        self._batch = 0
        self._loss_sum = 0.0

    # --- one batch: the same computation, in one go or phase by phase ---
    def _next_indices(self) -> np.ndarray:
        size = self._shown_rows if self._shown >= 0 else self.batch_size  # a batch under way keeps its rows
        return self._order[self._cursor : self._cursor + size]

    def in_flight_indices(self) -> np.ndarray | None:
        """The rows of the batch shown phase by phase and not yet updated (None between batches)."""
        return None if self._shown < 0 else self._next_indices()

    def _header(self, idx: np.ndarray) -> tuple:
        """The fields every report of this batch starts with: step, epoch, batch, batches per epoch, rows."""
        return self.step + 1, self.epoch + 1, self._batch, -(-self.n_rows // self.batch_size), idx, self._params

    def _reference_loss(self) -> tuple[float, str, str | None]:
        """The divergence test's reference, what it is, and why the data cannot be trained on (or None).

        The reference is the larger of the loss of the current parameters and the loss of always predicting
        the mean target, on the training rows. Call inside ``np.errstate(all="ignore")``.
        """
        baseline = self.loss.loss(np.full(self.n_rows, self.y.mean()), self.y)
        if not math.isfinite(baseline):
            return math.inf, "", ("the targets are too large for 64-bit floating point: even always predicting "
                                   "their mean gives a loss that is not finite")
        start = self.loss.loss(self.model.predict(self.X), self.y)
        if not math.isfinite(start):
            if self.step == 0:  # before any update: the data (or the start point), not the rate
                return math.inf, "", ("the loss at the start is not finite in 64-bit floating point (the "
                                      "features or the start point are too large)")
            return math.inf, "", None  # no finite reference here: only overflow counts
        if baseline >= start:
            return baseline, "the loss of always predicting the mean target", None
        return start, "the loss at the start" if self.step == 0 else "the loss where training resumed", None

    def _forward_backward(self, idx: np.ndarray) -> tuple[np.ndarray, float, np.ndarray, str, str | None]:
        """Predictions, loss and flat gradient of the batch, and what diverged and how (or None).

        Call inside ``np.errstate(all="ignore")``: overflow is what the checks are there to catch.
        """
        bad_data = None
        if self._reference is None:
            against, self._diverged_against = self._diverged_against, None
            if against is not None and against[2] == self._hyperparameters():  # going on after a divergence as if
                self._reference, self._reference_of = against[:2]  # nothing happened: it happens again
            else:
                self._reference, self._reference_of, bad_data = self._reference_loss()
        pred = self.model.forward(self.X.take(idx, axis=0))
        loss, d_pred = self.loss.loss_and_grad(pred, self.y.take(idx))
        gradient = self.model.backward_flat(d_pred)
        pred.flags.writeable = False
        gradient.flags.writeable = False
        reference = self._reference
        if bad_data is not None:
            self._reference = None  # the data may be fixed by then: look again when training goes on
            return pred, loss, gradient, "data", bad_data
        if not math.isfinite(loss):
            return pred, loss, gradient, "loss", "became infinite or NaN"
        factor = BLOWUP if self.loss.name == "mse" else math.sqrt(BLOWUP)
        if 0 < reference < math.inf and (self._loss_sum + loss * len(idx)) / self.n_rows > factor * reference:
            return pred, loss, gradient, "loss", (
                f"of its batch grew to {prose(loss)}, which puts the epoch's loss over {factor:g} times "
                f"{self._reference_of or 'its reference'} ({prose(reference)})")
        return pred, loss, gradient, "loss", None

    def _batch_step(self) -> StepReport | DivergedReport:
        """One batch without stopping at its phases: the fast path, the same computation as
        :meth:`_forward_backward` and :meth:`_commit` written out in one function (the fewest calls; a run
        spends most of its time here), between batches (none under way phase by phase). Call it through
        :meth:`_quietly`, which ignores floating-point errors (overflow is what the checks are there to catch) for
        a fraction of ``np.errstate``'s cost."""
        size = self.batch_size
        cursor = self._cursor
        idx = self._order[cursor : cursor + size]
        rows = len(idx)
        before, optimizer, model = self._params, self.optimizer, self.model
        lr, flat = optimizer.learning_rate, model.flat
        if self._reference is None:
            return self._slow_batch_step(idx)
        pred = model.forward(self.X.take(idx, axis=0))  # take: the rows of X[idx], a third of the time
        loss, d_pred = self.loss.loss_and_grad(pred, self.y.take(idx))
        gradient = model.backward_flat(d_pred)
        if not math.isfinite(loss):
            return self._diverge("loss", lr)
        reference, loss_fn, at = self._blowup_at
        if reference is not self._reference or loss_fn is not self.loss:  # _forward_backward's blow-up test, as a
            reference, loss_fn = self._reference, self.loss  # bound on the epoch's loss sum
            factor = BLOWUP if loss_fn is MSE else _ROOT_BLOWUP
            at = factor * reference * len(self.y) if 0 < reference < math.inf else math.inf
            self._blowup_at = (reference, loss_fn, at)
        if self._loss_sum + loss * rows > at:
            return self._slow_batch_step(idx)  # the slow path tests it exactly and says how
        optimizer.step_one(flat, gradient)
        after = flat.copy()
        # _finite, inline: a sum is finite unless an element is not (or it overflows: then look at each)
        if not math.isfinite(np.add.reduce(after)) and not np.isfinite(after).all():
            flat[...] = before  # a non-finite gradient shows up here too
            return self._diverge("parameters" if _finite(gradient) else "gradient", lr)
        pred.setflags(False)  # read-only (setflags(write=False), in a fifth of the time of flags.writeable)
        gradient.setflags(False)
        after.setflags(False)
        step = self.step + 1
        report = _new_tuple(StepReport, (Phase.UPDATE, step, self.epoch + 1, self._batch, -(-len(self.y) // size),
                                         idx, before, pred, loss, gradient, after, lr))
        self._params = after
        self.step = step
        self._cursor = cursor + rows
        self._batch += 1
        self._loss_sum += loss * rows
        return report

    def _slow_batch_step(self, idx: np.ndarray) -> StepReport | DivergedReport:
        """One batch through :meth:`_forward_backward` (the first after a new reference, or a blow-up)."""
        before, lr, flat = self._params, self.optimizer.learning_rate, self.model.flat
        with np.errstate(all="ignore"):
            pred, loss, gradient, what, problem = self._forward_backward(idx)
            if problem is not None:
                return self._diverge(what, lr, problem)
            self.optimizer.step([flat], [gradient])
            after = flat.copy()
            if not _finite(after):  # a non-finite gradient shows up here too
                flat[...] = before
                return self._diverge("parameters" if _finite(gradient) else "gradient", lr)
        return self._commit(idx, pred, loss, gradient, after, lr)

    def _phased_batch(self) -> Iterator[StepReport | DivergedReport]:
        """One batch, with a report before each of its five phases is complete.

        Resumable: the phases already reported (:attr:`phase_shown`, after a dropped generator or a restored
        state) are computed again but not reported again; nothing changes before the update.
        """
        idx = self._next_indices()
        header = self._header(idx)
        before, lr, flat = self._params, self.optimizer.learning_rate, self.model.flat
        shown = self._shown
        self._shown_rows = len(idx)
        if shown < Phase.BATCH:
            self._shown = Phase.BATCH
            yield StepReport(Phase.BATCH, *header, learning_rate=lr)
        with np.errstate(all="ignore"):
            pred, loss, gradient, what, problem = self._forward_backward(idx)
            gradient_finite = _finite(gradient)
        if shown < Phase.FORWARD:
            self._shown = Phase.FORWARD
            yield StepReport(Phase.FORWARD, *header, pred, learning_rate=lr)
        if problem is not None:
            yield self._diverge(what, lr, problem)
            return
        if shown < Phase.LOSS:
            self._shown = Phase.LOSS
            yield StepReport(Phase.LOSS, *header, pred, loss, learning_rate=lr)
        if not gradient_finite:
            yield self._diverge("gradient", lr)
            return
        if shown < Phase.GRADIENT:
            self._shown = Phase.GRADIENT
            yield StepReport(Phase.GRADIENT, *header, pred, loss, gradient, learning_rate=lr)
        self.apply_requests()  # a new rate or optimizer, chosen while the phases were shown, makes this update
        lr = self.optimizer.learning_rate
        with np.errstate(all="ignore"):
            self.optimizer.step([flat], [gradient])
            after = flat.copy()
            finite = _finite(after)
        if not finite:
            flat[...] = before
            yield self._diverge("parameters", lr)
            return
        yield self._commit(idx, pred, loss, gradient, after, lr)

    def _commit(self, idx, pred, loss, gradient, after, lr) -> StepReport:
        """Record a successful update and make its report."""
        header = self._header(idx)
        after.flags.writeable = False
        self._params = after
        self._shown = -1
        self.step += 1
        self._cursor += len(idx)
        self._batch += 1
        self._loss_sum += loss * len(idx)
        return StepReport(Phase.UPDATE, *header, pred, loss, gradient, after, lr)

    def _end_epoch(self) -> EpochReport:
        """The epoch's report; call it through :meth:`_quietly` (a loss may overflow: it is then infinite)."""
        self.epoch += 1
        self._order = None
        predict, loss = self.model.predict, self.loss.loss
        val = None if self.validation is None else loss(predict(self.validation[0]), self.validation[1])
        test = None if self.test is None else loss(predict(self.test[0]), self.test[1])
        return EpochReport(self.epoch, self.step, self._loss_sum / self.n_rows, val, test, self._params)

    def _diverge(self, what: str, lr: float, how: str = "became infinite or NaN") -> DivergedReport:
        self._shown = -1
        self._changed_in_batch = False  # a change during the failed batch changed no step that was made
        self.diverged = DivergedReport(self.step + 1, self.epoch + 1, self._batch, what, lr, self._params, how)
        return self.diverged


def _copy_optimizer(optimizer: Optimizer) -> Optimizer:
    """An optimizer of its own with the same hyperparameters and accumulators (copied)."""
    new = copy.copy(optimizer)
    for name, value in vars(optimizer).items():
        if isinstance(value, dict):
            setattr(new, name, {k: np.array(v, copy=True) for k, v in value.items()})
    return new


def _ring_bytes(ring: list[Checkpoint]) -> int:
    """The memory the checkpoints hold: their own arrays, and each epoch order once."""
    orders = {id(c.values["order"]): c.values["order"].nbytes for c in ring if c.values["order"] is not None}
    return sum(c.nbytes for c in ring) + sum(orders.values())


def _state_json(values: dict) -> dict:
    """A state from :meth:`Trainer._capture` as JSON-safe values (:meth:`Trainer.state`'s form)."""
    d = values["diverged"]
    return {
        "params": floats_to_json(values["params"]),
        "epoch": values["epoch"],
        "step": values["step"],
        "order": None if values["order"] is None else values["order"].tolist(),
        "cursor": values["cursor"],
        "batch": values["batch"],
        "loss_sum": float_to_json(values["loss_sum"]),
        "reference": None if values["reference"] is None else float_to_json(values["reference"]),
        "reference_of": values["reference_of"],
        "rng": values["rng"],
        "optimizer": values["optimizer"].state(),
        "loss": values["loss"].name,
        "batch_size": values["batch_size"],
        "epochs": values["epochs"],
        "shuffle": values["shuffle"],
        "shown_phase": values["shown"],
        "shown_rows": values["shown_rows"],
        "diverged": None if d is None else {
            "step": d.step, "epoch": d.epoch, "batch": d.batch, "what": d.what,
            "learning_rate": float_to_json(d.learning_rate), "params": floats_to_json(d.params), "how": d.how,
        },
    }
