"""The code of a run: the TensorFlow.js and Keras 3 programs that a data set and its settings stand for.

>>> from fitscope.engine.data import load
>>> from fitscope.engine.codegen import code, changed_lines
>>> boston = load("boston-housing")
>>> js = code(boston, boston.defaults, "tfjs")                   # what a person would write
>>> exact = code(boston, boston.defaults, "keras", exact=True)   # the run's numbers, to float32 precision
>>> from dataclasses import replace
>>> changed_lines(js, code(boston, replace(boston.defaults, batch_size=20), "tfjs"))  # doctest: +SKIP
[37]

Two modes:

- **ordinary** (``exact=False``): the program a person would write for these settings, as in the book:
  the data loaded from where the run's data come from (the download-time numbers of Listing 2.1 written
  out, the Boston Housing files of tfjs-examples, the user's CSV file), shuffled once and normalized as the
  run is, ``tf.sequential`` with ``tf.layers.dense`` layers (random initialization), ``model.compile`` with
  the optimizer and its hyperparameters, and ``model.fit`` with ``batchSize``, ``epochs``,
  ``validationSplit``, ``shuffle`` and a callback. Keras code is the same in Keras 3.
- **exact** (``exact=True``): a program that reproduces this run's numbers to float32 precision: the start
  weights set with ``setWeights`` / ``set_weights``, the built-in data written out as fitscope read them,
  the rows in the order the run used them (``shuffle: false`` when the run does not shuffle, else one
  ``fit`` per epoch on the rows in that epoch's order, every order written out), and one line per epoch,
  ``epoch N loss L``. Keras's Adam puts its ε elsewhere than TensorFlow.js's, which the code says.

The row orders are the trainer's: the training rows are shuffled once with ``np.random.default_rng(seed)``
when ``shuffle_data`` is set (:func:`data_order`), and each epoch draws ``permutation(n)`` from another
``np.random.default_rng(seed)``, epoch after epoch (:func:`epoch_orders`).

The app shows the code of its current settings with :func:`code` and highlights what a change touched with
:func:`changed_lines`.
"""

from __future__ import annotations

import difflib
import json
import re
import textwrap
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .data import Dataset
from .experiment import build_model, build_optimizer
from .settings import FitSettings, n_train_rows

__all__ = [
    "EXACT_MAX_NUMBERS",
    "LANGUAGES",
    "SUFFIXES",
    "changed_lines",
    "code",
    "data_order",
    "epoch_orders",
    "file_name",
]

#: The languages :func:`code` writes: TensorFlow.js (for Node.js) and Keras 3 (Python).
LANGUAGES: tuple[str, ...] = ("tfjs", "keras")
#: The file suffix of each language's code.
SUFFIXES: dict[str, str] = {"tfjs": ".js", "keras": ".py"}
#: The most numbers exact code writes out (rows of built-in data, row orders, start weights).
EXACT_MAX_NUMBERS = 1_000_000

#: Where tfjs-examples (and the book) load the Boston Housing files from.
BOSTON_URL = "https://storage.googleapis.com/tfjs-examples/multivariate-linear-regression/data/"

_WIDTH = 110  # lines of written-out numbers wrap at about this many characters
_DIFF_MAX_PAIRS = 250_000  # changed_lines compares line by line up to this many pairs of lines (~500 × 500)


# --- the public functions ---------------------------------------------------------------------------


def code(dataset: Dataset, settings: FitSettings, lang: str, exact: bool = False,
         start: Sequence[float] | np.ndarray | None = None) -> str:
    """The program of a run of ``settings`` on ``dataset`` in ``lang``, as text ending with a newline.

    Parameters
    ----------
    dataset : Dataset
    settings : FitSettings
    lang : {"tfjs", "keras"}
        TensorFlow.js (a Node.js script) or Keras 3 (a Python script).
    exact : bool
        Write the code that reproduces this run's numbers (see the module's description), not the code a
        person would write.
    start : array of shape (n_params,), optional
        The run's start parameters in :meth:`~engine.models.Model.get_flat` order (a point clicked on a
        loss surface, say); by default the start the settings make (``settings.init``, or drawn from the
        seed). Exact code only: ordinary code starts from a random initialization.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        With a one-line message: an unknown language, settings out of range for this data, a start of the
        wrong size, or exact code that would write out more than :data:`EXACT_MAX_NUMBERS` numbers.
    """
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r} (choose {', '.join(LANGUAGES)})")
    run = _Run.make(dataset, settings, exact, start)
    lines = _tfjs(run) if lang == "tfjs" else _keras(run)
    return "\n".join(lines) + "\n"


