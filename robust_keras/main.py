"""Entry point: ``python -m robust_keras.main --flagfile=flags/<experiment>.flags [--flag=value ...]``.

With :mod:`robust_keras.cli_flags` and :mod:`robust_keras.cli_tools`, the only readers of
``FLAGS``: parses them (one-line error and exit 2 on bad values), builds a :class:`Config`, opens
the run directory and MLflow run, writes the reproducing flagfile, and hands over to the experiment
(or to a tool of :mod:`robust_keras.cli_tools`). User-fixable failures (:class:`RobustKerasError`)
end with one line on stderr and exit 1; the MLflow run is then marked FAILED.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time

_STARTED = time.time()  # the wall-time line at the end counts from here (interpreter start-up is ~0.03 s)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep C++ start-up chatter out of progress output
# An unreachable tracking server must cost seconds, not MLflow's default ~4 minutes of retries:
# the run directory keeps everything and replays it when the server is back (robust_keras/tracking/).
for _name, _value in (
    ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2"),
    ("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1"),
    ("MLFLOW_HTTP_REQUEST_TIMEOUT", "15"),
):
    os.environ.setdefault(_name, _value)

from absl import app, logging  # noqa: E402

from robust_keras import config as config_lib  # noqa: E402
from robust_keras import flags as flag_registry  # noqa: E402  (defines every project flag)
from robust_keras import progress  # noqa: E402
from robust_keras.atomic_files import write_json  # noqa: E402
from robust_keras.cli_flags import (  # noqa: E402
    FLAGS,
    check_only,
    checked_config,
    fail,
    parse_flags,
    project_flags,
    write_flagfile,
)
from robust_keras.cli_tools import prepare_data, sync_mlflow  # noqa: E402
from robust_keras.errors import RobustKerasError, StageFinished, first_line  # noqa: E402
from robust_keras.failures import describe_failure  # noqa: E402


def _configure_tensorflow(config: config_lib.Config) -> None:
    import tensorflow as tf

    from robust_keras import precision

    tf.config.experimental.enable_op_determinism()
    try:
        precision.set_policy(config.mixed_precision_dtype if config.mixed_precision else None)
    except ValueError as e:
        fail(str(e), 2)


def main(argv: list[str]) -> None:
    logging.set_verbosity(logging.WARNING)
    if len(argv) > 1:
        fail(f"unexpected arguments {argv[1:]} -- pass options as --name=value", 2)
    if FLAGS.experiment == "sync_mlflow":
        sync_mlflow()
        return
    if FLAGS.experiment == "prepare_data":
        prepare_data()
        return
    config = checked_config()
    if check_only():
        print(f"[check] the flags are valid for --experiment={config.experiment}; nothing was run", flush=True)
        return
    _configure_tensorflow(config)
    from robust_keras import distribute

    if config.strategy == "multi_worker":  # before any other TF work; non-chief workers write to scratch
        try:
            distribute.strategy(config.strategy, config.cluster_port_base)
        except (RuntimeError, ValueError) as e:
            fail(f"{e} -- set TF_CONFIG on every worker, or run the workers as one Slurm job step (srun)", 2)
        config = config_lib.Config(distribute.redirect_worker(config.values))
        print(f"[run] multi-worker: {distribute.describe()}", flush=True)
    try:
        _run(config, chief=distribute.is_chief())
    finally:
        distribute.cleanup()


def _run(config: config_lib.Config, chief: bool) -> None:
    from robust_keras.environment import git_sha
    from robust_keras.experiments import EXPERIMENTS
    from robust_keras.tracking.runs import open_run

    tags = {"experiment": config.experiment, "git_sha": git_sha(), "mlflow.source.name": "robust_keras.main"}
    tags.update({f"placement.{name}": str(config.values[name]) for name in sorted(flag_registry.PLACEMENT_FLAGS)})
    progress.record("start-up (imports, flags)", time.time() - _STARTED)
    mlflow_start = time.time()
    try:
        run = open_run(config.output_dir, config.mlflow_tracking_uri, config.mlflow_experiment, config.run_name, tags)
    except RobustKerasError as e:  # an unreachable server, an unusable SQLite file
        fail(str(e), 1)
    except Exception as e:  # a bad URI, a locked database...
        fail(
            f"cannot open MLflow run at {config.mlflow_tracking_uri} ({first_line(e)}) -- check --mlflow_tracking_uri",
            1,
        )
    flagfile = run.path("flags.flags")
    write_flagfile(flagfile)
    run.log_params(_params(config, set_only=True))  # what the user chose, visible while the run works
    run.log_artifact(flagfile)
    progress.record("MLflow store and run", time.time() - mlflow_start)
    print(f"[run] {config.experiment}: run directory {config.output_dir}", flush=True)
    try:
        EXPERIMENTS[config.experiment](config, run)
    except StageFinished as e:
        run.log_params(_params(config))
        run.finish()
        print(f"[run] {e}", flush=True)
        return
    except RobustKerasError as e:
        _mark_failed(run, config)
        fail(str(e), 1)
    except Exception as e:  # a full disk, memory running out, a lost cluster peer: one line
        _mark_failed(run, config)
        multi_worker = config.strategy == "multi_worker"
        line = describe_failure(e, multi_worker=multi_worker)
        if line is None:
            raise
        if multi_worker:  # the collective runtime is broken: tearing it down prints tracebacks or blocks
            print(f"error: {line}", file=sys.stderr, flush=True)
            sys.stdout.flush()
            os._exit(1)
        fail(line, 1)
    except BaseException:
        _mark_failed(run, config)
        raise
    run.log_params(_params(config))
    line, times = progress.wall_time_summary(time.time() - _STARTED)
    _record_wall_time(run, times)
    run.log_artifact(run.path("metrics.jsonl"))
    run.finish()
    print(f"[run] {line}", flush=True)
    _warn_unread(config.experiment)
    if not chief:
        print("[run] done as a non-chief worker: the chief's --output_dir and MLflow run hold the results", flush=True)
        return
    print(f"[run] done. Results in {config.output_dir}")
    print(f"[run] see it in the MLflow UI: {run.ui_hint(config.mlflow_tracking_uri)}", flush=True)


def _record_wall_time(run, times: dict[str, float]) -> None:
    """Appends this attempt's wall time by stage to ``wall_time.json`` (one entry per attempt: a
    resumed run keeps the earlier ones) and logs it as an artifact."""
    path = run.path("wall_time.json")
    attempts = []
    if os.path.exists(path):
        with open(path) as f, contextlib.suppress(ValueError):
            attempts = json.load(f)
    attempts.append({"finished": time.strftime("%Y-%m-%d %H:%M:%S"), "seconds": times})
    write_json(path, attempts)
    run.log_artifact(path)


# Flags every run reads outside Config or that name the run rather than change it.
_NOT_JUDGED = flag_registry.PLACEMENT_FLAGS | {"experiment", "output_dir", "mlflow_experiment", "run_name"}


def _warn_unread(experiment: str) -> None:
    """One line naming the flags set on the command line or in a flagfile that this run never
    read: they had no effect (a flag of another experiment, or one its other settings make moot)."""
    read = config_lib.read_names()
    unread = sorted(f.name for f in project_flags() if f.present and f.name not in read | _NOT_JUDGED)
    if unread:
        names = ", ".join(f"--{name}" for name in unread)
        print(f"[run] warning: {experiment} never read {names}: they had no effect on this run", flush=True)


def _params(config: config_lib.Config, set_only: bool = False) -> dict:
    """MLflow params: the flags this run read (its MLflow params table shows what the experiment
    depends on, not every flag of every experiment), or with ``set_only`` those set on the command
    line or in a flagfile; placement flags (where the work runs) are tags, not params."""
    names = {f.name for f in project_flags() if f.present} if set_only else config_lib.read_names()
    names = (names | {"experiment"}) - flag_registry.PLACEMENT_FLAGS
    return {name: config.values[name] for name in sorted(names) if name in config.values}


def _mark_failed(run, config: config_lib.Config) -> None:
    """Logs what the run read and marks it FAILED; on a full disk the ledger cannot take the
    entries, and the cause (not this) is what the user must see."""
    with contextlib.suppress(OSError):
        run.log_params(_params(config))
        run.finish("FAILED")


def run_main() -> None:
    app.run(main, flags_parser=parse_flags)


if __name__ == "__main__":
    run_main()
