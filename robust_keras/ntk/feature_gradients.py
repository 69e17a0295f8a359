"""Input gradients of NTK eigen-features and the decomposition of the loss gradient into them
(NTK paper Sec. 4, Eq. 10; App. D.1, Proposition 1; docs/methods.md §B.4).

Kernel regression at t = inf on a binary task (targets y in {-1, +1}, one output) is a sum of
eigen-features (Eq. 9): f(x) = sum_i f^(i)(x), f^(i)(x) = Theta(x, X) d_i with d_i = v_i v_i^T Y / lambda_i.
Under the logistic loss l(x, y) = log(1 + exp(-y f(x))) the chain rule gives (Prop. 1)

    grad_x l(x, y) = c(x, y) * sum_i grad_x f^(i)(x),      c(x, y) = -y * sigmoid(-y f(x)),

one coefficient per example shared by every feature: the loss gradient, the direction a gradient
attack follows, is the features' input gradients summed. Feature i's *share* of it is

    s_i(x) = <c grad f^(i), grad l> / ||grad l||^2,        sum_i s_i = 1,

which says which features an attack on the kernel machine pushes against.

Predictors are built by ``make_predictor(direction)``: a direction (N, 1) -> a differentiable
x (B, ...) -> Theta(x, X) direction (B, 1) (e.g. ``ntk.predictors.ClosedFormKernelPredictor`` bound
to its kernel and X, or ``EmpiricalKernelPredictor`` bound to its network and X).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from robust_keras.ntk.regression import KernelRegression

Predictor = Callable[[tf.Tensor], tf.Tensor]


def feature_directions(reg: KernelRegression, indices: Sequence[int]) -> np.ndarray:
    """Columns d_i = v_i v_i^T Y / lambda_i of the binary features ``indices``: (N, len(indices)) float64.
    Directions dropped at t = inf (lambda_i <= rcond lambda_max) are zero, as in ``reg.alpha()``."""
    if reg.targets.shape[1] != 1:
        raise ValueError(f"the decomposition of Prop. 1 is for one output (binary), got {reg.targets.shape[1]}")
    indices = np.asarray(indices, np.int64)
    weights = reg.spectral_factors()[indices] * reg.projections[indices, 0]  # (F,)
    return reg.eigenvectors[:, indices] * weights[None, :]


def feature_gradients(make_predictor: Callable[[np.ndarray], Predictor], directions: np.ndarray, x) -> np.ndarray:
    """grad_x f^(i)(x) for every column of ``directions`` (N, F) at inputs x (B, ...): (B, F, ...).

    One predictor per feature (an empirical-kernel predictor has the network's outputs, so it cannot
    carry F directions at once); the gradient of the batch sum is each example's own, since a kernel
    machine's output at x_b depends on x_b alone."""
    x = tf.convert_to_tensor(np.asarray(x, np.float32))
    grads = []
    for column in np.asarray(directions, np.float32).T:
        predict = make_predictor(column[:, None])
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = tf.reduce_sum(predict(x)[:, 0])
        grads.append(tape.gradient(total, x).numpy())
    return np.stack(grads, axis=1)


def loss_coefficient(f: np.ndarray, y: np.ndarray) -> np.ndarray:
    """c(x, y) = d l / d f = -y sigmoid(-y f) of the logistic loss, for outputs f (B,) and y in {-1, +1} (B,)."""
    f, y = np.asarray(f, np.float64), np.asarray(y, np.float64)
    return -y / (1.0 + np.exp(y * f))


def loss_gradient(predict: Predictor, x, y) -> tuple[np.ndarray, np.ndarray]:
    """(grad_x l (B, ...), f (B,)) of the logistic loss of a one-output predictor, by autodiff."""
    x = tf.convert_to_tensor(np.asarray(x, np.float32))
    y = tf.constant(np.asarray(y, np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        f = predict(x)[:, 0]
        loss = tf.reduce_sum(tf.math.softplus(-y * f))
    return tape.gradient(loss, x).numpy(), f.numpy()


def gradient_shares(
    make_predictor: Callable[[np.ndarray], Predictor], reg: KernelRegression, x, y, count: int
) -> np.ndarray:
    """Shares s_i(x) of the first ``count`` features in the loss gradient of the full kernel machine,
    and the rest of the spectrum lumped as 1 - sum: (B, count + 1), rows summing to 1.

    The full gradient is taken by autodiff of f = Theta(x, X) alpha, the per-feature parts from
    ``feature_gradients`` times c(x, y): the two meet in Prop. 1 (tested with all N features)."""
    full, f = loss_gradient(make_predictor(reg.alpha().astype(np.float32)), x, y)  # (B, ...), (B,)
    grads = feature_gradients(make_predictor, feature_directions(reg, range(count)), x)  # (B, count, ...)
    c = loss_coefficient(f, y)  # (B,)
    b = len(full)
    full_flat = full.reshape(b, -1).astype(np.float64)
    parts = c[:, None, None] * grads.reshape(b, count, -1)  # (B, count, D)
    shares = np.einsum("bfd,bd->bf", parts, full_flat) / np.maximum(np.sum(full_flat**2, 1), 1e-300)[:, None]
    return np.concatenate([shares, 1.0 - shares.sum(1, keepdims=True)], axis=1)
