"""Ctrl-C and SIGTERM at any moment of ``fitscope fit``: real processes, real signals.

Whenever the signal comes — during the first imports, while the data is read, while training, twice in quick
succession, while the files are put in place — the run ends with exit status 130 (SIGINT) or 143 (SIGTERM),
one line on stderr and no traceback, and the files are either all new and complete (with what was done until
then) or all as they were, as that line says. No temporary file is ever left behind.

Signals are sent once fitscope's own handler is in place (on Linux, seen in ``/proc/PID/status``): before
that, Python itself is starting up and handles Ctrl-C by its own rules.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from hostile import (
    HAS_PROC,
    catches_sigterm,
    fit,
    one_line,
    process,
    script,
    snapshot,
    temporary_files,
    wait_for,
)

from fitscope.engine import export, interrupts

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")


def some(values, quick):
    """``values`` as parameters; those not in ``quick`` run with ``make stress`` only (each case is a process)."""
    return [v if v in quick else pytest.param(v, marks=pytest.mark.stress) for v in values]


OLD_HISTORY = "epoch,loss,val_loss\n1,0.5,\n"
OLD_TRACE = "step,epoch,batch,loss,kernel,bias\n0,0,,,1.0,2.0\n"
RUN = ["fit", "--data", "d.csv", "--epochs", "1000000", "--batch-size", "2", "--quiet", "--history", "h.csv",
       "--trace", "t.csv"]


@pytest.fixture
def folder(tmp_path):
    points = [(i / 20, 2 * i / 20 + 1 + (0.05 if i % 3 else -0.05)) for i in range(40)]
    (tmp_path / "d.csv").write_text("x,y\n" + "".join(f"{x},{y}\n" for x, y in points))
    (tmp_path / "h.csv").write_text(OLD_HISTORY)
    (tmp_path / "t.csv").write_text(OLD_TRACE)
    return tmp_path


def rows(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


def assert_all_or_nothing(folder: Path, message: str) -> str:
    """The files are all as they were or all new and consistent, as ``message`` says; no temporary file."""
    assert temporary_files(folder) == []
    history, trace = (folder / "h.csv").read_text(), (folder / "t.csv").read_text()
    if message.endswith("nothing was written"):
        assert (history, trace) == (OLD_HISTORY, OLD_TRACE)
        return "old"
    assert "h.csv and t.csv" in message
    h, t = rows(folder / "h.csv"), rows(folder / "t.csv")
    assert h[0] == ["epoch", "loss", "val_loss"] and t[0] == ["step", "epoch", "batch", "loss", "kernel", "bias"]
    assert [int(r[0]) for r in h[1:]] == list(range(1, len(h)))  # every epoch, whole rows
    assert [int(r[0]) for r in t[1:]] == list(range(len(t) - 1))  # every step from the start
    assert all(len(r) == 6 for r in t[1:]) and all(len(r) == 3 for r in h[1:])
    epochs_done = len(h) - 1
    assert all(int(r[1]) <= epochs_done + 1 for r in t[2:])
    return "new"


def start(folder: Path, *args, **kw) -> subprocess.Popen:
    proc = process(*args, cwd=folder, **kw)
    if HAS_PROC:
        wait_for(lambda: catches_sigterm(proc.pid) or proc.poll() is not None)
    else:
        time.sleep(0.5)
    return proc


def finish(proc: subprocess.Popen) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    return proc.returncode, err


# --------------------------------------------------------------------------- at any moment
@pytest.mark.parametrize("delay", some([0.0, 0.005, 0.02, 0.05, 0.1, 0.2, 0.4, 0.8, 1.5], quick=(0.0, 0.05, 0.8)))
@pytest.mark.parametrize(("sig", "status", "verb"), [(signal.SIGINT, 130, "interrupted"),
                                                      (signal.SIGTERM, 143, "terminated")])
def test_a_signal_at_any_moment(folder, delay, sig, status, verb):
    proc = start(folder, *RUN)
    time.sleep(delay)
    proc.send_signal(sig)
    code, err = finish(proc)
    assert code == status, err
    line = one_line(err, verb)
    assert_all_or_nothing(folder, line)


@pytest.mark.parametrize("delay", some([0.0, 0.03, 0.3, 1.0], quick=(0.03, 1.0)))
@pytest.mark.parametrize("gap", some([0.0, 0.001, 0.02], quick=(0.001,)))
def test_ctrl_c_twice_in_quick_succession(folder, delay, gap):
    proc = start(folder, *RUN)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    time.sleep(gap)
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    code, err = finish(proc)
    assert code == 130, err
    assert_all_or_nothing(folder, one_line(err, "interrupted"))


def test_ctrl_c_while_training_keeps_what_was_done(folder):
    proc = start(folder, *RUN)
    wait_for(lambda: any(p.stat().st_size > 20_000 for p in folder.glob(".t.csv.*.tmp")), timeout=120)
    proc.send_signal(signal.SIGINT)
    code, err = finish(proc)
    assert code == 130
    line = one_line(err, "interrupted in epoch ")
    assert line.endswith("(h.csv and t.csv hold what was done until then)")
    assert assert_all_or_nothing(folder, line) == "new"


def test_ctrl_c_while_a_large_file_is_read(folder):
    lines = "\n".join(f"{i},{(7 * i) % 101},{i % 13}" for i in range(400_000))
    (folder / "big.csv").write_text("a,b,y\n" + lines + "\n")
    proc = start(folder, "fit", "--data", "big.csv", "--quiet", "--history", "h.csv", "--trace", "t.csv")
    time.sleep(0.4)
    proc.send_signal(signal.SIGINT)
    code, err = finish(proc)
    assert code == 130
    assert_all_or_nothing(folder, one_line(err, "interrupted"))


@pytest.mark.skipif(not HAS_PROC, reason="needs /proc to see the handler in place")
def test_ctrl_c_during_the_first_imports(folder):
    # The moment fitscope's handler is in place, NumPy and pandas are still to be imported.
    before = snapshot(folder)
    proc = process(*RUN, cwd=folder)
    wait_for(lambda: catches_sigterm(proc.pid) or proc.poll() is not None)
    proc.send_signal(signal.SIGINT)
    code, err = finish(proc)
    assert code == 130
    assert one_line(err, "interrupted") == "interrupted: nothing was written"
    assert snapshot(folder) == before


# --------------------------------------------------------------------------- while the files are put in place
SLOW_RENAMES = """
import os, sys, time
from fitscope.engine import export
marker, stage = sys.argv[1], sys.argv[2]
real = export.Output.put_in_place
count = [0]
def slow(self):
    count[0] += 1
    if str(count[0]) == stage:
        open(marker, "w").close()
        time.sleep(1.0)
    real(self)
