"""Flags of the robust-before-non-robust experiments beyond d_det (docs/methods.md §A): the
pathway grid, transfer split, clean-data pathways and cross-dataset transfer."""

from absl import flags

# the experiments that read these flags (--help=<experiment> shows them)
READERS = ("clean_pathways", "cross_dataset", "d_det", "pathways", "transfer_split")

# -- pathways: the grid of N2 recipes on one D_det (Sec. 4, App. C) ------------------------------
flags.DEFINE_list("grid_learning_rates", ["0.01", "0.1"], "pathways: learning rates of the grid (App. C).")
flags.DEFINE_list("grid_weight_decays", ["0", "5e-4"], "pathways: L2 coefficients of the grid (App. C).")
flags.DEFINE_list("grid_augment", ["false", "true"], "pathways: augmentation settings of the grid (true/false).")
flags.DEFINE_integer(
    "grid_seeds",
    1,
    "pathways: replicates per recipe, each initialised from --seed and its index (bands in the grid figure).",
    lower_bound=1,
)
flags.DEFINE_integer(
    "grid_cell",
    -1,
    "pathways --grid_stage=cell: index of the one cell this process trains (e.g. $SLURM_ARRAY_TASK_ID).",
    lower_bound=-1,
)
flags.DEFINE_enum(
    "grid_stage",
    "all",
    ["all", "prepare", "cell", "summary"],
    "pathways: all = D_det, every unfinished cell, summary; prepare = source + D_det only; cell = train "
    "--grid_cell only (after prepare); summary = tables and figure from the cells finished so far.",
)
flags.DEFINE_float(
    "pathway_low",
    0.2,
    "Pathway rule: robust first, training saturated and non-robust share <= this -> 2.",
    lower_bound=0.0,
)
flags.DEFINE_float(
    "pathway_high", 0.4, "Pathway rule: robust first and non-robust share >= this at the end -> 1.", upper_bound=1.0
)
flags.DEFINE_float(
    "pathway_saturation",
    0.95,
    "Pathway rule: end train accuracy at which training counts as saturated (pathway 2 overfits D_det).",
    lower_bound=0.0,
    upper_bound=1.0,
)
flags.DEFINE_float(
    "pathway_tail", 0.1, "Pathway rule: fraction of the last epochs averaged.", lower_bound=0.0, upper_bound=1.0
)
flags.DEFINE_integer(
    "simple_classifier_iters",
    200,
    "Iterations of the multinomial logistic regression (performance correlation's 'best simple classifier').",
    lower_bound=1,
)
flags.DEFINE_bool("performance_correlation", True, "Log mu_Y(F; L) (bits) on the D_det validation split per epoch.")
flags.register_validator(
    "grid_augment",
    lambda v: len(v) > 0 and all(s.lower() in ("true", "false") for s in v),
    "--grid_augment must be a list of true/false.",
)
for _name in ("grid_learning_rates", "grid_weight_decays"):
    flags.register_validator(
        _name, lambda v: len(v) > 0 and all(_non_negative(s) for s in v), f"--{_name} must be numbers >= 0."
    )


def _non_negative(text: str) -> bool:
    try:
        return float(text) >= 0.0
    except ValueError:
        return False


# -- transfer_split (Sec. 3, Claim 1, Fig. 2) -----------------------------------------------------
flags.DEFINE_string(
    "reference_savedmodel", "", "transfer_split: use this SavedModel as N' instead of training one (seed 'n_prime')."
)
flags.DEFINE_bool(
    "split_balance",
    False,
    "transfer_split: subsample the larger subset to the size of the smaller (isolates content from size; "
    "the paper trains on each subset as it is).",
)

# -- clean_pathways (Fig. 4) -------------------------------------------------------------------------
flags.DEFINE_float(
    "clean_weight_decay",
    5e-4,
    "clean_pathways: L2 of the recipe-(1) models M1(1), M2(1) (with augmentation).",
    lower_bound=0.0,
)
flags.DEFINE_float(
    "clean_learning_rate_2",
    0.0,
    "clean_pathways: learning rate of the recipe-(2) models M1(2), M2(2) (no augmentation, no L2); 0: --learning_rate.",
    lower_bound=0.0,
)
flags.DEFINE_integer(
    "clean_attack_examples", 500, "clean_pathways: held-out test images attacked every epoch.", lower_bound=1
)
