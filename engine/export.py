"""Every file fitscope writes: the history and trace CSVs, and one careful writer for all of them.

One format for the CLI (``--history``, ``--trace``) and the app (File > Export):

- history: ``epoch,loss,val_loss``, one row per epoch (``val_loss`` empty without a validation split);
- trace: ``step,epoch,batch,loss,<parameter names>``; row 0 holds the initial parameters (step 0, epoch 0,
  batch and loss empty), row ``s`` the parameters after update ``s``, its epoch (1-based), batch (0-based)
  and the batch's loss before the update.

Numbers are written in full (``repr``), so they read back bit for bit.

The writer (:class:`Outputs` for the files of one run, :func:`atomic_write` and :func:`write_csv` for one):

- refuses, before writing anything, a destination that is one of the run's inputs or another output of
  the same run (same real path, or the same file under another name: a hard or symbolic link), a folder,
  a FIFO, a device or a socket (``/dev/null``, ``/dev/stdout``, anything in ``/dev`` or ``/proc``: only
  regular files are written), the file standard output or error goes to, a path
  whose folder is missing or is a file (``afile/h.csv``), a name over the system's limit (255 bytes) and a
  name holding a line break or another control character;
- writes through a symbolic link to its target (the link stays a link);
- writes into a unique temporary file beside the target (``.NAME.RANDOM.tmp``, created exclusively), flushed
  to disk, then renamed onto it; the temporary file is removed on every exit it can see (an error, an
  exception, Ctrl-C or SIGTERM turned into an exception by :mod:`engine.interrupts`, the end of the process);
- keeps the old file whole whenever the new one is not complete, and its permissions when it is replaced;
- commits several outputs all or nothing: every temporary file is written completely first, then all are
  renamed, with signals held off meanwhile; should a rename fail in between, the message says which files
  were written and which were left as they were.

Every failure is an :class:`ExportError`, one line: ``cannot write PATH: why`` (a full disk, a read-only
folder, a permission problem, as the system says it).
"""

from __future__ import annotations

import atexit
import errno
import itertools
import os
import secrets
import stat
import threading
from collections.abc import Iterable, Sequence
from typing import TextIO

import numpy as np

from . import interrupts
from .files import file_kind, shown

HISTORY_HEADER = ("epoch", "loss", "val_loss")

#: How long a path may be in a message before its middle is cut.
_SHOWN = 160


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


def trace_row(step: int, epoch: int, batch: int, loss: float | str, params: np.ndarray) -> list[str]:
    """Row ``step``: the parameters after that update (``loss`` "" when it is not known)."""
    return [str(int(step)), str(int(epoch)), str(int(batch)), loss if isinstance(loss, str) else full(loss),
            *map(full, np.asarray(params, dtype=np.float64).tolist())]


# --------------------------------------------------------------------------- temporary files, cleaned up
_live: set[str] = set()
_live_lock = threading.Lock()


def _forget(tmp: str) -> None:
    with _live_lock:
        _live.discard(tmp)


def _unlink(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass
    _forget(tmp)


@atexit.register
def _remove_leftovers() -> None:
    """Remove the temporary files of writes that never finished (the process is ending)."""
    with _live_lock:
        left = list(_live)
    for tmp in left:
        _unlink(tmp)


# --------------------------------------------------------------------------- checking a destination
def _name_max(folder: str) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return 255


def _why(path: str, err: OSError) -> str:
    """Why ``path`` cannot be written, from ``err``, as the end of ``cannot write PATH: …``."""
    if err.errno in (errno.ENOENT, errno.ENOTDIR):
        folder = os.path.dirname(os.path.abspath(path))
        existing = folder
        while existing and not os.path.lexists(existing):
            parent = os.path.dirname(existing)
            if parent == existing:
                break
            existing = parent
        if existing and os.path.lexists(existing) and not os.path.isdir(existing):
            return f"{shown(existing, _SHOWN)} is a file, not a folder"
        if not os.path.isdir(folder):
            return f"the folder {shown(folder, _SHOWN)} does not exist"
    if err.errno == errno.ENAMETOOLONG:
        size = len(os.fsencode(os.path.basename(path)))
        return f"the file name is too long ({size} bytes)" if size > 255 else "the path is too long"
    if err.errno == errno.ELOOP:
        return "too many levels of symbolic links"
    return err.strerror or str(err)


def _error(path: str, why: str) -> ExportError:
    return ExportError(f"cannot write {shown(path, _SHOWN)}: {why}")


def _stream_of(info: os.stat_result) -> str:
    """ "standard output" or "standard error" if the file of ``info`` is where that stream goes (replacing it
    would pull the file from under the stream), else ""."""
    for fd, name in ((1, "standard output"), (2, "standard error")):
        try:
            other = os.fstat(fd)
        except OSError:
            continue
        if (other.st_dev, other.st_ino) == (info.st_dev, info.st_ino):
            return name
    return ""


def _same(a: str, b: str) -> bool:
    """Whether the paths ``a`` and ``b`` name one file (its real path, or the same file where both exist)."""
    if os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b)):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


