"""The multi-feature tab's texts (resources/boston.md), each sentence said only where the numbers make it true.

:func:`explanation` writes the sidebar's text for a :class:`~.multi.MultiRun`, and :func:`divergence_text` the
message of a divergence. Sentences that hold only in some states are sections of their own; :data:`CONDITIONS`
says when each is used, and the tests check each against the engine's numbers.
"""

from __future__ import annotations

import html
from dataclasses import replace

import numpy as np

from fitscope.engine.curvature import normalization_effect
from fitscope.engine.data import Dataset
from fitscope.engine.numbers import prose
from fitscope.engine.trainer import DivergedReport

#: Each conditional section of boston.md and when it is used.
CONDITIONS: dict[str, str] = {
    "weights normalized": "linear, normalization on",
    "weights raw": "linear, normalization off",
    "raw diverges": "normalization off, linear, MSE, SGD, lr ≥ 2/λmax of the raw features (≥ 4 × it with batches "
                    "of a part of the data)",
    "raw crawls": "normalization off, linear, MSE, SGD, lr < 2/λmax of the raw features",
    "limit raw": "diverged with normalization off, linear, MSE",
    "validation": "a validation split",
    "validation user": "a validation split, the user's data",
    "overfit": "done, validation loss > 1.5 × training loss",
    "sign": "done, linear, normalization on, some weight's sign opposite to its feature's correlation",
}

#: With batches of a part of the data, a rate this many times the full-batch limit is said to diverge.
SURELY = 4.0
#: A validation loss this many times the training loss counts as overfitting.
OVERFIT = 1.5


_limits: dict[tuple, tuple[Dataset, tuple[float, float, float, float]]] = {}


def raw_limits(run) -> tuple[float, float, float, float]:
    """(κ raw, κ normalized, 2/λmax raw, 2/λmax with the widest feature alone) of a linear MSE on the run's
    training rows; computed once per data set and split."""
    s, d = run.settings, run.dataset
    key = (id(d), s.shuffle_data, s.seed if s.shuffle_data else 0, s.validation_split, run.wide)
    hit = _limits.get(key)
    if hit is not None and hit[0] is d:
        return hit[1]
    base = replace(s, model="linear", loss="mse", optimizer="sgd", init=None, normalize=False)
    effect = normalization_effect(d, base)
    # The wide feature alone with the bias: its 2 × 2 block of the raw Hessian.
    block = effect.raw.hessian[np.ix_([run.wide, -1], [run.wide, -1])]
    alone = 2.0 / float(np.linalg.eigvalsh(block)[-1])
    values = (effect.raw.condition, effect.normalized.condition, effect.raw.stability_limit, alone)
    if len(_limits) > 8:
        _limits.clear()
    _limits[key] = (d, values)
    return values


def _linear_mse_sgd(run) -> bool:
    s = run.settings
    return run.experiment.is_linear and s.loss == "mse" and s.optimizer == "sgd"


def raw_rate_key(run) -> str | None:
    """``raw diverges`` or ``raw crawls`` (plain SGD on a linear MSE without normalization), else None."""
    if run.settings.normalize or not _linear_mse_sgd(run):
        return None
    lr, limit = run.settings.learning_rate, raw_limits(run)[2]
    if lr < limit:
        return "raw crawls"
    full = run.settings.batch_size >= len(run.experiment.y)
    # Above the full-batch limit, batches of a part of the data diverge too, but only surely well above it.
    return "raw diverges" if full or lr >= SURELY * limit else None


