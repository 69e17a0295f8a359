"""Run bookkeeping: the run directory is the source of truth, MLflow a mirror of it.

Layout of a run directory (docs/design.md, Contracts)::

    flags.flags            the flagfile that reproduces the run (written by main)
    metrics.jsonl          one {"run", "step", "name", "value"} object per line, fsynced
    mlflow_run_id          the MLflow run this directory mirrors into (children: mlflow_run_id.<name>)
    mlflow.json            experiment name, run name, tags and home tracking URI (to mirror the run elsewhere)
    mlflow_run_id@<hash>   the run id in another tracking store this directory was mirrored into
    mlflow_ledger.jsonl    every params / tags / artifact / child call, for a full replay
    mlflow_pending.jsonl   the calls MLflow missed while it was away  (these files: run_files.py)
    plots/, models/, checkpoints/, datasets...

Every metric is appended to ``metrics.jsonl`` (flush + fsync) *before* it is sent to MLflow, so a
kill or a tracking-server outage loses nothing. When MLflow fails, the run prints one warning and
goes on; what MLflow missed is replayed idempotently (metrics by step, compared with the server's
history; other calls from the pending list) on the next call, at the end, on a resume, or by
``python -m robust_keras.main --experiment=sync_mlflow --output_dir=RUN`` (see :func:`sync_run_dir`).
A resume against another tracking URI, whose store does not know the recorded run, creates the run
there and replays everything from the run directory.
"""

from __future__ import annotations

import glob
import json
import os
import time
from collections import Counter
from collections.abc import Mapping
from typing import NamedTuple

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from robust_keras.atomic_files import publish_once, write_json
from robust_keras.environment import mlflow_command, sync_command
from robust_keras.errors import first_line
from robust_keras.run_files import (  # noqa: F401  (ID_FILE, INFO, home_tracking_uri, run_id_for re-exported)
    ID_FILE,
    INFO,
    LEDGER,
    METRICS,
    PENDING,
    append_jsonl,
    drop_pending,
    entry_items,
    home_tracking_uri,
    mend_once,
    metric_history,
    metric_rows,
    read_jsonl,
    run_id_for,
    store_id_file,
    write_id,
)
from robust_keras.tracking_store import (  # noqa: F401  (default_tracking_uri re-exported)
    TrackingError,
    default_tracking_uri,
    ensure_experiment,
    ensure_sqlite_store,
    run_exists,
    server_reachable,
)

__all__ = [
    "Run",
    "open_run",
    "sync_run_dir",
    "sync_command",
    "metric_history",
    "metric_rows",
    "home_tracking_uri",
    "run_id_for",
]

_PARAM_MAX = 6000  # MLflow 3 limit on one param value
_BATCH = 100
_RETRY_SECONDS = 15.0  # while MLflow is away, try to catch up at most this often (finish always tries)
_warned: set[str] = set()  # tracking URIs whose outage was already reported (one line per process)


