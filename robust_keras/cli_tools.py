"""The tools ``--experiment=sync_mlflow`` (replay a run directory to MLflow) and
``--experiment=prepare_data`` (tfds data from copied downloads), run by ``robust_keras.main``."""

from __future__ import annotations

import os

from robust_keras.cli_flags import FLAGS, fail
from robust_keras.errors import RobustKerasError


def sync_mlflow() -> None:
    """``--experiment=sync_mlflow --output_dir=RUN [--mlflow_tracking_uri=URI]``: replays a run
    directory (main run, children, grid cells) to MLflow, idempotently."""
    from robust_keras.tracking.record import INFO, home_tracking_uri
    from robust_keras.tracking.store import default_tracking_uri
    from robust_keras.tracking.sync import sync_run_dir

    run_dir = os.path.abspath(FLAGS.output_dir) if FLAGS.output_dir else ""
    if not run_dir or not os.path.exists(os.path.join(run_dir, INFO)):
        fail(f"--output_dir={FLAGS.output_dir!r} is not a run directory -- pass the directory of the run to replay", 2)
    # without --mlflow_tracking_uri: the store the run was started in, never silently another one
    uri = FLAGS.mlflow_tracking_uri or home_tracking_uri(run_dir) or default_tracking_uri("artifacts")
    try:
        report = sync_run_dir(run_dir, uri)
    except RobustKerasError as e:
        fail(str(e), 1)
    if report.in_step < report.total:
        fail(
            f"{report.total - report.in_step} of {report.total} runs of {run_dir} could not reach {uri} -- "
            "retry when it is reachable",
            1,
        )
    if report.duplicates:
        shown = ", ".join(f"{label} {name} step {step} x{n}" for label, name, step, n in report.duplicates[:3])
        more = f" and {len(report.duplicates) - 3} more" if len(report.duplicates) > 3 else ""
        fail(
            f"MLflow at {uri} holds metric values of {run_dir} more than once ({shown}{more}) -- the run directory "
            "is right: delete the affected MLflow runs (mlflow runs delete --run-id ID) and rerun this command, "
            "which recreates them from it",
            1,
        )
    print(f"[sync] {report.total} runs of {run_dir} are in step with {uri}", flush=True)


def prepare_data() -> None:
    """``--experiment=prepare_data --dataset=cifar10|mnist --data_dir=D --prepare_from=PATH``:
    prepares a tfds dataset offline from copied downloads; ``--dataset=cinic10
    --cinic10_dir=D --prepare_from=CINIC-10.tar.gz`` unpacks and checks CINIC-10 (data/prepare.py)."""
    from robust_keras.data.prepare import prepare, prepare_cinic10

    if FLAGS.dataset == "cinic10":
        if not FLAGS.cinic10_dir or not FLAGS.prepare_from:
            fail(
                "prepare_data for cinic10 needs --cinic10_dir (where to unpack) and --prepare_from (the copied "
                "CINIC-10.tar.gz) -- e.g. --cinic10_dir=~/data/cinic10 --prepare_from=CINIC-10.tar.gz",
                2,
            )
        try:
            prepare_cinic10(os.path.expanduser(FLAGS.prepare_from), os.path.expanduser(FLAGS.cinic10_dir))
        except RobustKerasError as e:
            fail(str(e), 1)
        return
    if FLAGS.dataset not in ("mnist", "cifar10") or not FLAGS.data_dir or not FLAGS.prepare_from:
        fail(
            "prepare_data needs --dataset=mnist|cifar10 (with --data_dir) or cinic10 (with --cinic10_dir), and "
            "--prepare_from -- e.g. --dataset=cifar10 --data_dir=~/tensorflow_datasets "
            "--prepare_from=cifar-10-binary.tar.gz",
            2,
        )
    try:
        path = prepare(FLAGS.dataset, os.path.expanduser(FLAGS.data_dir), os.path.expanduser(FLAGS.prepare_from))
    except RobustKerasError as e:
        fail(str(e), 1)
    print(
        f"[prepare] {FLAGS.dataset} is ready in {path}; use it with "
        f"--dataset={FLAGS.dataset} --data_dir={FLAGS.data_dir}"
    )
