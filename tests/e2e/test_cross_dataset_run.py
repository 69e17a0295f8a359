"""cross_dataset end to end: the Table 2 matrix with CIFAR-10 exclusions, on mock tfds data."""

import numpy as np
import pytest
import tensorflow_datasets as tfds
from conftest import check_figures, read_json, run_main_with_mock_tfds
from fake_cinic10 import write_cinic

from robust_keras.data import sources

MOCK_EXAMPLES = 40


CLASSES = sources.CIFAR10_CLASSES


@pytest.fixture(scope="module")
def mock_cifar_test_ids():
    with tfds.testing.mock_data(num_examples=MOCK_EXAMPLES):
        _, test = sources.load_dataset("cifar10", download=False)
    return test.ids


def test_cross_dataset_table_with_exclusions(tmp_path, mock_cifar_test_ids):
    write_cinic(tmp_path / "cinic", CLASSES, splits=("train", "valid", "test"), per_class=6, from_cifar=2)
    drop = sorted({i for i in mock_cifar_test_ids if i == i.strip()})[:3]  # (mock ids may end in spaces)
    (tmp_path / "flickr.txt").write_text("# CIFAR-10 images to exclude\n" + "\n".join(drop) + "\n")
    out = tmp_path / "run"
    args = (
        "--flagfile=flags/cross_dataset_cinic10_tiny.flags",
        f"--cinic10_dir={tmp_path / 'cinic'}",
        f"--exclude_index_file={tmp_path / 'flickr.txt'}",
        "--tfds_download=false",
        "--attack_steps=2",
        "--max_in_memory_mb=0",  # N2 trains streamed from the shards
        f"--output_dir={out}",
        f"--mlflow_tracking_uri=sqlite:///{out}/m.db",
    )
    proc = run_main_with_mock_tfds(MOCK_EXAMPLES, *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = check_figures(out)  # the D_det examples grid and Table 2's heatmap
    assert any(path.endswith("plots/table2.png") for path in figures)
    summary = read_json(out / "summary.json")
    # CINIC-10: 6 per class, 2 of them CIFAR-10 images dropped -> 40 test images remain.
    expected_cifar = int(np.sum(~np.isin(mock_cifar_test_ids, drop)))
    assert summary["test_sizes"] == {"cinic10": 40, "cifar10": expected_cifar} and expected_cifar < MOCK_EXAMPLES
    models = [r["model"] for r in summary["rows"]]
    assert models == ["clean cinic10", "D_det cinic10"]
    for row in summary["rows"]:
        assert 0.0 <= row["cifar10"] <= 1.0 and 0.0 <= row["cinic10"] <= 1.0
    assert "cifar10_shifted" in summary["rows"][1]
    table = (out / "table2.md").read_text()
    assert f"cifar10 test (n={expected_cifar})" in table and "| D_det cinic10 |" in table
    assert "examples excluded" in proc.stdout and "(streamed)" in proc.stdout


def test_the_offline_stand_in_runs_on_a_fresh_machine(tmp_path):
    """flags/cross_dataset_tiny.flags needs nothing but what ships: the MNIST sample and its
    restyled copy mnist_sample_b as the second test set (here at a smaller size)."""
    from conftest import run_experiment

    out = tmp_path / "run"
    small = ("--max_train_examples=400", "--attack_steps=3", "--source_epochs=1", "--epochs=1")
    run_experiment("cross_dataset_tiny.flags", out, *small)
    summary = read_json(out / "summary.json")
    assert summary["test_sizes"] == {"mnist_sample": 1000, "mnist_sample_b": 1000}
    assert [r["model"] for r in summary["rows"]] == ["clean mnist_sample", "D_det mnist_sample"]
    assert "mnist_sample_b test (n=1000)" in (out / "table2.md").read_text()
