"""The command line of ``robust_keras.main``: parsing the flags (one line and exit 2 on bad values,
recursive flagfiles, non-finite numbers), ``--help``, the checks a run makes before any work,
the Config it builds, and the ``flags.flags`` that reproduces it. With main, the only reader of
``FLAGS``."""

from __future__ import annotations

import math
import os
import re
import sys
import time

from absl import flags

from robust_keras import config as config_lib
from robust_keras import flags as flag_registry  # defines every project flag
from robust_keras import paths, quiet_tensorflow
from robust_keras.atomic_files import write_text
from robust_keras.errors import RobustKerasError
from robust_keras.tracking.store import default_tracking_uri

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


def fail(message: str, code: int) -> None:
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
            fail(f"--help={_shown(asked[-1])} is not an experiment -- pick one of {sorted(NAMES)}, or plain --help", 2)
        help_text.print_and_exit(FLAG_MODULES, NAMES, only=asked[-1] or None)
    check_flagfiles([a.split("=", 1)[1] for a in argv[1:] if a.startswith("--flagfile=")], [])
    try:
        rest = FLAGS(argv)
    except (flags.Error, ValueError) as e:  # absl raises ValueError for e.g. --noaugment=1
        fail(f"{str(e).splitlines()[0]} -- see --help for the project's flags and their units", 2)
    for flag in project_flags():
        if isinstance(flag.value, float) and not math.isfinite(flag.value):
            fail(f"--{flag.name}={flag.value} is not a finite number -- pass a finite value", 2)
    return rest


def check_flagfiles(paths: list[str], chain: list[str]) -> None:
    """Fails (exit 2) on a missing flagfile or one that includes itself, directly or through others."""
    for path in paths:
        real = os.path.realpath(path)
        if not os.path.isfile(real):
            where = f"included from {chain[-1]}" if chain else f"relative to {os.getcwd()}"
            fail(f"flagfile {path} does not exist ({where}) -- run from the repository root or give its path", 2)
        if real in chain:
            fail(f"flagfile {path} includes itself ({' -> '.join([*chain, real])}) -- remove the loop", 2)
        with open(real) as f:
            nested = [ln.strip().split("=", 1)[1] for ln in f if ln.strip().startswith("--flagfile=")]
        check_flagfiles(nested, [*chain, real])


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


def write_flagfile(path: str) -> None:
    """The project's flags that reproduce the run (not absl's own, not the work-splitting ones of
    flags.NOT_IN_FLAGFILE), one per line, so the file reads as the experiment."""
    keep = {f.name for f in project_flags()} - flag_registry.NOT_IN_FLAGFILE
    lines = FLAGS.flags_into_string().splitlines(keepends=True)
    write_text(path, "".join(ln for ln in lines if flag_name(ln) in keep))


def checked_config() -> config_lib.Config:
    """The run's Config after every check that needs neither data nor MLflow: a known experiment,
    flags that match an earlier run in the same --output_dir, output paths that can be created.
    Exits with one line (code 2) otherwise."""
    from robust_keras.experiment_names import LINF_ONLY, NAMES, SYNTHETIC_DATA, TARGETED_DATASET, TOOLS

    if FLAGS.experiment not in NAMES:  # before TensorFlow and MLflow are imported: instant
        known = ", ".join(sorted([*NAMES, *TOOLS]))
        fail(f"--experiment={_shown(FLAGS.experiment)} is not a known experiment -- pick one of: {known}", 2)
    config = build_config()
    if config.experiment in TARGETED_DATASET and config.attack_target == "none":
        fail(
            f"{config.experiment} builds D_det, which needs a targeted attack, not --attack_target=none -- "
            "use --attack_target=next (D_det) or random (D_rand)",
            2,
        )
    if config.experiment in LINF_ONLY and config.attack_norm != "linf":
        fail(
            f"{config.experiment} attacks in l-inf only (FGSM / sign steps, NTK paper Eq. 8, 18-21), not "
            f"--attack_norm={config.attack_norm} -- pass --attack_norm=linf (the flagfiles do)",
            2,
        )
    quiet_tensorflow.import_tensorflow()  # from here on TensorFlow is needed (after the instant checks)
    from robust_keras.data.sources import check_inputs

    changed = changed_flags(config.output_dir)
    if changed:  # a resume must continue the same experiment (and MLflow params are immutable)
        shown = ", ".join(f"{k} {old} -> {new}" for k, (old, new) in list(changed.items())[:4])
        more = f" and {len(changed) - 4} more" if len(changed) > 4 else ""
        fail(
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
        fail(str(e), 2)
    return config


def changed_flags(run_dir: str) -> dict[str, tuple[str, str]]:
    """{flag: (value then, value now)} for every flag set differently from the run already in
    ``run_dir`` -- its flags.flags, written when it started, holds every project flag -- placement
    flags aside; {} for a new directory. Values as written on a command line."""
    path = os.path.join(run_dir, "flags.flags")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        then = {flag_name(line): line.strip() for line in f if line.strip()}
    changed = {}
    for flag in project_flags():
        if flag.name in flag_registry.PLACEMENT_FLAGS or flag.name not in then:
            continue  # a flag this version added has no earlier value to differ from
        now = flag.serialize()
        if now != then[flag.name]:
            changed[flag.name] = tuple(v.split("=", 1)[1] if "=" in v else v for v in (then[flag.name], now))
    return dict(sorted(changed.items()))


def flag_name(line: str) -> str:
    name = line.strip().lstrip("-").split("=")[0]
    return name[2:] if name.startswith("no") and name[2:] in FLAGS and FLAGS[name[2:]].boolean else name


def check_only() -> bool:
    """Whether ``--only_check_flags`` / ``--only_check_args`` asked for the checks alone."""
    return _CHECK_ONLY
