"""Tests of engine.data: the two built-in sets, the file formats a user may bring, and every refusal."""

from __future__ import annotations

import io
import os
import re
from dataclasses import replace
from importlib.resources.abc import Traversable
from pathlib import Path

import numpy as np
import pytest

from fitscope.engine import data, files
from fitscope.engine.data import (
    BUILTIN,
    DataError,
    Dataset,
    data_dir,
    load,
    load_builtin,
    load_csv,
    read_table,
)
from fitscope.engine.settings import FitSettings

BOSTON_FEATURES = ("crim", "zn", "indus", "chas", "nox", "rm", "age", "dis", "rad", "tax", "ptratio", "lstat")


def write(directory: Path, content: str | bytes, name: str = "table.csv") -> Path:
    """Write ``content`` (text is encoded as UTF-8, byte for byte otherwise) to ``directory / name``."""
    path = directory / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def refusal(path: Path | str, *fragments: str, target: str | None = None, features=None) -> str:
    """Assert that ``load_csv`` refuses ``path`` with a one-line message naming the file and ``fragments``."""
    with pytest.raises(DataError) as info:
        load_csv(path, target=target, features=features)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message
    assert message.startswith(f"{Path(path).name}: "), message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


# --- built-in data sets ---------------------------------------------------------------------------------


def test_builtin_names():
    assert BUILTIN == ("download-time", "boston-housing")


def test_download_time():
    ds = load_builtin("download-time")
    assert (ds.name, ds.source) == ("download-time", "download-time")
    assert ds.feature_names == ("size_mb",) and ds.target_name == "time_sec"
    assert ds.X_train.shape == (20, 1) and ds.y_train.shape == (20,)
    assert ds.X_test.shape == (20, 1) and ds.y_test.shape == (20,)
    assert ds.n_features == 1 and ds.has_test
    # First training row and last test row of Listing 2.1.
    assert (ds.X_train[0, 0], ds.y_train[0]) == (0.08, 0.135)
    assert (ds.X_test[-1, 0], ds.y_test[-1]) == (0.008, 0.057)
    assert ds.descriptions == {"size_mb": "file size in MB", "time_sec": "download time in seconds"}
    assert ds.target_unit == "s"
    assert ds.defaults == FitSettings(
        loss="mae", optimizer="sgd", learning_rate=0.01, batch_size=32, epochs=200, validation_split=0.0
    )
    assert ds.defaults.normalize is False


def test_download_time_least_squares_matches_reference():
    ds = load_builtin("download-time")
    k, b = np.polyfit(ds.X_train[:, 0], ds.y_train, 1)
    assert round(k, 4) == 0.0684 and round(b, 4) == 0.0868


def test_boston_housing():
    ds = load_builtin("boston-housing")
    assert (ds.name, ds.source) == ("boston-housing", "boston-housing")
    assert ds.feature_names == BOSTON_FEATURES and ds.target_name == "medv"
    assert ds.X_train.shape == (333, 12) and ds.y_train.shape == (333,)
    assert ds.X_test.shape == (173, 12) and ds.y_test.shape == (173,)
    assert ds.n_features == 12 and ds.has_test
    assert ds.target_unit == "$1000s"
    assert ds.defaults == FitSettings(
        loss="mse",
        optimizer="sgd",
        learning_rate=0.01,
        batch_size=40,
        epochs=200,
        validation_split=0.2,
        shuffle_data=True,
        normalize=True,
    )


def test_boston_housing_reference_numbers():
    ds = load_builtin("boston-housing")
    mean = ds.y_train.mean()
    assert round(mean, 6) == 22.768769
    assert round(float(np.mean((ds.y_test - mean) ** 2)), 6) == 85.582852


def test_boston_housing_least_squares_matches_reference():
    ds = load_builtin("boston-housing")
    mu, sigma = ds.X_train.mean(axis=0), ds.X_train.std(axis=0)
    design = np.column_stack([(ds.X_train - mu) / sigma, np.ones(len(ds.X_train))])
    w = np.linalg.lstsq(design, ds.y_train, rcond=None)[0]
    pred = np.column_stack([(ds.X_test - mu) / sigma, np.ones(len(ds.X_test))]) @ w
    assert round(float(np.mean((pred - ds.y_test) ** 2)), 6) == 22.611198


