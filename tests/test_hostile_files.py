"""Hostile files: outputs that would destroy something, inputs that are not files, and sizes before allocation.

Every case asserts the exit status (or the exception), that the message is one line, and that nothing the
user had changed: outputs are checked byte for byte, and no temporary file is left behind.
"""

from __future__ import annotations

import errno
import os
import resource
import signal
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hostile import ROOT, fit, one_line, snapshot, table, temporary_files

from fitscope.engine import export, files
from fitscope.engine.export import ExportError, Outputs, atomic_write, write_history, write_trace
from fitscope.engine.files import FileError, open_regular, read_regular
from fitscope.engine.settings import MAX_CSV_BYTES, FitSettings

OLD = "epoch,loss,val_loss\n1,0.5,\n"


@pytest.fixture
def folder(tmp_path):
    """A user's folder: a data file and an old history."""
    table(tmp_path / "d.csv")
    (tmp_path / "h.csv").write_text(OLD)
    return tmp_path


def refused(folder, *args, fragment: str = "", code: int = 2) -> str:
    """``fitscope fit ARGS`` from ``folder``: exit ``code``, one ``error:`` line holding ``fragment``, and the
    folder exactly as it was."""
    before = snapshot(folder)
    status, out, err = fit(*args, cwd=folder)
    assert status == code, (status, out, err)
    line = one_line(err)
    assert fragment in line, line
    assert snapshot(folder) == before
    return line


def trained(folder, *args) -> str:
    """``fitscope fit ARGS`` from ``folder`` succeeds (exit 0, nothing on stderr), leaving no temporary file."""
    status, out, err = fit("--epochs", 2, "--quiet", *args, cwd=folder)
    assert (status, err) == (0, ""), (status, err)
    assert temporary_files(folder) == []
    return out


# =========================================================================== outputs that would destroy things
@pytest.mark.parametrize("spelling", ["d.csv", "./d.csv", "sub/../d.csv", "{abs}", "{tilde}"])
@pytest.mark.parametrize("option", ["--history", "--trace"])
def test_an_output_that_is_the_input_is_refused(folder, monkeypatch, option, spelling):
    (folder / "sub").mkdir()
    monkeypatch.setenv("HOME", str(folder))
    path = spelling.format(abs=folder / "d.csv", tilde="~/d.csv")
    refused(folder, "--data", "d.csv", option, path, fragment="the file this run reads")


@pytest.mark.parametrize("link", ["hard", "soft"])
def test_an_output_that_is_a_link_to_the_input_is_refused(folder, link):
    (os.link if link == "hard" else os.symlink)(folder / "d.csv", folder / "alias.csv")
    refused(folder, "--data", "d.csv", "--history", "alias.csv", fragment="the file this run reads")


def test_the_input_through_a_link_is_protected_too(folder):
    os.symlink("d.csv", folder / "data-link.csv")
    refused(folder, "--data", "data-link.csv", "--trace", "d.csv", fragment="the file this run reads")


@pytest.mark.parametrize("second", ["f.csv", "./f.csv", "{abs}", "same.csv"])
def test_two_outputs_of_one_run_on_one_file_are_refused(folder, second):
    (folder / "f.csv").write_text("precious\n")
    os.link(folder / "f.csv", folder / "same.csv")
    line = refused(folder, "--history", "f.csv", "--trace", second.format(abs=folder / "f.csv"),
                   fragment="also the --history file of this run")
    assert line.startswith("error: cannot write ")


def test_two_outputs_through_a_dangling_link_and_its_target(folder):
    os.symlink("new.csv", folder / "to-new.csv")
    refused(folder, "--history", "to-new.csv", "--trace", "new.csv", fragment="also the --history file")


def test_an_output_through_a_symlink_writes_its_target_and_the_link_stays(folder):
    os.symlink("h.csv", folder / "link.csv")
    trained(folder, "--history", "link.csv")
    assert os.path.islink(folder / "link.csv") and os.readlink(folder / "link.csv") == "h.csv"
    assert (folder / "h.csv").read_text().splitlines()[0] == "epoch,loss,val_loss"
    assert len((folder / "h.csv").read_text().splitlines()) == 3


