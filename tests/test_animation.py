"""Animations of every training tab (File > Export > Animation…) and of a CLI run (``fitscope fit --animate``):
the GIFs decoded with Pillow (frames, size, the first and last frames' corner labels), the CLI's bad options
and targets (one line, exit status 2, no file)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from fitscope.engine.cli import build_parser
from fitscope.engine.cli import main as cli_main
from fitscope.engine.cli.common import run_from_args
from fitscope.gui import animation
from fitscope.gui.views.backprop_view import BackpropView
from fitscope.gui.views.boston_view import BostonView
from fitscope.gui.views.race_view import COLOURS, RaceView
from fitscope.gui.views.surface_view import SurfaceView
from fitscope.gui.worker import Unit


def tab(window, kind):
    view = next(v for v in window.views if isinstance(v, kind))
    window.tabs.setCurrentWidget(view)
    return view


def train(qtbot, view, epochs: int) -> None:
    for _ in range(epochs):
        view.step(Unit.EPOCH)
        qtbot.waitUntil(lambda: not view.controller.busy, timeout=30_000)
    view.redraw()


def gif_frames(path) -> list[Image.Image]:
    with Image.open(path) as gif:
        assert gif.format == "GIF"
        frames = []
        for i in range(gif.n_frames):
            gif.seek(i)
            frames.append(gif.convert("RGB"))
        return frames


def label_crop(image: Image.Image, text: str) -> np.ndarray:
    r = animation.label_rect(text, image.height)
    box = (int(r.left()), int(r.top()), int(r.right()) + 1, int(r.bottom()) + 1)
    return np.asarray(image.convert("L").crop(box), dtype=float)


def shows_label(frame: Image.Image, text: str) -> bool:
    """Whether the frame's corner label reads ``text`` (its pixels against the label drawn alone on white)."""
    alone = QImage(*frame.size, QImage.Format.Format_RGB32)
    alone.fill(Qt.GlobalColor.white)
    animation.draw_label(alone, text)
    expected = label_crop(animation.to_pil(alone), text)
    return float(np.abs(label_crop(frame, text) - expected).mean()) < 3.0


def export_gif(qtbot, view, spec, path) -> list[Image.Image]:
    job = animation.AnimationExport(view.model, spec, path, view.window())
    with qtbot.waitSignal(job.finished, timeout=60_000) as blocker:
        job.start()
    assert blocker.args == [True] and job.error == ""
    return gif_frames(path)


def pixels_of(frame: Image.Image, colour: str) -> int:
    """How many pixels of ``frame`` are within a few levels of ``colour`` (``"#rrggbb"``)."""
    rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(np.asarray(frame, dtype=int) - rgb).max(axis=2) <= 12).sum())


# --------------------------------------------------------------------------- every training tab
def test_every_training_tab_offers_an_animation_and_the_backprop_tab_none(qtbot, window):
    for kind, offered in ((SurfaceView, True), (BostonView, True), (RaceView, True), (BackpropView, False)):
        tab(window, kind)
        window.files.fill_export_menu()
        action = next(a for a in window.files.export_menu.actions() if a.text().replace("&", "") == "Animation…")
        assert action.isEnabled() == offered, kind.__name__


def test_the_boston_animation_grows_the_loss_curves(qtbot, window, tmp_path):
    view = tab(window, BostonView)
    train(qtbot, view, 3)
    run = view.model
    last = run.history.steps
    spec = animation.AnimationSpec(first=0, last=last, fps=8, frames=9, width=640, height=420)
    frames = export_gif(qtbot, view, spec, tmp_path / "boston.gif")
    assert len(frames) == 9 and all(f.size == (640, 420) for f in frames)
    first, final = animation.frame_label(run, 0), animation.frame_label(run, last)
    assert first.startswith("step 0 · training loss") and final.startswith(f"step {last:,} · training loss")
    assert shows_label(frames[0], first) and not shows_label(frames[0], final)
    assert shows_label(frames[-1], final) and not shows_label(frames[-1], first)
    training_blue = "#1e88e5"  # the training curve (the chart's legend has a short stroke of it in every frame)
    assert pixels_of(frames[-1], training_blue) > pixels_of(frames[0], training_blue) + 200
    assert os.listdir(tmp_path) == ["boston.gif"]


