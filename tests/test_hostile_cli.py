"""Hostile use of the command line: every bad option value, odd words and huge or multi-line values.

Each case asserts the exit status, that the message is one ``error:`` line of reasonable length, and that
nothing in the user's folder changed (a data file, an old history, a link, all byte for byte).
"""

from __future__ import annotations

import pytest
from hostile import command, fit, one_line, snapshot, table

from fitscope.__main__ import main as fitscope_main


@pytest.fixture
def folder(tmp_path):
    """A user's folder: a data file, an old history, a link to it."""
    table(tmp_path / "d.csv")
    (tmp_path / "h.csv").write_text("epoch,loss,val_loss\n1,0.5,\n")
    (tmp_path / "link.csv").symlink_to("h.csv")
    return tmp_path


def refused(folder, *args, fragment: str = "") -> str:
    """Assert ``fitscope fit ARGS`` exits 2 with one error line (holding ``fragment``) and changes nothing."""
    before = snapshot(folder)
    code, out, err = fit(*args, cwd=folder)
    assert code == 2, (code, out, err)
    assert out == ""
    line = one_line(err)
    assert fragment in line, line
    assert snapshot(folder) == before
    return line


# --------------------------------------------------------------------------- numbers out of range, or not numbers
@pytest.mark.parametrize(
    ("option", "value", "fragment"),
    [
        ("--lr", "nan", "not a finite number"),
        ("--lr", "inf", "not a finite number"),
        ("--lr", "-inf", "not a finite number"),
        ("--lr", "1e400", "not a finite number"),
        ("--lr", "-1", "must be a positive number"),
        ("--lr", "0", "must be a positive number"),
        ("--lr", "fast", "is not a number"),
        ("--lr", "0x10", "is not a number"),
        ("--lr", "1,5", "is not a number"),
        ("--lr", "", "is not a number"),
        ("--batch-size", "0", "from 1 to"),
        ("--batch-size", "-3", "from 1 to"),
        ("--batch-size", "1.5", "not a whole number"),
        ("--batch-size", "1e3", "not a whole number"),
        ("--batch-size", "10000000000", "from 1 to 1,000,000,000"),
        ("--batch-size", "9" * 30, "from 1 to"),
        ("--epochs", "-1", "from 0 to 1,000,000"),
        ("--epochs", "1000001", "from 0 to 1,000,000"),
        ("--epochs", str(10**12), "from 0 to 1,000,000"),
        ("--epochs", "1e6", "not a whole number"),
        ("--epochs", "nan", "not a whole number"),
        ("--seed", "-1", "from 0 to 2,147,483,647"),
        ("--seed", str(2**31), "from 0 to 2,147,483,647"),
        ("--seed", str(2**70), "from 0 to 2,147,483,647"),
        ("--seed", "1.0", "not a whole number"),
        ("--validation-split", "1", "a fraction from 0 to below 1"),
        ("--validation-split", "1.5", "a fraction"),
        ("--validation-split", "-0.1", "a fraction"),
        ("--validation-split", "nan", "not a finite number"),
        ("--validation-split", "inf", "not a finite number"),
    ],
)
def test_numbers_out_of_range_are_refused_before_anything_happens(folder, option, value, fragment):
    line = refused(folder, "--data", "d.csv", f"{option}={value}", "--history", "h.csv", fragment=fragment)
    assert f"argument {option}" in line


@pytest.mark.parametrize("value", ["nan", "-0.1", "inf"])
def test_momentum_out_of_range(folder, value):
    refused(folder, "--optimizer", "momentum", f"--momentum={value}", "--history", "h.csv")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("0", "1 to 4,096 units"),
        ("-1", "1 to 4,096 units"),
        ("50,,50", "without empty items"),
        ("50,x", "whole numbers"),
        ("100000000000", "1 to 4,096 units"),
        ("3000000000", "1 to 4,096 units"),
        ("4097", "1 to 4,096 units"),
        (",".join(["2"] * 9), "1 to 8 layers"),
        ('"50', "quote that is not closed"),
        ("4096,4096,4096", "parameters, more than the 1,000,000"),
    ],
)
def test_hidden_layers_out_of_range_allocate_nothing(folder, value, fragment):
    refused(folder, "--data", "boston-housing", "--model", "mlp", f"--hidden={value}", fragment=fragment)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("nan,nan", "finite numbers"),
        ("inf,0", "finite numbers"),
        ("1e400,1", "finite numbers"),
        ("1", "2 comma-separated numbers"),
        ("1,2,3", "2 comma-separated numbers"),
        ("a,b", "2 comma-separated numbers"),
        (",", "without empty items"),
    ],
)
def test_a_start_point_must_be_two_finite_numbers(folder, value, fragment):
    refused(folder, f"--init={value}", fragment=fragment)


