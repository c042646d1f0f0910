"""What the backpropagation tab shows, without Qt: the example, how far its pass has gone, and every text about it.

An :class:`Example` is one training example (x, y) with the model's parameters and learning rate (the loss-surface
tab's, or the book's own, §2.2.2). A :class:`Pass` is an example with its engine :class:`~engine.backprop.Trace`
and how far the tab has gone through it:

- position −1: only the inputs and parameters known;
- 0: the forward pass (every edge's value);
- 1 … n: the first ``i`` steps of the backward pass;
- n + 1: the update ``k ← k − lr·∂loss/∂k`` with the real learning rate;

and, after **Apply update**, the traces before and after it. Its methods write what the tab says at that point:
the rule shown, the update box, the log of the pass and the explanation (the sections of ``backprop.md``).
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from fitscope import resources
from fitscope.engine.backprop import Trace
from fitscope.engine.numbers import number, pretty

LOSS_NAMES = {"mse": "squared error", "mae": "absolute error"}


def _operand(v: float) -> str:
    """A number written after an operator: negative ones in parentheses (``2 + (−0.5)``)."""
    return f"({number(v)})" if v < 0 else number(v)


@dataclass(frozen=True)
class Example:
    """What the graph is drawn for: one example (x, y), the model's parameters and the learning rate."""

    x: float
    y: float
    k: float
    b: float | None  # None: no bias (the book's example)
    learning_rate: float
    loss: str  # "mse" or "mae"
    k_name: str
    source: str  # where it comes from, for the user
    book: bool = False
    hand_updates: int = 0  # steps taken here with Apply update
    optimizer: str = "sgd"  # the optimizer the loss-surface tab trains with (this tab steps by plain SGD)

    @classmethod
    def from_sample(cls, sample) -> Example:
        """From the loss-surface tab's :class:`~gui.models.surface.Sample`."""
        how = ("the point you clicked in the data plot or chose here" if sample.chosen
               else "the first of the current batch")
        return cls(sample.x, sample.y, sample.kernel, sample.bias, sample.learning_rate, sample.loss, "k",
                   f"Training example {sample.index + 1}: {how}, with the loss-surface tab's current weights",
                   optimizer=getattr(sample, "optimizer", "sgd"))

    def formula(self) -> str:
        inner = f"{self.k_name}·x + b − y" if self.b is not None else f"{self.k_name}·x − y"
        return f"loss = ({inner})²" if self.loss == "mse" else f"loss = |{inner}|"

    def source_text(self) -> str:
        """Where the example comes from, and the updates taken on it here."""
        if not self.hand_updates:
            return self.source
        plural = "s" if self.hand_updates > 1 else ""
        return f"{self.source}; then {self.hand_updates} update{plural} by hand here."


BOOK = Example(2.0, 5.0, 0.0, None, 0.01, "mse", "v", "The book's example: Deep Learning with JavaScript, §2.2.2",
               book=True)