class Destination:
    """A checked place to write to: ``path`` as given, ``target`` the real path written (links followed).

    Raises :class:`ExportError` if ``path`` cannot be written (see the module's documentation); ``inputs``
    are the files the run reads, ``taken`` the destinations of the run's other outputs, as ``(path,
    label)`` pairs.
    """

    def __init__(self, path: str | os.PathLike[str], *, inputs: Iterable[str | os.PathLike[str]] = (),
                 taken: Iterable[tuple[Destination, str]] = ()) -> None:
        given = os.fspath(path)
        if isinstance(given, bytes):
            given = os.fsdecode(given)
        self.path = given
        if not given:
            raise ExportError("cannot write '': no file name given")
        if any(ch < " " or "\x7f" <= ch <= "\x9f" for ch in given):
            raise _error(given, "the name holds a line break or another control character")
        if given.endswith((os.sep, "/", os.sep + ".", os.sep + "..")) or given in (".", ".."):
            raise _error(given, "it names a folder, not a file")
        expanded = os.path.expanduser(given)
        self.target = target = os.path.realpath(expanded)
        for place in (os.path.abspath(expanded), target):
            if os.name == "posix" and (os.path.dirname(place) == "/dev" or place.startswith("/proc/")):
                # /dev/stdout is a link to /proc/self/fd/1, which may be a link to the file a shell redirects
                # to: replacing that file would pull it from under the shell. (/dev/shm/… is a folder of files.)
                where = "/dev" if os.path.dirname(place) == "/dev" else "/proc"
                raise _error(given, f"it is in {where}, a device or a stream, and only regular files are written")
        self.mode: int | None = None  # the permissions of the file replaced, if any
        try:
            info = os.stat(target)
        except FileNotFoundError:
            info = None
        except OSError as err:
            raise _error(given, _why(target, err)) from None
        if info is not None:
            if stat.S_ISDIR(info.st_mode):
                raise _error(given, "it is a folder")
            if not stat.S_ISREG(info.st_mode):
                raise _error(given, f"it is {file_kind(info.st_mode)}, and only regular files are written")
            stream = _stream_of(info)
            if stream:
                raise _error(given, f"it is where the {stream} goes")
            self.mode = stat.S_IMODE(info.st_mode)
        self.folder = folder = os.path.dirname(target)
        try:
            folder_info = os.stat(folder)
        except OSError as err:
            raise _error(given, _why(target, err)) from None
        if not stat.S_ISDIR(folder_info.st_mode):
            raise _error(given, f"{shown(folder, _SHOWN)} is a file, not a folder")
        name = os.path.basename(target)
        size, limit = len(os.fsencode(name)), _name_max(folder)
        if size > limit:
            raise _error(given, f"the file name is too long ({size} bytes; the system allows {limit})")
        self.name_max = limit
        for source in inputs:
            source = os.path.expanduser(os.fspath(source))
            if _same(expanded, source):
                raise _error(given, f"it is {shown(os.path.basename(source), 60)}, the file this run reads")
        for other, label in taken:
            if _same(expanded, other.path) or _same(target, other.target):
                raise _error(given, f"it is also {label} of this run")

    def __repr__(self) -> str:
        return f"Destination({self.path!r})"


