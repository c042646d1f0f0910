"""What the app remembers between runs (QSettings): the window, the tab, the last folder, each view's settings;
and a damaged settings file never stops it from starting."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings

from fitscope.gui import prefs
from fitscope.gui.app import MainWindow
from fitscope.gui.views.boston_view import BostonView
from fitscope.gui.views.race_view import RaceView
from fitscope.gui.views.surface_view import SurfaceView


def new_window(qtbot) -> MainWindow:
    w = MainWindow()
    qtbot.addWidget(w)
    with qtbot.waitExposed(w):
        w.show()
    return w


def view_of(window, cls):
    return next(v for v in window.views if isinstance(v, cls))


def test_each_views_settings_are_remembered_and_used(qtbot):
    w = new_window(qtbot)
    s = view_of(w, SurfaceView)
    s.loss_function.setCurrentIndex(s.loss_function.findData("mse"))
    s.optimizer.setCurrentIndex(s.optimizer.findData("adam"))
    s.learning_rate.setValue(0.125)
    s.batch_size.setValue(7)
    s.epochs.setValue(42)
    s.seed.setValue(9)
    s.speed.setValue(2)
    b = view_of(w, BostonView)
    b.model_choice.setCurrentIndex(2)
    b.normalize.setChecked(False)
    b.optimizer.setCurrentIndex(b.optimizer.findData("rmsprop"))
    b.learning_rate.setValue(0.003)
    b.validation_split.setValue(0.3)
    r = view_of(w, RaceView)
    r.enabled["momentum"].setChecked(False)
    r.options["adam"]["beta1"].setValue(0.8)
    r.tolerance.setValue(0.05)
    w.close()

    again = new_window(qtbot)
    s2 = view_of(again, SurfaceView)
    assert (s2.loss_function.currentData(), s2.optimizer.currentData(), s2.learning_rate.value(),
            s2.batch_size.value(), s2.epochs.value(), s2.seed.value(), s2.speed.value()) == (
        "mse", "adam", 0.125, 7, 42, 9, 2)
    assert s2.speed_label.text() == "5 batches/s"
    settings = s2.experiment.settings  # the run uses them, and starts from the seed's draw
    assert (settings.optimizer, settings.learning_rate, settings.batch_size, settings.loss, settings.seed) == (
        "adam", 0.125, 7, "mse", 9)
    assert s2.experiment.trainer.optimizer.name == "adam"
    assert settings.init == s2._draw_init(9)
    b2 = view_of(again, BostonView)
    assert b2.model_choice.currentIndex() == 2 and not b2.normalize.isChecked()
    assert b2.settings.model == "mlp" and b2.settings.hidden == (50, 50) and not b2.settings.normalize
    assert b2.settings.optimizer == "rmsprop" and b2.settings.learning_rate == 0.003
    assert b2.settings.validation_split == 0.3
    r2 = view_of(again, RaceView)
    assert r2.keys == ["sgd", "rmsprop", "adam"] and r2.race.trainers[-1].optimizer.beta1 == 0.8
    assert r2.tolerance.value() == 0.05


def test_window_geometry_and_tab_are_remembered(qtbot):
    w = new_window(qtbot)
    w.resize(801, 603)  # within the offscreen screen: restoreGeometry keeps a window on its screen
    w.tabs.setCurrentIndex(2)
    size = w.size()
    w.close()
    again = new_window(qtbot)
    assert again.tabs.currentIndex() == 2
    # The offscreen screen is ~800 pixels wide, the window's least width about that: compare the height.
    assert again.height() == size.height() == 603


def test_the_last_folder_is_remembered(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    prefs.remember_folder(folder / "file.csv")
    assert prefs.last_folder() == str(folder)
    assert prefs.suggested_path("x.png") == str(folder / "x.png")
    folder.rmdir()  # gone since: back to the home folder
    assert prefs.last_folder() != str(folder)


def test_damaged_settings_are_ignored(qtbot):
    settings = QSettings()
    settings.setValue("window/geometry", "not a geometry")
    settings.setValue("window/state", QByteArray(b"\x00garbage"))
    settings.setValue("window/tab", "seven")
    settings.setValue("files/last_folder", 42)
    settings.setValue("views/surfaceView", "{not json")
    settings.setValue("views/bostonView", '{"learning_rate": "fast", "model": 99, "normalize": "yes", '
                                          '"batch_size": 1e400, "seed": -5, "epochs": 3.5}')
    settings.setValue("views/raceView", "[1, 2, 3]")
    settings.sync()
    w = new_window(qtbot)
    assert w.tabs.currentIndex() == 0
    b = view_of(w, BostonView)
    assert b.model_choice.currentIndex() == 0 and b.normalize.isChecked() and b.seed.value() == 0
    assert b.settings == b.settings_from_controls()
    assert isinstance(prefs.last_folder(), str)
    assert view_of(w, RaceView).keys == ["sgd", "momentum", "rmsprop", "adam"]


def test_out_of_range_values_are_clamped_by_the_controls(qtbot):
    QSettings().setValue("views/surfaceView", '{"batch_size": 100000, "learning_rate": 1e9, "loss": "hinge"}')
    w = new_window(qtbot)
    s = view_of(w, SurfaceView)
    assert s.batch_size.value() == s.batch_size.maximum()
    assert s.learning_rate.value() == s.learning_rate.maximum()
    assert s.loss_function.currentData() in ("mse", "mae")
    assert s.experiment.settings.batch_size == s.batch_size.value()
