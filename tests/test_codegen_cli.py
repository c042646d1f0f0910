"""``fitscope code``: the code of the run the options describe, on stdout; bad input is one line and exit 2."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from dataclasses import replace

import pytest

from fitscope.engine.cli import COMMANDS, main
from fitscope.engine.codegen import code as generate
from fitscope.engine.data import load

NODE = shutil.which("node")


def _run(capsys, *args):
    """``fitscope code ARGS`` in-process: (exit status, stdout, stderr)."""
    status = main(["code", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


def _assert_one_error_line(err):
    assert err.startswith("error: ")
    assert err.endswith("\n") and err.count("\n") == 1
    assert "Traceback" not in err


def test_code_is_a_registered_command():
    assert "code" in COMMANDS


@pytest.mark.parametrize("lang", ["tfjs", "keras"])
def test_prints_the_code_of_the_data_sets_own_settings(capsys, lang):
    status, out, err = _run(capsys, "--lang", lang, "--data", "boston-housing")
    assert (status, err) == (0, "")
    boston = load("boston-housing")
    assert out == generate(boston, boston.defaults, lang)


@pytest.mark.parametrize("lang", ["tfjs", "keras"])
def test_the_options_of_fit_make_the_settings(capsys, lang):
    args = ["--lang", lang, "--data", "boston-housing", "--model", "mlp", "--hidden", "20,10", "--activation",
            "tanh", "--loss", "mae", "--optimizer", "momentum", "--lr", "0.05", "--momentum", "0.5",
            "--batch-size", "17", "--epochs", "4", "--validation-split", "0.1", "--no-shuffle",
            "--no-shuffle-data", "--no-normalize"]
    status, out, err = _run(capsys, *args)
    assert (status, err) == (0, "")
    boston = load("boston-housing")
    settings = replace(boston.defaults, model="mlp", hidden=(20, 10), activation="tanh", loss="mae",
                       optimizer="momentum", learning_rate=0.05, momentum=0.5, batch_size=17, epochs=4,
                       validation_split=0.1, shuffle=False, shuffle_data=False, normalize=False)
    assert out == generate(boston, settings, lang)
    assert out != generate(boston, boston.defaults, lang)


@pytest.mark.parametrize("lang", ["tfjs", "keras"])
def test_exact_code_prints_one_line_per_epoch(capsys, lang):
    status, out, err = _run(capsys, "--lang", lang, "--data", "download-time", "--epochs", 3, "--seed", 4,
                            "--exact")
    assert (status, err) == (0, "")
    ds = load("download-time")
    assert out == generate(ds, replace(ds.defaults, epochs=3, seed=4), lang, exact=True)
    if lang == "keras":
        assert "print(f\"epoch {epoch} loss {" in out
    else:
        assert "console.log(`epoch ${epoch + 1} loss ${" in out


def test_init_sets_the_start_of_exact_code(capsys):
    status, out, _ = _run(capsys, "--lang", "keras", "--init", "0.5,-0.25", "--exact")
    assert status == 0
    start = next(node for node in ast.parse(out).body
                 if isinstance(node, ast.Assign) and node.targets[0].id == "START_WEIGHTS")
    assert "0.5" in ast.unparse(start) and "-0.25" in ast.unparse(start)


def test_the_code_parses(capsys, tmp_path):
    status, out, _ = _run(capsys, "--lang", "keras", "--data", "boston-housing", "--exact", "--epochs", 2)
    assert status == 0
    ast.parse(out)
    if NODE is None:
        pytest.skip("Node.js (node) is not installed")
    status, out, _ = _run(capsys, "--lang", "tfjs", "--data", "boston-housing", "--exact", "--epochs", 2)
    path = tmp_path / "run.js"
    path.write_text(out, encoding="utf-8")
    assert subprocess.run([NODE, "--check", str(path)], capture_output=True).returncode == 0


@pytest.mark.parametrize("args, says", [
    (["--lang", "js"], "invalid choice: 'js'"),
    ([], "--lang"),
    (["--lang", "tfjs", "--init", "1,2"], "--exact"),
    (["--lang", "tfjs", "--seed", "3"], "seed"),
    (["--lang", "tfjs", "--data", "boston-housing", "--epochs", "5000", "--exact"], "1,000,000"),
    (["--lang", "keras", "--optimizer", "sgd", "--momentum", "0.5"], "--momentum"),
    (["--lang", "keras", "--validation-split", "0.99"], "validation split"),
    (["--lang", "keras", "--data", "no-such-file.csv"], "no-such-file.csv"),
    (["--lang", "keras", "--history", "h.csv"], "unrecognized arguments"),
])
def test_bad_input_is_one_error_line_and_exit_2(capsys, args, says):
    status, out, err = _run(capsys, *args)
    assert status == 2
    assert out == ""
    _assert_one_error_line(err)
    assert says in err


def test_the_seed_is_taken_where_the_code_can_express_it(capsys):
    assert _run(capsys, "--lang", "keras", "--seed", 3)[0] == 0  # keras.utils.set_random_seed(3)
    assert _run(capsys, "--lang", "tfjs", "--seed", 3, "--exact")[0] == 0


def test_a_constant_column_notice_goes_to_stderr_not_into_the_code(capsys, tmp_path):
    path = tmp_path / "flat.csv"
    path.write_text("a,b,y\n1,0.1,2\n2,0.1,3\n3,0.1,5\n", encoding="utf-8")
    status, out, err = _run(capsys, "--lang", "keras", "--data", path)
    assert status == 0
    assert err.startswith("note: ") and "b" in err
    ast.parse(out)


def test_the_installed_command_prints_the_code(tmp_path):
    result = subprocess.run([sys.executable, "-m", "fitscope", "code", "--lang", "keras", "--epochs", "2"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    ast.parse(result.stdout)
    assert "epochs=2" in result.stdout
