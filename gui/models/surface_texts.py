"""Which sentences of the loss-surface tab's texts are true now, decided from the numbers (resources/phases.md).

A text says "the arrow points downhill" or "the steps zigzag" only when the state on screen makes it so:
:func:`claims` picks, for each conditional placeholder of a phase's text, the section of ``phases.md`` whose
condition holds, and fills it in. :data:`CONDITIONS` states each section's condition in words; the tests check
every choice against the engine's numbers.

The conditions:

- ``batch_kind``, ``loss_kind``: the batch is all the training rows (``… all``) or a part (``… part``).
- ``order``: the trainer shuffles each epoch (``order shuffled``) or not (``order fixed``).
- ``gradient_kind``: the full batch (``gradient all``); a batch gradient of zero (``gradient flat``); a part whose
  negative gradient points uphill on the surface of all the data (``gradient uphill``: the directional derivative
  of the training loss along it is positive), else ``gradient part``.
- ``path_kind`` (while running): MAE (``path mae``); SGD with MSE and full batches below 1/λmax
  (``path smooth``), below 2/λmax (``path zigzag``), else ``path diverging``, λmax being the largest eigenvalue
  of the full-batch Hessian; SGD with MSE on a part of the data per batch (``path batches``: those limits as a
  guide);
  momentum (``path momentum``, its full-batch limit 2(1 + μ)/λmax); RMSProp and Adam (``path adaptive``); but
  the last epoch's training loss above the start's, whatever the rest (``path rising``).
- ``noise``: a part of the data per batch (``noise``), else nothing.
- ``ended`` (when done): the training loss within 0.1 % of the optimum's (``ended reached``); higher than at the
  start (``ended rising``); the epochs' loss still falling steadily (``ended short``: :func:`still_falling`); SGD
  with MSE whose slowest direction is still far from the bottom (``ended slow``: :func:`slowest_left`); else MAE
  (``ended mae``), RMSProp or Adam (``ended adaptive``), a part of the data per batch (``ended noisy``), or
  ``ended short``.
"""

from __future__ import annotations

import weakref

import numpy as np

from fitscope import resources
from fitscope.engine.curvature import curvature_of, stability_limit
from fitscope.engine.numbers import prose

#: Each conditional section of phases.md and the condition under which :func:`claims` uses it.
CONDITIONS: dict[str, str] = {
    "batch all": "batch size ≥ training rows",
    "batch part": "batch size < training rows",
    "order shuffled": "settings.shuffle",
    "order fixed": "not settings.shuffle",
    "loss all": "batch size ≥ training rows",
    "loss part": "batch size < training rows",
    "gradient all": "batch size ≥ training rows",
    "gradient flat": "batch gradient = 0",
    "gradient part": "a part, −batch gradient downhill on the full loss",
    "gradient uphill": "a part, −batch gradient uphill on the full loss",
    "path mae": "loss MAE",
    "path smooth": "SGD, MSE, full batches, lr < 1/λmax",
    "path zigzag": "SGD, MSE, full batches, 1/λmax ≤ lr < 2/λmax",
    "path diverging": "SGD, MSE, full batches, lr ≥ 2/λmax",
    "path batches": "SGD, MSE, a part of the data per batch",
    "path momentum": "momentum, MSE",
    "path adaptive": "RMSProp or Adam, MSE",
    "path rising": "the last epoch's training loss above the start's (before all the above)",
    "noise": "batch size < training rows",
    "ended reached": "training loss ≤ 1.001 × best",
    "ended rising": "not reached, training loss above the start's",
    "ended short": "not reached, the epochs' loss still falling (or full batches)",
    "ended slow": "not reached, not falling steadily, SGD, MSE, more than a tenth of the start's distance left "
                  "along the slowest direction",
    "ended mae": "not reached, not falling, loss MAE",
    "ended adaptive": "not reached, not falling, RMSProp or Adam",
    "ended noisy": "not reached, not falling, a part of the data per batch",
}

