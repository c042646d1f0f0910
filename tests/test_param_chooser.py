"""The slice's parameter chooser: a network's thousands of parameters grouped by array and searchable from the
keyboard; a linear model's dozen in a plain list."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QTreeView

from fitscope.engine.data import load_builtin
from fitscope.gui.keys import field_name
from fitscope.gui.views.boston_view import BostonView


@pytest.fixture(scope="module")
def dataset():
    return load_builtin("boston-housing")


@pytest.fixture
def view(qtbot, dataset) -> BostonView:
    v = BostonView(dataset=dataset)
    qtbot.addWidget(v)
    v.resize(1400, 860)
    with qtbot.waitExposed(v):
        v.show()
    yield v
    v.shutdown()


def two_layers(view) -> None:
    view.control("model").setCurrentIndex(2)  # two hidden layers of 50 units: 3,251 parameters
    assert view.slice.x_param.count() == 3251


def open_picker(qtbot, combo):
    """The chooser opened from the keyboard (F4, as on any combo box); its search field has the focus."""
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_F4)
    picker = combo.picker
    assert picker is not None
    qtbot.waitUntil(picker.isVisible)
    return picker


def test_search_finds_a_weight_by_part_of_its_name_and_the_slice_follows(qtbot, view):
    two_layers(view)
    combo = view.slice.x_param
    picker = open_picker(qtbot, combo)
    search = picker.findChild(QLineEdit, "paramSearch")
    assert search.hasFocus()
    qtbot.keyClicks(search, "2 kernel [3, 7]")
    assert picker.findChild(QLabel, "paramFound").text().startswith("1 found")
    qtbot.keyClick(search, Qt.Key.Key_Return)
    assert not picker.isVisible()
    index = 12 * 50 + 50 + 3 * 50 + 7  # after hidden 1's kernel and bias: hidden 2's kernel, row 3, column 7
    assert combo.currentIndex() == index
    assert combo.currentText() == "layer 2: unit 4 → unit 8"
    assert combo.itemData(index, Qt.ItemDataRole.ToolTipRole) == "hidden 2 kernel [3, 7]"
    assert view.model.pair[0] == index  # the slice is taken over it
    assert view.slice_panel.plot.getAxis("bottom").labelText == "layer 2: unit 4 → unit 8"


def test_the_parameters_are_grouped_by_array(qtbot, view):
    two_layers(view)
    picker = open_picker(qtbot, view.slice.y_param)
    tree = picker.findChild(QTreeView, "paramTree")
    model = tree.model()
    groups = [model.index(r, 0).data() for r in range(model.rowCount())]
    assert groups == ["hidden 1 kernel  (12 × 50)", "hidden 1 bias  (50)", "hidden 2 kernel  (50 × 50)",
                      "hidden 2 bias  (50)", "output kernel  (50 × 1)", "output bias  (1)"]
    assert [model.rowCount(model.index(r, 0)) for r in range(6)] == [600, 50, 2500, 50, 50, 1]
    current = tree.currentIndex()  # the parameter shown, in its open group
    assert current.data(Qt.ItemDataRole.UserRole) == view.slice.y_param.currentIndex()
    assert tree.isExpanded(current.parent())
    qtbot.keyClick(picker.findChild(QLineEdit, "paramSearch"), Qt.Key.Key_Escape)
    assert not picker.isVisible()


def test_words_in_any_order_then_arrows_and_enter_in_the_tree(qtbot, view):
    two_layers(view)
    combo = view.slice.x_param
    picker = open_picker(qtbot, combo)
    search = picker.findChild(QLineEdit, "paramSearch")
    qtbot.keyClicks(search, "output unit 5")  # words in another order than the name's
    tree = picker.findChild(QTreeView, "paramTree")
    assert tree.currentIndex().data() == "[4, 0]  unit 5 → price"
    qtbot.keyClick(search, Qt.Key.Key_Down)  # into the tree
    assert tree.hasFocus()
    qtbot.keyClick(tree, Qt.Key.Key_Return)
    assert combo.currentText() == "output: unit 5 → price"
    assert view.model.pair[0] == combo.currentIndex()


def test_escape_changes_nothing(qtbot, view):
    two_layers(view)
    before = view.model.pair
    picker = open_picker(qtbot, view.slice.x_param)
    qtbot.keyClicks(picker.findChild(QLineEdit, "paramSearch"), "bias")
    qtbot.keyClick(picker.findChild(QLineEdit, "paramSearch"), Qt.Key.Key_Escape)
    assert not picker.isVisible() and view.model.pair == before


def test_a_search_that_finds_nothing_says_so(qtbot, view):
    two_layers(view)
    before = view.model.pair
    picker = open_picker(qtbot, view.slice.x_param)
    search = picker.findChild(QLineEdit, "paramSearch")
    qtbot.keyClicks(search, "no such weight")
    assert picker.findChild(QLabel, "paramFound").text() == "Nothing found"
    qtbot.keyClick(search, Qt.Key.Key_Return)
    assert view.model.pair == before


def test_the_linear_model_keeps_a_plain_list(qtbot, view):
    combo = view.slice.x_param
    assert combo.count() == 13 and combo.itemText(12) == "bias"
    combo.showPopup()
    assert combo.picker is None and combo.view().isVisible()
    combo.hidePopup()


def test_the_now_at_fields_are_named_whole_or_by_their_axis(qtbot, view):
    """"layer 1: rm → uni…" beside a field read as a cut label: a long name loses its layer (the chooser above
    says it), and a name still too long gives the field its axis's letter; the whole name is the tip and what a
    screen reader says."""
    fields = view.slice.fields
    view.slice.x_param.setCurrentIndex(view.slice.x_param.findText("weight of ptratio"))
    qtbot.waitUntil(lambda: fields.names[0].text() == "weight of ptratio")
    two_layers(view)
    name = view.slice.x_param.currentText()
    assert name.startswith("layer 1: ")
    qtbot.waitUntil(lambda: fields.names[0].text() == name.removeprefix("layer 1: "))
    assert fields.names[0].toolTip() == name and fields.fields[0].accessibleName() == f"Now at {name}"
    assert field_name("layer 2: unit 14 → unit 38", "y") == "unit 14 → unit 38"
    assert field_name("layer 1: a_very_long_feature → unit 1", "x") == "x"
