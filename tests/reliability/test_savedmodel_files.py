"""Hostile SavedModel files end in one `error: ... -- ...` line within seconds: links out of the
model, devices, pipes, broken object graphs, malformed metadata, and graphs built to make an
inspection that follows calls quadratic."""

import os
import shutil
import time

import pytest
from savedmodel_hostile import read_proto, save_base, write_copy

from robust_keras import savedmodel_checks, savedmodel_hash
from robust_keras.errors import ModelError
from robust_keras.export import load_model


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return save_base(tmp_path_factory.mktemp("files") / "base")


def _one_line_refusal(directory, match, seconds=10.0):
    start = time.monotonic()
    with pytest.raises(ModelError, match=match) as err:
        load_model(str(directory), (28, 28, 1))
    assert "\n" not in str(err.value) and time.monotonic() - start < seconds
    return str(err.value)


def test_graph_file_as_a_link_to_a_device_or_as_a_pipe_is_refused_at_once(base, tmp_path):
    zero = tmp_path / "zero"
    shutil.copytree(base, zero)
    os.remove(zero / "saved_model.pb")
    os.symlink("/dev/zero", zero / "saved_model.pb")
    _one_line_refusal(zero, "outside the model")
    pipe = tmp_path / "pipe"
    shutil.copytree(base, pipe)
    os.remove(pipe / "saved_model.pb")
    os.mkfifo(pipe / "saved_model.pb")  # an open() for reading would block forever
    _one_line_refusal(pipe, "not a regular file")


def test_links_out_of_the_model_are_refused_before_tensorflow_reads_them(base, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(base, other)
    linked = tmp_path / "linked"
    shutil.copytree(base, linked)
    shutil.rmtree(linked / "variables")
    os.symlink(other / "variables", linked / "variables")  # another model's checkpoint
    _one_line_refusal(linked, "outside the model")
    with pytest.raises(ModelError, match="outside the model"):
        savedmodel_hash.savedmodel_hash(str(linked))
    inside = tmp_path / "inside"  # a link that stays inside the model is fine
    shutil.copytree(base, inside)
    os.rename(inside / "saved_model.pb", inside / "graph.pb")
    os.symlink("graph.pb", inside / "saved_model.pb")
    load_model(str(inside), (28, 28, 1))


def test_broken_object_graphs_and_metadata_are_one_line_errors(base, tmp_path):
    proto = read_proto(base)
    proto.meta_graphs[0].object_graph_def.ClearField("nodes")
    empty = write_copy(base, tmp_path / "empty", proto)
    _one_line_refusal(empty, "cannot be loaded")
    proto = read_proto(base)
    proto.meta_graphs[0].object_graph_def.nodes[0].children.add(node_id=10**6, local_name="far")
    far = write_copy(base, tmp_path / "far", proto)
    _one_line_refusal(far, "cannot be loaded")
    bad_json = tmp_path / "bad_json"
    shutil.copytree(base, bad_json)
    (bad_json / "metadata.json").write_text('{"input_shape": [28, 28')
    _one_line_refusal(bad_json, "malformed metadata.json")


def test_inspection_is_linear_in_the_file(base, tmp_path):
    """5,000 functions that all call one 5,000-node function: an inspection that walks every
    caller's callees visits 25 million nodes (73 s in the issue); each function once, 10,000."""
    proto = read_proto(base)
    library = proto.meta_graphs[0].graph_def.library
    big = library.function.add()
    big.signature.name = "big"
    for i in range(5000):
        big.node_def.add(name=f"n{i}", op="Identity", input=[f"n{i - 1}:output:0"] if i else [])
    for i in range(5000):
        caller = library.function.add()
        caller.signature.name = f"caller_{i}"
        caller.node_def.add(name="call", op="PartitionedCall").attr["f"].func.name = "big"
    directory = write_copy(base, tmp_path / "wide", proto)
    start = time.monotonic()
    assert savedmodel_checks.unsafe_ops(directory) == {}
    assert time.monotonic() - start < 5.0