class Run:
    """One MLflow run mirrored from a run directory.

    Args:
      client: MLflow client of the tracking URI.
      run_id: the MLflow run, or None while it could not be created (server away; created and
        filled by :meth:`sync`).
      run_dir: the run directory (created).
      label: name of this run in ``metrics.jsonl`` ("main" or a child's name).
      id_file: where this run's MLflow id is recorded.
      create: makes the MLflow run when it does not exist yet (returns its id).
    """

    def __init__(self, client, run_id, run_dir, label="main", *, id_file=None, create=None, parent=None):
        self.client = client
        self.run_id = run_id
        self.run_dir = run_dir
        self.label = label
        self.parent = parent
        self._id_file = id_file or os.path.join(run_dir, ID_FILE)
        self._create = create
        self._online = run_id is not None
        os.makedirs(run_dir, exist_ok=True)
        self._metrics_path = os.path.join(run_dir, METRICS)
        for name in (METRICS, LEDGER, PENDING):  # a killed writer may have left half a line
            mend_once(os.path.join(run_dir, name))
        self._logged = {(r["step"], r["name"]): r["value"] for r in metric_rows(run_dir, label)}
        self._next_retry = 0.0
        self.home_uri = parent.home_uri if parent is not None else client.tracking_uri
        self.duplicates: list[tuple[str, int, int]] = []  # (metric, step, times) MLflow holds twice or more

    @property
    def tracking_uri(self) -> str:
        return self.client.tracking_uri

    @property
    def experiment_id(self) -> str:
        return self.client.get_run(self.run_id).info.experiment_id

    def path(self, *parts: str) -> str:
        """A path inside the run directory (parent folders created)."""
        full = os.path.join(self.run_dir, *parts)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        return full

    # -- writes: run directory first, then MLflow ------------------------------------------------

    def log_metrics(self, metrics: Mapping[str, float], step: int = 0) -> None:
        """Appends to ``metrics.jsonl`` (durably), then logs to MLflow. Idempotent: a value this run
        already logged at that step (e.g. an epoch replayed after a kill) is not logged again."""
        new = {k: float(v) for k, v in metrics.items() if self._logged.get((step, k)) != float(v)}
        if not new:
            return
        rows = [{"run": self.label, "step": step, "name": k, "value": v} for k, v in new.items()]
        append_jsonl(self._metrics_path, rows)
        self._logged.update({(step, k): v for k, v in new.items()})
        if not self._online:  # a catch-up replays metrics.jsonl, these rows included: send nothing twice
            self._catch_up()
            return
        now = int(time.time() * 1000)
        items = [Metric(k, v, now, step) for k, v in new.items()]
        self._call(lambda: _log_batches(self.client, self.run_id, metrics=items))

    def log_params(self, params: Mapping[str, object]) -> None:
        self._record("params", {k: str(v)[:_PARAM_MAX] for k, v in sorted(params.items())})

    def set_tags(self, tags: Mapping[str, object]) -> None:
        self._record("tags", {k: str(v) for k, v in tags.items()})

    def log_artifact(self, path: str, artifact_path: str | None = None) -> None:
        """A file or a whole directory (e.g. a SavedModel) as MLflow artifact(s)."""
        self._record("artifact", {"path": os.path.abspath(path), "artifact_path": artifact_path})

    def finish(self, status: str = "FINISHED") -> None:
        """Ends the run in MLflow; if MLflow is still away, says how to replay it later."""
        self._record("status", {"status": status}, force=True)
        if not self._online and self.parent is None:
            print(
                f"[mlflow] warning: {self.tracking_uri} was not reachable; everything is in {self.run_dir} -- "
                f"replay it with: {sync_command(_top(self), self.tracking_uri)}",
                flush=True,
            )

    def _record(self, kind: str, payload: dict, force: bool = False) -> None:
        entry = {"run": self.label, "kind": kind, **payload}
        append_jsonl(os.path.join(self.run_dir, LEDGER), [entry])
        if not (self._catch_up(force) and self._call(lambda: self._apply(entry))):
            append_jsonl(os.path.join(self.run_dir, PENDING), [entry])

    def _apply(self, entry: dict) -> None:
        kind = entry["kind"]
        if kind == "params":
            _log_batches(self.client, self.run_id, params=[Param(k, v) for k, v in entry_items(entry)])
        elif kind == "tags":
            self.client.log_batch(self.run_id, tags=[RunTag(k, v) for k, v in entry_items(entry)])
        elif kind == "artifact":
            path, artifact_path = entry["path"], entry["artifact_path"]
            if os.path.isdir(path):
                dest = os.path.join(artifact_path, os.path.basename(path)) if artifact_path else os.path.basename(path)
                self.client.log_artifacts(self.run_id, path, dest)
            elif os.path.exists(path):
                self.client.log_artifact(self.run_id, path, artifact_path)
        elif kind == "status":
            self.client.set_terminated(self.run_id, entry["status"])

    def _call(self, fn) -> bool:
        """Runs an MLflow call; on failure reports the outage once and returns False."""
        try:
            fn()
            return True
        except Exception as e:  # connection refused, timeouts, 5xx, a locked database...
            self._went_away(e)
            return False

    def _went_away(self, error: Exception) -> None:
        self._online = False
        self._next_retry = time.time() + _RETRY_SECONDS
        if self.tracking_uri not in _warned:
            _warned.add(self.tracking_uri)
            reason = first_line(error, 100)
            print(
                f"[mlflow] warning: {self.tracking_uri} is not reachable ({reason}); training goes on, "
                f"results are kept in {self.run_dir} and replayed to MLflow when it is back",
                flush=True,
            )

    def _catch_up(self, force: bool = False) -> bool:
        """True if MLflow is in step with the run directory, replaying what it missed if needed
        (while it is away, at most every few seconds unless ``force``)."""
        if self._online:
            return True
        if not force and time.time() < self._next_retry:
            return False
        if not server_reachable(self.tracking_uri):  # a closed port: no blocking client retries
            self._next_retry = time.time() + _RETRY_SECONDS
            return False
        return self.sync()

    # -- replay -------------------------------------------------------------------------------

    def sync(self, full: bool = False) -> bool:
        """Replays to MLflow what it missed, idempotently: metrics by (name, step) against the
        server's history, then the pending calls of this run (``full``: every recorded call, for
        a run recreated on another server). Creates the MLflow run first if it has none yet.
        Returns True if MLflow is now in step."""
        try:
            if self.run_id is None:
                self.run_id = self._create()
                write_id(self._id_file, self.run_id)
                full = True
            sent = self._replay_metrics()
            entries = read_jsonl(os.path.join(self.run_dir, LEDGER if full else PENDING))
            mine = [e for e in entries if e.get("run") == self.label]
            for entry in mine:
                self._apply(entry)
        except Exception as e:
            self._went_away(e)
            return False
        drop_pending(self.run_dir, self.label)
        if not self._online and (sent or mine):
            print(f"[mlflow] {self.label}: replayed {sent} metric values and {len(mine)} calls to {self.tracking_uri}")
        self._online = True
        return True

    def _replay_metrics(self) -> int:
        """Sends every (metric, step) of ``metrics.jsonl`` that MLflow does not hold yet; notes in
        :attr:`duplicates` the (metric, step) pairs MLflow holds more than once."""
        latest: dict[str, dict[int, float]] = {}
        for row in metric_rows(self.run_dir, self.label):
            latest.setdefault(row["name"], {})[row["step"]] = row["value"]
        now = int(time.time() * 1000)
        missing, duplicates = [], []
        for name, steps in latest.items():
            have = Counter(m.step for m in self.client.get_metric_history(self.run_id, name))
            missing += [Metric(name, v, now, s) for s, v in sorted(steps.items()) if s not in have]
            duplicates += [(name, s, n) for s, n in sorted(have.items()) if n > 1]
        _log_batches(self.client, self.run_id, metrics=missing)
        self.duplicates = duplicates
        return len(missing)

    # -- reads --------------------------------------------------------------------------------------

    def metric_history(self, name: str) -> dict[int, float]:
        """{step: last logged value} of metric ``name`` of this run, from ``metrics.jsonl`` (so it
        includes steps logged before a resume)."""
        return metric_history(self.run_dir, self.label, name)

    def latest_metrics(self) -> dict[str, float]:
        """{name: value at the highest step (last logged on ties)} of every metric of this run."""
        latest: dict[str, tuple[int, float]] = {}
        for row in metric_rows(self.run_dir, self.label):
            if row["name"] not in latest or row["step"] >= latest[row["name"]][0]:
                latest[row["name"]] = (row["step"], row["value"])
        return {name: value for name, (_, value) in latest.items()}

    # -- children -------------------------------------------------------------------------------

    def child(self, name: str, run_dir: str | None = None, resume: bool = True) -> Run:
        """A nested MLflow run named ``name``; a resumed parent continues the same child.

        By default it shares this run directory (its ``metrics.jsonl`` rows carry ``run=name``
        and its MLflow id is kept in ``mlflow_run_id.<name>``); with ``run_dir`` it gets a
        directory of its own (e.g. one grid cell that another process may train), whose
        ``mlflow_run_id`` holds the id. While MLflow is away the child is created later.
        """
        child_dir = run_dir or self.run_dir
        os.makedirs(child_dir, exist_ok=True)
        id_file = os.path.join(child_dir, ID_FILE if run_dir else f"{ID_FILE}.{name.replace('/', '_')}")
        if run_dir is None:
            self._record("child", {"name": name})  # lets sync_mlflow find children sharing this directory

        def create() -> str:
            if not self._catch_up():
                raise ConnectionError(f"parent run {self.label} is not in MLflow yet")
            tags = {"mlflow.parentRunId": self.run_id, "mlflow.runName": name}
            parent_tags = self.client.get_run(self.run_id).data.tags
            tags.update({k: v for k, v in parent_tags.items() if k in ("git_sha", "experiment")})
            return self.client.create_run(self.experiment_id, tags=tags, run_name=name).info.run_id

        return _open(self.client, id_file, create, child_dir, name, parent=self, resume=resume, home=self.home_uri)

    def ui_hint(self, tracking_uri: str) -> str:
        """The command and address that show this run in the MLflow UI."""
        if self.run_id is None or not self._online:
            return f"MLflow was away: replay with {sync_command(_top(self), self.tracking_uri)}"
        if tracking_uri.startswith(("http://", "https://")):
            return f"open {tracking_uri}/#/experiments/{self.experiment_id}/runs/{self.run_id}"
        return (
            f"{mlflow_command()} ui --backend-store-uri {tracking_uri} --port 5000   then open "
            f"http://127.0.0.1:5000/#/experiments/{self.experiment_id}/runs/{self.run_id}"
        )


