"""The settings of one ``fit()`` run, with TensorFlow.js defaults.

A :class:`FitSettings` is a frozen value: change one with :func:`dataclasses.replace`.
Each built-in data set carries the book's settings as its :attr:`Dataset.defaults`.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field
from typing import Any

from .files import human_size
from .numbers import prose
from .serial import float_from_json, float_to_json, int_from_json

LOSSES = ("mse", "mae")
OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")
MODELS = ("linear", "mlp")
ACTIVATIONS = ("sigmoid", "relu", "tanh", "linear")

#: tfjs default learning rates: ``tf.train.sgd`` has none, ``'sgd'`` as a string means 0.01;
#: ``'adam'`` and ``'rmsprop'`` mean 0.001.
DEFAULT_LEARNING_RATE = {"sgd": 0.01, "momentum": 0.01, "rmsprop": 0.001, "adam": 0.001}

# --- The ranges of the settings: one place for the app's controls, the CLI and sessions ---
#: Learning rates the app's fields take (the CLI and the engine take any positive finite rate): down to what a
#: line fitted to huge numbers needs (its stable rates are near 1/x², 1e-12 for x in the millions).
LEARNING_RATE_RANGE = (1e-300, 1000.0)
#: The log-scale learning-rate slider's span (the field beside it goes further).
LEARNING_RATE_SLIDER = (1e-4, 1000.0)
#: The largest seed (NumPy takes larger ones; the app's fields and sessions stop here, as tfjs's seeds do).
SEED_MAX = 2**31 - 1
#: The most epochs one run may be set to.
EPOCHS_MAX = 1_000_000
#: The largest validation split the app offers.
VALIDATION_SPLIT_MAX = 0.9
#: The largest momentum (and decay rate) the app's fields take: 1 would never forget.
MOMENTUM_MAX = 0.999
#: The largest MLP: hidden layers, and units per hidden layer.
MAX_LAYERS, MAX_UNITS = 8, 4096
#: The largest batch size (a batch larger than the training rows is all of them, as in tfjs).
BATCH_SIZE_MAX = 1_000_000_000
#: The most parameters (weights and biases) a model may have: 8 MB for each copy of them.
MAX_PARAMS = 1_000_000
#: The most memory a model may need (estimated by :func:`model_size`, before anything is allocated).
MAX_MODEL_BYTES = 2_000_000_000
#: The largest CSV file read (checked from its size before reading; parsing takes several times as much memory).
MAX_CSV_BYTES = 200_000_000
#: The most lines a CSV file may have (counted before parsing: each line costs memory while it is parsed).
MAX_CSV_LINES = 10_000_000
#: The largest session file read (checked from its size before reading).
MAX_SESSION_BYTES = 512 * 2**20  # three tabs, their histories (a trajectory holds up to 32 MiB) and checkpoints


@dataclass(frozen=True, slots=True)
class FitSettings:
    """Everything that decides what ``fit()`` computes, apart from the data."""

    model: str = "linear"
    hidden: tuple[int, ...] = (50,)
    activation: str = "sigmoid"
    loss: str = "mse"
    optimizer: str = "sgd"
    learning_rate: float = 0.01
    momentum: float = 0.9
    batch_size: int = 32
    epochs: int = 200
    validation_split: float = 0.0
    shuffle: bool = True
    #: Shuffle the training rows once, with the seed, before the validation split is taken off, as
    #: tfjs-examples' Boston Housing loader does (its CSV keeps the towns' original order).
    shuffle_data: bool = False
    seed: int = 0
    normalize: bool = False
    #: Initial (kernel, bias) of a one-feature linear model; ``None`` draws them (Glorot uniform, zero bias).
    init: tuple[float, float] | None = field(default=None)

    def validate(self, n_rows: int | None = None, n_features: int | None = None, n_test_rows: int = 0) -> None:
        """Raise :class:`ValueError` with a one-line message if a setting is out of range.

        The model's size is checked too (:func:`model_size` against :data:`MAX_PARAMS` and
        :data:`MAX_MODEL_BYTES`), before anything is built: on the data's shape (``n_rows`` training-file rows,
        ``n_features``, ``n_test_rows``) when given, else on one feature and one row.
        """
        for name in ("batch_size", "epochs", "seed"):
            if not _whole(getattr(self, name)):
                raise ValueError(f"the setting {name} must be a whole number, not {getattr(self, name)!r}")
        if not isinstance(self.hidden, tuple) or not all(_whole(h) for h in self.hidden):
            raise ValueError("the hidden layers must be whole numbers of units")
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r} (choose {', '.join(MODELS)})")
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r} (choose {', '.join(LOSSES)})")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r} (choose {', '.join(OPTIMIZERS)})")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r} (choose {', '.join(ACTIVATIONS)})")
        if not (self.learning_rate > 0 and self.learning_rate < float("inf")):
            raise ValueError(f"the learning rate must be a positive number, not {self.learning_rate!r}")
        if not (0 <= self.momentum < float("inf")):
            raise ValueError(f"the momentum must be a number >= 0, not {self.momentum!r}")
        if not 1 <= self.batch_size <= BATCH_SIZE_MAX:
            raise ValueError(f"the batch size must be from 1 to {BATCH_SIZE_MAX:,}, not {self.batch_size}")
        if not 0 <= self.epochs <= EPOCHS_MAX:
            raise ValueError(f"the number of epochs must be from 0 to {EPOCHS_MAX:,}, not {self.epochs}")
        if not 0 <= self.validation_split < 1:
            raise ValueError(f"the validation split must be in [0, 1), not {self.validation_split}")
        if not 0 <= self.seed <= SEED_MAX:
            raise ValueError(f"the seed must be a whole number from 0 to {SEED_MAX}, not {self.seed}")
        if self.init is not None and self.model != "linear":
            raise ValueError("an initial (kernel, bias) applies to a one-feature linear model only")
        if self.init is not None and not (len(self.init) == 2 and all(math.isfinite(v) for v in self.init)):
            raise ValueError(f"the initial (kernel, bias) must be two finite numbers, not {self.init!r}")
        if any(h < 1 for h in self.hidden) or (self.model == "mlp" and not self.hidden):
            raise ValueError("each hidden layer needs at least one unit")
        if self.model == "mlp" and (len(self.hidden) > MAX_LAYERS or any(h > MAX_UNITS for h in self.hidden)):
            raise ValueError(f"the model is larger than fitscope builds ({MAX_LAYERS} hidden layers of "
                             f"{MAX_UNITS:,} units at most)")
        # Without the data's shape, at least one feature and one row: the hidden layers alone can be too many.
        params, size = model_size(self, n_features or 1, max(n_rows or 0, n_test_rows))
        if params > MAX_PARAMS:
            raise ValueError(f"the model would have {params:,} parameters, more than the {MAX_PARAMS:,} "
                             "fitscope builds: use fewer or smaller hidden layers")
        if size > MAX_MODEL_BYTES:
            raise ValueError(f"the model would need about {human_size(size)} of memory, more than the "
                             f"{human_size(MAX_MODEL_BYTES)} fitscope allows: use fewer or smaller hidden layers, "
                             "or fewer rows")
        if n_rows is not None:
            n_train = n_train_rows(n_rows, self.validation_split)
            if n_train < 1:
                raise ValueError(
                    f"a validation split of {self.validation_split} leaves no training rows out of {n_rows}"
                )


def model_size(settings: FitSettings, n_features: int, n_rows: int) -> tuple[int, int]:
    """The number of parameters of the model ``settings`` describe, and the bytes training it may take.

    The bytes: the parameters and the arrays of their size (gradient, optimizer accumulators, the copies
    reports hold: ten in all), plus the activations of a forward and backward pass over ``n_rows`` rows
    (the largest set evaluated at once) or a batch, whichever is larger; all float64. Pure arithmetic on the
    sizes: nothing is allocated.
    """
    widths = [int(n_features), *(settings.hidden if settings.model == "mlp" else ()), 1]
    params = sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:], strict=False))
    activations = max(int(n_rows), 1) * (sum(widths[1:]) + 2 * max(widths[1:]))  # a batch is never larger
    return params, 8 * (10 * params + activations)


def _whole(value: object) -> bool:
    """An integer, and not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def n_train_rows(n_rows: int, validation_split: float) -> int:
    """Rows kept for training by tfjs's ``validationSplit``: ``floor(n * (1 - split))``, the first ones."""
    if validation_split <= 0:
        return n_rows
    return int(n_rows * (1 - validation_split))