def test_boston_housing_descriptions():
    ds = load_builtin("boston-housing")
    assert set(ds.descriptions) == {*BOSTON_FEATURES, "medv"}
    for column, text in ds.descriptions.items():
        assert text and "\n" not in text, column
    assert ds.descriptions["lstat"] == "% lower-status population"
    assert ds.descriptions["medv"] == "median value of owner-occupied homes in $1000s"
    assert "drop" not in " ".join(ds.descriptions.values()).lower()


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_arrays_are_read_only_float64(name):
    ds = load_builtin(name)
    for array in (ds.X_train, ds.y_train, ds.X_test, ds.y_test):
        assert array.dtype == np.float64
        assert array.flags.c_contiguous
        assert not array.flags.writeable
        assert np.isfinite(array).all()
    with pytest.raises(ValueError, match="read-only"):
        ds.X_train[0, 0] = 1.0


def test_unknown_builtin_lists_the_known_ones():
    with pytest.raises(DataError) as info:
        load_builtin("mnist")
    message = str(info.value)
    assert message.startswith("mnist: ")
    assert "download-time" in message and "boston-housing" in message


def test_data_dir_holds_the_shipped_files():
    root = data_dir()
    assert isinstance(root, Traversable)
    assert (root / "README.md").is_file()
    for path in ("download-time/train.csv", "boston-housing/test-target.csv"):
        assert (root / path).is_file(), path


def test_load_builtin_feature_subset():
    ds = load("boston-housing", features=["lstat", "rm"])
    assert ds.feature_names == ("lstat", "rm") and ds.target_name == "medv"
    full = load_builtin("boston-housing")
    np.testing.assert_array_equal(ds.X_train, full.X_train[:, [11, 5]])
    np.testing.assert_array_equal(ds.X_test, full.X_test[:, [11, 5]])
    assert set(ds.descriptions) == {"lstat", "rm", "medv"}
    assert not ds.X_train.flags.writeable


def test_load_builtin_other_target_is_refused():
    with pytest.raises(DataError, match=r'^boston-housing: .*"medv"'):
        load("boston-housing", target="crim")


def test_load_builtin_unknown_feature_is_refused():
    with pytest.raises(DataError, match=r'^boston-housing: no column "b" \(the columns are: crim, '):
        load("boston-housing", features=["rm", "b"])


# --- Dataset ----------------------------------------------------------------------------------------------


def small(X, y, X_test=None, y_test=None, features=("a",)) -> Dataset:
    """A made-up data set of the given arrays."""
    return Dataset(
        name="t",
        source="t",
        feature_names=features,
        target_name="c",
        X_train=X,
        y_train=y,
        X_test=X_test,
        y_test=y_test,
        descriptions={},
        target_unit="",
        defaults=FitSettings(),
    )


def test_dataset_copies_and_freezes_its_arrays():
    X = np.arange(6, dtype=np.int64).reshape(3, 2)
    y = np.array([1.0, 2.0, 3.0])
    ds = small(X, y, features=("a", "b"))
    assert ds.X_train.dtype == np.float64 and not ds.X_train.flags.writeable
    assert y.flags.writeable, "the caller's array must not be frozen"
    y[0] = 99.0
    assert ds.y_train[0] == 1.0
    assert not ds.has_test and ds.n_features == 2


