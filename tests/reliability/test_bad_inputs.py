"""Corrupt datasets, conflicting flags, impossible tasks, diverging training and bad output paths:
each is refused with one line naming the cause and the fix, before work is wasted."""

import errno
import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import parse_project_flags

from robust_keras.config import Config
from robust_keras.data import adversarial, adversarial_reader
from robust_keras.errors import ConfigError, DataError, TrainingError
from robust_keras.paths import ensure_dir
from robust_keras.training import loop, optim
from robust_keras.workflows import attack_builders, clean_data
from robust_keras.workflows import d_det as workflow

QUICKSTART = "--flagfile=flags/quickstart.flags"


def _dataset(directory, spec, n=10, shape=(4, 4, 1)):
    rng = np.random.default_rng(0)
    adversarial.write_arrays(
        str(directory),
        images=rng.random((n, *shape), dtype=np.float32),
        labels=np.arange(n) % 3,
        orig_labels=(np.arange(n) + 2) % 3,
        indices=np.arange(n),
        target_hit=np.ones(n, bool),
        spec=spec,
        shard_size=3,
        log=lambda _: None,
    )
    return directory


def _one_line(error) -> str:
    text = str(error.value)
    assert "\n" not in text and " -- " in text
    return text


def test_manifest_proves_its_completeness(tmp_path):
    d = _dataset(tmp_path / "d", {"dataset": "toy"})
    manifest = json.loads((d / "manifest.json").read_text())
    manifest["shards"].pop(1)  # a shard entry removed: 75% of the data would look complete
    (d / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="lists 3 shards with 7 records, but 4 shards with 10 examples") as err:
        adversarial_reader.load(str(d))
    assert "shard-00001-of-00004.tfrecord missing" in _one_line(err)


def test_invalid_manifest_json_and_wrong_image_shape_are_one_line(tmp_path):
    d = _dataset(tmp_path / "json", {"dataset": "toy"})
    (d / "manifest.json").write_text('{"format": "robust_keras.adversarial/v1", "shards": [')
    with pytest.raises(DataError, match="not valid JSON") as err:
        adversarial_reader.load(str(d))
    _one_line(err)
    d = _dataset(tmp_path / "shape", {"dataset": "toy"})
    manifest = json.loads((d / "manifest.json").read_text())
    manifest["image_shape"] = [5, 5, 1]
    (d / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match=r"image_shape \[5, 5, 1\]") as err:
        adversarial_reader.load(str(d))
    _one_line(err)


def test_dataset_made_with_other_attack_flags_is_refused(tmp_path):
    made = Config(parse_project_flags(QUICKSTART))
    spec = {
        "dataset": "mnist_sample",
        "attack": attack_builders.attack_params(made.attack_settings, made.attack_target),
        "source_model": {"path": "x"},
    }
    d = _dataset(tmp_path / "d_det", spec)
    asked = Config(parse_project_flags(QUICKSTART, "--attack_eps=1.0", f"--dataset_dir={d}"))
    with pytest.raises(DataError, match=r"--attack_eps=3.0 \(flags: 1.0\)") as err:
        stage = workflow.DDetSettings.of(asked)
        workflow.ensure_dataset(stage, None, None, None, str(d))  # refused before any model is touched
    _one_line(err)