# --------------------------------------------------------------------------- one output
class Output:
    """One file being written: a temporary file beside its destination, renamed onto it by :meth:`commit`.

    Creating it checks the destination (:class:`Destination`) and creates the temporary file, so that an
    unwritable destination is found before any work is done. Write text with :meth:`write` (or CSV rows
    with :meth:`write_row`); :meth:`commit` puts the file in place, :meth:`discard` drops it.
    """

    def __init__(self, path: str | os.PathLike[str], *, inputs: Iterable[str | os.PathLike[str]] = (),
                 taken: Iterable[tuple[Destination, str]] = (), label: str | None = None) -> None:
        self.destination = Destination(path, inputs=inputs, taken=taken)
        self.path = self.destination.path
        self.label = label or shown(os.path.basename(self.path) or self.path, 60)
        self.role = f"the output {self.label}"
        self.state = "open"  # then "finished" (complete on disk), "committed" or "discarded"
        interrupts.hold()  # the temporary file is made and registered for removal in one piece
        try:
            self._tmp, self._file = self._create()
        finally:
            interrupts.release()

    @property
    def temporary(self) -> str:
        """The temporary file this output is written into until it is put in place."""
        return self._tmp

    def _create(self) -> tuple[str, TextIO]:
        d = self.destination
        name = os.fsencode(os.path.basename(d.target))
        room = max(1, d.name_max - len(".") - len(".12345678.tmp"))
        stem = os.fsdecode(name[:room]) if len(name) > room else os.fsdecode(name)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
        for _ in range(100):
            tmp = os.path.join(d.folder, f".{stem}.{secrets.token_hex(4)}.tmp")
            with _live_lock:
                try:
                    fd = os.open(tmp, flags, 0o666)
                except FileExistsError:
                    continue
                except UnicodeEncodeError:  # a name cut inside a character: cut it shorter
                    stem = stem[:-1]
                    continue
                except OSError as err:
                    raise _error(self.path, _why(d.target, err)) from None
                _live.add(tmp)
            try:
                return tmp, open(fd, "w", newline="", encoding="utf-8")
            except BaseException:
                os.close(fd)
                _unlink(tmp)
                raise
        raise _error(self.path, "no temporary file could be made beside it")

    def write(self, text: str) -> None:
        """Append ``text`` (UTF-8) to the file; a signal (:mod:`engine.interrupts`) never cuts it short."""
        interrupts.hold()
        try:
            self._file.write(text)
        except OSError as err:
            self.discard()
            raise _error(self.path, _why(self.destination.target, err)) from None
        finally:
            interrupts.release()

    def write_bytes(self, raw: bytes) -> None:
        """Append ``raw`` bytes (a picture) to the file."""
        try:
            self._file.flush()
            self._file.buffer.write(raw)
        except OSError as err:
            self.discard()
            raise _error(self.path, _why(self.destination.target, err)) from None
        except BaseException:
            self.discard()
            raise

    def write_row(self, cells: Sequence[str]) -> None:
        """Append one CSV row (cells already formatted, holding no separator or quote)."""
        self.write(",".join(cells) + "\n")

    def finish(self) -> None:
        """Write everything to disk and close the temporary file (the destination is not touched yet)."""
        if self.state != "open":
            return
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
        except OSError as err:
            self.discard()
            raise _error(self.path, _why(self.destination.target, err)) from None
        except BaseException:
            self.discard()
            raise
        self.state = "finished"

    def put_in_place(self) -> None:
        """Rename the finished temporary file onto the destination (keeping the old file's permissions)."""
        if self.state != "finished":
            raise _error(self.path, "it was not written completely")
        d = self.destination
        if d.mode is not None:
            try:
                os.chmod(self._tmp, d.mode)
            except OSError:
                pass
        try:
            os.replace(self._tmp, d.target)
        except OSError as err:
            self.discard()
            raise _error(self.path, _why(d.target, err)) from None
        _forget(self._tmp)
        self.state = "committed"
        _sync_folder(d.folder)

    def commit(self) -> None:
        """:meth:`finish`, then :meth:`put_in_place`, with signals held off (see :mod:`engine.interrupts`)."""
        with interrupts.deferred():
            self.finish()
            self.put_in_place()

    def discard(self) -> None:
        """Close and delete the temporary file (the destination is left as it was)."""
        if self.state in ("committed", "discarded"):
            return
        self.state = "discarded"
        try:
            self._file.close()
        except OSError:
            pass
        _unlink(self._tmp)


