"""A run report: one self-contained HTML file with a run's settings, data, final numbers, history and plots.

:func:`run_report` makes the text; the app's File > Export > Report… passes the tab's plots as PNG pictures
(:class:`Picture`, embedded as ``data:`` URIs), ``fitscope fit --report FILE`` passes none (the report then says
that the plots are in the app). Every number is shown to six significant digits, and carried in full in its
cell's ``data-value`` attribute (the shortest text that reads back to the same float64), so that a report can
be read by a program too.

The history table has one row per epoch; a longer history than :data:`MAX_TABLE_ROWS` is thinned to evenly
spaced epochs (the first and the last always among them), and a note says so.
"""

from __future__ import annotations

import base64
import html
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .data import BUILTIN, data_dir
from .numbers import prose

if TYPE_CHECKING:
    from .run import FitRun

#: The most rows of the history table; a longer history shows evenly spaced epochs.
MAX_TABLE_ROWS = 300
_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 60em; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.25em; margin-top: 1.6em;
       border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.5em 0; } th, td { padding: 0.2em 0.8em; text-align: left; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
table.history tr:nth-child(even) { background: #f4f6f8; } table.history th { border-bottom: 1px solid #999; }
.note { color: #555; font-size: 0.92em; } code { background: #f2f2f2; padding: 0 0.2em; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { color: #555; font-size: 0.92em; }
"""


@dataclass(frozen=True)
class Picture:
    """A plot as a PNG file's bytes, and its name."""

    name: str
    png: bytes


def fmt(x: float | None) -> str:
    """A number for people: six significant digits ("n/a" for None or NaN)."""
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.6g}"


def _number_cell(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return '<td class="n">n/a</td>'
    return f'<td class="n" data-value="{float(x)!r}">{fmt(x)}</td>'


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


# --------------------------------------------------------------------------- parts of the report
def settings_rows(run: FitRun) -> list[tuple[str, str]]:
    """The settings that decide what the run computes, as (label, value) rows."""
    s = run.settings
    model = s.model if s.model != "mlp" else f"mlp, hidden layers {', '.join(map(str, s.hidden))}, {s.activation}"
    rows = [("model", model), ("loss", s.loss), ("optimizer", s.optimizer), ("learning rate", f"{s.learning_rate:g}")]
    if s.optimizer == "momentum":
        rows.append(("momentum", f"{s.momentum:g}"))
    rows += [("batch size", str(s.batch_size)), ("epochs", str(s.epochs)),
             ("validation split", f"{s.validation_split:g}"), ("shuffle each epoch", _yes(s.shuffle)),
             ("shuffle the rows once first", _yes(s.shuffle_data)), ("seed", str(s.seed)),
             ("normalize the features", _yes(s.normalize))]
    if s.init is not None:
        rows.append(("start (kernel, bias)", f"{s.init[0]!r}, {s.init[1]!r}"))
    return rows


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def final_numbers(run: FitRun) -> list[tuple[str, float | None, str]]:
    """(label, value, note) of the closing numbers, as ``fitscope fit`` prints them: the last epoch's training
    and validation losses, the test loss at the parameters now, and the baseline."""
    last = run.last_epoch()
    exp = run.experiment
    rows: list[tuple[str, float | None, str]] = [
        ("final training loss", None if last is None else last[0], "" if last else "no epoch was run")]
    if exp.X_val is not None:
        rows.append(("final validation loss", None if last is None else last[1], ""))
    if exp.X_test is not None:
        rows.append(("test loss", run.loss_now("test"), "at the parameters now"))
    where = "on the test set" if run.eval_split == "test" else "on the training rows"
    mean = float(run.dataset.y_train.mean())
    rows.append(("baseline loss", run.baseline(),
                 f"always predicting the mean training target, {prose(mean, 6)}, {where}"))
    return rows


def history_rows(epochs: np.ndarray, limit: int = MAX_TABLE_ROWS) -> np.ndarray:
    """The indices of the epochs the table shows: all, or ``limit`` evenly spaced ones (first and last kept)."""
    n = len(epochs)
    if n <= limit:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, limit)).astype(int))


def provenance(run: FitRun) -> str:
    """Where the data set comes from, as HTML: the data README's sections on a built-in set; a user file's
    path, columns and fingerprint."""
    d = run.dataset
    if d.source not in BUILTIN:
        from .run import digest

        return (f"<p>Your file <code>{_esc(d.source)}</code>: target <code>{_esc(d.target_name)}</code>, features "
                f"{', '.join(f'<code>{_esc(f)}</code>' for f in d.feature_names)}.</p>"
                f"<p class='note'>SHA-256 of the training numbers (float64): <code>{digest(d)}</code></p>")
    try:
        text = data_dir().joinpath("README.md").read_text(encoding="utf-8")
    except OSError:
        return "<p>The data set shipped with fitscope.</p>"
    return "\n".join(_markdown(section) for section in _sections(text, d.source))


def _sections(text: str, source: str) -> list[str]:
    """The ``##`` sections of the data README whose heading names ``source`` (``boston-housing``, …)."""
    parts = re.split(r"(?m)^## ", text)[1:]
    return [p for p in parts if source in re.sub(r"\s+", "-", p.splitlines()[0].lower())]


