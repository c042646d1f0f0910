"""What the app remembers between runs (QSettings): the window, the tab, the last folder, each view's settings;
and a damaged settings file never stops it from starting."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings

from fitscope.engine.data import load_builtin, load_csv
from fitscope.engine.run import dataset_key
from fitscope.engine.settings import settings_to_json
from fitscope.gui import prefs
from fitscope.gui.app import MainWindow
from fitscope.gui.models.surface import drawn_init


def new_window(qtbot) -> MainWindow:
    w = MainWindow()
    qtbot.addWidget(w)
    with qtbot.waitExposed(w):
        w.show()
    return w


def view_of(window, cls):
    return next(v for v in window.views if isinstance(v, cls))


def test_each_tabs_settings_are_remembered_and_used(qtbot):
    w = new_window(qtbot)
    s = w.surface_view
    s.set_control("loss", "mse")
    s.set_control("optimizer", "adam")
    s.control("learning_rate").setValue(0.125)
    s.control("batch_size").setValue(7)
    s.control("epochs").setValue(42)
    s.control("seed").setValue(9)
    s.speed.setValue(2)
    b = w.boston_view
    b.control("model").setCurrentIndex(2)
    b.control("normalize").setChecked(False)
    b.set_control("optimizer", "rmsprop")
    b.control("learning_rate").setValue(0.003)
    b.control("validation_split").setValue(0.3)
    r = w.race_view
    r.enabled["momentum"].setChecked(False)
    r.options["adam"]["beta1"].setValue(0.8)
    r.control("tolerance").setValue(0.05)
    w.close()

    again = new_window(qtbot)
    s2 = again.surface_view
    assert (s2.control("loss").currentData(), s2.control("optimizer").currentData(),
            s2.control("learning_rate").value(), s2.control("batch_size").value(), s2.control("epochs").value(),
            s2.control("seed").value(), s2.speed.value()) == ("mse", "adam", 0.125, 7, 42, 9, 2)
    assert s2.speed_label.text() == "5 batches/s"
    settings = s2.model.experiment.settings  # the run uses them, and starts from the seed's draw
    assert (settings.optimizer, settings.learning_rate, settings.batch_size, settings.loss, settings.seed) == (
        "adam", 0.125, 7, "mse", 9)
    assert s2.model.trainer.optimizer.name == "adam"
    assert settings.init == drawn_init(9)
    b2 = again.boston_view
    assert b2.control("model").currentIndex() == 2 and not b2.control("normalize").isChecked()
    assert b2.model.settings.model == "mlp" and b2.model.settings.hidden == (50, 50) and not b2.model.settings.normalize
    assert b2.model.settings.optimizer == "rmsprop" and b2.model.settings.learning_rate == 0.003
    assert b2.model.settings.validation_split == 0.3
    r2 = again.race_view
    assert r2.model.keys == ["sgd", "rmsprop", "adam"] and r2.model.race.trainers[-1].optimizer.beta1 == 0.8
    assert r2.control("tolerance").value() == 0.05


def test_settings_of_ones_own_data_never_reach_the_books_data(qtbot, tmp_path):
    """Settings are remembered per data set: a CSV's do not come back for Boston Housing or download-time."""
    path = tmp_path / "rooms.csv"
    path.write_text("a,b,c\n" + "".join(f"{i},{i * i % 7},{2 * i + 1}\n" for i in range(30)))
    one = tmp_path / "area.csv"
    one.write_text("area,price\n" + "".join(f"{i},{3 * i + 2}\n" for i in range(30)))
    w = new_window(qtbot)
    w.show_dataset(load_csv(path))
    w.boston_view.control("epochs").setValue(100_000)
    w.show_dataset(load_csv(one))
    w.surface_view.control("learning_rate").setValue(0.00003)
    w.close()

    again = new_window(qtbot)
    book = load_builtin("boston-housing").defaults
    assert again.boston_view.model.settings == book  # the book's 200 epochs, not the CSV's 100,000
    assert again.surface_view.model.settings.learning_rate == 0.01
    again.show_dataset(load_csv(path))  # the CSV's own settings come back with it
    assert again.boston_view.model.settings.epochs == 100_000
    again.show_dataset(load_csv(one))
    assert again.surface_view.model.settings.learning_rate == 0.00003
    again.show_dataset(load_builtin("boston-housing"), book=True)
    assert again.boston_view.model.settings == book


