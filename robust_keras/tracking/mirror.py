"""The MLflow mirror of a run directory: :class:`Run` writes every value to the run directory
first (``tracking/record.py``), then to MLflow.

Every metric is appended to ``metrics.jsonl`` (flush + fsync) *before* it is sent to MLflow, so a
kill or a tracking-server outage loses nothing. When MLflow fails, the run prints one warning and
goes on; what MLflow missed is replayed idempotently (metrics by step, compared with the server's
history; other calls from the pending list) on the next call, at the end, on a resume, or by
``python -m robust_keras.main --experiment=sync_mlflow --output_dir=RUN`` (``tracking/sync.py``).
A resume against another tracking URI, whose store does not know the recorded run, creates the run
there and replays everything from the run directory. Runs are opened by ``tracking/runs.py``.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Mapping

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from robust_keras.atomic_files import publish_once
from robust_keras.environment import mlflow_command, sync_command
from robust_keras.errors import first_line
from robust_keras.tracking.record import (
    ID_FILE,
    LEDGER,
    METRICS,
    PENDING,
    append_jsonl,
    drop_pending,
    entry_items,
    mend_once,
    metric_history,
    metric_rows,
    read_jsonl,
    store_id_file,
    write_id,
)
from robust_keras.tracking.store import run_exists, server_reachable

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

    def end_as_recorded(self) -> bool:
        """Sets the MLflow run's status to the last one its run directory recorded (none recorded:
        nothing to do). True if MLflow holds it."""
        entries = read_jsonl(os.path.join(self.run_dir, LEDGER))
        statuses = [e for e in entries if e.get("run") == self.label and e["kind"] == "status"]
        return not statuses or self._call(lambda: self._apply(statuses[-1]))

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

        return attach(self.client, id_file, create, child_dir, name, parent=self, resume=resume, home=self.home_uri)

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


def attach(client: MlflowClient, id_file: str, create, run_dir: str, label: str, parent=None, resume=True, home=None):
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
