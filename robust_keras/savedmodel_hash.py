"""A SavedModel's content hash: what it computes, not its file bytes (recorded in dataset manifests
and evaluation results so that a changed model is noticed)."""

from __future__ import annotations

import hashlib
import os

from robust_keras.errors import ModelError, first_line
from robust_keras.savedmodel_files import check_layout, is_tf2, read_saved_model


def _serve_captures(meta) -> list[int]:
    """Object-graph ids of the variables the serving function captures, in capture order (the
    order of the model's own computation, the same for every export of the architecture)."""
    graph = meta.object_graph_def
    if not graph.nodes:
        return []
    children = {c.local_name: c.node_id for c in graph.nodes[0].children}
    names: list[str] = []
    if 0 <= children.get("serve", -1) < len(graph.nodes):
        node = graph.nodes[children["serve"]]
        if node.WhichOneof("kind") == "function":
            names = list(node.function.concrete_functions)
        elif node.WhichOneof("kind") == "bare_concrete_function":
            names = [node.bare_concrete_function.concrete_function_name]
    ids: list[int] = []
    for name in names:
        if name in graph.concrete_functions:
            ids += [i for i in graph.concrete_functions[name].bound_inputs if i not in ids]
    return ids


def _checkpoint_keys(reader) -> dict[int, str]:
    """Object-graph node id -> checkpoint key of its value, from the checkpoint's object graph."""
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
    keys = {}
    for i, node in enumerate(graph.nodes):
        for attribute in node.attributes:
            if attribute.name == "VARIABLE_VALUE":
                keys[i] = attribute.checkpoint_key
    return keys


def savedmodel_hash(directory: str) -> str:
    """sha256 of what a SavedModel computes: the serving signature's input and output specs and
    every saved variable's dtype, shape and values -- in the order the serving function uses them
    (the rest ordered by content). No names enter it: two exports of the same weights hash alike
    whatever their layer names, the order their exporter listed variables in, or their graph bytes."""
    try:
        check_layout(directory)
        return _content_hash(directory)
    except ModelError:
        raise
    except Exception as e:  # a hostile file the readers did not anticipate
        raise ModelError(
            f"SavedModel {directory} could not be hashed ({first_line(e)})",
            "copy the model again from its source",
        ) from None


def _content_hash(directory: str) -> str:
    import tensorflow as tf

    proto = read_saved_model(directory)
    digest = hashlib.sha256()
    for meta in proto.meta_graphs:
        for key in sorted(k for k in meta.signature_def if k in ("serve", "serving_default")):
            sig = meta.signature_def[key]
            for group in (sig.inputs, sig.outputs):
                for name in sorted(group):
                    spec = group[name]
                    dims = [d.size for d in spec.tensor_shape.dim]
                    digest.update(f"{key}/{name}:{spec.dtype}:{dims};".encode())
    try:
        reader = tf.train.load_checkpoint(os.path.join(directory, "variables", "variables"))
    except Exception as e:
        raise ModelError(
            f"SavedModel {directory} has missing or corrupt variables ({type(e).__name__})",
            "re-export or copy the model again, variables/ included",
        ) from None

    def entry(key):
        value = reader.get_tensor(key)
        data = value.tobytes() if hasattr(value, "tobytes") else str(value).encode()
        return f"{getattr(value, 'dtype', type(value))}:{getattr(value, 'shape', ())};".encode() + data

    all_keys = sorted(k for k in reader.get_variable_to_shape_map() if k != "_CHECKPOINTABLE_OBJECT_GRAPH")
    ordered: list[str] = []
    if is_tf2(proto):
        keys = _checkpoint_keys(reader)
        ordered = [keys[i] for i in _serve_captures(proto.meta_graphs[0]) if i in keys]
    rest = sorted((entry(k) for k in all_keys if k not in set(ordered)), key=lambda e: hashlib.sha256(e).digest())
    for data in [entry(k) for k in ordered] + rest:
        digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()
