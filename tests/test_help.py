"""Help ▸ User guide, Help ▸ Keyboard shortcuts and the first-run offer of the guided lesson."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QPushButton, QTextBrowser, QToolButton, QTreeWidget

from fitscope.gui import help as user_help
from fitscope.gui.app import MainWindow

ROOT = Path(__file__).resolve().parents[1]


def readme_section(text: str, title: str = "Using the app") -> str:
    """The body of the README's ``## title`` section: up to the next ``## `` heading outside a code block."""
    out: list[str] = []
    inside = fence = False
    for line in text.splitlines():
        if line.startswith("```"):
            fence = not fence
        if not fence and line.startswith("## "):
            if inside:
                break
            inside = line[3:].strip() == title
            continue
        if inside:
            out.append(line)
    return "\n".join(out).strip() + "\n"


@pytest.fixture
def window(qtbot):
    w = MainWindow()
    qtbot.addWidget(w)
    with qtbot.waitExposed(w):
        w.show()
    return w


def help_action(window, name: str) -> QAction:
    return window.findChild(QAction, name)


# --------------------------------------------------------------------------- the user guide
def test_the_guide_is_the_readmes_using_the_app_section():
    readme = readme_section((ROOT / "README.md").read_text(encoding="utf-8"))
    guide = (ROOT / "resources" / "guide.md").read_text(encoding="utf-8")
    assert readme.strip(), "the README has no 'Using the app' section"
    assert guide.strip() == readme.strip(), (
        "resources/guide.md and the README's 'Using the app' section differ: the guide is the one text; put the "
        "same words in both (the section's body, between '## Using the app' and the next '## ' heading)")


def test_help_user_guide_shows_the_guide_without_its_pictures(qtbot, window):
    help_action(window, "userGuideAction").trigger()
    guide = window.findChild(user_help.GuideWindow)
    assert guide.isVisible() and not guide.isModal()
    text = guide.findChild(QTextBrowser, "guideText").toPlainText()
    assert "Loss surface (the first tab)" in text
    assert "Guided lessons" in text and "Keyboard shortcuts" in text and "Larger text" in text
    assert "### Loss surface" not in text and "**The map**" not in text  # Markdown rendered, not shown
    assert "docs/images" not in guide.findChild(QTextBrowser, "guideText").toHtml()
    help_action(window, "userGuideAction").trigger()  # again: the same window, raised
    assert len(window.findChildren(user_help.GuideWindow)) == 1


# --------------------------------------------------------------------------- keyboard shortcuts
def shown_rows(window) -> list[tuple[str, str]]:
    tree = window.findChild(user_help.ShortcutsWindow).findChild(QTreeWidget, "shortcutsList")
    return [(tree.topLevelItem(i).text(0), tree.topLevelItem(i).text(1)) for i in range(tree.topLevelItemCount())]


def tab_of(window, action: QAction):
    obj = action.parent()
    while obj is not None:
        if obj in window.views:
            return obj
        obj = obj.parent()
    return None


@pytest.mark.parametrize("tab", range(4))
def test_every_shortcut_of_the_window_and_of_the_tab_shown_is_listed(qtbot, window, tab):
    window.tabs.setCurrentIndex(tab)
    help_action(window, "shortcutsAction").trigger()
    rows = shown_rows(window)
    expected = [a for a in window.findChildren(QAction) if user_help.action_keys(a)
                and tab_of(window, a) in (None, window.views[tab])]
    assert len(expected) > 20
    for action in expected:
        row = (user_help.action_keys(action), user_help.action_text(action))
        assert row in rows, f"{row} is not listed"
    others = [a for a in window.findChildren(QAction) if user_help.action_keys(a)
              and tab_of(window, a) not in (None, window.views[tab])
              and not any(r[1] == user_help.action_text(a) for r in rows)]
    assert others, "another tab's own commands are not listed"


def test_the_shortcuts_window_names_its_tab_and_follows_the_tab_shown(qtbot, window):
    help_action(window, "shortcutsAction").trigger()
    rows = shown_rows(window)
    assert ("This tab: Loss surface", "") in rows
    assert ("P", "Step phase") in rows and ("Ctrl+0", "Frame the path") in rows
    assert ("Ctrl+1", "Loss surface") in rows and ("F1", "Glossary") in rows
    assert ("Escape", user_help.OTHER_KEYS[2][1]) in rows
    assert any(k == "Home" and "map" in t for k, t in rows)
    window.tabs.setCurrentWidget(window.backprop_view)
    rows = shown_rows(window)
    assert ("This tab: Backpropagation", "") in rows
    assert ("F", "Forward pass") in rows and ("P", "Step phase") not in rows


# --------------------------------------------------------------------------- the first-run offer
def offer_button(window) -> QPushButton | None:
    button = window.statusBar().findChild(QPushButton, "firstRunStart")
    return button if button is not None and button.isVisible() else None


def test_the_first_launch_offers_the_lesson_and_the_offer_starts_it(qtbot, window):
    button = offer_button(window)
    assert button is not None and button.text() == "New here? Start the guided lesson"
    button.click()
    qtbot.waitUntil(lambda: not window.lesson_dock.player.busy, timeout=60_000)
    assert window.lesson_dock.isVisible()
    assert window.lesson_dock.position_label.text().startswith("step 1 of ")
    assert offer_button(window) is None


def test_a_dismissed_offer_is_never_made_again(qtbot, window):
    window.statusBar().findChild(QToolButton, "firstRunDismiss").click()
    assert offer_button(window) is None
    assert not window.lesson_dock.isVisible()
    window.close()
    QSettings().remove("window/geometry")  # even then: it was dismissed
    again = MainWindow()
    qtbot.addWidget(again)
    again.show()
    assert offer_button(again) is None


def test_no_offer_once_the_app_was_used(qtbot, window):
    window.close()  # the first launch ends without a word about the offer
    again = MainWindow()
    qtbot.addWidget(again)
    again.show()
    assert offer_button(again) is None


def test_starting_the_lesson_from_the_menu_ends_the_offer(qtbot, window):
    window.lesson_dock.action.trigger()
    qtbot.waitUntil(lambda: not window.lesson_dock.player.busy, timeout=60_000)
    assert offer_button(window) is None
    assert QSettings().value("lessons/first_run_offer_done") is not None
