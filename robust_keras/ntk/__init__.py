"""Neural tangent kernels: empirical kernels of Keras models and closed forms (docs/methods.md §B)."""

from robust_keras.ntk.closed_form import two_layer_relu_ntk, two_layer_relu_ntk_finite
from robust_keras.ntk.empirical import empirical_ntk

__all__ = ["empirical_ntk", "two_layer_relu_ntk", "two_layer_relu_ntk_finite"]