export.Output.put_in_place = slow
sys.argv = ["fitscope", *sys.argv[3:]]
from fitscope.__main__ import main
sys.exit(main())
"""


@pytest.mark.parametrize("stage", ["1", "2"])
@pytest.mark.parametrize("times", some([1, 2, 3], quick=(2,)))
@pytest.mark.parametrize(("sig", "status", "verb"), [(signal.SIGINT, 130, "interrupted"),
                                                      (signal.SIGTERM, 143, "terminated")])
def test_signals_while_the_files_are_put_in_place(folder, stage, times, sig, status, verb):
    marker = folder / "renaming"
    args = ["fit", "--data", "d.csv", "--epochs", "30", "--quiet", "--history", "h.csv", "--trace", "t.csv"]
    proc = script(SLOW_RENAMES, marker, stage, *args, cwd=folder)
    wait_for(lambda: marker.exists() or proc.poll() is not None, timeout=120)
    for _ in range(times):
        proc.send_signal(sig)
        time.sleep(0.01)
    code, err = finish(proc)
    assert code == status, err
    line = one_line(err, verb)
    assert line == f"{verb} after training: h.csv and t.csv were written completely"
    assert assert_all_or_nothing(folder, line) == "new"
    assert len(rows(folder / "h.csv")) == 31  # every epoch: the run had finished


def test_a_second_ctrl_c_while_the_files_of_an_interrupted_run_are_put_in_place(folder):
    marker = folder / "renaming"
    proc = script(SLOW_RENAMES, marker, "1", *RUN, cwd=folder)
    wait_for(lambda: catches_sigterm(proc.pid) if HAS_PROC else True)
    wait_for(lambda: any(p.stat().st_size > 5_000 for p in folder.glob(".t.csv.*.tmp")), timeout=120)
    proc.send_signal(signal.SIGINT)  # stops training: the files are then put in place, slowly
    wait_for(lambda: marker.exists() or proc.poll() is not None, timeout=60)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGTERM)
    code, err = finish(proc)
    assert code == 130
    line = one_line(err, "interrupted in epoch ")
    assert assert_all_or_nothing(folder, line) == "new"


# --------------------------------------------------------------------------- a closed output
def test_a_closed_standard_output_stops_the_run_and_writes_nothing(folder):
    before = snapshot(folder)
    fitscope = process("fit", "--data", "d.csv", "--epochs", "1000000", "--history", "h.csv", cwd=folder)
    first = fitscope.stdout.readline()
    while first.startswith("note: "):  # where the data's default learning rate came from, say
        first = fitscope.stdout.readline()
    assert first.startswith("Epoch 1/1000000")
    fitscope.stdout.close()
    err = fitscope.stderr.read()
    fitscope.wait(timeout=120)
    assert fitscope.returncode == 141
    assert one_line(err, "stopped") == "stopped: the output was closed (nothing was written)"
    assert snapshot(folder) == before


# --------------------------------------------------------------------------- in this process: the rules
def test_a_signal_inside_a_deferred_block_comes_at_its_end():
    restore = interrupts.install()
    try:
        reached = []
        with pytest.raises(interrupts.Interrupted) as info, interrupts.deferred():
            os.kill(os.getpid(), signal.SIGINT)
            reached.append("after the signal")  # not cut short
        assert reached == ["after the signal"] and info.value.status == 130
    finally:
        restore()


def test_only_the_first_signal_is_raised():
    restore = interrupts.install()
    try:
        with pytest.raises(interrupts.Interrupted):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGINT)  # stopping already: recorded, not raised
        os.kill(os.getpid(), signal.SIGINT)
        assert interrupts.pending() == signal.SIGTERM
        assert interrupts.acknowledge().verb == "terminated"
        interrupts.check()  # acknowledged: nothing more
    finally:
        restore()


def test_a_swallowed_interrupt_is_raised_again_at_the_next_check():
    restore = interrupts.install()
    try:
        class Finalized:
            def __del__(self):
                os.kill(os.getpid(), signal.SIGINT)  # raised inside a finalizer: Python drops it

        Finalized()
        with pytest.raises(interrupts.Interrupted):
            interrupts.check()
    finally:
        restore()


def test_install_and_restore_put_the_handlers_back():
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    restore = interrupts.install()
    assert signal.getsignal(signal.SIGINT) is not before[0]
    restore()
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_a_signal_in_the_middle_of_the_renames_in_process(folder, monkeypatch):
    real, calls = export.os.replace, []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)  # between the two renames
        return real(src, dst)

    monkeypatch.setattr(export.os, "replace", replace)
    code, out, err = fit("--data", "d.csv", "--epochs", 3, "--quiet", "--history", "h.csv", "--trace", "t.csv",
                         cwd=folder)
    assert code == 130
    line = one_line(err, "interrupted")
    assert line == "interrupted after training: h.csv and t.csv were written completely"
    assert assert_all_or_nothing(folder, line) == "new"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back after the run


def test_a_signal_in_the_middle_of_training_in_process(folder, monkeypatch):
    from fitscope.engine.trainer import Trainer

    real_run = Trainer.run

    def run(self):
        for report in real_run(self):
            if report.kind == "epoch" and report.epoch == 5:
                os.kill(os.getpid(), signal.SIGTERM)  # while epoch 5's report is on its way
            yield report

    monkeypatch.setattr(Trainer, "run", run)
    code, _, err = fit("--data", "d.csv", "--epochs", 50, "--quiet", "--history", "h.csv", "--trace", "t.csv",
                       cwd=folder)
    assert code == 143
    line = one_line(err, "terminated in epoch ")
    assert assert_all_or_nothing(folder, line) == "new"
    assert len(rows(folder / "h.csv")) == 1 + 5  # the epoch under way when the signal came was completed


# --------------------------------------------------------------------------- many random moments (make stress)
@pytest.mark.stress
@pytest.mark.parametrize("seed", range(40))
def test_signals_at_random_moments(folder, seed):
    import random

    rng = random.Random(seed)
    sig = rng.choice([signal.SIGINT, signal.SIGTERM])
    proc = start(folder, *RUN)
    time.sleep(rng.uniform(0, 2.5))
    for _ in range(rng.choice([1, 1, 2, 3])):
        if proc.poll() is None:
            proc.send_signal(sig)
        time.sleep(rng.choice([0, 0.0005, 0.005]))
    code, err = finish(proc)
    assert code == 128 + sig, err
    assert_all_or_nothing(folder, one_line(err, "terminated" if sig == signal.SIGTERM else "interrupted"))
