"""Sessions: save the window, open it in another, and find the same numbers, the same trajectory, and a run that
goes on bit for bit; every bad file refused with one line, changing nothing; saving is atomic."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QFileDialog, QMessageBox

from fitscope.engine import export as engine_export
from fitscope.engine.data import load_csv
from fitscope.gui.app import MainWindow
from fitscope.gui.session import FORMAT, VERSION, read_session
from fitscope.gui.views.boston_view import BostonView
from fitscope.gui.views.race_view import RaceView
from fitscope.gui.views.surface_view import SurfaceView
from fitscope.gui.worker import Unit


# --------------------------------------------------------------------------- helpers
def new_window(qtbot) -> MainWindow:
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1400, 880)
    with qtbot.waitExposed(w):
        w.show()
    return w


class Dialogs:
    """Stand-ins for the modal dialogs: file dialogs answer from :attr:`answers`; messages are recorded."""

    def __init__(self) -> None:
        self.answers: list[str] = []
        self.starts: list[str] = []
        self.warnings: list[tuple[str, str]] = []

    def file(self, parent=None, caption="", start="", *args, **kwargs):
        self.starts.append(start)
        return (self.answers.pop(0) if self.answers else ""), ""

    def warning(self, parent=None, title="", text="", *args, **kwargs):
        self.warnings.append((title, text))
        return QMessageBox.StandardButton.Ok


@pytest.fixture
def dialogs(monkeypatch) -> Dialogs:
    d = Dialogs()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(d.file))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(d.file))
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(d.warning))
    return d


def view_of(window, cls):
    return next(v for v in window.views if isinstance(v, cls))


def idle(qtbot, view, timeout=30_000):
    qtbot.waitUntil(lambda: not view.controller.busy, timeout=timeout)


def step(qtbot, view, unit, times=1):
    for _ in range(times):
        view.step(unit)
        idle(qtbot, view)
    view.redraw()


def readouts(view) -> dict[str, str]:
    return {name: view.readouts.text(name) for name in view.readouts.labels}


def _curve(item) -> list:
    y = item.getData()[1]
    return [] if y is None else y.tolist()


def surface_picture(view: SurfaceView) -> dict:
    """Everything the surface tab shows that a session must bring back."""
    path_x, path_y = view.surface.path.getData()
    return {
        "readouts": readouts(view),
        "kernel": view.kernel_edit.value(), "bias": view.bias_edit.value(),
        "phase": view.phase_text.text(),
        "message": (view.message.isVisibleTo(view), view.message.text()),
        "path": (path_x.tolist(), path_y.tolist()),
        "loss_curve": _curve(view.loss_panel.batch),
        "controls": {key: view.control(key).currentData() if key in ("loss", "optimizer") else view.control(key).value()
                     for key in ("learning_rate", "batch_size", "loss", "optimizer", "epochs", "seed")},
        "sample": view.sample,
    }


def same_history(a, b):
    assert np.array_equal(a.params, b.params)
    assert np.array_equal(a.batch_loss, b.batch_loss)
    assert np.array_equal(a.epochs, b.epochs, equal_nan=True)
    assert (a.diverged is None) == (b.diverged is None)
    if a.last_step is None:
        assert b.last_step is None
    else:
        assert a.last_step.phase == b.last_step.phase and a.last_step.step == b.last_step.step
        assert a.last_step.loss == b.last_step.loss
        assert np.array_equal(a.last_step.indices, b.last_step.indices)


def diverge(qtbot, view) -> None:
    view.set_control("loss", "mse")
    view.control("learning_rate").setValue(1000.0)
    for _ in range(30):
        step(qtbot, view, Unit.BATCH)
        if view.model.history.diverged is not None:
            return
    raise AssertionError("training did not diverge")


def save(window, path) -> None:
    assert window.files.save_session(str(path)), "the session was not saved"


def open_in_new_window(qtbot, path) -> MainWindow:
    other = new_window(qtbot)
    assert other.files.open_session(str(path)), "the session was not opened"
    return other


# --------------------------------------------------------------------------- round trips
def test_surface_view_round_trip_then_training_goes_on_bit_for_bit(qtbot, window, dialogs, tmp_path):
    view = view_of(window, SurfaceView)
    step(qtbot, view, Unit.BATCH, 3)
    view.set_control("optimizer", "momentum")  # a new optimizer, mid-run
    step(qtbot, view, Unit.EPOCH)
    step(qtbot, view, Unit.BATCH, 2)
    view.control("learning_rate").setValue(0.02)  # queued for the next batch: the session must hold it applied
    view.control("batch_size").setValue(5)
    view.choose_sample(3)
    path = tmp_path / "surface.json"
    save(window, path)

    other = open_in_new_window(qtbot, path)
    twin = view_of(other, SurfaceView)
    assert surface_picture(twin) == surface_picture(view)
    same_history(twin.model.history, view.model.history)
    assert twin.surface.visible_range() == pytest.approx(view.surface.visible_range())

    for v in (view, twin):
        step(qtbot, v, Unit.BATCH, 4)
        step(qtbot, v, Unit.EPOCH, 2)
    same_history(twin.model.history, view.model.history)
    assert surface_picture(twin) == surface_picture(view)
    assert twin.model.history.batch_loss[-1] == view.model.history.batch_loss[-1]


def test_surface_view_saved_between_phases(qtbot, window, dialogs, tmp_path):
    view = view_of(window, SurfaceView)
    step(qtbot, view, Unit.BATCH, 2)
    step(qtbot, view, Unit.PHASE, 3)  # the third of five phases of batch 3
    path = tmp_path / "phases.json"
    save(window, path)
    twin = view_of(open_in_new_window(qtbot, path), SurfaceView)
    assert surface_picture(twin) == surface_picture(view)
    # The next phase is the fourth, in both; then the update, the same.
    for v in (view, twin):
        step(qtbot, v, Unit.PHASE)
    assert twin.phase_key == view.phase_key == "gradient"
    assert surface_picture(twin) == surface_picture(view)
    for v in (view, twin):
        step(qtbot, v, Unit.PHASE)
        step(qtbot, v, Unit.BATCH)
    same_history(twin.model.history, view.model.history)
    assert surface_picture(twin) == surface_picture(view)


def test_boston_view_round_trip_with_an_mlp(qtbot, window, dialogs, tmp_path):
    view = view_of(window, BostonView)
    window.tabs.setCurrentWidget(view)
    view.control("model").setCurrentIndex(1)  # one hidden layer
    step(qtbot, view, Unit.EPOCH, 2)
    step(qtbot, view, Unit.BATCH, 3)
    view.slice.x_param.setCurrentIndex(5)
    view.control("learning_rate").setValue(0.002)
    path = tmp_path / "boston.json"
    save(window, path)

    other = open_in_new_window(qtbot, path)
    twin = view_of(other, BostonView)
    assert other.current_view() is twin
    assert readouts(twin) == readouts(view)
    same_history(twin.model.history, view.model.history)
    assert twin.slice.pair == view.slice.pair
    assert twin.control("model").currentIndex() == 1 and twin.control("learning_rate").value() == 0.002
    assert twin.progress.value() == view.progress.value()
    assert twin.slice_panel.visible_range() == pytest.approx(view.slice_panel.visible_range())
    for v in (view, twin):
        step(qtbot, v, Unit.EPOCH)
    same_history(twin.model.history, view.model.history)
    assert readouts(twin) == readouts(view)


def test_boston_view_round_trip_after_training_to_the_end(qtbot, window, dialogs, tmp_path):
    view = view_of(window, BostonView)
    view.control("epochs").setValue(3)
    view.commands["run"].trigger()
    idle(qtbot, view, 60_000)
    assert view.final_losses.isVisibleTo(view)
    path = tmp_path / "done.json"
    save(window, path)
    twin = view_of(open_in_new_window(qtbot, path), BostonView)
    assert twin.final_losses.isVisibleTo(twin) and twin.final_losses.text() == view.final_losses.text()
    assert readouts(twin) == readouts(view)
    same_history(twin.model.history, view.model.history)


def test_race_view_round_trip(qtbot, window, dialogs, tmp_path):
    view = view_of(window, RaceView)
    window.tabs.setCurrentWidget(view)
    view.enabled["rmsprop"].setChecked(False)
    view.rates["adam"].setValue(0.05)
    step(qtbot, view, Unit.BATCH, 5)
    path = tmp_path / "race.json"
    save(window, path)
    twin = view_of(open_in_new_window(qtbot, path), RaceView)
    assert twin.model.keys == view.model.keys == ["sgd", "momentum", "adam"]

    def table(v):
        return [[v.table.item(r, c).text() for c in range(v.table.columnCount())] for r in range(v.table.rowCount())]

    assert table(twin) == table(view)
    for h1, h2 in zip(view.model.histories, twin.model.histories, strict=True):
        same_history(h1, h2)
    for v in (view, twin):
        step(qtbot, v, Unit.EPOCH, 2)
    for h1, h2 in zip(view.model.histories, twin.model.histories, strict=True):
        same_history(h1, h2)
    assert table(twin) == table(view)


def test_a_diverged_run_comes_back_diverged(qtbot, window, dialogs, tmp_path):
    view = view_of(window, SurfaceView)
    diverge(qtbot, view)
    path = tmp_path / "diverged.json"
    save(window, path)
    twin = view_of(open_in_new_window(qtbot, path), SurfaceView)
    assert twin.model.history.diverged is not None
    assert twin.message.isVisibleTo(twin) and twin.message.text() == view.message.text()
    assert surface_picture(twin) == surface_picture(view)


def test_own_csv_data_round_trip_and_a_vanished_file(qtbot, window, dialogs, tmp_path):
    csv = tmp_path / "mine.csv"
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 5, 40)
    csv.write_text("x,y\n" + "".join(f"{float(a)!r},{2 * a + 1 + rng.normal():.6f}\n" for a in x))
    view = view_of(window, SurfaceView)
    view.set_dataset(load_csv(csv))
    step(qtbot, view, Unit.BATCH, 4)
    path = tmp_path / "mine.json"
    save(window, path)
    twin = view_of(open_in_new_window(qtbot, path), SurfaceView)
    assert twin.model.dataset.source == str(csv) and twin.model.dataset.name == "mine.csv"
    assert surface_picture(twin) == surface_picture(view)

    # The data file changed since: refused, with a message naming it; the window is as it was.
    fresh = new_window(qtbot)
    before = surface_picture(view_of(fresh, SurfaceView))
    csv.write_text(csv.read_text().replace("x,y\n", "x,y\n0.5,0.5\n"))
    assert not fresh.files.open_session(str(path))
    assert "has changed" in dialogs.warnings[-1][1]
    # … or it is gone.
    csv.unlink()
    assert not fresh.files.open_session(str(path))
    text = dialogs.warnings[-1][1]
    assert "is gone" in text and str(csv) in text and "\n" not in text
    assert surface_picture(view_of(fresh, SurfaceView)) == before


def test_current_tab_title_and_shortcuts(qtbot, window, dialogs, tmp_path):
    window.tabs.setCurrentIndex(3)
    path = tmp_path / "tabs.json"
    save(window, path)
    assert window.windowTitle() == "tabs.json — fitscope"
    other = open_in_new_window(qtbot, path)
    assert other.tabs.currentIndex() == 3 and other.windowTitle() == "tabs.json — fitscope"
    files = window.files
    assert files.save_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Save)
    assert files.open_action.shortcut() == QKeySequence("Ctrl+Shift+O")
    assert files.open_action in window.file_menu.actions() and files.save_action in window.file_menu.actions()
    assert read_session(path)["current_view"] == window.views[3].objectName()


def test_save_asks_once_then_saves_to_the_same_file(qtbot, window, dialogs, tmp_path):
    dialogs.answers = [str(tmp_path / "first")]  # no suffix: .json is added
    window.files.save_action.trigger()
    assert (tmp_path / "first.json").exists()
    view = view_of(window, SurfaceView)
    step(qtbot, view, Unit.BATCH)
    window.files.save_action.trigger()  # Ctrl+S again: no dialog, same file, new contents
    assert len(dialogs.starts) == 1
    doc = read_session(tmp_path / "first.json")
    assert doc["views"]["surfaceView"]["model"]["trainer"]["step"] == 1
    dialogs.answers = [str(tmp_path / "second.json")]
    window.files.save_as_action.trigger()
    assert (tmp_path / "second.json").exists() and len(dialogs.starts) == 2
    dialogs.answers = [""]  # cancelled: nothing happens
    window.files.save_as_action.trigger()
    assert dialogs.warnings == []


def test_saving_while_training_runs_pauses_and_goes_on(qtbot, window, dialogs, tmp_path):
    view = view_of(window, SurfaceView)
    view.control("epochs").setValue(100_000)
    view.speed.setValue(view.speed.maximum())
    view.toggle_run()
    qtbot.waitUntil(lambda: view.model.history.steps > 20, timeout=10_000)
    path = tmp_path / "running.json"
    save(window, path)
    assert view.controller.running  # it went on
    saved = read_session(path)["views"]["surfaceView"]
    view.toggle_run()
    idle(qtbot, view)
    steps = saved["model"]["trainer"]["step"]
    assert steps > 20
    # What was saved is the run at one moment: the trajectory up to the trainer's step, exactly.
    twin = view_of(open_in_new_window(qtbot, path), SurfaceView)
    assert twin.model.history.steps == steps
    assert np.array_equal(twin.model.history.params, view.model.history.params[: steps + 1])


def test_open_dialog_starts_in_the_last_folder(qtbot, window, dialogs, tmp_path):
    folder = tmp_path / "sessions"
    folder.mkdir()
    save(window, folder / "a.json")
    dialogs.answers = [str(folder / "a.json")]
    window.files.open_action.trigger()
    assert dialogs.starts[-1] == str(folder)
    assert dialogs.warnings == []


# --------------------------------------------------------------------------- bad files
def _valid(tmp_path, qtbot, window) -> dict:
    path = tmp_path / "valid.json"
    save(window, path)
    return json.loads(path.read_text())


def _bad_files(tmp_path, doc) -> dict[str, bytes]:
    text = json.dumps(doc)
    newer = dict(doc, version=VERSION + 1)
    wrong_params = json.loads(text)
    wrong_params["views"]["surfaceView"]["model"]["trainer"]["params"] = [1.0, 2.0, 3.0]
    short_history = json.loads(text)
    short_history["views"]["surfaceView"]["model"]["history"]["batch_loss"]["shape"] = [99]
    no_settings = json.loads(text)
    del no_settings["views"]["surfaceView"]["model"]["settings"]
    bad_boston = json.loads(text)  # the surface part is fine; the second view's is not
    bad_boston["views"]["bostonView"]["model"]["trainer"]["order"] = [0, 0, 0]
    no_units = json.loads(text)
    no_units["views"]["bostonView"]["model"]["settings"]["hidden"] = [0]
    huge_mlp = json.loads(text)
    huge_mlp["views"]["bostonView"]["model"]["settings"].update(model="mlp", hidden=[10**9])
    bad_range = json.loads(text)
    bad_range["views"]["raceView"]["view"]["range"] = [-1e308, 1e308, 0, 1]
    huge_seed = json.loads(text)
    huge_seed["views"]["bostonView"]["model"]["settings"]["seed"] = 2**70
    bad_race = json.loads(text)  # the first two parts are fine; the third's is not
    bad_race["views"]["raceView"]["model"]["tolerance"] = -1
    other_rate = json.loads(text)  # the settings say one rate, the trainer trains with another
    other_rate["views"]["bostonView"]["model"]["settings"]["learning_rate"] = 0.5
    other_loss = json.loads(text)
    other_loss["views"]["bostonView"]["model"]["trainer"]["loss"] = "mae"
    ahead = json.loads(text)  # the trainer has taken more steps than the history holds
    ahead["views"]["surfaceView"]["model"]["trainer"]["step"] = 1000
    not_finished = json.loads(text)
    not_finished["views"]["surfaceView"]["model"]["finished"] = True
    racer_rate = json.loads(text)
    racer_rate["views"]["raceView"]["model"]["racers"]["adam"]["learning_rate"] = 0.5
    race_start = json.loads(text)
    race_start["views"]["raceView"]["model"]["settings"]["init"] = [100.0, 100.0]
    deep: list = []
    for _ in range(600):  # a nesting deeper than the converter of version-1 files can copy
        deep = [deep]
    huge_int = json.loads(text)
    huge_int["views"]["surfaceView"]["view"]["range"] = [10**400, 1, 2, 3]
    return {
        "truncated": text[: len(text) // 2].encode(),
        "garbage": b"{this is not json",
        "empty": b"",
        "binary": bytes(range(256)) * 4,
        "utf16": text.encode("utf-16"),
        "pickle": pickle.dumps({"format": FORMAT}),
        "other json": json.dumps({"name": "package.json", "version": "1.0.0"}).encode(),
        "json list": b"[1, 2, 3]",
        "newer": json.dumps(newer).encode(),
        "nan token": text.replace('"loss_sum": ', '"loss_sum": NaN, "x": ', 1).encode(),
        "wrong params": json.dumps(wrong_params).encode(),
        "short history": json.dumps(short_history).encode(),
        "no settings": json.dumps(no_settings).encode(),
        "bad second view": json.dumps(bad_boston).encode(),
        "no hidden units": json.dumps(no_units).encode(),
        "huge model": json.dumps(huge_mlp).encode(),
        "view not an object": json.dumps(dict(doc, views={"surfaceView": [1]})).encode(),
        "range too wide": json.dumps(bad_range).encode(),
        "huge seed": json.dumps(huge_seed).encode(),
        "bad third view": json.dumps(bad_race).encode(),
        "settings not the trainer's rate": json.dumps(other_rate).encode(),
        "settings not the trainer's loss": json.dumps(other_loss).encode(),
        "trainer ahead of history": json.dumps(ahead).encode(),
        "finished too early": json.dumps(not_finished).encode(),
        "racer not its trainer": json.dumps(racer_rate).encode(),
        "race start moved": json.dumps(race_start).encode(),
        "huge integer": json.dumps(huge_int).encode(),
        "no tab": json.dumps(dict(doc, views={})).encode(),
        "deep version 1": json.dumps(dict(doc, version=1, views={"surfaceView": {"data": deep}})).encode(),
    }


def test_every_bad_file_gets_one_line_and_changes_nothing(qtbot, window, dialogs, tmp_path):
    surface = view_of(window, SurfaceView)
    boston = view_of(window, BostonView)
    step(qtbot, surface, Unit.BATCH, 2)
    doc = _valid(tmp_path, qtbot, window)
    step(qtbot, surface, Unit.BATCH, 3)  # the window moves on from what the file holds
    window.tabs.setCurrentIndex(2)
    before = (surface_picture(surface), readouts(boston), surface.model.history.params.copy(), window.windowTitle(),
              window.tabs.currentIndex())
    experiment, history = surface.model.experiment, surface.model.history
    cases = _bad_files(tmp_path, doc)
    for name, data in cases.items():
        path = tmp_path / f"{name.replace(' ', '_')}.json"
        path.write_bytes(data)
        dialogs.warnings.clear()
        assert not window.files.open_session(str(path)), name
        assert len(dialogs.warnings) == 1, name
        title, text = dialogs.warnings[0]
        assert title == "Open session" and "\n" not in text and path.name in text, (name, text)
        assert surface.model.experiment is experiment and surface.model.history is history, name
        after = (surface_picture(surface), readouts(boston), surface.model.history.params, window.windowTitle(),
                 window.tabs.currentIndex())
        assert after[0] == before[0] and after[1] == before[1] and np.array_equal(after[2], before[2]), name
        assert after[3:] == before[3:], name
    # The messages say what is wrong, in words.
    messages = {}
    for name in ("truncated", "other json", "newer", "pickle"):
        dialogs.warnings.clear()
        window.files.open_session(str(tmp_path / f"{name.replace(' ', '_')}.json"))
        messages[name] = dialogs.warnings[0][1]
    assert "cut short" in messages["truncated"]
    assert "not a fitscope session" in messages["other json"]
    assert "newer" in messages["newer"] and str(VERSION + 1) in messages["newer"]
    assert "not a text file" in messages["pickle"]
    # Training still works where it was.
    step(qtbot, surface, Unit.BATCH)
    assert surface.model.history.steps == 6


def test_a_missing_file_or_a_folder(qtbot, window, dialogs, tmp_path):
    assert not window.files.open_session(str(tmp_path / "nowhere.json"))
    assert "no such file" in dialogs.warnings[-1][1]
    assert not window.files.open_session(str(tmp_path))
    assert len(dialogs.warnings) == 2


# --------------------------------------------------------------------------- atomic writes
def test_a_failed_save_leaves_the_old_file_intact(qtbot, window, dialogs, tmp_path, monkeypatch):
    folder = tmp_path / "out"
    folder.mkdir()
    path = folder / "keep.json"
    save(window, path)
    old = path.read_bytes()
    step(qtbot, view_of(window, SurfaceView), Unit.BATCH, 3)

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(engine_export.os, "fsync", full_disk)
    assert not window.files.save_session(str(path))
    assert dialogs.warnings[-1] == ("Save session", f"Cannot write {path}: No space left on device.")
    assert path.read_bytes() == old
    assert os.listdir(folder) == ["keep.json"]  # no temporary file left behind
    read_session(path)


def test_a_crash_while_writing_leaves_the_old_file_intact(qtbot, window, dialogs, tmp_path, monkeypatch):
    folder = tmp_path / "out"
    folder.mkdir()
    path = folder / "keep.json"
    save(window, path)
    old = path.read_bytes()
    real_open = open
    written = []

    class Crash(BaseException):
        pass

    class Dying:
        """A file that dies half-way through the write, as a process killed mid-save."""

        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[: len(data) // 2])
            written.append(self.f.name)
            raise Crash

        def __getattr__(self, name):
            return getattr(self.f, name)

    def dying_open(file, mode="r", *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        temporary = isinstance(file, int) or str(file).endswith(".tmp")  # the writer opens its temporary file's fd
        return Dying(f) if "w" in mode and temporary else f

    monkeypatch.setattr("builtins.open", dying_open)
    with pytest.raises(Crash):
        window.files.save_session(str(path))
    monkeypatch.undo()
    assert written and path.read_bytes() == old
    assert os.listdir(folder) == ["keep.json"]


def test_an_unwritable_destination_gets_one_line(qtbot, window, dialogs, tmp_path):
    assert not window.files.save_session(str(tmp_path / "no" / "such" / "folder.json"))
    title, text = dialogs.warnings[-1]
    assert title == "Save session" and text.startswith("Cannot write") and "\n" not in text
    assert not window.files.save_session(str(tmp_path))  # a folder
    assert "it is a folder" in dialogs.warnings[-1][1]


def test_the_file_is_plain_strict_json(qtbot, window, dialogs, tmp_path):
    view = view_of(window, SurfaceView)
    diverge(qtbot, view)
    path = tmp_path / "strict.json"
    save(window, path)

    def refuse(token):
        raise AssertionError(f"bare {token} in the file")

    doc = json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)
    assert doc["format"] == FORMAT and doc["version"] == VERSION
    assert set(doc["views"]) == {"surfaceView", "bostonView", "raceView"}
    part = doc["views"]["surfaceView"]
    assert part["model"]["data"] == {"builtin": "download-time"}
    assert {"settings", "start", "trainer", "history", "finished"} <= set(part["model"])
    assert {"range", "log_scale", "speed", "chosen"} <= set(part["view"])


# --------------------------------------------------------------------------- all or nothing, and old files
def test_a_fault_while_swapping_in_puts_every_tab_back(qtbot, window, dialogs, tmp_path, monkeypatch):
    """A fault of fitscope's own (not of the file) while the tabs take the session: every tab is as it was,
    and the message says it was fitscope that failed."""
    surface, race = view_of(window, SurfaceView), view_of(window, RaceView)
    step(qtbot, surface, Unit.BATCH, 2)
    path = tmp_path / "good.json"
    save(window, path)
    step(qtbot, surface, Unit.BATCH, 3)
    before = (surface.model, surface_picture(surface), race.model, surface.surface.visible_range())

    def broken(self, state):
        raise RuntimeError("a fault in the race tab")

    monkeypatch.setattr(RaceView, "apply_view_state", broken)
    assert not window.files.open_session(str(path))
    title, text = dialogs.warnings[-1]
    assert "fitscope failed" in text and "RuntimeError" in text and "every tab is as it was" in text
    assert "\n" not in text and "damaged" not in text
    assert surface.model is before[0] and race.model is before[2]
    assert surface_picture(surface) == before[1]
    assert surface.surface.visible_range() == pytest.approx(before[3])
    step(qtbot, surface, Unit.BATCH)  # and the tab trains on
    assert surface.model.history.steps == 6


def test_a_fault_while_reading_is_not_called_a_damaged_file(qtbot, window, dialogs, tmp_path, monkeypatch):
    path = tmp_path / "good.json"
    save(window, path)
    from fitscope.gui.models.multi import MultiRun

    def broken(cls, state, current=None):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(MultiRun, "from_state", classmethod(broken))
    model = view_of(window, SurfaceView).model
    assert not window.files.open_session(str(path))
    text = dialogs.warnings[-1][1]
    assert "fitscope failed while reading it" in text and "ZeroDivisionError" in text and "damaged" not in text
    assert view_of(window, SurfaceView).model is model


def test_saving_runs_no_nested_event_loop(qtbot, window, dialogs, tmp_path, monkeypatch):
    """While the file is taken and written, no event loop runs inside the save: no click, key or timer can
    reach the window in the middle of it (a run that was going is paused, then goes on)."""
    from PySide6.QtCore import QThread

    import fitscope.gui.files as files

    view = view_of(window, SurfaceView)
    view.control("epochs").setValue(100_000)
    view.speed.setValue(view.speed.maximum())
    view.toggle_run()
    qtbot.waitUntil(lambda: view.model.history.steps > 5, timeout=10_000)
    levels = []
    real = files.write_session

    def write(*args, **kwargs):
        levels.append(QThread.currentThread().loopLevel())
        return real(*args, **kwargs)

    monkeypatch.setattr(files, "write_session", write)
    outside = QThread.currentThread().loopLevel()
    save(window, tmp_path / "s.json")
    assert levels == [outside]
    assert view.controller.running
    view.toggle_run()
    idle(qtbot, view)


def test_a_session_saved_by_fitscope_0_1_opens_and_goes_on_as_it_did(qtbot, window, dialogs):
    """tests/data/session-v1.json was saved by fitscope 0.1 (session version 1) with the surface tab between
    two phases, a learning rate changed mid-run, Boston with Adam chosen mid-run, and a race of three;
    session-v1-next.json holds what that app did next. This one does the same, bit for bit."""
    from pathlib import Path

    data = Path(__file__).parent / "data"
    expected = json.loads((data / "session-v1-next.json").read_text())
    assert window.files.open_session(str(data / "session-v1.json")), dialogs.warnings
    surface, boston, race = (view_of(window, cls) for cls in (SurfaceView, BostonView, RaceView))
    assert window.current_view() is boston
    assert surface.model.settings.learning_rate == 0.02 == surface.control("learning_rate").value()
    assert surface.model.history.last_step.phase.name == "FORWARD" and surface.model.chosen == 4
    assert boston.model.settings.optimizer == "adam" == boston.control("optimizer").currentData()
    assert race.model.keys == ["sgd", "momentum", "adam"] and race.model.racers["adam"].learning_rate == 0.05
    for _ in range(3):
        step(qtbot, surface, Unit.PHASE)
    step(qtbot, surface, Unit.BATCH, 2)
    step(qtbot, boston, Unit.BATCH)
    step(qtbot, boston, Unit.EPOCH)
    step(qtbot, race, Unit.BATCH, 2)
    assert surface.model.history.params.tolist() == expected["surface"]
    assert int(surface.model.history.last_step.phase) == expected["surface_phase"]
    assert boston.model.history.params[-1].tolist() == expected["boston"]
    assert boston.model.history.steps == expected["boston_steps"]
    assert np.array_equal(boston.model.history.epochs, np.array(expected["boston_epochs"]), equal_nan=True)
    assert [h.params.tolist() for h in race.model.histories] == expected["race"]


def test_a_session_is_never_written_over_the_data_a_tab_reads(qtbot, window, dialogs, tmp_path):
    csv = tmp_path / "mine.csv"
    csv.write_text("x,y\n" + "".join(f"{i},{2 * i + 1}\n" for i in range(20)))
    before = csv.read_bytes()
    view_of(window, SurfaceView).set_dataset(load_csv(csv))
    assert not window.files.save_session(str(csv))
    title, text = dialogs.warnings[-1]
    assert title == "Save session" and "mine.csv" in text and "\n" not in text
    assert csv.read_bytes() == before


def test_run_again_after_a_divergence_opened_from_a_session(qtbot, window, tmp_path):
    """A session saved at a divergence, opened, and Run pressed at the same rate: the same divergence again, a
    report of its own, drawn without a hitch (the chart compared the two reports, arrays and all, to tell
    whether to redraw: an error, seen by the monkey)."""
    view = window.boston_view
    window.tabs.setCurrentWidget(view)
    view.change(learning_rate=5.0)
    view.speed.setValue(view.speed.maximum())
    view.commands["run"].trigger()
    qtbot.waitUntil(lambda: not view.controller.busy and view.model.history.diverged is not None, timeout=30_000)
    path = tmp_path / "diverged.json"
    assert window.files.save_session(str(path))
    assert window.files.open_session(str(path))
    window.tabs.setCurrentIndex(0)  # (nothing drawn on the Boston tab until the run stops)
    view.commands["run"].trigger()
    qtbot.waitUntil(lambda: not view.controller.busy, timeout=30_000)
    h = view.model.history
    assert h.diverged is not None
    window.tabs.setCurrentWidget(view)
    view.redraw()
    assert "kept at the divergence" in view.pred_panel.plot.titleLabel.text
