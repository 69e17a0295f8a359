"""What a SavedModel can run, before any of it runs: an op allowlist, and a content hash.

Threat model (README "Trusting SavedModels"): loading a SavedModel runs no Python, but
``tf.saved_model.load`` and every call of a loaded function run whatever ops the saved graphs
hold, and TensorFlow has hundreds of ops that read, write or delete files, run Python, open
datasets, write summaries or talk to other processes. A blocklist always misses one, so the check
is an allowlist: every op that loading or calling the model can execute must be pure computation
a classifier needs (:data:`PURE_OPS`, in ``savedmodel_ops.py``); anything else is refused with the
op's name, unless the user says the model is trusted (``--trust_savedmodels``).

What "can execute" means follows how TensorFlow loads the model:

* TF2 SavedModels (one MetaGraph with an object graph): ``tf.saved_model.load`` turns every
  concrete function of the object graph into a callable (``serve``, ``serving_default``,
  ``representation``, resource creators and initialisers, custom save / restore functions, any
  other method) and runs some of them while loading. All of them, and every function they call,
  are inspected -- not only the signature, because :class:`export.LoadedModel` calls the ``serve``
  attribute when one exists. The MetaGraph's own graph (the TF1 saver) is never run by this path.
* TF1 SavedModels: the loader runs the saver's restore op and the init op (main op / legacy init
  op), and a call runs the signature's subgraph; those nodes and the functions they call are
  inspected. The restore op may, in addition, read its checkpoint (:data:`CHECKPOINT_READ_OPS`).
"""

from __future__ import annotations

import hashlib
import os

from robust_keras.errors import ModelError
from robust_keras.savedmodel_ops import CHECKPOINT_READ_OPS, PURE_OPS

_INIT_OP_KEYS = ("saved_model_main_op", "legacy_init_op")
_INIT_OP_SIGNATURE = "__saved_model_init_op"


def _saved_model_proto(directory: str):
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    try:
        with open(os.path.join(directory, "saved_model.pb"), "rb") as f:
            proto.ParseFromString(f.read())
    except Exception as e:  # a truncated or foreign file
        raise ModelError(
            f"SavedModel {directory} has an unreadable saved_model.pb ({type(e).__name__})",
            "re-export or copy the model again: the file is truncated or not a SavedModel",
        ) from None
    return proto


def _is_tf2(proto) -> bool:
    """The test ``tf.saved_model.load`` makes to pick its TF2 loader."""
    return len(proto.meta_graphs) == 1 and proto.meta_graphs[0].HasField("object_graph_def")


def _called_functions(node) -> list[str]:
    names = [node.op]  # a call of a library function by its name
    for attr in node.attr.values():
        if attr.HasField("func"):
            names.append(attr.func.name)
        names += [f.name for f in attr.list.func]
    return names


def _function_ops(library: dict, roots, where: str, found: dict) -> None:
    """Adds ``op -> where`` to ``found`` for every op of the library functions ``roots`` and of
    every function they call (by op name or through a func attr, e.g. If / While / PartitionedCall)."""
    pending, seen = list(roots), set()
    while pending:
        name = pending.pop()
        if name in seen or name not in library:
            continue
        seen.add(name)
        for node in library[name].node_def:
            found.setdefault(node.op, where)
            pending += _called_functions(node)


def _function_paths(object_graph) -> dict[str, str]:
    """Concrete function name -> a readable object path ("serve", "signatures/serving_default", ...)."""
    paths: dict[str, str] = {}
    queue, seen = [(0, "")], {0}
    while queue:
        node_id, path = queue.pop(0)
        node = object_graph.nodes[node_id]
        kind = node.WhichOneof("kind")
        if kind == "function":
            for name in node.function.concrete_functions:
                paths.setdefault(name, path or "(root)")
        elif kind == "bare_concrete_function":
            paths.setdefault(node.bare_concrete_function.concrete_function_name, path or "(root)")
        for child in node.children:
            if child.node_id not in seen:
                seen.add(child.node_id)
                queue.append((child.node_id, f"{path}/{child.local_name}" if path else child.local_name))
        for attr, saveable in node.saveable_objects.items():
            for fn_node in (saveable.save_function, saveable.restore_function):
                if fn_node not in seen:
                    seen.add(fn_node)
                    queue.append((fn_node, f"{path}/saveable {attr}"))
    return paths


