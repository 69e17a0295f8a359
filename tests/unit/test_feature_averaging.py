"""Feature averaging: synthetic data, diagnostics against closed forms, GD against a NumPy
implementation (the tiny experiments end to end: tests/e2e/test_feature_averaging_runs.py)."""

import numpy as np
import pytest
import tensorflow as tf

from robust_keras.analysis import feature_averaging as fa
from robust_keras.analysis import robustness
from robust_keras.data.synthetic import make_cluster_splits
from robust_keras.models import cluster_nets
from robust_keras.training import reference
from robust_keras.training.full_batch import FullBatchGD


def test_cluster_data():
    train, test = make_cluster_splits(6, 50, 60, 30, sigma=1.0, seed=3)
    gram = train.centres @ train.centres.T
    np.testing.assert_allclose(gram, 50 * np.eye(6), atol=1e-3)  # orthogonal, norm sqrt(d)
    np.testing.assert_array_equal(np.bincount(train.cluster), np.full(6, 10))
    np.testing.assert_array_equal(train.y, np.isin(train.cluster, [0, 1, 2]))
    residual = train.x - train.centres[train.cluster]
    assert abs(residual.std() - 1.0) < 0.05
    np.testing.assert_array_equal(test.centres, train.centres)


def test_diagnostics_closed_form_for_an_averaged_and_a_decoupled_net():
    _, d, k = None, 40, 4
    centres = cluster_nets_centres = make_cluster_splits(k, d, 8, 4, seed=0)[0].centres
    w0 = np.random.default_rng(0).normal(size=(d, 4)) * 1e-3
    # neurons 0,1 (sign +) average J+ = {0,1}; neurons 2,3 (sign -) average J- = {2,3}
    averaged = w0 + np.stack([0.5 * (centres[0] + centres[1])] * 2 + [0.3 * (centres[2] + centres[3])] * 2, 1)
    lam = fa.lambda_coefficients(averaged, w0, cluster_nets_centres)
    np.testing.assert_allclose(lam, [[0.5, 0.5, 0, 0], [0.5, 0.5, 0, 0], [0, 0, 0.3, 0.3], [0, 0, 0.3, 0.3]], atol=1e-6)
    s = fa.summary(fa.cosine_matrix(averaged - w0, centres), lam, [1, 1, -1, -1], [0, 1])
    assert s["same_class_cos"] == pytest.approx(1 / np.sqrt(2), abs=1e-6)
    assert s["other_class_cos"] == pytest.approx(0, abs=1e-6) and s["averaging_score"] == pytest.approx(1.0)
    decoupled = w0 + centres.T  # neuron i = mu_i
    s = fa.summary(
        fa.cosine_matrix(decoupled - w0, centres),
        fa.lambda_coefficients(decoupled, w0, centres),
        [1, 1, -1, -1],
        [0, 1],
        one_neuron_per_cluster=True,
    )
    assert s["diagonal_cos"] == pytest.approx(1.0) and s["off_diagonal_cos"] == pytest.approx(0, abs=1e-6)
    assert s["averaging_score"] == pytest.approx(0.0, abs=1e-6) and s["top_cluster_share"] == pytest.approx(1.0)


def test_full_batch_gd_matches_numpy_reference():
    train, _ = make_cluster_splits(4, 30, 40, 4, seed=1)
    model = cluster_nets.binary_net(30, 3, seed=2)
    kernel, bias = (v.numpy().astype(np.float64) for v in model.get_layer("hidden").weights)
    readout = model.get_layer("readout").kernel.numpy()[:, 0].astype(np.float64)
    x, y = train.x.astype(np.float64), train.y.astype(np.float64)
    gd = FullBatchGD(model, train.x, train.y, loss="logistic", learning_rate=0.05)
    gd.run(5)
    for _ in range(5):
        kernel, bias = reference.gd_step(x, y, kernel, bias, readout, 0.05)
    np.testing.assert_allclose(model.get_layer("hidden").kernel.numpy(), kernel, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.get_layer("hidden").bias.numpy(), bias, rtol=1e-4, atol=1e-5)
    assert gd.loss_value() == pytest.approx(reference.logistic_loss(x, y, kernel, bias, readout), rel=1e-4)


