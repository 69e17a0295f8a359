"""A SavedModel from elsewhere runs only if every op its file holds is pure computation: the two
known bypasses of the old signature-only blocklist, one model per I/O-capable op family of TF 2.21
(each built as a real SavedModel and loaded as the experiments load models), TF1 models (refused
unless trusted), and the allowlist itself. Effects of hostile models: test_savedmodel_effects.py."""

import re

import numpy as np
import pytest
import tensorflow as tf

from robust_keras import savedmodel_checks
from robust_keras.errors import ModelError
from robust_keras.export import load_model
from robust_keras.savedmodel_ops import PURE_OPS, SAVER_OPS

IMAGES = tf.TensorSpec([None, 28, 28, 1], tf.float32)


def _logits(x):
    return tf.tile(tf.reduce_mean(x, axis=[1, 2, 3])[:, None], [1, 10])


class _Clean(tf.Module):
    @tf.function(input_signature=[IMAGES], autograph=False)
    def clean(self, x):
        return _logits(x)


class _ServeWrites(_Clean):
    """Bypass (a): the ``serve`` attribute, which the loader calls, writes a file; the only
    signature, ``serving_default``, is clean."""

    def __init__(self, target):
        super().__init__()
        self.target = target

    @tf.function(input_signature=[IMAGES], autograph=False)
    def serve(self, x):
        tf.io.write_file(self.target, "written by a model")
        return _logits(x)


def _save(module, directory, serve=None, signature=None):
    if serve is not None:
        module.serve = serve
    tf.saved_model.save(module, str(directory), signatures={"serving_default": signature or module.clean})
    return str(directory)


def _refused(directory, op):
    with pytest.raises(ModelError, match=rf"not pure computation: .*\b{op}\b") as err:
        load_model(directory, (28, 28, 1))
    assert "\n" not in str(err.value) and "--trust_savedmodels" in str(err.value)


def test_serve_attribute_writing_a_file_behind_a_clean_signature_is_refused(tmp_path):
    target = tmp_path / "written.txt"
    directory = _save(_ServeWrites(str(target)), tmp_path / "model")
    _refused(directory, "WriteFile")
    assert not target.exists()
    load_model(directory, (28, 28, 1), trusted=True)(np.zeros([1, 28, 28, 1], np.float32))
    assert target.exists()  # what the check prevents: the loader calls serve, which writes


def _io_graph(tmp_path):
    """Op family -> (a serve function using it, the op the refusal must name)."""
    p = str(tmp_path / "io_target")

    def serve_with(effect):
        @tf.function(input_signature=[IMAGES], autograph=False)
        def serve(x):
            with tf.control_dependencies(tf.nest.flatten(effect(x))):
                return _logits(x)

        return serve

    def summary(x):
        writer = tf.raw_ops.SummaryWriter(shared_name="w", container="")
        return [
            tf.raw_ops.CreateSummaryFileWriter(writer=writer, logdir=p, max_queue=1, flush_millis=1, filename_suffix="")
        ]

    return {
        "dataset writer (bypass b)": (
            serve_with(
                lambda x: [
                    tf.data.experimental.TFRecordWriter(p).write(
                        tf.data.Dataset.from_tensors(tf.strings.as_string(tf.reduce_sum(x)))
                    )
                ]
            ),
            "DatasetToTFRecord",
        ),
        "file write": (serve_with(lambda x: [tf.io.write_file(p, "x")]), "WriteFile"),
        "file read": (serve_with(lambda x: [tf.io.read_file(p)]), "ReadFile"),
        "file listing": (serve_with(lambda x: [tf.io.matching_files(p + "*")]), "MatchingFiles"),
        "checkpoint write": (
            serve_with(lambda x: [tf.raw_ops.SaveV2(prefix=p, tensor_names=["x"], shape_and_slices=[""], tensors=[x])]),
            "SaveV2",
        ),
        "checkpoint read": (
            serve_with(
                lambda x: tf.raw_ops.RestoreV2(prefix=p, tensor_names=["x"], shape_and_slices=[""], dtypes=[tf.float32])
            ),
            "RestoreV2",
        ),
        "memory-mapped file": (
            serve_with(lambda x: [tf.raw_ops.ImmutableConst(dtype=tf.float32, shape=[1], memory_region_name=p)]),
            "ImmutableConst",
        ),
        "python": (serve_with(lambda x: [tf.numpy_function(lambda a: a, [x], tf.float32)]), "PyFunc"),
        "eager python": (serve_with(lambda x: [tf.py_function(lambda a: a, [x], tf.float32)]), "EagerPyFunc"),
        "print to a file": (serve_with(lambda x: [tf.print(x, output_stream="file://" + p)]), "PrintV2"),
        "summary writer": (serve_with(summary), "CreateSummaryFileWriter"),
        "dataset reader": (
            serve_with(lambda x: [tf.data.TFRecordDataset(p).reduce(tf.constant(0, tf.int64), lambda n, _: n + 1)]),
            "TFRecordDataset",
        ),
    }


