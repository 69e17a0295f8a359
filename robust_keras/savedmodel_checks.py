"""What a SavedModel can run, before any of it runs: an op allowlist over everything its file holds.

Threat model (README "Trusting SavedModels"): loading a SavedModel runs no Python, but
``tf.saved_model.load`` and every call of a loaded function run whatever ops the saved graphs
hold, and TensorFlow has hundreds of ops that read, write or delete files, run Python, open
datasets, write summaries or talk to other processes. A blocklist always misses one, so the check
is an allowlist: every op the file holds must be pure computation a classifier needs
(:data:`PURE_OPS`, in ``savedmodel_ops.py``); anything else is refused with the op's name, unless
the user says the model is trusted (``--trust_savedmodels``).

The check over-approximates instead of emulating the loader: it does not work out which functions
and nodes a loader of this or a later TensorFlow will run, it inspects all of them --

* every FunctionDef of the library, reachable or not, once each;
* every function named anywhere: as a node's op, in a function attribute at any depth (If / While
  bodies, a call's ``f``, a NameAttrList nested in another's attributes), as a gradient. A name
  that is not a library function is a primitive op TensorFlow would instantiate as a function,
  so it must be on the allowlist itself;
* every node of the MetaGraph's own graph (the TF1 saver and the signature stubs);
* the asset paths the loader joins to the model directory.

The one exception is the model's own saver: the two functions the ``saver_def`` calls (save and
restore, fed the checkpoint prefix by whoever saves or restores) may run the checkpoint ops of
:data:`SAVER_OPS`, but only if nothing else in the file calls them and only on a path that starts
with the prefix they are fed (a constant suffix such as ``_temp/part`` may follow, never ``..``):
a restore that reads another checkpoint from a constant path is refused.

TF1 SavedModels (no object graph) are refused unless trusted: their loader runs init ops, table
initialisers, local-variable initialisers and a Saver it builds itself from collections, and
robust_keras exports TF2 SavedModels only (``tf.saved_model.save`` / Keras ``model.export``).

Every file the check reads is opened through ``savedmodel_files.py`` (regular files inside the
model directory, size-capped), and any failure inside the check is the one-line refusal. The
content hash of a model is in ``savedmodel_hash.py``.
"""

from __future__ import annotations

from collections import defaultdict

from robust_keras.errors import ModelError, first_line
from robust_keras.savedmodel_files import check_layout, is_tf2, read_saved_model
from robust_keras.savedmodel_ops import PURE_OPS, SAVER_OPS

_CALL_OPS = ("StatefulPartitionedCall", "PartitionedCall")
_OBJECT_GRAPH = ("object graph",)


def _attr_functions(attrs) -> list[str]:
    """Names of every function the AttrValues ``attrs`` reference, at any depth of nesting."""
    names, stack = [], list(attrs)
    while stack:
        attr = stack.pop()
        kind = attr.WhichOneof("value")
        if kind == "func":
            names.append(attr.func.name)
            stack += attr.func.attr.values()
        elif kind == "list":
            for func in attr.list.func:
                names.append(func.name)
                stack += func.attr.values()
    return names


def _node_name(tensor: str) -> str:
    """``"^node"``, ``"node:0"`` or ``"node:output:0"`` -> ``"node"``."""
    return tensor.lstrip("^").split(":")[0]


def _object_functions(object_graph) -> dict[str, str]:
    """Function name -> a readable object path ("serve", "signatures/serving_default", ...) for
    every function the object graph names; names no node reaches get their own name."""
    paths = {name: name for name in object_graph.concrete_functions}
    nodes = object_graph.nodes
    queue, seen = [(0, "")] if len(nodes) else [], {0}
    while queue:
        node_id, path = queue.pop()
        node = nodes[node_id]
        kind = node.WhichOneof("kind")
        if kind == "function":
            for name in node.function.concrete_functions:
                paths[name] = path or "(root)"
        elif kind == "bare_concrete_function":
            paths[node.bare_concrete_function.concrete_function_name] = path or "(root)"
        links = [(c.node_id, f"{path}/{c.local_name}" if path else c.local_name) for c in node.children]
        for attr, saveable in node.saveable_objects.items():
            links += [(i, f"{path}/saveable {attr}") for i in (saveable.save_function, saveable.restore_function)]
        for child, child_path in links:
            if child not in seen and 0 <= child < len(nodes):
                seen.add(child)
                queue.append((child, child_path))
    return paths


