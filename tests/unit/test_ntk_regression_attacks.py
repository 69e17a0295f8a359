"""Kernel regression against direct solves, and the NTK attack's J(x)u trick against autodiff
through the explicit empirical-kernel predictor."""

import keras
import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf

from robust_keras.attacks.ntk import ascent_direction, attack_predictor
from robust_keras.ntk import empirical_ntk, structured
from robust_keras.ntk.predictors import EmpiricalKernelPredictor
from robust_keras.ntk.regression import KernelRegression

RNG = np.random.default_rng(0)


def _psd(n, rank=None):
    a = RNG.normal(size=(n, rank or n))
    return a @ a.T + (0 if rank else 0.5 * np.eye(n))


def test_regression_matches_direct_solves():
    theta = _psd(7)
    y = RNG.normal(size=(7, 2))
    cross = RNG.normal(size=(3, 7))
    reg = KernelRegression(theta, y, eta=0.1)
    np.testing.assert_allclose(reg.predict(cross), cross @ np.linalg.solve(theta, y), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(reg.predict(theta), y, rtol=1e-8, atol=1e-8)  # interpolates at t = inf
    t = 3.0
    direct = cross @ np.linalg.solve(theta, (np.eye(7) - scipy.linalg.expm(-0.1 * theta * t)) @ y)
    np.testing.assert_allclose(reg.predict(cross, t), direct, rtol=1e-8, atol=1e-10)
    assert np.allclose(reg.predict(cross, 0.0), 0.0)
    features = sum(reg.feature(cross, i) for i in range(7))
    np.testing.assert_allclose(features, reg.predict(cross), rtol=1e-8, atol=1e-10)
    assert np.all(np.diff(reg.eigenvalues) <= 0)


def test_rank_deficient_kernel_uses_the_pseudo_inverse():
    theta = _psd(6, rank=3)
    y = RNG.normal(size=(6, 1))
    reg = KernelRegression(theta, y)
    out = reg.predict(theta)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, theta @ np.linalg.pinv(theta, rcond=1e-10, hermitian=True) @ y, atol=1e-8)
    np.testing.assert_allclose(reg.predict(theta, 1e6), out, atol=1e-6)  # finite t tends to t = inf


def _mlp(outputs=3):
    inputs = keras.Input((5,))
    h = keras.layers.Dense(16, activation="tanh")(inputs)
    return keras.Model(inputs, keras.layers.Dense(outputs)(h))


def _explicit_predictor(model, x_train, alpha):
    train_feats = structured.layer_terms(model, tf.constant(x_train, tf.float32))

    def predict(x):
        block = structured.kernel_block(structured.layer_terms(model, x), train_feats, None)  # (M, N, O, O)
        return tf.einsum("mnop,np->mo", block, tf.constant(alpha, tf.float32))

    return predict


