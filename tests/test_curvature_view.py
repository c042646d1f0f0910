"""Curvature in the app: the axes of the contour ellipses on the surface map and the Boston slice, the readouts of
λmax, λmin and κ, and κ with and without normalization, driven through the real widgets."""

from __future__ import annotations

import numpy as np
import pytest

from fitscope.engine.curvature import curvature_of, normalization_effect
from fitscope.engine.data import load_builtin
from fitscope.gui.models.curvature import LINEAR_MSE_ONLY, short
from fitscope.gui.views.boston_view import BostonView
from fitscope.gui.views.surface_view import SurfaceView


@pytest.fixture
def surface(qtbot) -> SurfaceView:
    v = SurfaceView(dataset=load_builtin("download-time"))
    qtbot.addWidget(v)
    v.resize(1400, 900)
    v.show()
    qtbot.waitExposed(v)
    yield v
    v.shutdown()


@pytest.fixture
def boston(qtbot) -> BostonView:
    v = BostonView(dataset=load_builtin("boston-housing"))
    qtbot.addWidget(v)
    v.resize(1400, 900)
    v.show()
    qtbot.waitExposed(v)
    yield v
    v.shutdown()


def hessian_of(X: np.ndarray) -> np.ndarray:
    """2/n·ZᵀZ with a bias column, written out here."""
    Z = np.column_stack([X, np.ones(len(X))])
    return 2.0 / len(Z) * Z.T @ Z


def drawn(panel) -> np.ndarray:
    segments = panel.curvature_axes.segments()
    assert segments is not None
    return segments


def check_axes(segments: np.ndarray, H2: np.ndarray, center) -> None:
    """The drawn axes are the eigenvectors of ``H2`` (long axis: the smaller eigenvalue), through ``center``,
    with half-lengths in the ratio √(λ1/λ0)."""
    lam, V = np.linalg.eigh(H2)
    np.testing.assert_allclose(np.linalg.eigvalsh(H2), lam)
    halves = []
    for k in range(2):
        a, b = segments[k]
        np.testing.assert_allclose((a + b) / 2, center, rtol=1e-9, atol=1e-12)
        d = b - a
        halves.append(np.linalg.norm(d) / 2)
        assert abs(d / np.linalg.norm(d) @ V[:, k]) == pytest.approx(1.0, abs=1e-9)
    assert halves[0] / halves[1] == pytest.approx(np.sqrt(lam[1] / lam[0]), rel=1e-9)


# --------------------------------------------------------------------------- the surface tab
def test_axes_are_off_by_default_and_follow_the_check_box(qtbot, surface):
    surface.set_control("loss", "mse")
    box = surface.curvature_box
    assert not box.show_axes.isChecked() and box.show_axes.isEnabled()
    assert surface.surface.curvature_axes.segments() is None
    assert not surface.surface.curvature_axes.legend.isVisible()
    box.show_axes.setChecked(True)
    assert surface.surface.curvature_axes.segments() is not None
    assert surface.surface.curvature_axes.legend.isVisible()
    box.show_axes.setChecked(False)
    assert surface.surface.curvature_axes.segments() is None


def test_surface_axes_are_the_hessians_eigenvectors_through_the_least_squares_line(qtbot, surface):
    surface.set_control("loss", "mse")
    surface.curvature_box.show_axes.setChecked(True)
    exp = surface.model.experiment
    Z = np.column_stack([exp.X, np.ones(len(exp.X))])
    best = np.linalg.lstsq(Z, exp.y, rcond=None)[0]
    check_axes(drawn(surface.surface), hessian_of(exp.X), best)


def test_surface_axes_fit_the_view_after_a_zoom(qtbot, surface):
    surface.set_control("loss", "mse")
    surface.curvature_box.show_axes.setChecked(True)
    k0, k1, b0, b1 = surface.surface.visible_range()
    surface.surface.set_range(k0 / 4, k1 / 4, b0 / 4, b1 / 4)
    x0, x1, y0, y1 = surface.surface.visible_range()
    s = drawn(surface.surface)
    reach = np.abs(s[:, 1] - s[:, 0]) / 2 / [x1 - x0, y1 - y0]
    assert reach.max() == pytest.approx(0.38, rel=1e-6)  # the longer axis reaches 38 % of the view, not beyond
    check_axes(s, hessian_of(surface.model.experiment.X), surface.model.experiment.stats.optimum())


def test_surface_readouts_are_the_engines(qtbot, surface):
    surface.set_control("loss", "mse")
    c = curvature_of(surface.model.experiment)
    lam = np.linalg.eigvalsh(hessian_of(surface.model.experiment.X))
    box = surface.curvature_box
    assert box.numbers.text() == f"λmax {short(lam[-1])}, λmin {short(lam[0])}, κ {short(lam[-1] / lam[0])}"
    assert short(c.condition) == "39.2" and "κ 39.2" in box.numbers.text()
    assert box.sentence.text() == c.sentence()
    assert "2/λmax = 0.0464" in box.sentence.text() and "steps" in box.sentence.text()
    assert box.normalization.isHidden()  # the surface tab has no normalization to toggle