def _sync_folder(folder: str) -> None:
    """Make a rename durable (where the system allows opening a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- the outputs of one run
def _names(outputs: Sequence[Output]) -> str:
    names = [o.label for o in outputs]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


class Outputs:
    """The files one run writes, committed all or nothing.

    Parameters
    ----------
    inputs : paths
        The files the run reads: no output may be one of them.

    Use :meth:`open` for each file (checked against the inputs and the outputs opened before), write, then
    :meth:`commit` once; :meth:`discard` (also on leaving a ``with`` block with an exception) drops every
    temporary file and leaves every destination as it was.
    """

    def __init__(self, inputs: Iterable[str | os.PathLike[str]] = ()) -> None:
        self.inputs = [os.fspath(p) for p in inputs]
        self.files: list[Output] = []
        self.state = "open"

    def open(self, path: str | os.PathLike[str], label: str | None = None, role: str | None = None) -> Output:
        """A new output at ``path``; ``label`` names it in messages (its file name by default), ``role`` says
        what it is when another output would overwrite it ("the --history file"; "the output LABEL")."""
        taken = [(o.destination, o.role) for o in self.files]
        output = Output(path, inputs=self.inputs, taken=taken, label=label)
        output.role = role or f"the output {output.label}"
        self.files.append(output)
        return output

    def csv(self, path: str | os.PathLike[str], header: Sequence[str] | None = None,
            label: str | None = None, role: str | None = None) -> Output:
        """:meth:`open`, then the CSV ``header`` row if one is given."""
        output = self.open(path, label, role)
        if header is not None:
            output.write_row(header)
        return output

    @property
    def names(self) -> str:
        """The outputs' labels, for a sentence: ``h.csv``, ``h.csv and t.csv``."""
        return _names(self.files)

    def commit(self) -> None:
        """Finish every file, then rename them all into place, with signals held off.

        :class:`ExportError` if one cannot be written: when several are written, its message ends with
        what became of them (nothing was written; or which were written and which left as they were).
        """
        if self.state != "open":
            return
        with interrupts.deferred():
            try:
                for output in self.files:
                    output.finish()
            except ExportError as err:
                self.discard()
                raise ExportError(f"{err} (nothing was written)" if len(self.files) > 1 else str(err)) from None
            except BaseException:
                self.discard()
                raise
            done: list[Output] = []
            for i, output in enumerate(self.files):
                try:
                    output.put_in_place()
                except ExportError as err:
                    rest = self.files[i:]
                    self.discard()
                    self.state = "partial" if done else "discarded"
                    if len(self.files) == 1:
                        raise
                    if not done:
                        raise ExportError(f"{err} (nothing was written)") from None
                    raise ExportError(f"{err} ({_names(done)} {'was' if len(done) == 1 else 'were'} written, "
                                      f"{_names(rest)} left as {'it was' if len(rest) == 1 else 'they were'})"
                                      ) from None
                done.append(output)
            self.state = "committed"

    def discard(self) -> None:
        """Drop every temporary file not yet in place; the destinations stay as they were."""
        for output in self.files:
            output.discard()
        if self.state == "open":
            self.state = "discarded"

    def __enter__(self) -> Outputs:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is not None:
            self.discard()


# --------------------------------------------------------------------------- whole files at once
def atomic_write(path: str | os.PathLike[str], data: bytes | str, *,
                 inputs: Iterable[str | os.PathLike[str]] = ()) -> None:
    """Write ``data`` (text is UTF-8) to ``path`` through the writer; :class:`ExportError` if it cannot be
    written (the old file, if any, is then left as it was). ``inputs``: files it must not overwrite."""
    text = data if isinstance(data, str) else None
    with Outputs(inputs) as outputs:
        output = outputs.open(path)
        if text is None:
            output.write_bytes(bytes(data))
        else:
            output.write(text)
        outputs.commit()


