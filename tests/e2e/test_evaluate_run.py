"""``--experiment=evaluate`` as a user runs it on a SavedModel: the summary row, per-example results
and MLflow metrics agree with each other; an interrupted evaluation resumes at the first missing
batch with the same results; a resume after the model changed under its path, or a run without a
model, is refused."""

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from robust_keras.config import Config
from robust_keras.errors import ConfigError
from robust_keras.experiments import evaluate
from tests.conftest import last_line, parse_project_flags, read_json, run_main

ATTACKS = ("apgd_ce", "apgd_t", "fab_t", "square")


@pytest.fixture(scope="module")
def savedmodel(tmp_path_factory):
    """A CNN trained for one epoch on the MNIST sample, exported as a SavedModel."""
    import keras

    from robust_keras.data import sources, transforms
    from robust_keras.export import export_model
    from robust_keras.models import build_model

    train, _ = sources.load_dataset("mnist_sample")
    model = build_model("cnn_mnist", (28, 28, 1), 10, mean=[0.13], std=[0.31], seed=0)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(keras.optimizers.SGD(0.05, momentum=0.9), loss)
    model.fit(transforms.to_float(train.images), train.labels, batch_size=128, epochs=1, verbose=0)
    return export_model(model, str(tmp_path_factory.mktemp("model") / "cnn"), {"model": "cnn_mnist"})


def _evaluate(savedmodel, out, *extra):
    return run_main(
        "--experiment=evaluate",
        "--dataset=mnist_sample",
        f"--evaluate_savedmodel={savedmodel}",
        "--attack_norm=linf",
        "--eval_eps=0.12",
        "--eval_version=custom",
        "--eval_steps=10",
        "--eval_queries=30",
        "--eval_target_classes=2",
        "--max_test_examples=60",
        "--eval_batch_size=30",
        f"--output_dir={out}",
        f"--mlflow_tracking_uri=sqlite:///{out}/m.db",
        *extra,
    )


def test_evaluate_reports_resumes_and_refuses(savedmodel, tmp_path):
    import shutil

    out, given = tmp_path / "run", tmp_path / "given"
    shutil.copytree(savedmodel, given)
    savedmodel = str(given)
    first = _evaluate(savedmodel, out)
    assert first.returncode == 0, first.stderr[-3000:]
    results = out / "evaluate" / "eps_0.12"
    per_example = dict(np.load(results / "per_example.npz"))
    robust = per_example["clean_correct"] & (per_example["broken_by"] == -1)
    (row,) = read_json(out / "summary.json")["rows"]
    assert row["robust_accuracy"] == pytest.approx(robust.mean()) and row["attacks"] == "+".join(ATTACKS)
    assert row["clean_accuracy"] > 0.5 and 0.0 < row["robust_accuracy"] < row["clean_accuracy"]
    # every clean-correct example is robust or broken by exactly one attack, the first that did
    broken = [int(np.sum(per_example["broken_by"] == i)) for i in range(len(ATTACKS))]
    assert sum(broken) + robust.sum() == per_example["clean_correct"].sum() and broken[0] > 0
    assert row["broken_by"] == dict(zip(ATTACKS, broken))
    md = (out / "summary.md").read_text()
    assert f"| cnn_mnist | mnist_sample test (60) | Linf | 0.12 | {100 * row['clean_accuracy']:.2f}% |" in md
    assert row["ensemble"] == "custom"  # 10 steps, 2 targets, 30 queries: not AutoAttack's settings
    client = MlflowClient(tracking_uri=f"sqlite:///{out}/m.db")
    run_id = (out / "mlflow_run_id").read_text().strip()
    logged = client.get_run(run_id).data
    metrics = logged.metrics
    assert logged.params["model_randomised"] == "False" and logged.params["eval_version"] == "custom"
    assert [a.path for a in client.list_artifacts(run_id, "plots")] == ["plots/robust_accuracy_vs_eps.png"]
    assert metrics["robust_accuracy/eps_0.12"] == pytest.approx(robust.mean())
    assert metrics["broken_by/apgd_ce/eps_0.12"] == pytest.approx(broken[0] / 60)
    # interrupted after the first batch: the rerun attacks only the second, with the same outcome
    (results / "batch_00001.npz").unlink()
    (results / "per_example.npz").unlink()
    again = _evaluate(savedmodel, out)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "batch 1/2 done, 30/60 examples" in again.stdout and "kept from earlier attempts" in again.stdout
    resumed = dict(np.load(results / "per_example.npz"))
    for key in per_example:
        np.testing.assert_array_equal(resumed[key], per_example[key])
    # the same command after the model at that path changed: refused, in one line naming the cause
    from robust_keras.export import export_model
    from robust_keras.models import build_model

    shutil.rmtree(given)
    export_model(build_model("cnn_mnist", (28, 28, 1), 10, mean=[0.13], std=[0.31], seed=1), savedmodel, {})
    other = _evaluate(savedmodel, out)
    assert other.returncode != 0
    assert "holds results of another evaluation (model_sha256: " in last_line(other.stderr)


def test_refuses_a_run_without_a_model_before_any_work():
    with pytest.raises(ConfigError, match="--evaluate_savedmodel"):
        evaluate.run(Config(parse_project_flags("--experiment=evaluate")), run=None)


def test_the_two_class_version_is_refused_for_a_ten_class_model_before_attacking(savedmodel, tmp_path):
    out = run_main(
        "--experiment=evaluate",
        "--dataset=mnist_sample",
        f"--evaluate_savedmodel={savedmodel}",
        "--eval_version=standard_two_class",
        "--max_test_examples=30",
        f"--output_dir={tmp_path / 'run'}",
        f"--mlflow_tracking_uri=sqlite:///{tmp_path}/m.db",
    )
    assert out.returncode != 0
    line = last_line(out.stderr)
    assert "standard_two_class is for two-class models; the model has 10 classes" in line, line
    assert "--eval_version=standard" in line and not (tmp_path / "run" / "evaluate").exists()
