"""Pathway grid (robust-before-non-robust Sec. 4, Fig. 1, App. C; docs/methods.md §A.3-A.5).

One D_det (generated from the flags, or ``--dataset_dir``) and N2 trained on it for every cell
of learning rate x L2 x augmentation x replicate (workflows/grid.py), each cell a child run with the
four curves and the performance correlation with a logistic regression per epoch. Each cell
gets a pathway label and score (analysis/pathways.py), as the MLflow tag ``pathway`` (filter
``tags.pathway = "2"``) and the metric ``pathway/score``.

``--grid_stage``: ``all`` (default) prepares D_det, trains every unfinished cell and writes the
summary; ``prepare`` makes source + D_det + logistic regression only; ``cell`` trains only
``--grid_cell`` (one cluster array task per cell, all attached to the same parent run);
``summary`` collects the cells finished so far: ``grid.csv`` (one row per cell), ``grid.md``
(one row per recipe, replicates averaged) and ``plots/pathway_grid.png`` (App. C).
"""

from __future__ import annotations

import csv
import dataclasses
import os

import numpy as np

from robust_keras import progress
from robust_keras.analysis import paper_figures, simple_classifier
from robust_keras.analysis.pathways import PathwayRule
from robust_keras.atomic_files import atomic_open
from robust_keras.config import Config
from robust_keras.data import adversarial_reader
from robust_keras.errors import ConfigError, DataError
from robust_keras.tracking.mirror import Run
from robust_keras.training.evaluators import PerformanceCorrelationEvaluator
from robust_keras.workflows import clean_data, d_det_training, exports, grid, pathway_labels
from robust_keras.workflows import d_det as workflow

CORRELATION = "val/performance_correlation"


@dataclasses.dataclass(frozen=True)
class GridSettings:
    """The grid's ``--grid_*`` flags (flags/robust_before.py) and the run's seed, read once; every
    stage reads all of them."""

    learning_rates: tuple[float, ...]
    weight_decays: tuple[float, ...]
    augment: tuple[bool, ...]
    replicates: int  # --grid_seeds: initialisations of each recipe from (--seed, r)
    stage: str  # --grid_stage: all | prepare | cell | summary
    cell: int  # --grid_cell: the cell of --grid_stage=cell (-1 otherwise)
    seed: int

    @classmethod
    def of(cls, config: Config) -> GridSettings:
        return cls(
            learning_rates=tuple(float(v) for v in config.grid_learning_rates),
            weight_decays=tuple(float(v) for v in config.grid_weight_decays),
            augment=tuple(v.lower() == "true" for v in config.grid_augment),
            replicates=config.grid_seeds,
            stage=config.grid_stage,
            cell=config.grid_cell,
            seed=config.seed,
        )


def run(config: Config, run: Run) -> dict:
    settings = GridSettings.of(config)
    cells = grid.cells(settings.learning_rates, settings.weight_decays, settings.augment, settings.replicates)
    rule = config.pathway_rule
    stage = settings.stage
    if stage == "cell" and not 0 <= settings.cell < len(cells):
        raise ConfigError(f"--grid_cell={settings.cell} is not a cell of this grid", f"pick 0..{len(cells) - 1}")
    if stage != "cell" and settings.cell != -1:
        raise ConfigError("--grid_cell selects a cell only with --grid_stage=cell", "add --grid_stage=cell")
    print(
        f"[grid] {len(cells)} cells: lr {list(settings.learning_rates)} x L2 {list(settings.weight_decays)} x augment "
        f"{list(settings.augment)} x {settings.replicates} replicate(s) at --seed={settings.seed}; stage {stage}"
    )
    if stage != "summary":
        todo = cells if stage == "all" else [cells[settings.cell]] if stage == "cell" else []
        _prepare_and_train(config, settings, run, todo, rule)
    if stage in ("all", "summary"):
        return _summarize(config, run, cells, rule)
    return {}


