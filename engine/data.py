"""Data sets: the two built-in ones and the user's own CSV files, as read-only float64 arrays.

This is the only module of the engine that imports pandas. It reads a table, checks everything a user can get
wrong in a file or in a choice of columns, and reports each problem as a :class:`DataError` whose message is
one line naming the file and, where it applies, the line (as a text editor counts, the header being line 1)
and the column.

Accepted in a user file: a UTF-8 byte-order mark, CRLF line endings, quoted names or numbers, spaces around
values, scientific notation, a comma, semicolon or tab separator (sniffed from the header line), and blank
lines. A line holding nothing but separators and spaces counts as blank.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

import numpy as np

from fitscope.engine.files import FileError, read_regular, shown
from fitscope.engine.numbers import prose
from fitscope.engine.settings import LEARNING_RATE_RANGE, MAX_CSV_BYTES, MAX_CSV_LINES, FitSettings

__all__ = [
    "BUILTIN",
    "DataError",
    "Dataset",
    "data_dir",
    "load",
    "load_builtin",
    "load_csv",
    "read_table",
    "table_dataset",
]

BUILTIN: tuple[str, ...] = ("download-time", "boston-housing")

#: Separators tried on the header line, in order of preference on a tie.
_SEPARATORS = (",", ";", "\t")

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)  # (\d: 0-9 only)
_NON_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
#: Digits grouped by threes with one separator (comma, point, apostrophe, space, underscore, no-break spaces).
_GROUPED = re.compile(r"[+-]?\d{1,3}(?P<sep>[,.' _\u00a0\u202f])\d{3}(?:(?P=sep)\d{3})*(?:[.,]\d*)?", re.ASCII)
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+", re.ASCII)

_DOWNLOAD_TIME = {
    "size_mb": "file size in MB",
    "time_sec": "download time in seconds",
}

_BOSTON_HOUSING = {
    "crim": "per-capita crime rate by town",
    "zn": "proportion of residential land zoned for lots over 25,000 sq. ft.",
    "indus": "proportion of non-retail business acres per town",
    "chas": "Charles River dummy variable (1 if the tract bounds the river, 0 otherwise)",
    "nox": "nitric oxides concentration (parts per 10 million)",
    "rm": "average number of rooms per dwelling",
    "age": "proportion of owner-occupied units built before 1940",
    "dis": "weighted distance to five Boston employment centres",
    "rad": "index of accessibility to radial highways",
    "tax": "full-value property-tax rate per $10,000",
    "ptratio": "pupil-teacher ratio by town",
    "lstat": "% lower-status population",
    "medv": "median value of owner-occupied homes in $1000s",
}


class DataError(ValueError):
    """A file or column choice that cannot be used.

    ``str(err)`` is one line naming the file and, where it applies, the line (1-based, as a text editor
    counts, header = line 1) and the column name. Line breaks in the message are replaced by spaces.
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.splitlines()))