def test_the_race_animation_grows_every_racers_path(qtbot, window, tmp_path):
    view = tab(window, RaceView)
    train(qtbot, view, 12)
    run = view.model
    last = run.steps
    spec = animation.AnimationSpec(first=0, last=last, fps=10, frames=6, width=560, height=440)
    frames = export_gif(qtbot, view, spec, tmp_path / "race.gif")
    assert len(frames) == 6 and all(f.size == (560, 440) for f in frames)
    first, final = animation.frame_label(run, 0), animation.frame_label(run, last)
    assert first.startswith("step 0 · training loss")
    assert final.startswith(f"step {last:,} · lowest loss") and final.endswith(")")
    assert shows_label(frames[0], first) and not shows_label(frames[0], final)
    assert shows_label(frames[-1], final) and not shows_label(frames[-1], first)
    for key in ("sgd", "momentum"):  # the two that move far at tfjs's rates: their paths are drawn
        assert pixels_of(frames[-1], COLOURS[key]) > pixels_of(frames[0], COLOURS[key]) + 100, key


def test_a_tab_without_steps_asks_to_train_first(qtbot, window, monkeypatch):
    view = tab(window, RaceView)
    said = []
    monkeypatch.setattr(animation.QMessageBox, "information", staticmethod(lambda *a, **k: said.append(a[2])))
    assert animation.ask_and_export_animation(view) is None
    assert said == ["Train first: the animation shows the recorded steps."]


# --------------------------------------------------------------------------- the CLI
def cli(*argv: str, capsys) -> tuple[int, str, str]:
    status = cli_main(["fit", "--quiet", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def trained(*argv: str):
    """The run ``fitscope fit ARGV`` trains, trained here (to know its frames' labels)."""
    run = run_from_args(build_parser().parse_args(["fit", *argv]))
    for report in run.experiment.trainer.run():
        run.history.add(report)
    return animation.surface_of(run)


def test_fit_animate_writes_the_surface_gif_asked_for(tmp_path, capsys, qapp):
    options = ("--epochs", "6", "--batch-size", "5", "--seed", "3")
    status, out, err = cli(*options, "--animate", str(tmp_path / "run.gif"), "--frames", "8", "--fps", "4",
                           "--size", "400x300", "--history", str(tmp_path / "h.csv"), capsys=capsys)
    assert status == 0 and err == "" and "final training loss" in out
    frames = gif_frames(tmp_path / "run.gif")
    assert len(frames) == 8 and all(f.size == (400, 300) for f in frames)
    with Image.open(tmp_path / "run.gif") as gif:
        assert gif.info["duration"] == 250
    run = trained(*options)
    first, final = animation.frame_label(run, 0), animation.frame_label(run, run.history.steps)
    assert shows_label(frames[0], first) and not shows_label(frames[0], final)
    assert shows_label(frames[-1], final) and not shows_label(frames[-1], first)
    assert sorted(os.listdir(tmp_path)) == ["h.csv", "run.gif"]


def test_fit_animate_of_a_short_run_holds_every_step(tmp_path, capsys, qapp):
    status, out, _ = cli("--epochs", "1", "--batch-size", "5", "--animate", str(tmp_path / "a.gif"), capsys=capsys)
    steps = trained("--epochs", "1", "--batch-size", "5").history.steps
    assert status == 0 and len(gif_frames(tmp_path / "a.gif")) == steps + 1 < 100  # default 100 frames
    status, out, _ = cli("--epochs", "1", "--batch-size", "5", "--animate", str(tmp_path / "b.gif"), "--frames",
                         "500", capsys=capsys)
    assert status == 0 and f"the animation holds {steps + 1:,} frames" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["--frames", "5"], "error: --frames applies to --animate only"),
    (["--animate", "{dir}/a.gif", "--size", "big"], "error: argument --size: takes WIDTHxHEIGHT in pixels"),
    (["--animate", "{dir}/a.gif", "--size", "100x50"], "error: --animate: an animation is 160 to 1,920 pixels"),
    (["--animate", "{dir}/a.gif", "--fps", "0"], "error: argument --fps: must be a rate from 1 to 50"),
    (["--animate", "{dir}/a.gif", "--frames", "900"], "error: --animate: at 800 × 600 pixels an animation holds "
                                                      "at most 833 frames"),
    (["--animate", "{dir}/a.gif", "--data", "boston-housing"], "error: --animate: an animation shows the loss "
                                                               "surface of one-feature data, and this data has 12"),
    (["--animate", "{dir}/a.gif", "--model", "mlp"], "error: --animate: an animation shows the loss surface of a "
                                                     "linear model"),
    (["--animate", "{dir}/no/such/folder/a.gif"], "error: cannot write"),
    (["--animate", "{dir}/h.csv"], "error: "),  # the same file as --history
])
def test_fit_animates_bad_options_and_targets_are_one_line_and_no_file(tmp_path, capsys, qapp, argv, message):
    argv = [a.replace("{dir}", str(tmp_path)) for a in argv]
    status, _, err = cli("--epochs", "2", "--history", str(tmp_path / "h.csv"), *argv, capsys=capsys)
    assert status == 2 and err.startswith(message) and err.count("\n") == 1
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------- MP4 (the optional video extra)
needs_mp4 = pytest.mark.skipif(not animation.mp4_available(),
                               reason="no MP4 encoder: the optional video extra (imageio-ffmpeg) is not installed")


