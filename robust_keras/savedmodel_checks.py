"""What a SavedModel computes, before it is called: side-effecting ops and a content hash.

Threat model (README "Trusting SavedModels"): loading a SavedModel runs no Python, but calling
its ``serve`` graph runs whatever ops the graph holds, and TensorFlow has ops that write or
delete files, run Python (``PyFunc``), write summaries or talk to the network. Transfer
experiments call models other people made, so every model is inspected first: the ops reachable
from its serving signature (through every nested function call) are listed, and a model using any
op of :data:`SIDE_EFFECT_OPS` is refused unless the user says it is trusted
(``--trust_savedmodels``). Reading saved variables at load time is not affected: the ops that
save and restore checkpoints live in other functions of the SavedModel, never reached from
``serve``.
"""

from __future__ import annotations

import hashlib
import os

from robust_keras.errors import ModelError

SIDE_EFFECT_OPS = frozenset(
    {
        # files
        "WriteFile", "DeleteFile", "ReadFile", "MatchingFiles", "Save", "SaveV2", "SaveSlices", "MergeV2Checkpoints",
        "RestoreV2", "Restore", "RestoreSlice", "ImmutableConst",
        # python and external code
        "PyFunc", "PyFuncStateless", "EagerPyFunc",
        # summaries / logging sinks
        "WriteSummary", "WriteScalarSummary", "WriteHistogramSummary", "WriteImageSummary", "WriteAudioSummary",
        "WriteGraphSummary", "WriteRawProtoSummary", "CreateSummaryFileWriter", "CreateSummaryDbWriter",
        "ImportEvent", "FlushSummaryWriter", "CloseSummaryWriter", "PrintV2", "Print",
        # data sources that open files or sockets
        "TFRecordDataset", "TFRecordDatasetV2", "TextLineDataset", "TextLineDatasetV2", "FixedLengthRecordDataset",
        "FixedLengthRecordDatasetV2", "CSVDataset", "CSVDatasetV2", "SqlDataset", "DecodeProtoV2", "EncodeProto",
    }
)  # fmt: skip


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


def serving_ops(directory: str) -> set[str]:
    """Op types reachable from the serving signatures (``serve``, ``serving_default``) of the
    SavedModel in ``directory``, through nested function calls."""
    proto = _saved_model_proto(directory)
    ops: set[str] = set()
    for meta in proto.meta_graphs:
        library = {f.signature.name: f for f in meta.graph_def.library.function}
        nodes = {n.name: n for n in meta.graph_def.node}
        pending = []
        for key in ("serve", "serving_default"):
            if key in meta.signature_def:
                for tensor in meta.signature_def[key].outputs.values():
                    pending.append(tensor.name.split(":")[0])
        seen_nodes, seen_functions = set(), set()
        functions = []
        while pending:  # walk the outer graph backwards from the signature outputs
            name = pending.pop().lstrip("^").split(":")[0]
            if name in seen_nodes or name not in nodes:
                continue
            seen_nodes.add(name)
            node = nodes[name]
            ops.add(node.op)
            functions += _called_functions(node)
            pending += list(node.input)
        while functions:  # every function those nodes call, and the ones they call
            name = functions.pop()
            if name in seen_functions or name not in library:
                continue
            seen_functions.add(name)
            for node in library[name].node_def:
                ops.add(node.op)
                functions += _called_functions(node)
    return ops


def _called_functions(node) -> list[str]:
    names = [node.op]  # a call of a library function by its name
    for attr in node.attr.values():
        if attr.HasField("func"):
            names.append(attr.func.name)
        names += [f.name for f in attr.list.func]
    return names


def check_safe(directory: str, trusted: bool) -> None:
    """Raises ModelError if the serving graph of ``directory`` holds side-effecting ops, unless
    ``trusted``."""
    unsafe = sorted(serving_ops(directory) & SIDE_EFFECT_OPS)
    if unsafe and not trusted:
        raise ModelError(
            f"SavedModel {directory} runs side-effecting ops when called ({', '.join(unsafe)})",
            "use a model whose serve graph only computes logits, or pass --trust_savedmodels if you trust its source",
        )


def savedmodel_hash(directory: str) -> str:
    """sha256 of what a SavedModel computes: every saved variable (name, dtype, shape, values, in
    name order) and the serving signature's input and output specs. Two exports of the same
    weights hash alike even though their saved_model.pb bytes differ."""
    import tensorflow as tf

    digest = hashlib.sha256()
    for meta in _saved_model_proto(directory).meta_graphs:
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
    for name in sorted(reader.get_variable_to_shape_map()):
        if name == "_CHECKPOINTABLE_OBJECT_GRAPH":
            continue
        value = reader.get_tensor(name)
        digest.update(f"{name}:{getattr(value, 'dtype', type(value))}:{getattr(value, 'shape', ())};".encode())
        digest.update(value.tobytes() if hasattr(value, "tobytes") else str(value).encode())
    return digest.hexdigest()
