"""Hostile SavedModels for the safety tests: a clean TF2 base model, a function that writes a file,
proto mutations that wire it in (or only look like they might), TF1 models whose loader runs
collections, and the effect oracle that loads models in a child process and reports what they did."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import tensorflow as tf
from conftest import ROOT
from tensorflow.core.framework import attr_value_pb2
from tensorflow.core.protobuf import saved_model_pb2

IMAGES = tf.TensorSpec([None, 28, 28, 1], tf.float32)
HOSTILE = "__inference_hostile_written_1"  # the writing function's name inside mutated models
SECRET = 4242.0  # every value of the secret checkpoint a hostile restore would read


class Base(tf.Module):
    """A clean model with one variable, so its file holds the saver's save and restore functions."""

    def __init__(self):
        super().__init__()
        self.w = tf.Variable(tf.fill([1, 10], 0.5))

    @tf.function(input_signature=[IMAGES], autograph=False)
    def serve(self, x):
        return tf.reduce_mean(x, axis=[1, 2, 3])[:, None] * self.w


def save_base(directory) -> str:
    module = Base()
    tf.saved_model.save(module, str(directory), signatures={"serving_default": module.serve})
    return str(directory)


def hostile_function(target: str):
    """FunctionDef of images -> images that writes ``target`` first (named :data:`HOSTILE`)."""

    @tf.function(input_signature=[IMAGES], autograph=False)
    def hostile(x):
        with tf.control_dependencies([tf.io.write_file(target, "written by a hostile function")]):
            return tf.identity(x)

    fdef = hostile.get_concrete_function().function_def
    fdef.signature.name = HOSTILE
    return fdef


def secret_checkpoint(directory) -> str:
    """A checkpoint outside any model whose one tensor is all :data:`SECRET`; returns its prefix."""
    checkpoint = tf.train.Checkpoint(w=tf.Variable(tf.fill([1, 10], SECRET)))
    return checkpoint.write(os.path.join(str(directory), "secret"))


