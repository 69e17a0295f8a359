"""Run bookkeeping: a run directory plus the same content in MLflow.

Layout of a run directory (DESIGN.md "Runs")::

    flags.flags         the flagfile that reproduces the run (written by main)
    metrics.jsonl       one {"run", "step", "name", "value"} object per line
    mlflow_run_id       lets a resumed run keep logging into the same MLflow run
    plots/, models/, checkpoints/, datasets...

MLflow receives params (all flags), metrics with ``step``, artifacts and tags (git sha,
experiment). Multi-model experiments open nested child runs with :meth:`Run.child`.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Mapping

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

_PARAM_MAX = 6000  # MLflow 3 limit on one param value
_BATCH = 100


def default_tracking_uri(root: str = "artifacts") -> str:
    """SQLite store under ``root`` (``mlflow ui --backend-store-uri`` opens it)."""
    return f"sqlite:///{os.path.abspath(os.path.join(root, 'mlflow.db'))}"


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


def metric_rows(run_dir: str, label: str) -> list[dict]:
    """Rows of ``<run_dir>/metrics.jsonl`` logged by the run labelled ``label`` ("main" or a
    child's name), in order; a torn last line (a kill mid-write) is skipped."""
    path = os.path.join(run_dir, "metrics.jsonl")
    if not os.path.exists(path):
        return []
    rows = []
    with open(path) as f:
        for line in f:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if row.get("run") == label:
                rows.append(row)
    return rows


def metric_history(run_dir: str, label: str, name: str) -> dict[int, float]:
    """{step: last logged value} of metric ``name`` of run ``label`` in ``run_dir``."""
    history = {row["step"]: row["value"] for row in metric_rows(run_dir, label) if row["name"] == name}
    return dict(sorted(history.items()))


def _experiment_id(client: MlflowClient, name: str, tracking_uri: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    location = None
    if tracking_uri.startswith("sqlite:///"):  # keep artifacts next to the database, not in cwd
        location = "file://" + os.path.join(os.path.dirname(tracking_uri[len("sqlite:///") :]), "mlartifacts")
    return client.create_experiment(name, artifact_location=location)


class Run:
    """One MLflow run mirrored into a run directory.

    Args:
      run_dir: the run directory (created).
      run_id: the MLflow run to log into (see :func:`open_run`).
      label: name of this run in ``metrics.jsonl`` ("main" or a child's name).
    """

    def __init__(self, client: MlflowClient, run_id: str, run_dir: str, label: str = "main"):
        self.client = client
        self.run_id = run_id
        self.run_dir = run_dir
        self.label = label
        os.makedirs(run_dir, exist_ok=True)
        self._metrics_path = os.path.join(run_dir, "metrics.jsonl")

    @property
    def experiment_id(self) -> str:
        return self.client.get_run(self.run_id).info.experiment_id

    def path(self, *parts: str) -> str:
        """A path inside the run directory (parent folders created)."""
        full = os.path.join(self.run_dir, *parts)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        return full

    def changed_params(self, params: Mapping[str, object]) -> dict[str, tuple[str, str]]:
        """{key: (logged, new)} for the params this run already holds with another value."""
        logged = self.client.get_run(self.run_id).data.params
        new = {k: str(v)[:_PARAM_MAX] for k, v in params.items()}
        return {k: (logged[k], v) for k, v in sorted(new.items()) if k in logged and logged[k] != v}

    def log_params(self, params: Mapping[str, object]) -> None:
        items = [Param(k, str(v)[:_PARAM_MAX]) for k, v in sorted(params.items())]
        for i in range(0, len(items), _BATCH):
            self.client.log_batch(self.run_id, params=items[i : i + _BATCH])

    def set_tags(self, tags: Mapping[str, object]) -> None:
        self.client.log_batch(self.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def log_metrics(self, metrics: Mapping[str, float], step: int = 0) -> None:
        """Logs to MLflow and appends to ``metrics.jsonl``."""
        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, step) for k, v in metrics.items()]
        for i in range(0, len(items), _BATCH):
            self.client.log_batch(self.run_id, metrics=items[i : i + _BATCH])
        with open(self._metrics_path, "a") as f:
            for k, v in metrics.items():
                f.write(json.dumps({"run": self.label, "step": step, "name": k, "value": float(v)}) + "\n")

    def _rows(self) -> list[dict]:
        return metric_rows(self.run_dir, self.label)

    def metric_history(self, name: str) -> dict[int, float]:
        """{step: last logged value} of metric ``name`` of this run, from ``metrics.jsonl`` (so it
        includes steps logged before a resume)."""
        return metric_history(self.run_dir, self.label, name)

    def latest_metrics(self) -> dict[str, float]:
        """{name: value at the highest step (last logged on ties)} of every metric of this run."""
        latest: dict[str, tuple[int, float]] = {}
        for row in self._rows():
            if row["name"] not in latest or row["step"] >= latest[row["name"]][0]:
                latest[row["name"]] = (row["step"], row["value"])
        return {name: value for name, (_, value) in latest.items()}

    def log_artifact(self, path: str, artifact_path: str | None = None) -> None:
        """A file or a whole directory (e.g. a SavedModel) as MLflow artifact(s)."""
        if os.path.isdir(path):
            dest = os.path.join(artifact_path, os.path.basename(path)) if artifact_path else os.path.basename(path)
            self.client.log_artifacts(self.run_id, path, dest)
        else:
            self.client.log_artifact(self.run_id, path, artifact_path)

    def child(self, name: str, run_dir: str | None = None) -> Run:
        """A nested MLflow run named ``name``; a resumed parent continues the same child.

        By default it shares this run directory (its ``metrics.jsonl`` rows carry ``run=name``
        and its MLflow id is kept in ``mlflow_run_id.<name>``); with ``run_dir`` it gets a
        directory of its own (e.g. one grid cell that another process may train), whose
        ``mlflow_run_id`` holds the id.
        """
        child_dir = run_dir or self.run_dir
        os.makedirs(child_dir, exist_ok=True)
        id_file = os.path.join(child_dir, "mlflow_run_id" if run_dir else f"mlflow_run_id.{name.replace('/', '_')}")

        def create() -> str:
            tags = {"mlflow.parentRunId": self.run_id, "mlflow.runName": name}
            parent_tags = self.client.get_run(self.run_id).data.tags
            tags.update({k: v for k, v in parent_tags.items() if k in ("git_sha", "experiment")})
            return self.client.create_run(self.experiment_id, tags=tags, run_name=name).info.run_id

        return Run(self.client, _claim_run_id(self.client, id_file, create), child_dir, label=name)

    def finish(self, status: str = "FINISHED") -> None:
        self.client.set_terminated(self.run_id, status)

    def ui_hint(self, tracking_uri: str) -> str:
        """The command and address that show this run in the MLflow UI."""
        if tracking_uri.startswith(("http://", "https://")):
            return f"open {tracking_uri}/#/experiments/{self.experiment_id}/runs/{self.run_id}"
        return (
            f"mlflow ui --backend-store-uri {tracking_uri} --port 5000   then open "
            f"http://127.0.0.1:5000/#/experiments/{self.experiment_id}/runs/{self.run_id}"
        )


def open_run(run_dir: str, tracking_uri: str, experiment_name: str, run_name: str, tags: Mapping[str, str]) -> Run:
    """Opens the MLflow run of ``run_dir``: the one recorded there (a resume) or a new one."""
    os.makedirs(run_dir, exist_ok=True)
    if tracking_uri.startswith("sqlite:///"):
        os.makedirs(os.path.dirname(tracking_uri[len("sqlite:///") :]) or ".", exist_ok=True)
    client = MlflowClient(tracking_uri=tracking_uri)

    def create() -> str:
        experiment_id = _experiment_id(client, experiment_name, tracking_uri)
        return client.create_run(experiment_id, tags=dict(tags), run_name=run_name).info.run_id

    return Run(client, _claim_run_id(client, os.path.join(run_dir, "mlflow_run_id"), create), run_dir)


def _claim_run_id(client: MlflowClient, id_file: str, create) -> str:
    """The MLflow run id recorded in ``id_file`` (that run is marked RUNNING again), or a new
    run from ``create()`` recorded there. Two processes racing to create it end up sharing
    one run: the id file is published with an atomic link, and the loser deletes its run."""
    if not os.path.exists(id_file):
        run_id = create()
        tmp = f"{id_file}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(run_id)
        try:
            os.link(tmp, id_file)  # fails if another process published first
            return run_id
        except FileExistsError:
            client.delete_run(run_id)
        finally:
            os.remove(tmp)
    with open(id_file) as f:
        run_id = f.read().strip()
    client.update_run(run_id, status="RUNNING")
    return run_id
