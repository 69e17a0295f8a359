"""One run with params, metrics, an artifact and a child, and the MLflow layout it must leave:
shared by the SQLite-store test (unit) and the tracking-server test (e2e)."""

from conftest import read_jsonl
from mlflow.tracking import MlflowClient

from robust_keras.tracking.runs import open_run


def exercise(uri, run_dir):
    run = open_run(str(run_dir), uri, "robust_keras/test", "r1", {"experiment": "test", "git_sha": "abc"})
    run.log_params({"learning_rate": 0.1, "model": "cnn_mnist", "long": "x" * 7000})
    for epoch in (1, 2, 3):
        run.log_metrics({"train/accuracy": 0.1 * epoch, "val/accuracy": 0.05 * epoch}, step=epoch)
    (run_dir / "plots").mkdir(exist_ok=True)
    (run_dir / "plots" / "a.txt").write_text("hello")
    run.log_artifact(str(run_dir / "plots" / "a.txt"), "plots")
    child = run.child("source")
    child.log_metrics({"test/accuracy": 0.9}, step=1)
    child.finish()
    run.finish()
    return run, child


def check_layout(uri, run, child, run_dir):
    client = MlflowClient(tracking_uri=uri)
    data = client.get_run(run.run_id).data
    assert data.params["learning_rate"] == "0.1" and len(data.params["long"]) == 6000
    assert data.tags["git_sha"] == "abc" and data.tags["experiment"] == "test"
    experiment = client.get_experiment(client.get_run(run.run_id).info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"  # UI opens the runs list
    history = client.get_metric_history(run.run_id, "train/accuracy")
    assert [(m.step, round(m.value, 6)) for m in history] == [(1, 0.1), (2, 0.2), (3, 0.3)]
    assert [a.path for a in client.list_artifacts(run.run_id, "plots")] == ["plots/a.txt"]
    child_run = client.get_run(child.run_id)
    assert child_run.data.tags["mlflow.parentRunId"] == run.run_id
    assert child_run.data.metrics["test/accuracy"] == 0.9
    rows = read_jsonl(run_dir / "metrics.jsonl")
    assert {"run": "source", "step": 1, "name": "test/accuracy", "value": 0.9} in rows
    assert len([r for r in rows if r["run"] == "main"]) == 6