def test_a_dataset_dir_is_only_read_unless_dataset_write(tmp_path):
    """A user's --dataset_dir is never generated into or repaired silently; with --dataset_write an
    incomplete one is finished only by the model that started it."""
    empty = Config(parse_project_flags(QUICKSTART, f"--dataset_dir={tmp_path / 'empty'}"))
    with pytest.raises(DataError, match="holds no adversarial dataset .* pass --dataset_write") as err:
        stage = workflow.DDetSettings.of(empty)
        workflow.ensure_dataset(stage, None, None, None, str(tmp_path / "empty"))  # before any training
    _one_line(err)
    from robust_keras.export import export_model
    from robust_keras.models import build_model

    source = export_model(
        build_model("two_layer", (4, 4, 1), 3, mean=[0.5], std=[0.2], seed=0), str(tmp_path / "c"), {}
    )
    made = Config(parse_project_flags(QUICKSTART))
    spec = {
        "dataset": "mnist_sample",
        "attack": attack_builders.attack_params(made.attack_settings, made.attack_target),
        "source_model": {"path": source, "sha256": "0" * 64},  # the model that started it had other weights
    }
    d = _dataset(tmp_path / "d_det", spec)
    (d / "shard-00001-of-00004.tfrecord").unlink()
    read_only = Config(parse_project_flags(QUICKSTART, f"--dataset_dir={d}"))
    with pytest.raises(DataError, match=r"incomplete dataset \(shards missing: shard-00001-of-00004") as err:
        workflow.ensure_dataset(workflow.DDetSettings.of(read_only), None, None, None, str(d))
    _one_line(err)
    writable = Config(parse_project_flags(QUICKSTART, f"--dataset_dir={d}", "--dataset_write"))
    with pytest.raises(DataError, match="started with a source model that .* no longer is") as err:
        workflow.ensure_dataset(workflow.DDetSettings.of(writable), None, None, None, str(d))
    _one_line(err)


def test_robust_datasets_dataset_dir_is_only_read_unless_dataset_write(tmp_path):
    from robust_keras.workflows import robust_datasets

    config = Config(
        parse_project_flags("--flagfile=flags/robust_datasets_mnist_tiny.flags", f"--dataset_dir={tmp_path}")
    )
    with pytest.raises(DataError, match=r"d_r holds no adversarial dataset .* pass --dataset_write") as err:
        stage = robust_datasets.RobustDatasetSettings.of(config)
        robust_datasets.ensure_datasets(stage, None, None, None, None)  # before any model is trained
    _one_line(err)


def test_one_class_task_is_refused():
    config = Config(parse_project_flags(QUICKSTART, "--classes=1,0", "--binary_positive_classes=5"))
    with pytest.raises(DataError, match="one class only") as err:
        clean_data.load_clean(config.data_settings)
    _one_line(err)


def test_diverging_training_stops_before_its_checkpoint(tmp_path):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    trainer = loop.Trainer(model, optim.make_optimizer("sgd", 1e38))
    x = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32) * 1e3
    data = lambda epoch: tf.data.Dataset.from_tensor_slices((x, np.arange(32) % 3)).batch(8)  # noqa: E731
    with pytest.raises(TrainingError, match="training loss became") as err:
        loop.fit(trainer, epochs=3, train_data=data, checkpoint_dir=str(tmp_path / "ckpt"), log=lambda _: None)
    _one_line(err)
    assert tf.train.latest_checkpoint(str(tmp_path / "ckpt")) is None  # nothing non-finite was saved


def test_output_paths_are_checked_first(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="which is a file"):
        ensure_dir("output_dir", str(tmp_path / "file" / "run"))
    with pytest.raises(ConfigError, match="filesystem root"):
        ensure_dir("dataset_dir", "/robust_keras_nonexistent_top/x")
    assert ensure_dir("output_dir", str(tmp_path / "a" / "b")) == str(tmp_path / "a" / "b")


