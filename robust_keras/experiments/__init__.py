"""Experiment registry: ``--experiment=<name>`` runs ``EXPERIMENTS[name](config, run)``."""

from robust_keras.experiment_names import NAMES
from robust_keras.experiments import (
    clean_pathways,
    cross_dataset,
    d_det,
    evaluate,
    feature_averaging,
    feature_averaging_real,
    kernel_dynamics,
    ntk_features,
    ntk_transfer,
    pathways,
    robust_datasets,
    toy_linear,
    train,
    transfer,
    transfer_split,
)

EXPERIMENTS = {
    "clean_pathways": clean_pathways.run,
    "cross_dataset": cross_dataset.run,
    "d_det": d_det.run,
    "evaluate": evaluate.run,
    "feature_averaging": feature_averaging.run,
    "feature_averaging_real": feature_averaging_real.run,
    "kernel_dynamics": kernel_dynamics.run,
    "ntk_features": ntk_features.run,
    "ntk_transfer": ntk_transfer.run,
    "pathways": pathways.run,
    "robust_datasets": robust_datasets.run,
    "toy_linear": toy_linear.run,
    "train": train.run,
    "transfer": transfer.run,
    "transfer_split": transfer_split.run,
}

assert tuple(sorted(EXPERIMENTS)) == NAMES, "experiment_names.NAMES and EXPERIMENTS must list the same experiments"
