"""NumPy reference of one full-batch GD step of the binary two-layer net (docs/methods.md §C).

A second, independent implementation of :class:`~robust_keras.training.full_batch.FullBatchGD`
for the logistic loss: the tests check the compiled TF step against it, and ``bench/`` measures
the speed-up over it. Shapes: x (n, d), kernel (d, 2m), bias (2m,), readout (2m,), y in {0, 1}.
"""

from __future__ import annotations

import numpy as np


def logistic_loss(x, y, kernel, bias, readout) -> float:
    """L = (1/n) sum_i log(1 + exp(-s_i f(x_i))), f(x) = relu(x W + b) . a, s = 2y - 1."""
    f = np.maximum(x @ kernel + bias, 0.0) @ readout
    return float(np.mean(np.logaddexp(0.0, -(2.0 * y - 1.0) * f)))


def gd_step(x, y, kernel, bias, readout, lr) -> tuple[np.ndarray, np.ndarray]:
    """One step W <- W - lr dL/dW, b <- b - lr dL/db (readout fixed); returns new (kernel, bias)."""
    lr = np.asarray(lr, kernel.dtype)  # a float64 lr must not promote float32 weights (and x) each step
    s = 2.0 * y - 1.0  # (n,)
    pre = x @ kernel + bias  # (n, 2m)
    f = np.maximum(pre, 0.0) @ readout  # (n,)
    dl_df = -s / (1.0 + np.exp(s * f)) / len(y)  # d/df of mean softplus(-s f)
    dl_dpre = np.outer(dl_df, readout) * (pre > 0)  # (n, 2m)
    return kernel - lr * (x.T @ dl_dpre), bias - lr * dl_dpre.sum(axis=0)


def dual_gd_step(pre, y, gram, readout, lr) -> tuple[np.ndarray, np.ndarray]:
    """The same step on pre-activations P = X W + b (see ``DualFullBatchGD``): P <- P - lr K G with
    K = X X^T + 1 1^T; returns (new P, G) so a caller can accumulate S = sum G to rebuild W."""
    lr = np.asarray(lr, pre.dtype)
    s = 2.0 * y - 1.0
    f = np.maximum(pre, 0.0) @ readout
    dl_dpre = np.outer(-s / (1.0 + np.exp(s * f)) / len(y), readout) * (pre > 0)  # (n, 2m)
    return pre - lr * (gram @ dl_dpre), dl_dpre
