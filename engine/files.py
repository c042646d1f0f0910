"""The user's files, read safely: only regular files, no larger than a cap, checked before a byte is read.

:func:`read_regular` (and :func:`open_regular` under it) is what reads a CSV or a session file: a FIFO, a
device (``/dev/zero``), a socket or a folder is refused from its ``stat`` without being opened for reading
(nothing blocks, nothing is read for ever), and so is a file larger than the cap. Every refusal is a
:class:`FileError` whose message is one line, ``NAME: why``.

:func:`shown` writes a path or a name for such a line: control characters escaped (a name holding a line
break stays on one line), long ones cut in the middle.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

__all__ = ["FileError", "file_kind", "human_size", "open_regular", "read_regular", "shown", "why_not"]


class FileError(ValueError):
    """A file that cannot be read; ``str(err)`` is one line, ``NAME: why``."""


def shown(path: str | os.PathLike[str] | bytes, limit: int = 80) -> str:
    """``path`` for a one-line message: control characters escaped, and cut to about ``limit`` characters
    (the middle is replaced by "…", so the start and the name at the end stay)."""
    text = os.fsdecode(path) if isinstance(path, bytes) else os.fspath(path)
    text = "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1] for ch in text)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")  # lone surrogates of undecodable bytes
    if len(text) > limit:
        keep = limit - 1
        text = text[: keep // 3] + "…" + text[len(text) - (keep - keep // 3):]
    return text


def human_size(n: int) -> str:
    """A size for people: ``1.2 GB``, ``350 MB``, ``12 kB``, ``80 bytes``."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


def file_kind(mode: int) -> str:
    """What a ``stat`` mode is, in words: "a folder", "a FIFO (named pipe)", "a character device"…"""
    for test, kind in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISREG, "a regular file")):
        if test(mode):
            return kind
    return "not a regular file"


def why_not(path: str, err: OSError) -> str:
    """Why ``path`` cannot be opened, from the error ``err``, as the end of a one-line sentence.

    A missing folder or a file standing where a folder should be are named (``reports/h.csv``: "the folder
    reports does not exist", ``afile/h.csv``: "afile is a file, not a folder").
    """
    if err.errno in (errno.ENOENT, errno.ENOTDIR):
        parent = os.path.dirname(os.path.abspath(path))
        while parent and not os.path.lexists(parent):
            missing, parent = parent, os.path.dirname(parent)
            if parent == missing:
                break
        # ``parent`` is now the deepest existing folder-or-file above the path.
        if parent and os.path.lexists(parent) and not os.path.isdir(parent):
            return f"{shown(parent)} is a file, not a folder"
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            return f"the folder {shown(folder)} does not exist"
        return "no such file"
    if err.errno == errno.ENAMETOOLONG:
        name = os.path.basename(path)
        size = len(os.fsencode(name))
        return (f"the file name is too long ({size} bytes; the system allows 255)" if size > 255
                else "the path is too long")
    if err.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if err.errno == errno.ELOOP:
        return "too many levels of symbolic links"
    return err.strerror or str(err)


def open_regular(path: str | os.PathLike[str], max_bytes: int, *, name: str | None = None) -> BinaryIO:
    """Open ``path`` for reading, in binary, if it is a regular file of at most ``max_bytes`` bytes.

    The path is checked with ``stat`` before it is opened (a FIFO, a device, a socket or a folder is never
    opened), opened without blocking and without becoming a controlling terminal, and checked again on the
    open descriptor (the file cannot be swapped in between). ``~`` is expanded.

    Parameters
    ----------
    path : str or path-like
    max_bytes : int
        The largest size accepted.
    name : str, optional
        How messages call the file (its shown base name by default).

    Returns
    -------
    A binary file object (the caller closes it).

    Raises
    ------
    FileError
        One line ``NAME: why``: no such file, a folder, not a regular file, too large, permission denied…
    """
    raw = os.fspath(path)
    if raw in ("", b""):
        raise FileError("no file name given")
    full = os.path.expanduser(raw)
    label = name if name is not None else shown(os.path.basename(full) or full, 60)
    if "\0" in (full if isinstance(full, str) else os.fsdecode(full)):
        raise FileError(f"{label}: the name holds a NUL character, which no file name can")
    try:
        info = os.stat(full)
    except OSError as err:
        why = why_not(full, err)
        if why == "no such file":
            why = f"no such file ({shown(os.path.abspath(full))})"
        elif why == "permission denied":
            why = "permission denied (the file cannot be read)"
        raise FileError(f"{label}: {why}") from None
    _check(info, label, max_bytes)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(full, flags)
    except OSError as err:
        why = why_not(full, err)
        if why == "permission denied":
            why = "permission denied (the file cannot be read)"
        raise FileError(f"{label}: {why}") from None
    try:
        _check(os.fstat(fd), label, max_bytes)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _check(info: os.stat_result, label: str, max_bytes: int) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise FileError(f"{label}: is a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise FileError(f"{label}: is not a regular file (it is {file_kind(info.st_mode)})")
    if info.st_size > max_bytes:
        raise FileError(f"{label}: is {human_size(info.st_size)}, larger than the {human_size(max_bytes)} "
                        "fitscope reads")


def read_regular(path: str | os.PathLike[str], max_bytes: int, *, name: str | None = None) -> bytes:
    """The bytes of ``path``, checked by :func:`open_regular`; a file that grows past ``max_bytes`` while
    it is read is refused too. :class:`FileError` (one line) if it cannot be read."""
    f = open_regular(path, max_bytes, name=name)
    label = name if name is not None else shown(os.path.basename(os.path.expanduser(os.fspath(path))), 60)
    try:
        with f:
            data = f.read(max_bytes + 1)
    except OSError as err:
        raise FileError(f"{label}: cannot be read ({err.strerror or err})") from None
    if len(data) > max_bytes:
        raise FileError(f"{label}: grew past the {human_size(max_bytes)} fitscope reads while it was read")
    return data
