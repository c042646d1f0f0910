"""The glossary: every term and symbol the explanations use (``resources/glossary.md``, a file teachers can edit).

- :func:`terms` reads the entries; :func:`link_terms` marks the first mention of each term in a rich text as a
  link, which :class:`TermLabel` (the tabs' explanations) shows as a tooltip when the pointer rests on it and opens
  in the glossary when clicked.
- :class:`GlossaryDialog` (Help ▸ Glossary) lists every entry, with a search field.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import cache, lru_cache

from PySide6.QtCore import Qt
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QTextBrowser,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from fitscope import resources

#: The scheme of a link to a glossary entry in a rich text: ``term:<index of the entry>``.
SCHEME = "term:"
#: How a term's link looks: the text's own weight and size, a colour that says "more here", no underline.
LINK_STYLE = "color:#2b5f91; text-decoration:none"
#: Words in every sentence of every text, which would make each text a page of links: listed in the glossary,
#: not marked in texts.
NOT_MARKED = frozenset({"loss", "surface", "weight", "weights", "kernel", "bias", "prediction", "predictions",
                        "step", "parameter", "parameters"})


@dataclass(frozen=True)
class Term:
    """One entry: its title, every name the texts use for it, and its definition (rich text)."""

    title: str
    names: tuple[str, ...]
    text: str


@cache
def terms() -> tuple[Term, ...]:
    """The glossary's entries, in the file's order."""
    return tuple(Term(names[0], names, body)
                 for names, body in ((tuple(n.strip() for n in key.split("|") if n.strip()), body)
                                     for key, body in resources.sections("glossary.md").items()))


def find(name: str) -> Term | None:
    """The entry that has ``name`` among its names (any case), if any."""
    wanted = name.casefold()
    return next((t for t in terms() if any(n.casefold() == wanted for n in t.names)), None)


@cache
def _pattern() -> tuple[re.Pattern, dict[str, int]]:
    """One regular expression for every name, longest first; and each name's entry (casefolded name → index)."""
    owner: dict[str, int] = {}
    for i, term in enumerate(terms()):
        for name in term.names:
            if name.casefold() not in NOT_MARKED:
                owner.setdefault(name.casefold(), i)
    parts = []
    for name in sorted(owner, key=len, reverse=True):
        escaped = re.escape(name)
        # A name of letters only counts as a whole word ("bias", not "biased"); a symbol counts anywhere.
        parts.append(rf"(?<!\w){escaped}(?!\w)" if name[:1].isalnum() and name[-1:].isalnum() else escaped)
    return re.compile("|".join(parts), re.IGNORECASE), owner


_TAG = re.compile(r"(<[^>]*>)")


@lru_cache(maxsize=256)
def link_terms(text: str) -> str:
    """``text`` (rich text) with the first mention of each glossary entry made a link ``term:<index>``.

    Only text between tags is searched, never inside a link that is already there; an entry is linked once, by
    whichever of its names comes first.
    """
    pattern, owner = _pattern()
    linked: set[int] = set()
    out: list[str] = []
    in_link = False
    for piece in _TAG.split(text):
        if piece.startswith("<"):
            lower = piece[:3].lower()
            in_link = True if lower.startswith("<a ") or lower == "<a>" else (False if lower == "</a" else in_link)
            out.append(piece)
            continue
        if in_link or not piece:
            out.append(piece)
            continue

        def replace(match: re.Match) -> str:
            index = owner[match.group(0).casefold()]
            if index in linked:
                return match.group(0)
            linked.add(index)
            return f'<a href="{SCHEME}{index}" style="{LINK_STYLE}">{match.group(0)}</a>'

        out.append(pattern.sub(replace, piece))
    return "".join(out)


def entry_of(link: str) -> Term | None:
    """The entry a ``term:<index>`` link points at."""
    if not link.startswith(SCHEME) or not link[len(SCHEME):].isdigit():
        return None
    index = int(link[len(SCHEME):])
    return terms()[index] if index < len(terms()) else None