FAMILIES = [
    "dataset writer (bypass b)", "file write", "file read", "file listing", "checkpoint write", "checkpoint read",
    "memory-mapped file", "python", "eager python", "print to a file", "summary writer", "dataset reader",
]  # fmt: skip


@pytest.mark.parametrize("family", FAMILIES)
def test_every_io_op_family_in_serve_is_refused_by_name(tmp_path, family):
    serve, op = _io_graph(tmp_path)[family]
    directory = _save(_Clean(), tmp_path / "model", serve=serve)
    _refused(directory, op)
    assert not (tmp_path / "io_target").exists()


def test_a_resource_initialised_from_a_file_at_load_time_is_refused(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("a 0\nb 1\n")
    module = _Clean()
    module.table = tf.lookup.StaticHashTable(
        tf.lookup.TextFileInitializer(str(vocab), tf.string, 0, tf.int64, 1, delimiter=" "), -1
    )
    directory = _save(module, tmp_path / "model")
    vocab.unlink()
    _refused(directory, "InitializeTableFromTextFileV2")


def test_tf1_models_are_refused_unless_trusted(tmp_path):
    from savedmodel_hostile import tf1_model

    clean = tf1_model(tmp_path / "clean")
    with pytest.raises(ModelError, match="TF1 SavedModel") as err:
        load_model(clean, (28, 28, 1))
    assert "\n" not in str(err.value) and "--trust_savedmodels" in str(err.value)
    logits = load_model(clean, (28, 28, 1), trusted=True)(np.ones([2, 28, 28, 1], np.float32))
    assert logits.shape == (2, 10)


IO_NAME = re.compile(
    r"File|Dataset|Summary|Py|Save|Restore|Reader|Print|Writer|Record|Iterator|Sql|CSV|LMDB|Checkpoint|Proto"
    r"|Queue|Collective|Nccl|Send|Recv|Remote|Debug|TPU|Infeed|Outfeed|Table|Stage|Barrier|Session|Immutable"
    r"|Accumulator|Event|Audio|Image(?!Projective)|Decode|Encode|Mutex|^Stack|^(Ordered)?Map[A-Z]|TensorMap|Fingerprint|Abort"
)


def test_allowlist_holds_only_registered_ops_and_no_io_family():
    registered = {name for name in dir(tf.raw_ops) if not name.startswith("_")}
    assert not (PURE_OPS | set(SAVER_OPS)) - registered  # a typo would silently allow nothing
    assert not sorted(op for op in PURE_OPS if IO_NAME.search(op))
    io_ops = {op for op in registered if IO_NAME.search(op)}
    assert len(io_ops) > 300  # the pattern still recognises the I/O families of this TensorFlow


def test_own_exports_pass_whole(tmp_path):
    from robust_keras.export import export_model
    from robust_keras.models import build_model

    for name, shape in (("cnn_mnist", (28, 28, 1)), ("resnet18", (32, 32, 3)), ("two_layer", (28, 28, 1))):
        model = build_model(name, shape, 10, mean=[0.5] * shape[-1], std=[0.25] * shape[-1], seed=0)
        directory = export_model(model, str(tmp_path / name), {})
        assert savedmodel_checks.unsafe_ops(directory) == {}, name
        load_model(directory, shape)
