"""The code of a run (engine.codegen): it parses, it says what the settings say, it changes when they change,
and the numbers exact code writes out are the run's own.

The slow tests at the end install TensorFlow.js with npm and run the exact code, comparing its losses with the
engine's (``make slow``).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from fitscope.engine.codegen import (
    EXACT_MAX_NUMBERS,
    LANGUAGES,
    changed_lines,
    code,
    data_order,
    epoch_orders,
    file_name,
)
from fitscope.engine.data import load
from fitscope.engine.experiment import Experiment, build_model
from fitscope.engine.settings import DEFAULT_LEARNING_RATE, LOSSES, OPTIMIZERS
from fitscope.engine.trainer import EpochReport, StepReport

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="Node.js (node) is not installed")

# A small CSV of three features and a target (12 rows), with a separator and quoting a spreadsheet may write.
CSV_TEXT = """\
"x1";"x2";"x3";"y"
0.5;12;3.25;1.5
1.5;10;2.75;2.25
2.5;14;3.5;3.75
3.5;9;2.5;4.0
4.5;11;3.0;5.5
5.5;13;3.75;6.25
6.5;8;2.25;7.0
7.5;15;4.0;8.75
8.5;10;2.5;9.0
9.5;12;3.25;10.5
10.5;11;3.0;11.25
11.5;9;2.75;12.0
"""

MODELS = {
    "linear": {"model": "linear"},
    "mlp1": {"model": "mlp", "hidden": (50,)},
    "mlp2": {"model": "mlp", "hidden": (50, 50)},
}
DATA = ("download-time", "boston-housing", "csv")


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    path = tmp_path_factory.mktemp("csv") / "sales data.csv"
    path.write_text(CSV_TEXT, encoding="utf-8")
    return {"download-time": load("download-time"), "boston-housing": load("boston-housing"), "csv": load(path)}


def settings_for(dataset, model="linear", loss="mse", optimizer="sgd", **changes):
    """The data set's own settings with a model, loss and optimizer (at tfjs's rate) and a few epochs."""
    return replace(dataset.defaults, **MODELS[model], loss=loss, optimizer=optimizer,
                   learning_rate=DEFAULT_LEARNING_RATE[optimizer], epochs=3, **changes)


def node_check(source: str, tmp_path) -> subprocess.CompletedProcess:
    path = tmp_path / "run.js"
    path.write_text(source, encoding="utf-8")
    return subprocess.run([NODE, "--check", str(path)], capture_output=True, text=True, timeout=60)


# --- every combination parses -----------------------------------------------------------------------

combinations = pytest.mark.parametrize(
    "data, model, loss, optimizer",
    [(d, m, lo, o) for d in DATA for m in MODELS for lo in LOSSES for o in OPTIMIZERS],
)
modes = pytest.mark.parametrize("exact", [False, True], ids=["ordinary", "exact"])


@combinations
@modes
def test_keras_code_parses(datasets, data, model, loss, optimizer, exact):
    ds = datasets[data]
    text = code(ds, settings_for(ds, model, loss, optimizer), "keras", exact=exact)
    tree = ast.parse(text)
    assert any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body)


@pytest.mark.skipif(shutil.which("ruff", path=os.path.dirname(sys.executable)) is None and shutil.which("ruff") is None,
                    reason="ruff is not installed")
@pytest.mark.parametrize("data", DATA)
@modes
def test_keras_code_has_no_undefined_or_unused_names(datasets, data, exact, tmp_path):
    ds = datasets[data]
    for n, (model, optimizer) in enumerate([("linear", "sgd"), ("mlp2", "adam")]):
        (tmp_path / f"run{n}.py").write_text(code(ds, settings_for(ds, model, "mae", optimizer), "keras", exact=exact),
                                            encoding="utf-8")
    ruff = shutil.which("ruff", path=os.path.dirname(sys.executable)) or shutil.which("ruff")
    result = subprocess.run([ruff, "check", "--no-cache", "--isolated", "--select", "E,F,W,I,B", "--ignore", "E501",
                             str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout


@needs_node
@combinations
@modes
def test_tfjs_code_passes_node_check(datasets, data, model, loss, optimizer, exact, tmp_path):
    ds = datasets[data]
    result = node_check(code(ds, settings_for(ds, model, loss, optimizer), "tfjs", exact=exact), tmp_path)
    assert result.returncode == 0, result.stderr


# --- the code says what the settings say ------------------------------------------------------------

TFJS_OPTIMIZER = {
    # (ordinary, exact) for lr 0.05 and momentum 0.5
    "sgd": ("tf.train.sgd(0.05)", "tf.train.sgd(0.05)"),
    "momentum": ("tf.train.momentum(0.05, 0.5)", "tf.train.momentum(0.05, 0.5)"),
    "rmsprop": ("tf.train.rmsprop(0.05)", "tf.train.rmsprop(0.05, 0.9, 0, 1e-07)"),
    "adam": ("tf.train.adam(0.05)", "tf.train.adam(0.05, 0.9, 0.999, 1e-07)"),
}
KERAS_OPTIMIZER = {
    "sgd": ("keras.optimizers.SGD(learning_rate=0.05)",) * 2,
    "momentum": ("keras.optimizers.SGD(learning_rate=0.05, momentum=0.5)",) * 2,
    "rmsprop": ("keras.optimizers.RMSprop(learning_rate=0.05)",
                "keras.optimizers.RMSprop(learning_rate=0.05, rho=0.9, momentum=0, epsilon=1e-07)"),
    "adam": ("keras.optimizers.Adam(learning_rate=0.05)",
             "keras.optimizers.Adam(learning_rate=0.05, beta_1=0.9, beta_2=0.999, epsilon=1e-07)"),
}


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@modes
def test_the_optimizer_and_its_hyperparameters(datasets, optimizer, exact):
    ds = datasets["boston-housing"]
    s = replace(ds.defaults, optimizer=optimizer, learning_rate=0.05, momentum=0.5)
    assert TFJS_OPTIMIZER[optimizer][exact] in code(ds, s, "tfjs", exact=exact)
    assert KERAS_OPTIMIZER[optimizer][exact] in code(ds, s, "keras", exact=exact)


def test_the_fit_options(datasets):
    ds = datasets["boston-housing"]
    s = replace(ds.defaults, loss="mae", batch_size=17, epochs=4, validation_split=0.1, shuffle=False)
    js, py = code(ds, s, "tfjs"), code(ds, s, "keras")
    for fragment in ("batchSize: 17,", "epochs: 4,", "validationSplit: 0.1,", "shuffle: false,", "callbacks: {",
                     "loss: 'meanAbsoluteError'"):
        assert fragment in js
    assert "model.fit(x, y, batch_size=17, epochs=4, validation_split=0.1, shuffle=False" in py
    assert 'loss="mean_absolute_error"' in py


def test_the_layers_of_an_mlp(datasets):
    ds = datasets["boston-housing"]
    s = replace(ds.defaults, model="mlp", hidden=(50, 20), activation="tanh")
    js, py = code(ds, s, "tfjs"), code(ds, s, "keras")
    assert re.findall(r"tf\.layers\.dense\(\{(.*)\}\)", js) == [
        "inputShape: [12], units: 50, activation: 'tanh', kernelInitializer: 'leCunNormal'",
        "units: 20, activation: 'tanh', kernelInitializer: 'leCunNormal'",
        "units: 1",
    ]
    assert re.findall(r"keras\.layers\.Dense\((.*)\)", py) == [
        '50, activation="tanh", kernel_initializer="lecun_normal"',
        '20, activation="tanh", kernel_initializer="lecun_normal"',
        "1",
    ]
    assert "keras.Input(shape=(12,))" in py


def test_the_data_and_how_it_is_prepared(datasets):
    boston, csv = datasets["boston-housing"], datasets["csv"]
    js = code(boston, boston.defaults, "tfjs")
    assert "https://storage.googleapis.com/tfjs-examples/multivariate-linear-regression/data/" in js
    assert "tf.util.shuffleCombo(trainFeatures, trainTargets);" in js  # shuffled once, as tfjs-examples
    assert "meanAndStd(trainFeatures)" in js and "testFeatures = normalize(testFeatures, mean, std);" in js
    py = code(boston, boston.defaults, "keras")
    assert "order = np.random.default_rng(0).permutation(len(train_targets))" in py  # fitscope's own shuffle
    plain = replace(boston.defaults, normalize=False, shuffle_data=False)
    assert "meanAndStd" not in code(boston, plain, "tfjs") and "shuffleCombo" not in code(boston, plain, "tfjs")
    assert "std" not in code(boston, plain, "keras") and "permutation" not in code(boston, plain, "keras")
    # A user's file is read from where it is, its columns picked by name.
    for lang in LANGUAGES:
        text = code(csv, csv.defaults, lang)
        assert csv.source in text
        assert "x1" in text and "x3" in text
        assert "testFeatures" not in text and "test_features" not in text  # a CSV has no test rows


def test_download_time_is_written_out_as_in_the_book(datasets):
    ds = datasets["download-time"]
    js = code(ds, ds.defaults, "tfjs")
    assert "Listing 2.1" in js
    assert "[0.08, 0.135]," in js  # the first training example: 0.080 MB, 0.135 s
    assert "loadCsv" not in js and "DATA_URL" not in js


# --- the code changes when a setting changes, and only then ------------------------------------------

CHANGES = [
    # (setting, new value, settings it is changed from besides Boston's own)
    ("model", "mlp", {}),
    ("hidden", (20,), {"model": "mlp"}),
    ("activation", "relu", {"model": "mlp"}),
    ("loss", "mae", {}),
    ("optimizer", "adam", {}),
    ("learning_rate", 0.05, {}),
    ("momentum", 0.5, {"optimizer": "momentum"}),
    ("batch_size", 17, {}),
    ("epochs", 4, {}),
    ("validation_split", 0.1, {}),
    ("shuffle", False, {}),
    ("shuffle_data", False, {}),
    ("seed", 1, {}),
    ("normalize", False, {}),
]


@pytest.mark.parametrize("setting, value, base", CHANGES, ids=[c[0] for c in CHANGES])
@pytest.mark.parametrize("lang", LANGUAGES)
@modes
def test_the_code_changes_when_a_setting_changes(datasets, setting, value, base, lang, exact):
    ds = datasets["boston-housing"]
    before = replace(ds.defaults, epochs=3, **base)
    after = replace(before, **{setting: value})
    old, new = code(ds, before, lang, exact=exact), code(ds, after, lang, exact=exact)
    if setting == "seed" and lang == "tfjs" and not exact:
        # TensorFlow.js cannot seed fit()'s shuffling nor its initializers: ordinary code has no seed to show.
        assert new == old
    else:
        assert new != old
        # a touched line to highlight, unless the change only took lines out (shuffling once turned off)
        assert changed_lines(old, new) or len(new.splitlines()) < len(old.splitlines())


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_start_point_changes_exact_code_only(datasets, lang):
    ds = datasets["download-time"]
    before = replace(ds.defaults, init=(0.5, 1.0))
    after = replace(before, init=(0.25, 1.0))
    assert code(ds, before, lang) == code(ds, after, lang)  # ordinary code starts from random weights
    assert code(ds, before, lang, exact=True) != code(ds, after, lang, exact=True)
    start = code(ds, ds.defaults, lang, exact=True, start=[0.1, 0.2])
    assert start != code(ds, ds.defaults, lang, exact=True, start=[0.1, 0.3])
    assert code(ds, ds.defaults, lang, start=[0.1, 0.2]) == code(ds, ds.defaults, lang)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_settings_the_run_ignores_leave_the_code_alone(datasets, lang):
    ds = datasets["boston-housing"]
    s = ds.defaults  # linear, SGD
    for ignored in ({"momentum": 0.5}, {"hidden": (7,)}, {"activation": "tanh"}):
        for exact in (False, True):
            assert code(ds, replace(s, **ignored), lang, exact=exact) == code(ds, s, lang, exact=exact)


# --- changed lines ----------------------------------------------------------------------------------


def test_changed_lines_are_the_lines_a_change_touched(datasets):
    ds = datasets["boston-housing"]
    old = code(ds, ds.defaults, "tfjs")
    new = code(ds, replace(ds.defaults, batch_size=17), "tfjs")
    lines = new.splitlines()
    assert [lines[i].strip() for i in changed_lines(old, new)] == ["batchSize: 17,"]
    assert changed_lines(old, old) == []

    old = code(ds, ds.defaults, "keras")
    new = code(ds, replace(ds.defaults, learning_rate=0.05), "keras")
    lines = new.splitlines()
    assert [lines[i] for i in changed_lines(old, new)] == [
        line for line in lines if "learning_rate=0.05" in line
    ]


def test_changed_lines_count_inserted_lines_and_not_deleted_ones(datasets):
    ds = datasets["download-time"]
    old = code(ds, ds.defaults, "tfjs")
    new = code(ds, replace(ds.defaults, validation_split=0.2), "tfjs")
    touched = [new.splitlines()[i].strip() for i in changed_lines(old, new)]
    assert "validationSplit: 0.2," in touched  # a new line
    assert any("val_loss" in line for line in touched)  # the progress line now shows the validation loss
    assert len(touched) == 2
    assert changed_lines("a\nb\nc\n", "a\nc\n") == []  # a deleted line leaves nothing to highlight
    assert changed_lines("a\nb\n", "a\nB\n") == [1]  # 0-based


def test_changed_lines_of_a_new_seed_are_the_written_out_numbers(datasets):
    # A new seed rewrites the start weights and every epoch's row order: thousands of lines, compared by content.
    ds = datasets["boston-housing"]
    old = code(ds, ds.defaults, "tfjs", exact=True)
    new = code(ds, replace(ds.defaults, seed=1), "tfjs", exact=True)
    lines, old_lines = new.splitlines(), set(old.splitlines())
    touched = changed_lines(old, new)
    assert len(touched) > 1000
    numbers = lines.index("const DATA_ORDER = [")  # the program and the data above it stay as they were
    assert min(touched) > numbers
    assert all(lines[i] not in old_lines or lines[i].strip() in ("[", "],") for i in touched)
    untouched = [i for i in range(numbers, len(lines)) if i not in set(touched)]
    assert all(lines[i] in old_lines for i in untouched)


# --- exact code: the numbers it writes out are the run's ---------------------------------------------


def _literal(node: ast.AST):
    """The value of a literal, of ``np.array(literal, …)``, or of a list of those."""
    if isinstance(node, ast.Call):
        return _literal(node.args[0])
    if isinstance(node, ast.List):
        return [_literal(item) for item in node.elts]
    return ast.literal_eval(node)


def python_constants(text: str) -> dict:
    """The module-level constants of generated Python code (without running it)."""
    return {node.targets[0].id: _literal(node.value) for node in ast.parse(text).body
            if isinstance(node, ast.Assign) and node.targets[0].id.isupper()}


def javascript_constants(text: str, tmp_path) -> dict:
    """The top-level constants of generated JavaScript code, evaluated by Node without TensorFlow.js."""
    names = re.findall(r"^const ([A-Z_]+) =", text, flags=re.MULTILINE)
    script = text.replace("const tf = require('@tensorflow/tfjs');", "const tf = null;")
    script = script.replace("\nmain();\n", f"\nconsole.log(JSON.stringify({{{', '.join(names)}}}));\n")
    path = tmp_path / "constants.js"
    path.write_text(script, encoding="utf-8")
    result = subprocess.run([NODE, str(path)], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(result.stdout)


def trainer_epoch_orders(exp: Experiment) -> list[np.ndarray]:
    """The rows of every epoch, in the order the trainer used them."""
    orders: dict[int, list[np.ndarray]] = {}
    for report in exp.trainer.run():
        if isinstance(report, StepReport):
            orders.setdefault(report.epoch, []).append(report.indices)
    return [np.concatenate(orders[e]) for e in sorted(orders)]


def test_epoch_orders_are_the_trainers(datasets):
    ds = datasets["boston-housing"]
    s = replace(ds.defaults, epochs=4, batch_size=50)
    exp = Experiment(ds, s)
    expected = trainer_epoch_orders(exp)
    got = epoch_orders(s, len(exp.y))
    assert len(got) == 4
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(got[0], got[1])  # a new order every epoch
    assert epoch_orders(replace(s, shuffle=False), len(exp.y)) is None


def test_data_order_is_the_experiments(datasets):
    ds = datasets["boston-housing"]
    s = replace(ds.defaults, normalize=False, seed=5)
    exp = Experiment(ds, s)
    order = data_order(s, len(ds.y_train))
    np.testing.assert_array_equal(ds.X_train[order][: len(exp.y)], exp.X)
    np.testing.assert_array_equal(ds.y_train[order][: len(exp.y)], exp.y)
    assert data_order(replace(s, shuffle_data=False), len(ds.y_train)) is None


def _expected_constants(ds, s, start=None):
    exp = Experiment(ds, s)
    flat = exp.trainer.params if start is None else np.asarray(start)
    return {
        "flat": flat,
        "train": np.column_stack([ds.X_train, ds.y_train]),
        "data_order": data_order(s, len(ds.y_train)),
        "epoch_orders": trainer_epoch_orders(exp) if s.shuffle else None,
    }


def _check_constants(constants: dict, expected: dict, inline: bool) -> None:
    weights = np.concatenate([np.ravel(w) for w in constants["START_WEIGHTS"]])
    np.testing.assert_array_equal(weights, expected["flat"])  # bit for bit: the float64 start
    if inline:
        np.testing.assert_array_equal(np.array(constants["TRAIN"]), expected["train"])
    else:
        assert "TRAIN" not in constants
    if expected["data_order"] is None:
        assert "DATA_ORDER" not in constants
    else:
        np.testing.assert_array_equal(constants["DATA_ORDER"], expected["data_order"])
    if expected["epoch_orders"] is None:
        assert "EPOCH_ORDERS" not in constants
    else:
        assert len(constants["EPOCH_ORDERS"]) == len(expected["epoch_orders"])
        for a, b in zip(constants["EPOCH_ORDERS"], expected["epoch_orders"], strict=True):
            np.testing.assert_array_equal(a, b)


EXACT_CASES = {
    "boston-linear": ("boston-housing", {}),
    "boston-mlp2-no-shuffle": ("boston-housing", {"model": "mlp", "hidden": (6, 5), "shuffle": False}),
    "download-time-init": ("download-time", {"init": (0.75, -0.5), "batch_size": 7}),
    "csv-shuffled-once": ("csv", {"shuffle_data": True, "validation_split": 0.25, "seed": 9, "model": "mlp",
                                  "hidden": (3,)}),
}


@pytest.mark.parametrize("case", EXACT_CASES)
def test_exact_python_code_writes_out_the_runs_numbers(datasets, case):
    data, changes = EXACT_CASES[case]
    ds = datasets[data]
    s = replace(ds.defaults, epochs=3, **changes)
    constants = python_constants(code(ds, s, "keras", exact=True))
    _check_constants(constants, _expected_constants(ds, s), inline=data != "csv")


@needs_node
@pytest.mark.parametrize("case", EXACT_CASES)
def test_exact_javascript_code_writes_out_the_runs_numbers(datasets, case, tmp_path):
    data, changes = EXACT_CASES[case]
    ds = datasets[data]
    s = replace(ds.defaults, epochs=3, **changes)
    constants = javascript_constants(code(ds, s, "tfjs", exact=True), tmp_path)
    _check_constants(constants, _expected_constants(ds, s), inline=data != "csv")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_exact_code_starts_from_a_given_start(datasets, lang, tmp_path):
    ds = datasets["boston-housing"]
    s = replace(ds.defaults, model="mlp", hidden=(4,), epochs=2)
    start = np.random.default_rng(3).normal(size=build_model(s, 12).n_params)
    text = code(ds, s, lang, exact=True, start=start)
    if lang == "keras":
        constants = python_constants(text)
    elif NODE is None:
        pytest.skip("Node.js (node) is not installed")
    else:
        constants = javascript_constants(text, tmp_path)
    kernel = np.array(constants["START_WEIGHTS"][0])
    assert kernel.shape == (12, 4)  # tfjs and Keras kernels are (inputs, units)
    np.testing.assert_array_equal(np.concatenate([np.ravel(w) for w in constants["START_WEIGHTS"]]), start)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_exact_code_prints_every_epochs_loss_and_shows_its_order(datasets, lang):
    ds = datasets["boston-housing"]
    shuffled = code(ds, replace(ds.defaults, epochs=3), lang, exact=True)
    in_order = code(ds, replace(ds.defaults, epochs=3, shuffle=False), lang, exact=True)
    if lang == "tfjs":
        assert "console.log(`epoch ${epoch + 1} loss ${history.history.loss[0]}`);" in shuffled
        assert "onEpochEnd: (epoch, logs) => console.log(" in in_order
        assert "`epoch ${epoch + 1} loss ${logs.loss}`" in in_order
        assert "shuffle: false," in shuffled and "shuffle: false," in in_order
        assert "model.setWeights(START_WEIGHTS" in shuffled
    else:
        assert "print(f\"epoch {epoch} loss {history.history['loss'][0]}\")" in shuffled
        assert "print(f\"epoch {epoch + 1} loss {logs['loss']}\")" in in_order
        assert "shuffle=False" in shuffled and "shuffle=False" in in_order
        assert "model.set_weights(START_WEIGHTS)" in shuffled
    assert "EPOCH_ORDERS" in shuffled and "EPOCH_ORDERS" not in in_order


def test_exact_keras_code_with_adam_says_how_its_epsilon_differs(datasets):
    ds = datasets["boston-housing"]
    adam = replace(ds.defaults, optimizer="adam", learning_rate=0.001)
    assert "Keras's Adam is not quite TensorFlow.js's" in code(ds, adam, "keras", exact=True)
    assert "ε" not in code(ds, adam, "keras")  # ordinary code makes no such promise
    assert "ε" not in code(ds, ds.defaults, "keras", exact=True)  # nor exact code with another optimizer
    assert "ε" not in code(ds, adam, "tfjs", exact=True)


# --- what the code cannot express -------------------------------------------------------------------


def _one_line_error(call) -> str:
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    assert message and "\n" not in message
    return message


def test_errors_are_one_line(datasets):
    ds = datasets["boston-housing"]
    assert "tfjs" in _one_line_error(lambda: code(ds, ds.defaults, "python"))
    # 266 rows × 4,000 epochs of written-out orders: too much for exact code, fine for ordinary code.
    long_run = replace(ds.defaults, epochs=4000)
    assert f"{EXACT_MAX_NUMBERS:,}" in _one_line_error(lambda: code(ds, long_run, "tfjs", exact=True))
    assert "epochs: 4000" in code(ds, long_run, "tfjs")
    assert code(ds, replace(long_run, shuffle=False), "keras", exact=True)  # no orders to write out
    assert "13" in _one_line_error(lambda: code(ds, ds.defaults, "keras", exact=True, start=[0.0] * 5))
    assert _one_line_error(lambda: code(ds, ds.defaults, "keras", exact=True, start=[np.nan] * 13))
    small = datasets["download-time"]
    assert _one_line_error(lambda: code(small, replace(small.defaults, validation_split=0.99), "tfjs"))


def test_odd_names_and_paths_are_quoted(tmp_path):
    folder = tmp_path / 'a "quoted" folder'
    folder.mkdir()
    path = folder / "it's.csv"
    path.write_text('"size, MB";it\'s;"y ""q"""\n1;2;3\n4;5;6\n7;8;10\n', encoding="utf-8")
    ds = load(path)
    assert ds.feature_names == ("size, MB", "it's") and ds.target_name == 'y "q"'
    for exact in (False, True):
        constants = python_constants(code(ds, ds.defaults, "keras", exact=exact))
        assert constants["DATA_FILE"] == str(path)
        assert constants["FEATURES"] == ["size, MB", "it's"] and constants["TARGET"] == 'y "q"'
        if NODE is not None:
            constants = javascript_constants(code(ds, ds.defaults, "tfjs", exact=exact), tmp_path)
            assert constants["DATA_FILE"] == str(path)
            assert constants["FEATURES"] == ["size, MB", "it's"] and constants["TARGET"] == 'y "q"'