@dataclass(frozen=True, eq=False, slots=True)
class Dataset:
    """A data set ready for ``fit()``: training rows, optional test rows, and what the columns mean.

    The arrays are float64, C-contiguous and read-only; arrays passed in are copied unless they already are.
    Equality is identity (the fields hold arrays).

    Attributes
    ----------
    name : str
        ``"download-time"``, ``"boston-housing"``, or the file's name for a user CSV.
    source : str
        The built-in name, or the absolute path of the user file.
    feature_names : tuple of str
    target_name : str
    X_train : ndarray of shape (n_train, n_features)
    y_train : ndarray of shape (n_train,)
    X_test : ndarray of shape (n_test, n_features) or None
        ``None`` for a user CSV.
    y_test : ndarray of shape (n_test,) or None
    descriptions : dict of str to str
        A one-line description of each feature and of the target (``""`` for user files).
    target_unit : str
        ``"s"``, ``"$1000s"``, or ``""`` for user data.
    defaults : FitSettings
        The book's settings for a built-in set; plain SGD settings for a user file.
    """

    name: str
    source: str
    feature_names: tuple[str, ...]
    target_name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray | None
    y_test: np.ndarray | None
    descriptions: dict[str, str]
    target_unit: str
    defaults: FitSettings
    #: Where a default that depends on the data came from (the learning rate of a one-feature file), or "".
    defaults_note: str = ""

    def __post_init__(self) -> None:
        for field in ("X_train", "y_train", "X_test", "y_test"):
            value = getattr(self, field)
            if value is not None:
                object.__setattr__(self, field, _read_only(value))
        if (self.X_test is None) != (self.y_test is None):
            raise DataError(f"{self.name}: X_test and y_test must both be given or both be None")
        pairs = [(self.X_train, self.y_train)]
        if self.X_test is not None and self.y_test is not None:
            pairs.append((self.X_test, self.y_test))
        for X, y in pairs:
            if X.ndim != 2 or X.shape[1] != self.n_features or y.shape != (X.shape[0],):
                raise DataError(
                    f"{self.name}: features of shape {X.shape} and targets of shape {y.shape} do not fit "
                    f"{self.n_features} feature(s)"
                )

    @property
    def n_features(self) -> int:
        """Number of feature columns."""
        return len(self.feature_names)

    @property
    def has_test(self) -> bool:
        """Whether the set comes with test rows."""
        return self.X_test is not None


def data_dir() -> Traversable:
    """The shipped ``data`` package, from a checkout or from an installed wheel."""
    return files("fitscope.data")


def load(
    name_or_path: str | os.PathLike[str],
    target: str | None = None,
    features: Sequence[str] | None = None,
) -> Dataset:
    """Load a built-in data set by name, else a user CSV file by path.

    A built-in name wins over a file of the same name in the current directory (write ``./download-time``
    for the file). For a built-in set, ``features`` picks a subset of its features (in the order given) and
    ``target`` may only name its own target.

    Parameters
    ----------
    name_or_path : str or path-like
        One of :data:`BUILTIN`, or the path of a CSV file.
    target, features
        As for :func:`load_csv`.

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        If the file or the choice of columns cannot be used.
    """
    if isinstance(name_or_path, str) and name_or_path in BUILTIN:
        dataset = load_builtin(name_or_path)
        if target is None and features is None:
            return dataset
        return _select_features(dataset, target, features)
    return load_csv(name_or_path, target, features)


def load_builtin(name: str) -> Dataset:
    """Load one of the shipped data sets, with its train/test split and the book's settings.

    Parameters
    ----------
    name : str
        One of :data:`BUILTIN`.

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        For an unknown name (the message lists the known ones).
    """
    if name == "download-time":
        return _download_time()
    if name == "boston-housing":
        return _boston_housing()
    raise DataError(f"{name}: no built-in data set of that name (known: {', '.join(BUILTIN)})")


def load_csv(
    path: str | os.PathLike[str],
    target: str | None = None,
    features: Sequence[str] | None = None,
) -> Dataset:
    """Load a user's CSV file as training data (no test rows).

    Parameters
    ----------
    path : str or path-like
        The file; ``~`` is expanded.
    target : str, optional
        The column to predict; the last column by default.
    features : sequence of str, optional
        The input columns, in this order; all columns but the target, in file order, by default.
        A single string names a single column.

    Returns
    -------
    Dataset
        ``defaults`` is plain SGD (mse, learning rate 0.01, batch 32, 200 epochs), normalizing the features
        when there is more than one.

    Raises
    ------
    DataError
        If the file cannot be used (see :func:`read_table`), or a column name is unknown, chosen twice,
        chosen both as target and feature, or no feature is left.
    """
    path = Path(path).expanduser()
    names, table = read_table(path)
    return table_dataset(path, names, table, target, features)