def test_analytic_attack_breaks_an_averaged_net_at_its_closed_form_radius():
    # f(x) = relu(<v+, x>) - relu(<v-, x>) with v+- = sum_{J+-} mu / k: the analytic step of radius r
    # lowers <v+, x> by r ||v+|| and raises <v-, x> by as much: flips at r = margin / (2 ||v+||).
    train, test = make_cluster_splits(4, 64, 8, 200, sigma=0.0, seed=0)
    import keras

    net = cluster_nets.robust_net(train.centres, [0, 1], 0.0)
    avg = np.stack([train.centres[:2].sum(0), train.centres[2:].sum(0)], 1) / 4  # (d, 2)
    net = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(
                2, activation="relu", use_bias=False, kernel_initializer=keras.initializers.Constant(avg)
            ),
            keras.layers.Dense(1, use_bias=False, kernel_initializer=keras.initializers.Constant([[1.0], [-1.0]])),
        ]
    )
    margin = cluster_nets.binary_margin(net)
    flip = (64 / 4) / (2 * np.linalg.norm(avg[:, 0])) * np.sqrt(2)  # margin d/4 over the step's gain
    acc = lambda r: robustness.analytic_robust_accuracy(margin, test.x, test.y, r, train.centres, [0, 1])  # noqa: E731
    assert acc(0.95 * flip) == 1.0 and acc(1.05 * flip) == 0.0


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_dual_full_batch_gd_takes_the_same_steps(kind):
    from robust_keras.training.full_batch import DualFullBatchGD

    train, _ = make_cluster_splits(4, 64, 40, 4, seed=2)
    build = (
        (lambda: cluster_nets.binary_net(64, 3, seed=1))
        if kind == "binary"
        else (lambda: cluster_nets.multiclass_net(64, 4, seed=1))
    )
    labels, loss = (train.y, "logistic") if kind == "binary" else (train.cluster, "cross_entropy")
    plain, dual = build(), build()
    a = FullBatchGD(plain, train.x, labels, loss=loss, learning_rate=0.2)
    b = DualFullBatchGD(dual, train.x, labels, loss=loss, learning_rate=0.2)
    for steps in (7, 13):
        a.run(steps)
        b.run(steps)
        for va, vb in zip(plain.get_layer("hidden").weights, dual.get_layer("hidden").weights):
            np.testing.assert_allclose(va.numpy(), vb.numpy(), rtol=1e-4, atol=1e-5)
    assert b.loss_value() == pytest.approx(a.loss_value(), rel=1e-4)


@pytest.mark.parametrize("attack", ["autoattack", "apgd_ce", "pgd"])
def test_margin_attacks_find_the_closed_form_distance_of_a_linear_margin(attack):
    """The --robust_eval attacks on a binary margin over unbounded inputs (Gaussian-cluster scale,
    no [0, 1] box) against f(x) = <w, x> + c, whose points are broken exactly when the radius
    reaches |f(x)| / ||w||: robust accuracy at the median distance is the share of points beyond
    it, up to the points within 2% of it. ``autoattack`` (the two-class ensemble): also each of
    its attacks alone -- never beyond the closed form; APGD-CE and FAB-T break every point within
    0.95 of the radius, Square (random search, no gradients) 90% of those within half of it."""
    from robust_keras.attacks.ensemble import STANDARD_TWO_CLASS, Ensemble

    rng = np.random.default_rng(11)
    w, c = rng.normal(size=64).astype(np.float32), np.float32(0.5)
    x = 3.0 * rng.normal(size=(120, 64)).astype(np.float32)
    margin = lambda v: tf.linalg.matvec(tf.convert_to_tensor(v, tf.float32), w) + c  # noqa: E731
    f = x @ w + c
    y = (f > 0).astype(np.int64)
    distance = np.abs(f) / np.linalg.norm(w)
    radius = float(np.median(distance))
    [accuracy] = robustness.robust_curve(margin, x, y, [radius], attack=attack, steps=40, seed=3)
    near = np.abs(distance / radius - 1.0) < 0.02
    assert abs(accuracy - np.mean(distance > radius)) <= near.mean() + 1e-9, (accuracy, np.mean(distance > radius))
    if attack != "autoattack":
        return
    logits = cluster_nets.margin_logits(margin)
    for name in STANDARD_TWO_CLASS:
        broken = ~Ensemble(logits, norm="l2", eps=radius, attacks=(name,), clip=None)(x, y, (0, 1)).robust
        assert not broken[distance > radius * (1 + 1e-4)].any(), name
        easy = distance < (0.5 if name == "square" else 0.95) * radius
        assert broken[easy].mean() >= (0.9 if name == "square" else 1.0), (name, broken[easy].mean())


def test_f_robust_flips_at_its_closed_form_radii():
    """Noise-free points of f_robust (bias -d/2): a J+ point flips when its own neuron is silenced,
    at (d - d/2) / sqrt(d) = sqrt(d)/2; a J- point must also switch a positive neuron on, sqrt(d/2).
    With noise every constructed flip is checked on the net, and no J+ flip is shorter than the
    Lipschitz bound f(x) / (sqrt(k) ||mu||) (orthogonal centres: ||grad f|| <= sqrt(k) ||mu||)."""
    d = 64
    train, _ = make_cluster_splits(4, d, 8, 8, sigma=0.0, seed=0)
    net = cluster_nets.robust_net(train.centres, [0, 1], -0.5 * d)
    margin = cluster_nets.binary_margin(net)
    flips = robustness.robust_net_flip_distance(margin, train.x, train.y, train.centres, [0, 1], -0.5 * d)
    expected = np.where(train.y == 1, np.sqrt(d) / 2, np.sqrt(d / 2))
    np.testing.assert_allclose(flips, expected, rtol=1e-3)
    _, noisy = make_cluster_splits(4, d, 8, 200, sigma=1.0, seed=0)  # the same centres, with noise
    flips = robustness.robust_net_flip_distance(margin, noisy.x, noisy.y, noisy.centres, [0, 1], -0.5 * d)
    assert np.isfinite(flips).all()
    f = np.asarray(margin(tf.constant(noisy.x)))
    positive = noisy.y == 1
    assert (flips[positive] >= f[positive] / (np.sqrt(4) * np.sqrt(d)) * (1 - 1e-4)).all()
