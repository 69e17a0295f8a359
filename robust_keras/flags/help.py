"""``--help``: the project's flags grouped by concern, without absl's own (``--helpfull`` keeps those).

Groups come from where flags are defined (:mod:`robust_keras.flags`): each module's
``# -- <title> ---`` sections, or the module as one group titled by its docstring's first sentence.
``--help=<experiment>`` keeps the shared modules and the family modules whose ``READERS`` name
the experiment, and lists the flagfiles that run it.
"""

from __future__ import annotations

import glob
import inspect
import os
import re
import sys
import textwrap

from absl import flags

# a "# -- title ---" section comment, or a definition (its name may sit on the line after "DEFINE_x(")
_SECTION_OR_FLAG = re.compile(r'^# -- (.+?) -+$|DEFINE_[a-z_]+\(\s*"([a-z0-9_]+)"', re.M)


def groups(modules) -> list[tuple[str, list[str]]]:
    """(title, flag names in definition order) for each section of each flag module, in order."""
    out: list[tuple[str, list[str]]] = []
    for module in modules:
        source = inspect.getsource(module)
        doc = (module.__doc__ or module.__name__).strip().split("\n\n")[0].replace("\n", " ")
        title = doc.split(" (")[0].rstrip(".")
        out.append((title, []))
        for match in _SECTION_OR_FLAG.finditer(source):
            if match.group(1):
                out.append((match.group(1), []))
            else:
                out[-1][1].append(match.group(2))
    return [(title, names) for title, names in out if names]


FLAGFILES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "flags")


def flagfiles_of(experiment: str) -> list[str]:
    """The repository's flagfiles (flags/, flags/reproduce/) that run ``experiment``."""
    found = []
    paths = glob.glob(os.path.join(FLAGFILES, "*.flags")) + glob.glob(os.path.join(FLAGFILES, "*", "*.flags"))
    for path in sorted(paths):
        with open(path) as f:
            if re.search(rf"^--experiment={re.escape(experiment)}\s*$", f.read(), re.M):
                found.append(os.path.relpath(path, os.path.dirname(FLAGFILES)))
    return found


def render(modules, experiments, flag_values=flags.FLAGS, width: int = 100, only: str | None = None) -> str:
    """The help text: usage, the experiments, then every group's flags with default and help; with
    ``only`` an experiment name, the shared modules (no ``READERS``) and its own family's only."""
    if only:
        modules = [m for m in modules if only in getattr(m, "READERS", (only,))]
    lines = [
        "robust_keras: adversarial-robustness experiments in TensorFlow / Keras, logged to MLflow.",
        "",
        "usage: .venv/bin/python -m robust_keras.main --flagfile=flags/<name>.flags [--flag=value ...]",
        "       (a flag given after --flagfile overrides the file; README lists every flagfile)",
        "",
        *textwrap.wrap(
            "experiments (--experiment): " + ", ".join(sorted(experiments)) + "; and the tools prepare_data "
            "(tfds data from copied downloads) and sync_mlflow (replay a run directory to MLflow)",
            width,
            subsequent_indent="  ",
        ),
        "budgets eps are in pixel units of inputs scaled to [0, 1]; --helpfull also lists absl's own flags",
    ]
    if only:
        lines += [
            "",
            f"--experiment={only}: the shared flags, then its own (--help lists every experiment's).",
            *textwrap.wrap("flagfiles: " + ", ".join(flagfiles_of(only) or ["none"]), width, subsequent_indent="  "),
        ]
    for title, names in groups(modules):
        lines += ["", f"{title}:"]
        for name in names:
            flag = flag_values[name]
            default = (flag.default_as_str or "").strip("'\"") or "unset"
            lines.append(f"  --{name} (default {default})")
            lines += textwrap.wrap(flag.help, width, initial_indent="      ", subsequent_indent="      ")
    return "\n".join(lines) + "\n"


def print_and_exit(modules, experiments, only: str | None = None) -> None:
    sys.stdout.write(render(modules, experiments, only=only))
    sys.exit(0)