def sign_surprise(run) -> tuple[str, float, float] | None:
    """The feature whose weight's sign is opposite to its own correlation with the target, the largest such
    weight (by size): (name, weight, correlation); None if there is none. Linear models on normalized
    features only (the weights then compare)."""
    exp, d = run.experiment, run.dataset
    if not exp.is_linear or not run.settings.normalize:
        return None
    weights = np.asarray(run.history.current)[: d.n_features]
    X, y = exp.X - exp.X.mean(axis=0), exp.y - exp.y.mean()
    with np.errstate(all="ignore"):
        corr = (X.T @ y) / np.sqrt((X * X).sum(axis=0) * (y @ y))
    opposite = np.flatnonzero(np.isfinite(corr) & (np.sign(weights) * np.sign(corr) < 0) & (np.abs(corr) > 0.1))
    if not len(opposite):
        return None
    k = int(opposite[np.argmax(np.abs(weights[opposite]))])
    return d.feature_names[k], float(weights[k]), float(corr[k])


def explanation(run, texts: dict[str, str]) -> str:
    """The sidebar's text for ``run``'s model, data, normalization and state."""
    exp, d, s = run.experiment, run.dataset, run.settings
    user = "" if run.is_boston else "user_"  # the user's own data: texts that name its columns
    names = {"file": html.escape(d.name), "target": html.escape(d.target_name), "n": d.n_features,
             "rows": f"{len(d.y_train):,}"}
    if exp.is_linear:
        order = texts["weights normalized" if s.normalize else "weights raw"]
        miss = run.typical_miss(run.baseline())
        model = texts[f"{user}linear"].format(baseline=prose(run.baseline(), 4), order_note=order,
                                              baseline_miss=f"(a typical miss of about {miss})", **names)
    else:
        n = len(s.hidden)
        layers = {1: "One hidden layer", 2: "Two hidden layers"}.get(n, f"{n} hidden layers")
        units = ", ".join(str(h) for h in s.hidden) if len(set(s.hidden)) > 1 else str(s.hidden[0])
        model = texts[f"{user}mlp"].format(layers=layers, units=units, n_params=f"{exp.model.n_params:,}", **names)
    kappa_raw, kappa_norm, limit_raw, limit_wide = raw_limits(run)
    rate_key = raw_rate_key(run)
    raw_rate = texts[rate_key].format(limit_raw=prose(limit_raw), limit_wide=prose(limit_wide),
                                      lr=prose(s.learning_rate), **run.spans) if rate_key else ""
    norm = texts["normalized" if s.normalize else f"{user}raw"].format(
        lr=prose(s.learning_rate), kappa_raw=prose(kappa_raw), kappa_norm=prose(kappa_norm), raw_rate=raw_rate,
        **run.spans)
    parts = [model, norm]
    if user:
        parts.insert(0, texts["user_data"].format(**names))
    if s.validation_split > 0:
        parts.append(texts["validation"].format(val_pct=f"{s.validation_split:.0%}"))
        if user:
            parts[-1] += " " + texts["validation user"]
    if run.finished:
        parts.append(texts["done"].format(epochs=run.epochs_done))
        last = run.last_epoch()
        if last is not None and last[1] is not None and last[1] > OVERFIT * last[0]:
            parts.append(texts["overfit"].format(val=prose(last[1], 4), train=prose(last[0], 4)))
        surprise = sign_surprise(run)
        if surprise is not None:
            name, weight, corr = surprise
            signed = ("+" if weight > 0 else "") + prose(weight)
            parts.append(texts["sign"].format(feature=f"<b>{html.escape(name)}</b>", weight=signed,
                                              corr=f"{corr:+.2f}", target=html.escape(d.target_name),
                                              corr_word="positively" if corr > 0 else "negatively"))
    if exp.notice:
        parts.append(exp.notice)
    return "<p>" + "</p><p>".join(parts) + "</p>"


def divergence_text(run, texts: dict[str, str], report: DivergedReport) -> str:
    """The one-line message of a divergence: why, and what to do."""
    if run.settings.normalize:
        return texts["diverged"].format(step=report.step, lr=prose(report.learning_rate), **run.spans)
    note = ""
    if run.experiment.is_linear and run.settings.loss == "mse":
        note = texts["limit raw"].format(limit_raw=prose(raw_limits(run)[2]), **run.spans) + " "
    return texts["diverged_raw"].format(step=report.step, lr=prose(report.learning_rate), limit_note=note,
                                        **run.spans)
