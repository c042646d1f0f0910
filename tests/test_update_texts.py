"""The update phase writes the optimizer's own rule with every number: for each optimizer, the new kernel and
bias recomputed from the numbers printed come out as printed, and as the readouts show them."""

from __future__ import annotations

import math
import re
import string

import numpy as np
import pytest

from fitscope import resources
from fitscope.engine.data import load_builtin
from fitscope.engine.optimizers import make_optimizer
from fitscope.engine.trainer import Phase, StepReport
from fitscope.gui.models.surface import Sample, update_values
from fitscope.gui.views.backprop_view import BackpropView
from fitscope.gui.views.surface_view import SurfaceView

OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")


@pytest.fixture
def view(qtbot):
    v = SurfaceView(dataset=load_builtin("download-time"))
    qtbot.addWidget(v)
    v.resize(1280, 800)
    v.show()
    qtbot.waitExposed(v)
    yield v
    v.shutdown()


def idle(qtbot, view):
    qtbot.waitUntil(lambda: not view.controller.busy, timeout=30_000)


def press(qtbot, view, command, times=1):
    for _ in range(times):
        view.commands[command].trigger()
        idle(qtbot, view)


def fields(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def pattern(template: str) -> re.Pattern:
    """A regular expression that matches ``template`` filled in, capturing each placeholder by name (a name
    used again must be filled in the same)."""
    out, seen = ["^"], set()
    for literal, name, _, _ in string.Formatter().parse(template):
        out.append(re.escape(literal))
        if name:
            out.append(f"(?P={name})" if name in seen else f"(?P<{name}>.*?)")
            seen.add(name)
    return re.compile("".join(out) + "$", re.DOTALL)


def value(text: str) -> float:
    assert re.fullmatch(r"\(?-?\d+(\.\d+)?(e-?\d+)?\)?", text), text
    return float(text.strip("()"))


def half_unit(text: str) -> float:
    """Half a unit of the last digit printed in ``text``."""
    mantissa, _, exponent = text.strip("()").partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 0.5 * 10.0 ** (-decimals + int(exponent or 0))


def parsed(view, name: str) -> dict[str, str]:
    texts = resources.sections("phases.md")
    outer = pattern(texts["update"]).match(view.phase_text.text())
    assert outer, view.phase_text.text()
    assert outer["optimizer"] == {"sgd": "SGD", "momentum": "Momentum", "rmsprop": "RMSProp", "adam": "Adam"}[name]
    inner = pattern(texts[f"update {name}"]).match(outer["update_rule"])
    assert inner, outer["update_rule"]
    return inner.groupdict()


def recomputed(name: str, v: dict[str, str], w: str) -> float:
    """The optimizer's rule (tfjs's), applied to the printed numbers."""
    x = {key: value(text) for key, text in v.items() if key != "t"}
    old, lr, g = x[f"{w}_old"], x["lr"], x[f"{w}_g"]
    if name == "sgd":
        return old - lr * g
    if name == "momentum":
        velocity = x[f"{w}_vel"]
        assert x["mu"] * x[f"{w}_vel_old"] + g == pytest.approx(velocity, rel=1e-4, abs=1e-9)
        return old - lr * velocity
    if name == "rmsprop":
        ms = x[f"{w}_ms"]
        assert x["rho"] * x[f"{w}_ms_old"] + x["rho_c"] * g * g == pytest.approx(ms, rel=1e-4)
        return old - lr * g / math.sqrt(ms + x["eps"])
    t = int(v["t"])
    m, s = x[f"{w}_m"], x[f"{w}_v"]
    assert x["beta1"] * x[f"{w}_m_old"] + x["beta1_c"] * g == pytest.approx(m, rel=1e-4, abs=1e-9)
    assert x["beta2"] * x[f"{w}_v_old"] + x["beta2_c"] * g * g == pytest.approx(s, rel=1e-4)
    return old - lr * (m / (1 - x["beta1"] ** t)) / (math.sqrt(s / (1 - x["beta2"] ** t)) + x["eps"])


@pytest.mark.parametrize("before", [0, 3])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_the_update_text_recomputes_to_the_new_weights(qtbot, view, name, before):
    view.change(optimizer=name, learning_rate=0.05 if name in ("rmsprop", "adam") else 0.01)
    view.start_at(0.47, -0.35)
    press(qtbot, view, "step_batch", before)
    press(qtbot, view, "step_phase", 5)
    assert view.phase_key == "update"
    v = parsed(view, name)
    step = view.model.history.last_step
    if name == "adam":
        assert int(v["t"]) == before + 1
    for w, i, box in (("k", 0, view.kernel_edit), ("b", 1, view.bias_edit)):
        assert value(v[f"{w}_old"]) == pytest.approx(step.params_before[i], abs=half_unit(v[f"{w}_old"]))
        new, tolerance = value(v[f"{w}_new"]), half_unit(v[f"{w}_new"]) * (1 + 1e-9)
        assert abs(recomputed(name, v, w) - new) <= tolerance, (w, v)
        assert abs(step.params_after[i] - new) <= tolerance
        assert abs(box.value() - new) <= tolerance + 0.5e-6  # the readout shows 6 decimals
        assert value(v[f"{w}_old"]) != new  # the step shows


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_placeholder_of_the_update_is_filled(qtbot, view, name):
    view.change(optimizer=name)
    press(qtbot, view, "step_batch")
    press(qtbot, view, "step_phase", 5)
    texts = resources.sections("phases.md")
    key, values = update_values(view.model.trainer.optimizer, view.model.history.last_step)
    assert key == f"update {name}"
    for field in fields(texts[key]):
        assert values.get(field) not in (None, "", "–"), field
    shown = view.phase_text.text()
    assert "{" not in shown and "}" not in shown and "–" not in shown
    assert f"({values['optimizer']})" in shown


def test_the_text_stays_with_its_step_when_the_optimizer_changes(qtbot, view):
    view.change(optimizer="adam")
    press(qtbot, view, "step_phase", 5)
    shown = view.phase_text.text()
    assert "(Adam)" in shown and "<sup>1</sup>" in shown
    view.change(optimizer="momentum")  # from the next batch
    assert view.phase_text.text() == shown


def test_a_rate_changed_after_the_step_does_not_change_its_text(qtbot, view):
    view.change(optimizer="rmsprop")
    press(qtbot, view, "step_phase", 5)
    step = view.model.history.last_step
    view.change(learning_rate=0.02)
    view.model.trainer.apply_requests()  # as saving a session does, while nobody trains
    key, values = update_values(view.model.trainer.optimizer, step)
    assert key == "update rmsprop" and values["lr"] == "0.001"


def test_a_state_that_is_not_the_steps_is_not_described(qtbot, view):
    view.change(optimizer="rmsprop")
    press(qtbot, view, "step_phase", 5)
    step = view.model.history.last_step
    assert update_values(view.model.trainer.optimizer, step)[0] == "update rmsprop"
    fresh = make_optimizer("adam")
    key, values = update_values(fresh, step)
    assert key == "update unknown"
    text = resources.sections("phases.md")[key].format(**values)
    assert "{" not in text and values["k_new"] in text


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_the_printed_numbers_recompute_over_many_states(name):
    """Far from the app's defaults too: odd rates, large and tiny weights and gradients, many steps."""
    rng = np.random.default_rng(17)
    texts = resources.sections("phases.md")
    for trial in range(60):
        lr = float(10 ** rng.uniform(-4, 0)) if trial % 2 else float(rng.choice([0.001, 0.01, 0.1]))
        optimizer = make_optimizer(name, lr)
        scale = 10 ** rng.uniform(-3, 4, size=2)
        params = rng.normal(size=2) * scale
        for _ in range(int(rng.integers(1, 30))):
            before = params.copy()
            gradient = rng.normal(size=2) * 10 ** rng.uniform(-4, 3, size=2)
            optimizer.step([params], [gradient])
        step = StepReport(Phase.UPDATE, 1, 1, 0, 1, np.arange(2), before, None, 1.0, gradient, params.copy(), lr)
        key, values = update_values(optimizer, step)
        assert key == f"update {name}"
        v = pattern(texts[key]).match(texts[key].format(**values)).groupdict()
        for w, i in (("k", 0), ("b", 1)):
            new = value(v[f"{w}_new"])
            tolerance = half_unit(v[f"{w}_new"]) * (1 + 1e-9)
            assert abs(recomputed(name, v, w) - new) <= tolerance, (trial, w, values)
            assert abs(params[i] - new) <= tolerance


def test_the_backprop_update_names_the_first_tabs_optimizer(qtbot):
    view = BackpropView()
    qtbot.addWidget(view)
    view.show()  # a hidden view draws its texts when it is shown
    for name, shown in (("adam", "Adam"), ("sgd", None)):
        view.set_sample(Sample(0, 2.0, 5.0, 0.5, 0.1, 0.001, "mse", False, name))
        while view.position <= view.n_steps:
            view.backward_step()
        texts = view.text.text() + view.update_text.text()
        if shown:
            assert "plain gradient descent" in texts and shown in texts
        else:
            assert "loss-surface tab uses" not in texts
    view.book_example()
    assert "loss-surface tab uses" not in view.update_text.text()
