"""Guided lessons: the lesson file format, its parser, and the small fixed vocabulary of checks.

A lesson is a Markdown file. Its first ``# heading`` is the lesson's title; each ``## heading`` starts a step.
Right under a step's heading come its fields, one ``key: value`` a line, up to the first blank line; the rest of
the step, up to the next ``## heading``, is the text the student reads (Markdown). Lines starting with ``<!--``
up to ``-->`` are comments. For example::

    # Gradient descent in five minutes

    ## Click a start
    tab: surface
    loss: mse
    learning_rate: 0.01
    start: 0.5, 3
    show: step_phase x4
    check: phase_reached gradient

    The point you clicked is the model *before* training. Press **Step phase** four times.

Fields (all optional but ``tab``):

``tab``
    ``surface`` (the loss surface), ``boston`` (Boston Housing), ``backprop`` (backpropagation), ``race``.
``data``
    A built-in data set, ``download-time`` or ``boston-housing`` (default: the tab's book data). The tab starts
    afresh on it with the book's settings, then the settings below apply.
``loss``, ``optimizer``, ``learning_rate``, ``batch_size``, ``epochs``, ``seed``, ``normalize``,
``validation_split``, ``model``
    Settings of the run (``normalize``: yes/no; ``model``: ``linear``, ``mlp1``, ``mlp2``).
``start``
    ``kernel, bias``: the start point on the loss surface.
``train``
    How far to train before the student reads: ``3 phases``, ``2 batches``, ``5 epochs`` (or ``to the end``).
``example``
    ``book``: the backpropagation tab shows the book's example (x 2, y 5, v 0).
``show``
    The *Show me* actions, separated by ``;``: ``step_phase``, ``step_batch``, ``step_epoch`` (each with an
    optional ``xN``), ``run``, ``start K, B``, ``set KEY VALUE``, ``go_back``, ``forward``, ``backward xN``,
    ``update``, ``book_example``.
``check``
    Conditions joined with ``and``: ``phase_reached PHASE`` (batch, forward, loss, gradient, update),
    ``diverged``, ``steps_at_least N``, ``steps_at_most N``, ``epoch_at_least N``, ``loss_below X`` (training
    loss now), ``test_loss_below X``, ``rate_below X``, ``rate_above X``, ``tab_is TAB``, ``normalize on|off``,
    ``pass_done`` (the backward pass reached every edge).

A malformed file raises :class:`LessonError` with one line naming the step and the field.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .settings import LEARNING_RATE_RANGE, LOSSES, OPTIMIZERS, SEED_MAX, VALIDATION_SPLIT_MAX

TABS = ("surface", "boston", "backprop", "race")
TRAINING_TABS = ("surface", "boston")
DATASETS = {"download-time": "surface", "boston-housing": "boston"}
BOOK_DATA = {"surface": "download-time", "boston": "boston-housing"}
MODELS = {"linear": ("linear", None), "mlp1": ("mlp", (50,)), "mlp2": ("mlp", (50, 50))}
PHASES = ("batch", "forward", "loss", "gradient", "update")
UNITS = {"phase": "phase", "phases": "phase", "batch": "batch", "batches": "batch", "epoch": "epoch",
         "epochs": "epoch"}
STEP_ACTIONS = {"step_phase": "phase", "step_batch": "batch", "step_epoch": "epoch"}
#: The actions each tab can do (a ``phase`` is ``step_phase``, and so on).
TAB_ACTIONS = {
    "surface": ("phase", "batch", "epoch", "run", "start", "set", "go_back"),
    "boston": ("batch", "epoch", "run", "set", "go_back"),
    "backprop": ("forward", "backward", "update", "book_example"),
    "race": ("batch", "epoch", "run"),
}
MAX_REPEAT = 1000
MAX_BYTES = 1_000_000
SETTING_KEYS = ("loss", "optimizer", "learning_rate", "batch_size", "epochs", "seed", "normalize",
                "validation_split", "model")
FIELDS = ("tab", "data", "start", "train", "example", "show", "check", *SETTING_KEYS)
SURFACE_ONLY_NOT = ("normalize", "model", "validation_split")  # settings the loss-surface tab does not have
YES, NO = ("yes", "true", "on"), ("no", "false", "off")


def run_changes(settings: dict[str, Any]) -> dict[str, Any]:
    """A step's settings as changes of :class:`~fitscope.engine.settings.FitSettings` (``model: mlp2`` becomes
    ``model="mlp", hidden=(50, 50)``)."""
    changes = dict(settings)
    if "model" in changes:
        model, hidden = MODELS[changes.pop("model")]
        changes["model"] = model
        if hidden is not None:
            changes["hidden"] = hidden
    return changes


class LessonError(ValueError):
    """A lesson file that cannot be used: one line naming the step and the field."""


@dataclass(frozen=True)
class Action:
    """One thing *Show me* (or a step's setup) does.

    ``kind``: ``phase``/``batch``/``epoch`` (a training step), ``run``, ``start``, ``set``, ``go_back``,
    ``forward``, ``backward``, ``update``, ``book_example``; ``args`` its arguments.
    """

    kind: str
    args: tuple = ()


@dataclass(frozen=True)
class Condition:
    """One condition of a check: ``name`` from the vocabulary and its argument (or None)."""

    name: str
    arg: Any = None


@dataclass(frozen=True)
class TabState:
    """What a check looks at: the tab shown, its run (a :class:`~fitscope.engine.run.FitRun`, or None for a tab
    without one) and whether the backpropagation tab's backward pass is done."""

    tab: str
    run: Any = None
    pass_done: bool = False


@dataclass(frozen=True)
class Check:
    """Conditions that must all hold."""

    conditions: tuple[Condition, ...]

    def met(self, state: TabState) -> bool:
        """Whether every condition holds in ``state``."""
        return all(_holds(c, state) for c in self.conditions)


@dataclass(frozen=True)
class Step:
    """One step of a lesson: its title and Markdown text, its setup, *Show me* actions and check."""

    title: str
    text: str
    tab: str
    data: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    start: tuple[float, float] | None = None
    train: tuple[str, int] | None = None  # (unit, count); count 0 with unit "run": to the end
    example: str | None = None
    show: tuple[Action, ...] = ()
    check: Check | None = None

    @property
    def dataset(self) -> str | None:
        """The data set the step's training tab starts afresh on (None: a tab without data)."""
        return self.data or BOOK_DATA.get(self.tab)

    def setup_actions(self) -> tuple[Action, ...]:
        """What the step's ``train`` field asks for, as actions."""
        if self.train is None:
            return ()
        unit, count = self.train
        return (Action("run"),) if unit == "run" else tuple(Action(unit) for _ in range(count))


@dataclass(frozen=True)
class Lesson:
    """A lesson's title and its steps."""

    title: str
    steps: tuple[Step, ...]


# --------------------------------------------------------------------------- checks
def _holds(c: Condition, s: TabState) -> bool:
    if c.name == "tab_is":
        return s.tab == c.arg
    if c.name == "pass_done":
        return s.tab == "backprop" and s.pass_done
    run = s.run
    if run is None:
        return False
    h = run.history
    if c.name == "phase_reached":
        last = h.last_step
        return last is not None and (h.steps > 0 or int(last.phase) >= PHASES.index(c.arg))
    if c.name == "diverged":
        return h.diverged is not None
    if c.name == "steps_at_least":
        return h.steps >= c.arg
    if c.name == "steps_at_most":
        return h.steps <= c.arg
    if c.name == "epoch_at_least":
        return run.epochs_done >= c.arg
    if c.name == "rate_below":
        return run.settings.learning_rate < c.arg
    if c.name == "rate_above":
        return run.settings.learning_rate > c.arg
    if c.name == "normalize":
        return run.settings.normalize == c.arg
    if c.name in ("loss_below", "test_loss_below"):
        if h.diverged is not None:
            return False
        loss = run.loss_now("train" if c.name == "loss_below" else "test")
        return loss is not None and math.isfinite(loss) and loss < c.arg
    raise AssertionError(c.name)  # the parser lets no other name through


# --------------------------------------------------------------------------- parsing
class _Field:
    """Reads one field's value, raising :class:`LessonError` that names the step and the field."""

    def __init__(self, where: str, key: str) -> None:
        self.where, self.key = where, key

    def fail(self, why: str) -> LessonError:
        return LessonError(f"{self.where}, field '{self.key}': {why}")

    def choice(self, value: str, choices) -> str:
        v = value.strip().lower()
        if v not in choices:
            raise self.fail(f"'{value.strip()}' is not one of {', '.join(choices)}")
        return v

    def number(self, value: str, lo: float = -math.inf, hi: float = math.inf) -> float:
        try:
            v = float(value.strip())
        except ValueError:
            raise self.fail(f"'{value.strip()}' is not a number") from None
        if not math.isfinite(v) or not lo <= v <= hi:
            raise self.fail(f"{value.strip()} is outside {lo:g} to {hi:g}")
        return v

    def integer(self, value: str, lo: int = 0, hi: int = 10**9) -> int:
        text = value.strip()
        if not re.fullmatch(r"\d+", text):
            raise self.fail(f"'{text}' is not a whole number")
        v = int(text)
        if not lo <= v <= hi:
            raise self.fail(f"{v} is outside {lo} to {hi}")
        return v

    def flag(self, value: str) -> bool:
        v = value.strip().lower()
        if v in YES or v in NO:
            return v in YES
        raise self.fail(f"'{value.strip()}' is not yes or no")

    def pair(self, value: str) -> tuple[float, float]:
        parts = value.split(",")
        if len(parts) != 2:
            raise self.fail(f"'{value.strip()}' is not two numbers 'kernel, bias'")
        return self.number(parts[0], -1e6, 1e6), self.number(parts[1], -1e6, 1e6)


def _setting(f: _Field, key: str, value: str) -> Any:
    if key == "loss":
        return f.choice(value, LOSSES)
    if key == "optimizer":
        return f.choice(value, OPTIMIZERS)
    if key == "learning_rate":
        v = f.number(value, *LEARNING_RATE_RANGE)
        if v <= 0:
            raise f.fail("the learning rate must be above 0")
        return v
    if key == "batch_size":
        return f.integer(value, 1)
    if key == "epochs":
        return f.integer(value, 1, 1_000_000)
    if key == "seed":
        return f.integer(value, 0, SEED_MAX)
    if key == "normalize":
        return f.flag(value)
    if key == "validation_split":
        return f.number(value, 0.0, VALIDATION_SPLIT_MAX)
    return f.choice(value, tuple(MODELS))


def _train(f: _Field, value: str) -> tuple[str, int]:
    words = value.split()
    if [w.lower() for w in words] == ["to", "the", "end"]:
        return "run", 0
    if len(words) != 2 or words[1].lower() not in UNITS:
        raise f.fail(f"'{value.strip()}' is not 'N phases', 'N batches', 'N epochs' or 'to the end'")
    return UNITS[words[1].lower()], f.integer(words[0], 0, MAX_REPEAT)


def _repeat(f: _Field, words: list[str], text: str) -> int:
    if len(words) == 1:
        return 1
    m = re.fullmatch(r"[x×](\d+)", words[1].lower()) if len(words) == 2 else None
    if m is None:
        raise f.fail(f"'{text}': a repeat is written x3")
    n = int(m.group(1))
    if not 1 <= n <= MAX_REPEAT:
        raise f.fail(f"'{text}': repeat 1 to {MAX_REPEAT} times")
    return n


def _actions(f: _Field, value: str, tab: str) -> tuple[Action, ...]:
    out: list[Action] = []
    for part in (p.strip() for p in value.split(";")):
        if not part:
            continue
        words = part.split()
        name = words[0].lower()
        if name in STEP_ACTIONS or name in ("backward", "forward", "update"):
            out += [Action(STEP_ACTIONS.get(name, name))] * _repeat(f, words, part)
        elif name in ("run", "go_back", "book_example") and len(words) == 1:
            out.append(Action(name))
        elif name == "start":
            out.append(Action("start", f.pair(part[len("start"):])))
        elif name == "set" and len(words) == 3 and words[1] in SURFACE_ONLY_NOT and tab == "surface":
            raise f.fail(f"'{part}': the loss-surface tab trains a linear model on one feature only")
        elif name == "set" and len(words) == 3 and words[1] in SETTING_KEYS:
            out.append(Action("set", (words[1], _setting(f, words[1], words[2]))))
        elif name == "set":
            raise f.fail(f"'{part}' is not 'set KEY VALUE' with KEY one of {', '.join(SETTING_KEYS)}")
        else:
            raise f.fail(f"'{part}' is not an action")
        kind = out[-1].kind
        if kind not in TAB_ACTIONS[tab]:
            raise f.fail(f"'{part}' cannot be done on the {tab} tab")
    return tuple(out)


CONDITIONS = {"phase_reached": "phase", "diverged": None, "steps_at_least": "int", "steps_at_most": "int",
              "epoch_at_least": "int", "loss_below": "number", "test_loss_below": "number",
              "rate_below": "number", "rate_above": "number", "tab_is": "tab", "normalize": "flag",
              "pass_done": None}


def _check(f: _Field, value: str) -> Check:
    conditions = []
    for part in (p.strip() for p in re.split(r"\band\b", value)):
        words = part.split()
        if not words or words[0].lower() not in CONDITIONS:
            raise f.fail(f"'{part}' is not a condition (one of {', '.join(CONDITIONS)})")
        name, kind = words[0].lower(), CONDITIONS[words[0].lower()]
        if (kind is None) != (len(words) == 1) or len(words) > 2:
            raise f.fail(f"'{part}': {name} takes {'no value' if kind is None else 'one value'}")
        arg: Any = None
        if kind == "phase":
            arg = f.choice(words[1], PHASES)
        elif kind == "int":
            arg = f.integer(words[1])
        elif kind == "number":
            arg = f.number(words[1])
        elif kind == "tab":
            arg = f.choice(words[1], TABS)
        elif kind == "flag":
            arg = f.flag(words[1])
        conditions.append(Condition(name, arg))
    return Check(tuple(conditions))


def _step(number: int, title: str, fields: list[tuple[int, str, str]], text: str) -> Step:
    where = f"step {number} ('{title}')"
    raw: dict[str, str] = {}
    for line, key, value in fields:
        f = _Field(where, key)
        if key not in FIELDS:
            raise LessonError(f"{where}, line {line}: unknown field '{key}' (fields: {', '.join(FIELDS)})")
        if key in raw:
            raise f.fail("given twice")
        if not value.strip():
            raise f.fail("has no value")
        raw[key] = value
    if "tab" not in raw:
        raise LessonError(f"{where}, field 'tab': missing (one of {', '.join(TABS)})")
    tab = _Field(where, "tab").choice(raw["tab"], TABS)
    kw: dict[str, Any] = {}
    settings = {k: _setting(_Field(where, k), k, raw[k]) for k in SETTING_KEYS if k in raw}
    if settings and tab not in TRAINING_TABS:
        raise _Field(where, next(iter(settings))).fail(f"the {tab} tab has no such setting")
    if tab == "surface" and (set(SURFACE_ONLY_NOT) & settings.keys()):
        key = next(k for k in SURFACE_ONLY_NOT if k in settings)
        raise _Field(where, key).fail("the loss-surface tab trains a linear model on one feature only")
    if "data" in raw:
        f = _Field(where, "data")
        kw["data"] = f.choice(raw["data"], tuple(DATASETS))
        if DATASETS[kw["data"]] != tab:
            raise f.fail(f"{kw['data']} is not shown on the {tab} tab")
    if "start" in raw:
        if tab != "surface":
            raise _Field(where, "start").fail("a start point is clicked on the loss-surface tab only")
        kw["start"] = _Field(where, "start").pair(raw["start"])
    if "train" in raw:
        if tab not in TRAINING_TABS:
            raise _Field(where, "train").fail(f"the {tab} tab is not trained by a lesson")
        kw["train"] = _train(_Field(where, "train"), raw["train"])
        if kw["train"][0] == "phase" and tab != "surface":
            raise _Field(where, "train").fail("phases are stepped on the loss-surface tab only")
    if "example" in raw:
        f = _Field(where, "example")
        if tab != "backprop":
            raise f.fail("an example is shown on the backprop tab only")
        kw["example"] = f.choice(raw["example"], ("book",))
    if "show" in raw:
        kw["show"] = _actions(_Field(where, "show"), raw["show"], tab)
    if "check" in raw:
        kw["check"] = _check(_Field(where, "check"), raw["check"])
    if not text.strip():
        raise LessonError(f"{where}: the step has no text")
    return Step(title=title, text=text.strip(), tab=tab, settings=settings, **kw)


def _strip_comments(text: str) -> str:
    return re.sub(r"<!--.*?-->", "", text, flags=re.S)


def parse(text: str) -> Lesson:
    """The lesson written in ``text`` (see the module's docstring). :class:`LessonError` (one line) if malformed."""
    if "<!--" in re.sub(r"<!--.*?-->", "", text, flags=re.S):
        raise LessonError("a comment '<!--' is never closed with '-->'")
    lines = _strip_comments(text).splitlines()
    title = ""
    steps: list[Step] = []
    current: tuple[str, int] | None = None  # (title, line number)
    fields: list[tuple[int, str, str]] = []
    body: list[str] = []
    in_fields = False

    def finish() -> None:
        if current is not None:
            steps.append(_step(len(steps) + 1, current[0], fields, "\n".join(body)))

    for number, line in enumerate(lines, 1):
        if line.startswith("## "):
            finish()
            current, fields, body, in_fields = (line[3:].strip(), number), [], [], True
            if not current[0]:
                raise LessonError(f"line {number}: step {len(steps) + 1} has no title")
        elif line.startswith("# ") and current is None:
            if title:
                raise LessonError(f"line {number}: a second lesson title '# …' (steps start with '## ')")
            title = line[2:].strip()
        elif current is None:
            if line.strip():
                raise LessonError(f"line {number}: text before the first step ('## title')")
        elif in_fields:
            if not line.strip():
                in_fields = not fields
                continue
            m = re.fullmatch(r"\s*([A-Za-z_]+)\s*:(.*)", line)
            if m is None:
                raise LessonError(f"step {len(steps) + 1} ('{current[0]}'), line {number}: '{line.strip()}' is not "
                                  "'field: value' (leave a blank line between the fields and the text)")
            fields.append((number, m.group(1).lower(), m.group(2)))
        else:
            body.append(line)
    finish()
    if not title:
        raise LessonError("the lesson has no title (a first line '# title')")
    if not steps:
        raise LessonError("the lesson has no steps (each starts with '## title')")
    return Lesson(title, tuple(steps))


def load(path: str | Path) -> Lesson:
    """The lesson in the file at ``path``. :class:`LessonError` (one line) if it cannot be read or is malformed."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_BYTES:
            raise LessonError(f"{p.name} is larger than a lesson file can be ({MAX_BYTES // 1000:,} kB)")
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise LessonError(f"{p.name} is not a UTF-8 text file") from None
    except IsADirectoryError:
        raise LessonError(f"{p.name} is a folder, not a lesson file") from None
    except OSError as e:
        raise LessonError(f"cannot read {p.name}: {e.strerror or e}") from None
    return parse(text)