def mp4_frames(path) -> tuple[int, tuple[int, int]]:
    """How many frames the MP4 at ``path`` holds, and their size."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    reader.close()
    return imageio_ffmpeg.count_frames_and_secs(str(path))[0], tuple(meta["size"])


def leftover_videos() -> list[str]:
    import glob
    import tempfile

    return glob.glob(os.path.join(tempfile.gettempdir(), "fitscope-video-*"))


@needs_mp4
def test_an_mp4_of_a_tab_has_the_frames_and_size_asked_for(qtbot, window, tmp_path):
    view = tab(window, BostonView)
    train(qtbot, view, 2)
    spec = animation.AnimationSpec(0, view.model.history.steps, 12, 10, 480, 360)
    job = animation.AnimationExport(view.model, spec, tmp_path / "boston.mp4", window)
    with qtbot.waitSignal(job.finished, timeout=60_000) as blocker:
        job.start()
    assert blocker.args == [True] and job.error == ""
    assert mp4_frames(tmp_path / "boston.mp4") == (10, (480, 360))
    assert os.listdir(tmp_path) == ["boston.mp4"] and leftover_videos() == []


@needs_mp4
def test_a_cancelled_mp4_writes_nothing_and_stops_its_encoder(qtbot, window, tmp_path):
    view = tab(window, SurfaceView)
    view.control("batch_size").setValue(4)
    train(qtbot, view, 10)
    job = animation.AnimationExport(view.model, animation.AnimationSpec(0, 50, 10, 40, 320, 240),
                                    tmp_path / "a.mp4", window)
    job.frameDone.connect(lambda n: job.cancel() if n == 5 else None)
    with qtbot.waitSignal(job.finished, timeout=60_000) as blocker:
        job.start()
    assert blocker.args == [False] and job.error == ""
    assert os.listdir(tmp_path) == [] and leftover_videos() == []


@needs_mp4
def test_fit_animate_writes_an_mp4_for_an_mp4_name(tmp_path, capsys, qapp):
    status, _, err = cli("--epochs", "4", "--batch-size", "5", "--animate", str(tmp_path / "run.mp4"), "--frames",
                         "6", "--size", "321x241", capsys=capsys)
    assert status == 0 and err == ""
    assert mp4_frames(tmp_path / "run.mp4") == (6, (322, 242))  # H.264 wants even sizes: one white column and row


def test_fit_animate_to_mp4_without_an_encoder_is_one_line(tmp_path, capsys, qapp, monkeypatch):
    monkeypatch.setattr(animation, "mp4_available", lambda: False)
    status, _, err = cli("--epochs", "2", "--animate", str(tmp_path / "run.mp4"), capsys=capsys)
    assert status == 2 and err.count("\n") == 1
    assert err.startswith("error: --animate: MP4 needs the optional video encoder (pip install 'fitscope[video]')")
    assert os.listdir(tmp_path) == []


def test_fit_animate_when_qt_cannot_start_is_one_line(tmp_path, capsys, monkeypatch):
    def broken():
        raise RuntimeError("could not connect to display :99")

    monkeypatch.setattr(animation, "start_qt", broken)
    status, _, err = cli("--epochs", "2", "--animate", str(tmp_path / "run.gif"), capsys=capsys)
    assert (status, err) == (2, "error: --animate draws with Qt, which cannot start here: could not connect to "
                                "display :99\n")
    assert os.listdir(tmp_path) == []


def test_the_cli_imports_qt_only_for_an_animation():
    import subprocess
    import sys

    code = ("import sys, fitscope.engine.cli, fitscope.engine.cli.fit\n"
            "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
