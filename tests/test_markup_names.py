"""A CSV's column names are shown as written, never read as markup: a name like ``<span style=…>`` once drew
huge red text in the weights' title, the plots' axes and the bias line."""

from __future__ import annotations

import numpy as np

from fitscope.engine.data import read_table, table_dataset
from fitscope.gui.views.boston_view import BostonView
from fitscope.gui.views.surface_view import SurfaceView

BIG = '<span style="font-size:40pt;color:red">PRICE</span>'


def csv(tmp_path, names: list[str], n_features: int):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, n_features))
    y = X.sum(axis=1) + 0.1 * rng.normal(size=30)
    path = tmp_path / "odd.csv"
    header = ",".join(f'"{n}"' for n in names)
    path.write_text(header + "\n" + "".join(",".join(f"{v:.4f}" for v in (*r, t)) + "\n"
                                             for r, t in zip(X, y, strict=True)))
    return table_dataset(path, *read_table(path))


def test_the_multi_feature_tab_shows_the_names_as_text(qtbot, tmp_path):
    view = BostonView(dataset=csv(tmp_path, ["<b>a</b>", "b", BIG], 2))
    qtbot.addWidget(view)
    try:
        for text in (view.weights.title.text(), view.weights.bias_label.text(),
                     view.pred_panel.plot.getAxis("left").labelText):
            assert BIG not in text and "&lt;span" in text
    finally:
        view.shutdown()


def test_the_surface_tab_shows_the_names_as_text(qtbot, tmp_path):
    view = SurfaceView(dataset=csv(tmp_path, ["<b>size</b>", BIG], 1))
    qtbot.addWidget(view)
    try:
        plot = view.data_panel.plot
        assert plot.getAxis("bottom").labelText == "&lt;b&gt;size&lt;/b&gt;"
        assert "&lt;span" in plot.getAxis("left").labelText
    finally:
        view.shutdown()



def test_the_race_start_refuses_thousands_separators():
    """"1,000" once became 1.0 in the race's start field (its comma is a decimal mark)."""
    import pytest

    from fitscope.gui.panels.start_fields import parse_number

    for typed in ("1,000", "1_000", "-12,345,678"):
        with pytest.raises(ValueError, match="without separators"):
            parse_number(typed, "kernel")
    assert parse_number("0,5", "kernel") == 0.5 and parse_number("−2", "bias") == -2
