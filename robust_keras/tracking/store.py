"""The tracking store itself: a SQLite store created so that a kill cannot half-create it, a
cheap reachability probe for tracking servers, and one line for an unreachable store.

MLflow creates a SQLite store by running its schema migrations in place; a process killed in the
middle leaves a file every later run refuses ("table experiment_tags already exists"). Here the
store is created under a temporary name and published with an atomic link, so ``mlflow.db`` is
either absent or complete; a half-created file left by an older version (no alembic version
recorded, no runs) is moved aside and created again.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import sqlite3
import time
from urllib.parse import urlparse

from robust_keras.atomic_files import pid_alive
from robust_keras.errors import RobustKerasError
from robust_keras.network import connect_failure

SQLITE = "sqlite:///"
# urllib3 prints a warning per retry of every call while a server is away (18 lines per outage
# retry with MLflow's client); the run prints its own single line instead.
logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)


class TrackingError(RobustKerasError):
    """The tracking store cannot be reached or used."""


def default_tracking_uri(root: str = "artifacts") -> str:
    """SQLite store under ``root`` (``mlflow ui --backend-store-uri`` opens it)."""
    return f"{SQLITE}{os.path.abspath(os.path.join(root, 'mlflow.db'))}"


def sqlite_path(tracking_uri: str) -> str | None:
    return tracking_uri[len(SQLITE) :] if tracking_uri.startswith(SQLITE) else None


def _tables(path: str) -> tuple[set[str], bool, int]:
    """(table names, alembic version recorded, number of runs) of the SQLite file at ``path``."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        versioned = "alembic_version" in tables and db.execute("SELECT count(*) FROM alembic_version").fetchone()[0]
        runs = db.execute("SELECT count(*) FROM runs").fetchone()[0] if "runs" in tables else 0
    return tables, bool(versioned), runs


def ensure_sqlite_store(tracking_uri: str) -> None:
    """Makes the SQLite store of ``tracking_uri`` exist complete (no-op for other URIs)."""
    path = sqlite_path(tracking_uri)
    if path is None:
        return
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    if os.path.exists(path):
        try:
            tables, versioned, runs = _tables(path)
        except sqlite3.DatabaseError as e:
            raise TrackingError(
                f"{path} is not a usable SQLite MLflow store ({e})",
                "point --mlflow_tracking_uri at another file, or move this one aside",
            ) from None
        if versioned or not tables:
            if not tables:  # an empty file: MLflow creates the schema in it
                os.remove(path)
            else:
                return
        elif runs:
            raise TrackingError(
                f"{path} holds {runs} runs but no schema version (an interrupted migration)",
                "back it up and run `mlflow db upgrade` on it, or pick another --mlflow_tracking_uri",
            )
        else:
            aside = f"{path}.half-created-{time.strftime('%Y%m%d-%H%M%S')}"
            os.replace(path, aside)
            print(f"[mlflow] {path} was left half-created by a killed run (no runs in it); moved to {aside}")
    _create_sqlite_store(path)


def _create_sqlite_store(path: str) -> None:
    from mlflow.tracking import MlflowClient

    for leftover in glob.glob(glob.escape(path) + ".*.creating*"):  # left by killed creators
        pid = leftover[len(path) + 1 :].split(".")[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            with contextlib.suppress(FileNotFoundError):
                os.remove(leftover)
    tmp = f"{path}.{os.getpid()}.creating"
    try:
        MlflowClient(tracking_uri=SQLITE + tmp).search_experiments(max_results=1)  # runs the migrations
        with contextlib.suppress(FileExistsError):  # another process published a complete store first
            os.link(tmp, path)
    finally:
        for leftover in (tmp, tmp + "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(leftover)


def server_reachable(tracking_uri: str, timeout: float = 1.0) -> bool:
    """False if ``tracking_uri`` is an http(s) server whose port refuses or does not answer a TCP
    connection within ``timeout`` seconds; True otherwise (other stores are always tried)."""
    if not tracking_uri.startswith(("http://", "https://")):
        return True
    url = urlparse(tracking_uri)
    port = url.port or (443 if url.scheme == "https" else 80)
    return connect_failure(url.hostname, port, timeout) is None


def run_exists(client, run_id: str) -> bool:
    """Whether the store of ``client`` holds run ``run_id`` (a deleted run counts as gone)."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(run_id).info.lifecycle_stage != "deleted"
    except MlflowException as e:
        if e.error_code == "RESOURCE_DOES_NOT_EXIST":
            return False
        raise


# MLflow 3's UI opens an experiment in its GenAI view (traces, evaluations) unless the experiment
# says it holds model training: the UI reads this experiment tag to pick the runs-list view.
_EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")


def ensure_experiment(client, name: str, tracking_uri: str) -> str:
    """The id of experiment ``name`` in the store of ``client``, created if needed."""
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.tags.get(_EXPERIMENT_KIND[0]) is None:
            client.set_experiment_tag(experiment.experiment_id, *_EXPERIMENT_KIND)
        return experiment.experiment_id
    path = sqlite_path(tracking_uri)  # keep artifacts next to the database, not in cwd
    location = "file://" + os.path.join(os.path.dirname(path), "mlartifacts") if path else None
    return client.create_experiment(name, artifact_location=location, tags=dict([_EXPERIMENT_KIND]))
