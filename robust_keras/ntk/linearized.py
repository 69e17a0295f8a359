"""Linearized networks (NTK paper App. E.1; docs/methods.md §B, linearized adversarial training).

At epoch e the network f is replaced by its first-order Taylor expansion in the parameters,
    f_lin(x; theta_e + delta) = f(x; theta_e) + J(x; theta_e) delta,
and training continues on delta (standard or adversarial, with attacks computed on f_lin itself).
The NTK of f_lin is J(x; theta_e) J(x'; theta_e)^T: frozen at its value at epoch e.
"""

from __future__ import annotations

import keras
import tensorflow as tf


class LinearizedModel(keras.Model):
    """f_lin(x) = f(x; theta_e) + J(x; theta_e) delta, (B, ...) -> (B, O), differentiable in x and delta.

    ``base`` keeps theta_e (it is never updated: only ``delta`` is trainable, one zero-initialised
    variable per trainable variable of ``base``). J delta is one JVP (ForwardAccumulator), so no
    Jacobian is formed. Training delta with coupled L2 would penalise theta - theta_e, not theta.
    """

    def __init__(self, base: keras.Model, **kwargs):
        super().__init__(**kwargs)
        self.base = base
        self._primals = [getattr(v, "value", v) for v in base.trainable_variables]  # tf.Variables for forwardprop
        self.delta = [
            self.add_weight(shape=v.shape, initializer="zeros", dtype=v.dtype, name=f"delta_{i}")
            for i, v in enumerate(base.trainable_variables)
        ]
        self.built = True  # every variable exists now (needed for SavedModel export)

    @property
    def trainable_variables(self) -> list:
        return list(self.delta)

    @property
    def trainable_weights(self) -> list:
        return list(self.delta)

    @property
    def input_shape(self):
        return self.base.input_shape

    @property
    def output_shape(self):
        return self.base.output_shape

    def call(self, x, training=False):
        tangents = [tf.convert_to_tensor(d) for d in self.delta]
        with tf.autodiff.ForwardAccumulator(self._primals, tangents) as acc:
            out = self.base(x, training=False)
        return out + acc.jvp(out, unconnected_gradients=tf.UnconnectedGradients.ZERO)