def read_proto(directory):
    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(directory, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    return proto


def write_copy(base: str, directory, proto) -> str:
    shutil.copytree(base, str(directory))
    with open(os.path.join(str(directory), "saved_model.pb"), "wb") as f:
        f.write(proto.SerializeToString())
    return str(directory)


def _library(proto):
    return proto.meta_graphs[0].graph_def.library


def _function(proto, prefix: str):
    """The library function whose name starts with ``prefix`` (the serve function also when renamed)."""
    names = {f.signature.name: f for f in _library(proto).function}
    if prefix == "__inference_serve_" and "__inference_renamed_serve_7" in names:
        return names["__inference_renamed_serve_7"]
    return next(f for name, f in names.items() if name.startswith(prefix))


def _call_hostile_in_serve(proto, by_op_name: bool) -> None:
    """Adds a call of HOSTILE on serve's input to serve's body, with its output's Identity made to
    wait for the call: calling the model runs it."""
    serve = _function(proto, "__inference_serve_")
    node = serve.node_def.add(name="hostile_call", input=[serve.signature.input_arg[0].name])
    if by_op_name:
        node.op = HOSTILE
    else:
        node.op = "PartitionedCall"
        node.attr["f"].func.name = HOSTILE
        node.attr["Tin"].list.type.append(tf.float32.as_datatype_enum)
        node.attr["Tout"].list.type.append(tf.float32.as_datatype_enum)
    output = next(n for n in serve.node_def if n.op == "Identity")
    output.input.append("^hostile_call")


def _nested_reference(proto) -> None:
    serve = _function(proto, "__inference_serve_")
    inner = attr_value_pb2.AttrValue()
    inner.func.name = HOSTILE
    outer = serve.node_def[0].attr["_hostile"]
    outer.func.name = "NoOp"
    outer.func.attr["inner"].CopyFrom(inner)


def _primitive_as_function(proto) -> None:
    serve = _function(proto, "__inference_serve_")
    serve.node_def[0].attr["_writer"].list.func.add(name="WriteFile")


def _graph_node_in_collection(proto) -> None:
    graph = proto.meta_graphs[0].graph_def
    graph.node.add(name="hostile_node", op=HOSTILE)
    proto.meta_graphs[0].collection_def["table_initializer"].node_list.value.append("hostile_node")


def _rename_hostile_to_serve(proto) -> None:
    serve = _function(proto, "__inference_serve_")
    name = serve.signature.name
    _library(proto).function.remove(serve)
    next(f for f in _library(proto).function if f.signature.name == HOSTILE).signature.name = name


def _composite_signature_output(proto) -> None:
    for info in proto.meta_graphs[0].signature_def["serving_default"].outputs.values():
        info.ClearField("name")
        info.composite_tensor.type_spec.type_spec_class = 1  # SPARSE_TENSOR_SPEC


def _rename_serve_everywhere(proto) -> None:
    """A benign mutation: the serve function renamed wherever it is named."""
    old = _function(proto, "__inference_serve_").signature.name
    new = "__inference_renamed_serve_7"
    meta = proto.meta_graphs[0]
    for function in list(_library(proto).function) + [None]:
        nodes = meta.graph_def.node if function is None else function.node_def
        if function is not None and function.signature.name == old:
            function.signature.name = new
        for node in nodes:
            for attr in node.attr.values():
                if attr.func.name == old:
                    attr.func.name = new
    graph = meta.object_graph_def
    graph.concrete_functions[new].CopyFrom(graph.concrete_functions[old])
    del graph.concrete_functions[old]
    for node in graph.nodes:
        names = node.function.concrete_functions
        for i, name in enumerate(names):
            if name == old:
                names[i] = new
        if node.bare_concrete_function.concrete_function_name == old:
            node.bare_concrete_function.concrete_function_name = new


def _drop_object_graph_entries(proto) -> None:
    proto.meta_graphs[0].object_graph_def.concrete_functions.clear()


def _restore_from_constant_path(proto, secret_prefix: str) -> None:
    restore = _function(proto, "__inference__traced_restore_")
    const = restore.node_def.add(name="secret_prefix", op="Const")
    const.attr["dtype"].type = tf.string.as_datatype_enum
    const.attr["value"].tensor.dtype = tf.string.as_datatype_enum
    const.attr["value"].tensor.string_val.append(secret_prefix.encode())
    next(n for n in restore.node_def if n.op == "RestoreV2").input[0] = "secret_prefix:output:0"


# name -> (mutation(proto, secret_prefix), adds HOSTILE to the library)
MUTATIONS = {
    "add unreferenced function": (lambda p, s: None, True),
    "call from serve by PartitionedCall": (lambda p, s: _call_hostile_in_serve(p, by_op_name=False), True),
    "call from serve by op name": (lambda p, s: _call_hostile_in_serve(p, by_op_name=True), True),
    "reference in a nested attribute": (lambda p, s: _nested_reference(p), True),
    "primitive op named as a function": (lambda p, s: _primitive_as_function(p), False),
    "graph node in a collection": (lambda p, s: _graph_node_in_collection(p), True),
    "hostile body under serve's name": (lambda p, s: _rename_hostile_to_serve(p), True),
    "composite signature output": (lambda p, s: _composite_signature_output(p), False),
    "serve renamed everywhere": (lambda p, s: _rename_serve_everywhere(p), False),
    "object graph entries dropped": (lambda p, s: _drop_object_graph_entries(p), False),
    "restore from a constant path": (_restore_from_constant_path, False),
}


def mutate(base: str, directory, names, hostile, secret_prefix: str) -> str:
    """A copy of ``base`` in ``directory`` with the mutations ``names`` applied in order."""
    proto = read_proto(base)
    if any(MUTATIONS[n][1] for n in names):
        _library(proto).function.append(hostile)
    for name in names:
        MUTATIONS[name][0](proto, secret_prefix)
    return write_copy(base, directory, proto)


def tf1_model(directory, collection_writes: str | None = None) -> str:
    """A TF1 SavedModel (matmul signature, saver, no init op); with ``collection_writes``, a
    WriteFile of that path in the table-initialiser collection, which the TF1 loader runs."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 28, 28, 1], name="image")
        w = tf.compat.v1.get_variable("w", [784, 10], initializer=tf.compat.v1.zeros_initializer())
        logits = tf.matmul(tf.reshape(x, [-1, 784]), w)
        if collection_writes:
            write = tf.io.write_file(collection_writes, "written at load time")
            tf.compat.v1.add_to_collection(tf.compat.v1.GraphKeys.TABLE_INITIALIZERS, write)
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            builder = tf.compat.v1.saved_model.Builder(str(directory))
            signature = tf.compat.v1.saved_model.predict_signature_def({"image": x}, {"logits": logits})
            builder.add_meta_graph_and_variables(session, ["serve"], signature_def_map={"serving_default": signature})
            builder.save()
    return str(directory)


def run_oracle(models, watched, trusted=()) -> list[dict]:
    """Loads and calls ``models`` (untrusted), then ``trusted`` (the controls), in one child
    process whose working and temporary directories are ``watched``; returns its JSON lines."""
    tmp = os.path.join(str(watched), "tmp")
    os.makedirs(tmp, exist_ok=True)
    script = os.path.join(ROOT, "tests", "reliability", "savedmodel_oracle.py")
    env = {**os.environ, "PYTHONPATH": ROOT, "TMPDIR": tmp, "PYTHONDONTWRITEBYTECODE": "1"}
    args = [*map(str, models), *(["--trusted", *map(str, trusted)] if trusted else [])]
    out = subprocess.run(
        [sys.executable, script, *args], cwd=str(watched), env=env, capture_output=True, text=True, timeout=600,
        check=True,
    ).stdout  # fmt: skip
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]
