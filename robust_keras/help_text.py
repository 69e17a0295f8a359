"""``--help``: the project's flags grouped by concern, without absl's own (``--helpfull`` keeps those).

Groups come from where flags are defined: ``config.py`` in its ``# -- <title> ---`` sections, each
experiment family's ``flags_*.py`` as one group titled by its docstring's first sentence.
"""

from __future__ import annotations

import inspect
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


def render(modules, experiments, flag_values=flags.FLAGS, width: int = 100) -> str:
    """The help text: usage, the experiments, then every group's flags with default and help."""
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
    for title, names in groups(modules):
        lines += ["", f"{title}:"]
        for name in names:
            flag = flag_values[name]
            default = (flag.default_as_str or "").strip("'\"") or "unset"
            lines.append(f"  --{name} (default {default})")
            lines += textwrap.wrap(flag.help, width, initial_indent="      ", subsequent_indent="      ")
    return "\n".join(lines) + "\n"


def print_and_exit(modules, experiments) -> None:
    sys.stdout.write(render(modules, experiments))
    sys.exit(0)