class _Inspection:
    """One pass over a TF2 MetaGraph: who references each library function, and which ops each
    body (a library function, or the MetaGraph's graph) runs."""

    def __init__(self, meta):
        self.library = {f.signature.name: f for f in meta.graph_def.library.function}
        self.graph = {n.name: n for n in meta.graph_def.node}
        self.referrers: dict[str, set] = defaultdict(set)  # function -> who names it
        self.primitive_calls: list[tuple[str, str]] = []  # (op, where) named as functions
        self.paths = _object_functions(meta.object_graph_def)
        for name in self.paths:
            self._reference(name, _OBJECT_GRAPH, "the object graph")
        for gradient in meta.graph_def.library.gradient:
            self._reference(gradient.gradient_func, ("gradient",), "a gradient")
        for gradient in meta.graph_def.library.registered_gradients:
            self._reference(gradient.gradient_func, ("gradient",), "a gradient")
        for name, function in self.library.items():
            where = self.where(name)
            for fn in _attr_functions(list(function.attr.values())):
                self._reference(fn, ("function", name), where)
            for node in function.node_def:
                self._node_references(node, ("function", name), where)
        for node in meta.graph_def.node:
            self._node_references(node, ("graph", node.name), "the graph")

    def where(self, function: str) -> str:
        return self.paths.get(function, f"function {function}")

    def _reference(self, name: str, referrer: tuple, where: str) -> None:
        if name in self.library:
            self.referrers[name].add(referrer)
        else:  # TensorFlow instantiates a primitive op named as a function
            self.primitive_calls.append((name, where))

    def _node_references(self, node, referrer: tuple, where: str) -> None:
        if node.op in self.library:
            self.referrers[node.op].add(referrer)
        for fn in _attr_functions(node.attr.values()):
            self._reference(fn, referrer, where)

    def saver_functions(self, saver_def) -> set[str]:
        """The library functions only the saver_def's save and restore nodes call, each node a
        call whose first input is the Placeholder the saver feeds the checkpoint prefix."""
        feed = _node_name(saver_def.filename_tensor_name)
        if feed not in self.graph or self.graph[feed].op != "Placeholder":
            return set()
        callers = {}
        for tensor in (saver_def.save_tensor_name, saver_def.restore_op_name):
            node = self.graph.get(_node_name(tensor))
            if node is not None and node.op in _CALL_OPS and node.input and _node_name(node.input[0]) == feed:
                callers[node.name] = node.attr["f"].func.name
        allowed = {("graph", name) for name in callers}
        return {fn for fn in callers.values() if fn in self.library and self.referrers[fn] <= allowed}


def _safe_suffix(value: bytes) -> bool:
    """A constant joined after the checkpoint prefix: relative, no parent-directory step."""
    text = value.decode("utf-8", "replace")
    return not text.startswith("/") and ".." not in text.split("/") and "\\" not in text


class _PrefixPaths:
    """Which tensors of a saver function are paths under the prefix it is fed (its first argument):
    the prefix itself, or it followed by constant safe suffixes (StringJoin with the prefix first,
    ShardedFilename, Identity, Pack of such, Select between safe constants)."""

    def __init__(self, function):
        self.nodes = {n.name: n for n in function.node_def}
        args = function.signature.input_arg
        self.prefix = args[0].name if args and args[0].type == 7 else None  # 7: DT_STRING
        self._memo: dict[tuple[str, bool], bool] = {}

    def _data_inputs(self, node) -> list[str]:
        return [_node_name(i) for i in node.input if not i.startswith("^")]

    def under_prefix(self, name: str) -> bool:
        return self._check(name, rooted=True)

    def _check(self, name: str, rooted: bool) -> bool:
        key = (name, rooted)
        if key not in self._memo:
            self._memo[key] = False  # a cycle proves nothing
            self._memo[key] = self._decide(name, rooted)
        return self._memo[key]

    def _decide(self, name: str, rooted: bool) -> bool:
        if name == self.prefix:
            return rooted
        node = self.nodes.get(name)
        if node is None:
            return False
        inputs = self._data_inputs(node)
        if node.op == "Identity" and inputs:
            return self._check(inputs[0], rooted)
        if not rooted:  # a suffix: a constant string, or a choice between two
            if node.op == "Const":
                tensor = node.attr["value"].tensor
                return tensor.dtype == 7 and all(_safe_suffix(v) for v in tensor.string_val)
            if node.op in ("Select", "SelectV2") and len(inputs) == 3:
                return self._check(inputs[1], False) and self._check(inputs[2], False)
            return False
        if node.op == "StringJoin" and inputs:
            separator = node.attr["separator"].s if "separator" in node.attr else b""
            return (
                _safe_suffix(separator)
                and self._check(inputs[0], True)
                and all(self._check(i, False) for i in inputs[1:])
            )
        if node.op == "ShardedFilename" and inputs:
            return self._check(inputs[0], True)
        if node.op == "Pack" and inputs:
            return all(self._check(i, True) for i in inputs)
        return False


