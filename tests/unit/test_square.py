"""Square Attack: its schedule and window shapes, the query budget, the ball and the box, early
stopping, and soundness against the closed-form distance to the decision boundary of a linear model."""

import numpy as np
import pytest
import tensorflow as tf

from robust_keras.attacks.square import Square, l2_bump, schedule, window_shape, window_side

RNG = np.random.default_rng(0)
D = 12 * 12  # 12 x 12 x 1 images keep the tests fast


def test_schedule_halves_p_after_the_reference_iterations():
    stages = schedule(10000, 0.8)
    assert [(a, b) for a, b, _ in stages][:4] == [(0, 11), (11, 51), (51, 201), (201, 501)]
    assert [p for *_, p in stages] == [0.8 / 2**k for k in range(10)]
    # rescaled to 5,000 iterations (AutoAttack): iteration i counts as 2 i
    assert [(a, b) for a, b, _ in schedule(5000, 0.8)][:3] == [(0, 6), (6, 26), (26, 101)]
    assert schedule(5000, 0.8, rescale=False)[-1][:2] == (4001, 5000)  # 4000 < i


def test_window_sides_and_the_l2_bump():
    assert window_side(0.8, 28, 28, "linf") == 25 and window_side(0.8 / 512, 28, 28, "linf") == 1
    assert window_side(0.8 / 512, 28, 28, "l2") == 3 and window_side(0.2, 32, 32, "l2") % 2 == 1
    bump = l2_bump(5)
    assert bump.shape == (5, 5) and abs(np.sqrt((bump**2).sum()) - 1.0) < 1e-6
    assert np.all(bump[:2] > 0) and np.all(bump[2:] < 0)  # positive top half, negative bottom half
    # centred: symmetric left-right, and the largest entry in the middle column of each half
    np.testing.assert_allclose(bump, bump[:, ::-1], atol=1e-7)
    assert np.argmax(bump[1]) == 2 and np.argmin(bump[3]) == 2
    # a vector is one row: windows are runs of p * D coordinates, the bump's halves left and right
    assert window_shape(0.8, 1, 100, "linf") == (1, 80) and window_shape(0.01, 1, 100, "l2") == (1, 3)
    assert window_shape(0.2, 1, 100, "l2") == (1, 21) and window_shape(0.8, 28, 28, "linf") == (25, 25)
    run = l2_bump(1, 7)[0]
    assert abs(np.sqrt((run**2).sum()) - 1.0) < 1e-6 and np.all(run[:3] > 0) and np.all(run[3:] < 0)


def _linear(classes: int = 3, seed: int = 0):
    """A linear classifier z = x W + b on flattened 12x12 images (float32 (D, K) weights)."""
    w = np.random.default_rng(seed).normal(size=(D, classes)).astype(np.float32) * 0.05
    b = np.zeros(classes, np.float32)

    def logits(x):
        return tf.reshape(x, [tf.shape(x)[0], -1]) @ w + b

    return logits, w, b


def _boundary_distance(x, y, w, b, norm):
    """The exact distance of each x to the nearest other class region, ignoring the [0, 1] box
    (a lower bound on the distance with it): min_j (z_y - z_j) / ||w_y - w_j||_dual."""
    flat = x.reshape(len(x), -1)
    z = flat @ w + b
    out = np.full(len(x), np.inf)
    for j in range(w.shape[1]):
        diff = w[:, y] - w[:, [j]]  # (D, n)
        dual = np.abs(diff).sum(0) if norm == "linf" else np.sqrt((diff**2).sum(0))
        gap = z[np.arange(len(x)), y] - z[:, j]
        out = np.where(j == y, out, np.minimum(out, gap / np.where(dual > 0, dual, 1.0)))
    return out


@pytest.mark.parametrize("norm,eps", [("linf", 0.03), ("l2", 0.6)])
def test_budget_ball_box_and_early_stop(norm, eps):
    logits, w, b = _linear()
    x = RNG.random((40, 12, 12, 1), dtype=np.float32)
    y = np.argmax(logits(x).numpy(), -1)
    y[:3] = (y[:3] + 1) % 3  # three examples misclassified from the start
    queries, restarts = 60, 2
    x_adv, success, spent = Square(logits, norm=norm, eps=eps, queries=queries, restarts=restarts)(x, y, (3, 4))
    x_adv, success, spent = x_adv.numpy(), success.numpy(), spent.numpy()
    flat = (x_adv - x).reshape(len(x), -1)
    size = np.abs(flat).max(1) if norm == "linf" else np.sqrt((flat**2).sum(1))
    assert np.all(size <= eps * (1 + 1e-5)) and x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    assert np.all(spent <= restarts * (queries + 1))
    # already misclassified: untouched, no query spent
    np.testing.assert_array_equal(x_adv[:3], x[:3]) and np.testing.assert_array_equal(spent[:3], 0)
    assert success[:3].all()
    # success is what the model says at x_adv; an example that failed used the whole budget
    np.testing.assert_array_equal(success, np.argmax(logits(x_adv).numpy(), -1) != y)
    np.testing.assert_array_equal(spent[~success], restarts * (queries + 1))
    np.testing.assert_array_equal(x_adv[~success], x[~success])  # a failed example is returned clean
    # early stop: examples broken by the start or on the way spent fewer queries than the budget
    assert (spent[3:][success[3:]] < restarts * (queries + 1)).all()