def _log_batches(client: MlflowClient, run_id: str, metrics=(), params=()) -> None:
    """``log_batch`` in chunks MLflow accepts."""
    for items, key in ((list(metrics), "metrics"), (list(params), "params")):
        for i in range(0, len(items), _BATCH):
            client.log_batch(run_id, **{key: items[i : i + _BATCH]})


def _top(run: Run) -> str:
    while run.parent is not None:
        run = run.parent
    return run.run_dir


def _open(client: MlflowClient, id_file: str, create, run_dir: str, label: str, parent=None, resume=True, home=None):
    """The run recorded for this tracking store (marked RUNNING again; recreated with a full
    replay if the store lost it), or a new one from ``create()``. Ids are kept per store: a run
    directory opened against a store other than its home (``home``, the URI it was started with)
    gets a mirror run there, and its home run id is never overwritten. Two processes racing to
    create a run end up sharing one: the id is published with an atomic link and the loser
    deletes its own. If MLflow is away the run starts offline and is created by its first sync.
    ``resume=False`` (a replay, not a continuation) leaves the run's status alone."""
    run = Run(client, None, run_dir, label, id_file=id_file, create=create, parent=parent)
    run.home_uri = home or run.home_uri
    home_file = id_file
    id_file = run._id_file = store_id_file(id_file, client.tracking_uri, run.home_uri)
    try:
        if not os.path.exists(id_file):
            run_id = create()
            if publish_once(id_file, run_id):  # False when another process published its run first
                run.run_id, run._online = run_id, True
                if id_file != home_file and os.path.exists(home_file):
                    print(
                        f"[mlflow] {label}: mirroring {run_dir} into {client.tracking_uri} as run {run_id}; "
                        f"its home run stays in {run.home_uri}"
                    )
                    run.sync(full=True)
                return run
            client.delete_run(run_id)
        with open(id_file) as f:
            run_id = f.read().strip()
        if run_exists(client, run_id):
            if resume:
                client.update_run(run_id, status="RUNNING")
            run.run_id, run._online = run_id, True
            run.sync()  # a resume replays what an earlier attempt could not send
        else:  # the store lost the run (deleted, or a new database at the same URI): recreate it
            print(f"[mlflow] {label}: run {run_id} is not in {client.tracking_uri}; recreating it from {run_dir}")
            os.remove(id_file)
            run.sync(full=True)
    except Exception as e:
        run._went_away(e)
    return run


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
    return _open(client, id_file, create, run_dir, "main", resume=resume, home=home)


