"""Linearized networks (App. E.1) against explicit Jacobians and the Taylor remainder."""

import keras
import numpy as np
import tensorflow as tf

from robust_keras.ntk import empirical_ntk
from robust_keras.ntk.linearized import LinearizedModel

RNG = np.random.default_rng(0)


def _net():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,))
    h = keras.layers.Dense(8, activation="tanh")(inputs)
    return keras.Model(inputs, keras.layers.Dense(3)(h))


def _jacobian(model, x):
    with tf.GradientTape() as tape:
        out = model(x)
    jac = tape.jacobian(out, model.trainable_variables)
    return tf.concat([tf.reshape(j, [*out.shape, -1]) for j in jac], axis=-1).numpy()  # (B, O, P)


def test_linearized_output_gradient_and_kernel_are_those_of_the_tangent_model():
    base = _net()
    lin = LinearizedModel(base)
    x = tf.constant(RNG.normal(size=(4, 6)), tf.float32)
    np.testing.assert_allclose(lin(x), base(x), rtol=1e-6)  # delta = 0
    jac = _jacobian(base, x)
    delta = [RNG.normal(size=v.shape).astype(np.float32) for v in base.trainable_variables]
    for d, value in zip(lin.delta, delta):
        d.assign(value)
    flat = np.concatenate([v.reshape(-1) for v in delta])
    np.testing.assert_allclose(lin(x), base(x) + jac @ flat, rtol=1e-4, atol=1e-5)  # f + J delta
    weights = RNG.normal(size=(4, 3)).astype(np.float32)
    with tf.GradientTape() as tape:
        value = tf.reduce_sum(weights * lin(x))
    grads = tape.gradient(value, lin.trainable_variables)
    np.testing.assert_allclose(
        np.concatenate([g.numpy().reshape(-1) for g in grads]), np.einsum("bo,bop->p", weights, jac), rtol=1e-4
    )
    assert len(lin.trainable_variables) == len(base.trainable_variables)  # theta_e is not trained
    # the tangent model's NTK is the base model's, at theta_e
    np.testing.assert_allclose(
        empirical_ntk(lin, x.numpy(), method="jacobian"), empirical_ntk(base, x.numpy()), rtol=1e-4, atol=1e-5
    )


def test_taylor_remainder_is_second_order():
    base = _net()
    lin = LinearizedModel(base)
    x = tf.constant(RNG.normal(size=(5, 6)), tf.float32)
    theta = [v.numpy() for v in base.trainable_variables]
    direction = [RNG.normal(size=v.shape) for v in theta]
    errors = []
    for t in (0.02, 0.01):
        for d, u in zip(lin.delta, direction):
            d.assign(t * u)
        moved = _net()  # same architecture and init, parameters theta_e + t u
        for v, w, u in zip(moved.trainable_variables, theta, direction):
            v.assign(w + t * u)
        errors.append(float(tf.reduce_max(tf.abs(moved(x) - lin(x)))))
    assert 3.0 < errors[0] / errors[1] < 5.0  # halving t quarters the error: O(t^2)


def test_linearized_model_exports_to_the_savedmodel_contract(tmp_path):
    from robust_keras.export import export_model, load_model

    base = _net()
    lin = LinearizedModel(base)
    lin.delta[-1].assign(np.ones(3, np.float32))  # the readout bias moves by 1
    x = RNG.normal(size=(4, 6)).astype(np.float32)
    loaded = load_model(export_model(lin, str(tmp_path / "lin"), {"linearized_at": 2}))
    np.testing.assert_allclose(np.asarray(loaded(x)), lin(x).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(loaded(x)), base(x).numpy() + 1.0, rtol=1e-5, atol=1e-5)
    assert loaded.metadata["linearized_at"] == 2 and loaded.metadata["num_classes"] == 3