def check_app_ranges(settings: FitSettings) -> None:
    """:class:`ValueError` (one line) for a setting beyond what the app's fields take (a remembered or saved
    value from elsewhere): the learning rate, the validation split, the momentum."""
    lo, hi = LEARNING_RATE_RANGE
    if not lo <= settings.learning_rate <= hi:
        raise ValueError(f"the learning rate {prose(settings.learning_rate)} is outside the app's "
                         f"{prose(lo)} to {prose(hi)}")
    if settings.validation_split > VALIDATION_SPLIT_MAX:
        raise ValueError(f"the validation split {settings.validation_split:g} is above {VALIDATION_SPLIT_MAX:g}")
    if settings.momentum > MOMENTUM_MAX:
        raise ValueError(f"the momentum {settings.momentum:g} is above {MOMENTUM_MAX:g}")
    if settings.epochs < 1:
        raise ValueError("the app runs at least one epoch")


def settings_values(settings: FitSettings) -> dict[str, Any]:
    """The settings as a plain mapping of field name to value."""
    return {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}


def settings_to_json(settings: FitSettings) -> dict[str, Any]:
    """The settings as a JSON object (every field; floats exact, non-finite ones as strings)."""
    out = dataclasses.asdict(settings)
    out["hidden"] = list(settings.hidden)
    out["init"] = None if settings.init is None else [float_to_json(v) for v in settings.init]
    for key in ("learning_rate", "momentum", "validation_split"):
        out[key] = float_to_json(out[key])
    return out


