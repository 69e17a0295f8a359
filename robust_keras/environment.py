"""Where this process runs from: the git checkout (recorded with every run) and the virtualenv's
executables, spelled as a user can paste them into a shell."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys


def git_sha() -> str:
    """HEAD of the checkout holding this package, '+dirty' if it has uncommitted changes."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def pasteable(path: str) -> str:
    """``path`` relative to the current directory when it lies below it (what a user pastes)."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def mlflow_command() -> str:
    """The ``mlflow`` executable of this Python's environment (the virtualenv's); plain ``mlflow``
    if there is none."""
    path = os.path.join(os.path.dirname(sys.executable), "mlflow")
    return pasteable(path) if os.path.exists(path) else "mlflow"


def sync_command(run_dir: str, tracking_uri: str) -> str:
    """The command that replays ``run_dir`` to the MLflow store ``tracking_uri``, ready to paste."""
    return (
        f"{pasteable(sys.executable)} -m robust_keras.main --experiment=sync_mlflow --output_dir={run_dir} "
        f"--mlflow_tracking_uri={shlex.quote(tracking_uri)}"
    )
