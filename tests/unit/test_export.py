"""SavedModel contract: round trip with a new batch size, foreign SavedModels, clear errors."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import read_json

from robust_keras.errors import ModelError
from robust_keras.export import export_model, load_model
from robust_keras.models import build_model
from robust_keras.savedmodel_hash import savedmodel_hash


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = build_model("cnn_cifar", (32, 32, 3), 10, mean=[0.5] * 3, std=[0.25] * 3, seed=2)
    path = str(tmp_path_factory.mktemp("sm") / "model")
    export_model(model, path, {"dataset": "cifar10", "git_sha": "abc"})
    return model, path


def test_roundtrip_any_batch_size(exported):
    model, path = exported
    loaded = load_model(path, (32, 32, 3))
    for n in (1, 7):
        x = np.random.default_rng(n).random((n, 32, 32, 3), dtype=np.float32)
        np.testing.assert_allclose(loaded(x), model(x, training=False), rtol=1e-5, atol=1e-5)
    meta = read_json(f"{path}/metadata.json")
    assert meta["input_shape"] == [32, 32, 3] and meta["num_classes"] == 10 and meta["dataset"] == "cifar10"
    assert loaded.metadata == meta
    sig = tf.saved_model.load(path).signatures["serving_default"]  # what outside users call
    assert sig(tf.zeros([2, 32, 32, 3])).popitem()[1].shape == (2, 10)


def test_gradients_flow_through_loaded_model(exported):
    loaded = load_model(exported[1])
    x = tf.random.uniform([2, 32, 32, 3])
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = tf.reduce_sum(loaded(x))
    assert float(tf.reduce_sum(tf.abs(tape.gradient(out, x)))) > 0


def test_wrong_input_shape_is_a_clear_error(exported):
    with pytest.raises(ModelError, match=r"expects inputs of shape \(32, 32, 3\).*\(28, 28, 1\)"):
        load_model(exported[1], (28, 28, 1))


def test_hash_ignores_metadata(exported, tmp_path):
    h = savedmodel_hash(exported[1])
    assert len(h) == 64 and h == savedmodel_hash(exported[1])


class Foreign(tf.Module):
    def __init__(self):
        self.w = tf.Variable(tf.ones([4, 3]))

    @tf.function(input_signature=[tf.TensorSpec([None, 2, 2, 1], tf.float32, name="pixels")])
    def __call__(self, pixels):
        return {"scores": tf.reshape(pixels, [-1, 4]) @ self.w}


def test_foreign_savedmodel_with_serving_default(tmp_path):
    module = Foreign()
    tf.saved_model.save(module, str(tmp_path / "f"), signatures={"serving_default": module.__call__})
    loaded = load_model(str(tmp_path / "f"), (2, 2, 1))
    np.testing.assert_allclose(loaded(tf.ones([5, 2, 2, 1])), np.full((5, 3), 4.0))


def test_not_a_savedmodel(tmp_path):
    with pytest.raises(ModelError, match="not a SavedModel"):
        load_model(str(tmp_path))
    module = tf.Module()
    module.v = tf.Variable(1.0)
    tf.saved_model.save(module, str(tmp_path / "bare"))
    with pytest.raises(ModelError, match="no 'serve' or 'serving_default'"):
        load_model(str(tmp_path / "bare"))
