"""An attack's radius held in a ``tf.Variable``: :meth:`VariableRadius.set_budget` changes it for
later calls without retracing the compiled attack (a sweep over radii compiles once)."""

from __future__ import annotations

import tensorflow as tf


class VariableRadius:
    """Mixin of APGD, FAB and Square: ``self._eps`` (float32 variable, read inside the compiled
    graph), ``eps`` (its value) and ``set_budget(eps)``."""

    def _hold_radius(self, eps: float) -> None:
        self._eps = tf.Variable(float(eps), trainable=False, dtype=tf.float32)

    @property
    def eps(self) -> float:
        return float(self._eps.numpy())

    def set_budget(self, eps: float) -> None:
        """Changes the radius for later calls (same compiled graph)."""
        self._eps.assign(float(eps))
