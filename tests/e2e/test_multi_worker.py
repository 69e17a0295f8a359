"""--strategy=multi_worker: MultiWorkerMirroredStrategy with two worker processes on 127.0.0.1.

A worker killed mid-epoch leaves the chief's last checkpoint intact and one MLflow run; rerunning
both workers resumes from it, both finish, only the chief wrote the run directory, checkpoints and
the MLflow run, and the weights match one-process training."""

import glob
import os
import signal
import subprocess
import tempfile

import numpy as np
import pytest
from conftest import last_line, read_jsonl, run_main, start_workers

from robust_keras.export import load_model

TRAIN = [
    "--flagfile=flags/train_mnist_sample.flags",
    "--model=two_layer",
    "--width=64",
    "--epochs=2",
    "--max_train_examples=700",
]


def _cluster(tmp_path, out: str, failpoints=("", "")) -> list[subprocess.Popen]:
    args = [*TRAIN, f"--output_dir={out}", f"--mlflow_tracking_uri=sqlite:///{tmp_path}/m.db"]
    return start_workers(args, tmp_path, failpoints)


def _log(proc: subprocess.Popen) -> str:
    with open(proc.log_path) as f:
        return f.read()


def _runs(tmp_path) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/m.db")
    return [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])]


def _weights(out: str) -> list[np.ndarray]:
    import tensorflow as tf

    reader = tf.train.load_checkpoint(os.path.join(out, "checkpoints", "model"))
    names = sorted(n for n in reader.get_variable_to_shape_map() if n.startswith("model/") and "OPTIMIZER" not in n)
    return [reader.get_tensor(n) for n in names]


@pytest.fixture
def single(tmp_path_factory):
    out = tmp_path_factory.mktemp("single")
    proc = run_main(*TRAIN, f"--output_dir={out}/run", f"--mlflow_tracking_uri=sqlite:///{out}/m.db")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return str(out / "run")


def test_two_workers_killed_mid_epoch_resume_and_match_one_process(tmp_path, single):
    out = str(tmp_path / "run")
    # worker 1 dies at its 7th step (epoch 2 of 2, 5 steps per epoch); the chief's next collective
    # fails (the peer's port is closed) and it exits with one line saying what to do
    chief, worker = _cluster(tmp_path, out, failpoints=("", "train_step:7"))
    assert worker.wait(timeout=300) == -signal.SIGKILL, _log(worker)
    assert chief.wait(timeout=120) == 1, _log(chief)[-3000:]
    killed_scratch = glob.glob(os.path.join(tempfile.gettempdir(), f"robust_keras-pid{worker.pid}-*"))
    assert killed_scratch  # a SIGKILLed worker cannot clean up after itself...
    log = _log(chief)
    assert last_line(log).startswith("error: a worker of the cluster was lost") and "Traceback" not in log, log[-3000:]
    assert "2 replicas in sync" in log and ": chief" in log and "non-chief" in _log(worker)
    metrics = read_jsonl(os.path.join(out, "metrics.jsonl"))
    assert {r["step"] for r in metrics if r["name"] == "train/loss"} == {1}  # epoch 1 done, 2 not
    with open(os.path.join(out, "checkpoints", "model", "checkpoint")) as f:
        assert "ckpt-1" in f.read()
    assert len(_runs(tmp_path)) == 1

    chief, worker = _cluster(tmp_path, out)
    codes = [p.wait(timeout=300) for p in (chief, worker)]
    logs = [_log(p) for p in (chief, worker)]
    assert codes == [0, 0], logs
    assert all("resumed from" in log and "after epoch 1" in log for log in logs)
    assert not any(os.path.exists(path) for path in killed_scratch)  # ...the next worker on the host does
    runs = _runs(tmp_path)  # the chief's run only, continued, never a second one
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    steps = [r["step"] for r in read_jsonl(os.path.join(out, "metrics.jsonl")) if r["name"] == "train/loss"]
    assert sorted(set(steps)) == [1, 2]
    assert sorted(os.listdir(os.path.join(out, "checkpoints"))) == ["model"]
    # global batch 128 either way: two replicas of 64 give one process's weights (summation order aside)
    for a, b in zip(_weights(out), _weights(single), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    x = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(
        load_model(f"{out}/models/model")(x), load_model(f"{single}/models/model")(x), rtol=1e-4, atol=1e-4
    )


def test_slurm_job_step_gives_the_cluster(monkeypatch):
    """Without TF_CONFIG, a Slurm job step's variables give the cluster (TensorFlow's resolver):
    two tasks on one CPU node -> two workers at --cluster_port_base and +1, this task's index."""
    from robust_keras import distribute

    monkeypatch.delenv("TF_CONFIG", raising=False)
    for name, value in {
        "SLURM_PROCID": "1",
        "SLURM_STEP_NUM_TASKS": "2",
        "SLURM_STEP_NODELIST": "node[07]",
        "SLURM_STEP_TASKS_PER_NODE": "2",
    }.items():
        monkeypatch.setenv(name, value)
    resolver = distribute.cluster_resolver(port_base=23000)
    assert resolver.cluster_spec().as_dict() == {"worker": ["node07:23000", "node07:23001"]}
    assert (resolver.task_type, resolver.task_id) == ("worker", 1)
    monkeypatch.delenv("SLURM_STEP_NUM_TASKS")
    assert distribute.cluster_resolver(port_base=23000) is None