def test_dataset_rejects_inconsistent_shapes():
    with pytest.raises(DataError, match="^t: "):
        small(np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(DataError, match="^t: "):
        small(np.zeros((3, 1)), np.zeros(2))
    with pytest.raises(DataError, match="^t: "):
        small(np.zeros((3, 1)), np.zeros(3), np.zeros((2, 1)), np.zeros(3))
    with pytest.raises(DataError, match="both"):
        small(np.zeros((3, 1)), np.zeros(3), np.zeros((2, 1)))


def test_dataset_replace_keeps_invariants():
    ds = load_builtin("download-time")
    smaller = replace(ds, X_train=ds.X_train[:5], y_train=ds.y_train[:5])
    assert smaller.X_train.shape == (5, 1) and not smaller.X_train.flags.writeable


def test_data_error_is_a_value_error_on_one_line():
    err = DataError("a.csv: first\nsecond")
    assert isinstance(err, ValueError)
    assert str(err) == "a.csv: first second"


# --- user files: accepted formats ------------------------------------------------------------------------

ACCEPTED = {
    "plain": "x,y\n1,2\n3,4\n",
    "no final newline": "x,y\n1,2\n3,4",
    "blank lines at the end": "x,y\n1,2\n3,4\n\n\n  \n",
    "separator-only lines at the end": "x,y\n1,2\n3,4\n,\n , \n",
    "blank line in the middle": "x,y\n1,2\n\n3,4\n",
    "byte-order mark": "\ufeffx,y\n1,2\n3,4\n",
    "CRLF": "x,y\r\n1,2\r\n3,4\r\n",
    "CRLF with blank lines at the end": "x,y\r\n1,2\r\n3,4\r\n\r\n\r\n",
    "quoted names": '"x","y"\n1,2\n3,4\n',
    "quoted numbers": 'x,y\n"1","2"\n3,"4"\n',
    "spaces around values": " x , y \n 1 , 2\n3 ,  4  \n",
    "spaces around quoted values": ' "x" , "y"\n "1" ,2\n3, "4"\n',
    "scientific notation": "x,y\n1e0,2E+0\n3000e-3,0.4e1\n",
    "semicolon": "x;y\n1;2\n3;4\n",
    "tab": "x\ty\n1\t2\n3\t4\n",
    "Excel export": '\ufeff"x";"y"\r\n"1";"2"\r\n3;4\r\n;\r\n',
    "separator inside a quoted name": '"x, first";y\n1;2\n3;4\n',
}


@pytest.mark.parametrize("content", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_accepted_format(tmp_path, content):
    names, table = read_table(write(tmp_path, content))
    assert names[1] == "y"
    assert names[0] in ("x", "x, first")
    assert table.dtype == np.float64
    np.testing.assert_array_equal(table, [[1.0, 2.0], [3.0, 4.0]])


def test_signs_decimals_and_integers(tmp_path):
    names, table = read_table(write(tmp_path, "a,b,c\n-1.5,+2,.25\n7.,-0,1e-3\n"))
    assert names == ["a", "b", "c"]
    np.testing.assert_array_equal(table, [[-1.5, 2.0, 0.25], [7.0, 0.0, 0.001]])


def test_separator_tie_goes_to_comma(tmp_path):
    names, _ = read_table(write(tmp_path, "a,b;c\n1,2\n3,4\n"))
    assert names == ["a", "b;c"]


def test_single_column_table(tmp_path):
    names, table = read_table(write(tmp_path, "y\n1\n2\n3\n"))
    assert names == ["y"] and table.shape == (3, 1)


def test_numbers_are_parsed_exactly(tmp_path):
    values = np.random.default_rng(0).normal(size=(50, 2)) * 10.0 ** np.arange(-20, 30, 1)[:, None]
    text = "a,b\n" + "".join(f"{float(a)!r},{float(b)!r}\n" for a, b in values)
    np.testing.assert_array_equal(read_table(write(tmp_path, text))[1], values)


# --- user files: load_csv -------------------------------------------------------------------------------


def test_load_csv_defaults(tmp_path):
    path = write(tmp_path, "a,b,c\n1,2,3\n4,5,6\n7,8,9\n", "houses.csv")
    ds = load_csv(path)
    assert ds.name == "houses.csv" and ds.source == str(path.absolute())
    assert ds.feature_names == ("a", "b") and ds.target_name == "c"
    np.testing.assert_array_equal(ds.X_train, [[1, 2], [4, 5], [7, 8]])
    np.testing.assert_array_equal(ds.y_train, [3, 6, 9])
    assert ds.X_test is None and ds.y_test is None and not ds.has_test
    assert ds.descriptions == {"a": "", "b": "", "c": ""} and ds.target_unit == ""
    assert ds.defaults == FitSettings(
        loss="mse", optimizer="sgd", learning_rate=0.01, batch_size=32, epochs=200, normalize=True
    )
    for array in (ds.X_train, ds.y_train):
        assert array.dtype == np.float64 and array.flags.c_contiguous and not array.flags.writeable


def test_load_csv_chosen_columns_keep_the_given_order(tmp_path):
    ds = load_csv(write(tmp_path, "a,b,c\n1,2,3\n4,5,6\n"), target="a", features=["c", "b"])
    assert ds.feature_names == ("c", "b") and ds.target_name == "a"
    np.testing.assert_array_equal(ds.X_train, [[3, 2], [6, 5]])
    np.testing.assert_array_equal(ds.y_train, [1, 4])


def test_load_csv_one_feature_is_not_normalized(tmp_path):
    ds = load_csv(write(tmp_path, "a,b,c\n1,2,3\n4,5,6\n"), features="b")
    assert ds.feature_names == ("b",) and ds.target_name == "c"
    assert ds.defaults.normalize is False


def test_load_from_another_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "size,time\n1,2\n3,4\n", "mine.csv")
    assert load("download-time").X_train.shape == (20, 1)
    assert load("boston-housing").X_test.shape == (173, 12)
    ds = load("mine.csv")
    assert ds.source == str(tmp_path / "mine.csv") and Path(ds.source).is_absolute()
    assert ds.feature_names == ("size",)


def test_builtin_name_wins_over_a_file_of_that_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "u,v\n1,2\n3,4\n", "download-time")
    assert load("download-time").feature_names == ("size_mb",)
    assert load("./download-time").feature_names == ("u",)


