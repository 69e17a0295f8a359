"""Pathway grid end to end: one process vs one process per cell give the same summary; labels
reach MLflow as filterable tags; placement flags stay out of the parent's params and flagfile."""

import csv

import pytest
from conftest import check_figures, parse_project_flags, read_json, run_main
from mlflow.tracking import MlflowClient

from robust_keras.config import Config
from robust_keras.errors import ConfigError, DataError
from robust_keras.experiments import pathways

# 2 cells (lr 0.01, 0.1), smaller than the flagfile to keep the suite fast; D_det above a 0 MiB
# memory cap, so every cell trains streamed from the shards
FLAGS = (
    "--flagfile=flags/pathways_mnist_tiny.flags",
    "--grid_weight_decays=0",
    "--max_train_examples=1000",
    "--epochs=5",
    "--max_in_memory_mb=0",
)
EPOCHS = 5


def _run(out, *extra):
    proc = run_main(*FLAGS, *extra, f"--output_dir={out}", f"--mlflow_tracking_uri=sqlite:///{out}/m.db")
    assert proc.returncode == 0, proc.stderr[-3000:]
    check_figures(out)
    return proc


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    out = tmp_path_factory.mktemp("pathways_one")
    return out, _run(out)


def test_one_process_grid_labels_every_cell_in_mlflow(one_process):
    out, proc = one_process
    assert "summary of 2/2 finished cells" in proc.stdout
    assert proc.stdout.count("(streamed)") == 2 and "reading the streamed D_det's training images" in proc.stdout
    client = MlflowClient(tracking_uri=f"sqlite:///{out}/m.db")
    parent = client.get_run((out / "mlflow_run_id").read_text().strip())
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    cells = [c for c in children if c.data.tags["mlflow.runName"] != "source"]
    assert len(cells) == 2
    for cell in cells:
        label = cell.data.tags["pathway"]
        assert label in ("1", "2", "between") and 0.0 <= cell.data.metrics["pathway/score"] <= 1.0
        found = client.search_runs([parent.info.experiment_id], f"tags.pathway = '{label}'")
        assert cell.info.run_id in {r.info.run_id for r in found}
        history = client.get_metric_history(cell.info.run_id, "val/performance_correlation")
        assert [h.step for h in history] == list(range(1, EPOCHS + 1)) and all(h.value > 0 for h in history)
        assert cell.data.params["learning_rate"] in ("0.01", "0.1")
    assert parent.data.metrics["grid/cells_finished"] == 2
    rows = list(csv.DictReader((out / "grid.csv").open()))  # one column per metric, none overwriting another
    by_lr = {float(c.data.params["learning_rate"]): c.data.metrics for c in cells}
    for row in rows:
        metrics = by_lr[float(row["learning_rate"])]
        assert float(row["val_accuracy"]) == pytest.approx(metrics["val/accuracy"], abs=1e-4)
        assert float(row["val_performance_correlation"]) == pytest.approx(metrics[pathways.CORRELATION], abs=1e-4)
    table = (out / "grid.md").read_text()
    assert table.count("| no |") == 2 and (out / "plots" / "pathway_grid.png").stat().st_size > 20_000
    for cell_dir in (out / "cells").iterdir():
        result = read_json(cell_dir / "result.json")
        assert len(result["curves"]["shift/accuracy"]) == EPOCHS
        assert result["curves"]["shift/accuracy"][-1] > 0.2  # robust features learned from D_det (chance 0.1)


def test_cells_as_separate_processes_give_the_same_summary(one_process, tmp_path):
    out, _ = one_process
    split = tmp_path / "split"
    shared = (f"--dataset_dir={out}/d_det",)
    for i in (1, 0):  # any order, one process per cell; the D_det is complete, so no prepare stage
        proc = _run(split, *shared, "--grid_stage=cell", f"--grid_cell={i}")
        assert "summary" not in proc.stdout
    proc = _run(split, *shared, "--grid_stage=summary")
    assert "summary of 2/2 finished cells" in proc.stdout
    assert (split / "grid.csv").read_text() == (out / "grid.csv").read_text()
    flagfile = (split / "flags.flags").read_text()
    assert "--grid_cell" not in flagfile and "--grid_stage" not in flagfile
    client = MlflowClient(tracking_uri=f"sqlite:///{split}/m.db")
    runs = client.search_runs([client.get_experiment_by_name("robust_keras/pathways").experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1 and "grid_cell" not in parents[0].data.params
    assert len(runs) == 3  # the parent and one child per cell, none duplicated


def test_cell_before_prepare_is_refused(tmp_path):
    values = parse_project_flags(*FLAGS, "--grid_stage=cell", "--grid_cell=0", f"--dataset_dir={tmp_path}/none")
    with pytest.raises(DataError, match="--grid_stage=prepare first"):
        pathways.run(Config(values), run=None)  # before any model is trained


def test_cells_outside_the_grid_and_misplaced_cells_are_refused():
    values = {**parse_project_flags(*FLAGS), "grid_stage": "cell", "grid_cell": 5}
    with pytest.raises(ConfigError, match="pick 0..1"):
        pathways.run(Config(values), run=None)  # refused before any work or run-directory access
    with pytest.raises(ConfigError, match="only with --grid_stage=cell"):
        pathways.run(Config({**values, "grid_stage": "all", "grid_cell": 1}), run=None)