def test_a_chain_of_links_and_a_link_into_another_folder(folder):
    (folder / "elsewhere").mkdir()
    os.symlink("elsewhere/target.csv", folder / "b.csv")
    os.symlink("b.csv", folder / "a.csv")
    trained(folder, "--trace", "a.csv")
    assert os.path.islink(folder / "a.csv") and os.path.islink(folder / "b.csv")
    assert (folder / "elsewhere" / "target.csv").read_text().startswith("step,epoch,batch,loss,kernel,bias\n")
    assert temporary_files(folder / "elsewhere") == []


def test_a_dangling_link_gets_its_target_created(folder):
    os.symlink("made.csv", folder / "dangling.csv")
    trained(folder, "--history", "dangling.csv")
    assert os.path.islink(folder / "dangling.csv") and (folder / "made.csv").is_file()


def test_a_link_loop_is_one_line(folder):
    os.symlink("loop2.csv", folder / "loop1.csv")
    os.symlink("loop1.csv", folder / "loop2.csv")
    refused(folder, "--history", "loop1.csv", fragment="cannot write loop1.csv")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_fifo_output_is_refused_without_blocking(folder):
    os.mkfifo(folder / "pipe")
    refused(folder, "--history", "pipe", fragment="it is a FIFO (named pipe), and only regular files are written")


@pytest.mark.skipif(not Path("/dev/null").exists(), reason="needs /dev")
@pytest.mark.parametrize("device", ["/dev/null", "/dev/stdout", "/dev/stderr", "/dev/full", "/dev/zero",
                                    "/proc/self/fd/1"])
def test_devices_and_streams_are_refused(folder, device):
    if not os.path.exists(device):
        pytest.skip(f"{device} does not exist here")
    refused(folder, "--history", device, fragment="a device or a stream, and only regular files are written")


@pytest.mark.skipif(not Path("/dev/shm").is_dir(), reason="needs /dev/shm")
def test_a_file_in_dev_shm_is_an_ordinary_file(folder):
    target = Path("/dev/shm") / f"fitscope-{os.getpid()}.csv"
    try:
        trained(folder, "--history", target)
        assert target.read_text().startswith("epoch,loss,val_loss\n")
    finally:
        target.unlink(missing_ok=True)


def test_a_socket_output_is_refused(tmp_path):
    folder = Path("/tmp") / f"fitscope-sock-{os.getpid()}"  # a socket path must be short
    folder.mkdir()
    try:
        table(folder / "d.csv")
        with socket.socket(socket.AF_UNIX) as s:
            s.bind(str(folder / "s"))
            refused(folder, "--trace", "s", fragment="it is a socket")
    finally:
        for p in folder.iterdir():
            p.unlink()
        folder.rmdir()


def test_a_folder_output_is_refused(folder):
    (folder / "out").mkdir()
    refused(folder, "--history", "out", fragment="it is a folder")
    os.symlink("out", folder / "out-link")
    refused(folder, "--history", "out-link", fragment="it is a folder")


@pytest.mark.parametrize(("path", "fragment"), [
    ("afile/h.csv", "afile is a file, not a folder"),
    ("afile/deeper/h.csv", "afile is a file, not a folder"),
    ("missing/h.csv", "the folder {folder}/missing does not exist"),
    ("missing/deeper/h.csv", "does not exist"),
])
def test_a_path_through_a_file_or_a_missing_folder(folder, path, fragment):
    (folder / "afile").write_text("a plain file\n")
    refused(folder, "--history", path, fragment=fragment.format(folder=folder))


def test_a_file_name_of_255_bytes_works_and_256_is_one_line(folder):
    trained(folder, "--history", "h" * 251 + ".csv")
    assert (folder / ("h" * 251 + ".csv")).is_file()
    refused(folder, "--history", "h" * 252 + ".csv", fragment="the file name is too long (256 bytes")


def test_a_long_name_of_several_byte_characters(folder):
    name = "é" * 125 + ".csv"  # 254 bytes
    trained(folder, "--trace", name)
    assert (folder / name).is_file()
    refused(folder, "--trace", "é" * 127 + ".csv", fragment="too long (258 bytes")


@pytest.mark.parametrize("name", ["a\nb.csv", "tab\there.csv", "esc\x1b[31m.csv", "cr\r.csv", "bell\a.csv"])
def test_control_characters_in_an_output_name_are_refused_on_one_line(folder, name):
    refused(folder, "--history", name, fragment="control character")


