"""The backpropagation tab's texts without Qt: each point of the book's pass (§2.2.2) says what was just done."""

from __future__ import annotations

from fitscope.engine.backprop import trace
from fitscope.gui.models.backprop_pass import BOOK, Example, Pass


def book_pass(position: int) -> Pass:
    ex = BOOK
    return Pass(ex, trace(ex.k, ex.x, ex.y, ex.b, ex.loss, ex.learning_rate, ex.k_name), position)


def test_the_books_pass_says_what_was_just_done_at_each_point():
    n = book_pass(0).n
    assert book_pass(-1).rule().startswith("Only the inputs")
    assert book_pass(0).rule() == "Forward pass done: loss = 25. Press Backward step (B)."
    for i in range(1, n + 1):
        now = book_pass(i)
        assert now.rule().startswith(f"Step {i} of {n} — ")
        heads = [head for head, _, _ in now.log_rows()]
        assert heads == ["Forward", *(f"Step {j}" for j in range(1, i + 1))]
        assert [current for _, _, current in now.log_rows()][-1]  # the step just done is marked
    last = book_pass(n + 1)
    assert last.rule() == "Update: v ← 0 − 0.01 · (−20) = 0.2"
    assert last.update() == ("v ← 0 − 0.01 · (−20) = 0.2", "ready")
    assert book_pass(0).forward_lines() == ["v·x = 0 · 2 = 0", "e = ŷ − y = 0 − 5 = −5", "loss = e² = (−5)² = 25"]


def test_the_update_names_the_loss_surface_tabs_optimizer_only_when_it_is_not_plain_sgd():
    base = Example(2.0, 5.0, 0.5, 0.1, 0.001, "mse", "k", "a sample", optimizer="adam")
    tr = trace(base.k, base.x, base.y, base.b, base.loss, base.learning_rate, base.k_name)
    with_adam = Pass(base, tr, 1, optimizer_name="Adam")
    assert "Adam" in with_adam.update()[0]
    plain = Pass(Example(2.0, 5.0, 0.5, 0.1, 0.001, "mse", "k", "a sample"), tr, 1)
    assert plain.optimizer_note("update_box_optimizer") == ""
    assert plain.update()[1] == "waiting"