def test_file_names(datasets):
    assert file_name(datasets["boston-housing"], "tfjs") == "boston-housing.js"
    assert file_name(datasets["boston-housing"], "keras") == "boston-housing-keras.py"
    assert file_name(datasets["csv"], "tfjs") == "sales-data.js"
    assert "boston-housing.js" in code(datasets["boston-housing"], datasets["boston-housing"].defaults, "tfjs")


# --- slow: the exact code run by TensorFlow.js (and by Keras where it is installed) -------------------


@pytest.fixture(scope="session")
def tfjs_folder(tmp_path_factory):
    """A folder with @tensorflow/tfjs installed by npm (pure JavaScript, CPU backend)."""
    npm = shutil.which("npm")
    if NODE is None or npm is None:
        pytest.skip("Node.js and npm are needed to install TensorFlow.js")
    folder = tmp_path_factory.mktemp("tfjs")
    try:
        result = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error", "@tensorflow/tfjs"],
                                cwd=folder, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        pytest.skip("npm install @tensorflow/tfjs took more than 15 minutes")
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        pytest.skip(f"TensorFlow.js could not be installed with npm: {last}")
    return folder


def run_and_read_losses(command: list[str], cwd, env=None) -> tuple[list[float], str]:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=900, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    found = re.findall(r"^epoch (\d+) loss (\S+)$", result.stdout, flags=re.MULTILINE)
    assert [int(n) for n, _ in found] == list(range(1, len(found) + 1))
    return [float(loss) for _, loss in found], result.stdout


