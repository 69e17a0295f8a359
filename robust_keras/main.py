"""Entry point: ``python -m robust_keras.main --flagfile=flags/<experiment>.flags [--flag=value ...]``.

The only reader of ``FLAGS``: parses them (one-line error and exit 2 on bad values), builds a
:class:`Config`, opens the run directory and MLflow run, writes the reproducing flagfile, and
hands over to the experiment. User-fixable failures (:class:`RobustKerasError`) end with one
line on stderr and exit 1; the MLflow run is then marked FAILED.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import sys
import time

_STARTED = time.time()  # the wall-time line at the end counts from here (interpreter start-up is ~0.03 s)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep C++ start-up chatter out of progress output
# An unreachable tracking server must cost seconds, not MLflow's default ~4 minutes of retries:
# the run directory keeps everything and replays it when the server is back (tracking.py).
for _name, _value in (
    ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2"),
    ("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1"),
    ("MLFLOW_HTTP_REQUEST_TIMEOUT", "15"),
):
    os.environ.setdefault(_name, _value)

from absl import app, flags, logging  # noqa: E402

from robust_keras import config as config_lib  # noqa: E402
from robust_keras import flags as flag_registry  # noqa: E402  (defines every project flag)
from robust_keras import paths, progress  # noqa: E402
from robust_keras.atomic_files import write_json, write_text  # noqa: E402
from robust_keras.errors import RobustKerasError, StageFinished, first_line  # noqa: E402
from robust_keras.failures import describe_failure  # noqa: E402
from robust_keras.tracking_store import default_tracking_uri  # noqa: E402

FLAGS = flags.FLAGS
FLAG_MODULES = flag_registry.MODULES  # where the project's flags are defined, in --help's order


_HELP_FLAGS = ("--help", "-h", "--helpshort", "-?")  # --help=<experiment> shows one experiment's flags


def _shown(value: object, limit: int = 80) -> str:
    """``value`` as text, cut to ``limit`` characters with its full length noted."""
    text = str(value)
    return text if len(text) <= limit else f"{text[: limit - 20]}...({len(text)} chars)"


# --only_check_flags / --only_check_args: every check a run makes before its work (values, flags
# that fit together, inputs, output paths), then exit 0 -- nothing created, nothing trained.
_CHECK_ONLY_FLAGS = ("--only_check_flags", "--only_check_args", "--noonly_check_flags", "--noonly_check_args")
_CHECK_ONLY = False


def _fail(message: str, code: int) -> None:
    """One line on stderr and exit ``code``; any word longer than 300 characters (a pasted value,
    not a path) is shortened, so the line stays readable whatever the input."""
    message = re.sub(r"\S{301,}", lambda m: _shown(m.group(0)), message.replace("\n", " "))
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


def parse_flags(argv: list[str]) -> list[str]:
    """absl parsing with one-line errors (absl's own adds usage lines); also refuses recursive
    flagfiles and non-finite numbers. ``--help`` / ``-h`` print the project's flags by group."""
    global _CHECK_ONLY
    checks = [a for a in argv[1:] if a.split("=")[0] in _CHECK_ONLY_FLAGS]
    if checks:  # absl's versions check flag definitions (or nothing) and exit before the values are seen
        _CHECK_ONLY = checks[-1].split("=", 1)[-1].lower() not in ("false", "0") and "--no" not in checks[-1]
        argv = [a for a in argv if a not in checks]
    asked = [a.split("=", 1)[1] if "=" in a else "" for a in argv[1:] if a.split("=")[0] in _HELP_FLAGS]
    if asked:
        from robust_keras.experiment_names import NAMES
        from robust_keras.flags import help as help_text

        if asked[-1] and asked[-1] not in NAMES:
            _fail(f"--help={_shown(asked[-1])} is not an experiment -- pick one of {sorted(NAMES)}, or plain --help", 2)
        help_text.print_and_exit(FLAG_MODULES, NAMES, only=asked[-1] or None)
    _check_flagfiles([a.split("=", 1)[1] for a in argv[1:] if a.startswith("--flagfile=")], [])
    try:
        rest = FLAGS(argv)
    except (flags.Error, ValueError) as e:  # absl raises ValueError for e.g. --noaugment=1
        _fail(f"{str(e).splitlines()[0]} -- see --help for the project's flags and their units", 2)
    for flag in project_flags():
        if isinstance(flag.value, float) and not math.isfinite(flag.value):
            _fail(f"--{flag.name}={flag.value} is not a finite number -- pass a finite value", 2)
    return rest


def _check_flagfiles(paths: list[str], chain: list[str]) -> None:
    """Fails (exit 2) on a missing flagfile or one that includes itself, directly or through others."""
    for path in paths:
        real = os.path.realpath(path)
        if not os.path.isfile(real):
            where = f"included from {chain[-1]}" if chain else f"relative to {os.getcwd()}"
            _fail(f"flagfile {path} does not exist ({where}) -- run from the repository root or give its path", 2)
        if real in chain:
            _fail(f"flagfile {path} includes itself ({' -> '.join([*chain, real])}) -- remove the loop", 2)
        with open(real) as f:
            nested = [ln.strip().split("=", 1)[1] for ln in f if ln.strip().startswith("--flagfile=")]
        _check_flagfiles(nested, [*chain, real])


def project_flags() -> list[flags.Flag]:
    """Flags defined by the project (robust_keras/flags/)."""
    by_module = FLAGS.flags_by_module_dict()
    return [f for module, fs in by_module.items() if module.startswith("robust_keras") for f in fs]


def build_config() -> config_lib.Config:
    values = {f.name: f.value for f in project_flags()}
    if not values["output_dir"]:
        values["output_dir"] = os.path.join(
            "artifacts", "runs", f"{values['experiment']}-{time.strftime('%Y%m%d-%H%M%S')}"
        )
    values["output_dir"] = os.path.abspath(values["output_dir"])
    if not values["mlflow_tracking_uri"]:
        values["mlflow_tracking_uri"] = default_tracking_uri("artifacts")
    values["mlflow_experiment"] = values["mlflow_experiment"] or f"robust_keras/{values['experiment']}"
    values["run_name"] = values["run_name"] or os.path.basename(values["output_dir"])
    return config_lib.Config(values)


def _configure_tensorflow(config: config_lib.Config) -> None:
    import keras
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    if config.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")


def _write_flagfile(path: str) -> None:
    """The project's flags that reproduce the run (not absl's own, not the work-splitting ones of
    flags.NOT_IN_FLAGFILE), one per line, so the file reads as the experiment."""
    keep = {f.name for f in project_flags()} - flag_registry.NOT_IN_FLAGFILE
    lines = FLAGS.flags_into_string().splitlines(keepends=True)
    write_text(path, "".join(ln for ln in lines if _flag_name(ln) in keep))


def checked_config() -> config_lib.Config:
    """The run's Config after every check that needs neither data nor MLflow: a known experiment,
    flags that match an earlier run in the same --output_dir, output paths that can be created.
    Exits with one line (code 2) otherwise."""
    from robust_keras.experiment_names import LINF_ONLY, NAMES, SYNTHETIC_DATA, TARGETED_DATASET, TOOLS

    if FLAGS.experiment not in NAMES:  # before TensorFlow and MLflow are imported: instant
        known = sorted([*NAMES, *TOOLS])
        _fail(f"--experiment={_shown(FLAGS.experiment)} is not one of {known} -- pick one of those", 2)
    config = build_config()
    if config.experiment in TARGETED_DATASET and config.attack_target == "none":
        _fail(
            f"{config.experiment} builds D_det, which needs a targeted attack, not --attack_target=none -- "
            "use --attack_target=next (D_det) or random (D_rand)",
            2,
        )
    if config.experiment in LINF_ONLY and config.attack_norm != "linf":
        _fail(
            f"{config.experiment} attacks in l-inf only (FGSM / sign steps, NTK paper Eq. 8, 18-21), not "
            f"--attack_norm={config.attack_norm} -- pass --attack_norm=linf (the flagfiles do)",
            2,
        )
    from robust_keras.data.sources import check_inputs

    changed = _changed_flags(config.output_dir)
    if changed:  # a resume must continue the same experiment (and MLflow params are immutable)
        shown = ", ".join(f"{k} {old} -> {new}" for k, (old, new) in list(changed.items())[:4])
        more = f" and {len(changed) - 4} more" if len(changed) > 4 else ""
        _fail(
            f"--output_dir={config.output_dir} holds a run started with other flags ({shown}{more}) -- "
            "rerun with its flags.flags to resume, or pick a new --output_dir",
            2,
        )
    try:  # inputs and paths first: a typo must not leave a run behind or cost a trained source model
        if config.experiment not in SYNTHETIC_DATA:
            check_inputs(
                config.dataset,
                data_dir=config.data_dir,
                download=config.tfds_download,
                cinic10_dir=config.cinic10_dir,
                exclude_index_file=config.exclude_index_file,
            )
        create = not _CHECK_ONLY
        paths.ensure_dir("output_dir", config.output_dir, create)
        if config.dataset_dir:
            paths.ensure_dir("dataset_dir", config.dataset_dir, create)
        if config.mlflow_tracking_uri.startswith("sqlite:///"):
            store_dir = os.path.dirname(config.mlflow_tracking_uri[len("sqlite:///") :])
            paths.ensure_dir("mlflow_tracking_uri", store_dir, create)
    except RobustKerasError as e:
        _fail(str(e), 2)
    return config


def _changed_flags(run_dir: str) -> dict[str, tuple[str, str]]:
    """{flag: (value then, value now)} for every flag set differently from the run already in
    ``run_dir`` -- its flags.flags, written when it started, holds every project flag -- placement
    flags aside; {} for a new directory. Values as written on a command line."""
    path = os.path.join(run_dir, "flags.flags")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        then = {_flag_name(line): line.strip() for line in f if line.strip()}
    changed = {}
    for flag in project_flags():
        if flag.name in flag_registry.PLACEMENT_FLAGS or flag.name not in then:
            continue  # a flag this version added has no earlier value to differ from
        now = flag.serialize()
        if now != then[flag.name]:
            changed[flag.name] = tuple(v.split("=", 1)[1] if "=" in v else v for v in (then[flag.name], now))
    return dict(sorted(changed.items()))


def _flag_name(line: str) -> str:
    name = line.strip().lstrip("-").split("=")[0]
    return name[2:] if name.startswith("no") and name[2:] in FLAGS and FLAGS[name[2:]].boolean else name


def main(argv: list[str]) -> None:
    logging.set_verbosity(logging.WARNING)
    if len(argv) > 1:
        _fail(f"unexpected arguments {argv[1:]} -- pass options as --name=value", 2)
    if FLAGS.experiment == "sync_mlflow":
        _sync_mlflow()
        return
    if FLAGS.experiment == "prepare_data":
        _prepare_data()
        return
    config = checked_config()
    if _CHECK_ONLY:
        print(f"[check] the flags are valid for --experiment={config.experiment}; nothing was run", flush=True)
        return
    _configure_tensorflow(config)
    from robust_keras import distribute

    if config.strategy == "multi_worker":  # before any other TF work; non-chief workers write to scratch
        try:
            distribute.strategy(config.strategy, config.cluster_port_base)
        except (RuntimeError, ValueError) as e:
            _fail(f"{e} -- set TF_CONFIG on every worker, or run the workers as one Slurm job step (srun)", 2)
        config = config_lib.Config(distribute.redirect_worker(config.values))
        print(f"[run] multi-worker: {distribute.describe()}", flush=True)
    try:
        _run(config, chief=distribute.is_chief())
    finally:
        distribute.cleanup()


def _run(config: config_lib.Config, chief: bool) -> None:
    from robust_keras import tracking
    from robust_keras.environment import git_sha
    from robust_keras.experiments import EXPERIMENTS

    tags = {"experiment": config.experiment, "git_sha": git_sha(), "mlflow.source.name": "robust_keras.main"}
    tags.update({f"placement.{name}": str(config.values[name]) for name in sorted(flag_registry.PLACEMENT_FLAGS)})
    progress.record("start-up (imports, flags)", time.time() - _STARTED)
    mlflow_start = time.time()
    try:
        run = tracking.open_run(
            config.output_dir, config.mlflow_tracking_uri, config.mlflow_experiment, config.run_name, tags
        )
    except RobustKerasError as e:  # an unreachable server, an unusable SQLite file
        _fail(str(e), 1)
    except Exception as e:  # a bad URI, a locked database...
        _fail(
            f"cannot open MLflow run at {config.mlflow_tracking_uri} ({first_line(e)}) -- check --mlflow_tracking_uri",
            1,
        )
    flagfile = run.path("flags.flags")
    _write_flagfile(flagfile)
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
        _fail(str(e), 1)
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
        _fail(line, 1)
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


def _sync_mlflow() -> None:
    """``--experiment=sync_mlflow --output_dir=RUN [--mlflow_tracking_uri=URI]``: replays a run
    directory (main run, children, grid cells) to MLflow, idempotently."""
    from robust_keras import tracking

    run_dir = os.path.abspath(FLAGS.output_dir) if FLAGS.output_dir else ""
    if not run_dir or not os.path.exists(os.path.join(run_dir, tracking.INFO)):
        _fail(f"--output_dir={FLAGS.output_dir!r} is not a run directory -- pass the directory of the run to replay", 2)
    # without --mlflow_tracking_uri: the store the run was started in, never silently another one
    uri = FLAGS.mlflow_tracking_uri or tracking.home_tracking_uri(run_dir) or tracking.default_tracking_uri("artifacts")
    try:
        report = tracking.sync_run_dir(run_dir, uri)
    except RobustKerasError as e:
        _fail(str(e), 1)
    if report.in_step < report.total:
        _fail(
            f"{report.total - report.in_step} of {report.total} runs of {run_dir} could not reach {uri} -- "
            "retry when it is reachable",
            1,
        )
    if report.duplicates:
        shown = ", ".join(f"{label} {name} step {step} x{n}" for label, name, step, n in report.duplicates[:3])
        more = f" and {len(report.duplicates) - 3} more" if len(report.duplicates) > 3 else ""
        _fail(
            f"MLflow at {uri} holds metric values of {run_dir} more than once ({shown}{more}) -- the run directory "
            "is right: delete the affected MLflow runs (mlflow runs delete --run-id ID) and rerun this command, "
            "which recreates them from it",
            1,
        )
    print(f"[sync] {report.total} runs of {run_dir} are in step with {uri}", flush=True)


def _prepare_data() -> None:
    """``--experiment=prepare_data --dataset=cifar10|mnist --data_dir=D --prepare_from=PATH``:
    prepares a tfds dataset offline from copied downloads (data/prepare.py)."""
    from robust_keras.data.prepare import prepare

    if FLAGS.dataset not in ("mnist", "cifar10") or not FLAGS.data_dir or not FLAGS.prepare_from:
        _fail(
            "prepare_data needs --dataset=mnist|cifar10, --data_dir and --prepare_from -- e.g. --dataset=cifar10 "
            "--data_dir=~/tensorflow_datasets --prepare_from=cifar-10-binary.tar.gz",
            2,
        )
    try:
        path = prepare(FLAGS.dataset, os.path.expanduser(FLAGS.data_dir), os.path.expanduser(FLAGS.prepare_from))
    except RobustKerasError as e:
        _fail(str(e), 1)
    print(
        f"[prepare] {FLAGS.dataset} is ready in {path}; use it with "
        f"--dataset={FLAGS.dataset} --data_dir={FLAGS.data_dir}"
    )


def run_main() -> None:
    app.run(main, flags_parser=parse_flags)


if __name__ == "__main__":
    run_main()
