"""The experiments by name, and the groups main checks flags against -- importable before
TensorFlow, so that a misspelt ``--experiment`` or a flag an experiment cannot take is refused in
well under a second. ``experiments/__init__.py`` maps each name to its ``run`` function."""

NAMES = (
    "clean_pathways",
    "cross_dataset",
    "d_det",
    "evaluate",
    "feature_averaging",
    "feature_averaging_real",
    "kernel_dynamics",
    "ntk_features",
    "ntk_transfer",
    "pathways",
    "robust_datasets",
    "toy_linear",
    "train",
    "transfer",
    "transfer_split",
)
TOOLS = ("prepare_data", "sync_mlflow")  # --experiment values that run a tool, not an experiment

# Experiments that build a D_det (a targeted attack on every training example): --attack_target=none
# is refused before any work.
TARGETED_DATASET = frozenset({"cross_dataset", "d_det", "pathways", "transfer_split"})

# Experiments whose attacks are l-inf only (FGSM / sign steps on kernel predictors, NTK paper Eq. 8,
# 18-21): --attack_norm must say so, so that the run's params record the norm actually used.
LINF_ONLY = frozenset({"ntk_features", "ntk_transfer"})

# Experiments that make their own data: --dataset and its companions are not read.
SYNTHETIC_DATA = frozenset({"feature_averaging", "toy_linear"})