def test_mae_says_in_one_line_why_there_is_no_curvature(qtbot, surface):
    surface.set_control("loss", "mse")
    surface.curvature_box.show_axes.setChecked(True)
    surface.set_control("loss", "mae")
    box = surface.curvature_box
    assert box.numbers.text() == LINEAR_MSE_ONLY and "\n" not in box.numbers.text()
    assert box.sentence.isHidden() and not box.show_axes.isEnabled()
    surface.recompute_surface()
    assert surface.surface.curvature_axes.segments() is None
    surface.set_control("loss", "mse")
    surface.recompute_surface()
    assert surface.surface.curvature_axes.segments() is not None  # still checked: back with MSE


# --------------------------------------------------------------------------- the Boston tab
def test_boston_slice_axes_are_the_eigenvectors_of_its_two_by_two_block(qtbot, boston):
    boston.curvature_box.show_axes.setChecked(True)
    qtbot.waitUntil(lambda: boston.slice_grid is not None, timeout=5000)
    exp = boston.model.experiment
    i, j = boston.model.pair
    H = hessian_of(exp.X)
    theta0 = boston.slice_theta0
    # the slice's minimum, written out: the other parameters held, least squares over the two
    Z = np.column_stack([exp.X, np.ones(len(exp.X))])
    rest = Z @ theta0 - Z[:, [i, j]] @ theta0[[i, j]]
    center = np.linalg.lstsq(Z[:, [i, j]], exp.y - rest, rcond=None)[0]
    check_axes(drawn(boston.slice_panel), H[np.ix_([i, j], [i, j])], center)


def test_boston_shows_kappa_without_and_with_normalization(qtbot, boston):
    box = boston.curvature_box
    ds = boston.model.dataset
    effect = normalization_effect(ds, boston.model.settings)
    raw, norm = effect.raw.condition, effect.normalized.condition
    assert raw / norm > 1e5  # orders of magnitude
    pair = f"κ without normalization {short(raw)}; with {short(norm)}"
    assert box.normalization.text() == pair and box.normalization.isVisible()
    assert f"κ {short(norm)}" in box.numbers.text()  # normalized: the book's setting
    boston.control("normalize").setChecked(False)
    assert not boston.model.settings.normalize
    assert f"κ {short(raw)}" in box.numbers.text()
    assert box.normalization.text() == pair
    assert box.sentence.text() == curvature_of(boston.model.experiment).sentence()
    boston.control("normalize").setChecked(True)
    assert f"κ {short(norm)}" in box.numbers.text()


def test_boston_mlp_says_the_curvature_is_for_a_linear_model(qtbot, boston):
    boston.curvature_box.show_axes.setChecked(True)
    qtbot.waitUntil(lambda: boston.slice_grid is not None, timeout=5000)
    assert boston.slice_panel.curvature_axes.segments() is not None
    boston.control("model").setCurrentIndex(1)
    box = boston.curvature_box
    assert box.numbers.text() == LINEAR_MSE_ONLY
    assert not box.show_axes.isEnabled() and box.normalization.isHidden()
    qtbot.waitUntil(lambda: boston.slice_grid is not None, timeout=20_000)
    assert boston.slice_panel.curvature_axes.segments() is None


def test_axes_on_follow_the_tab_to_a_data_set_of_another_size(qtbot, boston, tmp_path):
    """With the axes shown, a CSV of 4 features replaces Boston's 12 cleanly: the axes are of the new data's
    Hessian once its slice is drawn (a stale 13-parameter slice once broke the switch half-way)."""
    from fitscope.engine.data import read_table, table_dataset

    boston.curvature_box.show_axes.setChecked(True)
    qtbot.waitUntil(lambda: boston.slice_grid is not None, timeout=5000)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 4))
    y = X @ [1.0, 2.0, -1.0, 0.5] + rng.normal(size=50) * 0.1
    path = tmp_path / "four.csv"
    path.write_text("a,b,c,d,target\n" + "".join(",".join(f"{v:.4f}" for v in (*r, t)) + "\n"
                                                  for r, t in zip(X, y, strict=True)))
    boston.show_dataset(table_dataset(path, *read_table(path)))
    assert boston.model.n_params == 5 and boston.model.dataset.n_features == 4
    qtbot.waitUntil(lambda: boston.slice_grid is not None and len(boston.slice_theta0) == 5, timeout=5000)
    exp = boston.model.experiment
    i, j = boston.model.pair
    segments = drawn(boston.slice_panel)
    assert segments is not None
    H = hessian_of(exp.X)[np.ix_([i, j], [i, j])]
    direction = segments[0, 1] - segments[0, 0]
    long_axis = np.linalg.eigh(H)[1][:, 0]  # the smallest eigenvalue's: the ellipse's long axis
    assert abs(abs(direction @ long_axis) / np.linalg.norm(direction) - 1) < 1e-6