@pytest.mark.parametrize(
    ("option", "value"),
    [("--model", "cnn"), ("--loss", "huber"), ("--optimizer", "sgdx"), ("--activation", "swish")],
)
def test_unknown_choices(folder, option, value):
    refused(folder, option, value, fragment="invalid choice")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--data", ""], "--data needs"),
        (["--data", "   "], "--data needs"),
        (["--data", "d.csv", "--target", ""], "--target needs a column name"),
        (["--data", "d.csv", "--features", ""], "--features needs a column name"),
        (["--data", "d.csv", "--features", ",,"], "without empty items"),
        (["--data", "d.csv", "--features", '"a,b'], "quote that is not closed"),
        (["--history", ""], "needs a file name"),
        (["--history", "  "], "needs a file name"),
        (["--trace", ""], "needs a file name"),
        (["--history", "-"], "standard output is not supported"),
        (["--trace", "-"], "standard output is not supported"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["extra"], "unrecognized arguments: extra"),
        (["--hidden", "50"], "--hidden applies to --model mlp only"),
        (["--activation", "relu"], "--activation applies to --model mlp only"),
        (["--momentum", "0.5"], "--momentum applies to --optimizer momentum only"),
        (["--init", "1,2", "--model", "mlp"], "one-feature linear model"),
    ],
)
def test_empty_and_meaningless_options(folder, args, fragment):
    refused(folder, *args, fragment=fragment)


# --------------------------------------------------------------------------- huge and multi-line values
@pytest.mark.parametrize(
    "args",
    [
        ["--model", "x" * 100_000],
        ["--lr", "9" * 100_000],
        ["--lr", "1\n2"],
        ["--seed", "1\n\n2"],
        ["--data", "d.csv", "--target", "no\nsuch\ncolumn"],
        ["--data", "d.csv", "--features", "y" * 50_000],
        ["--data", "missing\nfile.csv"],
        ["--data", "x" * 5000 + ".csv"],
        ["--history", "a\nb.csv"],
        ["--history", "c" * 300 + ".csv"],
        ["--bogus\nsecond-line"],
        ["--" + "z" * 20_000],
    ],
)
def test_huge_or_multi_line_values_give_one_short_line(folder, args):
    refused(folder, *args)


def test_an_unknown_column_of_a_10000_column_file_is_a_short_line(folder):
    names = [f"column_{i}" for i in range(10_000)]
    (folder / "wide.csv").write_text(",".join(names) + "\n" + "\n".join(",".join(["1"] * 10_000) for _ in range(3)))
    line = refused(folder, "--data", "wide.csv", "--target", "nope", fragment='no column "nope"')
    assert "…and 9,988 more" in line and len(line) < 250


def test_an_unknown_feature_lists_names_with_commas_quoted_as_features_takes_them(folder):
    (folder / "c.csv").write_text('"size, MB",rooms,price\n1,2,3\n2,3,5\n3,1,4\n')
    line = refused(folder, "--data", "c.csv", "--features", "size, MB", fragment='no column "size"')
    assert '"size, MB", rooms, price' in line


# --------------------------------------------------------------------------- columns whose names hold commas
@pytest.fixture
def commas(folder):
    (folder / "c.csv").write_text('"size, MB",rooms,"a ""q"" b",price\n1,2,3,4\n2,3,1,5\n3,1,2,6\n4,4,4,8\n')
    return folder


@pytest.mark.parametrize(
    ("features", "names"),
    [
        ('"size, MB",rooms', ["size, MB", "rooms"]),
        ('"size, MB"', ["size, MB"]),
        ('rooms, "size, MB"', ["rooms", "size, MB"]),
        ('"a ""q"" b"', ['a "q" b']),
    ],
)
def test_features_with_commas_and_quotes_can_be_chosen(commas, features, names):
    trace = commas / "t.csv"
    code, out, err = fit("--data", "c.csv", "--features", features, "--epochs", 1, "--quiet", "--trace", trace,
                         cwd=commas)
    assert (code, err) == (0, "")
    header = trace.read_text().splitlines()[0]
    expected = ["kernel", "bias"] if len(names) == 1 else [f"kernel_{n}" for n in names] + ["bias"]
    assert header == ",".join(["step", "epoch", "batch", "loss", *expected])


def test_a_target_whose_name_holds_a_comma(commas):
    code, _, err = fit("--data", "c.csv", "--target", "size, MB", "--features", "rooms", "--epochs", 1, "--quiet",
                       cwd=commas)
    assert (code, err) == (0, "")


# --------------------------------------------------------------------------- the first word
@pytest.mark.parametrize("word", ["fitt", "Fit", "--fit", "fit\n", "x" * 1000, "-v"])
def test_a_word_that_is_no_command_is_a_usage_error_not_the_app(capsys, word):
    assert fitscope_main([word, "--epochs", "1"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    line = one_line(captured.err)
    assert "is not a fitscope command" in line and len(line) < 200


def test_version_and_help_print_and_exit_0(capsys):
    assert fitscope_main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("fitscope ")
    assert fitscope_main(["--help"]) == 0
    assert "COMMAND" in capsys.readouterr().out


def test_fit_help_documents_comma_quoting(capsys):
    code, out, err = command("fit", "--help")
    assert code == 0 and err == ""
    assert "size, MB" in out and "doubled" in " ".join(out.split())


def test_no_command_at_all_in_the_cli(folder):
    code, out, err = command(cwd=folder)
    assert code == 2 and out == ""
    one_line(err)