def table_dataset(
    path: str | os.PathLike[str],
    names: Sequence[str],
    table: np.ndarray,
    target: str | None = None,
    features: Sequence[str] | None = None,
) -> Dataset:
    """:func:`load_csv` on a table already read by :func:`read_table` (the app reads once, then lets the user
    choose the columns).

    Parameters
    ----------
    path : str or path-like
        The file the table came from: its name and absolute path go into the data set.
    names, table
        As :func:`read_table` returns them.
    target, features
        As for :func:`load_csv`.

    Raises
    ------
    DataError
        If a column name is unknown, chosen twice, chosen both as target and feature, or no feature is left.
    """
    path = Path(path).expanduser()
    names = list(names)
    target_index, feature_indices = _choose_columns(shown(path.name, 60), names, target, features)
    feature_names = tuple(names[i] for i in feature_indices)
    rate, note = 0.01, ""
    if len(feature_indices) == 1:  # no normalization: a rate that suits the data's own scale
        rate, note = _first_rate(table[:, feature_indices[0]], shown(path.name, 60), feature_names[0])
    return Dataset(
        name=path.name,
        source=os.path.abspath(path),
        feature_names=feature_names,
        target_name=names[target_index],
        X_train=table[:, feature_indices],
        y_train=table[:, target_index],
        X_test=None,
        y_test=None,
        descriptions=dict.fromkeys((*feature_names, names[target_index]), ""),
        target_unit="",
        defaults=FitSettings(
            loss="mse",
            optimizer="sgd",
            learning_rate=rate,
            batch_size=32,
            epochs=200,
            normalize=len(feature_indices) > 1,
        ),
        defaults_note=note,
    )


def _first_rate(x: np.ndarray, name: str = "the data", feature: str = "x") -> tuple[float, str]:
    """A learning rate for a one-feature linear model with MSE on ``x``, and a note saying where it comes from.

    Gradient descent on the MSE of a line is stable for rates below 2/λmax, λmax the largest eigenvalue of the
    loss's Hessian ``2/n·ZᵀZ`` (``Z = [x, 1]``). Half of that converges whatever the scale of the numbers
    (mini-batches included: their own λmax is rarely that much larger), where a fixed 0.01 diverges as soon
    as x is in the tens. A :class:`DataError` if ``x`` is so large that no learning rate the app takes is
    stable (its squares overflow, or 2/λmax is below the smallest rate).
    """
    with np.errstate(all="ignore"):
        z = np.column_stack([x, np.ones_like(x)])
        hessian = 2 / len(x) * (z.T @ z)
        lam = float(np.linalg.eigvalsh(hessian)[-1]) if np.isfinite(hessian).all() else math.inf
    if math.isfinite(lam) and lam > 0 and 1 / lam >= LEARNING_RATE_RANGE[0]:
        rate = float(f"{1 / lam:.3g}")  # half of 2/λmax, to three digits (what a person would type)
        return rate, (f"learning rate {prose(rate)}: half the largest stable rate of gradient descent on these rows "
                      f"(2/λmax = {prose(2 / lam)}, λmax the largest curvature of the MSE over kernel and bias)")
    if lam > 0:  # overflowed, or no rate the app takes is small enough
        raise DataError(f"{name}: the feature {feature!r} has values too large to train on in 64-bit floating "
                        f"point (up to {prose(float(np.max(np.abs(x))))}: gradient descent on them is stable only with "
                        f"steps below {LEARNING_RATE_RANGE[0]:g} times the gradient): rescale them")
    return 0.01, ""


def read_table(path: str | os.PathLike[str]) -> tuple[list[str], np.ndarray]:
    """Read a CSV file of numbers under a header of column names, checking everything about the file.

    Parameters
    ----------
    path : str or path-like
        The file; ``~`` is expanded.

    Returns
    -------
    names : list of str
        The column names, stripped of quotes and surrounding spaces.
    table : ndarray of shape (n_rows, n_columns)
        float64, at least two rows.

    Raises
    ------
    DataError
        If the file is missing, unreadable, not a regular file, larger than :data:`MAX_CSV_BYTES` (checked
        before reading), not UTF-8 text, empty, has a header that is missing, numeric, duplicated or has an
        empty name, has rows of unequal length, a field longer than the csv module's limit, a quote that is
        never closed, fewer than two data rows, or a cell that is empty, not a number, NaN or infinite.
    """
    path = Path(path).expanduser()
    name = shown(path.name or str(path), 60)
    try:
        raw = read_regular(path, MAX_CSV_BYTES, name=name)
    except FileError as err:
        raise DataError(str(err)) from None
    return _parse_table(raw, name)


