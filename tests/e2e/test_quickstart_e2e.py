"""End to end: the README quickstart (D_det on the embedded MNIST sample), transfer between its
exported models, and the one-line errors a user meets. Runs the real binary in a subprocess."""

import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, check_figures, finish_workers, last_line, read_json, read_jsonl, run_main, start_workers
from fake_cinic10 import write_cinic
from mlflow.tracking import MlflowClient

from robust_keras import pathway_table
from robust_keras.data import adversarial_reader
from robust_keras.export import load_model

QUICKSTART = "--flagfile=flags/quickstart.flags"
# D_det on 400 digits in 4 shards, 5 attack steps, 1 epoch of N2, streamed (above a 0 MiB cap)
SMALL = ["--max_train_examples=400", "--shard_size=100", "--attack_steps=5", "--epochs=1", "--max_in_memory_mb=0"]


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory):
    out = tmp_path_factory.mktemp("quickstart")
    uri = f"sqlite:///{out}/mlflow.db"
    proc = run_main(QUICKSTART, f"--output_dir={out}", f"--mlflow_tracking_uri={uri}")
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert len(check_figures(out)) >= 2  # d_det_curves.png, d_det_examples.png
    return out, uri, proc


def test_quickstart_leaves_everything_a_user_needs(quickstart):
    out, uri, proc = quickstart
    assert "mlflow ui --backend-store-uri" in proc.stdout and "shard 4/4" in proc.stdout
    assert "[stage 1/3] source training finished in" in proc.stdout  # stages with an overall ETA
    assert "[stage 2/3] D_det generation finished in" in proc.stdout and "ETA of the rest" in proc.stdout
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("[run] wall time")]  # where the time went
    for stage in ("start-up", "MLflow store and run", "source training", "D_det generation", "N2 training", "rest"):
        assert f"{stage}" in line, line
    (attempt,) = read_json(out / "wall_time.json")
    total = float(line.split("wall time ")[1].split("s:")[0])
    assert abs(sum(attempt["seconds"].values()) - total) < 0.2 and attempt["seconds"]["D_det generation"] > 0
    flagfile = (out / "flags.flags").read_text()
    assert "--experiment=d_det" in flagfile and "--attack_eps=3.0" in flagfile
    assert "--test_tmpdir" not in flagfile and "pdb" not in flagfile  # the project's flags only
    rows = read_jsonl(out / "metrics.jsonl")
    assert {r["name"] for r in rows} >= {"train/accuracy", "val/accuracy", "clean/accuracy", "shift/accuracy"}
    for name in ("source", "d_det_model"):
        model = load_model(str(out / "models" / name), (28, 28, 1))
        assert model(np.zeros([3, 28, 28, 1], np.float32)).shape == (3, 10)
    data = adversarial_reader.load(str(out / "d_det"))
    assert len(data.labels) == 4000 and np.array_equal(data.labels, (data.orig_labels + 1) % 10)
    assert (out / "plots" / "d_det_curves.png").stat().st_size > 10_000


def test_quickstart_shows_the_paper_effect_in_mlflow(quickstart):
    out, uri, _ = quickstart
    client = MlflowClient(tracking_uri=uri)
    run_id = (out / "mlflow_run_id").read_text().strip()
    run = client.get_run(run_id)
    m = run.data.metrics
    assert m["source/clean_accuracy"] >= 0.9
    assert 0.3 < m["attack/target_success"] <= 1.0
    epochs = client.get_metric_history(run_id, "shift/accuracy")
    assert [h.step for h in epochs] == list(range(1, 9))
    # Robust features: N2 trained only on (x_adv, y+1) labels clean test images as y+1 far above chance.
    assert m["shift/accuracy"] > 0.3
    # The planted non-robust features generalise too: accuracy with true labels above chance (0.1).
    assert m["clean/accuracy"] > 0.12
    assert m["train/accuracy"] > 0.8 and m["val/accuracy"] > 0.5
    assert run.data.params["attack_norm"] == "l2" and run.data.tags["experiment"] == "d_det"
    # params: the flags d_det read (set or default), not every experiment's; placement as tags
    assert {"attack_steps", "learning_rate", "eval_batch_size", "pathway_high"} <= set(run.data.params)
    others = {k for k in run.data.params if k.startswith(("toy_", "fa_", "rd_", "ntk_", "grid_"))}
    assert others == set()  # (ntk_linearize_epoch is kernel_dynamics' hook, no longer read by the shared trainer)
    assert run.data.tags["placement.grid_stage"] == "all" and "grid_stage" not in run.data.params
    summary = read_json(out / "summary.json")  # the pathway label, for RB Table 5 (robust_keras.pathway_table)
    assert run.data.tags["pathway"] == summary["pathway"] and m["pathway/score"] == summary["pathway/score"]
    (row,) = pathway_table.rows_of(str(out))
    assert row["pathway"] == summary["pathway"] and row["accuracy on D_shift (robust)"] == f"{m['shift/accuracy']:.3f}"
    assert (row["dataset"], row["model"], row["augment"]) == ("mnist_sample", "cnn_mnist", "no")
    arts = {a.path for a in client.list_artifacts(run_id)}
    assert {"flags.flags", "metrics.jsonl", "models", "plots", "d_det"} <= arts
    children = client.search_runs([run.info.experiment_id], f"tags.mlflow.parentRunId = '{run_id}'")
    assert [c.data.tags["mlflow.runName"] for c in children] == ["source"]