@pytest.mark.parametrize("norm,eps", [("linf", 0.02), ("l2", 0.5)])
def test_sound_and_effective_against_the_linear_closed_form(norm, eps):
    """Never succeeds where the closed-form distance to the boundary exceeds eps (a success there
    would be a point outside the ball), and breaks most examples with a lot of slack."""
    logits, w, b = _linear(seed=1)
    x = 0.25 + 0.5 * RNG.random((200, 12, 12, 1), dtype=np.float32)  # away from the box edges
    y = np.argmax(logits(x).numpy(), -1)
    distance = _boundary_distance(x, y, w, b, norm)
    _, success, _ = Square(logits, norm=norm, eps=eps, queries=300)(x, y, (5, 6))
    success = success.numpy()
    assert not success[distance > eps].any()
    easy = distance < 0.5 * eps
    assert easy.sum() >= 10 and success[easy].mean() >= 0.9, (easy.sum(), success[easy].mean())


def test_targeted_is_sound_effective_and_reproducible():
    logits, w, b = _linear(classes=4, seed=2)
    x = 0.25 + 0.5 * RNG.random((60, 12, 12, 1), dtype=np.float32)
    z = logits(x).numpy()
    target = (np.argmax(z, -1) + 1) % 4
    # reaching t needs z_t >= z_j for every j: each gap (z_j - z_t) / ||w_t - w_j||_1 is a lower bound
    bound = np.zeros(len(x))
    for j in range(4):
        dual = np.abs(w[:, target] - w[:, [j]]).sum(0)
        gap = z[:, j] - z[np.arange(len(x)), target]
        bound = np.maximum(bound, np.where(j == target, 0.0, gap / np.where(dual > 0, dual, 1.0)))
    attack = Square(logits, norm="linf", eps=0.05, queries=300, targeted=True)
    first, success, _ = attack(x, target, (7, 8))
    again, _, _ = attack(x, target, (7, 8))
    np.testing.assert_array_equal(first.numpy(), again.numpy())
    success = success.numpy()
    np.testing.assert_array_equal(success, np.argmax(logits(first).numpy(), -1) == target)
    assert not success[bound > 0.05].any()
    easy = bound < 0.25 * 0.05
    assert easy.sum() >= 10 and success[easy].mean() >= 0.8, (easy.sum(), success[easy].mean())


@pytest.mark.parametrize("norm,eps", [("linf", 0.2), ("l2", 2.0)])
def test_vectors_without_the_box(norm, eps):
    """(B, D) inputs far outside [0, 1] with ``clip=None`` (feature averaging's Gaussian clusters):
    inside the ball, never beyond the closed-form distance, most easy examples broken, and a
    radius changed by set_budget takes effect."""
    logits, w, b = _linear(classes=2, seed=3)
    x = 3.0 * np.random.default_rng(8).normal(size=(150, D)).astype(np.float32)
    y = np.argmax(logits(x).numpy(), -1)
    distance = _boundary_distance(x, y, w, b, norm)
    attack = Square(logits, norm=norm, eps=eps / 4, queries=300, clip=None)
    attack.set_budget(eps)
    x_adv, success, _ = attack(x, y, (9, 1))
    x_adv, success = x_adv.numpy(), success.numpy()
    assert x_adv.shape == x.shape and (x_adv.min() < -1.0 or x_adv.max() > 2.0)
    size = np.abs(x_adv - x).max(1) if norm == "linf" else np.sqrt(((x_adv - x) ** 2).sum(1))
    assert np.all(size <= eps * (1 + 1e-5))
    np.testing.assert_array_equal(success, np.argmax(logits(x_adv).numpy(), -1) != y)
    assert not success[distance > eps].any()
    easy = distance < 0.5 * eps
    assert easy.sum() >= 10 and success[easy].mean() >= 0.9, (easy.sum(), success[easy].mean())


def test_refuses_inputs_that_are_neither_images_nor_vectors():
    logits, *_ = _linear()
    with pytest.raises(ValueError, match=r"\(B, H, W, C\) or vectors"):
        Square(logits, norm="linf", eps=0.1, queries=5)(np.zeros((2, 12, 12), np.float32), [0, 1])