def _prepare_and_train(
    config: Config, settings: GridSettings, run: Run, todo: list[grid.Cell], rule: PathwayRule
) -> None:
    dataset_dir = config.dataset_dir or run.path("d_det")
    train, test = clean_data.load_clean(config.data_settings)
    if settings.stage == "cell" and not adversarial_reader.is_complete(
        dataset_dir, adversarial_reader.peek_manifest(dataset_dir)
    ):
        raise DataError(
            f"D_det in {dataset_dir} is not prepared", "run the same command with --grid_stage=prepare first"
        )
    cells = f"{len(todo)} grid cell{'s' if len(todo) != 1 else ''}"
    stage = workflow.DDetSettings.of(config)
    plan = workflow.stages(
        stage,
        train,
        test,
        then=(cells, len(todo) * progress.training_passes(config.epochs, len(train), 3 * len(test))),
    )
    data = workflow.ensure_dataset(stage, run, train, test, dataset_dir, plan, stream=True)
    tr, va = d_det_training.split_indices(config.common_settings, len(data.labels))
    simple = None  # (validation images, the simple classifier's predictions on them)
    if config.performance_correlation:
        val_images = data.read_images(va)  # read once (from the shards if streamed) for every cell
        simple = (val_images, _simple_predictions(config, settings.seed, run, data, tr, va, val_images))
    with plan.stage(cells):
        for cell in todo:
            if grid.read_result(run.run_dir, cell):
                print(f"[grid] cell {cell.name} already finished")
                continue
            _train_cell(config, run, cell, data, va, test, simple, rule)


def _simple_predictions(config: Config, seed: int, run: Run, data, tr, va, val_images: np.ndarray) -> np.ndarray:
    """Predictions L of the logistic regression on the D_det validation split (cached: every
    cell, in any process, compares with the same L)."""
    path = run.path("simple_classifier", "val_predictions.npy")
    if os.path.exists(path):
        return np.load(path)
    print(f"[simple] multinomial logistic regression on {len(tr)} D_det training images")
    if data.streamed:  # L-BFGS needs the training images at once: read for the fit, then dropped
        print("[simple] reading the streamed D_det's training images into memory for this fit")
    pred = simple_classifier.fit_predict(
        data.read_images(tr),
        data.labels[tr],
        val_images,
        max_iter=config.simple_classifier_iters,
        seed=seed,
    )
    with atomic_open(path, "wb") as f:
        np.save(f, pred)
    acc = float(np.mean(pred == data.labels[va]))
    run.log_metrics({"simple/val_accuracy": acc})
    print(f"[simple] validation accuracy {acc:.4f}")
    return pred


def _train_cell(config: Config, run: Run, cell: grid.Cell, data, va, test, simple, rule: PathwayRule) -> None:
    num_classes = data.manifest["spec"]["num_classes"]
    recipe = config.recipe.replace(
        learning_rate=cell.learning_rate, weight_decay=cell.weight_decay, augment=cell.augment
    )
    child = run.child(cell.name, run_dir=grid.cell_dir(run.run_dir, cell))
    child.log_params({**cell.params(), "model": config.model, "epochs": recipe.epochs, "batch_size": recipe.batch_size})
    evaluators = []
    if simple is not None:
        val_images, predictions = simple
        evaluators.append(
            PerformanceCorrelationEvaluator("val", val_images, data.labels[va], predictions, config.eval_batch_size)
        )
    trainer = d_det_training.train_on_d_det(
        config.training_settings,
        config.common_settings,
        child,
        data,
        test,
        name="n2",
        recipe=recipe,
        evaluators=evaluators,
        seed_purpose=f"n2-seed{cell.replicate}",  # replicate r's purpose string, unchanged since it was "seed r"
    )
    curves, verdict = d_det_training.label_pathway(
        child,
        num_classes,
        recipe,
        rule,
        figure="plots/curves.png",
        title=lambda v: f"{cell.describe()}: pathway {v.label} (score {v.score:.2f})",
        correlation=CORRELATION,
    )
    if not exports.exported(child, "n2"):
        exports.export(
            child, trainer, "n2", config.provenance, role="N2 of a pathway-grid cell", recipe=recipe.__dict__
        )
    result = {"cell": cell.params(), "name": cell.name, "num_classes": num_classes, "curves": curves}
    result["verdict"] = {"label": verdict.label, "score": verdict.score}
    grid.write_result(run.run_dir, cell, result)
    child.log_artifact(os.path.join(child.run_dir, grid.RESULT))
    child.finish()
    print(f"[grid] cell {cell.name}: pathway {verdict.label} (non-robust share {verdict.score:.2f})")