@pytest.mark.parametrize("name", ["newdir/", ".", "..", "sub/."])
def test_a_name_that_can_only_be_a_folder_is_refused(folder, name):
    refused(folder, "--history", name, fragment="names a folder, not a file")


def test_a_path_over_the_system_limit_is_one_line(folder):
    refused(folder, "--trace", "d/" * 3000 + "x.csv", fragment="the path is too long")


@pytest.mark.skipif(sys.platform == "darwin", reason="file names must be UTF-8 there")
def test_a_name_that_is_not_utf8_is_written(folder):
    name = os.fsdecode(b"\xff\xfe.csv")  # as Python hands such an argument over
    trained(folder, "--history", name)
    assert os.path.exists(os.path.join(os.fsencode(folder), b"\xff\xfe.csv"))


def test_an_output_that_is_where_standard_output_goes_is_refused(folder):
    before = snapshot(folder)
    with open(folder / "out.txt", "w") as out:
        run = subprocess.run([sys.executable, "-m", "fitscope", "fit", "--quiet", "--history", "out.txt"],
                             cwd=folder, stdout=out, stderr=subprocess.PIPE, text=True, timeout=120)
    assert run.returncode == 2
    assert one_line(run.stderr) == "error: cannot write out.txt: it is where the standard output goes"
    assert {k: v for k, v in snapshot(folder).items() if k != "out.txt"} == before
    assert (folder / "out.txt").read_text() == ""


def _mount_tmpfs(where: Path, *options: str) -> bool:
    """Mount a small tmpfs (as root, where allowed); False if it cannot be done here."""
    where.mkdir(exist_ok=True)
    if os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(("size=64k", *options)), "tmpfs", str(where)],
                          capture_output=True)
    return done.returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    where = tmp_path / "disk"
    if not _mount_tmpfs(where):
        pytest.skip("needs root and tmpfs to make a small disk")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_full_disk_while_writing_leaves_every_old_file_whole(folder, small_disk):
    table(small_disk / "d.csv")
    (small_disk / "h.csv").write_text(OLD)
    before = snapshot(small_disk)
    status, _, err = fit("--data", "d.csv", "--epochs", 3000, "--batch-size", 1, "--quiet", "--history", "h.csv",
                         "--trace", "t.csv", cwd=small_disk)
    assert status == 2
    assert one_line(err) == "error: cannot write t.csv: No space left on device (nothing was written)"
    assert snapshot(small_disk) == before


def test_a_read_only_file_system(folder, small_disk):
    table(small_disk / "d.csv")
    (small_disk / "h.csv").write_text(OLD)
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    before = snapshot(small_disk)
    status, _, err = fit("--data", "d.csv", "--quiet", "--history", "h.csv", cwd=small_disk)
    assert status == 2
    assert one_line(err) == "error: cannot write h.csv: Read-only file system"
    assert snapshot(small_disk) == before


def test_a_folder_without_write_permission(folder, monkeypatch):
    real_open = export.os.open

    def deny(path, flags, *args):
        if flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_open(path, flags, *args)

    monkeypatch.setattr(export.os, "open", deny)
    refused(folder, "--history", "h.csv", fragment="cannot write h.csv: Permission denied")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a POSIX user without root rights")
def test_a_folder_without_write_permission_for_real(folder):
    (folder / "locked").mkdir()
    (folder / "locked").chmod(0o500)
    try:
        refused(folder, "--history", "locked/h.csv", fragment="Permission denied")
    finally:
        (folder / "locked").chmod(0o700)


def test_a_file_size_limit_in_a_real_process_is_one_line_and_no_leftover(folder):
    # RLIMIT_FSIZE: writes past 20 kB fail with EFBIG (Python ignores SIGXFSZ), as a full disk would fail.
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    before = snapshot(folder)
    run = subprocess.run([sys.executable, "-m", "fitscope", "fit", "--data", "d.csv", "--epochs", "2000",
                          "--batch-size", "1", "--quiet", "--history", "h.csv", "--trace", "t.csv"],
                         cwd=folder, capture_output=True, text=True, timeout=120, preexec_fn=limit)
    assert run.returncode == 2
    assert one_line(run.stderr) == "error: cannot write t.csv: File too large (nothing was written)"
    assert snapshot(folder) == before


