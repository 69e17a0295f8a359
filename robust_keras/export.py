"""SavedModel export and loading -- the contract other experiments and outside code rely on.

Export: a Keras 3 ``ExportArchive`` writes a TF SavedModel whose ``serve`` endpoint (also
``serving_default``) maps float32 (B, H, W, C) images in [0, 1], any B, to float32 (B, K)
logits; models with a Dense readout also get a ``representation`` endpoint, the same images to
the penultimate-layer features (B, F) (what D_R / D_NR inversion matches). ``metadata.json``
inside the directory records input shape, classes, dataset, flags and git sha. Loading accepts
any SavedModel with a ``serve`` or ``serving_default`` endpoint taking one float32 tensor,
including ones robust_keras did not write.
"""

from __future__ import annotations

import os

import keras
import tensorflow as tf

from robust_keras.atomic_files import remove_stale_tmp, replaced_by, write_json
from robust_keras.errors import ModelError
from robust_keras.faults import fail_point, fill_disk
from robust_keras.models import representation_model
from robust_keras.savedmodel_checks import check_safe
from robust_keras.savedmodel_files import METADATA_FILE, read_metadata

SERVE = "serve"
REPRESENTATION = "representation"  # penultimate-layer features, (B, H, W, C) -> (B, F)


def _representation(model: keras.Model):
    """``models.representation_model(model)`` for functional models with a Dense readout, else None."""
    if not getattr(model, "inputs", None):
        return None
    try:
        return representation_model(model)
    except ValueError:
        return None


def export_model(model: keras.Model, directory: str, metadata: dict) -> str:
    """Writes ``model`` as a SavedModel plus ``metadata.json``; returns ``directory``.

    The model is written to a temporary sibling and renamed (atomic_files.replaced_by), so a
    directory that exists is always a complete export.
    """
    directory = directory.rstrip("/")
    remove_stale_tmp(os.path.dirname(os.path.abspath(directory)))  # exports of killed processes
    # functional models carry their input spec; others (e.g. a LinearizedModel) get one from input_shape
    spec = tf.TensorSpec([None, *model.input_shape[1:]], tf.float32, name="image")
    archive = keras.export.ExportArchive()
    archive.track_and_add_endpoint(SERVE, model, [spec])
    representation = _representation(model)
    if representation is not None:
        archive.add_endpoint(REPRESENTATION, representation, [spec])
    meta = {
        "input_shape": list(model.input_shape[1:]),
        "num_classes": int(model.output_shape[-1]),
        "endpoint": SERVE,
        "representation_endpoint": REPRESENTATION if representation is not None else None,
        "input_range": [0.0, 1.0],
        **metadata,
    }
    with replaced_by(directory) as tmp:  # a failed write (a full disk) leaves nothing half-written
        if fail_point("disk_full_before_export"):
            fill_disk(os.path.dirname(os.path.abspath(tmp)))
        archive.write_out(tmp, verbose=False)
        write_json(os.path.join(tmp, METADATA_FILE), meta)
    return directory


class LoadedModel:
    """A SavedModel endpoint as a logits function: ``model(x)`` -> float32 (B, K).

    Attributes:
      input_shape: (H, W, C) the endpoint accepts (None where the endpoint leaves it free).
      metadata: contents of ``metadata.json`` if present, else {}.
    """

    def __init__(self, directory: str, trusted: bool = False):
        if not os.path.exists(os.path.join(directory, "saved_model.pb")):
            raise ModelError(
                f"{directory} is not a SavedModel (no saved_model.pb)",
                "pass the directory written by model.export / tf.saved_model.save",
            )
        self.path = directory
        check_safe(directory, trusted)  # before any of its graph can run
        try:
            self._module = tf.saved_model.load(directory)
        except Exception as e:  # missing / corrupt variables, truncated graph, foreign ops...
            first = str(e).strip().splitlines()[0][:160] if str(e).strip() else ""
            raise ModelError(
                f"SavedModel {directory} cannot be loaded ({type(e).__name__}: {first})",
                "re-export or copy the model again: its files are incomplete or corrupt",
            ) from None
        self._fn = self._endpoint()
        args, kwargs = self._fn.structured_input_signature
        specs = list(args) + list(kwargs.values())
        specs = [s for s in tf.nest.flatten(specs) if isinstance(s, tf.TensorSpec)]
        if len(specs) != 1 or specs[0].dtype != tf.float32:
            raise ModelError(
                f"SavedModel {directory} endpoint takes {specs}, not one float32 image tensor",
                "export a model whose serve endpoint maps float32 images to logits",
            )
        self._arg_is_kw = not args
        self._arg_name = next(iter(kwargs), None)
        self.input_shape = tuple(specs[0].shape[1:])
        self.metadata = read_metadata(directory)

    def _endpoint(self):
        if hasattr(self._module, "serve"):
            fn = self._module.serve  # a restored tf.function with one traced signature
            return fn if hasattr(fn, "structured_input_signature") else fn.get_concrete_function()
        signatures = getattr(self._module, "signatures", {})
        if "serving_default" in signatures:
            return signatures["serving_default"]
        raise ModelError(
            f"SavedModel {self.path} has no 'serve' or 'serving_default' endpoint",
            "re-export it with model.export() or a serving_default signature",
        )

    @property
    def representation(self):
        """The ``representation`` endpoint (float32 (B, H, W, C) -> (B, F)) as a function.

        Raises:
          ModelError: the SavedModel has none (exported by another tool or by robust_keras
            before the endpoint existed).
        """
        fn = getattr(self._module, REPRESENTATION, None)
        if fn is None:
            raise ModelError(
                f"SavedModel {self.path} has no '{REPRESENTATION}' endpoint (penultimate-layer features)",
                "re-export it with this version of robust_keras, or let the experiment train the model",
            )
        return lambda x: tf.cast(fn(x), tf.float32)

    def check_input_shape(self, image_shape) -> None:
        """Raises ModelError unless images of ``image_shape`` (H, W, C) fit the endpoint."""
        image_shape = tuple(image_shape)
        fits = len(image_shape) == len(self.input_shape) and all(
            want is None or want == got for want, got in zip(self.input_shape, image_shape)
        )
        if not fits:
            raise ModelError(
                f"SavedModel {self.path} expects inputs of shape {self.input_shape}, data has {image_shape}",
                "use a model trained on this dataset's image size",
            )

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        out = self._fn(**{self._arg_name: x}) if self._arg_is_kw else self._fn(x)
        if isinstance(out, dict):
            if len(out) != 1:
                raise ModelError(f"SavedModel {self.path} returns {sorted(out)}", "export one logits output")
            out = next(iter(out.values()))
        return tf.cast(out, tf.float32)


def load_model(directory: str, image_shape=None, trusted: bool = False) -> LoadedModel:
    """Loads a SavedModel (refusing one that can run ops outside the pure-computation allowlist
    unless ``trusted``, see savedmodel_checks.py); with ``image_shape`` also checks the data fits it."""
    model = LoadedModel(directory, trusted)
    if image_shape is not None:
        model.check_input_shape(image_shape)
    return model