def _saver_function_ops(function, where: str, found: dict) -> None:
    """Ops of one saver function outside PURE_OPS and SAVER_OPS, and checkpoint ops whose path is
    not under the prefix the function is fed."""
    paths = _PrefixPaths(function)
    for node in function.node_def:
        if node.op not in PURE_OPS and node.op not in SAVER_OPS:
            found.setdefault(node.op, where)
            continue
        for index in SAVER_OPS.get(node.op, ()):
            if index >= len(node.input) or not paths.under_prefix(_node_name(node.input[index])):
                found.setdefault(f"{node.op} on a path other than its fed checkpoint prefix", where)


def unsafe_ops(directory: str) -> dict[str, str]:
    """Op type -> where it sits (an object path, a function or "the graph"), for every op in the
    SavedModel in ``directory`` outside the allowlist (see the module docstring).

    Raises:
      ModelError: the directory or its graph is unreadable or hostile, or the model is TF1.
    """
    check_layout(directory)
    proto = read_saved_model(directory)
    if not is_tf2(proto):
        raise ModelError(
            f"SavedModel {directory} is a TF1 SavedModel (no object graph), which robust_keras does not "
            "inspect: its loader runs init ops, collections and a Saver of its own",
            "re-export it with tf.saved_model.save or Keras model.export, or pass --trust_savedmodels if you "
            "trust its source",
        )
    meta = proto.meta_graphs[0]
    seen = _Inspection(meta)
    saver = seen.saver_functions(meta.saver_def)
    found: dict[str, str] = {}
    for op, where in seen.primitive_calls:
        if op not in PURE_OPS:
            found.setdefault(op, where)
    for name, function in seen.library.items():
        if name in saver:
            _saver_function_ops(function, seen.where(name), found)
            continue
        for node in function.node_def:
            if node.op not in PURE_OPS and node.op not in seen.library:
                found.setdefault(node.op, seen.where(name))
    for node in meta.graph_def.node:
        if node.op not in PURE_OPS and node.op not in seen.library:
            found.setdefault(node.op, "the graph")
    for asset in meta.asset_file_def:
        if not _safe_suffix(asset.filename.encode()):
            found.setdefault(f"asset path {asset.filename!r}", "the asset table")
    return found


def check_safe(directory: str, trusted: bool) -> None:
    """Raises ModelError if the SavedModel in ``directory`` holds an op outside the pure-computation
    allowlist, reads or writes outside itself, or cannot be inspected, unless ``trusted``."""
    if trusted:
        return
    try:
        unsafe = unsafe_ops(directory)
    except ModelError:
        raise
    except Exception as e:  # a hostile file the parsers above did not anticipate
        raise ModelError(
            f"SavedModel {directory} could not be inspected ({first_line(e)})",
            "copy the model again from its source, or pass --trust_savedmodels if you trust it",
        ) from None
    if unsafe:
        listed = ", ".join(f"{op} (in {where})" for op, where in sorted(unsafe.items())[:6])
        more = f" and {len(unsafe) - 6} more" if len(unsafe) > 6 else ""
        raise ModelError(
            f"SavedModel {directory} can run ops that are not pure computation: {listed}{more}",
            "use a model whose functions only compute logits, or pass --trust_savedmodels if you trust its source",
        )
