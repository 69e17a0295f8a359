"""Training a model on D_det (robust-before-non-robust Sec. 3-4; docs/methods.md §A.2): the fixed
train / val split, and what such a model reports each epoch -- :data:`FOUR_CURVES`: train / val
accuracy on D_det, ``clean`` (D_test with true labels: non-robust features) and ``shift``
(D_test with labels (y+1) mod K: robust features). The dataset itself: :mod:`robust_keras.workflows.d_det`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from robust_keras.analysis import paper_figures
from robust_keras.analysis.pathways import PathwayRule, PathwayVerdict
from robust_keras.data import transforms
from robust_keras.seeds import derive_seed
from robust_keras.settings import CommonSettings, Recipe, TrainingSettings
from robust_keras.tracking.mirror import Run
from robust_keras.training.evaluators import ClassificationEvaluator
from robust_keras.workflows import pathway_labels, recipes

FOUR_CURVES = ("train/accuracy", "val/accuracy", "clean/accuracy", "shift/accuracy")


def split_indices(common: CommonSettings, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The fixed (train, val) split of a D_det of n examples (same for every model trained on it)."""
    return transforms.train_val_indices(n, common.val_fraction, derive_seed(common.seed, "val"))


def four_curve_evaluators(batch: int, val_images, val_labels, test, num_classes: int) -> list:
    """Evaluators (``batch`` examples per call) of ``val/``, ``clean/`` (D_test, true labels) and
    ``shift/`` (labels (y+1) mod K)."""
    val = ClassificationEvaluator("val", val_images, val_labels, batch)
    return [val, *test_curve_evaluators(batch, test, num_classes)]


def test_curve_evaluators(batch: int, test, num_classes: int) -> list:
    """Evaluators (``batch`` examples per call) of ``clean/`` (D_test, true labels) and ``shift/``
    (labels (y+1) mod K)."""
    return [
        ClassificationEvaluator("clean", test.images, test.labels, batch),
        ClassificationEvaluator("shift", test.images, transforms.shifted_labels(test.labels, num_classes), batch),
    ]


def train_on_d_det(
    training: TrainingSettings,
    common: CommonSettings,
    run: Run,
    data,
    test,
    *,
    name: str,
    recipe: Recipe,
    evaluators=(),
    seed_purpose: str | None = None,
):
    """Trains ``--model`` with ``recipe`` on the fixed train split of ``data`` (in memory, or
    streamed from its shards) with the four curves (plus ``evaluators``) logged to ``run``
    each epoch; checkpoints under ``name``. Returns the trainer."""
    tr, va = split_indices(common, len(data.labels))
    num_classes, batch = data.manifest["spec"]["num_classes"], common.eval_batch_size
    examples = recipes.training_examples(data, tr)
    if data.streamed:
        val = ClassificationEvaluator.of_dataset("val", data.eval_dataset(va, batch))
        curves = [val, *test_curve_evaluators(batch, test, num_classes)]
    else:
        curves = four_curve_evaluators(batch, data.images[va], data.labels[va], test, num_classes)
    return recipes.train_model(
        training,
        run,
        name=name,
        num_classes=num_classes,
        recipe=recipe,
        evaluators=[*curves, *evaluators],
        seed=derive_seed(common.seed, seed_purpose or name),
        **examples,
    )


def curves(run: Run, names=FOUR_CURVES) -> dict[str, list[float]]:
    """Per-epoch values of ``names`` logged by ``run`` (read back from metrics.jsonl, so epochs
    logged before a resume are included)."""
    return {name: list(run.metric_history(name).values()) for name in names}


def label_pathway(
    run: Run,
    num_classes: int,
    recipe: Recipe,
    rule: PathwayRule,
    *,
    figure: str,
    title: Callable[[PathwayVerdict], str],
    correlation: str | None = None,
) -> tuple[dict[str, list[float]], PathwayVerdict]:
    """The pathway a model trained on D_det (by :func:`train_on_d_det`, logging to ``run``)
    followed (RB Sec. 4): its four curves (and the ``correlation`` metric's, if given) read back,
    the label as the run's ``pathway`` tag and its score as ``pathway/score`` at the last epoch,
    and the paper's Fig. 1 panel at ``figure`` (under the run directory) titled
    ``title(verdict)``. Returns (curves, verdict)."""
    curves_read = curves(run, (*FOUR_CURVES, correlation) if correlation else FOUR_CURVES)
    verdict = pathway_labels.pathway_of(curves_read, num_classes, rule)
    run.set_tags({"pathway": verdict.label})
    run.log_metrics({"pathway/score": verdict.score}, step=recipe.epochs)
    four = {k: v for k, v in curves_read.items() if k != correlation}
    extra = (curves_read[correlation],) if correlation else ()
    png = paper_figures.curves_with_correlation(
        run.path(*figure.split("/")), four, *extra, chance=1.0 / num_classes, title=title(verdict)
    )
    run.log_artifact(png, "plots")
    return curves_read, verdict
