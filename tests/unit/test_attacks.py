"""Attack properties (cleverhans-style) and the closed-form optimum on a linear model."""

import numpy as np
import pytest
import tensorflow as tf

from robust_keras.attacks import PGD, fgsm
from robust_keras.models import build_model

RNG = np.random.default_rng(0)


@pytest.fixture(scope="module")
def cnn():
    return build_model("cnn_mnist", (28, 28, 1), 10, mean=[0.13], std=[0.3], seed=0)


def _norms(d):
    flat = np.asarray(d).reshape(len(d), -1)
    return np.abs(flat).max(1), np.sqrt((flat**2).sum(1))


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_zero_budget_is_identity(cnn, norm):
    x = RNG.random((4, 28, 28, 1), dtype=np.float32)
    x_adv, _, _ = PGD(cnn, norm=norm, eps=0.0, step_size=0.1, steps=3, random_start=True)(x, np.arange(4))
    np.testing.assert_array_equal(x_adv, x)


@pytest.mark.parametrize("norm,eps", [("linf", 0.1), ("l2", 1.5)])
@pytest.mark.parametrize("targeted", [False, True])
def test_budget_range_and_progress(cnn, norm, eps, targeted):
    x = RNG.random((6, 28, 28, 1), dtype=np.float32)
    y = np.arange(6) % 10
    labels = (y + 1) % 10 if targeted else y
    attack = PGD(cnn, norm=norm, eps=eps, step_size=eps / 4, steps=10, restarts=2, random_start=True, targeted=targeted)
    x_adv, success, loss = attack(x, labels, (3, 4))
    linf, l2 = _norms(x_adv.numpy() - x)
    assert np.all((linf if norm == "linf" else l2) <= eps + 1e-5)
    assert float(tf.reduce_min(x_adv)) >= 0.0 and float(tf.reduce_max(x_adv)) <= 1.0
    clean_loss = tf.keras.losses.sparse_categorical_crossentropy(labels, cnn(x), from_logits=True).numpy()
    assert np.all(loss.numpy() < clean_loss) if targeted else np.all(loss.numpy() > clean_loss)
    pred = np.argmax(cnn(x_adv), -1)
    np.testing.assert_array_equal(success, pred == labels if targeted else pred != labels)


def _linear(w, b):
    w = tf.constant(w[:, None], tf.float32)

    def logits(x):  # two classes; margin of class 1 = w.x + b
        z = tf.reshape(x, [tf.shape(x)[0], -1]) @ w + b
        return tf.concat([tf.zeros_like(z), z], axis=1)

    return logits


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_linear_model_reaches_the_closed_form_optimum(norm):
    d, eps = 20, (0.1 if norm == "linf" else 0.4)
    w = RNG.normal(size=d).astype(np.float32)
    x = np.full((1, d), 0.5, np.float32)  # box constraints do not bind at this budget
    optimum = -eps * (np.sign(w) if norm == "linf" else w / np.linalg.norm(w))  # argmin of margin w.(x+d)
    for targeted, label in ((False, 1), (True, 0)):
        attack = PGD(_linear(w, 0.3), norm=norm, eps=eps, step_size=eps / 4, steps=12, targeted=targeted)
        x_adv, _, _ = attack(x, np.array([label]))
        np.testing.assert_allclose(x_adv.numpy()[0] - x[0], optimum, atol=1e-5)
    drop = eps * (np.abs(w).sum() if norm == "linf" else np.linalg.norm(w))
    margin = lambda z: float(_linear(w, 0.3)(z)[0, 1])  # noqa: E731
    assert margin(x) - margin(x_adv) == pytest.approx(drop, rel=1e-4)


def test_fgsm_is_one_sign_step():
    w = RNG.normal(size=10).astype(np.float32)
    x = np.full((1, 10), 0.5, np.float32)
    x_adv, _, _ = fgsm(_linear(w, 0.0), norm="linf", eps=0.05)(x, np.array([1]))
    np.testing.assert_allclose(x_adv.numpy(), x - 0.05 * np.sign(w), atol=1e-6)


def test_one_trace_for_all_batch_sizes(cnn):
    attack = PGD(cnn, norm="l2", eps=1.0, step_size=0.5, steps=2)
    for n in (1, 5, 9):
        attack(RNG.random((n, 28, 28, 1), dtype=np.float32), np.zeros(n, np.int64), (0, n))
    assert attack._compiled[(28, 28, 1)].experimental_get_tracing_count() == 1


