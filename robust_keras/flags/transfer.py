"""Transfer attacks between SavedModels (transfer experiment)."""

from __future__ import annotations

from absl import flags

# -- transfer -----------------------------------------------------------------------------------
flags.DEFINE_list("source_models", [], "transfer: SavedModel directories used to craft attacks.")
flags.DEFINE_list("target_models", [], "transfer: SavedModel directories the attacks are evaluated on.")
flags.DEFINE_integer("transfer_examples", 1000, "transfer: test examples attacked.", lower_bound=1)
flags.DEFINE_list(
    "transfer_train_seeds",
    [],
    "transfer: first train one clean --model per seed with the training flags (--epochs, --learning_rate...) into "
    "models/seed_<s> of this run; they join --source_models and --target_models (a rerun reuses them).",
)
flags.register_validator(
    "transfer_train_seeds", lambda v: all(s.isdigit() for s in v), "--transfer_train_seeds must be integers >= 0."
)
