"""MLflow layout against a real SQLite store (a real `mlflow server`: tests/e2e/test_tracking_server.py)."""

import os

from tracking_layout import check_layout, exercise

from robust_keras.tracking.runs import open_run


def test_sqlite_store(tmp_path):
    uri = f"sqlite:///{tmp_path}/db/mlflow.db"
    run, child = exercise(uri, tmp_path / "run")
    check_layout(uri, run, child, tmp_path / "run")
    assert os.path.isdir(tmp_path / "db" / "mlartifacts")  # artifacts beside the database, not in cwd
    # reopening the same run directory continues the same MLflow run (resume)
    again = open_run(str(tmp_path / "run"), uri, "robust_keras/test", "r1", {})
    assert again.run_id == run.run_id
    assert "mlflow ui --backend-store-uri" in again.ui_hint(uri)