@dataclass(frozen=True)
class Pass:
    """An example's trace and how far the tab has gone through it (see the module's docstring).

    ``applied``: the traces before and after the last Apply update, while the pass shown is the one after it.
    ``optimizer_name``: how to call the loss-surface tab's optimizer (this tab's update is plain SGD).
    """

    example: Example
    trace: Trace
    position: int
    applied: tuple[Trace, Trace] | None = None
    optimizer_name: str = "SGD"

    @property
    def n(self) -> int:
        """The backward pass's steps."""
        return len(self.trace.steps)

    def reached(self) -> set[int]:
        """The edges whose gradient the backward pass has found."""
        return {self.trace.steps[i].edge for i in range(max(0, min(self.position, self.n)))}

    def rule(self) -> str:
        """The line above the graph: what was just done, and what to press next."""
        tr, pos, n = self.trace, self.position, self.n
        if self.applied is not None:
            old, new = self.applied
            return f"Update applied. Loss on this example: {number(old.loss)} → {number(new.loss)}"
        if pos < 0:
            return "Only the inputs and the parameters are known. Press Forward pass (F)."
        if pos == 0:
            return f"Forward pass done: loss = {number(tr.loss)}. Press Backward step (B)."
        if pos <= n:
            return f"Step {pos} of {n} — {pretty(tr.steps[pos - 1].rule)}"
        return "Update: " + pretty(tr.update_rule(self.example.k_name)).replace("\n", ";   ")

    def optimizer_note(self, key: str) -> str:
        """The section ``key`` of backprop.md naming the loss-surface tab's optimizer when it is not plain SGD,
        else ""."""
        ex = self.example
        if ex.book or ex.optimizer == "sgd":
            return ""
        return resources.sections("backprop.md")[key].format(optimizer=self.optimizer_name)

    def update(self) -> tuple[str, str]:
        """The update box: its text, and how it looks (``"applied"``, ``"ready"`` or ``"waiting"``)."""
        tr, ex = self.trace, self.example
        note = self.optimizer_note("update_box_optimizer")
        note = f"\n{note}" if note else ""
        if self.applied is not None:
            return "Applied:\n" + pretty(self.applied[0].update_rule(ex.k_name)) + note, "applied"
        if self.position > self.n:
            return pretty(tr.update_rule(ex.k_name)) + note, "ready"
        rule = f"{ex.k_name} ← {ex.k_name} − lr · ∂loss/∂{ex.k_name}"
        if ex.b is not None:
            rule += "\nb ← b − lr · ∂loss/∂b"
        return (f"{rule}\nwith lr = {number(ex.learning_rate)}, once the backward pass has found the gradients."
                + note), "waiting"

    def forward_lines(self) -> list[str]:
        """The forward pass written out, one operation a line."""
        tr, ex = self.trace, self.example
        value = {(e.source, e.target): e.value for e in tr.edges}
        k = ex.k_name
        product = value[("mul", "add")] if ex.b is not None else value[("mul", "sub")]
        lines = [f"{k}·x = {number(tr.k)} · {_operand(ex.x)} = {number(product)}"]
        yhat = value[("add", "sub")] if ex.b is not None else product
        if ex.b is not None:
            lines.append(f"ŷ = {k}·x + b = {number(product)} + {_operand(ex.b)} = {number(yhat)}")
        err = value[("sub", "loss_op")]
        lines.append(f"e = ŷ − y = {number(yhat)} − {_operand(ex.y)} = {number(err)}")
        square = f"e² = ({number(err)})²" if ex.loss == "mse" else f"|e| = |{number(err)}|"
        lines.append(f"loss = {square} = {number(tr.loss)}")
        return lines

    def log_rows(self) -> list[tuple[str, str, bool]]:
        """The log of the pass so far: (heading, body as HTML, whether it is the step just done) per row."""
        tr, pos, n, k_name = self.trace, self.position, self.n, self.example.k_name
        rows = []
        if self.applied is not None:
            rows.append(("Update", pretty(self.applied[0].update_rule(k_name)).replace("\n", "<br>"), False))
        if pos >= 0:
            rows.append(("Forward", "<br>".join(html.escape(s) for s in self.forward_lines()), pos == 0))
        for i in range(min(max(pos, 0), n)):
            rows.append((f"Step {i + 1}", html.escape(pretty(tr.steps[i].rule)), i + 1 == pos))
        if pos > n:
            rows.append(("Update", html.escape(pretty(tr.update_rule(k_name))).replace("\n", "<br>"), True))
        return rows

    def explanation(self) -> str:
        """The explanation under the graph, for this point of the pass (rich text)."""
        tr, ex, pos, n = self.trace, self.example, self.position, self.n
        texts = resources.sections("backprop.md")
        if self.applied is not None:
            old, new = self.applied
            params = ex.k_name if ex.b is None else f"{ex.k_name} and b"
            note = texts["note_book"] if ex.book else texts["note_batch"]
            body = texts["applied"].format(params=params, old=number(old.loss), new=number(new.loss), note=note)
        elif pos < 0:
            body = texts["intro"].format(formula=html.escape(ex.formula()))
        elif pos == 0:
            body = texts["forward"].format(loss=number(tr.loss))
        elif pos == 1:
            body = texts["start"].format(n=n)
        elif pos < n:
            body = texts["backward"].format(i=pos, n=n)
        elif pos == n:
            gb = "" if tr.grad_b is None else f" and ∂loss/∂b = <b>{number(tr.grad_b)}</b>"
            body = texts["done"].format(k_name=ex.k_name, gk=number(tr.grad_k), gb=gb)
        else:
            params = ex.k_name if ex.b is None else f"{ex.k_name} and b"
            rule = html.escape(pretty(tr.update_rule(ex.k_name))).replace("\n", "<br>")
            body = texts["update"].format(lr=number(ex.learning_rate), rule=rule, params=params,
                                          optimizer_note=self.optimizer_note("note_optimizer"))
        if ex.book and self.applied is None and pos <= 0:
            body += "<br><br>" + texts["note_book"]
        return body