def _inline(text: str) -> str:
    text = _esc(text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"\*([^*]+)\*", r"<em>\1</em>", text)


def _markdown(section: str) -> str:
    """A README section (a heading, paragraphs, lists, possibly nested) as simple HTML."""
    lines = section.splitlines()
    out = [f"<h3>{_inline(lines[0].strip())}</h3>"]
    items: list[str] = []
    para: list[str] = []

    def flush() -> None:
        if items:
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>")
            items.clear()
        if para:
            out.append(f"<p>{_inline(' '.join(para))}</p>")
            para.clear()

    for line in lines[1:]:
        stripped = line.strip()
        if not stripped or stripped.startswith("|"):
            flush()
        elif stripped.startswith("- "):
            if para:
                flush()
            items.append(stripped[2:])
        elif items:
            items[-1] += " " + stripped
        else:
            para.append(stripped)
    flush()
    return "\n".join(out)


# --------------------------------------------------------------------------- the whole
def run_report(run: FitRun, pictures: list[Picture] | None = None, title: str = "") -> str:
    """The report of ``run`` as the text of one HTML file.

    Parameters
    ----------
    run : FitRun
    pictures : list of Picture, optional
        The plots to embed; None: the report says that the plots are in the app.
    title : str
        Where the run was made (a tab's title), for the heading.
    """
    d, h = run.dataset, run.history
    heading = f"fitscope run on {d.name}" + (f", {title} tab" if title else "")
    body = [f"<h1>{_esc(heading)}</h1>",
            f"<p class='note'>{h.steps:,} step{'' if h.steps == 1 else 's'}, {run.epochs_done:,} of "
            f"{run.settings.epochs:,} epochs.</p>"]
    if h.diverged is not None:
        body.append(f"<p><strong>The run diverged:</strong> {_esc(h.diverged.message)}</p>")

    body.append("<h2>Final numbers</h2><table class='final'>")
    for label, value, note in final_numbers(run):
        body.append(f"<tr><th>{_esc(label)}</th>{_number_cell(value)}<td class='note'>{_esc(note)}</td></tr>")
    body.append("</table>")

    body.append("<h2>Settings</h2><table class='settings'>")
    body += [f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in settings_rows(run)]
    body.append("</table>")

    body.append("<h2>Data</h2>")
    test_rows = 0 if d.X_test is None else len(d.X_test)
    split = ""
    if run.experiment.X_val is not None:
        split = f" (the last {run.settings.validation_split * 100:g}% of them for validation)"
    body.append(f"<p><strong>{_esc(d.name)}</strong>: {len(d.y_train):,} training rows{split}, "
                f"{test_rows:,} test rows; target <code>{_esc(d.target_name)}</code>"
                + (f" ({_esc(d.descriptions[d.target_name])})" if d.descriptions.get(d.target_name) else "")
                + ".</p><ul class='features'>")
    for f in d.feature_names:
        about = d.descriptions.get(f, "")
        body.append(f"<li><code>{_esc(f)}</code>{': ' + _esc(about) if about else ''}</li>")
    body.append("</ul>")
    body.append(provenance(run))

    body.append("<h2>History</h2>")
    body.append(_history_table(run))

    body.append("<h2>Plots</h2>")
    if pictures is None:
        body.append("<p class='plots'>Plots: in the app (File ▸ Export ▸ Report… embeds them here).</p>")
    elif not pictures:
        body.append("<p class='plots'>This tab has no plots.</p>")
    for picture in pictures or []:
        data = base64.b64encode(picture.png).decode("ascii")
        body.append(f"<figure><img src='data:image/png;base64,{data}' alt='{_esc(picture.name)}'>"
                    f"<figcaption>{_esc(picture.name)}</figcaption></figure>")

    return ("<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
            f"<title>{_esc(heading)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


def _history_table(run: FitRun) -> str:
    epochs = run.history.epochs
    if not len(epochs):
        return "<p>No epoch was run.</p>"
    has_val = bool(np.isfinite(epochs[:, 3]).any())
    has_test = bool(np.isfinite(epochs[:, 4]).any())
    shown = history_rows(epochs)
    out = []
    if len(shown) < len(epochs):
        out.append(f"<p class='note'>{len(epochs):,} epochs: {len(shown)} of them are shown, evenly spaced "
                   "(the first and the last among them).</p>")
    head = "<tr><th class='n'>epoch</th><th class='n'>step</th><th class='n'>loss</th>"
    head += ("<th class='n'>val_loss</th>" if has_val else "") + ("<th class='n'>test_loss</th>" if has_test else "")
    out.append(f"<table class='history'>{head}</tr>")
    for i in shown:
        epoch, step, loss, val, test = epochs[i]
        row = f"<tr><td class='n'>{int(epoch)}</td><td class='n'>{int(step)}</td>{_number_cell(float(loss))}"
        row += (_number_cell(float(val)) if has_val else "") + (_number_cell(float(test)) if has_test else "")
        out.append(row + "</tr>")
    out.append("</table>")
    return "\n".join(out)
