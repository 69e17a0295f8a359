"""``python -m robust_keras.pathway_table RUN_DIR...``: the robust-before-non-robust paper's Table 5.

Table 5 of the paper lists models that followed pathway 1 and how much each generalises through
non-robust features (accuracy on D) against robust ones (accuracy on D_shift), to show that which
of the two ends higher is no general rule. This command collects those rows from finished runs:

- ``d_det`` runs (e.g. the App. B flagfiles ``flags/d_det_*_pathway1.flags``): one row each, from
  ``summary.json`` (final accuracies and the pathway label) and ``flags.flags`` (the recipe);
- ``pathways`` grid runs: one row per finished cell, from ``grid.csv``.

Only pathway-1 models are listed unless ``--all``; ``--output`` also writes the table to a file.
Accuracies are the final epoch's, chance is 1/K.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys

from robust_keras.atomic_files import write_text
from robust_keras.tracking.record import read_flags

COLUMNS = (
    "run",
    "dataset",
    "model",
    "learning rate",
    "L2",
    "augment",
    "pathway",
    "accuracy on D (non-robust)",
    "accuracy on D_shift (robust)",
    "higher",
)


def _row(name: str, flags: dict, lr, wd, augment, pathway: str, clean: float, shift: float) -> dict:
    return {
        "run": name,
        "dataset": flags.get("dataset", "?"),
        "model": flags.get("model", "?"),
        "learning rate": f"{float(lr):g}",
        "L2": f"{float(wd):g}",
        "augment": "yes" if str(augment).lower() == "true" else "no",
        "pathway": pathway,
        "accuracy on D (non-robust)": f"{clean:.3f}",
        "accuracy on D_shift (robust)": f"{shift:.3f}",
        "higher": "non-robust" if clean > shift else "robust",
    }


def rows_of(run_dir: str) -> list[dict]:
    """Table rows of one finished d_det or pathways run; a one-line error names what is missing."""
    flags = read_flags(run_dir)
    name = os.path.basename(os.path.normpath(run_dir))
    experiment = flags.get("experiment")
    if experiment == "d_det":
        with open(os.path.join(run_dir, "summary.json")) as f:
            s = json.load(f)
        if "pathway" not in s:
            raise ValueError("its summary.json has no pathway label (written by an older version)")
        return [
            _row(
                name,
                flags,
                flags.get("learning_rate", "nan"),
                flags.get("weight_decay", "nan"),
                flags.get("augment", "false"),
                s["pathway"],
                s["clean/accuracy"],
                s["shift/accuracy"],
            )
        ]
    if experiment == "pathways":
        with open(os.path.join(run_dir, "grid.csv")) as f:
            cells = list(csv.DictReader(f))
        return [
            _row(
                f"{name}/{c['name']}",
                flags,
                c["learning_rate"],
                c["weight_decay"],
                c["augment"],
                c["pathway"],
                float(c["clean_accuracy"]),
                float(c["shift_accuracy"]),
            )
            for c in cells
        ]
    raise ValueError(f"a {experiment!r} run has no pathway; pass d_det or pathways run directories")


def markdown(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(r[c] for c in COLUMNS) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m robust_keras.pathway_table", description=__doc__.split("\n")[0])
    parser.add_argument("run_dirs", nargs="+", help="finished d_det or pathways run directories")
    parser.add_argument("--all", action="store_true", help="every model, not only pathway 1")
    parser.add_argument("--output", default="", help="also write the markdown table here")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    rows = []
    for run_dir in args.run_dirs:
        try:
            rows += rows_of(run_dir)
        except (OSError, KeyError, ValueError) as e:
            reason = f"missing {e}" if isinstance(e, KeyError) else str(e)
            print(f"error: {run_dir} is not a finished d_det or pathways run ({reason})", file=sys.stderr)
            return 1
    shown = rows if args.all else [r for r in rows if r["pathway"] == "1"]
    table = markdown(shown)
    if args.output:
        write_text(args.output, table)
    print(table, end="")
    print(f"{len(shown)} of {len(rows)} models" + ("" if args.all else " followed pathway 1"), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