def _graph_ops(meta, outputs, where: str, found: dict) -> None:
    """TF1 graphs: ops of the nodes ``outputs`` depend on (data and control inputs) and of the
    library functions those nodes call."""
    nodes = {n.name: n for n in meta.graph_def.node}
    library = {f.signature.name: f for f in meta.graph_def.library.function}
    pending, seen, functions = [o.lstrip("^").split(":")[0] for o in outputs], set(), []
    while pending:
        name = pending.pop().lstrip("^").split(":")[0]
        if name in seen or name not in nodes:
            continue
        seen.add(name)
        found.setdefault(nodes[name].op, where)
        functions += _called_functions(nodes[name])
        pending += list(nodes[name].input)
    _function_ops(library, functions, where, found)


def runnable_ops(directory: str) -> dict[str, str]:
    """Op type -> where it runs (an object path, "restore", "init" or a signature key), for every
    op that loading the SavedModel in ``directory`` or calling any of its functions can execute."""
    proto = _saved_model_proto(directory)
    found: dict[str, str] = {}
    if _is_tf2(proto):
        meta = proto.meta_graphs[0]
        library = {f.signature.name: f for f in meta.graph_def.library.function}
        paths = _function_paths(meta.object_graph_def)
        for name in meta.object_graph_def.concrete_functions:
            _function_ops(library, [name], paths.get(name, name), found)
        return found
    for meta in proto.meta_graphs:
        for key, signature in meta.signature_def.items():
            outputs = [t.name for t in signature.outputs.values()]
            _graph_ops(meta, outputs, "init" if key == _INIT_OP_SIGNATURE else f"signature {key}", found)
        for key in _INIT_OP_KEYS:
            if key in meta.collection_def:
                _graph_ops(meta, list(meta.collection_def[key].node_list.value), "init", found)
        if meta.saver_def.restore_op_name:
            restore: dict[str, str] = {}
            _graph_ops(meta, [meta.saver_def.restore_op_name], "restore", restore)
            for op, where in restore.items():
                if op not in CHECKPOINT_READ_OPS:
                    found.setdefault(op, where)
    return found


def unsafe_ops(directory: str) -> dict[str, str]:
    """The ops of :func:`runnable_ops` outside the allowlist (op -> where)."""
    return {op: where for op, where in runnable_ops(directory).items() if op not in PURE_OPS}


def check_safe(directory: str, trusted: bool) -> None:
    """Raises ModelError if loading or calling the SavedModel in ``directory`` can run an op
    outside the pure-computation allowlist, unless ``trusted``."""
    if trusted:
        return
    unsafe = unsafe_ops(directory)
    if unsafe:
        listed = ", ".join(f"{op} (in {where})" for op, where in sorted(unsafe.items())[:6])
        more = f" and {len(unsafe) - 6} more" if len(unsafe) > 6 else ""
        raise ModelError(
            f"SavedModel {directory} can run ops that are not pure computation: {listed}{more}",
            "use a model whose functions only compute logits, or pass --trust_savedmodels if you trust its source",
        )


def _serve_captures(meta) -> list[int]:
    """Object-graph ids of the variables the serving function captures, in capture order (the
    order of the model's own computation, the same for every export of the architecture)."""
    graph = meta.object_graph_def
    root = graph.nodes[0]
    children = {c.local_name: c.node_id for c in root.children}
    names: list[str] = []
    if "serve" in children:
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
    import tensorflow as tf

    proto = _saved_model_proto(directory)
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
    if _is_tf2(proto):
        keys = _checkpoint_keys(reader)
        ordered = [keys[i] for i in _serve_captures(proto.meta_graphs[0]) if i in keys]
    rest = sorted((entry(k) for k in all_keys if k not in set(ordered)), key=lambda e: hashlib.sha256(e).digest())
    for data in [entry(k) for k in ordered] + rest:
        digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()