class AtomicCsv(Output):
    """One CSV file written row by row (:meth:`write` takes a row of cells) and put in place by
    :meth:`commit`; the header row is written at once."""

    def __init__(self, path: str | os.PathLike[str], header: Sequence[str], *,
                 inputs: Iterable[str | os.PathLike[str]] = ()) -> None:
        super().__init__(path, inputs=inputs)
        self.write(header)

    def write(self, cells: Sequence[str] | str) -> None:  # type: ignore[override]
        super().write(cells if isinstance(cells, str) else ",".join(cells) + "\n")


def write_csv(path: str | os.PathLike[str], header: Sequence[str], rows: Iterable[Sequence[str]], *,
              inputs: Iterable[str | os.PathLike[str]] = ()) -> None:
    """A whole CSV file, through the writer."""
    with Outputs(inputs) as outputs:
        output = outputs.csv(path, header)
        for row in rows:
            output.write_row(row)
        outputs.commit()


def write_history(path: str | os.PathLike[str], epochs: np.ndarray, has_validation: bool, *,
                  inputs: Iterable[str | os.PathLike[str]] = ()) -> None:
    """The history CSV from epoch rows ``(epoch, step, loss, val_loss, …)`` (shape (n_epochs, ≥ 4))."""
    epochs = np.asarray(epochs, dtype=np.float64)
    rows = (history_row(int(e[0]), e[2], e[3] if has_validation else None) for e in epochs)
    write_csv(path, HISTORY_HEADER, rows, inputs=inputs)


def step_positions(n_steps: int | np.ndarray, epoch_steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The epoch (1-based) and batch within it (0-based) of updates 1 … ``n_steps`` (or of the updates in the
    array ``n_steps``).

    ``epoch_steps[k]`` is the number of updates done when epoch k + 1 ended (increasing); updates after the
    last epoch end belong to the epoch under way.
    """
    steps = np.arange(1, n_steps + 1) if np.ndim(n_steps) == 0 else np.asarray(n_steps, dtype=np.int64)
    ends = np.asarray(epoch_steps, dtype=np.int64)
    epoch = np.searchsorted(ends, steps, side="left")  # epochs ended before this update
    first = np.concatenate([[0], ends])[epoch]  # updates done when this update's epoch began
    return epoch + 1, steps - first - 1


def write_trace(path: str | os.PathLike[str], param_names: Sequence[str], params: np.ndarray,
                batch_loss: np.ndarray, epoch_steps: np.ndarray, *, param_steps: np.ndarray | None = None,
                loss_steps: np.ndarray | None = None, inputs: Iterable[str | os.PathLike[str]] = ()) -> None:
    """The trace CSV from a trajectory: ``params`` (rows, n_params), row 0 the start; ``batch_loss``;
    ``epoch_steps`` the update count at each epoch's end. ``param_steps`` and ``loss_steps``: the step of each
    row of ``params`` and ``batch_loss`` (default: every step, 0 … and 1 …); a long run's history keeps some
    steps only, and a row whose batch loss was not kept has an empty loss."""
    params = np.asarray(params, dtype=np.float64)
    steps = np.arange(len(params)) if param_steps is None else np.asarray(param_steps, dtype=np.int64)
    loss_at = np.arange(1, len(batch_loss) + 1) if loss_steps is None else np.asarray(loss_steps, dtype=np.int64)
    kept = steps[steps > 0]
    epoch, batch = step_positions(kept, epoch_steps)

    def loss(step: int) -> float | str:
        i = int(np.searchsorted(loss_at, step))
        return batch_loss[i] if i < len(loss_at) and loss_at[i] == step else ""

    first = len(steps) - len(kept)  # the start's row (step 0) is written on its own
    rows = (trace_row(s, epoch[k], batch[k], loss(s), params[first + k]) for k, s in enumerate(kept.tolist()))
    write_csv(path, trace_header(param_names), itertools.chain([trace_start_row(params[0])], rows), inputs=inputs)