def test_a_changed_csv_does_not_take_the_old_files_settings(qtbot, tmp_path):
    path = tmp_path / "rooms.csv"
    path.write_text("a,b,c\n" + "".join(f"{i},{i % 5},{2 * i + 1}\n" for i in range(30)))
    w = new_window(qtbot)
    w.show_dataset(load_csv(path))
    w.boston_view.control("epochs").setValue(1234)
    w.close()
    path.write_text("a,b,c\n" + "".join(f"{i},{i % 5},{2 * i + 9}\n" for i in range(30)))  # other numbers
    again = new_window(qtbot)
    again.show_dataset(load_csv(path))
    assert again.boston_view.model.settings.epochs == 200


def test_book_settings_command_restores_the_books_settings(qtbot):
    w = new_window(qtbot)
    b = w.boston_view
    b.control("learning_rate").setValue(0.5)
    b.control("normalize").setChecked(False)
    b.commands["book_settings"].trigger()
    assert b.model.settings == load_builtin("boston-housing").defaults
    assert b.control("normalize").isChecked() and b.control("learning_rate").value() == 0.01
    s = w.surface_view
    s.control("epochs").setValue(5)
    s.commands["book_settings"].trigger()
    assert s.model.settings.epochs == 200 and s.control("epochs").value() == 200


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
    settings.setValue("views/bostonView", '{"speed": "fast"}')
    settings.setValue("views/raceView", "[1, 2, 3]")
    boston = dataset_key(load_builtin("boston-housing"))
    prefs.save_for_data("bostonView", boston, {"settings": {"learning_rate": "fast", "model": 99}})
    prefs.save_for_data("raceView", dataset_key(load_builtin("download-time")), {"racers": [1, 2]})
    settings.sync()
    w = new_window(qtbot)
    assert w.tabs.currentIndex() == 0
    b = w.boston_view
    assert b.model.settings == load_builtin("boston-housing").defaults
    assert b.control("model").currentIndex() == 0 and b.control("normalize").isChecked()
    assert isinstance(prefs.last_folder(), str)
    assert w.race_view.model.keys == ["sgd", "momentum", "rmsprop", "adam"]


def test_out_of_range_remembered_settings_are_ignored_whole(qtbot):
    surface = dataset_key(load_builtin("download-time"))
    good = settings_to_json(load_builtin("download-time").defaults)
    prefs.save_for_data("surfaceView", surface, {"settings": {**good, "batch_size": 100000, "learning_rate": 1e9}})
    w = new_window(qtbot)
    s = w.surface_view
    assert s.model.settings.learning_rate == 0.01 and s.control("learning_rate").value() == 0.01
    assert s.model.settings.batch_size == 20 == s.control("batch_size").value()


def test_remembered_settings_say_so_and_book_settings_are_one_command_away(qtbot):
    w = new_window(qtbot)
    w.boston_view.control("learning_rate").setValue(0.05)
    w.close()
    again = new_window(qtbot)
    b = again.boston_view
    assert b.model.settings.learning_rate == 0.05
    assert b.message.isVisibleTo(b) and "from last time" in b.message.text() and "Book settings" in b.message.text()
    s = again.surface_view  # untouched: the book's settings, and nothing said
    assert not s.message.isVisibleTo(s)
    b.commands["book_settings"].trigger()
    assert b.model.settings.learning_rate == 0.01 and not b.message.isVisibleTo(b)
    r = again.race_view
    r.commands["book_settings"].trigger()
    assert r.model.keys == ["sgd", "momentum", "rmsprop", "adam"] and r.model.tolerance == 0.01


def test_a_tab_number_that_is_no_number_never_stops_the_app(qtbot):
    QSettings().setValue("window/tab", "³")  # a digit to str.isdigit, no number to int()
    w = new_window(qtbot)
    assert w.tabs.currentIndex() == 0


def test_remembered_settings_a_tab_cannot_show_are_ignored(qtbot):
    boston = dataset_key(load_builtin("boston-housing"))
    good = settings_to_json(load_builtin("boston-housing").defaults)
    for odd in ({"model": "mlp", "hidden": [3, 3, 3]}, {"activation": "relu"}, {"loss": "mae"}, {"epochs": 0}):
        prefs.save_for_data("bostonView", boston, {"settings": {**good, **odd}})
        w = new_window(qtbot)
        assert w.boston_view.model.settings == load_builtin("boston-housing").defaults, odd
        w.close()
