"""Files a run leaves behind: the history and trace CSVs, and atomic writes.

One format for the CLI (``--history``, ``--trace``) and the app (File > Export):

- history: ``epoch,loss,val_loss``, one row per epoch (``val_loss`` empty without a validation split);
- trace: ``step,epoch,batch,loss,<parameter names>``; row 0 holds the initial parameters (step 0, epoch 0,
  batch and loss empty), row ``s`` the parameters after update ``s``, its epoch (1-based), batch (0-based)
  and the batch's loss before the update.

Numbers are written in full (``repr``), so they read back bit for bit.

Every file is written atomically: into a temporary file in the destination's folder, flushed to disk, then
moved onto the destination with :func:`os.replace`. A crash or a full disk leaves the old file (or none),
never half a file.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Sequence
from typing import TextIO

import numpy as np

HISTORY_HEADER = ("epoch", "loss", "val_loss")


class ExportError(OSError):
    """A file could not be written; the message is one line for the user (``cannot write PATH: why``)."""


def full(x: float) -> str:
    """A float for files: the shortest text that reads back to the same float64."""
    return repr(float(x))


def history_row(epoch: int, loss: float, val_loss: float | None) -> list[str]:
    return [str(int(epoch)), full(loss), "" if val_loss is None else full(val_loss)]


def trace_header(param_names: Sequence[str]) -> list[str]:
    return ["step", "epoch", "batch", "loss", *param_names]


def trace_start_row(params: np.ndarray) -> list[str]:
    """Row 0: the initial parameters."""
    return ["0", "0", "", "", *map(full, np.asarray(params, dtype=np.float64).tolist())]


def trace_row(step: int, epoch: int, batch: int, loss: float, params: np.ndarray) -> list[str]:
    """Row ``step``: the parameters after that update."""
    return [str(int(step)), str(int(epoch)), str(int(batch)), full(loss),
            *map(full, np.asarray(params, dtype=np.float64).tolist())]


def _reason(path: str | os.PathLike[str], e: OSError) -> ExportError:
    folder = os.path.dirname(os.path.abspath(path))
    why = f"the folder {folder} does not exist" if not os.path.isdir(folder) else (e.strerror or str(e))
    return ExportError(f"cannot write {os.fspath(path)}: {why}")


def _temp_path(path: str | os.PathLike[str]) -> str:
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{name}.{os.getpid()}.tmp")


def _check_destination(path: str | os.PathLike[str]) -> None:
    if os.path.isdir(path):
        raise ExportError(f"cannot write {os.fspath(path)}: it is a folder")


def _commit(tmp: str, path: str | os.PathLike[str]) -> None:
    """Move the finished ``tmp`` onto ``path`` (deleting ``tmp`` if that fails)."""
    try:
        os.replace(tmp, path)
    except OSError as e:
        _unlink(tmp)
        raise _reason(path, e) from None
    _sync_folder(path)


def _unlink(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass


def _sync_folder(path: str | os.PathLike[str]) -> None:
    """Make the rename itself durable (where the system allows opening a folder)."""
    try:
        fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike[str], data: bytes | str) -> None:
    """Write ``data`` (text is UTF-8) to ``path`` atomically; :class:`ExportError` if it cannot be written."""
    _check_destination(path)
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    tmp = _temp_path(path)
    try:
        with open(tmp, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        _unlink(tmp)
        raise _reason(path, e) from None
    except BaseException:
        _unlink(tmp)
        raise
    _commit(tmp, path)


class AtomicCsv:
    """A CSV file written row by row into a temporary file beside ``path``, moved onto it by :meth:`commit`.

    Opening it creates the temporary file, so an unwritable destination is found before any work is done.
    """

    def __init__(self, path: str | os.PathLike[str], header: Sequence[str]) -> None:
        self.path = path
        _check_destination(path)
        self._tmp = _temp_path(path)
        try:
            self._file: TextIO = open(self._tmp, "w", newline="", encoding="utf-8")
        except OSError as e:
            raise _reason(path, e) from None
        self.write(header)

    def write(self, cells: Sequence[str]) -> None:
        self._file.write(",".join(cells) + "\n")

    def commit(self) -> None:
        """Flush the file to disk, close it and move it onto ``path``."""
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
        except OSError as e:
            self.discard()
            raise _reason(self.path, e) from None
        _commit(self._tmp, self.path)

    def discard(self) -> None:
        """Close and delete the temporary file (``path`` is left as it was)."""
        try:
            self._file.close()
        except OSError:
            pass
        _unlink(self._tmp)


def write_csv(path: str | os.PathLike[str], header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """A whole CSV file, atomically."""
    out = AtomicCsv(path, header)
    try:
        for row in rows:
            out.write(row)
    except BaseException:
        out.discard()
        raise
    out.commit()


def write_history(path: str | os.PathLike[str], epochs: np.ndarray, has_validation: bool) -> None:
    """The history CSV from epoch rows ``(epoch, step, loss, val_loss, …)`` (shape (n_epochs, ≥ 4))."""
    epochs = np.asarray(epochs, dtype=np.float64)
    rows = (history_row(int(e[0]), e[2], e[3] if has_validation else None) for e in epochs)
    write_csv(path, HISTORY_HEADER, rows)


def step_positions(n_steps: int, epoch_steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The epoch (1-based) and batch within it (0-based) of updates 1 … ``n_steps``.

    ``epoch_steps[k]`` is the number of updates done when epoch k + 1 ended (increasing); updates after the
    last epoch end belong to the epoch under way.
    """
    steps = np.arange(1, n_steps + 1)
    ends = np.asarray(epoch_steps, dtype=np.int64)
    epoch = np.searchsorted(ends, steps, side="left")  # epochs ended before this update
    first = np.concatenate([[0], ends])[epoch]  # updates done when this update's epoch began
    return epoch + 1, steps - first - 1


def write_trace(path: str | os.PathLike[str], param_names: Sequence[str], params: np.ndarray,
                batch_loss: np.ndarray, epoch_steps: np.ndarray) -> None:
    """The trace CSV from a trajectory: ``params`` (steps + 1, n_params), row 0 the start; ``batch_loss``
    (steps,); ``epoch_steps`` the update count at each epoch's end."""
    params = np.asarray(params, dtype=np.float64)
    n = len(params) - 1
    epoch, batch = step_positions(n, epoch_steps)
    rows = (trace_row(s, epoch[s - 1], batch[s - 1], batch_loss[s - 1], params[s]) for s in range(1, n + 1))
    write_csv(path, trace_header(param_names), itertools.chain([trace_start_row(params[0])], rows))
