"""The backpropagation tab: the chain rule with real numbers on every edge of one example's loss.

The example follows the loss-surface tab (its :attr:`~gui.views.surface_view.SurfaceView.sampleChanged`:
the first example of the current batch, or a point clicked in its data plot, with the current kernel, bias,
learning rate and loss), or is the book's own (§2.2.2). The numbers are the engine's
:func:`~engine.backprop.trace`; this view only decides how much of it to show:

- position −1: the graph with only the inputs and parameters known;
- 0: the forward pass (every edge's value);
- 1 … n: the first ``i`` steps of the backward pass, one edge each, the last one highlighted with its rule;
- n + 1: the update ``k ← k − lr·∂loss/∂k`` with the real learning rate.

A new example starts at 0. **Apply update** takes the step on this example and starts again at 0. What the tab
says at each point is :class:`~fitscope.gui.models.backprop_pass.Pass`'s (no Qt there).
"""

from __future__ import annotations

import html
from dataclasses import replace

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from fitscope.engine.backprop import Trace, trace
from fitscope.engine.numbers import number
from fitscope.gui import access, text_size
from fitscope.gui.models.backprop_pass import BOOK, LOSS_NAMES, Example, Pass
from fitscope.gui.panels.graph import ACCENT, FORWARD, GRADIENT, GraphPanel
from fitscope.gui.panels.readouts import ReadoutsPanel
from fitscope.gui.views.controls import OPTIMIZER_NAMES
from fitscope.gui.views.tab import Command, View

#: How the update box looks: once applied, when the update is the step shown, while it waits for the gradients.
UPDATE_LOOKS = {"applied": "color: #2e7d32;", "ready": "color: #2e7d32; font-weight: 600;", "waiting": "color: #666;"}