def _parse_table(raw: bytes, name: str) -> tuple[list[str], np.ndarray]:
    """:func:`read_table` on the bytes of a file called ``name``."""
    lines = raw.count(b"\n") + (not raw.endswith(b"\n")) if raw else 0
    if lines > MAX_CSV_LINES:
        raise DataError(f"{name}: has {lines:,} lines, more than the {MAX_CSV_LINES:,} fitscope reads")
    text = _decode(raw, name)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    sep = _sniff_separator(text)
    # Blank out the lines that hold only separators and spaces (a "\n" is put in front for the first line).
    blank = re.compile(rf"\n[ \t{re.escape(sep)}]+(?=\n|\Z)")
    text = blank.sub("\n", "\n" + text)[1:]

    lines = text.split("\n")
    reader = csv.reader(lines, delimiter=sep, skipinitialspace=True)
    try:
        header_record, header = next(((i, row) for i, row in enumerate(reader) if row), (0, []))
        if not header:
            raise DataError(f"{name}: the file is empty")
        # Field count of every record after the header; 0 for a blank line.
        lengths = np.fromiter(map(len, reader), dtype=np.intp)
    except csv.Error as err:
        raise DataError(f"{name}: line {reader.line_num}: {_csv_problem(err)}") from None
    if header_record + 1 + lengths.size != reader.line_num:  # a quoted field ran over a line break
        _unclosed_quote(lines, sep, name)

    names = [column.strip() for column in header]
    _check_header(names, name, _line_of(lines, sep, header_record))
    rows = np.flatnonzero(lengths)
    wrong = np.flatnonzero((lengths != len(names)) & (lengths != 0))
    if rows.size < 2 or wrong.size:
        _unclosed_quote(lines, sep, name)  # the likeliest cause, and then the line to name
    if rows.size < 2:
        found = "no data rows below the header" if rows.size == 0 else "only 1 data row"
        raise DataError(f"{name}: {found}; at least 2 are needed")
    if wrong.size:
        line = _line_of(lines, sep, header_record + 1 + wrong[0])
        raise DataError(
            f"{name}: line {line}: expected {_fields(len(names))} as in the header, found {lengths[wrong[0]]}"
        )

    return names, _numbers(text, lines, sep, names, header_record + 1 + rows, name)


def _csv_problem(err: csv.Error) -> str:
    """What a :class:`csv.Error` means, for people."""
    if "field limit" in str(err):
        return (f"a field is longer than {csv.field_size_limit():,} characters, which no CSV of numbers holds "
                "(is a quote missing, or is this not a CSV file?)")
    return str(err)


def _unclosed_quote(lines: list[str], sep: str, name: str) -> None:
    """Raise a :class:`DataError` naming the line of a quote that is never closed, if there is one (the
    reader then swallows the rest of the file into one field); return if the quoted fields that run over
    line breaks are all closed (their cells are then reported as they are)."""
    reader = csv.reader(lines, delimiter=sep, skipinitialspace=True, strict=True)
    start = 1
    try:
        for _ in reader:
            start = reader.line_num + 1
    except csv.Error as err:
        if "unexpected end of data" in str(err):
            raise DataError(f"{name}: line {start}: a quote opened on this line is never closed") from None