class SyncReport(NamedTuple):
    in_step: int  # runs MLflow now mirrors
    total: int  # runs found in the run directory (main, children, grid cells)
    duplicates: list  # (run label, metric, step, times) that MLflow holds more than once


def sync_run_dir(run_dir: str, tracking_uri: str) -> SyncReport:
    """Replays a whole run directory (main run, its children, grid cells) to ``tracking_uri``,
    each run ending in the last status it recorded, and reports metric values MLflow holds twice."""
    main = open_run(run_dir, tracking_uri, "", "", {}, resume=False)
    runs = [main]
    names = {e["name"] for e in read_jsonl(os.path.join(run_dir, LEDGER)) if e.get("kind") == "child"}
    runs += [main.child(name, resume=False) for name in sorted(names)]
    for cell_dir in sorted(glob.glob(os.path.join(run_dir, "cells", "*", ""))):
        runs.append(main.child(os.path.basename(os.path.dirname(cell_dir)), run_dir=cell_dir, resume=False))
    in_step, duplicates = 0, []
    for run in runs:
        statuses = [e for e in read_jsonl(os.path.join(run.run_dir, LEDGER)) if e.get("run") == run.label]
        statuses = [e for e in statuses if e["kind"] == "status"]
        if run.sync() and (not statuses or run._call(lambda r=run, e=statuses[-1]: r._apply(e))):
            in_step += 1
        duplicates += [(run.label, *d) for d in run.duplicates]
    return SyncReport(in_step, len(runs), duplicates)