def test_rerun_resumes_without_redoing_work(quickstart, tmp_path):
    out, uri, _ = quickstart
    checkpoint = next((out / "checkpoints" / "d_det_model").glob("ckpt-*.data-*"))
    checkpoint.write_bytes(checkpoint.read_bytes()[:100])  # truncated: the finished run must not need it
    proc = run_main(QUICKSTART, f"--output_dir={out}", f"--mlflow_tracking_uri={uri}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "finished earlier" in proc.stdout and "epoch 1/" not in proc.stdout  # nothing redone
    assert "attacking" not in proc.stdout
    assert len(read_json(out / "wall_time.json")) == 2  # every attempt's wall time is kept


def test_transfer_matrix_between_exported_models(quickstart, tmp_path):
    """Models named after their run directory; --transfer_train_seeds trains one more in the run
    (a self-contained transfer_example.flags) and puts it on both sides."""
    out, _, _ = quickstart
    src, n2 = str(out / "models" / "source"), str(out / "models" / "d_det_model")
    proc = run_main(
        "--experiment=transfer",
        f"--source_models={src}",
        f"--target_models={src},{n2}",
        "--transfer_train_seeds=3",
        "--epochs=1",
        "--transfer_examples=200",
        "--attack_norm=linf",
        "--attack_eps=0.3",
        "--attack_step_size=0.05",
        "--attack_steps=10",
        "--attack_target=none",
        f"--output_dir={tmp_path}",
        f"--mlflow_tracking_uri=sqlite:///{tmp_path}/mlflow.db",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    matrix = read_json(tmp_path / "transfer_matrix.json")
    run = out.name
    assert matrix["sources"] == [f"{run}.source", "seed_3"] and matrix["examples"] == 200
    assert matrix["targets"] == [f"{run}.source", f"{run}.d_det_model", "seed_3"]
    (white_box, transferred, _), (_, _, own) = matrix["error"]
    assert white_box > 0.8 and own > 0.8 and 0.0 <= transferred <= 1.0
    assert (tmp_path / "models" / "seed_3" / "saved_model.pb").exists()
    assert [os.path.basename(p) for p in check_figures(tmp_path)] == ["transfer_error.png"]


def _one_line_failure(proc, code, *needles):
    assert proc.returncode == code, (proc.returncode, proc.stderr[-2000:])
    line = last_line(proc.stderr)
    assert line.startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    for needle in needles:
        assert needle in line, line


def test_bad_flags_fail_with_one_line(tmp_path):
    _one_line_failure(run_main(QUICKSTART, "--epochs=-3"), 2, "--epochs")
    _one_line_failure(run_main(QUICKSTART, "--model=vgg"), 2, "--model")
    _one_line_failure(run_main(QUICKSTART, "--no_such_flag=1"), 2, "no_such_flag")
    _one_line_failure(run_main("--experiment=nope"), 2, "nope", "d_det")
    _one_line_failure(run_main("--flagfile=flags/missing.flags"), 2, "missing.flags")
    _one_line_failure(run_main(QUICKSTART, "--classes=3"), 2, "--classes")
    _one_line_failure(run_main(QUICKSTART, "--strategy=multi_worker", "--gen_stage=source"), 2, "drop --gen_stage")


def test_rerun_with_other_flags_fails_with_one_line(quickstart):
    out, uri, _ = quickstart
    changes = ("--epochs=3", "--seed=5", "--eval_batch_size=100")  # the last one left at its default before
    proc = run_main(QUICKSTART, f"--output_dir={out}", f"--mlflow_tracking_uri={uri}", *changes)
    expected = ("epochs 8 -> 3", "eval_batch_size 500 -> 100", "seed 0 -> 5", "new --output_dir")
    _one_line_failure(proc, 2, str(out), *expected)
    assert (out / "flags.flags").exists() and "--epochs=8" in (out / "flags.flags").read_text()  # untouched


def test_missing_dataset_fails_with_one_line(tmp_path):
    proc = run_main(
        QUICKSTART,
        "--dataset=cifar10",
        f"--data_dir={tmp_path}/tfds",
        "--notfds_download",
        f"--output_dir={tmp_path}/run",
        f"--mlflow_tracking_uri=sqlite:///{tmp_path}/m.db",
    )
    _one_line_failure(proc, 2, "cifar10", f"{tmp_path}/tfds", "prepare_data")
    assert not (tmp_path / "run").exists() and not (tmp_path / "m.db").exists()  # refused before the run


def test_truncated_shard_fails_with_one_line(quickstart, tmp_path):
    out, _, _ = quickstart
    shutil.copytree(out / "d_det", tmp_path / "d_det")
    shard = tmp_path / "d_det" / adversarial_reader.shard_name(1, 4)
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    proc = run_main(
        QUICKSTART,
        f"--dataset_dir={tmp_path}/d_det",
        f"--output_dir={tmp_path}/run",
        f"--mlflow_tracking_uri=sqlite:///{tmp_path}/m.db",
    )
    _one_line_failure(proc, 1, "corrupt", str(shard))


def test_savedmodel_with_wrong_input_shape_fails_with_one_line(quickstart, tmp_path):
    out, _, _ = quickstart
    write_cinic(tmp_path / "cinic", ("airplane", "cat", "ship"))
    proc = run_main(
        "--experiment=transfer",
        "--dataset=cinic10",
        f"--cinic10_dir={tmp_path}/cinic",
        f"--source_models={out}/models/source",
        f"--target_models={out}/models/source",
        f"--output_dir={tmp_path}/run",
        f"--mlflow_tracking_uri=sqlite:///{tmp_path}/m.db",
    )
    _one_line_failure(proc, 1, "expects inputs of shape (28, 28, 1)", "(32, 32, 3)")


def test_killed_generation_resumes_to_the_same_dataset(quickstart, split_generation, tmp_path):
    """A d_det run SIGKILLed while writing its 3rd shard (the temporary file half written), run
    again with the same command: only the missing shards are redone and the dataset is the same,
    byte for byte, as the split generation of the same settings (itself one process's dataset)."""
    out, _, _ = quickstart
    split_dir, _ = split_generation
    args = [
        QUICKSTART,
        *SMALL,
        f"--source_savedmodel={out}/models/source",
        f"--output_dir={tmp_path}/run",
        f"--mlflow_tracking_uri=sqlite:///{tmp_path}/m.db",
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ROOT, "ROBUST_KERAS_FAILPOINT": "mid_shard:3"}
    killed = subprocess.run([sys.executable, "-m", "robust_keras.main", *args], cwd=ROOT, env=env, capture_output=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    partial = read_json(tmp_path / "run" / "d_det" / "manifest.json")
    assert not partial["complete"] and len(partial["shards"]) == 2
    assert list((tmp_path / "run" / "d_det").glob("*.tmp"))  # the killed shard's temporary file
    again = run_main(*args)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resuming: 2/4 shards" in again.stdout and "shard 1/4" not in again.stdout  # only missing shards redone
    want = [s["sha256"] for s in read_json(split_dir / "run" / "d_det" / "manifest.json")["shards"]]
    assert [s["sha256"] for s in read_json(tmp_path / "run" / "d_det" / "manifest.json")["shards"]] == want
    assert not list((tmp_path / "run" / "d_det").glob("*.tmp*"))  # the finished dataset keeps no leftovers


def test_gpu_flags_run_on_cpu(tmp_path):
    """--mixed_precision, --jit_compile and --strategy=mirrored take the same code path on CPU."""
    proc = run_main(
        QUICKSTART,
        "--mixed_precision",
        "--jit_compile",
        "--strategy=mirrored",
        "--max_train_examples=300",
        "--source_epochs=1",
        "--epochs=1",
        "--attack_steps=3",
        "--shard_size=150",
        f"--output_dir={tmp_path}/run",
        f"--mlflow_tracking_uri=sqlite:///{tmp_path}/m.db",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    flat = tmp_path / "run" / "flags.flags"
    assert "--mixed_precision" in flat.read_text()
    assert (
        load_model(str(tmp_path / "run" / "models" / "d_det_model"))(np.zeros([2, 28, 28, 1], np.float32)).dtype
        == "float32"
    )


@pytest.fixture(scope="module")
def split_generation(quickstart, tmp_path_factory):
    """--gen_stage=source, then --gen_stage=shards in two processes at once (worker 0 and 1 of 2),
    then --gen_stage=merge (which goes on to train N2) on SMALL settings with the quickstart's source."""
    out, _, _ = quickstart
    tmp_path = tmp_path_factory.mktemp("split")
    common = [QUICKSTART, *SMALL, f"--output_dir={tmp_path}/run", f"--mlflow_tracking_uri=sqlite:///{tmp_path}/m.db"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ROOT}
    source = f"--source_savedmodel={out}/models/source"
    first = run_main(*common, source, "--gen_stage=source")  # the documented first step: source, run, store
    assert first.returncode == 0 and "source model ready" in first.stdout, first.stderr[-3000:]
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "robust_keras.main",
                *common,
                source,
                "--gen_stage=shards",
                "--gen_workers=2",
                f"--gen_worker={w}",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in (0, 1)
    ]
    for proc in workers:
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr[-3000:]
        assert "wrote its shards" in stdout and "--gen_stage=merge" in stdout
    assert not (tmp_path / "run" / "d_det" / "manifest.json").exists()  # only the parts so far
    merged = run_main(*common, source, "--gen_stage=merge", "--gen_workers=2")
    return tmp_path, merged


def test_generation_split_across_worker_processes_then_merged(split_generation, tmp_path):
    """The split-and-merge generation gives one verified D_det of every example (byte-identity with
    a one-process run is tested in test_adversarial_dataset), and the merge run goes on to train N2
    -- streamed from the shards, the dataset being above the memory cap the test sets
    (--max_in_memory_mb=0). Without a source model the shard stage says what to run first."""
    split_dir, merged = split_generation
    assert merged.returncode == 0, merged.stderr[-3000:]
    assert "merged 2 parts: 4 shards" in merged.stdout and "epoch 1/1" in merged.stdout
    assert "streaming it from its shards" in merged.stdout and "on 360 examples (streamed)" in merged.stdout
    n2_metrics = [r["name"] for r in read_jsonl(split_dir / "run" / "metrics.jsonl") if r.get("run") == "main"]
    assert {"train/accuracy", "val/accuracy", "clean/accuracy", "shift/accuracy"} <= set(n2_metrics)
    data = adversarial_reader.load(str(split_dir / "run" / "d_det"))  # verified: complete, every shard hash
    assert list(data.indices) == list(range(400)) and data.manifest["spec"]["source_model"]["path"].endswith("source")
    elsewhere = [f"--output_dir={tmp_path}/nosource", f"--mlflow_tracking_uri=sqlite:///{tmp_path}/n.db"]
    alone = run_main(QUICKSTART, *SMALL, *elsewhere, "--gen_stage=shards", "--gen_workers=2")
    _one_line_failure(alone, 1, "needs the source model", "--gen_stage=source")


def test_multi_worker_run_splits_generation_and_streams_its_shards(quickstart, split_generation, tmp_path):
    """Two MultiWorkerMirroredStrategy workers on 127.0.0.1 run the same d_det: each writes half of
    the shards into the chief's directory, the chief merges them -- the same bytes as the
    --gen_stage split (and so as one process) -- and N2 trains on both, each worker streaming its
    own shard files."""
    out, _, _ = quickstart
    split_dir, _ = split_generation
    args = [QUICKSTART, *SMALL, f"--source_savedmodel={out}/models/source", f"--output_dir={tmp_path}/run"]
    logs = finish_workers(start_workers([*args, f"--mlflow_tracking_uri=sqlite:///{tmp_path}/m.db"], tmp_path))
    for me, log in enumerate(logs):
        assert f"process {me} of 2: writing shards i with i mod 2 = {me}" in log and "2 replicas in sync" in log
        assert "on 360 examples (streamed)" in log and "epoch 1/1" in log
    assert "merged 2 parts: 4 shards" in logs[0] and "merged" not in logs[1]
    ours, theirs = tmp_path / "run" / "d_det", split_dir / "run" / "d_det"
    shards = sorted(p.name for p in theirs.glob("*.tfrecord*"))
    assert len(shards) == 4 and sorted(p.name for p in ours.glob("*.tfrecord*")) == shards
    for name in shards:
        assert (ours / name).read_bytes() == (theirs / name).read_bytes(), name
    metrics = read_jsonl(tmp_path / "run" / "metrics.jsonl")
    assert {"train/accuracy", "shift/accuracy"} <= {r["name"] for r in metrics if r.get("run") == "main"}
