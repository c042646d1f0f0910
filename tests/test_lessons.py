"""Lesson files: the parser, its one-line refusals, the checks, and the built-in lesson's numbers against the
engine (each number a step's text quotes is what the app shows for that step's setup)."""

from __future__ import annotations

import itertools
import re
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest

from fitscope import resources
from fitscope.engine.backprop import trace
from fitscope.engine.data import load_builtin
from fitscope.engine.lessons import LessonError, Step, TabState, load, parse, run_changes
from fitscope.gui.models.multi import MultiRun
from fitscope.gui.models.surface import SurfaceRun

README = Path(__file__).resolve().parents[1] / "README.md"


def builtin():
    return parse(files(resources).joinpath("lessons/chapter2.md").read_text(encoding="utf-8"))


def readme_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Guided lessons"):]
    return re.search(r"```markdown\n(.*?)```", section, re.S).group(1)


# --------------------------------------------------------------------------- the format
def test_the_readmes_example_loads():
    lesson = parse(readme_example())
    assert lesson.title == "The learning rate"
    assert [s.title for s in lesson.steps] == ["Too large", "Just right"]
    first, second = lesson.steps
    assert first.tab == "surface" and first.settings == {"loss": "mse", "learning_rate": 0.05}
    assert first.start == (0.5, 0.5) and [a.kind for a in first.show] == ["run"]
    assert [c.name for c in first.check.conditions] == ["diverged"]
    assert [a.kind for a in second.show] == ["set"] + ["epoch"] * 50
    assert run_changes({"model": "mlp2", "loss": "mae"}) == {"model": "mlp", "hidden": (50, 50), "loss": "mae"}
    assert first.text.startswith("At a rate of **0.05**")


def test_the_builtin_lesson_covers_the_chapter_in_order():
    lesson = builtin()
    titles = [s.title for s in lesson.steps]
    assert len(titles) >= 14
    order = ["The data and the model", "The loss as a surface: MAE", "MSE: a smooth bowl", "Click a start",
             "The five phases of one step", "Too small a learning rate", "A rate that reaches the star",
             "Too large: the run diverges", "Recovering from a divergence", "Full batch: one step per epoch",
             "Mini-batches: the noise of SGD", "Backpropagation: the book's example",
             "Boston Housing and its baseline", "Why normalization matters", "Reading the linear model's weights",
             "An MLP against the linear model", "The optimizers raced"]
    assert [t for t in titles if t in order] == order


def test_a_lesson_file_is_read_and_a_missing_one_refused(tmp_path):
    path = tmp_path / "mine.md"
    path.write_text(readme_example(), encoding="utf-8")
    assert load(path).title == "The learning rate"
    with pytest.raises(LessonError, match="cannot read nothere.md"):
        load(tmp_path / "nothere.md")
    with pytest.raises(LessonError, match="is a folder"):
        load(tmp_path)
    (tmp_path / "binary.md").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(LessonError, match="not a UTF-8"):
        load(tmp_path / "binary.md")


