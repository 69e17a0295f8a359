"""The 'best simple classifier' of performance correlation (Nakkiran et al. 2019; robust-before-
non-robust Sec. 4.3): a multinomial logistic regression on raw pixels, trained on the same
training data as the network.
"""

from __future__ import annotations

import warnings

import numpy as np


def fit_predict(
    train_images: np.ndarray, train_labels: np.ndarray, eval_images: np.ndarray, *, max_iter: int, seed: int
) -> np.ndarray:
    """Fits softmax regression (L-BFGS, L2 C=1) on flattened float images in [0, 1] (N, H, W, C)
    and returns its int64 predictions (M,) on ``eval_images``."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    flat = lambda a: np.asarray(a, np.float32).reshape(len(a), -1)  # noqa: E731  (N, H*W*C)
    model = LogisticRegression(max_iter=max_iter, random_state=seed)
    with warnings.catch_warnings():  # a capped iteration count is the flag's choice, not a fault
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(flat(train_images), np.asarray(train_labels, np.int64))
    return model.predict(flat(eval_images)).astype(np.int64)
