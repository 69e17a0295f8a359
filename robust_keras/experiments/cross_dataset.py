"""Cross-dataset transfer (robust-before-non-robust Sec. 6, Table 2; docs/methods.md §A.8).

On dataset A (``--dataset``, e.g. CIFAR-minus-Flickr = ``cifar10`` with ``--exclude_index_file``,
or ``cinic10`` with ``--cinic10_drop_cifar``): a clean model (the D_det source, ``--source_*``
recipe), D_det built on it, and N2 trained on D_det (``--model``, main recipe, four curves).
Both models are then evaluated on the test set of every dataset in ``--eval_datasets`` (same
exclusions applied). A model trained on D_det can only reach the original labels through
non-robust features (its robust features are tied to the shifted label), so its accuracy on
another dataset's test set measures non-robust features shared across datasets (paper: ~20%
vs 10% chance).

Outputs ``table2.csv`` / ``table2.md`` (rows: model, columns: test set; accuracy with true
labels, and for N2 also with shifted labels (y+1) mod K: ``<test set>_shifted``), the same numbers
as an annotated heatmap ``plots/table2.png``, and metrics ``cross/<model>/<column>``. Table 2 of
the paper is the union of the runs with A = CIFAR-minus-Flickr and A = CINIC-10.
"""

from __future__ import annotations

import csv

from robust_keras import progress
from robust_keras.analysis import plots
from robust_keras.atomic_files import atomic_open, write_json
from robust_keras.config import Config
from robust_keras.data import transforms
from robust_keras.errors import DataError
from robust_keras.export import load_model
from robust_keras.tracking.mirror import Run
from robust_keras.training.evaluators import accuracy
from robust_keras.workflows import clean_data, d_det_training, exports
from robust_keras.workflows import d_det as workflow


def run(config: Config, run: Run) -> dict:
    data_settings, batch = config.data_settings, config.common_settings.eval_batch_size
    dataset = data_settings.dataset
    train, test = clean_data.load_clean(data_settings)
    tests = {dataset: test}
    for name in config.eval_datasets:  # load (and check) every test set before the expensive work
        if name not in tests:
            other = clean_data.load_clean(data_settings, dataset=name)[1]
            if other.class_names != test.class_names or other.image_shape != test.image_shape:
                raise DataError(
                    f"{name} ({other.image_shape}, classes {other.class_names}) does not match {dataset} "
                    f"({test.image_shape}, classes {test.class_names})",
                    "evaluate on datasets with the same image size and classes in the same order",
                )
            tests[name] = other
    n2_work = progress.training_passes(config.recipe.epochs, len(train), 3 * len(test))
    stage = workflow.DDetSettings.of(config)
    plan = workflow.stages(stage, train, test, then=("N2 training", n2_work))
    directory = stage.generation.dataset_dir or run.path("d_det")
    data = workflow.ensure_dataset(stage, run, train, test, directory, plan, stream=True)
    num_classes = data.manifest["spec"]["num_classes"]
    name = "d_det_model"
    with plan.stage("N2 training"):
        trainer = d_det_training.train_on_d_det(
            config.training_settings, config.common_settings, run, data, test, name=name, recipe=config.recipe
        )
    if not exports.exported(run, name):
        exports.export(
            run, trainer, name, config.provenance, role="model trained on D_det", dataset_manifest=data.manifest["spec"]
        )
    clean = load_model(data.manifest["spec"]["source_model"]["path"], train.image_shape)
    models = {f"clean {dataset}": clean, f"D_det {dataset}": trainer.predict}
    rows = []
    for model_name, predict in models.items():
        row = {"model": model_name}
        for test_name, split in tests.items():
            x = transforms.to_float(split.images)
            row[test_name] = accuracy(predict, x, split.labels, batch)
            if model_name.startswith("D_det"):
                shifted = transforms.shifted_labels(split.labels, num_classes)
                row[f"{test_name}_shifted"] = accuracy(predict, x, shifted, batch)
        rows.append(row)
        key = "clean" if model_name.startswith("clean") else "d_det"
        run.log_metrics({f"cross/{key}/{k}": v for k, v in row.items() if k != "model"})
    _write_tables(run, rows, {k: len(v) for k, v in tests.items()})
    _plot_table(run, rows, list(tests), num_classes)
    summary = {"rows": rows, "test_sizes": {k: len(v) for k, v in tests.items()}}
    write_json(run.path("summary.json"), summary, sort_keys=False)
    run.log_artifact(run.path("summary.json"))
    return summary


def _write_tables(run: Run, rows: list[dict], sizes: dict[str, int]) -> None:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with atomic_open(run.path("table2.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)
    header = ["model"]
    for c in columns[1:]:
        test = c.removesuffix("_shifted")
        header.append(f"{test} test (n={sizes[test]})" + (", shifted labels" if c != test else ""))
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [row["model"], *(f"{row[c]:.3f}" if c in row else "" for c in columns[1:])]
        lines.append("| " + " | ".join(cells) + " |")
    with atomic_open(run.path("table2.md"), "w") as f:
        f.write("Accuracy of each model on each test set (Table 2; chance = 1/K).\n\n" + "\n".join(lines) + "\n")
    print("\n".join(lines))
    run.log_artifact(run.path("table2.csv"))
    run.log_artifact(run.path("table2.md"))


def _plot_table(run: Run, rows: list[dict], test_names: list[str], num_classes: int) -> None:
    """Table 2 as a heatmap: rows the clean model, the D_det model, and the D_det model read with
    the shifted labels; columns the test sets; cells accuracy."""
    shown, matrix = [], []
    for row in rows:
        shown.append(row["model"])
        matrix.append([row[name] for name in test_names])
        if f"{test_names[0]}_shifted" in row:
            shown.append(f"{row['model']}, shifted labels")
            matrix.append([row[f"{name}_shifted"] for name in test_names])
    png = plots.heatmap(
        run.path("plots", "table2.png"),
        matrix,
        rows=shown,
        cols=test_names,
        title=f"Table 2: accuracy (chance {1.0 / num_classes:.2f})",
        xlabel="test set",
        ylabel="model",
    )
    run.log_artifact(png, "plots")