def test_full_disk_during_generation_keeps_finished_shards(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    images = rng.random((9, 4, 4, 1), dtype=np.float32)
    kwargs = dict(
        images=images,
        orig_labels=np.arange(9) % 3,
        targets=(np.arange(9) + 1) % 3,
        attack_fn=lambda x, t, s: (x, np.ones(len(x), bool)),
        spec={"dataset": "toy"},
        shard_size=3,
        batch_size=3,
        seed=0,
        log=lambda _: None,
    )
    monkeypatch.setenv("ROBUST_KERAS_FAILPOINT", "disk_full_on_shard:2")
    with pytest.raises(OSError) as err:
        adversarial.generate(str(tmp_path / "d"), **kwargs)
    assert err.value.errno == errno.ENOSPC
    first = (tmp_path / "d" / "shard-00000-of-00003.tfrecord").read_bytes()
    assert not json.loads((tmp_path / "d" / "manifest.json").read_text())["complete"]
    monkeypatch.delenv("ROBUST_KERAS_FAILPOINT")
    adversarial.generate(str(tmp_path / "d"), **kwargs)  # the same command after freeing space
    assert (tmp_path / "d" / "shard-00000-of-00003.tfrecord").read_bytes() == first
    assert len(adversarial_reader.load(str(tmp_path / "d")).labels) == 9


def test_unreachable_tracking_uri_fails_fast_with_one_line(tmp_path):
    import time

    from conftest import free_port, last_line, run_main

    start = time.time()
    proc = run_main(
        "--flagfile=flags/train_mnist_sample.flags",
        f"--output_dir={tmp_path}/run",
        f"--mlflow_tracking_uri=http://127.0.0.1:{free_port()}",
    )
    assert proc.returncode == 1 and last_line(proc.stderr).startswith("error: cannot reach MLflow at http://")
    assert len(last_line(proc.stderr)) < 300 and "training goes on" not in proc.stdout
    assert time.time() - start < 60  # MLflow's own retries would take ~4 minutes
    with pytest.raises(ConfigError, match="cannot be created"):
        ensure_dir("dataset_dir", "/proc/self/robust_keras_nonexistent")


def test_help_lists_the_project_flags_by_group_and_missing_inputs_leave_no_run(tmp_path, capsys):
    """--help: every project flag once, in a titled group, none of absl's own; a missing flagfile
    and unset CINIC-10 root end in one line with exit 2, before a run directory or MLflow store exists."""
    from conftest import last_line, run_main

    from robust_keras import cli_flags
    from robust_keras.flags import help as help_text

    listed = [name for _, names in help_text.groups(cli_flags.FLAG_MODULES) for name in names]
    assert sorted(listed) == sorted(f.name for f in cli_flags.project_flags())  # each exactly once
    text = help_text.render(cli_flags.FLAG_MODULES, ["d_det", "train"])
    assert "\n  --fa_init_scale (default 0.1)\n" in text and "data:\n" in text and "--test_tmpdir" not in text
    toy = help_text.render(cli_flags.FLAG_MODULES, ["d_det", "toy_linear"], only="toy_linear")  # --help=toy_linear
    assert "--toy_n (default 1000)" in toy and "--fa_init_scale" not in toy and "--ntk_batch" not in toy
    assert "flags/toy_linear_tiny.flags" in toy and "--seed (default 0)" in toy  # its flagfiles, the shared flags
    wrong = run_main("--help=toy")
    assert wrong.returncode == 2 and "--help=toy is not an experiment" in last_line(wrong.stderr)
    with pytest.raises(SystemExit) as exit_:
        cli_flags.check_flagfiles([str(tmp_path / "nope.flags")], [])
    assert exit_.value.code == 2
    assert "nope.flags does not exist" in capsys.readouterr().err
    proc = run_main(
        "--experiment=train",
        "--dataset=cinic10",
        f"--output_dir={tmp_path}/run",
        f"--mlflow_tracking_uri=sqlite:///{tmp_path}/m.db",
    )
    assert proc.returncode == 2 and "needs --cinic10_dir, which is unset" in last_line(proc.stderr)
    assert not (tmp_path / "run").exists() and not (tmp_path / "m.db").exists()


def test_unprepared_dataset_with_an_unreachable_download_host_fails_in_seconds(tmp_path):
    """Offline, tfds would retry its download for minutes before failing; the probe answers in
    seconds. The closed port stands in for the download host: it is the proxy the environment names."""
    import os
    import subprocess
    import sys
    import time

    from conftest import ROOT, free_port, last_line

    proxy = f"http://127.0.0.1:{free_port()}"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ROOT, "HTTPS_PROXY": proxy, "HTTP_PROXY": proxy}
    start = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "robust_keras.main", "--experiment=train", "--dataset=cifar10",
         f"--data_dir={tmp_path}/tfds", f"--output_dir={tmp_path}/run", f"--mlflow_tracking_uri=sqlite:///{tmp_path}/m.db"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    error = last_line(proc.stderr)
    assert proc.returncode == 2 and "download host 127.0.0.1:" in error and "cannot be reached" in error, error
    assert "--experiment=prepare_data" in error and not (tmp_path / "run").exists()
    assert time.time() - start < 90  # start-up and imports included; tfds' retries took 3 min 24 s