#: Relative distance to the optimum's loss that counts as having reached it.
REACHED = 1e-3
#: Epochs in each of the two windows :func:`still_falling` compares.
RECENT = 10


def section(key: str, **values: object) -> str:
    """The section ``key`` of phases.md, filled in with ``values``."""
    return resources.sections("phases.md")[key].format(**values)


def full_gradient(run, params: np.ndarray) -> np.ndarray:
    """The gradient of the training loss over all training rows at (kernel, bias) ``params``."""
    exp = run.experiment
    x = exp.X[:, 0]
    d = exp.loss.grad(params[0] * x + params[1], exp.y)
    return np.array([d @ x, d.sum()])


def typical_miss(loss: float, kind: str, unit: str) -> str:
    """A training loss in the data's units: ``"√MSE: a typical miss of 0.0312 s"``, ``"a typical miss of …"``."""
    value = np.sqrt(loss) if kind == "mse" else loss
    amount = f"{prose(value)} {unit}".rstrip() if np.isfinite(value) else "–"
    return f"√MSE: a typical miss of {amount}" if kind == "mse" else f"a typical miss of {amount}"


def choices(run, step, moment: str | None, train_loss: float | None = None) -> dict[str, str]:
    """The section chosen for each conditional placeholder the text of ``moment`` (a section of phases.md:
    ``batch``, ``loss``, ``gradient``, ``running``, ``done``…) uses, by placeholder (see the module's
    description). ``train_loss``: the training loss now, needed when ``moment`` is ``done``."""
    exp = run.experiment
    settings = run.settings
    n_train = len(exp.y)
    part = step is not None and len(step.indices) < n_train
    part_batches = settings.batch_size < n_train
    if moment == "batch":
        return {"batch_kind": "batch part" if part else "batch all",
                "order": "order shuffled" if settings.shuffle else "order fixed"}
    if moment == "loss":
        return {"loss_kind": "loss part" if part else "loss all"}
    if moment == "gradient" and step.gradient is not None:
        if not part:
            return {"gradient_kind": "gradient all"}
        if not np.any(step.gradient):
            return {"gradient_kind": "gradient flat"}
        slope = float(full_gradient(run, step.params) @ -np.asarray(step.gradient))
        return {"gradient_kind": "gradient uphill" if slope > 0 else "gradient part"}
    if moment == "running":
        epochs = run.history.epochs
        if len(epochs) and epochs[-1, 2] > start_loss(run):
            return {"path_kind": "path rising"}
        return {"path_kind": path_key(run, settings.learning_rate)}
    if moment == "done" and train_loss is not None:
        best = run.train_loss(np.asarray(run.optimum()))
        if train_loss <= best * (1 + REACHED) + 1e-15:
            return {"ended": "ended reached"}
        if train_loss > start_loss(run):
            return {"ended": "ended rising"}
        if still_falling(run.history.epochs[:, 2]):
            return {"ended": "ended short"}
        if (settings.loss == "mse" and settings.optimizer == "sgd"
                and slowest_left(run, settings.learning_rate, run.history.steps) > SLOW_LEFT):
            return {"ended": "ended slow"}
        if settings.loss == "mae":
            return {"ended": "ended mae"}
        if settings.optimizer in ("rmsprop", "adam"):
            return {"ended": "ended adaptive"}
        return {"ended": "ended noisy" if part_batches else "ended short"}
    return {}


def still_falling(epoch_losses: np.ndarray) -> bool:
    """The training loss still falls steadily: fewer than 2 × :data:`RECENT` epochs, or every one of the last
    :data:`RECENT` epochs below the median of the :data:`RECENT` before them, and their median 1 % lower (a noisy
    loss that only jitters, however low it ends, is not falling)."""
    if len(epoch_losses) < 2 * RECENT:
        return True
    recent, before = epoch_losses[-RECENT:], epoch_losses[-2 * RECENT:-RECENT]
    typical = float(np.median(before))
    return bool(recent.max() < typical and np.median(recent) < 0.99 * typical)