def test_nothing_is_printed(tmp_path, capfd):
    load_csv(write(tmp_path, "x,y\n1,2\n3,4\n"))
    with pytest.raises(DataError):
        load_csv(write(tmp_path, "x,y\n1,2\n3,abc\n"))
    assert capfd.readouterr() == ("", "")


def test_a_million_rows_load(tmp_path):
    """How fast is for ``make bench``; here, that a large file loads right."""
    block = "".join(f"{i * 0.001:.6f},{i * 1.5e-3 + 0.25:.6g}\n" for i in range(1000))
    path = write(tmp_path, "size,time\n" + block * 1000)
    ds = load_csv(path)
    assert ds.X_train.shape == (1_000_000, 1)
    assert (ds.X_train[1001, 0], ds.y_train[1001]) == (0.001, 0.2515)


# --- user files: refusals ---------------------------------------------------------------------------------

REFUSED = {
    "not a number": ("x,tax\n1,2\n3,abc\n", 'line 3, column "tax": "abc" is not a number'),
    "empty cell": ("x,y\n1,2\n,4\n", 'line 3, column "x": the cell is empty'),
    "blank cell": ("x,y\n1,2\n3,   \n", 'line 3, column "y": the cell is empty'),
    "empty quoted cell": ('x,y\n1,2\n3,""\n', 'line 3, column "y": the cell is empty'),
    "nan": ("x,y\n1,2\nnan,4\n", 'line 3, column "x": "nan" is not a finite number'),
    "NaN": ("x,y\n1,NaN\n3,4\n", 'line 2, column "y": "NaN" is not a finite number'),
    "inf": ("x,y\n1,2\n3,inf\n", 'line 3, column "y": "inf" is not a finite number'),
    "-Infinity": ("x,y\n1,2\n3,4\n-Infinity,6\n", 'line 4, column "x": "-Infinity" is not a finite number'),
    "overflow": ("x,y\n1,2\n1e999,4\n", 'line 3, column "x": "1e999" is out of the range'),
    "boolean": ("x,y\nTrue,2\nFalse,4\n", 'line 2, column "x": "True" is not a number'),
    "quoted thousands": (
        'x,y\n1,2\n"1,234.5",4\n',
        'line 3, column "x": "1,234.5" is not a number: thousands',
    ),
    "spaced thousands": ("x,y\n1,2\n3,1 234\n", 'line 3, column "y": "1 234" is not a number: thousands'),
    "dotted thousands": ("x;y\n1;2\n3;1.234,5\n", 'line 3, column "y": "1.234,5" is not a number: thousands'),
    "decimal comma": ("x;y\n1;2\n3;4,5\n", 'line 3, column "y": "4,5" is not a number: decimal commas'),
    "short row": ("x,y\n1,2\n3\n4,5\n", "line 3: expected 2 fields as in the header, found 1"),
    "long row": ("x,y\n1,2\n3,4\n5,6,7\n", "line 4: expected 2 fields as in the header, found 3"),
    "unquoted thousands": ("x,y\n1,2\n1,234.5,6\n", "line 3: expected 2 fields as in the header, found 3"),
    "empty file": ("", "the file is empty"),
    "blank file": ("\n  \n\n", "the file is empty"),
    "header only": ("x,y\n", "no data rows below the header"),
    "one row": ("x,y\n1,2\n", "only 1 data row; at least 2 are needed"),
    "duplicate names": (
        "x,y,x\n1,2,3\n4,5,6\n",
        'line 1: the column name "x" appears twice (columns 1 and 3)',
    ),
    "empty name": ("x,,z\n1,2,3\n4,5,6\n", "line 1: column 2 has no name"),
    "numeric header": (
        "1.5,2\n3,4\n5,6\n",
        "line 1 holds numbers, not column names: the first line must hold",
    ),
    "UTF-16": ("x,y\n1,2\n3,4\n".encode("utf-16"), "not a UTF-8 text file (it is UTF-16"),
    "UTF-16 without mark": ("x,y\n1,2\n3,4\n".encode("utf-16-le"), "not a UTF-8 text file"),
    "NUL bytes": (b"x,y\n1,2\n3\x00,4\n", "not a UTF-8 text file"),
    "binary": (bytes(range(256)) * 4, "not a UTF-8 text file"),
    "ZIP or Excel": (
        b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 40,
        "not a UTF-8 text file (it looks like a ZIP",
    ),
    "Latin-1": ("x,y\n1,2\n3,4 é\n".encode("latin-1"), "not a UTF-8 text file (line 3 has the byte 0xe9"),
}