def changed_lines(old: str, new: str) -> list[int]:
    """The lines of ``new`` that a change from ``old`` touched: inserted or replaced, not merely moved down.

    Returns 0-based indices into ``new.splitlines()`` (a Qt text block's number), in increasing order;
    ``[]`` when nothing changed. Lines that were only deleted leave no index behind.

    The lines both texts begin and end with are set aside first; what is left between is compared line by
    line (:class:`difflib.SequenceMatcher`), or, when both sides are long (a new seed rewrites every epoch's
    row order in exact code), by content alone: a line of ``new`` is then touched unless ``old`` has that
    line too (counted with multiplicity), which keeps a change of settings fast to highlight.
    """
    a, b = old.splitlines(), new.splitlines()
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    a, b = a[start : len(a) - end], b[start : len(b) - end]
    if len(a) * len(b) <= _DIFF_MAX_PAIRS:
        matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
        return [start + j for tag, _, _, j1, j2 in matcher.get_opcodes() if tag in ("replace", "insert")
                for j in range(j1, j2)]
    left = Counter(a)
    touched = []
    for j, line in enumerate(b):
        if left[line] > 0:
            left[line] -= 1
        else:
            touched.append(start + j)
    return touched


def file_name(dataset: Dataset, lang: str) -> str:
    """A name to save the code under: the data set's name and the language's suffix (``boston-housing.js``)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r} (choose {', '.join(LANGUAGES)})")
    return _file_name(_stem(dataset), lang)


def _stem(dataset: Dataset) -> str:
    stem = re.sub(r"\.csv$", "", dataset.name, flags=re.IGNORECASE)
    return re.sub(r"[^\w.-]+", "-", stem).strip("-.") or "fit"


def _file_name(stem: str, lang: str) -> str:
    return f"{stem}{'-keras' if lang == 'keras' else ''}{SUFFIXES[lang]}"


def data_order(settings: FitSettings, n_rows: int) -> np.ndarray | None:
    """The order in which the run takes the training file's rows (``shuffle_data``), or None for file order.

    As :class:`~engine.experiment.Experiment` does: ``np.random.default_rng(seed).permutation(n_rows)``,
    before the validation split is taken off the end.
    """
    if not settings.shuffle_data:
        return None
    return np.random.default_rng(settings.seed).permutation(n_rows)


def epoch_orders(settings: FitSettings, n_train: int) -> list[np.ndarray] | None:
    """The order of the ``n_train`` training rows in each of the run's epochs, or None when it does not shuffle.

    As :class:`~engine.trainer.Trainer` does: one ``np.random.default_rng(seed)``, and
    ``permutation(n_train)`` from it at the start of every epoch.
    """
    if not settings.shuffle:
        return None
    rng = np.random.default_rng(settings.seed)
    return [rng.permutation(n_train) for _ in range(settings.epochs)]


# --- what the code needs to know, in either language ------------------------------------------------


@dataclass(frozen=True)
class _Run:
    """A run as the code writers see it: where the data come from and everything ``fit()`` is given."""

    exact: bool
    title: str
    stem: str  # of the file names
    kind: str  # "download-time", "boston-housing" or "csv"
    path: str  # the CSV file (kind "csv")
    features: tuple[str, ...]
    target: str
    inline: bool  # the data are written out in the code
    has_test: bool
    train: np.ndarray | None  # inline only: (n_rows, n_features + 1), features then target, in file order
    test: np.ndarray | None  # inline only, for a data set with test rows
    settings: FitSettings
    n_rows: int
    n_train: int
    data_order: np.ndarray | None  # exact only: the run's shuffle of the training file
    epoch_orders: list[np.ndarray] | None  # exact only
    weights: list[np.ndarray] | None  # exact only: kernel (in, out) and bias (out,) of each layer
    optimizer: dict[str, float]  # the optimizer's hyperparameters (learning_rate, momentum, rho, …)

    @classmethod
    def make(cls, dataset: Dataset, settings: FitSettings, exact: bool, start) -> _Run:
        n_rows = len(dataset.y_train)
        settings.validate(n_rows, dataset.n_features, 0 if dataset.y_test is None else len(dataset.y_test))
        n_train = n_train_rows(n_rows, settings.validation_split)
        kind = dataset.source if dataset.source in ("download-time", "boston-housing") else "csv"
        inline = kind == "download-time" or (exact and kind == "boston-housing")
        weights = None
        if exact:
            sizes = [dataset.n_features, *(settings.hidden if settings.model == "mlp" else ()), 1]
            n_params = sum((fan_in + 1) * fan_out for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True))
            numbers = n_params + (n_rows if settings.shuffle_data else 0)
            numbers += n_train * settings.epochs if settings.shuffle else 0
            if inline:
                numbers += dataset.X_train.size + n_rows
                numbers += 0 if dataset.X_test is None else dataset.X_test.size + len(dataset.X_test)
            if numbers > EXACT_MAX_NUMBERS:
                raise ValueError(
                    f"exact code would write out {numbers:,} numbers (the data, the start weights and the order of "
                    f"the rows in every epoch), more than {EXACT_MAX_NUMBERS:,}: use fewer epochs, fewer rows or a "
                    "smaller model, or turn shuffling off"
                )
            model = build_model(settings, dataset.n_features)
            flat = model.get_flat() if start is None else np.asarray(start, dtype=np.float64).ravel()
            if flat.shape != (model.n_params,):
                raise ValueError(f"the start has {flat.size} parameters, the model {model.n_params}")
            if not np.isfinite(flat).all():
                raise ValueError("the start parameters are not all finite")
            weights, i = [], 0
            for array in model.parameters().values():
                weights.append(flat[i : i + array.size].reshape(array.shape))
                i += array.size

        def table(X: np.ndarray | None, y: np.ndarray | None) -> np.ndarray | None:
            return np.column_stack([X, y]) if inline and X is not None else None

        return cls(
            exact=exact,
            title=dataset.name,
            stem=_stem(dataset),
            kind=kind,
            path=dataset.source,
            features=dataset.feature_names,
            target=dataset.target_name,
            inline=inline,
            has_test=dataset.has_test,
            train=table(dataset.X_train, dataset.y_train),
            test=table(dataset.X_test, dataset.y_test),
            settings=settings,
            n_rows=n_rows,
            n_train=n_train,
            data_order=data_order(settings, n_rows) if exact else None,
            epoch_orders=epoch_orders(settings, n_train) if exact else None,
            weights=weights,
            optimizer=build_optimizer(settings).config(),
        )

    @property
    def n_features(self) -> int:
        return len(self.features)

    @property
    def has_validation(self) -> bool:
        return self.n_train < self.n_rows

    @property
    def layers(self) -> list[tuple[int, str | None]]:
        """(units, activation) of each dense layer; activation None for the linear output."""
        s = self.settings
        hidden = list(s.hidden) if s.model == "mlp" else []
        return [(units, s.activation) for units in hidden] + [(1, None)]

    def data_comment(self) -> str:
        """Where the written-out rows come from, and their columns."""
        if self.kind == "download-time":
            source = "The download-time data of Listing 2.1 in Deep Learning with JavaScript"
        else:
            source = "The Boston Housing split of tfjs-examples, as fitscope ships it"
        return f"{source}. Columns: {', '.join((*self.features, self.target))}."

    def weight_comments(self) -> list[str]:
        """One comment per array of :attr:`weights`."""
        out, fan_in = [], self.n_features
        for number, (units, _) in enumerate(self.layers, start=1):
            out += [f"layer {number}: kernel ({fan_in} × {units})", f"layer {number}: bias ({units})"]
            fan_in = units
        return out


# --- formatting helpers -----------------------------------------------------------------------------


def _num(x: float) -> str:
    """A float as the shortest literal that reads back to the same float64, in JavaScript and Python."""
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


def _wrapped(items: Iterable[str], indent: str, width: int = _WIDTH) -> list[str]:
    """``items`` joined by ", " on lines of about ``width`` characters, each line ending with a comma."""
    lines, line = [], ""
    for item in items:
        if line and len(indent) + len(line) + len(item) + 2 > width:
            lines.append(indent + line.rstrip())
            line = ""
        line += item + ", "
    if line:
        lines.append(indent + line.rstrip())
    return lines


def _array(values: np.ndarray, indent: str, step: str) -> list[str]:
    """A nested list literal of a 1-D or 2-D array, each row starting a line, each line ending with a comma.

    ``indent`` is the indentation of the literal's first line, ``step`` what each level of nesting adds.
    """
    if values.ndim == 1:
        items = [_num(v) for v in values] if values.dtype.kind == "f" else [str(int(v)) for v in values]
        one_line = f"{indent}[{', '.join(items)}],"
        if len(one_line) <= _WIDTH:
            return [one_line]
        return [f"{indent}[", *_wrapped(items, indent + step), f"{indent}],"]
    out = [f"{indent}["]
    for row in values:
        out += _array(row, indent + step, step)
    return [*out, f"{indent}],"]


_PLAIN = re.compile(r"[\w .,%/:()+-]*")


def _comment(text: str, prefix: str) -> list[str]:
    """``text`` as comment lines starting with ``prefix``."""
    return [prefix + line for line in textwrap.wrap(text, _WIDTH - len(prefix))]


def _js_str(text: str) -> str:
    if _PLAIN.fullmatch(text):
        return f"'{text}'"
    return json.dumps(text, ensure_ascii=False)


def _py_str(text: str) -> str:
    if _PLAIN.fullmatch(text):
        return f'"{text}"'
    return repr(text)


def _header(run: _Run, language: str) -> list[str]:
    """The first comment lines: what the code is, how exact, how to run it."""
    model = "linear regression" if run.settings.model == "linear" else "a multilayer perceptron"
    if run.exact:
        what = "Exact: it reproduces the run's numbers to float32 precision, printing the loss of every epoch."
    else:
        what = "It starts from random weights, so its numbers differ from the run's."
    name = _file_name(run.stem, "tfjs" if language == "TensorFlow.js" else "keras")
    if language == "TensorFlow.js":
        how = f"Run it with Node.js 18 or newer: npm install @tensorflow/tfjs && node {name}"
    else:
        how = f"Run it with Keras 3.2 or newer (pip install keras tensorflow; or jax, or torch): python {name}"
    return [f"{run.title}: {model} as fitscope trains it, in {language}.", what, how]


# --- TensorFlow.js ----------------------------------------------------------------------------------

_TFJS_LOSS = {"mse": "meanSquaredError", "mae": "meanAbsoluteError"}


def _tfjs_optimizer(run: _Run) -> str:
    s, c = run.settings, run.optimizer
    lr = _num(c["learning_rate"])
    if s.optimizer == "sgd":
        return f"tf.train.sgd({lr})"
    if s.optimizer == "momentum":
        return f"tf.train.momentum({lr}, {_num(c['momentum'])})"
    if s.optimizer == "rmsprop":
        if run.exact:  # every hyperparameter, as fitscope uses them (epsilon: the CPU backend's default)
            return f"tf.train.rmsprop({lr}, {_num(c['rho'])}, {_num(c['momentum'])}, {_num(c['epsilon'])})"
        return f"tf.train.rmsprop({lr})"
    if run.exact:
        return f"tf.train.adam({lr}, {_num(c['beta1'])}, {_num(c['beta2'])}, {_num(c['epsilon'])})"
    return f"tf.train.adam({lr})"


def _tfjs(run: _Run) -> list[str]:
    s = run.settings
    F = run.n_features
    test = run.has_test
    out = [
        *(f"// {line}" for line in _header(run, "TensorFlow.js")),
        "const tf = require('@tensorflow/tfjs');",
        "",
    ]
    if not run.inline:
        out.append(f"const FEATURES = [{', '.join(_js_str(f) for f in run.features)}];")
        out.append(f"const TARGET = {_js_str(run.target)};")
        if run.kind == "boston-housing":
            out.append(f"const DATA_URL = {_js_str(BOSTON_URL)};")
        else:
            out.append(f"const DATA_FILE = {_js_str(run.path)};")
        out.append("")

    out.append("async function main() {")
    # The data.
    if run.inline:
        out += [
            "  // The data, written out at the end of this file: one row per example, the features then the target.",
            f"  let trainFeatures = TRAIN.map(row => row.slice(0, {F}));",
            f"  let trainTargets = TRAIN.map(row => row.slice({F}));",
        ]
        if test:
            out += [
                f"  let testFeatures = TEST.map(row => row.slice(0, {F}));",
                f"  let testTargets = TEST.map(row => row.slice({F}));",
            ]
    elif run.kind == "boston-housing":
        out += [
            "  // The Boston Housing split of tfjs-examples, as in the book.",
            "  let trainFeatures = columns(await loadCsv(DATA_URL + 'train-data.csv'), FEATURES);",
            "  let trainTargets = columns(await loadCsv(DATA_URL + 'train-target.csv'), [TARGET]);",
            "  let testFeatures = columns(await loadCsv(DATA_URL + 'test-data.csv'), FEATURES);",
            "  let testTargets = columns(await loadCsv(DATA_URL + 'test-target.csv'), [TARGET]);",
        ]
    else:
        out += [
            "  const table = await loadCsv(DATA_FILE);",
            "  let trainFeatures = columns(table, FEATURES);",
            "  let trainTargets = columns(table, [TARGET]);",
        ]
    if s.shuffle_data:
        out.append("")
        out.append("  // Shuffle the training rows once, before the validation split is taken off their end.")
        if run.exact:
            out += [
                "  // DATA_ORDER (at the end) is the order the run took them in.",
                "  trainFeatures = DATA_ORDER.map(i => trainFeatures[i]);",
                "  trainTargets = DATA_ORDER.map(i => trainTargets[i]);",
            ]
        else:
            out.append("  tf.util.shuffleCombo(trainFeatures, trainTargets);")
    if s.normalize:
        out += [
            "",
            "  // Normalize the features with the training file's mean and population standard deviation.",
            "  const {mean, std} = meanAndStd(trainFeatures);",
            "  trainFeatures = normalize(trainFeatures, mean, std);",
        ]
        if test:
            out.append("  testFeatures = normalize(testFeatures, mean, std);")

    # The model.
    out += ["", "  const model = tf.sequential();"]
    for number, (units, activation) in enumerate(run.layers, start=1):
        options = [f"inputShape: [{F}]"] if number == 1 else []
        options.append(f"units: {units}")
        if activation is not None:
            options += [f"activation: '{activation}'", "kernelInitializer: 'leCunNormal'"]
        out.append(f"  model.add(tf.layers.dense({{{', '.join(options)}}}));")
    if run.exact:
        out += [
            "  // The run's start: the kernel (inputs × units) and the bias of each layer, written out at the end.",
            "  model.setWeights(START_WEIGHTS.map(w => tf.tensor(w)));",
        ]
    out.append(f"  model.compile({{optimizer: {_tfjs_optimizer(run)}, loss: '{_TFJS_LOSS[s.loss]}'}});")

    # fit().
    out += [
        "",
        "  const xs = tf.tensor2d(trainFeatures);",
        "  const ys = tf.tensor2d(trainTargets);",
    ]
    if run.exact and s.shuffle:
        out += _tfjs_exact_epochs(run)
    else:
        if run.exact:
            log = "`epoch ${epoch + 1} loss ${logs.loss}`"
            out.append("  // shuffle: false, as the run: the rows in file order in every epoch.")
        else:
            log = f"`Epoch ${{epoch + 1}}/{s.epochs} - loss: ${{logs.loss.toPrecision(6)}}"
            if run.has_validation:
                log += " - val_loss: ${logs.val_loss.toPrecision(6)}"
            log += "`"
        options = [f"batchSize: {s.batch_size}", f"epochs: {s.epochs}"]
        if s.validation_split > 0:
            options.append(f"validationSplit: {_num(s.validation_split)}")
        options.append(f"shuffle: {'true' if s.shuffle else 'false'}")
        out.append("  await model.fit(xs, ys, {")
        out += [f"    {o}," for o in options]
        out += [
            "    callbacks: {",
            "      onEpochEnd: (epoch, logs) => console.log(",
            f"        {log}),",
            "    },",
            "  });",
        ]
    if test:
        out += [
            "",
            "  const testLoss = model.evaluate(tf.tensor2d(testFeatures), tf.tensor2d(testTargets));",
            "  console.log(`test loss ${testLoss.dataSync()[0]}`);" if run.exact else
            "  console.log(`test loss: ${testLoss.dataSync()[0].toPrecision(6)}`);",
        ]
    out.append("}")

    # Helpers.
    if not run.inline:
        out += [
            "",
            "// A CSV file (a URL or a path) as its column names and its rows of numbers.",
            "async function loadCsv(source) {",
        ]
        if run.kind == "boston-housing":
            out.append("  const text = await (await fetch(source)).text();")
        else:
            out.append("  const text = require('fs').readFileSync(source, 'utf8');")
        out += [
            "  const lines = text.replace(/^\\uFEFF/, '').split(/\\r?\\n|\\r/).filter(line => /[^\\s,;]/.test(line));",
            "  // The separator: a comma, a semicolon or a tab, whichever splits the header into the most cells.",
            "  const width = sep => cells(lines[0], sep).length;",
            "  const sep = [',', ';', '\\t'].reduce((a, b) => (width(b) > width(a) ? b : a));",
            "  return {names: cells(lines[0], sep), rows: lines.slice(1).map(line => cells(line, sep).map(Number))};",
            "}",
            "",
            "// The cells of a CSV line: split at `sep` outside double quotes, without the quotes and spaces around.",
            "function cells(line, sep) {",
            "  const out = [''];",
            "  let quoted = false;",
            "  for (let i = 0; i < line.length; i++) {",
            "    const c = line[i];",
            "    if (c === '\"' && quoted && line[i + 1] === '\"') out[out.length - 1] += line[i++];",
            "    else if (c === '\"') quoted = !quoted;",
            "    else if (c === sep && !quoted) out.push('');",
            "    else out[out.length - 1] += c;",
            "  }",
            "  return out.map(cell => cell.trim());",
            "}",
            "",
            "// The columns `names` of a table read by loadCsv, as rows.",
            "function columns(table, names) {",
            "  const index = names.map(name => table.names.indexOf(name));",
            "  if (index.includes(-1)) throw new Error(`no column ${names[index.indexOf(-1)]} in ${table.names}`);",
            "  return table.rows.map(row => index.map(i => row[i]));",
            "}",
        ]
    if s.normalize:
        out += [
            "",
            "// The mean and the population standard deviation of each column. A constant column (all its values",
            "// equal) gets its value as the mean and 1 as the standard deviation: it is centred, not divided.",
            "function meanAndStd(rows) {",
            "  const n = rows.length;",
            "  const mean = rows[0].map((_, j) => rows.reduce((sum, row) => sum + row[j], 0) / n);",
            "  const std = mean.map((m, j) => Math.sqrt(rows.reduce((sum, row) => sum + (row[j] - m) ** 2, 0) / n));",
            "  rows[0].forEach((x, j) => {",
            "    if (rows.every(row => row[j] === x)) [mean[j], std[j]] = [x, 1];",
            "  });",
            "  return {mean, std};",
            "}",
            "",
            "function normalize(rows, mean, std) {",
            "  return rows.map(row => row.map((x, j) => (x - mean[j]) / std[j]));",
            "}",
        ]

    # The numbers, written out.
    if run.inline:
        out += ["", *_comment(run.data_comment(), "// "), "// The training rows:"]
        out += _js_const("TRAIN", run.train)
        if test:
            out.append("// The test rows:")
            out += _js_const("TEST", run.test)
    if run.data_order is not None:
        out += ["", "// The order in which the run took the training file's rows (shuffled once, with the seed)."]
        out += ["const DATA_ORDER = [", *_wrapped((str(int(i)) for i in run.data_order), "  "), "];"]
    if run.weights is not None:
        out += ["", "// The start weights of the run.", "const START_WEIGHTS = ["]
        for comment, w in zip(run.weight_comments(), run.weights, strict=True):
            out.append(f"  // {comment}")
            out += _array(w, "  ", "  ")
        out.append("];")
    if run.epoch_orders is not None:
        out += ["", "// The order of the training rows in each epoch of the run.", "const EPOCH_ORDERS = ["]
        for number, order in enumerate(run.epoch_orders, start=1):
            out.append(f"  // epoch {number}")
            out += _array(order, "  ", "  ")
        out.append("];")
    out += ["", "main();"]
    return out


def _js_const(name: str, values: np.ndarray) -> list[str]:
    lines = _array(values, "", "  ")
    return [f"const {name} = [", *lines[1:-1], "];"]


def _tfjs_exact_epochs(run: _Run) -> list[str]:
    s = run.settings
    out = []
    if run.has_validation:
        out += [
            f"  // fit()'s validationSplit of {_num(s.validation_split)} keeps the first {run.n_train} of the "
            f"{run.n_rows} rows for training.",
            f"  const [xsTrain, ysTrain] = [xs.slice(0, {run.n_train}), ys.slice(0, {run.n_train})];",
            f"  const [xsVal, ysVal] = [xs.slice({run.n_train}), ys.slice({run.n_train})];",
        ]
    else:
        out.append("  const [xsTrain, ysTrain] = [xs, ys];")
    out += [
        "  // One fit() per epoch, on the training rows in the order the run used them (EPOCH_ORDERS, at the end).",
        f"  for (let epoch = 0; epoch < {s.epochs}; epoch++) {{",
        "    const order = tf.tensor1d(EPOCH_ORDERS[epoch], 'int32');",
        "    const history = await model.fit(xsTrain.gather(order), ysTrain.gather(order), {",
        f"      batchSize: {s.batch_size},",
        "      epochs: 1,",
    ]
    if run.has_validation:
        out.append("      validationData: [xsVal, ysVal],")
    out += [
        "      shuffle: false,",
        "    });",
        "    console.log(`epoch ${epoch + 1} loss ${history.history.loss[0]}`);",
        "    order.dispose();",
        "  }",
    ]
    return out


# --- Keras 3 ----------------------------------------------------------------------------------------

_KERAS_LOSS = {"mse": "mean_squared_error", "mae": "mean_absolute_error"}


def _keras_optimizer(run: _Run) -> str:
    s, c = run.settings, run.optimizer
    lr = f"learning_rate={_num(c['learning_rate'])}"
    if s.optimizer == "sgd":
        return f"keras.optimizers.SGD({lr})"
    if s.optimizer == "momentum":
        return f"keras.optimizers.SGD({lr}, momentum={_num(c['momentum'])})"
    if s.optimizer == "rmsprop":
        if run.exact:
            return (f"keras.optimizers.RMSprop({lr}, rho={_num(c['rho'])}, momentum={_num(c['momentum'])}, "
                    f"epsilon={_num(c['epsilon'])})")
        return f"keras.optimizers.RMSprop({lr})"
    if run.exact:
        return (f"keras.optimizers.Adam({lr}, beta_1={_num(c['beta1'])}, beta_2={_num(c['beta2'])}, "
                f"epsilon={_num(c['epsilon'])})")
    return f"keras.optimizers.Adam({lr})"


def _keras(run: _Run) -> list[str]:
    s = run.settings
    F = run.n_features
    test = run.has_test
    out = [f"# {line}" for line in _header(run, "Keras 3")]
    if not run.inline:
        out.append("import csv")
        if run.kind == "boston-housing":
            out.append("import urllib.request")
        out.append("")
    out += ["import keras", "import numpy as np", ""]
    if not run.inline:
        out.append(f"FEATURES = [{', '.join(_py_str(f) for f in run.features)}]")
        out.append(f"TARGET = {_py_str(run.target)}")
        if run.kind == "boston-housing":
            out.append(f"DATA_URL = {_py_str(BOSTON_URL)}")
        else:
            out.append(f"DATA_FILE = {_py_str(run.path)}")
        out.append("")
    out += ["", "def main():"]
    if not run.exact:
        out += [f"    keras.utils.set_random_seed({s.seed})", ""]
    # The data.
    if run.inline:
        out += [
            "    # The data, written out at the end of this file: one row per example, the features then the target.",
            f"    train_features, train_targets = TRAIN[:, :{F}], TRAIN[:, {F}:]",
        ]
        if test:
            out.append(f"    test_features, test_targets = TEST[:, :{F}], TEST[:, {F}:]")
    elif run.kind == "boston-housing":
        out += [
            "    # The Boston Housing split of tfjs-examples, as in the book.",
            '    train_features = columns(read_csv(DATA_URL + "train-data.csv"), FEATURES)',
            '    train_targets = columns(read_csv(DATA_URL + "train-target.csv"), [TARGET])',
            '    test_features = columns(read_csv(DATA_URL + "test-data.csv"), FEATURES)',
            '    test_targets = columns(read_csv(DATA_URL + "test-target.csv"), [TARGET])',
        ]
    else:
        out += [
            "    table = read_csv(DATA_FILE)",
            "    train_features, train_targets = columns(table, FEATURES), columns(table, [TARGET])",
        ]
    if s.shuffle_data:
        out += ["", "    # Shuffle the training rows once, before the validation split is taken off their end."]
        if run.exact:
            out.append("    # DATA_ORDER (at the end) is the order the run took them in.")
            out.append("    order = DATA_ORDER")
        else:
            out.append(f"    order = np.random.default_rng({s.seed}).permutation(len(train_targets))")
        out.append("    train_features, train_targets = train_features[order], train_targets[order]")
    if s.normalize:
        out += [
            "",
            "    # Normalize the features with the training file's mean and population standard deviation;",
            "    # a constant column (all its values equal) is centred, not divided.",
            "    mean, std = train_features.mean(axis=0), train_features.std(axis=0)",
            "    constant = (train_features == train_features[0]).all(axis=0)",
            "    mean[constant], std[constant] = train_features[0, constant], 1.0",
            "    train_features = (train_features - mean) / std",
        ]
        if test:
            out.append("    test_features = (test_features - mean) / std")

    # The model.
    out += ["", "    model = keras.Sequential([", f"        keras.Input(shape=({F},)),"]
    for units, activation in run.layers:
        if activation is None:
            out.append(f"        keras.layers.Dense({units}),")
        else:
            out.append(f'        keras.layers.Dense({units}, activation="{activation}", '
                       'kernel_initializer="lecun_normal"),')
    out.append("    ])")
    if run.exact:
        out += [
            "    # The run's start: the kernel (inputs × units) and the bias of each layer, written out at the end.",
            "    model.set_weights(START_WEIGHTS)",
        ]
        if s.optimizer == "adam":
            out += [
                "    # Keras's Adam is not quite TensorFlow.js's: it steps by lr·√(1 − β2ᵗ)/(1 − β1ᵗ) · m/(√v + ε)",
                "    # where TensorFlow.js (and fitscope) step by lr · m̂/(√v̂ + ε), so its ε weighs 1/√(1 − β2ᵗ)",
                "    # times more: the losses agree with the run only as far as ε is negligible next to √v.",
            ]
    optimizer, loss = f"optimizer={_keras_optimizer(run)}", f'loss="{_KERAS_LOSS[s.loss]}"'
    one_line = f"    model.compile({optimizer}, {loss})"
    out += [one_line] if len(one_line) <= _WIDTH else ["    model.compile(", f"        {optimizer},",
                                                        f"        {loss},", "    )"]

    # fit().
    out += ["", '    x, y = train_features.astype("float32"), train_targets.astype("float32")']
    if run.exact and s.shuffle:
        out += _keras_exact_epochs(run)
    else:
        args = [f"batch_size={s.batch_size}", f"epochs={s.epochs}"]
        if s.validation_split > 0:
            args.append(f"validation_split={_num(s.validation_split)}")
        args.append(f"shuffle={s.shuffle}")
        if run.exact:
            out += [
                "    # shuffle=False, as the run: the rows in file order in every epoch.",
                "    print_loss = keras.callbacks.LambdaCallback(",
                "        on_epoch_end=lambda epoch, logs: print(f\"epoch {epoch + 1} loss {logs['loss']}\"))",
                f"    model.fit(x, y, {', '.join(args)},",
                "              callbacks=[print_loss], verbose=0)",
            ]
        else:
            out.append(f"    model.fit(x, y, {', '.join(args)}, verbose=2)")
    if test:
        out += [
            "",
            '    test_loss = model.evaluate(test_features.astype("float32"), test_targets.astype("float32"), '
            "verbose=0)",
            '    print(f"test loss {test_loss}")' if run.exact else '    print(f"test loss: {test_loss:.6g}")',
        ]

    # Helpers.
    if not run.inline:
        out += [
            "",
            "",
            "def read_csv(source):",
            '    """A CSV file (a URL or a path) as its column names and its rows, a float64 array."""',
        ]
        if run.kind == "boston-housing":
            out += [
                "    with urllib.request.urlopen(source) as response:",
                '        text = response.read().decode("utf-8-sig")',
            ]
        else:
            out += [
                '    with open(source, encoding="utf-8-sig") as file:',
                "        text = file.read()",
            ]
        out += [
            '    lines = [line for line in text.splitlines() if line.strip(" \\t,;")]',
            '    sep = max(",;\\t", key=lambda s: len(lines[0].split(s)))',
            "    rows = list(csv.reader(lines, delimiter=sep, skipinitialspace=True))",
            "    return [name.strip() for name in rows[0]], np.array(rows[1:], dtype=float)",
            "",
            "",
            "def columns(table, names):",
            '    """The columns ``names`` of a table read by read_csv."""',
            "    header, rows = table",
            "    return rows[:, [header.index(name) for name in names]]",
        ]

    # The numbers, written out.
    if run.inline:
        out += ["", "", *_comment(run.data_comment(), "# "), "# The training rows:"]
        out += _py_const("TRAIN", run.train)
        if test:
            out.append("# The test rows:")
            out += _py_const("TEST", run.test)
    if run.data_order is not None:
        out += ["", "# The order in which the run took the training file's rows (shuffled once, with the seed).",
                "DATA_ORDER = np.array([", *_wrapped((str(int(i)) for i in run.data_order), "    "), "])"]
    if run.weights is not None:
        out += ["", "# The start weights of the run.", "START_WEIGHTS = ["]
        for comment, w in zip(run.weight_comments(), run.weights, strict=True):
            out.append(f"    # {comment}")
            lines = _array(w, "    ", "    ")
            lines[0] = lines[0].replace("[", "np.array([", 1)
            lines[-1] = lines[-1][:-1] + ", dtype=float),"
            out += lines
        out.append("]")
    if run.epoch_orders is not None:
        out += ["", "# The order of the training rows in each epoch of the run.", "EPOCH_ORDERS = ["]
        for number, order in enumerate(run.epoch_orders, start=1):
            out.append(f"    # epoch {number}")
            out += _array(order, "    ", "    ")
        out.append("]")
    out += ["", "", 'if __name__ == "__main__":', "    main()"]
    return out


def _py_const(name: str, values: np.ndarray) -> list[str]:
    lines = _array(values, "", "    ")
    return [f"{name} = np.array([", *lines[1:-1], "], dtype=float)"]


def _keras_exact_epochs(run: _Run) -> list[str]:
    s = run.settings
    out = []
    if run.has_validation:
        out += [
            f"    # fit()'s validation_split of {_num(s.validation_split)} keeps the first {run.n_train} of the "
            f"{run.n_rows} rows for training.",
            f"    x_train, y_train, x_val, y_val = x[:{run.n_train}], y[:{run.n_train}], x[{run.n_train}:], "
            f"y[{run.n_train}:]",
        ]
    else:
        out.append("    x_train, y_train = x, y")
    validation = " validation_data=(x_val, y_val)," if run.has_validation else ""
    out += [
        "    # One fit() per epoch, on the training rows in the order the run used them (EPOCH_ORDERS, at the end).",
        "    for epoch, order in enumerate(EPOCH_ORDERS, start=1):",
        f"        history = model.fit(x_train[order], y_train[order], batch_size={s.batch_size}, epochs=1,"
        f"{validation}",
        "                            shuffle=False, verbose=0)",
        "        print(f\"epoch {epoch} loss {history.history['loss'][0]}\")",
    ]
    return out
