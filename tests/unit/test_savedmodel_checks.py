"""Corrupt SavedModel files give one ModelError line, and a model's hash is what it computes, not
its file bytes or the process that exported it (the allowlist: tests/reliability/test_savedmodel_safety.py)."""

import pytest

from robust_keras import savedmodel_checks, savedmodel_hash
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


def test_own_exports_pass_and_hash_by_what_they_compute(exports):
    assert savedmodel_checks.unsafe_ops(str(exports / "a")) == {}
    with open(exports / "a" / "saved_model.pb", "rb") as fa, open(exports / "b" / "saved_model.pb", "rb") as fb:
        same_bytes = fa.read() == fb.read()
    hashes = {name: savedmodel_hash.savedmodel_hash(str(exports / name)) for name in ("a", "b", "other")}
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
        savedmodel_hash.savedmodel_hash(str(no_vars))