@pytest.mark.parametrize(("content", "expected"), REFUSED.values(), ids=REFUSED.keys())
def test_refused_file(tmp_path, content, expected):
    refusal(write(tmp_path, content, "train.csv"), expected)


@pytest.mark.parametrize(("content", "expected"), REFUSED.values(), ids=REFUSED.keys())
def test_read_table_refuses_the_same(tmp_path, content, expected):
    with pytest.raises(DataError, match=f"^train.csv: .*{re.escape(expected)}"):
        read_table(write(tmp_path, content, "train.csv"))


@pytest.mark.parametrize(
    ("content", "line"),
    [
        ("x,y\n1,2\n\n3,abc\n", 4),  # a blank line in between still counts
        ("\n\nx,y\n1,2\n3,abc\n", 5),  # so do blank lines above the header
        ("\ufeffx,y\r\n1,2\r\n\r\n3,abc\r\n", 4),  # a byte-order mark and CRLF change nothing
        ('x,y\n"1\n2",3\n4,5\n', 2),  # a quoted line break: the record starts on line 2
        ('x,y\n"a\nb",3\n4,abc\n', 2),
        ('x,y\n1,"2\n3"\n4,abc\n', 2),
        ("x,y\n1,2\n,,\n3,4\nfoo,4\n", 5),  # a separator-only line is a blank line
    ],
)
def test_line_numbers_count_as_an_editor_does(tmp_path, content, line):
    refusal(write(tmp_path, content), f"line {line}")


def test_short_row_line_after_blank_lines(tmp_path):
    refusal(write(tmp_path, "x,y\r\n\r\n1,2\r\n\r\n3\r\n4,5\r\n"), "line 5: expected 2 fields", "found 1")


def test_duplicate_header_below_blank_lines(tmp_path):
    refusal(write(tmp_path, "\n\nx,x\n1,2\n3,4\n"), 'line 3: the column name "x" appears twice')


def test_first_bad_cell_in_reading_order(tmp_path):
    # Row 3 has a bad cell in the second column, row 4 in the first: row 3 comes first.
    refusal(write(tmp_path, "a,b\n1,2\n3,x\ny,6\n"), 'line 3, column "b"')


def test_long_cell_is_shortened_and_kept_on_one_line(tmp_path):
    message = refusal(write(tmp_path, 'x,y\n1,2\n"' + "z" * 500 + '\nmore",4\n'), 'line 3, column "x"')
    assert len(message) < 150


def test_error_is_found_in_a_large_file(tmp_path):
    path = write(tmp_path, "x,y\n" + "1.5,2.5\n" * 200_000 + "3,-nan\n")
    refusal(path, 'line 200002, column "y": "-nan" is not a finite number')


# --- refusals about the path ------------------------------------------------------------------------------


def test_no_such_file(tmp_path):
    refusal(tmp_path / "missing.csv", "no such file", str(tmp_path))


