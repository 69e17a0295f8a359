"""SavedModels are inspected before they run: side-effecting serve graphs are refused, corrupt
files give one ModelError line, and a model's hash is what it computes, not its file bytes."""

import os

import numpy as np
import pytest
import tensorflow as tf

from robust_keras import savedmodel_checks
from robust_keras.errors import ModelError
from robust_keras.export import export_model, load_model
from robust_keras.models import build_model


def _model(seed):
    return build_model("cnn_mnist", (28, 28, 1), 10, mean=[0.5], std=[0.25], seed=seed)


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    model = _model(0)
    for name in ("a", "b"):
        export_model(model, str(root / name), {"run": name})  # the same model, exported twice
    export_model(_model(1), str(root / "other"), {})
    return root


class _WritesAFile(tf.Module):
    def __init__(self, target):
        super().__init__()
        self.target = target

    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32)], autograph=False)
    def serve(self, x):
        tf.io.write_file(self.target, "written by a model")
        return tf.tile(tf.reduce_mean(x, axis=[1, 2, 3])[:, None], [1, 10])


def test_side_effecting_serve_graph_is_refused_unless_trusted(tmp_path):
    target = str(tmp_path / "side_effect.txt")
    module = _WritesAFile(target)
    tf.saved_model.save(module, str(tmp_path / "evil"), signatures={"serving_default": module.serve})
    with pytest.raises(ModelError, match=r"side-effecting ops when called \(WriteFile\)"):
        load_model(str(tmp_path / "evil"), (28, 28, 1))
    assert not os.path.exists(target)
    trusted = load_model(str(tmp_path / "evil"), (28, 28, 1), trusted=True)
    trusted(np.zeros([1, 28, 28, 1], np.float32))
    assert os.path.exists(target)  # what the check prevents: calling it writes the file


def test_own_exports_pass_and_hash_by_what_they_compute(exports):
    assert not savedmodel_checks.serving_ops(str(exports / "a")) & savedmodel_checks.SIDE_EFFECT_OPS
    with open(exports / "a" / "saved_model.pb", "rb") as fa, open(exports / "b" / "saved_model.pb", "rb") as fb:
        same_bytes = fa.read() == fb.read()
    hashes = {name: savedmodel_checks.savedmodel_hash(str(exports / name)) for name in ("a", "b", "other")}
    assert hashes["a"] == hashes["b"] and hashes["a"] != hashes["other"]
    assert not same_bytes or hashes["a"] == hashes["b"]  # equal whether or not the graph bytes differ


def test_truncated_graph_and_missing_variables_are_one_line_errors(exports, tmp_path):
    import shutil

    broken = tmp_path / "truncated"
    shutil.copytree(exports / "a", broken)
    data = (broken / "saved_model.pb").read_bytes()
    (broken / "saved_model.pb").write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelError, match="unreadable saved_model.pb") as err:
        load_model(str(broken))
    assert "\n" not in str(err.value)
    no_vars = tmp_path / "no_vars"
    shutil.copytree(exports / "a", no_vars)
    for f in (no_vars / "variables").iterdir():
        f.unlink()
    with pytest.raises(ModelError, match="cannot be loaded|missing or corrupt variables") as err:
        load_model(str(no_vars))
    assert "\n" not in str(err.value)
    with pytest.raises(ModelError, match="missing or corrupt variables"):
        savedmodel_checks.savedmodel_hash(str(no_vars))
