"""Opening a run: the one a run directory recorded for a tracking store (a resume), or a new one."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from mlflow.tracking import MlflowClient

from robust_keras.atomic_files import write_json
from robust_keras.errors import first_line
from robust_keras.tracking.mirror import Run, attach
from robust_keras.tracking.record import ID_FILE, INFO, store_id_file
from robust_keras.tracking.store import TrackingError, ensure_experiment, ensure_sqlite_store, server_reachable


def open_run(
    run_dir: str, tracking_uri: str, experiment_name: str, run_name: str, tags: Mapping[str, str], resume=True
) -> Run:
    """Opens the MLflow run of ``run_dir`` in ``tracking_uri``: the one recorded for that store
    (a resume), or a new one.

    Raises:
      TrackingError: MLflow cannot be reached for a run that has never been created there (a new
        run must start with a working tracking URI; an outage later only degrades to a warning),
        or the SQLite store is unusable.
    """
    os.makedirs(run_dir, exist_ok=True)
    info_path = os.path.join(run_dir, INFO)
    if not os.path.exists(info_path):
        info = {"experiment": experiment_name, "run_name": run_name, "tags": dict(tags), "tracking_uri": tracking_uri}
        write_json(info_path, info)
    with open(info_path) as f:
        info = json.load(f)
    home = info.get("tracking_uri") or tracking_uri  # run directories from before the home was recorded
    ensure_sqlite_store(tracking_uri)
    client = MlflowClient(tracking_uri=tracking_uri)

    def create() -> str:
        experiment_id = ensure_experiment(client, info["experiment"], tracking_uri)
        return client.create_run(experiment_id, tags=info["tags"], run_name=info["run_name"]).info.run_id

    id_file = os.path.join(run_dir, ID_FILE)
    if not os.path.exists(store_id_file(id_file, tracking_uri, home)):  # a new run there: the store must answer
        try:
            if not server_reachable(tracking_uri):
                raise ConnectionRefusedError("nothing answers at that address")
            client.search_experiments(max_results=1)
        except Exception as e:
            raise TrackingError(
                f"cannot reach MLflow at {tracking_uri} ({first_line(e)})",
                "start the tracking server, or pass a reachable --mlflow_tracking_uri "
                "(a sqlite:/// file needs no server)",
            ) from None
    return attach(client, id_file, create, run_dir, "main", resume=resume, home=home)
