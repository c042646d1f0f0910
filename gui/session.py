"""The session file: a JSON document that holds the whole window's work, and how its parts are written.

::

    {
      "format": "fitscope-session",
      "version": 1,
      "saved": "2025-01-31T12:00:00+00:00",
      "current_view": "surfaceView",
      "views": {"surfaceView": {...}, "bostonView": {...}, "raceView": {...}}
    }

Each view writes its own part (``session_state()``) and reads it back (``prepare_session(state)``, which
builds everything and returns a function that swaps it in). A view's part holds its data source (a built-in
name, or a CSV path with its target, features and a digest of the numbers), its settings and the values of
its controls, the trainer's exact state (:meth:`engine.trainer.Trainer.state`), the trajectory and the
history. Small arrays are lists of numbers; long ones (the trajectory) are base64 of their float64 bytes
(:mod:`engine.serial`): both read back bit for bit.

Reading is strict and safe: JSON only (nothing is unpickled or evaluated), NaN/Infinity tokens refused, the
format and version checked, every field type-checked. Anything wrong raises :class:`SessionError` with one
line for the user, before anything in the window has changed. Writing is atomic
(:func:`engine.export.atomic_write`).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
from PySide6.QtWidgets import QAbstractButton, QAbstractSlider, QComboBox, QDoubleSpinBox, QSpinBox, QWidget

from fitscope.engine.data import BUILTIN, DataError, Dataset, load_builtin, load_csv
from fitscope.engine.export import ExportError, atomic_write
from fitscope.engine.serial import array_from_json, array_to_json, float_from_json, float_to_json, int_from_json
from fitscope.engine.settings import FitSettings
from fitscope.engine.trainer import DivergedReport, Phase, StepReport
from fitscope.gui.history import History

FORMAT = "fitscope-session"
VERSION = 1
SUFFIX = ".json"
FILTER = "fitscope session (*.json);;All files (*)"
MAX_LAYERS, MAX_UNITS = 8, 4096  # the largest MLP a session may describe


class SessionError(Exception):
    """A session cannot be read (or written); ``str(e)`` is one line for the user."""


# --------------------------------------------------------------------------- the file
def write_session(path: str | os.PathLike[str], current_view: str, views: Mapping[str, dict]) -> None:
    """Write a session document to ``path`` atomically (:class:`SessionError` if it cannot be written)."""
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "saved": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "current_view": current_view,
        "views": dict(views),
    }
    try:
        text = json.dumps(doc, allow_nan=False, indent=1)
    except (TypeError, ValueError) as e:  # a value JSON cannot hold: a bug, but never a bad file
        raise SessionError(f"cannot save the session: {e}") from None
    try:
        atomic_write(path, text + "\n")
    except ExportError as e:
        raise SessionError(str(e)) from None


def _no_constant(token: str) -> float:
    raise ValueError(f"{token} is not a number JSON allows")


def _finite_float(text: str) -> float:
    x = float(text)
    if not math.isfinite(x):
        raise ValueError(f"{text} is out of range")
    return x


def read_session(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The session document at ``path``, its header checked; :class:`SessionError` if it is not one we read."""
    name = os.path.basename(os.fspath(path)) or os.fspath(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise SessionError(f"Cannot open {name}: there is no such file.") from None
    except IsADirectoryError:
        raise SessionError(f"Cannot open {name}: it is a folder.") from None
    except OSError as e:
        raise SessionError(f"Cannot open {name}: {e.strerror or e}.") from None
    except MemoryError:
        raise SessionError(f"Cannot open {name}: it is too large.") from None
    if not raw.strip():
        raise SessionError(f"{name} is empty: it is not a fitscope session.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SessionError(f"{name} is not a fitscope session (it is not a text file).") from None
    try:
        doc = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except json.JSONDecodeError as e:
        if e.pos >= len(text.rstrip()):
            raise SessionError(f"{name} is cut short: the file ends in the middle (it was not saved "
                               "completely).") from None
        raise SessionError(f"{name} is damaged: it is not valid JSON (line {e.lineno}, column {e.colno}).") from None
    except (ValueError, RecursionError):
        raise SessionError(f"{name} is damaged: it holds values a session cannot have.") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise SessionError(f"{name} is not a fitscope session (it is some other JSON file).")
    version = doc.get("version")
    if type(version) is not int or version < 1:
        raise SessionError(f"{name} is damaged: its format version is missing or invalid.")
    if version > VERSION:
        raise SessionError(f"{name} was saved by a newer fitscope (session version {version}); "
                           f"this one reads version {VERSION}. Update fitscope to open it.")
    if not isinstance(doc.get("views"), dict) or not isinstance(doc.get("current_view", ""), str):
        raise SessionError(f"{name} is damaged: it has no views.")
    return doc


# --------------------------------------------------------------------------- the data source
def _digest(dataset: Dataset) -> str:
    """A fingerprint of the numbers trained on (so a CSV changed since the session was saved is noticed)."""
    h = hashlib.sha256()
    for a in (dataset.X_train, dataset.y_train):
        h.update(np.ascontiguousarray(a, dtype="<f8").tobytes())
    return h.hexdigest()


def data_source(dataset: Dataset) -> dict[str, Any]:
    """Where ``dataset`` comes from: ``{"builtin": name}`` or ``{"csv": path, "target", "features", "sha256"}``."""
    if dataset.source in BUILTIN:
        return {"builtin": dataset.source}
    return {"csv": dataset.source, "target": dataset.target_name, "features": list(dataset.feature_names),
            "sha256": _digest(dataset)}


def load_source(source: Any, current: Dataset | None = None) -> Dataset:
    """The data set ``source`` names: ``current`` itself if it is that one, else loaded afresh."""
    if not isinstance(source, dict):
        raise SessionError("the session names no data")
    if "builtin" in source:
        name = source["builtin"]
        if name not in BUILTIN:
            raise SessionError(f"the session names an unknown built-in data set, {name!r}")
        if current is not None and current.source == name:
            return current
        return load_builtin(name)
    path, target, features = source.get("csv"), source.get("target"), source.get("features")
    if not (isinstance(path, str) and isinstance(target, str) and isinstance(features, list)
            and all(isinstance(f, str) for f in features) and isinstance(source.get("sha256"), str)):
        raise SessionError("the session's data source is malformed")
    if (current is not None and current.source == path and current.target_name == target
            and list(current.feature_names) == features and _digest(current) == source["sha256"]):
        return current
    if not os.path.exists(path):
        raise SessionError(f"its data file {path} is gone (moved or deleted)")
    try:
        dataset = load_csv(path, target=target, features=features)
    except DataError as e:
        raise SessionError(f"its data file cannot be read: {e}") from None
    if _digest(dataset) != source["sha256"]:
        raise SessionError(f"its data file {path} has changed since the session was saved")
    return dataset


# --------------------------------------------------------------------------- settings
def settings_to_json(settings: FitSettings) -> dict[str, Any]:
    out = dataclasses.asdict(settings)
    out["hidden"] = list(settings.hidden)
    out["init"] = None if settings.init is None else [float_to_json(v) for v in settings.init]
    for key in ("learning_rate", "momentum", "validation_split"):
        out[key] = float_to_json(out[key])
    return out


def settings_from_json(value: Any) -> FitSettings:
    """A validated :class:`FitSettings` (:class:`ValueError` if a field is missing, of the wrong type, or out of
    range)."""
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
            if len(v) > MAX_LAYERS or any(h > MAX_UNITS for h in v):  # no file may make us allocate gigabytes
                raise ValueError(f"the model is larger than fitscope builds ({MAX_LAYERS} layers of "
                                 f"{MAX_UNITS} units at most)")
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


# --------------------------------------------------------------------------- reports and the history
def _opt_array(a: np.ndarray | None) -> dict | None:
    return None if a is None else array_to_json(a)


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def _array(value: Any, what: str, n: int | None = None, ndim: int = 1, dtype: str = "float64") -> np.ndarray:
    a = array_from_json(value, what, dtype=dtype, ndim=ndim)
    if n is not None and a.shape[-1] != n:
        raise ValueError(f"{what} has {a.shape[-1]} values, not {n}")
    return _frozen(a)


def step_to_json(report: StepReport | None) -> dict | None:
    if report is None:
        return None
    return {
        "phase": int(report.phase), "step": report.step, "epoch": report.epoch, "batch": report.batch,
        "batches_per_epoch": report.batches_per_epoch, "indices": array_to_json(report.indices),
        "params_before": array_to_json(report.params_before), "predictions": _opt_array(report.predictions),
        "loss": None if report.loss is None else float_to_json(report.loss),
        "gradient": _opt_array(report.gradient), "params_after": _opt_array(report.params_after),
        "learning_rate": float_to_json(report.learning_rate),
    }


def step_from_json(value: Any, n_params: int, n_rows: int) -> StepReport | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("the last step is malformed")
    phase = int_from_json(value["phase"], "the phase")
    if phase > max(Phase):
        raise ValueError("the phase is unknown")
    indices = _array(value["indices"], "the batch's rows", dtype="int64")
    if indices.size and (indices.min() < 0 or indices.max() >= n_rows):
        raise ValueError("the batch's rows are out of range")

    def opt(key: str, n: int | None) -> np.ndarray | None:
        return None if value[key] is None else _array(value[key], f"the last step's {key}", n)

    return StepReport(
        Phase(phase), int_from_json(value["step"], "the step"), int_from_json(value["epoch"], "the epoch"),
        int_from_json(value["batch"], "the batch"), int_from_json(value["batches_per_epoch"], "the batch count"),
        indices, _array(value["params_before"], "the last step's parameters", n_params),
        opt("predictions", len(indices)),
        None if value["loss"] is None else float_from_json(value["loss"], "the batch loss"),
        opt("gradient", n_params), opt("params_after", n_params),
        float_from_json(value["learning_rate"], "the learning rate"),
    )


def diverged_to_json(report: DivergedReport | None) -> dict | None:
    if report is None:
        return None
    return {"step": report.step, "epoch": report.epoch, "batch": report.batch, "what": report.what,
            "learning_rate": float_to_json(report.learning_rate), "params": array_to_json(report.params),
            "how": report.how}


def diverged_from_json(value: Any, n_params: int) -> DivergedReport | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value["what"], str) or not isinstance(value["how"], str):
        raise ValueError("the divergence is malformed")
    return DivergedReport(
        int_from_json(value["step"], "the divergence's step"), int_from_json(value["epoch"], "its epoch"),
        int_from_json(value["batch"], "its batch"), value["what"],
        float_from_json(value["learning_rate"], "its learning rate"),
        _array(value["params"], "its parameters", n_params), value["how"],
    )


def history_to_json(history: History) -> dict[str, Any]:
    return {
        "params": array_to_json(history.params),
        "batch_loss": array_to_json(history.batch_loss),
        "epochs": array_to_json(history.epochs),
        "last_step": step_to_json(history.last_step),
        "diverged": diverged_to_json(history.diverged),
    }


def history_from_json(value: Any, n_params: int, n_rows: int, room: int = 1023) -> History:
    """A :class:`History` of a model with ``n_params`` parameters trained on ``n_rows`` rows."""
    if not isinstance(value, dict):
        raise ValueError("the history is malformed")
    params = array_from_json(value["params"], "the trajectory", ndim=2)
    if params.shape[1] != n_params or len(params) < 1:
        raise ValueError(f"the trajectory is not one of {n_params} parameters")
    batch_loss = array_from_json(value["batch_loss"], "the batch losses", ndim=1)
    epochs = array_from_json(value["epochs"], "the epoch losses", ndim=2)
    last = step_from_json(value["last_step"], n_params, n_rows)
    diverged = diverged_from_json(value["diverged"], n_params)
    return History.from_arrays(params, batch_loss, epochs, last, diverged, room=room)


# --------------------------------------------------------------------------- controls
def read_controls(controls: Mapping[str, QWidget]) -> dict[str, Any]:
    """The values the user set: a spin box's number, a check box's state, a slider's position, a combo box's
    item (its data if that is a name, else its index)."""
    out: dict[str, Any] = {}
    for key, w in controls.items():
        if isinstance(w, QComboBox):
            data = w.currentData()
            out[key] = data if isinstance(data, str) else w.currentIndex()
        elif isinstance(w, QAbstractButton):
            out[key] = w.isChecked()
        elif isinstance(w, QDoubleSpinBox | QSpinBox | QAbstractSlider):
            out[key] = w.value()
    return out


def write_controls(controls: Mapping[str, QWidget], values: Any) -> list[str]:
    """Set the controls from ``values`` (as :func:`read_controls` made them) without their signals firing.

    A value of the wrong type, or naming no item, is skipped; numbers out of range are clamped by the control.
    Returns the keys set.
    """
    if not isinstance(values, dict):
        return []
    done = []
    for key, w in controls.items():
        if key not in values:
            continue
        v = values[key]
        blocked = w.blockSignals(True)
        try:
            if isinstance(w, QComboBox):
                index = w.findData(v) if isinstance(v, str) else (v if type(v) is int else -1)
                if not 0 <= index < w.count():
                    continue
                w.setCurrentIndex(index)
            elif isinstance(w, QAbstractButton):
                if not isinstance(v, bool):
                    continue
                w.setChecked(v)
            elif isinstance(w, QDoubleSpinBox):
                if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                    continue
                w.setValue(float(v))
            elif isinstance(w, QSpinBox | QAbstractSlider):
                if type(v) is not int:
                    continue
                w.setValue(max(w.minimum(), min(w.maximum(), v)))
            else:
                continue
            done.append(key)
        finally:
            w.blockSignals(blocked)
    return done


# --------------------------------------------------------------------------- fields of a view's part
def bool_field(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{what} is not true or false")
    return value


def range_field(value: Any, what: str = "the plot's range") -> tuple[float, float, float, float]:
    """A visible range ``(x0, x1, y0, y1)``: four finite numbers, each pair increasing."""
    if not isinstance(value, list) or len(value) != 4:
        raise ValueError(f"{what} is not four numbers")
    x0, x1, y0, y1 = (float_from_json(v, what) for v in value)
    if not all(math.isfinite(v) for v in (x0, x1, y0, y1)) or not (x0 < x1 and y0 < y1):
        raise ValueError(f"{what} is not a valid window")
    return x0, x1, y0, y1


def index_field(value: Any, n: int, what: str) -> int:
    """A whole number in ``[0, n)``."""
    i = int_from_json(value, what)
    if i >= n:
        raise ValueError(f"{what} is out of range")
    return i


def check_trainer_matches(history: History, params: np.ndarray) -> None:
    """The trajectory must end where the trainer stands."""
    if not np.array_equal(history.current, params):
        raise ValueError("the trajectory does not end at the trainer's parameters")
