"""The multi-feature tab's texts over a grid of states (linear and MLP, normalization on and off, stable and
unstable rates, with and without a validation split, before and after training): every placeholder filled, and
each conditional sentence said exactly when its condition holds, computed here with NumPy."""

from __future__ import annotations

import re
import string
from dataclasses import replace

import numpy as np
import pytest

from fitscope import resources
from fitscope.engine.data import load_builtin
from fitscope.engine.numbers import prose
from fitscope.gui.models.multi import MultiRun
from fitscope.gui.models.multi_texts import CONDITIONS, OVERFIT

BOSTON = load_builtin("boston-housing")
TEXTS = resources.sections("boston.md")


def marker(key: str) -> str:
    pieces = [literal for literal, *_ in string.Formatter().parse(TEXTS[key])]
    return plain(max((p.strip() for p in pieces), key=len)).strip()


def plain(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


def says(text: str, key: str) -> bool:
    return marker(key) in plain(text)


def limits(run: MultiRun) -> tuple[float, float]:
    """κ and 2/λmax of the linear MSE on the run's training rows, raw; κ normalized (NumPy, from scratch)."""
    raw = replace(run.settings, normalize=False, model="linear")
    X = MultiRun(BOSTON, raw).experiment.X
    Z = np.column_stack([X, np.ones(len(X))])
    lam = np.linalg.eigvalsh(2 / len(X) * Z.T @ Z)
    file = BOSTON.X_train  # z-scored with the whole training file's mean and (population) deviation
    Xn = (X - file.mean(axis=0)) / file.std(axis=0)
    Zn = np.column_stack([Xn, np.ones(len(X))])
    lam_n = np.linalg.eigvalsh(2 / len(X) * Zn.T @ Zn)
    return lam[-1] / lam[0], 2 / lam[-1], lam_n[-1] / lam_n[0]


def train(run: MultiRun) -> None:
    """Train to the end, and tell the run why it stopped, as the app's controller does."""
    for report in run.trainer.run():
        run.record([report])
    run.stopped("diverged" if run.history.diverged is not None else "done")


GRID = [(model, normalize, lr, split) for model in ("linear", "mlp1", "mlp2") for normalize in (True, False)
        for lr in (1e-6, 1e-5, 0.01) for split in (0.0, 0.2)]


def settings(model: str, normalize: bool, lr: float, split: float):
    hidden = {"linear": (50,), "mlp1": (50,), "mlp2": (50, 50)}[model]
    return replace(BOSTON.defaults, model="linear" if model == "linear" else "mlp", hidden=hidden,
                   normalize=normalize, learning_rate=lr, validation_split=split, epochs=20)


def test_every_conditional_section_has_a_condition_and_a_distinct_marker():
    for key in CONDITIONS:
        assert key in TEXTS, key
        assert len(marker(key)) > 20
        assert sum(marker(key) in plain(body) for body in TEXTS.values()) == 1, key


@pytest.mark.parametrize(("model", "normalize", "lr", "split"), GRID)
def test_each_claim_is_made_exactly_when_it_holds(model, normalize, lr, split):
    run = MultiRun(BOSTON, settings(model, normalize, lr, split))
    linear = model == "linear"
    kappa_raw, limit_raw, kappa_norm = limits(run)
    for stage in ("start", "done"):
        if stage == "done":
            train(run)
        text = run.explanation(TEXTS)
        assert "{" not in text and "}" not in text
        assert says(text, "weights normalized") == (linear and normalize)
        assert says(text, "weights raw") == (linear and not normalize)
        full = run.settings.batch_size >= len(run.experiment.y)
        assert says(text, "raw diverges") == (linear and not normalize and lr >= limit_raw * (1 if full else 4))
        assert says(text, "raw crawls") == (linear and not normalize and lr < limit_raw)
        if says(text, "raw diverges") or says(text, "raw crawls"):
            assert f"2/λmax = {prose(limit_raw)}" in plain(text)
        if normalize:
            assert f"falls from {prose(kappa_raw)} to {prose(kappa_norm)}" in plain(text)
        assert says(text, "validation") == (split > 0)
        assert not says(text, "validation user")  # Boston is not the user's file
        last = run.last_epoch() if stage == "done" and run.history.diverged is None else None
        overfit = last is not None and last[1] is not None and last[1] > OVERFIT * last[0]
        assert says(text, "overfit") == overfit
        if not linear:
            assert f"{run.experiment.model.n_params:,} parameters, weights and biases" in plain(text)
        if stage == "done" and linear and normalize and run.history.diverged is None:
            w = np.asarray(run.history.current)[:12]
            X, y = run.experiment.X, run.experiment.y
            r = np.array([np.corrcoef(X[:, k], y)[0, 1] for k in range(12)])
            opposite = (np.sign(w) != np.sign(r)) & (np.abs(r) > 0.1)
            assert says(text, "sign") == bool(opposite.any())
            if opposite.any():
                k = np.flatnonzero(opposite)[np.argmax(np.abs(w[opposite]))]
                assert f"Note {BOSTON.feature_names[k]}: its weight is {w[k]:+.3g}" in plain(text)
                assert f"r = {r[k]:+.2f}" in plain(text)


def test_the_grid_meets_the_conditional_sentences():
    """The cases the grid checks do occur: an overfitting network and a surprising sign among them."""
    seen = set()
    for case in GRID + [("mlp2", True, 0.01, 0.2)]:
        run = MultiRun(BOSTON, replace(settings(*case), epochs=200))
        train(run)
        text = run.explanation(TEXTS)
        seen |= {key for key in CONDITIONS if key != "limit raw" and says(text, key)}
    assert seen >= set(CONDITIONS) - {"limit raw", "validation user"}


def test_the_divergence_without_normalization_names_the_stable_limit_and_normalizing():
    run = MultiRun(BOSTON, settings("linear", False, 0.01, 0.2))
    train(run)
    assert run.history.diverged is not None
    text = run.divergence_text(TEXTS, run.history.diverged)
    _, limit_raw, _ = limits(run)
    assert f"about {prose(limit_raw)}" in text and text.endswith("Turn normalization on.")