#: The part of the start's distance to the minimum, along the slowest direction, above which a run has not
#: come near it (``ended slow``).
SLOW_LEFT = 0.1


def slowest_left(run, lr: float, steps: int) -> float:
    """The part of the start's distance to the minimum that ``steps`` steps of gradient descent at rate ``lr`` leave
    along the slowest direction of the MSE loss (its smallest Hessian eigenvalue λmin): ``|1 − lr·λmin|^steps``
    (batches follow it on average)."""
    lam = max(curvature_of(run.experiment).lam_min, 0.0)
    return float(abs(1.0 - lr * lam) ** max(0, steps))


_START_LOSSES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # history → (loss name, loss at its start)


def start_loss(run) -> float:
    """The training loss at the start of ``run``'s history (computed once per history and loss)."""
    h, name = run.history, run.experiment.loss.name
    kept = _START_LOSSES.get(h)
    if kept is None or kept[0] != name:
        kept = _START_LOSSES[h] = (name, run.train_loss(h.params[0]))
    return kept[1]


def path_key(run, lr: float) -> str:
    """The ``path …`` section for training at learning rate ``lr``."""
    settings = run.settings
    if settings.loss == "mae":
        return "path mae"
    if settings.optimizer == "sgd":
        if settings.batch_size < len(run.experiment.y):
            return "path batches"
        lam = curvature_of(run.experiment).lam_max
        return "path smooth" if lr * lam < 1 else "path zigzag" if lr * lam < 2 else "path diverging"
    return "path momentum" if settings.optimizer == "momentum" else "path adaptive"


#: Every placeholder :func:`claims` fills (empty when the moment does not use it).
PLACEHOLDERS = ("batch_kind", "order", "loss_kind", "gradient_kind", "path_kind", "noise", "ended", "n_train",
                "full_loss", "best_loss", "miss", "points_are")


def claims(run, step, moment: str | None, values: dict[str, object]) -> dict[str, str]:
    """The conditional placeholders of phases.md filled in for the text of ``moment`` (``values``: the other
    numbers of the text, which the chosen sections may quote)."""
    exp = run.experiment
    settings = run.settings
    n_train = len(exp.y)
    out = dict.fromkeys(PLACEHOLDERS, "")
    out["n_train"] = str(n_train)
    filled = {**values, "n_train": n_train, "batch_size": min(settings.batch_size, n_train)}
    if moment == "loss" and step is not None:
        filled["full_loss"] = out["full_loss"] = prose(run.train_loss(np.asarray(step.params)))
    train_loss = None
    if moment == "done":
        train_loss = run.train_loss(run.current)
        filled["best_loss"] = out["best_loss"] = prose(run.train_loss(np.asarray(run.optimum())))
        out["miss"] = typical_miss(train_loss, settings.loss, run.dataset.target_unit)
    if step is not None:
        out["points_are"] = "highlighted point is" if len(step.indices) == 1 else "highlighted points are"
    if moment == "running":
        if settings.loss == "mse":
            lam = curvature_of(exp).lam_max
            limit = stability_limit(lam, settings.optimizer, settings.momentum)
            lr = settings.learning_rate
            filled.update(zigzag_rate=prose(1 / lam), limit=prose(limit) if limit else "–", mu=prose(settings.momentum),
                          swing=prose(abs(1 - lr * lam)),
                          side="below" if limit and lr < limit else "above",
                          relation="below both" if lr * lam < 1 else "between them" if lr * lam < 2 else "above both")
        if settings.batch_size < n_train:
            out["noise"] = section("noise", **filled)
    for name, key in choices(run, step, moment, train_loss).items():
        out[name] = section(key, **filled)
    return out
