"""Representation inversion (D_R / D_NR): closed forms on linear representations, the start rule,
the penultimate layer of every architecture and the SavedModel ``representation`` endpoint."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from robust_keras.attacks.inversion import RepresentationInversion, relative_residual, start_indices
from robust_keras.errors import ModelError
from robust_keras.export import export_model, load_model
from robust_keras.models import build_model, representation_model

RNG = np.random.default_rng(0)


def test_identity_representation_walks_straight_to_the_target():
    # g(z) = z: the gradient of ||z - x|| is the unit vector toward x, so each step moves exactly
    # step_size closer (the box never binds between two points of the box) until within one step.
    x, z0 = RNG.random((3, 4, 4, 1), dtype=np.float32), RNG.random((3, 4, 4, 1), dtype=np.float32)
    start = np.sqrt(((x - z0) ** 2).reshape(3, -1).sum(1))
    x_r, distance, start_distance = RepresentationInversion(lambda z: z, steps=5, step_size=0.1)(x, z0)
    np.testing.assert_allclose(start_distance, start, rtol=1e-5)
    np.testing.assert_allclose(distance, start - 0.5, rtol=1e-4)  # all start > 0.5 with this seed
    direction = (x - z0) / start[:, None, None, None]
    np.testing.assert_allclose(x_r, z0 + 0.5 * direction, atol=1e-5)


def test_relative_residual_is_the_share_of_the_start_distance_left():
    # identity representation: 5 steps of 0.1 toward x leave (d - 0.5) / d of the start's distance d
    x, z0 = RNG.random((5, 4, 4, 1), dtype=np.float32), RNG.random((5, 4, 4, 1), dtype=np.float32)
    x_r, distance, start_distance = RepresentationInversion(lambda z: z, steps=5, step_size=0.1)(x, z0)
    residual = relative_residual(lambda z: z, x, z0, np.asarray(x_r), batch_size=2)  # batches of 2, 2, 1
    np.testing.assert_allclose(residual, np.asarray(distance) / np.asarray(start_distance), rtol=1e-4)
    np.testing.assert_allclose(relative_residual(lambda z: 2 * z, x, z0, x), 0.0, atol=1e-12)  # matched exactly
    np.testing.assert_allclose(relative_residual(lambda z: z, x, z0, z0), 1.0)  # no closer than the start


def test_linear_representation_matches_up_to_the_step_size_and_keeps_the_best_iterate():
    # g(z) = W z with W (8, 64) of orthonormal rows: the set {g(z) = g(x)} is an affine subspace;
    # normalised steps reach it to within one step size (then oscillate; the best iterate is kept).
    w = np.linalg.qr(RNG.normal(size=(64, 8)))[0].T.astype(np.float32)
    g = lambda z: tf.reshape(z, [tf.shape(z)[0], -1]) @ tf.constant(w.T)  # noqa: E731
    x = 0.25 + 0.5 * RNG.random((4, 8, 8, 1), dtype=np.float32)  # away from the box's faces
    z0 = 0.25 + 0.5 * RNG.random((4, 8, 8, 1), dtype=np.float32)
    x_r, distance, start_distance = RepresentationInversion(g, steps=200, step_size=0.01)(x, z0)
    recomputed = np.linalg.norm(np.asarray(g(x_r)) - np.asarray(g(x)), axis=1)
    np.testing.assert_allclose(distance, recomputed, atol=1e-5)  # the returned distance is x_r's
    assert np.all(distance <= 0.01 + 1e-6) and np.all(start_distance > 0.1)
    # steps move only within the row space of W: the orthogonal part of z0 is untouched
    flat = lambda a: a.reshape(4, -1)  # noqa: E731
    orthogonal = lambda a: flat(a) - flat(a) @ w.T @ w  # noqa: E731
    np.testing.assert_allclose(orthogonal(np.asarray(x_r)), orthogonal(z0), atol=1e-5)


def test_start_rule_picks_another_image_deterministically():
    s = start_indices(1000, 7)
    assert np.all(s != np.arange(1000)) and s.min() >= 0 and s.max() < 1000
    np.testing.assert_array_equal(s, start_indices(1000, 7))
    assert not np.array_equal(s, start_indices(1000, 8))
    assert len(np.unique(s)) > 500  # spread over the split, not a fixed shift


@pytest.mark.parametrize("name,shape,features", [("cnn_mnist", (28, 28, 1), 256), ("two_layer", (28, 28, 1), 32)])
def test_representation_is_the_input_of_the_readout(name, shape, features):
    model = build_model(name, shape, 10, mean=[0.1], std=[0.3], width=32, seed=1)
    g = representation_model(model)
    x = RNG.random((3, *shape), dtype=np.float32)
    assert g(x).shape == (3, features)
    readout = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][-1]
    np.testing.assert_allclose(np.asarray(readout(g(x))), np.asarray(model(x)), rtol=1e-4, atol=1e-5)


def test_savedmodel_representation_endpoint(tmp_path):
    model = build_model("cnn_mnist", (28, 28, 1), 10, mean=[0.1], std=[0.3], seed=2)
    export_model(model, str(tmp_path / "m"), {})
    loaded = load_model(str(tmp_path / "m"))
    x = RNG.random((2, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(loaded.representation(x), representation_model(model)(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-5, atol=1e-6)
    assert loaded.metadata["representation_endpoint"] == "representation"

    class LogitsOnly(tf.Module):  # a SavedModel from another tool: logits only
        @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32)])
        def serve(self, x):
            return tf.reshape(x, [-1, 784])[:, :10]

    tf.saved_model.save(LogitsOnly(), str(tmp_path / "other"))
    with pytest.raises(ModelError, match="no 'representation' endpoint"):
        _ = load_model(str(tmp_path / "other"), trusted=True).representation