def test_folder(tmp_path):
    (tmp_path / "folder.csv").mkdir()
    refusal(tmp_path / "folder.csv", "is a folder, not a file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_not_a_regular_file(tmp_path):
    os.mkfifo(tmp_path / "pipe.csv")
    refusal(tmp_path / "pipe.csv", "is not a regular file")


def test_permission_denied(tmp_path, monkeypatch):
    path = write(tmp_path, "x,y\n1,2\n3,4\n", "secret.csv")

    real_open = files.os.open

    def deny(name, *args, **kwargs):
        if os.fspath(name) == str(path):
            raise PermissionError(13, "Permission denied", str(name))
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(files.os, "open", deny)
    refusal(path, "permission denied")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a POSIX user without root rights")
def test_permission_denied_for_real(tmp_path):
    path = write(tmp_path, "x,y\n1,2\n3,4\n", "secret.csv")
    path.chmod(0)
    refusal(path, "permission denied")


def test_other_read_error(tmp_path, monkeypatch):
    path = write(tmp_path, "x,y\n1,2\n3,4\n", "flaky.csv")

    class Flaky(io.BytesIO):
        def read(self, *args):
            raise OSError(5, "Input/output error")

    real_fdopen = files.os.fdopen

    def flaky(fd, *args, **kwargs):
        real_fdopen(fd, *args, **kwargs).close()
        return Flaky()

    monkeypatch.setattr(files.os, "fdopen", flaky)
    refusal(path, "cannot be read (Input/output error)")


# --- refusals about the choice of columns -----------------------------------------------------------------

TABLE = "a,b,c\n1,2,3\n4,5,6\n"


def test_unknown_target(tmp_path):
    refusal(write(tmp_path, TABLE), 'no column "price" (the columns are: a, b, c)', target="price")


def test_unknown_feature(tmp_path):
    refusal(write(tmp_path, TABLE), 'no column "d" (the columns are: a, b, c)', features=["a", "d"])


def test_target_as_feature(tmp_path):
    refusal(write(tmp_path, TABLE), 'the target "c" cannot also be a feature', features=["a", "c"])


def test_feature_chosen_twice(tmp_path):
    refusal(write(tmp_path, TABLE), 'the feature "a" is chosen twice', features=["a", "b", "a"])


def test_no_feature_chosen(tmp_path):
    refusal(write(tmp_path, TABLE), 'no feature left besides the target "c"', features=[])


def test_single_column_leaves_no_feature(tmp_path):
    refusal(write(tmp_path, "y\n1\n2\n"), 'no feature left besides the target "y"')


# --------------------------------------------------------------------------- small tables without pandas
@pytest.mark.parametrize("seed", range(4))
def test_a_small_table_reads_bit_for_bit_as_pandas_reads_it(tmp_path, monkeypatch, seed):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(300, 4)) * 10.0 ** rng.integers(-12, 12, size=(300, 4))
    digits = rng.integers(1, 18, size=values.shape)
    rows = [", ".join(f"{v:.{d}g}" for v, d in zip(row, ds, strict=True)) for row, ds in zip(values, digits,
                                                                                            strict=True)]
    path = tmp_path / "t.csv"
    path.write_text("a,b,c,d\n" + "\n".join(rows) + "\n\n")
    names, plain = data.read_table(path)
    monkeypatch.setattr(data, "SMALL_TABLE_CELLS", 0)  # the same file through pandas
    names_pd, by_pandas = data.read_table(path)
    assert names == names_pd == ["a", "b", "c", "d"]
    assert plain.shape == (300, 4) and np.array_equal(plain, by_pandas)


def test_the_shipped_data_sets_load_without_pandas():
    # pandas takes a quarter of a second to import: the app starts without it.
    import subprocess
    import sys

    code = ("import sys; from fitscope.engine.data import load_builtin; load_builtin('boston-housing'); "
            "load_builtin('download-time'); print('pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("cell", ["١٢", "１", "१", "𝟙", "1e٣"])
def test_digits_other_than_0_to_9_are_refused_by_either_reader(tmp_path, monkeypatch, cell):
    path = tmp_path / "digits.csv"
    path.write_text(f"a,b\n{cell},1\n3,4\n", encoding="utf-8")
    for cells in (data.SMALL_TABLE_CELLS, 0):  # the small tables' reader, then pandas'
        monkeypatch.setattr(data, "SMALL_TABLE_CELLS", cells)
        with pytest.raises(DataError, match=r'line 2, column "a": .* is not a number: write its digits as 0 to 9'):
            read_table(path)
