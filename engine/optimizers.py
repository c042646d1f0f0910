"""Optimizers over a list of arrays, with TensorFlow.js's update rules and defaults.

Each optimizer updates the parameter arrays in place::

    opt = Adam(learning_rate=0.001)
    opt.step(params, grads)

``params`` and ``grads`` are lists of float64 arrays of matching shapes, in the same order at every call
(the model's :meth:`parameters` order). State (accumulators) is created at the first step.
The learning rate and the other hyperparameters are plain attributes: a change applies from the next step.

:meth:`Optimizer.state` and :meth:`Optimizer.restore` save and set the whole state (hyperparameters, step
count, accumulators) as JSON-safe values, exactly: a restored optimizer takes the very steps the saved one
would have (:func:`optimizer_from_state` builds one from such a state).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .serial import finite_from_json, floats_from_json, floats_to_json, int_from_json


class Optimizer:
    """Base class: holds the learning rate and the step count."""

    name = "optimizer"

    def __init__(self, learning_rate: float) -> None:
        self.learning_rate = float(learning_rate)
        self.iterations = 0

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """Update every array of ``params`` in place from ``grads``."""
        self.iterations += 1
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            self._update(i, p, g)

    def step_one(self, p: np.ndarray, g: np.ndarray) -> None:
        """:meth:`step` for one array (the model's flat vector), without the lists."""
        self.iterations += 1
        self._update(0, p, g)

    def _update(self, i: int, p: np.ndarray, g: np.ndarray) -> None:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget the accumulated state (moments, step count); keep the hyperparameters."""
        self.iterations = 0
        for value in vars(self).values():
            if isinstance(value, dict):
                value.clear()

    def config(self) -> dict[str, float]:
        """The hyperparameters, for display and for saving."""
        return {"learning_rate": self.learning_rate}

    def last_update(self, before: np.ndarray, gradient: np.ndarray, i: int = 0,
                    learning_rate: float | None = None) -> dict[str, Any] | None:
        """The numbers of the update this optimizer made last to its array ``i``, which was ``before`` and had
        ``gradient``: read from its state now (after that update), changing nothing, for texts that write the
        rule out with its numbers. ``learning_rate``: the rate that update used, if the rate has been changed
        since (default: the rate now).

        Keys: ``t`` (its step count: 1 at the first step after a reset), ``after`` (the new values as its rule
        gives them from this state: equal to the array's own if the state is the one that update left), and
        the optimizer's terms (its accumulators after the update, and ``…_before``, worked back from them: 0
        at the first step, NaN where they cannot be). None before its first step, or without accumulators
        for ``i``.
        """
        if self.iterations < 1:
            return None
        before, gradient = np.asarray(before, dtype=np.float64), np.asarray(gradient, dtype=np.float64)
        lr = self.learning_rate if learning_rate is None else float(learning_rate)
        with np.errstate(all="ignore"):
            terms = self._last_update(i, before, gradient, lr)
        return None if terms is None else {"t": self.iterations, **terms}

    def _last_update(self, i: int, before: np.ndarray, g: np.ndarray, lr: float) -> dict[str, Any] | None:
        raise NotImplementedError

    def _worked_back(self, now: np.ndarray, added: np.ndarray, factor: float) -> np.ndarray:
        """The accumulator before a step that made it ``factor·before + added`` (0 at the first step)."""
        if self.iterations == 1:
            return np.zeros_like(now)
        return (now - added) / factor if factor != 0 else np.full_like(now, np.nan)

    def _slots(self) -> dict[str, dict[int, np.ndarray]]:
        """The accumulators by name (``accum``, ``m``, ``v``, ``ms``, ``mom``): one array per parameter index."""
        return {name.lstrip("_"): value for name, value in vars(self).items() if isinstance(value, dict)}

    def state(self) -> dict[str, Any]:
        """Everything this optimizer holds, as JSON-safe values (arrays as lists of floats, with their shapes)."""
        return {
            "name": self.name,
            "config": self.config(),
            "iterations": self.iterations,
            "slots": {
                slot: {str(i): {"shape": list(np.shape(a)), "values": floats_to_json(a)} for i, a in arrays.items()}
                for slot, arrays in self._slots().items()
            },
        }

    def restore(self, state: dict[str, Any], shapes: list[tuple[int, ...]] | None = None) -> None:
        """Take on a :meth:`state` of an optimizer of this kind; :class:`ValueError` (and no change) if it is bad.

        ``shapes``: the shapes of the arrays it updates, by index (its accumulators must have them).
        """
        if not isinstance(state, dict) or state.get("name") != self.name:
            raise ValueError(f"the optimizer state is not one of {self.name}")
        config = state.get("config")
        if not isinstance(config, dict) or set(config) != set(self.config()):
            raise ValueError(f"the {self.name} optimizer's hyperparameters do not match")
        values = {k: finite_from_json(v, f"the optimizer's {k}") for k, v in config.items()}
        iterations = int_from_json(state.get("iterations"), "the optimizer's step count")
        slots = state.get("slots")
        own = self._slots()
        if not isinstance(slots, dict) or set(slots) != set(own):
            raise ValueError(f"the {self.name} optimizer's accumulators do not match")
        new: dict[str, dict[int, np.ndarray]] = {}
        for slot, arrays in slots.items():
            if not isinstance(arrays, dict):
                raise ValueError(f"the optimizer's {slot} is not a set of arrays")
            new[slot] = {}
            for key, entry in arrays.items():
                if not key.isdigit() or not isinstance(entry, dict):
                    raise ValueError(f"the optimizer's {slot} is malformed")
                shape = entry.get("shape")
                if not isinstance(shape, list) or not all(
                        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
                    raise ValueError(f"the optimizer's {slot} has no valid shape")
                if shapes is not None and (int(key) >= len(shapes) or tuple(shape) != tuple(shapes[int(key)])):
                    raise ValueError(f"the optimizer's {slot} does not fit the model's parameters")
                size = int(np.prod(shape, dtype=np.int64))
                new[slot][int(key)] = floats_from_json(entry.get("values"), f"the optimizer's {slot}", size
                                                       ).reshape(shape)
        for name, value in values.items():  # all checked: now change
            setattr(self, name, value)
        self.iterations = iterations
        for slot, arrays in new.items():
            own[slot].clear()
            own[slot].update(arrays)


class SGD(Optimizer):
    """Plain gradient descent: ``w -= lr·g`` (tfjs ``tf.train.sgd``)."""

    name = "sgd"

    def __init__(self, learning_rate: float = 0.01) -> None:
        super().__init__(learning_rate)

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        self.iterations += 1
        lr = self.learning_rate
        for p, g in zip(params, grads, strict=True):
            p -= lr * g

    def step_one(self, p: np.ndarray, g: np.ndarray) -> None:
        self.iterations += 1
        p -= self.learning_rate * g

    def _update(self, i: int, p: np.ndarray, g: np.ndarray) -> None:
        p -= self.learning_rate * g

    def _last_update(self, i: int, before: np.ndarray, g: np.ndarray, lr: float) -> dict[str, Any]:
        return {"after": before - lr * g}


class Momentum(Optimizer):
    """tfjs ``tf.train.momentum`` without Nesterov: ``a = m·a + g; w -= lr·a``."""

    name = "momentum"

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.9) -> None:
        super().__init__(learning_rate)
        self.momentum = float(momentum)
        self._accum: dict[int, np.ndarray] = {}

    def _update(self, i: int, p: np.ndarray, g: np.ndarray) -> None:
        a = self._accum.get(i)
        a = g.copy() if a is None else self.momentum * a + g
        self._accum[i] = a
        p -= self.learning_rate * a

    def _last_update(self, i: int, before: np.ndarray, g: np.ndarray, lr: float) -> dict[str, Any] | None:
        a = self._accum.get(i)
        if a is None:
            return None
        return {"velocity_before": self._worked_back(a, g, self.momentum), "velocity": a.copy(),
                "after": before - lr * a}

    def config(self) -> dict[str, float]:
        return {"learning_rate": self.learning_rate, "momentum": self.momentum}


class RMSProp(Optimizer):
    """tfjs ``tf.train.rmsprop`` (not centred).

    ``ms = ρ·ms + (1−ρ)·g²;  mom = μ·mom + lr·g/√(ms + ε);  w -= mom``.
    """

    name = "rmsprop"

    def __init__(
        self, learning_rate: float = 0.001, rho: float = 0.9, momentum: float = 0.0, epsilon: float = 1e-7
    ) -> None:
        super().__init__(learning_rate)
        self.rho = float(rho)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self._ms: dict[int, np.ndarray] = {}
        self._mom: dict[int, np.ndarray] = {}

    def _update(self, i: int, p: np.ndarray, g: np.ndarray) -> None:
        ms = self._ms.get(i, 0.0)
        mom = self._mom.get(i, 0.0)
        ms = self.rho * ms + (1 - self.rho) * g * g
        mom = self.momentum * mom + self.learning_rate * g / np.sqrt(ms + self.epsilon)
        self._ms[i], self._mom[i] = ms, mom
        p -= mom

    def _last_update(self, i: int, before: np.ndarray, g: np.ndarray, lr: float) -> dict[str, Any] | None:
        ms, mom = self._ms.get(i), self._mom.get(i)
        if ms is None or mom is None:
            return None
        ms, mom = np.asarray(ms, dtype=np.float64), np.asarray(mom, dtype=np.float64)
        step = lr * g / np.sqrt(ms + self.epsilon)
        return {"ms_before": self._worked_back(ms, (1 - self.rho) * g * g, self.rho), "ms": ms.copy(),
                "mom_before": self._worked_back(mom, step, self.momentum), "mom": mom.copy(),
                "after": before - mom}

    def config(self) -> dict[str, float]:
        return {"learning_rate": self.learning_rate, "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon}


class Adam(Optimizer):
    """tfjs ``tf.train.adam``.

    ``m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;  w -= lr·(m/(1−β1ᵗ)) / (√(v/(1−β2ᵗ)) + ε)``.
    """

    name = "adam"

    def __init__(
        self, learning_rate: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-7
    ) -> None:
        super().__init__(learning_rate)
        self.beta1 = float(beta1)
        self.beta2 = float(beta2)
        self.epsilon = float(epsilon)
        self._m: dict[int, np.ndarray] = {}
        self._v: dict[int, np.ndarray] = {}

    def _update(self, i: int, p: np.ndarray, g: np.ndarray) -> None:
        t = self.iterations
        m = self.beta1 * self._m.get(i, 0.0) + (1 - self.beta1) * g
        v = self.beta2 * self._v.get(i, 0.0) + (1 - self.beta2) * g * g
        self._m[i], self._v[i] = m, v
        m_hat = m / (1 - self.beta1**t)
        v_hat = v / (1 - self.beta2**t)
        p -= self.learning_rate * m_hat / (np.sqrt(v_hat) + self.epsilon)

    def _last_update(self, i: int, before: np.ndarray, g: np.ndarray, lr: float) -> dict[str, Any] | None:
        m, v = self._m.get(i), self._v.get(i)
        if m is None or v is None:
            return None
        t = self.iterations
        m, v = np.asarray(m, dtype=np.float64), np.asarray(v, dtype=np.float64)
        m_hat = m / (1 - self.beta1**t)
        v_hat = v / (1 - self.beta2**t)
        return {"m_before": self._worked_back(m, (1 - self.beta1) * g, self.beta1), "m": m.copy(),
                "v_before": self._worked_back(v, (1 - self.beta2) * g * g, self.beta2), "v": v.copy(),
                "m_hat": m_hat, "v_hat": v_hat,
                "after": before - lr * m_hat / (np.sqrt(v_hat) + self.epsilon)}

    def config(self) -> dict[str, float]:
        return {"learning_rate": self.learning_rate, "beta1": self.beta1, "beta2": self.beta2,
                "epsilon": self.epsilon}


OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "momentum": Momentum, "rmsprop": RMSProp, "adam": Adam}


def make_optimizer(name: str, learning_rate: float | None = None, momentum: float = 0.9) -> Optimizer:
    """An optimizer by tfjs name, with tfjs defaults for what is not given.

    ``momentum`` is used by ``"momentum"`` only (``rmsprop``'s momentum stays at its tfjs default, 0).
    """
    try:
        cls = OPTIMIZERS[name]
    except KeyError:
        raise ValueError(f"unknown optimizer {name!r} (choose {', '.join(OPTIMIZERS)})") from None
    kwargs: dict[str, float] = {}
    if learning_rate is not None:
        kwargs["learning_rate"] = learning_rate
    if cls is Momentum:
        kwargs["momentum"] = momentum
    return cls(**kwargs)


def optimizer_from_state(state: dict[str, Any], shapes: list[tuple[int, ...]] | None = None) -> Optimizer:
    """A new optimizer in the :meth:`Optimizer.state` ``state`` (:class:`ValueError` if it is not one, or if its
    accumulators do not have the ``shapes`` of the arrays it updates)."""
    name = state.get("name") if isinstance(state, dict) else None
    cls = OPTIMIZERS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError("the optimizer state names no known optimizer")
    optimizer = cls()
    optimizer.restore(state, shapes)
    return optimizer
