"""Prop. 1 (NTK paper App. D.1): the loss gradient of binary kernel regression is c(x, y) times the
sum of its eigen-features' input gradients -- checked against autodiff of the whole machine."""

import numpy as np
import pytest
import tensorflow as tf

from robust_keras.ntk import feature_gradients as fg
from robust_keras.ntk.closed_form import two_layer_relu_ntk_tf
from robust_keras.ntk.predictors import ClosedFormKernelPredictor
from robust_keras.ntk.regression import KernelRegression


@pytest.fixture(scope="module")
def machine():
    rng = np.random.default_rng(0)
    x_train = rng.normal(size=(10, 20)).astype(np.float32)  # well-conditioned kernel: every feature kept
    y_train = np.sign(rng.normal(size=10))
    flat = tf.constant(x_train)
    theta = two_layer_relu_ntk_tf(flat, flat).numpy().astype(np.float64)
    reg = KernelRegression(theta, y_train[:, None])
    assert reg.eigenvalues[-1] > 1e-3 * reg.eigenvalues[0]
    make = lambda d: ClosedFormKernelPredictor(two_layer_relu_ntk_tf, x_train, d)  # noqa: E731
    x = rng.normal(size=(6, 20)).astype(np.float32)
    return reg, make, x, np.sign(rng.normal(size=6))


def test_loss_gradient_is_the_coefficient_times_the_sum_of_all_feature_gradients(machine):
    reg, make, x, y = machine
    full, f = fg.loss_gradient(make(reg.alpha()), x, y)
    grads = fg.feature_gradients(make, fg.feature_directions(reg, range(len(reg.eigenvalues))), x)  # (6, 10, 20)
    rebuilt = fg.loss_coefficient(f, y)[:, None] * grads.sum(1)
    assert np.linalg.norm(rebuilt - full) / np.linalg.norm(full) < 1e-4


def test_loss_coefficient_is_the_derivative_of_the_logistic_loss():
    f, y = np.array([-2.0, 0.3, 1.5]), np.array([1.0, -1.0, -1.0])
    h = 1e-6
    numeric = (np.log1p(np.exp(-y * (f + h))) - np.log1p(np.exp(-y * (f - h)))) / (2 * h)
    np.testing.assert_allclose(fg.loss_coefficient(f, y), numeric, rtol=1e-6)


def test_shares_sum_to_one_and_the_rest_vanishes_when_every_feature_is_counted(machine):
    reg, make, x, y = machine
    shares = fg.gradient_shares(make, reg, x, y, count=len(reg.eigenvalues))
    np.testing.assert_allclose(shares.sum(1), 1.0, atol=1e-9)
    assert np.abs(shares[:, -1]).max() < 1e-4
    three = fg.gradient_shares(make, reg, x, y, count=3)
    np.testing.assert_allclose(three[:, :3], shares[:, :3], rtol=1e-4, atol=1e-6)


def test_decomposition_refuses_multiclass_targets():
    reg = KernelRegression(np.eye(3), np.eye(3))
    with pytest.raises(ValueError, match="one output"):
        fg.feature_directions(reg, [0])