class BackpropView(View):
    """The computational graph of one example's loss and its backward pass, edge by edge.

    Slots: :meth:`set_sample` (connect the loss-surface tab's ``sampleChanged`` to it).

    ``exampleChosen(int)``: the user chose training row ``i`` (from 0) in the example chooser; connect it to what
    clicking that point in the loss-surface tab's data plot does (its ``choose_sample``), and tell the chooser
    how many rows there are with :meth:`set_example_count`.
    """

    exampleChosen = Signal(int)

    title = "Backpropagation"
    COMMANDS = {
        "forward_pass": Command("&Forward pass", "F", "forwardButton",
                                "Compute every value of the graph, left to right"),
        "backward_step": Command("&Backward step", "B", "backwardStepButton",
                                 "Work out the gradient on one more edge, right to left"),
        "reset_pass": Command("Reset &pass", "Ctrl+R", "resetPassButton",
                              "Forget the pass: only inputs and parameters known"),
        "apply_update": Command("Apply &update", "U", "applyUpdateButton",
                                "Take the gradient-descent step on this example, then pass again"),
        "book_example": Command("Boo&k example", "K", "bookExampleButton",
                                "The book's example (§2.2.2): x = 2, y = 5, v = 0, no bias"),
        "follow_training": Command("Follow &training", "T", "followTrainingButton",
                                   "Show the example the loss-surface tab is training on, and follow it step by step"),
    }

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("backpropView")
        self.following = True
        self._latest: Example | None = None  # the loss-surface tab's latest example
        self.example: Example | None = None
        self.trace: Trace | None = None
        self.position = 0
        self._applied: tuple[Trace, Trace] | None = None  # (before, after) of the last Apply update
        self._stale = False  # drawn while hidden: to be drawn when shown
        self._build_commands()
        self._build_ui()
        self.show_example(BOOK if self._latest is None else self._latest, follow=False)
        self.following = True  # until the first example arrives, the book's is shown
        self.commands["follow_training"].setChecked(True)

    # ------------------------------------------------------------------ UI
    def _build_commands(self) -> None:
        self.add_command("forward_pass", self.forward_pass)
        self.add_command("backward_step", self.backward_step)
        self.add_command("reset_pass", self.reset_pass)
        self.add_command("apply_update", self.apply_update)
        self.add_command("book_example", self.book_example)
        self.add_command("follow_training", lambda: self.set_following(self.commands["follow_training"].isChecked()),
                         checkable=True)

    def _build_ui(self) -> None:
        self.formula = QLabel()
        self.formula.setObjectName("backpropFormula")
        self.formula.setAccessibleName("The loss of this example")
        self.formula.setTextFormat(Qt.TextFormat.RichText)
        self.formula.setWordWrap(True)
        legend = QLabel(
            f'<span style="color:{FORWARD}">value = forward value</span> &nbsp;·&nbsp; '
            f'<span style="color:{GRADIENT}"><b>∂loss/∂value = gradient</b></span> (from the backward pass) '
            f'&nbsp;·&nbsp; <span style="color:{ACCENT}"><b>━</b> the edge just worked out</span> &nbsp;·&nbsp; '
            '<span style="color:#a7b6bf">? not known yet</span>'
        )
        legend.setObjectName("backpropLegend")
        legend.setTextFormat(Qt.TextFormat.RichText)
        legend.setWordWrap(True)
        self.graph = GraphPanel()
        access.describe(self.graph, self.graph_description)

        self.rule = QLabel()
        self.rule.setObjectName("backpropRule")
        self.rule.setAccessibleName("The rule of this step")
        self.rule.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.rule.setWordWrap(True)
        self.rule.setStyleSheet(
            "QLabel { background: #fff8e1; border: 1px solid #ffcc80; border-radius: 6px; padding: 6px;"
            " font-size: 13px; color: #3e2723; }"
        )
        self.log = QTextBrowser()
        self.log.setObjectName("backpropSteps")
        self.log.setAccessibleName("The steps of the pass so far")
        self.log.setOpenLinks(False)

        top, _ = self.stack([(self.formula, 0), (legend, 0), (self.graph, 1)])
        bottom, _ = self.stack([(self.rule, 0), (self.log, 1)])
        left = self.splitter(Qt.Orientation.Vertical, [top, bottom], [560, 240], stretch=[3, 1])

        side, column = self.stack([], "backpropSidebar", margin=6)
        column.addWidget(self.command_box("Backpropagation", [["forward_pass", "backward_step"],
                                                              ["reset_pass", "apply_update"]]))
        column.addWidget(self._build_example_box())
        update_box = QGroupBox("Update")
        self.update_text = QLabel()
        self.update_text.setObjectName("backpropUpdate")
        self.update_text.setAccessibleName("The update of the parameters")
        self.update_text.setWordWrap(True)
        self.update_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        QVBoxLayout(update_box).addWidget(self.update_text)
        column.addWidget(update_box)
        what = QGroupBox("What is happening")
        self.text = self.text_label("backpropText", "What is happening")
        QVBoxLayout(what).addWidget(self.text)
        column.addWidget(what, 1)
        self.lay_out(left, side, width=(330, 400))

    def _build_example_box(self) -> QGroupBox:
        box = QGroupBox("Example")
        layout = QVBoxLayout(box)
        buttons = QHBoxLayout()
        buttons.addWidget(self.command_button("follow_training"))
        buttons.addWidget(self.command_button("book_example"))
        layout.addLayout(buttons)
        layout.addLayout(self._build_chooser())
        self.source = QLabel()
        self.source.setObjectName("exampleSource")
        self.source.setAccessibleName("Where this example comes from")
        self.source.setWordWrap(True)
        self.source.setStyleSheet("color: #555;")
        layout.addWidget(self.source)
        self.readouts = ReadoutsPanel([
            ("xValue", "x"), ("yValue", "y (target)"), ("kValue", "k"), ("bValue", "b"),
            ("rateValue", "learning rate"), ("lossFunctionValue", "loss function"), ("sampleLossValue", "loss"),
            ("gradKValue", "∂loss/∂k"), ("gradBValue", "∂loss/∂b"),
        ])
        layout.addWidget(self.readouts)
        return box

    def _build_chooser(self) -> QHBoxLayout:
        """The example chooser: a training row by its number, as a click on it in the loss-surface tab."""
        self.chooser = QSpinBox()
        self.chooser.setObjectName("exampleChooser")
        self.chooser.setAccessibleName("Training example")
        self.chooser.setToolTip("Follow this training example (as clicking it in the loss-surface tab's data plot)")
        self.chooser.setRange(1, 1)
        self.chooser.setKeyboardTracking(False)
        self.chooser.valueChanged.connect(self._on_chosen)
        self.chooser_total = QLabel("of 1")
        self.chooser_total.setObjectName("exampleCount")
        caption = QLabel("Training &example")
        caption.setBuddy(self.chooser)
        row = QHBoxLayout()
        row.addWidget(caption)
        row.addWidget(self.chooser, 1)
        row.addWidget(self.chooser_total)
        return row

    def set_example_count(self, n: int) -> None:
        """The loss-surface tab trains on ``n`` rows: the chooser goes from 1 to ``n``."""
        blocked = self.chooser.blockSignals(True)
        self.chooser.setRange(1, max(1, n))
        self.chooser.blockSignals(blocked)
        self.chooser_total.setText(f"of {max(1, n):,}")

    def _on_chosen(self, number: int) -> None:
        self.set_following(True)  # the chosen example is shown, and followed as training goes on
        self.exampleChosen.emit(number - 1)

    # ------------------------------------------------------------- the example
    @Slot(object)
    def set_sample(self, sample) -> None:
        """The loss-surface tab's example changed (connect its ``sampleChanged`` here)."""
        if sample is None:
            return
        if not self.chooser.hasFocus() or not self.chooser.lineEdit().isModified():
            blocked = self.chooser.blockSignals(True)
            self.chooser.setValue(sample.index + 1)
            self.chooser.blockSignals(blocked)
        self._latest = Example.from_sample(sample)
        if self.following:
            self.show_example(self._latest)

    def show_example(self, example: Example, follow: bool | None = None) -> None:
        """Draw the graph for ``example``, its forward pass done; ``follow`` sets :attr:`following`."""
        if follow is not None:
            self.following = follow
            self.commands["follow_training"].setChecked(follow)
        self.example = example
        self.trace = trace(example.k, example.x, example.y, example.b, example.loss, example.learning_rate,
                           example.k_name)
        self.position = 0
        self._applied = None
        self._render()

    def book_example(self) -> None:
        """The book's example, §2.2.2: stops following training."""
        self.show_example(BOOK, follow=False)

    def set_following(self, on: bool = True) -> None:
        """Follow the loss-surface tab (its latest example at once), or keep the current example."""
        self.following = bool(on)
        self.commands["follow_training"].setChecked(self.following)
        if self.following and self._latest is not None:
            self.show_example(self._latest)

    def graph_description(self) -> str:
        """What the graph shows now, for a screen reader: the loss, the example and the step of the pass."""
        ex = self.example
        if ex is None:
            return "Computational graph"
        return (f"Computational graph of {ex.formula()} for x = {number(ex.x)}, y = {number(ex.y)}: "
                f"{self.state().rule()}")

    # ------------------------------------------------------------ the pass
    @property
    def n_steps(self) -> int:
        return len(self.trace.steps)

    def forward_pass(self) -> None:
        self._go(0)

    def backward_step(self) -> None:
        if self.position < self.n_steps + 1:
            self._go(self.position + 1)

    def reset_pass(self) -> None:
        self._go(-1)

    def apply_update(self) -> None:
        """Take the gradient-descent step on this example and show the forward pass with the new parameters."""
        if self.position < self.n_steps:
            return
        before, ex = self.trace, self.example
        new_b = None if ex.b is None else before.new_b
        updated = replace(ex, k=before.new_k, b=new_b, hand_updates=ex.hand_updates + 1)
        self.show_example(updated)
        self._applied = (before, self.trace)
        self._render()

    def _go(self, position: int) -> None:
        self.position = position
        self._applied = None
        self._render()

    # ------------------------------------------------------------ drawing
    def _render(self) -> None:
        """Show the example at its position: the commands at once; the graph and its texts now if the tab is
        shown, else when it is shown next (the loss-surface tab sends a new example at every delivery while it
        trains, and drawing them all behind another tab took a tenth of the GUI thread's time)."""
        pos, n = self.position, self.n_steps
        self.commands["backward_step"].setEnabled(pos <= n)
        self.commands["apply_update"].setEnabled(pos >= n)
        self._stale = not self.isVisible()
        if not self._stale:
            self._draw()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if self._stale:
            self._stale = False
            self._draw()

    def state(self) -> Pass:
        """The example, its trace and how far the pass has gone (:mod:`fitscope.gui.models.backprop_pass` writes
        every text about it)."""
        name = OPTIMIZER_NAMES.get(self.example.optimizer, self.example.optimizer)
        return Pass(self.example, self.trace, self.position, self._applied, name)

    def _draw(self) -> None:
        now = self.state()
        ex, pos, n = self.example, self.position, self.n_steps
        self.graph.show_trace(self.trace, forward=pos >= 0, revealed=max(0, min(pos, n)), update=pos > n)
        self.source.setText(ex.source_text())
        self.formula.setText(
            f"<span style='font-size:15pt'><b>{html.escape(ex.formula())}</b></span>"
            f"&nbsp;&nbsp; for x = {number(ex.x)}, y = {number(ex.y)}"
        )
        self.rule.setText(now.rule())
        self._fill_readouts(now)
        text, look = now.update()
        self.update_text.setText(text)
        self.update_text.setStyleSheet(UPDATE_LOOKS[look])
        self._fill_log(now)
        self.text.setText(now.explanation())

    def _fill_readouts(self, now: Pass) -> None:
        tr, ex, r = self.trace, self.example, self.readouts
        reached = now.reached()
        k_edge = next(i for i, e in enumerate(tr.edges) if e.source == ex.k_name)
        b_edge = next((i for i, e in enumerate(tr.edges) if e.source == "b"), None)
        r.form.labelForField(r.labels["kValue"]).setText(ex.k_name)
        r.form.labelForField(r.labels["gradKValue"]).setText(f"∂loss/∂{ex.k_name}")
        r.set("xValue", number(ex.x))
        r.set("yValue", number(ex.y))
        r.set("kValue", number(ex.k))
        r.set("bValue", "none (no bias)" if ex.b is None else number(ex.b))
        r.set("rateValue", number(ex.learning_rate))
        r.set("lossFunctionValue", LOSS_NAMES[ex.loss])
        r.set("sampleLossValue", number(tr.loss) if self.position >= 0 else "?")
        r.set("gradKValue", number(tr.grad_k) if k_edge in reached else "?")
        if b_edge is None:
            r.set("gradBValue", "–")
        else:
            r.set("gradBValue", number(tr.grad_b) if b_edge in reached else "?")

    def _fill_log(self, now: Pass) -> None:
        cells, head_width = [], round(70 * text_size.factor())  # px: "Backward" on one line at any text size
        for head, body, current in now.log_rows():
            style = "background:#fff3e0;" if current else ""
            weight = "font-weight:600;" if current else ""
            cells.append(
                f"<tr><td width='{head_width}' style='color:#78909c;padding:2px 8px 2px 4px;{style}'>{head}</td>"
                f"<td align='left' style='padding:2px;{style}{weight}'>{body}</td></tr>"
            )
        if not cells:
            cells.append("<tr><td style='color:#888'>Nothing computed yet: press Forward pass (F).</td></tr>")
        self.log.setHtml(f"<table cellspacing='0' cellpadding='1' width='100%'>{''.join(cells)}</table>")
        bar = self.log.verticalScrollBar()
        bar.setValue(bar.maximum())

    def shutdown(self) -> None:
        """No thread of its own: nothing to stop."""
