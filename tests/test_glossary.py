"""The glossary: every term and symbol the explanations use has an entry; terms in a tab's text explain themselves
on hover and open the glossary on a click; Help ▸ Glossary lists and searches the entries."""

from __future__ import annotations

import re

import pytest
from PySide6.QtWidgets import QToolTip

from fitscope import resources
from fitscope.gui import glossary
from fitscope.gui.app import MainWindow
from fitscope.gui.glossary import GlossaryDialog, TermLabel, entry_of, find, link_terms, terms

#: Symbols and terms a beginner may not know, which the texts use and the glossary must explain.
NEEDED = ["∂", "‖", "κ", "λmax", "ŷ", "NaN", "z-score", "gradient", "learning rate", "batch", "epoch", "residual",
          "validation", "test set", "baseline", "sigmoid", "momentum", "RMSProp", "Adam", "backpropagation",
          "chain rule", "normalization", "MSE", "MAE", "overfitting", "parameters", "kernel", "bias", "ε",
          "Hessian", "condition number", "estimate", "held fixed"]

TEXT_FILES = ("phases.md", "boston.md", "backprop.md", "race.md")


@pytest.fixture
def window(qtbot):
    win = MainWindow()
    qtbot.addWidget(win)
    yield win
    win.shutdown()


def test_every_entry_has_a_title_names_and_a_definition():
    entries = terms()
    assert len(entries) >= 30
    for term in entries:
        assert term.title == term.names[0]
        assert len(term.text.split()) >= 8, term.title
        assert "{" not in term.text  # no placeholders: the glossary is read as it is
    names = [n.casefold() for t in entries for n in t.names]
    assert len(names) == len(set(names)), "a name belongs to one entry only"


@pytest.mark.parametrize("name", NEEDED)
def test_every_needed_term_has_an_entry(name):
    assert find(name) is not None or any(name in n for t in terms() for n in t.names), name


def test_every_symbol_the_texts_use_is_explained():
    texts = "".join(resources.read_text(name) for name in TEXT_FILES)
    for symbol in ("∂", "‖", "κ", "λ", "ŷ", "ε", "NaN", "z-score"):
        if symbol in texts:
            assert any(symbol in n for t in terms() for n in t.names), symbol


def test_the_first_mention_of_each_term_becomes_a_link_and_words_stay_whole():
    out = link_terms("The <b>gradient</b> of the gradient; a sigmoidal sigmoid and ∂loss/∂kernel.")
    links = re.findall(r'<a href="(term:\d+)"[^>]*>([^<]*)</a>', out)
    shown = [text for _, text in links]
    assert shown.count("gradient") == 1  # once per text
    assert "sigmoidal" not in shown and "sigmoid" in shown  # whole words only
    assert "loss" not in shown and "kernel" not in shown  # words of every sentence are not marked
    assert "∂" in shown  # a symbol inside a word
    assert entry_of(links[0][0]).title == "gradient"
    assert re.sub(r"<[^>]+>", "", out) == "The gradient of the gradient; a sigmoidal sigmoid and ∂loss/∂kernel."


def test_nothing_is_linked_inside_a_tag_or_an_existing_link():
    text = '<span title="the gradient">x</span> <a href="http://x">the learning rate</a> learning rate'
    out = link_terms(text)
    assert '<span title="the gradient">' in out
    assert '<a href="http://x">the learning rate</a>' in out
    assert out.endswith("learning rate</a>") and out.count("term:") == 1


def test_an_explanation_links_its_terms_and_keeps_its_text(window, qtbot):
    label = window.surface_view.findChild(TermLabel, "phaseText")
    assert label is not None
    source = label.text()
    assert "term:" not in source
    assert "term:" in label.shown()
    assert re.sub(r"<[^>]+>", "", label.shown()) == re.sub(r"<[^>]+>", "", source)


def test_hovering_a_term_shows_its_definition_and_a_click_opens_the_glossary(window, qtbot):
    window.show()
    qtbot.waitExposed(window)
    label = window.surface_view.findChild(TermLabel, "phaseText")
    link = re.search(r'href="(term:\d+)"', label.shown()).group(1)
    term = entry_of(link)
    label.linkHovered.emit(link)
    assert QToolTip.isVisible()
    assert term.title in QToolTip.text()
    label.linkHovered.emit("")
    qtbot.waitUntil(lambda: not QToolTip.isVisible(), timeout=3000)
    label.linkActivated.emit(link)
    dialog = window.findChild(GlossaryDialog, "glossaryDialog")
    assert dialog is not None and dialog.isVisible()
    assert dialog.shown_term() is term
    dialog.close()


def test_help_glossary_lists_every_entry_and_searches(window, qtbot):
    action = window.findChild(type(window.menuBar().actions()[0]), "glossaryAction")
    action.trigger()
    dialog = window.findChild(GlossaryDialog, "glossaryDialog")
    assert dialog.isVisible() and dialog.list.count() == len(terms())
    qtbot.keyClicks(dialog.search, "z-score")
    shown = [dialog.list.item(r).text() for r in range(dialog.list.count()) if not dialog.list.item(r).isHidden()]
    assert shown and dialog.shown_term() is glossary.find("z-score")
    assert "mean 0" in dialog.definition.toPlainText()
    dialog.search.clear()
    qtbot.keyClicks(dialog.search, "no such word anywhere")
    assert dialog.empty.isVisible() and dialog.shown_term() is None
    action.trigger()  # a second time: the same window, not another
    assert len(window.findChildren(GlossaryDialog)) == 1
    dialog.close()
