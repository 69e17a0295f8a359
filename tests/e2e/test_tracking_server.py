"""The MLflow layout against a real `mlflow server` on 127.0.0.1 (a process of its own)."""

from tracking_layout import check_layout, exercise


def test_real_mlflow_server(mlflow_server, tmp_path):
    run, child = exercise(mlflow_server.uri, tmp_path / "run")
    check_layout(mlflow_server.uri, run, child, tmp_path / "run")
    assert run.ui_hint(mlflow_server.uri).startswith(f"open {mlflow_server.uri}/#/experiments/")
