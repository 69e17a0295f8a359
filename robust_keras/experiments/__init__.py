"""Experiment registry: ``--experiment=<name>`` runs ``EXPERIMENTS[name](config, run)``."""

from robust_keras.experiments import d_det, train, transfer

EXPERIMENTS = {
    "d_det": d_det.run,
    "train": train.run,
    "transfer": transfer.run,
}