STEP = "# T\n\n## S\n{fields}\n\nText.\n"
MALFORMED = [
    ("", "no title"),
    ("# T\n", "no steps"),
    ("# T\nstray text\n## S\ntab: surface\n\nText.\n", "text before the first step"),
    (STEP.format(fields="loss: mse"), "step 1 ('S'), field 'tab': missing"),
    (STEP.format(fields="tab: kitchen"), "field 'tab': 'kitchen' is not one of"),
    (STEP.format(fields="tab: surface\nlerning_rate: 0.1"), "unknown field 'lerning_rate'"),
    (STEP.format(fields="tab: surface\nlearning_rate: fast"), "field 'learning_rate': 'fast' is not a number"),
    (STEP.format(fields="tab: surface\nlearning_rate: -1"), "field 'learning_rate': -1 is outside"),
    (STEP.format(fields="tab: surface\nbatch_size: 2.5"), "field 'batch_size': '2.5' is not a whole number"),
    (STEP.format(fields="tab: surface\ndata: mnist"), "field 'data': 'mnist' is not one of"),
    (STEP.format(fields="tab: surface\ndata: boston-housing"), "boston-housing is not shown on the surface tab"),
    (STEP.format(fields="tab: surface\nnormalize: yes"), "field 'normalize': the loss-surface tab"),
    (STEP.format(fields="tab: boston\nstart: 1, 2"), "field 'start': a start point is clicked"),
    (STEP.format(fields="tab: surface\nstart: 1"), "field 'start': '1' is not two numbers"),
    (STEP.format(fields="tab: surface\ntrain: forever"), "field 'train': 'forever' is not"),
    (STEP.format(fields="tab: surface\nshow: dance"), "field 'show': 'dance' is not an action"),
    (STEP.format(fields="tab: surface\nshow: step_batch x0"), "field 'show': 'step_batch x0': repeat 1 to"),
    (STEP.format(fields="tab: surface\nshow: backward"), "field 'show': 'backward' cannot be done on the surface"),
    (STEP.format(fields="tab: boston\nshow: step_phase"), "field 'show': 'step_phase' cannot be done on the boston"),
    (STEP.format(fields="tab: boston\ntrain: 3 phases"), "field 'train': phases are stepped on the loss-surface"),
    (STEP.format(fields="tab: surface\nshow: set normalize no"), "field 'show': 'set normalize no': the loss-surf"),
    (STEP.format(fields="tab: surface\nshow: set colour red"), "field 'show': 'set colour red' is not 'set KEY"),
    (STEP.format(fields="tab: surface\ncheck: happy"), "field 'check': 'happy' is not a condition"),
    (STEP.format(fields="tab: surface\ncheck: phase_reached lunch"), "field 'check': 'lunch' is not one of"),
    (STEP.format(fields="tab: surface\ncheck: diverged 3"), "field 'check': 'diverged 3': diverged takes no"),
    (STEP.format(fields="tab: surface\nloss: mse\nloss: mae"), "field 'loss': given twice"),
    (STEP.format(fields="tab: race\nlearning_rate: 0.1"), "the race tab has no such setting"),
    (STEP.format(fields="tab: surface\nnot a field"), "'not a field' is not 'field: value'"),
    ("# T\n\n## S\ntab: surface\n\n", "step 1 ('S'): the step has no text"),
    ("# T\n<!-- open\n## S\ntab: surface\n\nText.\n", "never closed"),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_a_malformed_lesson_is_refused_in_one_line(text, message):
    with pytest.raises(LessonError) as info:
        parse(text)
    said = str(info.value)
    assert message in said and "\n" not in said


def test_a_second_step_is_named_by_its_number_and_title():
    text = "# T\n\n## One\ntab: surface\n\nText.\n\n## Two\ntab: boston\nmodel: mlp9\n\nText.\n"
    with pytest.raises(LessonError, match=r"^step 2 \('Two'\), field 'model': 'mlp9' is not one of"):
        parse(text)


# --------------------------------------------------------------------------- runs as the app makes them
def run_of(step: Step, epochs: int | None = None, steps: int | None = None, **changes):
    """The run a step's setup makes (its data set with the book's settings, its settings, its start), trained
    ``epochs`` or ``steps`` further (or to the end, or to a divergence), as the app's tab records it."""
    kind = SurfaceRun if step.tab == "surface" else MultiRun
    run = kind(load_builtin(step.dataset))
    settings = run_changes(dict(step.settings, **changes))
    if settings:
        run.update(**settings)
    if step.start is not None:
        run.start_at(*step.start)
    if steps == 0:
        return run
    reports = []
    for report in run.trainable.run():
        reports.append(report)
        if report.kind == "diverged" or (epochs is not None and run.epochs_done + sum(
                r.kind == "epoch" for r in reports) >= epochs) or (steps is not None and report.kind == "batch"
                                                                   and report.step >= steps):
            break
    run.record(reports)
    return run


def step_named(title: str) -> Step:
    return next(s for s in builtin().steps if s.title == title)


def quoted(step: Step, *numbers: str) -> None:
    for n in numbers:
        assert f"{n}" in step.text, (step.title, n)


def test_the_mae_and_mse_numbers_are_the_apps():
    mae = step_named("The loss as a surface: MAE")
    run = run_of(mae, steps=0)
    k, b = run.optimum()
    quoted(mae, f"**{run.loss_now():.3f} s**", f"kernel {k:.4f}, bias {b:.4f}")
    mse = step_named("MSE: a smooth bowl")
    run = run_of(mse, steps=0)
    k, b = run.optimum()
    quoted(mse, f"kernel **{k:.4f}**, bias **{b:.4f}**", f"**{run.loss_now():.2f}**")


def test_the_phase_numbers_are_the_apps():
    step = step_named("The five phases of one step")
    run = SurfaceRun(load_builtin("download-time"))
    run.update(**step.settings)
    run.start_at(*step.start)
    run.trainer.phases = True
    reports = list(itertools.islice(run.trainable.run(), 4))
    gradient = reports[-1]
    assert int(gradient.phase) == 3
    quoted(step, f"({gradient.loss:.2f})", f"kernel {gradient.gradient[0]:.2f}, bias {gradient.gradient[1]:.2f}")
    quoted(step_named("The update"), f"0.5 − 0.01 · {gradient.gradient[0]:.2f}")


def test_the_learning_rate_numbers_are_the_apps():
    small = step_named("Too small a learning rate")
    run = run_of(small)
    assert run.epochs_done == 200
    best = run.experiment.loss_at(np.array(run.optimum()), "train")
    quoted(small, f"**{run.loss_now():.4f}**", f"{best:.5f}")
    reach = step_named("A rate that reaches the star")
    good = run_of(reach, steps=50, learning_rate=0.04)
    assert good.history.steps == 50 and good.loss_now() < 0.0015
    zigzag = run_of(reach, steps=50, learning_rate=0.045)
    assert zigzag.loss_now() > 0.0015
    quoted(reach, f"at {zigzag.loss_now():.4f} after 50 steps")
    large = step_named("Too large: the run diverges")
    run = run_of(large)
    d = run.history.diverged
    assert d is not None and d.step == 33
    quoted(large, f"**step {d.step}**", "56,000")
    assert "56,000" in d.message


def test_recovering_reaches_below_the_checks_loss():
    step = step_named("Recovering from a divergence")
    run = run_of(step)
    assert run.history.diverged is not None
    run.go_back(run.back_to())  # as Go back does
    run.update(learning_rate=0.04)
    run.record(list(run.trainable.run()))  # Run, to the epoch limit
    assert run.history.diverged is None and run.epochs_done == 200
    assert run.loss_now() < 0.001


def test_the_batch_numbers_are_the_apps():
    full = step_named("Full batch: one step per epoch")
    run = run_of(full, epochs=5)
    assert run.history.steps == 5
    quoted(full, f"**{run.loss_now():.4f}**")
    mini = step_named("Mini-batches: the noise of SGD")
    run2 = run_of(mini, epochs=5)
    assert run2.history.steps == 25
    quoted(mini, "**25 steps**", f"**{run2.loss_now():.4f}**")
    assert run2.loss_now() < run.loss_now() / 1.5  # "half the full-batch loss"


def test_the_backpropagation_numbers_are_the_books():
    step = step_named("Backpropagation: the book's example")
    t = trace(0.0, 2.0, 5.0, None, "mse", 0.01, "v")
    grads = [e.grad for e in t.edges]
    assert -10 in grads and grads.count(-10) >= 2 and t.grad_k == -20 and t.new_k == pytest.approx(0.2)
    quoted(step, "**−10**, **−10**, **−20**", "**0.2**")


def test_the_boston_numbers_are_the_apps():
    base = step_named("Boston Housing and its baseline")
    run = run_of(base, steps=0)
    quoted(base, f"**{run.baseline('test'):.2f}**", f"{run.dataset.y_train.mean():.2f}",
           f"**{run.dataset.n_features} features**", f"({len(run.dataset.y_train)} training rows)")
    linear = step_named("Train the linear model")
    run = run_of(linear)
    assert run.epochs_done == 200
    quoted(linear, f"**{run.loss_now('test'):.1f}**")
    weights = step_named("Reading the linear model's weights")
    w = dict(zip(run.param_labels(), run.current, strict=True))
    quoted(weights, f"lstat {w['weight of lstat']:.2f}".replace("-", "−"), f"rm +{w['weight of rm']:.2f}")
    kernel = {k: abs(v) for k, v in w.items() if k != "bias"}
    assert sorted(kernel, key=kernel.get)[-2:] == ["weight of rm", "weight of lstat"]
    unnormalized = run_of(step_named("Why normalization matters"))
    assert unnormalized.history.diverged is not None
    quoted(step_named("Why normalization matters"), f"**step {unnormalized.history.diverged.step}**")


def test_the_mlp_numbers_are_the_apps():
    step = step_named("An MLP against the linear model")
    run = run_of(step)
    train, val, _ = run.last_epoch()
    quoted(step, f"**{run.loss_now('test'):.2f}**", f"ends at {train:.2f}", f"**{val:.2f}**")
    assert val > 2 * train  # the gap the text calls overfitting


# --------------------------------------------------------------------------- checks
def test_checks_hold_only_when_the_tab_shows_it():
    step = step_named("Too large: the run diverges")
    fresh = run_of(step, steps=0)
    assert not step.check.met(TabState("surface", fresh))
    assert step.check.met(TabState("surface", run_of(step)))
    reach = step_named("A rate that reaches the star")
    assert not reach.check.met(TabState("surface", run_of(reach, steps=50)))  # 0.001 is too small
    assert not reach.check.met(TabState("surface", run_of(reach, steps=200, learning_rate=0.04)))  # too many
    assert reach.check.met(TabState("surface", run_of(reach, steps=50, learning_rate=0.04)))
    phases = parse(STEP.format(fields="tab: surface\ncheck: phase_reached gradient and tab_is surface")).steps[0]
    run = SurfaceRun(load_builtin("download-time"))
    run.trainer.phases = True
    run.record(list(itertools.islice(run.trainable.run(), 3)))
    assert not phases.check.met(TabState("surface", run))
    run.record(list(itertools.islice(run.trainable.run(), 1)))
    assert phases.check.met(TabState("surface", run)) and not phases.check.met(TabState("boston", run))
    done = parse(STEP.format(fields="tab: backprop\ncheck: pass_done")).steps[0]
    assert not done.check.met(TabState("backprop")) and done.check.met(TabState("backprop", pass_done=True))


def test_the_engine_module_imports_no_qt():
    import subprocess
    import sys
    code = "import sys, fitscope.engine.lessons; print(any(m.startswith('PySide6') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