@pytest.mark.parametrize(("fail_at", "expected"), [
    (1, "error: cannot write h.csv: Input/output error (nothing was written)"),
    (2, "error: cannot write t.csv: Input/output error (h.csv was written, t.csv left as it was)"),
])
def test_a_rename_failing_in_between_says_what_was_written(folder, monkeypatch, fail_at, expected):
    (folder / "t.csv").write_text("old trace\n")
    real_replace, calls = export.os.replace, []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == fail_at:
            raise OSError(errno.EIO, "Input/output error")
        return real_replace(src, dst)

    monkeypatch.setattr(export.os, "replace", replace)
    status, _, err = fit("--quiet", "--epochs", 2, "--history", "h.csv", "--trace", "t.csv", cwd=folder)
    assert status == 2 and one_line(err) == expected
    assert ((folder / "h.csv").read_text() == OLD) == (fail_at == 1)
    assert (folder / "t.csv").read_text() == "old trace\n"
    assert temporary_files(folder) == []


def test_a_failing_flush_writes_nothing(folder, monkeypatch):
    (folder / "t.csv").write_text("old trace\n")
    before = snapshot(folder)

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(export.os, "fsync", full_disk)
    status, _, err = fit("--quiet", "--epochs", 2, "--history", "h.csv", "--trace", "t.csv", cwd=folder)
    assert status == 2
    assert one_line(err) == "error: cannot write h.csv: No space left on device (nothing was written)"
    assert snapshot(folder) == before


def test_a_replaced_file_keeps_its_permissions_and_a_new_one_follows_the_umask(folder):
    (folder / "h.csv").chmod(0o640)
    old = os.umask(0o027)
    try:
        trained(folder, "--history", "h.csv", "--trace", "new.csv")
    finally:
        os.umask(old)
    assert stat.S_IMODE((folder / "h.csv").stat().st_mode) == 0o640
    assert stat.S_IMODE((folder / "new.csv").stat().st_mode) == 0o640  # 0o666 & ~0o027


def test_temporary_files_are_unique_and_gone(folder):
    a, b = Outputs(), Outputs()
    one, two = a.csv(folder / "same.csv", ["a"]), b.csv(folder / "same.csv", ["b"])
    assert one.temporary != two.temporary and len(temporary_files(folder)) == 2
    a.commit()
    b.commit()
    assert (folder / "same.csv").read_text() == "b\n" and temporary_files(folder) == []


def test_an_exception_while_writing_removes_the_temporary_file(folder):
    with pytest.raises(KeyboardInterrupt), Outputs() as outputs:
        out = outputs.csv(folder / "h.csv", ["epoch"])
        out.write_row(["1"])
        raise KeyboardInterrupt
    assert (folder / "h.csv").read_text() == OLD and temporary_files(folder) == []


def test_the_process_ending_removes_unfinished_temporary_files(folder):
    code = ("import sys; from fitscope.engine.export import Outputs; o = Outputs(); "
            "f = o.csv(sys.argv[1], ['a']); f.write_row(['1']); sys.exit(0)")
    done = subprocess.run([sys.executable, "-c", code, str(folder / "x.csv")], capture_output=True, timeout=60)
    assert done.returncode == 0
    assert temporary_files(folder) == [] and not (folder / "x.csv").exists()


# --- the writer as the app uses it ---
def test_atomic_write_refuses_the_input_and_writes_through_a_link(folder):
    with pytest.raises(ExportError, match="the file this run reads"):
        atomic_write(folder / "d.csv", "x", inputs=[folder / "d.csv"])
    os.symlink("session.json", folder / "s-link.json")
    atomic_write(folder / "s-link.json", b"{}")
    assert os.path.islink(folder / "s-link.json") and (folder / "session.json").read_bytes() == b"{}"


@pytest.mark.parametrize("target", ["", "/dev/null", "{folder}", "{folder}/afile/x.csv", "{folder}/a\nb"])
def test_atomic_write_refusals_are_one_line(folder, target):
    (folder / "afile").write_text("x")
    before = snapshot(folder)
    with pytest.raises(ExportError) as info:
        atomic_write(target.format(folder=folder), "data")
    assert "\n" not in str(info.value) and str(info.value).startswith("cannot write ")
    assert snapshot(folder) == before