def test_jvp_predictor_equals_explicit_kernel_predictor_and_its_gradient():
    model = _mlp()
    x_train = RNG.normal(size=(6, 5)).astype(np.float32)
    alpha = RNG.normal(size=(6, 3)).astype(np.float32)
    x = tf.constant(RNG.normal(size=(4, 5)), tf.float32)
    fast = EmpiricalKernelPredictor(model, x_train, alpha, batch_size=4)  # chunked VJP
    explicit = _explicit_predictor(model, x_train, alpha)
    kernel = empirical_ntk(model, x.numpy(), x_train, dtype=np.float64)
    np.testing.assert_allclose(fast(x), np.einsum("mnop,np->mo", kernel, alpha), rtol=1e-4, atol=1e-4)
    weights = tf.constant(RNG.normal(size=(4, 3)), tf.float32)
    grads = []
    for predict in (fast, explicit):
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = tf.reduce_sum(weights * predict(x))
        grads.append(tape.gradient(value, x).numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("binary", [True, False])
def test_ntk_fgsm_increases_the_kernel_predictor_loss(binary):
    outputs = 1 if binary else 3
    model = _mlp(outputs)
    x_train = RNG.random((8, 5)).astype(np.float32)
    y = RNG.choice([-1.0, 1.0], 8) if binary else RNG.integers(0, 3, 8)
    targets = y[:, None] if binary else np.eye(3)[y]
    # alpha = Theta^{-1} Y on the full (N O) x (N O) kernel, then f(x) = Theta(x, X) alpha = J(x) u
    full = empirical_ntk(model, x_train, dtype=np.float64).transpose(0, 2, 1, 3).reshape(8 * outputs, 8 * outputs)
    alpha = np.linalg.solve(full + 1e-6 * np.eye(8 * outputs), targets.reshape(-1)).reshape(8, outputs)
    predict = EmpiricalKernelPredictor(model, x_train, alpha)
    np.testing.assert_allclose(predict(tf.constant(x_train)), targets, atol=1e-2)  # interpolates
    for steps in (1, 5):  # FGSM and the multi-step attack
        x_adv = attack_predictor(predict, x_train, y, 0.05, objective="binary" if binary else "ce", steps=steps)
        assert np.abs(x_adv - x_train).max() <= 0.05 + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
        if binary:
            before, after = (np.asarray(predict(tf.constant(z)))[:, 0] * y for z in (x_train, x_adv))
            assert np.all(after < before)
        else:
            loss = lambda z: keras.losses.sparse_categorical_crossentropy(y, predict(tf.constant(z)), from_logits=True)  # noqa: E731
            assert float(tf.reduce_mean(loss(x_adv))) > float(tf.reduce_mean(loss(x_train)))


def test_multiclass_attack_variants_on_a_linear_predictor_match_closed_forms():
    """f(x) = x W: max-of-k reaches the best worst-class margin max_k m_k + eps ||W_k - W_y||_1
    (no other l-inf step does better), and sum-of-k steps along sign(sum_k (W_k - W_y))."""
    w = tf.constant(RNG.normal(size=(6, 4)), tf.float32)
    predict = lambda z: tf.matmul(z, w)  # noqa: E731
    x, y, eps = RNG.normal(size=(5, 6)).astype(np.float32), RNG.integers(0, 4, 5), 0.3
    diffs = w.numpy().T[None, :, :] - w.numpy().T[y][:, None, :]  # (B, K, D): W_k - W_y
    margins = x @ w.numpy() - (x @ w.numpy())[np.arange(5), y][:, None]
    best = np.where(np.eye(4)[y] > 0, -np.inf, margins + eps * np.abs(diffs).sum(2)).max(1)

    def worst_margin(z):
        m = z @ w.numpy() - (z @ w.numpy())[np.arange(5), y][:, None]
        return np.where(np.eye(4)[y] > 0, -np.inf, m).max(1)

    adv = {o: attack_predictor(predict, x, y, eps, objective=o, clip=None) for o in ("max_of_k", "sum_of_k", "ce")}
    np.testing.assert_allclose(worst_margin(adv["max_of_k"]), best, rtol=1e-5, atol=1e-5)
    assert np.all(worst_margin(adv["sum_of_k"]) <= best + 1e-5) and np.all(worst_margin(adv["ce"]) <= best + 1e-5)
    np.testing.assert_array_equal(np.sign(adv["sum_of_k"] - x), np.sign(diffs.sum(1)))


def test_max_of_k_through_the_jvp_predictor_equals_the_explicit_kernel_predictor():
    model = _mlp()
    x_train = RNG.normal(size=(6, 5)).astype(np.float32)
    alpha = RNG.normal(size=(6, 3)).astype(np.float32)
    x, y = tf.constant(RNG.normal(size=(4, 5)), tf.float32), tf.constant(RNG.integers(0, 3, 4))
    fast = ascent_direction(EmpiricalKernelPredictor(model, x_train, alpha), x, y, "max_of_k", 0.1)
    slow = ascent_direction(_explicit_predictor(model, x_train, alpha), x, y, "max_of_k", 0.1)
    assert np.mean(fast.numpy() == slow.numpy()) > 0.95  # signs of near-zero entries may differ


def test_ranking_and_evaluation_splits_are_disjoint_and_a_too_small_split_is_refused():
    from robust_keras.errors import ConfigError
    from robust_keras.experiments.ntk_features import _split

    rank, evaluate = _split(300, 0.5)
    assert set(range(300)[rank]).isdisjoint(range(300)[evaluate]) and len(range(300)[rank]) == 150
    assert _split(300, 0.0) == (slice(None), slice(None))
    with pytest.raises(ConfigError, match="ntk_rank_fraction"):
        _split(3, 0.5)


def test_correct_reads_one_output_by_sign_and_several_by_argmax():
    from robust_keras.ntk.regression import correct

    one = np.array([[0.5], [-0.2], [0.0], [-1.0]])
    np.testing.assert_array_equal(correct(one, np.array([1, 1, 1, -1])), [True, False, False, True])
    several = np.array([[0.1, 0.9, 0.0], [2.0, 1.0, 0.0]])
    np.testing.assert_array_equal(correct(several, np.array([1, 2])), [True, False])


def test_feature_direction_predicts_the_sum_of_its_features_and_overlap_is_one_for_one_space():
    from robust_keras.ntk.regression import eigenspace_overlap

    rng = np.random.default_rng(0)
    a = rng.normal(size=(12, 30))
    theta, theta_test = a @ a.T, rng.normal(size=(5, 30)) @ a.T
    reg = KernelRegression(theta, np.sign(rng.normal(size=12)))
    direction = reg.feature_direction([0, 2, 5])
    summed = sum(reg.feature(theta_test, i) for i in (0, 2, 5))
    np.testing.assert_allclose(theta_test @ direction, summed, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(theta_test @ reg.feature_direction(list(range(12))), reg.predict(theta_test), rtol=1e-3)
    assert eigenspace_overlap(reg, reg, 4) == pytest.approx(1.0)
    other = KernelRegression(np.diag(np.arange(12.0, 0.0, -1.0)), np.ones(12))  # eigenvectors: the unit axes
    assert eigenspace_overlap(reg, other, 12) == pytest.approx(1.0)  # the whole space
    assert 0.0 < eigenspace_overlap(reg, other, 3) < 1.0
