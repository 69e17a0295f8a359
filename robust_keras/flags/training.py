"""Training recipes: the model trained by each experiment, and the source model C of D_det."""

from __future__ import annotations

from absl import flags

from robust_keras.flags.models import MODELS

# -- training -----------------------------------------------------------------------------------
flags.DEFINE_integer("epochs", 10, "Training epochs (of the model trained on D_det in d_det).", lower_bound=0)
flags.DEFINE_integer("batch_size", 128, "Training batch size.", lower_bound=1)
flags.DEFINE_integer("eval_batch_size", 500, "Evaluation / attack batch size.", lower_bound=1)
flags.DEFINE_enum("optimizer", "sgd", ["sgd", "adam"], "SGD with momentum, or Adam.")
flags.DEFINE_float("learning_rate", 0.01, "Peak learning rate.", lower_bound=0.0)
flags.DEFINE_float("momentum", 0.9, "SGD momentum.", lower_bound=0.0, upper_bound=1.0)
flags.DEFINE_enum("lr_schedule", "constant", ["constant", "piecewise", "cosine"], "Learning-rate schedule.")
flags.DEFINE_list("lr_boundaries", ["0.5", "0.75"], "piecewise: boundaries as fractions of training.")
flags.DEFINE_float("lr_decay", 0.1, "piecewise: factor applied at each boundary.", lower_bound=0.0)
flags.DEFINE_float(
    "weight_decay",
    0.0,
    "Coupled L2 coefficient on all trainable variables (kernels, biases, BN scales; the paper's 'L2', e.g. 5e-4).",
    lower_bound=0.0,
)
flags.DEFINE_bool("augment", False, "Random crop (pad 4) + horizontal flip.")
flags.DEFINE_bool("augment_flip", True, "With --augment: also flip horizontally (off for digits).")

# -- d_det: the source model C ------------------------------------------------------------------
flags.DEFINE_string("source_savedmodel", "", "Use this SavedModel as source C instead of training one.")
flags.DEFINE_enum(
    "source_model",
    "",
    ("", *MODELS),
    "Architecture of the source model(s) C, N1, N' trained on clean D (default: --model, the one trained on D_det).",
)
flags.DEFINE_integer("source_epochs", 5, "Epochs of the source model C.", lower_bound=0)
flags.DEFINE_float("source_learning_rate", 0.05, "Learning rate of the source model C.", lower_bound=0.0)
flags.DEFINE_float("source_weight_decay", 5e-4, "L2 of the source model C.", lower_bound=0.0)
flags.DEFINE_bool("source_augment", False, "Augmentation for the source model C.")
flags.DEFINE_enum(
    "source_optimizer", "", ["", "sgd", "adam"], "Optimizer of the source model C (default: --optimizer)."
)


flags.register_validator(
    "lr_boundaries",
    lambda v: all(_is_fraction(s) for s in v),
    "--lr_boundaries must be numbers in (0, 1), e.g. 0.5,0.75.",
)


def _is_fraction(text: str) -> bool:
    try:
        return 0.0 < float(text) < 1.0
    except ValueError:
        return False