def _summarize(config: Config, run: Run, cells: list[grid.Cell], rule: PathwayRule) -> dict:
    finished = [(c, r) for c in cells if (r := grid.read_result(run.run_dir, c))]
    print(f"[grid] summary of {len(finished)}/{len(cells)} finished cells")
    if not finished:
        return {"cells_finished": 0}
    rows = [_cell_row(cell, result) for cell, result in finished]
    _write_csv(run.path("grid.csv"), rows)
    by_recipe = _by_recipe(finished, rule)
    _write_markdown(run.path("grid.md"), by_recipe, len(finished), len(cells))
    png = paper_figures.pathway_grid(
        run.path("plots", "pathway_grid.png"),
        by_recipe,
        chance=1.0 / finished[0][1]["num_classes"],
        title=f"Pathways of {config.model} on D_det ({config.dataset}): {len(finished)}/{len(cells)} cells",
    )
    for path in (run.path("grid.csv"), run.path("grid.md")):
        run.log_artifact(path)
    run.log_artifact(png, "plots")
    counts = {label: sum(r["pathway"] == label for r in rows) for label in ("1", "2", "between")}
    run.log_metrics({"grid/cells_finished": len(finished), **{f"grid/pathway_{k}": v for k, v in counts.items()}})
    with open(run.path("grid.md")) as f:
        print(f.read(), end="")
    return {"cells_finished": len(finished), "pathway_counts": counts, "cells": rows}


def _cell_row(cell: grid.Cell, result: dict) -> dict:
    curves = result["curves"]
    row = {"cell": cell.index, "name": cell.name, "learning_rate": cell.learning_rate}
    row.update({"weight_decay": cell.weight_decay, "augment": cell.augment, "replicate": cell.replicate})
    row["epochs"] = len(curves["train/accuracy"])
    # one column per curve, named after the whole metric (val/accuracy and val/performance_correlation
    # both start with "val"): train_accuracy, val_accuracy, clean_accuracy, shift_accuracy, ...
    row.update({name.replace("/", "_"): round(values[-1], 4) for name, values in curves.items() if values})
    row.update({"score": round(result["verdict"]["score"], 4), "pathway": result["verdict"]["label"]})
    return row


def _by_recipe(finished, rule: PathwayRule) -> list[dict]:
    """One entry per recipe: the replicates' curves stacked (epochs x replicates) and the label of their mean."""
    entries: dict[tuple, dict] = {}
    for cell, result in finished:
        entry = entries.setdefault(cell.recipe_key, {"cell": cell, "curves": {}, "num_classes": result["num_classes"]})
        for name, values in result["curves"].items():
            if values:  # (no performance correlation when it is switched off)
                entry["curves"].setdefault(name, []).append(values)
    for entry in entries.values():
        epochs = min(len(v) for runs in entry["curves"].values() for v in runs)
        entry["curves"] = {k: np.array([v[:epochs] for v in runs]).T for k, runs in entry["curves"].items()}
        mean = {k: v.mean(axis=1) for k, v in entry["curves"].items()}
        entry["verdict"] = pathway_labels.pathway_of(mean, entry["num_classes"], rule)
    return [entries[k] for k in sorted(entries)]


def _write_csv(path: str, rows: list[dict]) -> None:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with atomic_open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)


def _write_markdown(path: str, recipes: list[dict], finished: int, total: int) -> None:
    lines = [
        f"Pathway grid: {finished}/{total} cells finished; final-epoch accuracies, mean over replicates.",
        "",
        "| learning rate | L2 | augment | replicates | train | val | clean (D) | shift (D_shift) | score | pathway |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in recipes:
        c, v = r["cell"], r["verdict"]
        final = {k: float(a[-1].mean()) for k, a in r["curves"].items()}
        replicates = r["curves"]["train/accuracy"].shape[1]
        lines.append(
            f"| {c.learning_rate:g} | {c.weight_decay:g} | {'yes' if c.augment else 'no'} | {replicates} | "
            f"{final['train/accuracy']:.3f} | {final['val/accuracy']:.3f} | {final['clean/accuracy']:.3f} | "
            f"{final['shift/accuracy']:.3f} | {v.score:.2f} | {v.label} |"
        )
    with atomic_open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
