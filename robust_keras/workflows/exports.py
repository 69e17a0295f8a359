"""A run's SavedModels: export one with its metadata and log it to MLflow, or find an earlier
complete export of the same run directory (a resumed run)."""

from __future__ import annotations

import os

from robust_keras import distribute
from robust_keras.environment import git_sha
from robust_keras.export import export_model
from robust_keras.settings import Provenance
from robust_keras.tracking.mirror import Run
from robust_keras.training import loop


def export(run: Run, trainer: loop.Trainer, name: str, provenance: Provenance, **metadata) -> str:
    """Exports to ``<run_dir>/models/<name>`` with the run's ``provenance`` (dataset, model, every
    flag) and ``metadata``, logs it to MLflow; returns the path."""
    path = run.path("models", name)
    meta = {
        "dataset": provenance.dataset,
        "model": provenance.model,
        "git_sha": git_sha(),
        "flags": dict(provenance.flags),
        **metadata,
    }
    export_model(trainer.model, path, meta)
    run.log_artifact(path, "models")
    print(f"[{name}] exported SavedModel to {path}")
    return path


def exported(run: Run, name: str) -> str | None:
    """Path of an earlier complete export of ``name`` in this run directory (a resumed run; on a
    multi-worker non-chief, in the chief's directory, so every worker resumes alike)."""
    path = distribute.chief_path(os.path.join(run.run_dir, "models", name))
    return path if os.path.exists(os.path.join(path, "saved_model.pb")) else None
