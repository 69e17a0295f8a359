"""Toy linear model (robust-before-non-robust Sec. 5): closed forms against a dense second
implementation and against simulation (the experiment end to end: tests/e2e/test_toy_linear_run.py)."""

import numpy as np
import pytest

from robust_keras.analysis import toy_linear_theory as theory
from robust_keras.data import toy_linear
from robust_keras.training.toy_linear_gd import gradient_descent, min_norm_interpolant


def _dense_gd(a, y, eta, steps):
    w = np.zeros(a.shape[1])
    for _ in range(steps):
        w -= eta / len(y) * a.T @ (a @ w - y)
    return w


def test_sparse_gd_equals_dense_gd_and_converges_to_the_pseudo_inverse_solution():
    rng = np.random.default_rng(1)
    data = toy_linear.sample(37, d=60, p=0.2, k=3.0, eps=0.3, rng=rng)  # small d: noise collisions happen
    a = data.dense()
    sparse, _ = gradient_descent(data, eta=0.9, steps=400)
    dense = _dense_gd(a, data.y, 0.9, 400)
    np.testing.assert_allclose([sparse.w1, sparse.w2], dense[:2], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sparse.scores(data), a @ dense, rtol=1e-9, atol=1e-12)
    limit = min_norm_interpolant(data)
    np.testing.assert_allclose([limit.w1, limit.w2], (np.linalg.pinv(a) @ data.y)[:2], rtol=1e-8, atol=1e-10)


def test_expected_limit_weights_match_the_sample_interpolant_at_large_n():
    rng = np.random.default_rng(2)
    n, p, k, eps = 2000, 0.2, 6.0, 0.028
    data = toy_linear.sample(n, d=10**12, p=p, k=k, eps=eps, rng=rng)
    limit = min_norm_interpolant(data)
    w1, w2 = theory.limit_weights(n, p, k, eps)
    assert limit.w1 == pytest.approx(w1, rel=0.1) and limit.w2 == pytest.approx(w2, rel=0.1)


def test_threshold_is_where_the_winning_coordinate_flips():
    n, p, eps = 1000, 0.2, 0.035
    k_t = theory.k_threshold(n, p, eps)
    assert 1.0 < k_t < 20.0
    assert not theory.nonrobust_wins(n, p, k_t * 0.99, eps) and theory.nonrobust_wins(n, p, k_t * 1.01, eps)
    assert theory.k_threshold(50, p, 0.01) == np.inf  # n eps^2 too small: the robust coordinate always wins
    # Theorem 1: the exact first-step condition is eps^2 <= u/v; the paper's eps <= u/v implies it.
    assert theory.first_step_robust(0.2, 5.0, 0.8) and theory.first_step_paper_bound(0.2, 5.0) < 0.8
    assert not theory.first_step_robust(0.2, 5.0, 0.9)


def test_step_size_bound_is_where_gd_diverges():
    rng = np.random.default_rng(3)
    n, p, k, eps = 300, 0.2, 4.0, 0.1
    data = toy_linear.sample(n, d=10**9, p=p, k=k, eps=eps, rng=rng)
    bound = theory.eta_bound(n, p, k, eps)
    gradient_descent(data, eta=0.95 * bound, steps=3000)  # converges
    with pytest.raises(FloatingPointError):
        gradient_descent(data, eta=1.1 * bound, steps=3000)


def test_collisions_of_noise_coordinates_are_refused_when_expected():
    """Theorem 2 needs distinct noise coordinates (n^2 << d); a run where they collide is refused
    before any GD instead of reporting an interpolant pinned by the collisions."""
    from conftest import parse_project_flags

    from robust_keras.config import Config
    from robust_keras.errors import ConfigError
    from robust_keras.experiments import toy_linear as experiment

    assert experiment.expected_collisions(1000, 10**9) == pytest.approx(999 * 1000 / 2 / (10**9 - 2))
    config = Config(parse_project_flags("--flagfile=flags/toy_linear_tiny.flags", "--toy_d=100000"))
    with pytest.raises(ConfigError, match=r"share a noise coordinate 5 times on average"):
        experiment.run(config, None)
