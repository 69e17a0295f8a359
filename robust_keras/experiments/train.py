"""Train one classifier on clean data and export it (e.g. targets for transfer attacks)."""

from __future__ import annotations

from robust_keras.config import Config
from robust_keras.tracking.mirror import Run
from robust_keras.workflows import clean_classifier, clean_data


def run(config: Config, run: Run) -> dict:
    if clean_classifier.already_exported(run, "model"):
        return {}
    settings = clean_classifier.ClassifierSettings.of(config)
    streams = clean_data.open_streams(
        config.data_settings, max_in_memory_mb=config.max_in_memory_mb, val_fraction=settings.common.val_fraction
    )
    seed = settings.common.seed
    if streams is None:
        train, test = clean_data.load_clean(config.data_settings)
        return clean_classifier.train_and_export(settings, run, train, test, name="model", seed=seed)
    return clean_classifier.train_streamed(settings, run, streams, name="model", seed=seed)