def tooltip(term: Term) -> str:
    return f"<b>{html.escape(term.title)}</b><br>{term.text}"


class TermLabel(QLabel):
    """A label of rich text whose glossary terms explain themselves: hover for the definition, click to open it
    in the glossary. :meth:`setText` links the terms for display; :meth:`text` is the text as it was given, and
    :meth:`shown` what the label displays."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._source = ""
        self.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.linkHovered.connect(self._hovered)
        self.linkActivated.connect(self._activated)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        if text == self._source:
            return  # (a text set again at every frame: linking its terms and laying it out cost a millisecond)
        self._source = text
        super().setText(link_terms(text))

    def text(self) -> str:
        return self._source

    def shown(self) -> str:
        """The rich text displayed: :meth:`text` with its terms linked."""
        return super().text()

    def _hovered(self, link: str) -> None:
        term = entry_of(link)
        if term is None:
            QToolTip.hideText()
        else:
            QToolTip.showText(QCursor.pos(), tooltip(term), self)

    def _activated(self, link: str) -> None:
        term = entry_of(link)
        if term is not None:
            show_glossary(self.window(), term.title)


class GlossaryDialog(QDialog):
    """Every entry of the glossary: a search field, the list of titles, and the chosen entry's definition."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("glossaryDialog")
        self.setWindowTitle("Glossary")
        self.search = QLineEdit(placeholderText="Search the glossary")
        self.search.setAccessibleName("Search the glossary")
        self.search.setClearButtonEnabled(True)
        self.list = QListWidget()
        self.list.setAccessibleName("Glossary terms")
        for term in terms():
            item = QListWidgetItem(term.title)
            item.setData(Qt.ItemDataRole.UserRole, term)
            item.setToolTip(", ".join(term.names))
            self.list.addItem(item)
        self.definition = QTextBrowser()
        self.definition.setAccessibleName("Definition")
        self.definition.setOpenLinks(False)
        self.empty = QLabel("No term matches.")
        self.empty.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        row = QHBoxLayout()
        row.addWidget(self.list, 1)
        row.addWidget(self.definition, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addWidget(self.empty)
        layout.addLayout(row, 1)
        layout.addWidget(buttons)
        self.search.textChanged.connect(self.filter)
        self.list.currentItemChanged.connect(self._show)
        self.list.setCurrentRow(0)
        self.resize(720, 440)

    def filter(self, text: str) -> None:
        """Show the entries whose names or definition mention ``text`` (any case); select the first shown."""
        wanted = text.strip().casefold()
        first = None
        for row in range(self.list.count()):
            item = self.list.item(row)
            term: Term = item.data(Qt.ItemDataRole.UserRole)
            hit = not wanted or any(wanted in n.casefold() for n in term.names) or wanted in term.text.casefold()
            item.setHidden(not hit)
            if hit and first is None:
                first = item
        self.empty.setVisible(first is None)
        self.list.setCurrentItem(first)
        if first is None:
            self.definition.clear()

    def choose(self, title: str) -> None:
        """Select the entry named ``title`` (clearing the search so that it is shown)."""
        self.search.clear()
        term = find(title)
        for row in range(self.list.count()):
            if self.list.item(row).data(Qt.ItemDataRole.UserRole) is term:
                self.list.setCurrentRow(row)

    def shown_term(self) -> Term | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def _show(self, item: QListWidgetItem | None) -> None:
        if item is not None:
            term: Term = item.data(Qt.ItemDataRole.UserRole)
            names = ", ".join(term.names[1:])
            also = f"<p><i>Also: {html.escape(names)}</i></p>" if names else ""
            self.definition.setHtml(f"<h3>{html.escape(term.title)}</h3><p>{term.text}</p>{also}")


def show_glossary(parent: QWidget, title: str | None = None) -> GlossaryDialog:
    """Open (or raise) the window's glossary, at the entry ``title`` if given."""
    dialog = parent.findChild(GlossaryDialog, "glossaryDialog")
    if dialog is None:
        dialog = GlossaryDialog(parent)
    if title is not None:
        dialog.choose(title)
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog
