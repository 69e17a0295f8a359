"""The train experiment streaming CIFAR-10 (prepared from a fake archive) from its tfds files on
two MultiWorkerMirroredStrategy workers on 127.0.0.1."""

import os

from conftest import finish_workers, read_jsonl, start_workers
from fake_cifar10 import prepared_cifar10


def test_train_streams_cifar10_on_two_workers(tmp_path):
    data_dir = prepared_cifar10(tmp_path / "cifar", per_file=40)  # 200 train, 40 test
    out = str(tmp_path / "run")
    args = [
        "--experiment=train",
        "--dataset=cifar10",
        f"--data_dir={data_dir}",
        "--notfds_download",
        "--max_in_memory_mb=0",
        "--model=two_layer",
        "--width=32",
        "--epochs=2",
        "--batch_size=32",
        "--learning_rate=0.05",
        "--val_fraction=0.1",
        f"--output_dir={out}",
        f"--mlflow_tracking_uri=sqlite:///{tmp_path}/m.db",
    ]
    for log in finish_workers(start_workers(args, tmp_path)):
        assert "streaming it" in log and "180 train (train[:180]), 20 val (train[180:200]), 40 test" in log
        assert "2 replicas in sync" in log and "training two_layer on 180 examples (streamed)" in log
    metrics = read_jsonl(os.path.join(out, "metrics.jsonl"))
    for name in ("train/accuracy", "val/accuracy", "test/accuracy"):
        assert {1, 2} <= {r["step"] for r in metrics if r["name"] == name}, name
    assert os.path.exists(os.path.join(out, "models", "model", "saved_model.pb"))
    assert sorted(os.listdir(os.path.join(out, "checkpoints"))) == ["model"]
