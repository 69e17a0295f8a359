"""Tracking under real faults: a real ``mlflow server`` killed mid-run and restarted, a SIGKILL
between an epoch's checkpoint and its metrics, a torn metrics line, a run directory resumed
against another tracking store. Nothing may be lost or logged twice."""

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT, read_jsonl, run_main
from mlflow.tracking import MlflowClient

from robust_keras.tracking.record import run_id_for
from robust_keras.tracking.sync import sync_run_dir

pytestmark = pytest.mark.e2e  # whole training runs killed and resumed: out of the inner loop (pytest -m 'not e2e')

TRAIN = ("--flagfile=flags/train_mnist_sample.flags", "--max_train_examples=800", "--epochs=3")


def _steps(client, run_id, name):
    return [m.step for m in client.get_metric_history(run_id, name)]


def _popen_main(*args):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ROOT}
    cmd = [sys.executable, "-m", "robust_keras.main", *args]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_server_killed_mid_run_then_synced_loses_and_duplicates_nothing(mlflow_server, tmp_path):
    out = tmp_path / "run"
    proc = _popen_main(*TRAIN, f"--output_dir={out}", f"--mlflow_tracking_uri={mlflow_server.uri}")
    deadline = time.time() + 300
    while not (out / "metrics.jsonl").exists() or "train/accuracy" not in (out / "metrics.jsonl").read_text():
        assert proc.poll() is None and time.time() < deadline, proc.communicate()[1][-2000:]
        time.sleep(0.2)
    mlflow_server.kill()  # after epoch 1 reached MLflow; epochs 2.. and the export happen without it
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-3000:]
    assert "is not reachable" in stdout and stdout.count("\n") < 40  # one warning, no urllib3 retry lines
    printed = [ln for ln in stdout.splitlines() if "--experiment=sync_mlflow" in ln][-1]
    replay = shlex.split(re.search(r" with:? (\S+ -m robust_keras\.main .+)$", printed).group(1))
    assert f"--mlflow_tracking_uri={mlflow_server.uri}" in replay  # pasted as printed, it reaches the server
    rows = [r for r in read_jsonl(out / "metrics.jsonl") if r["name"] == "train/accuracy"]
    assert [r["step"] for r in rows] == [1, 2, 3]  # the run directory has everything

    mlflow_server.start()
    sync = run_main(*replay[replay.index("robust_keras.main") + 1 :])  # the printed command, as printed
    assert sync.returncode == 0, sync.stderr[-3000:]
    # idempotent: a second sync (without a URI: the run's home store, the server) adds nothing
    assert run_main("--experiment=sync_mlflow", f"--output_dir={out}").returncode == 0
    assert sync_run_dir(str(out), mlflow_server.uri) == (1, 1, [])
    assert [p.name for p in out.glob("mlflow_run_id*")] == ["mlflow_run_id"]  # no other store was touched
    client = MlflowClient(tracking_uri=mlflow_server.uri)
    run = client.get_run((out / "mlflow_run_id").read_text().strip())
    for name in ("train/accuracy", "val/accuracy"):
        assert _steps(client, run.info.run_id, name) == [1, 2, 3], name
    assert run.info.status == "FINISHED" and run.data.params["epochs"] == "3"
    assert {"flags.flags", "metrics.jsonl", "models"} <= {a.path for a in client.list_artifacts(run.info.run_id)}


def test_kill_between_checkpoint_and_metrics_then_torn_line_then_moved_store_lose_nothing(tmp_path):
    """Three faults in a row on one run directory: SIGKILL after epoch 2's checkpoint but before
    its metrics, a torn last line in metrics.jsonl, and a resume against another tracking store."""
    out = tmp_path / "run"
    env = {
        **os.environ,
        "ROBUST_KERAS_FAILPOINT": "after_checkpoint:2",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": ROOT,
    }
    killed = subprocess.run(
        [
            sys.executable,
            "-m",
            "robust_keras.main",
            *TRAIN,
            f"--output_dir={out}",
            f"--mlflow_tracking_uri=sqlite:///{tmp_path}/a.db",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL
    assert [r["step"] for r in read_jsonl(out / "metrics.jsonl") if r["name"] == "train/accuracy"] == [1]
    with open(out / "metrics.jsonl", "a") as f:
        f.write('{"run": "main", "step": 9, "na')  # what a kill or a full disk mid-write leaves
    resumed = run_main(*TRAIN, f"--output_dir={out}", f"--mlflow_tracking_uri=sqlite:///{tmp_path}/b.db")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "mirroring" in resumed.stdout and "resumed from" in resumed.stdout
    assert "epoch 2/3" not in resumed.stdout  # epoch 2 was not redone: its metrics came from the checkpoint
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert all(json.loads(line) for line in lines)  # the torn line is gone, nothing after it broke
    assert [json.loads(ln)["step"] for ln in lines if '"train/accuracy"' in ln] == [1, 2, 3]
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/b.db")
    run = client.get_run(run_id_for(str(out), f"sqlite:///{tmp_path}/b.db"))
    assert _steps(client, run.info.run_id, "train/accuracy") == [1, 2, 3]
    assert run.data.params["epochs"] == "3" and run.info.status == "FINISHED"
    assert "models" in {a.path for a in client.list_artifacts(run.info.run_id)}
    # the home store's run is not repointed: syncing there continues it, it does not start another
    home = f"sqlite:///{tmp_path}/a.db"
    assert run_id_for(str(out), home) == (out / "mlflow_run_id").read_text().strip() != run.info.run_id
    assert sync_run_dir(str(out), home) == (1, 1, [])
    client_a = MlflowClient(tracking_uri=home)
    assert _steps(client_a, run_id_for(str(out), home), "train/accuracy") == [1, 2, 3]
    assert len(client_a.search_runs([client_a.get_run(run_id_for(str(out), home)).info.experiment_id])) == 1


def test_killed_source_training_resumes_into_the_same_child_run(tmp_path):
    out, uri = tmp_path / "run", f"sqlite:///{tmp_path}/m.db"
    args = (
        "--flagfile=flags/pathways_mnist_tiny.flags",
        "--grid_stage=prepare",
        "--max_train_examples=500",
        "--source_epochs=2",
        "--attack_steps=5",
        "--shard_size=250",
        f"--output_dir={out}",
        f"--mlflow_tracking_uri={uri}",
    )
    env = {
        **os.environ,
        "ROBUST_KERAS_FAILPOINT": "after_checkpoint:1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": ROOT,
    }
    killed = subprocess.run(
        [sys.executable, "-m", "robust_keras.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL  # during the source model's training
    resumed = run_main(*args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    client = MlflowClient(tracking_uri=uri)
    parent = client.get_run((out / "mlflow_run_id").read_text().strip())
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert [c.data.tags["mlflow.runName"] for c in children] == ["source"]  # no orphan, no second child
    assert _steps(client, children[0].info.run_id, "test/accuracy") == [1, 2]
    assert children[0].info.status == "FINISHED" and children[0].data.params["epochs"] == "2"
