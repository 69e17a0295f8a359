"""Tracking recovery in one process, each fault made deterministic: the epoch in flight when the
server comes back, duplicates already in MLflow, a store killed while MLflow created it, a closed
port at the start of a run and during one."""

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from conftest import ROOT, free_port
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from robust_keras.tracking.record import run_id_for
from robust_keras.tracking.runs import open_run
from robust_keras.tracking.store import TrackingError, ensure_sqlite_store
from robust_keras.tracking.sync import sync_run_dir


def _open(run_dir, uri):
    return open_run(str(run_dir), uri, "robust_keras/test", "r", {"experiment": "test"})


def test_the_epoch_in_flight_at_the_reconnect_is_logged_once(tmp_path):
    uri = f"sqlite:///{tmp_path}/m.db"
    run = _open(tmp_path / "run", uri)
    run.log_metrics({"val/accuracy": 0.5}, step=1)
    run._online, run._next_retry = False, 0.0  # an outage that has just ended: the next call catches up
    run.log_metrics({"val/accuracy": 0.6, "train/accuracy": 0.7}, step=2)
    client = MlflowClient(tracking_uri=uri)
    for name, steps in (("val/accuracy", [1, 2]), ("train/accuracy", [2])):
        assert [m.step for m in client.get_metric_history(run.run_id, name)] == steps, name


def test_sync_reports_duplicates_and_a_deleted_run_is_recreated_clean(tmp_path):
    uri = f"sqlite:///{tmp_path}/m.db"
    run = _open(tmp_path / "run", uri)
    for step in (1, 2):
        run.log_metrics({"val/accuracy": 0.1 * step}, step=step)
    run.finish()
    client = MlflowClient(tracking_uri=uri)
    client.log_batch(run.run_id, metrics=[Metric("val/accuracy", 0.2, 0, 2)])  # what the old replay did
    report = sync_run_dir(str(tmp_path / "run"), uri)
    assert report.in_step == report.total == 1 and report.duplicates == [("main", "val/accuracy", 2, 2)]
    client.delete_run(run.run_id)  # the fix the sync command names
    report = sync_run_dir(str(tmp_path / "run"), uri)
    assert report == (1, 1, [])
    new_id = run_id_for(str(tmp_path / "run"), uri)
    assert new_id != run.run_id
    assert [m.step for m in client.get_metric_history(new_id, "val/accuracy")] == [1, 2]
    assert client.get_run(new_id).info.status == "FINISHED"


_CREATE = "import sys; from robust_keras.tracking.store import ensure_sqlite_store; ensure_sqlite_store(sys.argv[1])"


def test_a_kill_while_the_sqlite_store_is_created_leaves_no_store(tmp_path):
    db = tmp_path / "mlflow.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", _CREATE, f"sqlite:///{db}"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while not list(tmp_path.glob("mlflow.db.*.creating")):  # MLflow is running its migrations
        assert proc.poll() is None and time.time() < deadline, "the store was not created under a temporary name"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not db.exists()  # never half a store under the real name
    run = _open(tmp_path / "run", f"sqlite:///{db}")  # the next run creates it whole
    run.log_metrics({"a": 1.0}, step=1)
    assert run.run_id and not list(tmp_path.glob("*creating*"))  # the killed creator's file is cleared too
    assert MlflowClient(tracking_uri=f"sqlite:///{db}").get_run(run.run_id).data.metrics == {"a": 1.0}


def test_a_half_created_store_from_an_older_version_is_moved_aside(tmp_path, capsys):
    db = tmp_path / "mlflow.db"
    with contextlib.closing(sqlite3.connect(db)) as con:  # tables of a migration killed half-way
        con.execute("CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY, name TEXT)")
        con.execute("CREATE TABLE experiment_tags (key TEXT, value TEXT, experiment_id INTEGER)")
        con.commit()
    run = _open(tmp_path / "run", f"sqlite:///{db}")
    assert run.run_id is not None
    assert "half-created" in capsys.readouterr().out and list(tmp_path.glob("mlflow.db.half-created-*"))
    with contextlib.closing(sqlite3.connect(tmp_path / "kept.db")) as con:  # one with runs is not touched
        con.execute("CREATE TABLE runs (run_uuid TEXT)")
        con.execute("INSERT INTO runs VALUES ('x')")
        con.commit()
    with pytest.raises(TrackingError, match="holds 1 runs but no schema version"):
        ensure_sqlite_store(f"sqlite:///{tmp_path}/kept.db")


def test_a_closed_port_is_one_short_line_at_start_and_no_blocking_during_a_run(tmp_path, capsys):
    closed = f"http://127.0.0.1:{free_port()}"
    start = time.time()
    with pytest.raises(TrackingError, match=f"cannot reach MLflow at {closed}") as err:
        _open(tmp_path / "new", closed)
    assert time.time() - start < 5 and len(str(err.value)) < 300 and "\n" not in str(err.value)
    assert "training goes on" not in capsys.readouterr().out  # nothing promised for a run that cannot start
    run = _open(tmp_path / "run", f"sqlite:///{tmp_path}/m.db")
    run.client = MlflowClient(tracking_uri=closed)  # the store goes away mid-run
    run._online, run._next_retry = False, 0.0
    start = time.time()
    run.log_metrics({"a": 1.0}, step=1)
    run.finish()
    assert time.time() - start < 2  # a refused connection costs no client retries
    out = capsys.readouterr().out
    assert f"--mlflow_tracking_uri={closed}" in out and "urllib3" not in out