def _decode(raw: bytes, name: str) -> str:
    """The text of a UTF-8 file (with or without a byte-order mark), or a :class:`DataError`."""
    not_utf8 = f"{name}: not a UTF-8 text file"
    if raw.startswith(b"PK\x03\x04"):
        raise DataError(f"{not_utf8} (it looks like a ZIP or Excel file; save it as CSV UTF-8)")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError(f"{not_utf8} (it is UTF-16; save it as CSV UTF-8)")
    if b"\x00" in raw:
        raise DataError(f"{not_utf8} (it contains NUL bytes, so it is probably binary)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise DataError(
            f"{not_utf8} (line {line} has the byte 0x{raw[err.start]:02x}, which is not UTF-8; "
            "save it as CSV UTF-8)"
        ) from err


def _sniff_separator(text: str) -> str:
    """The separator that splits the header line into the most fields; comma on a tie.

    The header line is the first line holding something other than spaces and separators.
    """
    header = re.search(r"(?m)^.*[^\s,;].*$", text)
    line = header.group() if header else ""

    def fields(sep: str) -> int:
        try:
            return len(next(csv.reader([line], delimiter=sep)))
        except csv.Error:  # a field over the csv module's limit: reported, with its line, by the real reading
            return 0

    return max(_SEPARATORS, key=fields)


def _check_header(names: list[str], name: str, line: int) -> None:
    """Raise a :class:`DataError` unless ``names`` (from ``line``) are usable column names."""
    if all(_NUMBER.fullmatch(column) for column in names):
        raise DataError(
            f"{name}: line {line} holds numbers, not column names: the first line must hold the column names"
        )
    seen: dict[str, int] = {}
    for number, column in enumerate(names, start=1):
        if not column:
            raise DataError(f"{name}: line {line}: column {number} has no name")
        if column in seen:
            raise DataError(
                f"{name}: line {line}: the column name {_quote(column)} appears twice "
                f"(columns {seen[column]} and {number})"
            )
        seen[column] = number


def _line_of(lines: list[str], sep: str, record: int) -> int:
    """The line (1-based) on which CSV record number ``record`` (0-based, blank lines included) starts."""
    reader = csv.reader(lines, delimiter=sep, skipinitialspace=True)
    for _ in itertools.islice(reader, record):
        pass
    return reader.line_num + 1


#: Tables of at most this many cells are read without pandas when every cell is a plain decimal number.
SMALL_TABLE_CELLS = 100_000


def _plain_numbers(lines: list[str], sep: str, records: np.ndarray, shape: tuple[int, int]) -> np.ndarray | None:
    """The data cells as a float64 matrix if every one is a plain, finite decimal number of digits 0 to 9, else
    None (pandas then reads them, and names a bad cell). The values are pandas' for the columns it reads as numbers
    (both round correctly; "-0" stays a negative zero here); in a column pandas first takes for text, its reading
    can be one unit off in the last place, and this one is the correctly rounded number."""
    rows = list(csv.reader(lines, delimiter=sep, skipinitialspace=True))
    cells = [cell for record in records.tolist() for cell in rows[record]]
    if len(cells) != shape[0] * shape[1] or not all(map(_NUMBER.fullmatch, cells)):
        return None
    values = np.array(list(map(float, cells)), dtype=np.float64).reshape(shape)
    return values if np.isfinite(values).all() else None


