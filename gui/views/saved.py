"""What a training tab keeps: its part of a session, and what it remembers between launches.

- :class:`SessionPart`: its model's state and the view's own (the map's range, the log scale, the speed), read
  and checked whole before anything changes, then swapped in. A tab adds its own fields by overriding
  :meth:`SessionPart.view_state`, :meth:`SessionPart.check_view_state` and :meth:`SessionPart.apply_view_state`.
- :class:`Remembered`: the settings last used for each data set, and the speed, kept in the preferences.

Both are written once for every :class:`~fitscope.gui.views.base.TrainingView`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fitscope.engine.run import dataset_key
from fitscope.gui import prefs
from fitscope.gui.session import bool_value, range_field
from fitscope.gui.views.controls import SPEEDS


@dataclass(frozen=True)
class Prepared:
    """A tab's part of a session, read and checked, ready to be swapped in (:meth:`SessionPart.apply`)."""

    model: Any
    view: dict


class SessionPart:
    """The session methods of a training tab (a mixin of :class:`~fitscope.gui.views.base.TrainingView`, which
    provides ``model``, ``MODEL``, ``title``, ``speed``, ``DEFAULT_SPEED``, ``bind`` and ``refresh``)."""

    def session_state(self) -> dict:
        """This tab's part of a session: its model's state and its own (take it while training is paused)."""
        return {"model": self.model.state(), "view": self.view_state()}

    def prepare(self, part: Any) -> Prepared:
        """Read and check this tab's part of a session; nothing changes (:class:`ValueError` if bad)."""
        if not isinstance(part, dict) or not isinstance(part.get("view"), dict):
            raise ValueError(f"its part for the {self.title} tab is malformed")
        model = self.MODEL.from_state(part.get("model"), self.model.dataset)
        return Prepared(model, self.check_view_state(part["view"], model))

    def apply(self, prepared: Prepared) -> None:
        """Swap in a prepared part (cannot fail for a reason of the file's: everything was checked)."""
        self.bind(prepared.model)
        self.apply_view_state(prepared.view)

    #: The tab's map (a SurfacePanel) and loss chart (a panel with a Log scale box), whose range and log scale
    #: a session keeps; set by the subclass.
    map_panel: Any = None
    loss_chart: Any = None

    def view_state(self) -> dict:
        """What a session keeps of this tab besides its model: the map's range, the log scale, the speed."""
        return {"speed": self.speed.value(), "range": list(self.map_panel.visible_range()),
                "log_scale": self.loss_chart.log_scale.isChecked()}

    def check_view_state(self, state: dict, model: Any) -> dict:
        """``state`` checked for ``model`` (:class:`ValueError` if bad); returns what :meth:`apply_view_state`
        takes."""
        speed = state.get("speed", self.DEFAULT_SPEED)
        if type(speed) is not int or not 0 <= speed < len(SPEEDS):
            raise ValueError("the speed is out of range")
        return {"speed": speed, "range": range_field(state.get("range")),
                "log_scale": bool_value(state.get("log_scale"), "the log scale")}

    def apply_view_state(self, state: dict) -> None:
        """Put the view's own state back (the model is bound already)."""
        self.speed.setValue(state["speed"])
        self.loss_chart.log_scale.setChecked(state["log_scale"])
        self.map_panel.set_range(*state["range"])
        self.range_restored()
        self.refresh()

    def range_restored(self) -> None:
        """The map's range was set from a session: recompute what depends on it."""


class Remembered:
    """What a training tab remembers between launches (a mixin of :class:`~fitscope.gui.views.base.TrainingView`,
    which provides ``model``, ``speed`` and ``show_message``)."""

    def remember(self) -> None:
        """Remember this tab's settings for its data set, and its own values (the speed)."""
        prefs.save_for_data(self.objectName(), dataset_key(self.model.dataset), self.model.preferences())
        prefs.save_view_settings(self.objectName(), {"speed": self.speed.value()})

    def recall(self) -> None:
        """Take up what was remembered: the speed, and the settings last used for the data set shown."""
        speed = prefs.view_settings(self.objectName()).get("speed")
        if type(speed) is int and 0 <= speed < len(SPEEDS):
            self.speed.setValue(speed)
        if self.recall_for(self.model):
            self.show_message(self.RECALLED, note=True)

    #: What the tab says when it takes up settings remembered from last time that are not the defaults.
    RECALLED = ("These are your settings from last time for this data set (Training ▸ Book settings brings back the "
                "book's).")

    def recall_for(self, model: Any) -> bool:
        """``model`` takes the settings last used for its data set, if any were remembered (and still apply).
        True if it took settings other than its data set's own."""
        values = prefs.for_data(self.objectName(), dataset_key(model.dataset))
        if values is None:
            return False
        try:
            model.apply_preferences(values)
        except ValueError:
            return False  # remembered values that no longer apply are ignored
        return not model.uses_defaults()