def settings_from_json(value: Any) -> FitSettings:
    """Validated :class:`FitSettings` from :func:`settings_to_json`'s object.

    :class:`ValueError` (one line) if a field is missing, of the wrong type, or out of range; the model's size
    is checked before anything is built from it.
    """
    if not isinstance(value, dict):
        raise ValueError("the settings are not a JSON object")
    fields = {f.name: f for f in dataclasses.fields(FitSettings)}
    if set(value) != set(fields):
        raise ValueError("the settings do not have the fields they should")
    kwargs: dict[str, Any] = {}
    for name, v in value.items():
        default = fields[name].default
        if name == "hidden":
            if not isinstance(v, list) or not all(type(h) is int for h in v):
                raise ValueError("the hidden layers are not a list of whole numbers")
            if len(v) > MAX_LAYERS or any(h > MAX_UNITS for h in v):
                raise ValueError(f"the model is larger than fitscope builds ({MAX_LAYERS} hidden layers of "
                                 f"{MAX_UNITS:,} units at most)")
            kwargs[name] = tuple(v)
        elif name == "init":
            if v is not None and not (isinstance(v, list) and len(v) == 2):
                raise ValueError("the start point is not two numbers")
            kwargs[name] = None if v is None else tuple(float_from_json(x, "the start point") for x in v)
        elif isinstance(default, bool):
            if not isinstance(v, bool):
                raise ValueError(f"the setting {name} is not true or false")
            kwargs[name] = v
        elif isinstance(default, int):
            kwargs[name] = int_from_json(v, f"the setting {name}", minimum=None)
        elif isinstance(default, float):
            kwargs[name] = float_from_json(v, f"the setting {name}")
        else:
            if not isinstance(v, str):
                raise ValueError(f"the setting {name} is not a name")
            kwargs[name] = v
    settings = FitSettings(**kwargs)
    settings.validate()
    if settings.init is not None and not all(math.isfinite(x) for x in settings.init):
        raise ValueError("the start point is not finite")
    return settings