def _numbers(
    text: str, lines: list[str], sep: str, names: list[str], records: np.ndarray, name: str
) -> np.ndarray:
    """The data cells of ``text`` as a float64 matrix, or a :class:`DataError` for the first bad cell.

    ``lines`` is ``text`` split into lines and ``records`` the CSV record number of each data row.
    The fast path lets pandas parse the numbers; only when that fails, or yields a non-finite value, are the
    cells read as text and converted column by column to find the first bad cell (in reading order).
    """
    shape = (records.size, len(names))
    if shape[0] * shape[1] <= SMALL_TABLE_CELLS and '"' not in text:  # (no quotes: a record is a line)
        values = _plain_numbers(lines, sep, records, shape)
        if values is not None:
            return values
    import pandas as pd  # here: reading the shipped data (and any small table) needs no pandas, nor its 0.25 s

    options = {"sep": sep, "header": 0, "skipinitialspace": True, "na_filter": False, "low_memory": False}
    try:
        frame = pd.read_csv(io.BytesIO(text.encode()), **options)
        if frame.shape == shape and all(dtype.kind in "iuf" for dtype in frame.dtypes):
            values = frame.to_numpy(dtype=np.float64)
            if np.isfinite(values).all():
                return values
        cells = pd.read_csv(io.BytesIO(text.encode()), dtype=str, **options)
    except ValueError as err:
        raise DataError(f"{name}: cannot be read as a table ({err})") from err
    if cells.shape != shape:
        raise DataError(f"{name}: cannot be read as a table (the rows do not line up with the header)")
    values = np.column_stack(
        [pd.to_numeric(cells.iloc[:, j], errors="coerce").to_numpy(dtype=np.float64) for j in range(shape[1])]
    )
    bad = ~np.isfinite(values)
    if not bad.any():
        return values
    row = int(np.flatnonzero(bad.any(axis=1))[0])
    column = int(np.flatnonzero(bad[row])[0])
    raise DataError(
        f"{name}: line {_line_of(lines, sep, int(records[row]))}, column {_quote(names[column])}: "
        f"{_cell_problem(cells.iat[row, column])}"
    )


def _cell_problem(cell: str) -> str:
    """Why the text of a cell is not a usable number, as the end of a sentence."""
    text = cell.strip()
    if not text:
        return "the cell is empty"
    shown = _quote(text)
    if _NON_FINITE.fullmatch(text):
        return f"{shown} is not a finite number (NaN and infinity are not allowed)"
    if _NUMBER.fullmatch(text):
        return f"{shown} is out of the range of 64-bit floating point"
    if any(ch.isdigit() and not "0" <= ch <= "9" for ch in text):
        return f"{shown} is not a number: write its digits as 0 to 9"
    if _GROUPED.fullmatch(text):
        return f"{shown} is not a number: thousands separators are not supported"
    if _DECIMAL_COMMA.fullmatch(text):
        return f"{shown} is not a number: decimal commas are not supported (write {text.replace(',', '.')})"
    return f"{shown} is not a number"


def _some(names: Sequence[str], limit: int = 12) -> str:
    """``names`` joined with commas, each shortened, the list cut after ``limit`` with "…and N more"."""
    shown_names = [_column_name(n) for n in names[:limit]]
    more = f", …and {len(names) - limit:,} more" if len(names) > limit else ""
    return ", ".join(shown_names) + more


def _column_name(name: str) -> str:
    """A column name in a list, as ``--features`` takes it: CSV-quoted if it holds a comma or a quote."""
    if len(name) > 40 or not name.isprintable():
        return _quote(name)
    if "," in name or '"' in name:
        return '"' + name.replace('"', '""') + '"'
    return name


def _quote(text: str, limit: int = 40) -> str:
    """``text`` in double quotes, escaped to one line and shortened to about ``limit`` characters."""
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return json.dumps(text, ensure_ascii=False)


def _read_only(array: np.ndarray) -> np.ndarray:
    """``array`` as a float64, C-contiguous, read-only array; copied unless it already is one."""
    array = np.asarray(array)
    if array.dtype == np.float64 and array.flags.c_contiguous and not array.flags.writeable:
        return array
    array = np.array(array, dtype=np.float64, order="C")
    array.flags.writeable = False
    return array


