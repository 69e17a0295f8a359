"""FAB-T: its box-constrained projection against a linear program / a constrained solver, and the
attack against the closed-form minimal perturbation of a linear model."""

import numpy as np
import pytest
import tensorflow as tf
from scipy.optimize import linprog, minimize

from robust_keras.attacks.fab import FABTargeted, box_projection

RNG = np.random.default_rng(4)


def _reference_linf(p, w, b):
    """min lambda s.t. <w, p + d> = b, |d_i| <= lambda, 0 <= p + d <= 1 (variables d, lambda)."""
    dims = len(p)
    cost = np.r_[np.zeros(dims), 1.0]
    upper = np.block([[np.eye(dims), -np.ones((dims, 1))], [-np.eye(dims), -np.ones((dims, 1))]])
    bounds = [(-pi, 1 - pi) for pi in p] + [(0, None)]
    out = linprog(cost, A_ub=upper, b_ub=np.zeros(2 * dims), A_eq=np.r_[w, 0.0][None], b_eq=[b - w @ p], bounds=bounds)
    return out.x[-1] if out.success else None


def _reference_l2(p, w, b):
    out = minimize(
        lambda d: d @ d,
        np.zeros_like(p),
        jac=lambda d: 2 * d,
        constraints=[{"type": "eq", "fun": lambda d: w @ (p + d) - b, "jac": lambda d: w}],
        bounds=[(-pi, 1 - pi) for pi in p],
        method="SLSQP",
        options={"ftol": 1e-14, "maxiter": 500},
    )
    return np.sqrt(out.fun) if out.success and abs(w @ (p + out.x) - b) < 1e-7 else None


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_box_projection_is_the_smallest_step_onto_the_hyperplane(norm):
    checked = 0
    for _ in range(40):
        p = RNG.random(7)
        w = RNG.normal(size=7)
        w[RNG.random(7) < 0.2] = 0.0
        b = w @ p + RNG.normal() * 0.8  # a hyperplane on either side, sometimes out of reach
        d = box_projection(
            tf.constant(p[None], tf.float32), tf.constant(w[None], tf.float32), tf.constant([b], tf.float32), norm
        )
        d = d.numpy()[0].astype(np.float64)
        assert np.all(p + d >= -1e-6) and np.all(p + d <= 1 + 1e-6) and np.all(d[w == 0] == 0)
        reference = (_reference_linf if norm == "linf" else _reference_l2)(p, w, b)
        if reference is None:  # out of reach: every moving coordinate at its edge, the best one can do
            edge = np.where(w * np.sign(w @ p - b) > 0, 0.0, 1.0)
            np.testing.assert_allclose((p + d)[w != 0], edge[w != 0], atol=1e-6)
            continue
        assert abs(w @ (p + d) - b) < 1e-4
        size = np.abs(d).max() if norm == "linf" else np.sqrt(d @ d)
        assert size == pytest.approx(reference, rel=1e-4, abs=1e-6)
        checked += 1
    assert checked >= 20


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_without_the_box_the_projection_is_the_closed_form(norm):
    """box=None: d = -(<w, p> - b) w / ||w||_2^2 (l2), -(<w, p> - b) sign(w) / ||w||_1 (l-inf)."""
    p = 4.0 * RNG.normal(size=(20, 9))
    w = RNG.normal(size=(20, 9))
    w[:, 0] = 0.0
    b = RNG.normal(size=20)
    gap = (w * p).sum(1) - b
    expected = -gap[:, None] * (
        w / (w**2).sum(1, keepdims=True) if norm == "l2" else np.sign(w) / np.abs(w).sum(1, keepdims=True)
    )
    d = box_projection(*(tf.constant(a, tf.float32) for a in (p, w, b)), norm, box=None).numpy()
    np.testing.assert_allclose(d, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("norm,clip", [("linf", (0.0, 1.0)), ("l2", (0.0, 1.0)), ("linf", None), ("l2", None)])
def test_reaches_the_minimal_perturbation_of_a_linear_model(norm, clip):
    """Two classes: the closest misclassified point is at (z_y - z_t) / ||w_y - w_t||_dual (inside
    the box for the boxed points; the unboxed ones are vectors far outside [0, 1]); FAB-T's best
    point must get there, and never closer."""
    dims = 10 * 10
    w = RNG.normal(size=(dims, 2)).astype(np.float32) * 0.05
    if clip:
        x = 0.4 + 0.2 * RNG.random((30, 10, 10, 1), dtype=np.float32)
    else:
        x = 3.0 * RNG.normal(size=(30, dims)).astype(np.float32)

    def logits(v):
        return tf.reshape(v, [tf.shape(v)[0], -1]) @ w

    z = logits(x).numpy()
    y = np.argmax(z, -1)
    diff = w[:, y] - w[:, 1 - y]  # (D, n)
    dual = np.abs(diff).sum(0) if norm == "linf" else np.sqrt((diff**2).sum(0))
    closest = (z[np.arange(30), y] - z[np.arange(30), 1 - y]) / dual
    x_adv, success, distance = FABTargeted(logits, norm=norm, eps=1.0 if clip else 10.0, steps=30, clip=clip)(x, y)
    assert success.numpy().all()
    assert (np.argmax(logits(x_adv).numpy(), -1) != y).all()
    ratio = distance.numpy() / closest
    assert ratio.min() >= 1 - 1e-3 and ratio.max() <= 1.01, (ratio.min(), ratio.max())
    flat = (x_adv.numpy() - x).reshape(30, -1)
    measured = np.abs(flat).max(1) if norm == "linf" else np.sqrt((flat**2).sum(1))
    np.testing.assert_allclose(measured, distance.numpy(), rtol=1e-5)


def test_targets_the_ranked_class_and_respects_eps():
    w = RNG.normal(size=(64, 5)).astype(np.float32) * 0.05

    def logits(v):
        return tf.reshape(v, [tf.shape(v)[0], -1]) @ w

    x = RNG.random((20, 8, 8, 1), dtype=np.float32)
    y = np.argmax(logits(x).numpy(), -1)
    x_adv, success, distance = FABTargeted(logits, norm="linf", eps=0.01, steps=20)(x, y, (0, 0), target_rank=1)
    distance, success = distance.numpy(), success.numpy()
    np.testing.assert_array_equal(success, distance <= 0.01)
    found = distance < 1e10
    assert found.any() and (np.argmax(logits(x_adv).numpy(), -1)[found] != y[found]).all()
    np.testing.assert_array_equal(x_adv.numpy()[~found], x[~found])