def test_write_history_and_trace_refuse_their_inputs(folder):
    import numpy as np

    with pytest.raises(ExportError):
        write_history(folder / "d.csv", np.array([[1, 3, 0.5, 0.6]]), True, inputs=[folder / "d.csv"])
    with pytest.raises(ExportError):
        write_trace(folder / "d.csv", ["k", "b"], np.zeros((2, 2)), np.zeros(1), np.array([1]),
                    inputs=[folder / "d.csv"])
    assert (folder / "d.csv").read_text().startswith("x,y\n")


def test_outputs_of_one_run_refuse_each_other_by_role(folder):
    outputs = Outputs()
    outputs.open(folder / "a.csv", role="the picture")
    with pytest.raises(ExportError, match="it is also the picture of this run"):
        outputs.open(folder / "a.csv")
    outputs.discard()
    assert temporary_files(folder) == []


# =========================================================================== inputs that are not files
def _fit_in_a_process(folder, *args, timeout=60):
    return subprocess.run([sys.executable, "-m", "fitscope", "fit", *map(str, args)], cwd=folder,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_fifo_as_data_is_refused_at_once(folder):
    os.mkfifo(folder / "pipe.csv")
    before = snapshot(folder)
    run = _fit_in_a_process(folder, "--data", "pipe.csv", timeout=30)  # would block for ever if it were opened
    assert run.returncode == 2
    assert one_line(run.stderr) == "error: pipe.csv: is not a regular file (it is a FIFO (named pipe))"
    assert snapshot(folder) == before


@pytest.mark.parametrize(("device", "kind"), [("/dev/zero", "a character device"), ("/dev/null", "a character device")])
def test_a_device_as_data_is_refused_without_reading(folder, device, kind):
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    refused(folder, "--data", device, fragment=f"is not a regular file (it is {kind})")


def test_a_link_to_a_device_as_data(folder):
    os.symlink("/dev/zero", folder / "zero.csv")
    refused(folder, "--data", "zero.csv", fragment="is not a regular file")


def test_a_folder_or_a_path_through_a_file_as_data(folder):
    (folder / "dir.csv").mkdir()
    refused(folder, "--data", "dir.csv", fragment="dir.csv: is a folder, not a file")
    refused(folder, "--data", "d.csv/x.csv", fragment="d.csv is a file, not a folder")


def test_a_nul_in_the_data_name(folder):
    refused(folder, "--data", "d\0.csv", fragment="NUL character")


def test_a_file_over_the_size_cap_is_refused_from_its_size(folder):
    big = folder / "big.csv"
    with open(big, "wb") as f:
        f.truncate(MAX_CSV_BYTES + 1)  # sparse: nothing is written, nothing could be read in time
    line = refused(folder, "--data", "big.csv", fragment="larger than the 200 MB fitscope reads")
    assert "is 200 MB" in line


@pytest.mark.stress
def test_a_file_of_too_many_short_lines_is_refused_before_parsing(tmp_path):
    with open(tmp_path / "long.csv", "w") as f:
        f.write("x,y\n" + "1,2\n" * 10_000_000)
    refused(tmp_path, "--data", "long.csv", fragment="has 10,000,001 lines, more than the 10,000,000 fitscope reads")


def test_read_regular_takes_exactly_the_cap(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    assert read_regular(path, 100) == b"x" * 100
    with pytest.raises(FileError, match="larger than the 99 bytes"):
        read_regular(path, 99)


def test_open_regular_never_blocks_on_a_fifo(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("needs named pipes")
    os.mkfifo(tmp_path / "p")
    result = []
    worker = threading.Thread(target=lambda: result.append(_try_open(tmp_path / "p")), daemon=True)
    worker.start()
    worker.join(10)
    assert result == ["p: is not a regular file (it is a FIFO (named pipe))"]


def _try_open(path):
    try:
        open_regular(path, 1000).close()
    except FileError as e:
        return str(e)
    return "opened"


def test_a_file_swapped_for_a_fifo_after_the_check_is_caught_on_the_descriptor(tmp_path, monkeypatch):
    if not hasattr(os, "mkfifo"):
        pytest.skip("needs named pipes")
    good, pipe = tmp_path / "good.csv", tmp_path / "pipe"
    good.write_text("x,y\n1,2\n3,4\n")
    os.mkfifo(pipe)
    real_open = files.os.open
    monkeypatch.setattr(files.os, "open", lambda path, flags, *a: real_open(pipe, flags, *a))
    with pytest.raises(FileError, match="FIFO"):
        read_regular(good, 1000)


# --- contents that break parsers ---
@pytest.mark.parametrize(("content", "fragment"), [
    ("h" * 200_000 + ",y\n1,2\n3,4\n", "line 1: a field is longer than 131,072 characters"),
    ("x,y\n1,2\n3," + "4" * 200_000 + "\n5,6\n", "line 3: a field is longer than 131,072 characters"),
    ("x" * 1_000_000, "line 1: a field is longer"),
    ('"x,y\n1,2\n3,4\n', "line 1: a quote opened on this line is never closed"),
    ('x,y\n1,2\n"3,4\n5,6\n', "line 3: a quote opened on this line is never closed"),
    ('x,y\n1,2\n3,4\n5,"6\n7,8\n', "line 4: a quote opened on this line is never closed"),
    ('x,y\n1,2\n3,4\n5,6\n"7,8', "line 5: a quote opened on this line is never closed"),
    ("x,y\n" + "1,2\n" * 498 + '"3,4\n' + "5,6\n" * 100, "line 500: a quote opened on this line is never closed"),
    ("", "the file is empty"),
    ("x,y\n", "no data rows"),
    ("\x00\x01\x02binary", "not a UTF-8 text file"),
])
def test_contents_that_break_parsers_are_one_line_at_the_right_line(folder, content, fragment):
    (folder / "bad.csv").write_text(content)
    refused(folder, "--data", "bad.csv", fragment=f"bad.csv: {fragment}")


@pytest.mark.parametrize(("rows", "args", "fragment"), [
    ("x,y\n1,1e308\n2,1.5e308\n3,-1.7e308\n", [], "the target 'y' has values too large"),
    # One feature: refused as it is read, normalized or not (its default rate would have to be below 1e-300).
    ("x,y\n1e300,1\n2e300,2\n3e300,3\n", ["--no-normalize"], "the feature 'x' has values too large to train on"),
    ("x,y\n1e300,1\n2e300,2\n3e300,3\n", ["--normalize"], "the feature 'x' has values too large to train on"),
    ("a,b,y\n1,1e300,1\n2,2e300,2\n3,3e300,3\n", [], "the feature 'b' has values too large to normalize"),
])
def test_data_that_overflows_by_itself_is_bad_data_not_a_learning_rate(folder, rows, args, fragment):
    (folder / "huge.csv").write_text(rows)
    line = refused(folder, "--data", "huge.csv", *args, "--history", "h.csv", fragment=fragment)
    assert "learning rate" not in line


def test_a_huge_start_point_is_refused_as_such(folder):
    refused(folder, "--init", "1e200,1e200", "--loss", "mse",
            fragment="the loss at the start (1e+200, 1e+200) is not finite")


def test_huge_but_finite_parameters_are_not_called_infinite(folder):
    # Their squared norm overflows (1e200² > 1e308), the parameters do not: MAE trains on from there.
    code, out, err = fit("--init", "1e200,1e200", "--epochs", 2, "--quiet", cwd=folder)
    assert (code, err) == (0, "")


# =========================================================================== sizes, before allocation
@pytest.mark.parametrize(("hidden", "fragment"), [
    ("4096,4096", "16,8"),  # 16.8 million parameters
    ("1000,1000", "1,015,001 parameters"),
    ("2000,600", "parameters, more than the 1,000,000"),
])
def test_models_over_the_parameter_cap(folder, hidden, fragment):
    refused(folder, "--data", "boston-housing", "--model", "mlp", "--hidden", hidden, fragment=fragment)


def test_a_model_over_the_memory_cap_on_many_rows(folder):
    rows = "\n".join(f"{i % 97},{i % 13}" for i in range(40_000))
    (folder / "many.csv").write_text("x,y\n" + rows + "\n")
    line = refused(folder, "--data", "many.csv", "--model", "mlp", "--hidden", "4096",
                   fragment="of memory, more than the 2 GB fitscope allows")
    assert "fewer or smaller hidden layers" in line


def test_a_session_sized_model_is_refused_without_data():
    with pytest.raises(ValueError, match="117,481,473 parameters"):
        FitSettings(model="mlp", hidden=(4096,) * 8).validate()


@pytest.mark.parametrize("changes", [
    {"seed": 2**31}, {"seed": 2**70}, {"epochs": 10**12}, {"batch_size": 0}, {"batch_size": 10**10},
    {"validation_split": float("nan")}, {"learning_rate": float("inf")}, {"momentum": float("nan")},
    {"seed": 1.5}, {"epochs": True}, {"hidden": (50, 0)}, {"init": (float("nan"), 0.0)},
])
def test_settings_out_of_range_are_refused_by_validate(changes):
    with pytest.raises(ValueError) as info:
        FitSettings(**changes).validate()
    assert "\n" not in str(info.value)


def test_a_sigterm_mid_run_leaves_no_temporary_file(folder):
    before = {k: v for k, v in snapshot(folder).items()}
    proc = subprocess.Popen([sys.executable, "-m", "fitscope", "fit", "--epochs", "1000000", "--quiet",
                             "--trace", "t.csv"], cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        from hostile import wait_for

        def training() -> bool:  # the trace's temporary file holds rows of steps
            return any(p.stat().st_size > 10_000 for p in folder.glob(".t.csv.*.tmp"))

        wait_for(training)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143
    assert one_line(err, "terminated in epoch ").endswith("(t.csv holds what was done until then)")
    assert temporary_files(folder) == []
    after = snapshot(folder)
    assert {k: v for k, v in after.items() if k != "t.csv"} == before
    assert ROOT.exists()


# =========================================================================== big files (make stress)
@pytest.fixture(scope="module")
def big_csv(tmp_path_factory):
    """A CSV just under the size cap: three columns, about 190 MB."""
    import numpy as np

    path = tmp_path_factory.mktemp("big") / "big.csv"
    rng = np.random.default_rng(0)
    with open(path, "w") as f:
        f.write("a,b,y\n")
        while f.tell() < MAX_CSV_BYTES - 12_000_000:
            x = rng.random((200_000, 2)) * 100
            y = x @ [0.5, -0.2] + 3 + rng.normal(0, 0.1, len(x))
            np.savetxt(f, np.column_stack([x, y]), fmt="%.6f", delimiter=",")
    assert os.path.getsize(path) <= MAX_CSV_BYTES
    return path


@pytest.mark.stress
def test_a_file_just_under_the_cap_trains(big_csv):
    run = subprocess.run([sys.executable, "-m", "fitscope", "fit", "--data", str(big_csv), "--epochs", "1",
                          "--batch-size", "100000", "--quiet"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0].startswith("final training loss:")


@pytest.mark.stress
def test_a_real_file_just_over_the_cap_is_refused_at_once(big_csv, tmp_path):
    over = tmp_path / "over.csv"
    with open(big_csv, "rb") as src, open(over, "wb") as dst:
        dst.write(src.read())
        dst.write(b"1,2,3\n" * ((MAX_CSV_BYTES - os.path.getsize(big_csv)) // 6 + 2))
    refused(tmp_path, "--data", "over.csv", fragment="larger than the 200 MB fitscope reads")


@pytest.mark.stress
def test_a_first_line_of_50_megabytes(tmp_path):
    with open(tmp_path / "wide.csv", "w") as f:
        f.write("h" * 50_000_000 + "\n1\n2\n")
    refused(tmp_path, "--data", "wide.csv", fragment="line 1: a field is longer than 131,072 characters")


@pytest.mark.stress
def test_ctrl_c_while_a_big_file_is_parsed_ends_within_seconds(big_csv, tmp_path):
    import time

    from hostile import catches_sigterm, wait_for

    (tmp_path / "h.csv").write_text(OLD)
    before = snapshot(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "fitscope", "fit", "--data", str(big_csv), "--history", "h.csv"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: catches_sigterm(proc.pid) or proc.poll() is not None)
    time.sleep(3)  # reading and parsing
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert time.monotonic() - sent < 15
    assert proc.returncode == 130
    assert one_line(err, "interrupted") == "interrupted: nothing was written"
    assert snapshot(tmp_path) == before