def _choose_columns(
    name: str, names: Sequence[str], target: str | None, features: Sequence[str] | None
) -> tuple[int, list[int]]:
    """Indices of the target and of the features in ``names``; defaults: the last column, all others."""
    listed = f"(the columns are: {_some(names)})"

    def index(column: str) -> int:
        if column not in names:
            raise DataError(f"{name}: no column {_quote(column)} {listed}")
        return names.index(column)

    target_index = len(names) - 1 if target is None else index(target)
    if features is None:
        feature_indices = [i for i in range(len(names)) if i != target_index]
    else:
        chosen = [features] if isinstance(features, str) else list(features)
        feature_indices = [index(column) for column in chosen]
        if target_index in feature_indices:
            raise DataError(f"{name}: the target {_quote(names[target_index])} cannot also be a feature")
        for column in chosen:
            if chosen.count(column) > 1:
                raise DataError(f"{name}: the feature {_quote(column)} is chosen twice")
    if not feature_indices:
        raise DataError(f"{name}: no feature left besides the target {_quote(names[target_index])}")
    return target_index, feature_indices


def _select_features(dataset: Dataset, target: str | None, features: Sequence[str] | None) -> Dataset:
    """A built-in ``dataset`` restricted to ``features``; ``target`` may only name its own target."""
    names = (*dataset.feature_names, dataset.target_name)
    target_index, indices = _choose_columns(dataset.name, names, target, features)
    if target_index != len(names) - 1:
        raise DataError(
            f"{dataset.name}: the target of this built-in data set is {_quote(dataset.target_name)}"
        )
    feature_names = tuple(names[i] for i in indices)
    return replace(
        dataset,
        feature_names=feature_names,
        X_train=dataset.X_train[:, indices],
        X_test=None if dataset.X_test is None else dataset.X_test[:, indices],
        descriptions={n: dataset.descriptions[n] for n in (*feature_names, dataset.target_name)},
    )


def _read_builtin(set_name: str, file_name: str, columns: Sequence[str]) -> np.ndarray:
    """The table of one shipped file, after checking that its header is ``columns``."""
    try:
        raw = (data_dir() / set_name / file_name).read_bytes()
    except OSError as err:
        raise DataError(f"{file_name}: missing from the built-in data set {set_name} ({err})") from err
    names, table = _parse_table(raw, file_name)
    if names != list(columns):
        raise DataError(f"{file_name}: expected the columns {', '.join(columns)}, found {', '.join(names)}")
    return table


def _download_time() -> Dataset:
    """The download-time data of *Deep Learning with JavaScript*, Listing 2.1."""
    columns = list(_DOWNLOAD_TIME)
    train = _read_builtin("download-time", "train.csv", columns)
    test = _read_builtin("download-time", "test.csv", columns)
    return Dataset(
        name="download-time",
        source="download-time",
        feature_names=("size_mb",),
        target_name="time_sec",
        X_train=train[:, :1],
        y_train=train[:, 1],
        X_test=test[:, :1],
        y_test=test[:, 1],
        descriptions=dict(_DOWNLOAD_TIME),
        target_unit="s",
        defaults=FitSettings(
            loss="mae",
            optimizer="sgd",
            learning_rate=0.01,
            batch_size=32,
            epochs=200,
            validation_split=0.0,
            normalize=False,
        ),
    )


def _boston_housing() -> Dataset:
    """The Boston Housing split of tfjs-examples (333 training rows, 173 test rows, 12 features)."""
    features = list(_BOSTON_HOUSING)[:-1]
    return Dataset(
        name="boston-housing",
        source="boston-housing",
        feature_names=tuple(features),
        target_name="medv",
        X_train=_read_builtin("boston-housing", "train-data.csv", features),
        y_train=_read_builtin("boston-housing", "train-target.csv", ["medv"])[:, 0],
        X_test=_read_builtin("boston-housing", "test-data.csv", features),
        y_test=_read_builtin("boston-housing", "test-target.csv", ["medv"])[:, 0],
        descriptions=dict(_BOSTON_HOUSING),
        target_unit="$1000s",
        defaults=FitSettings(
            loss="mse",
            optimizer="sgd",
            learning_rate=0.01,
            batch_size=40,
            epochs=200,
            validation_split=0.2,
            normalize=True,
            shuffle_data=True,
        ),
    )


def _fields(n: int) -> str:
    return "1 field" if n == 1 else f"{n} fields"