def test_restarts_keep_the_best_iterate(cnn):
    x = RNG.random((16, 28, 28, 1), dtype=np.float32)
    t = (np.arange(16) + 3) % 10
    kwargs = dict(norm="linf", eps=0.03, step_size=0.01, steps=3, random_start=True, targeted=True)
    _, _, loss1 = PGD(cnn, restarts=1, **kwargs)(x, t, (5, 5))
    _, _, loss4 = PGD(cnn, restarts=4, **kwargs)(x, t, (5, 5))  # restart 0 is the same run
    assert np.all(loss4.numpy() <= loss1.numpy() + 1e-6)


def test_plain_fgsm_takes_the_step_and_fgsm_best_may_keep_x():
    """Plain FGSM always moves by eps (even where the step does not help); the best-of variant
    returns x where x is the worse point for the model."""
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, kernel_initializer="ones")])
    x = np.full([8, 4], 0.5, np.float32)
    y = np.zeros(8, np.int64)  # all logits tie: the step does not change the loss
    plain = fgsm(model, norm="linf", eps=0.1)(x, y)[0].numpy()
    np.testing.assert_allclose(np.abs(plain - x).max(axis=1), 0.1, atol=1e-6)
    best = fgsm(model, norm="linf", eps=0.1, keep_best=True)(x, y)[0].numpy()
    np.testing.assert_array_equal(best, x)


def test_attacking_a_one_output_model_is_refused_in_one_line():
    import keras

    from robust_keras.errors import ModelError

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    for label in (0, 1):
        with pytest.raises(ModelError, match="one output") as err:
            PGD(model, norm="l2", eps=0.5, step_size=0.1, steps=3)(np.zeros([2, 4], np.float32), np.full(2, label))
        assert "\n" not in str(err.value)


@pytest.mark.parametrize("attack", ["pgd", "apgd"])
def test_margin_loss_takes_ce_steps_without_its_underflow(attack):
    """Two classes: on the margin, PGD and APGD take the cross-entropy's steps (the same iterates
    where CE keeps its precision) and keep moving where CE is exactly zero in float32 (margins
    >= 300, as feature averaging's f_robust): CE is stuck, the margin breaks exactly the points
    within the closed-form distance |f| / ||w||."""
    from robust_keras.attacks import APGD

    w = np.random.default_rng(1).normal(size=(20,)).astype(np.float32)

    def logits_of(scale):
        return lambda x: tf.stack([tf.zeros(tf.shape(x)[0]), scale * tf.linalg.matvec(x, w)], -1)

    def build(logits, loss):
        if attack == "pgd":
            return PGD(logits, norm="l2", eps=1.0, step_size=0.25, steps=5, clip=None, loss=loss)
        # 5 steps: once iterates settle on the sphere, f_{k+1} = f_k up to rounding and APGD's
        # strict step-size tests become a rounding tie-break (seen at 10 steps: 8e-4 apart)
        return APGD(logits, norm="l2", eps=1.0, steps=5, clip=None, loss="margin" if loss == "margin" else "ce")

    x = np.random.default_rng(2).normal(size=(64, 20)).astype(np.float32)
    y = (x @ w > 0).astype(np.int64)
    distance = np.abs(x @ w) / np.linalg.norm(w)
    resolved = logits_of(0.2)  # margins < 4: CE's values and gradients keep their precision
    ce_adv, ce_success, _ = build(resolved, "ce")(x, y, (0, 0))
    margin_adv, margin_success, _ = build(resolved, "margin")(x, y, (0, 0))
    np.testing.assert_allclose(margin_adv.numpy(), ce_adv.numpy(), atol=1e-4)
    np.testing.assert_array_equal(margin_success.numpy(), ce_success.numpy())
    saturated = logits_of(300.0 / np.abs(x @ w).min())  # every margin >= 300
    _, ce_success, _ = build(saturated, "ce")(x, y, (0, 0))
    _, margin_success, _ = build(saturated, "margin")(x, y, (0, 0))
    np.testing.assert_array_equal(margin_success.numpy(), distance < 1.0)
    # CE only breaks what a random start happens to land on (APGD starts at random, PGD here at x)
    assert ce_success.numpy().sum() <= 0.25 * margin_success.numpy().sum()