def engine_losses(ds, s) -> tuple[np.ndarray, float | None]:
    exp = Experiment(ds, s)
    losses = [r.loss for r in exp.trainer.run() if isinstance(r, EpochReport)]
    return np.array(losses), exp.test_loss()


SLOW_CASES = {
    "boston-linear": ("boston-housing", {"epochs": 5}),
    "boston-mlp-adam": ("boston-housing", {"epochs": 3, "model": "mlp", "hidden": (50,), "optimizer": "adam",
                                           "learning_rate": 0.01}),
    "boston-mlp2-momentum-mae": ("boston-housing", {"epochs": 3, "model": "mlp", "hidden": (50, 50),
                                                    "optimizer": "momentum", "loss": "mae"}),
    "boston-mlp-relu-rmsprop-in-order": ("boston-housing", {"epochs": 3, "model": "mlp", "hidden": (5,),
                                                            "activation": "relu", "optimizer": "rmsprop",
                                                            "learning_rate": 0.01, "shuffle": False}),
    "download-time-rmsprop-in-order": ("download-time", {"epochs": 8, "batch_size": 7, "shuffle": False,
                                                         "optimizer": "rmsprop", "learning_rate": 0.01,
                                                         "init": (0.5, -0.25)}),
    "csv-shuffled-once-split": ("csv", {"epochs": 6, "batch_size": 4, "shuffle_data": True,
                                        "validation_split": 0.25, "seed": 3}),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", SLOW_CASES)
def test_exact_tfjs_code_reproduces_the_runs_losses(datasets, tfjs_folder, case):
    data, changes = SLOW_CASES[case]
    ds = datasets[data]
    s = replace(ds.defaults, **changes)
    expected, test_loss = engine_losses(ds, s)
    (tfjs_folder / f"{case}.js").write_text(code(ds, s, "tfjs", exact=True), encoding="utf-8")
    losses, stdout = run_and_read_losses([NODE, f"{case}.js"], tfjs_folder)
    assert len(losses) == s.epochs
    np.testing.assert_allclose(losses, expected, rtol=1e-4)
    if test_loss is not None:
        printed = float(re.search(r"^test loss (\S+)$", stdout, flags=re.MULTILINE).group(1))
        assert printed == pytest.approx(test_loss, rel=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("data", ["download-time", "csv"])
def test_ordinary_tfjs_code_runs(datasets, tfjs_folder, data):
    ds = datasets[data]
    s = replace(ds.defaults, epochs=4, model="mlp", hidden=(8,), optimizer="adam", learning_rate=0.01)
    (tfjs_folder / f"ordinary-{data}.js").write_text(code(ds, s, "tfjs"), encoding="utf-8")
    result = subprocess.run([NODE, f"ordinary-{data}.js"], cwd=tfjs_folder, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    epochs = re.findall(r"^Epoch (\d+)/4 - loss: (\S+)", result.stdout, flags=re.MULTILINE)
    assert [int(n) for n, _ in epochs] == [1, 2, 3, 4]
    assert all(np.isfinite(float(loss)) for _, loss in epochs)


def _keras_available() -> bool:
    try:
        import keras  # noqa: F401
    except Exception:  # not installed, or no backend
        return False
    return True


@pytest.mark.slow
@pytest.mark.skipif(not _keras_available(), reason="Keras 3 (with a backend) is not installed in this Python")
@pytest.mark.parametrize("case", SLOW_CASES)
def test_exact_keras_code_reproduces_the_runs_losses(datasets, tmp_path, case):
    data, changes = SLOW_CASES[case]
    ds = datasets[data]
    s = replace(ds.defaults, **changes)
    expected, _ = engine_losses(ds, s)
    (tmp_path / "run.py").write_text(code(ds, s, "keras", exact=True), encoding="utf-8")
    losses, _ = run_and_read_losses([sys.executable, "run.py"], tmp_path, env=dict(os.environ))
    # Keras's Adam weighs ε differently (see the comment in the code): a looser bound there.
    np.testing.assert_allclose(losses, expected, rtol=1e-3 if s.optimizer == "adam" else 1e-4)
