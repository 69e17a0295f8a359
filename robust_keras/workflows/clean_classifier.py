"""One classifier trained on clean data with the flags' recipe and exported as a SavedModel:
the ``train`` experiment's whole job, and the target models of ``transfer``. What it reads of
the flags is :class:`ClassifierSettings`."""

from __future__ import annotations

import dataclasses

from robust_keras.data import transforms
from robust_keras.seeds import derive_seed
from robust_keras.settings import CommonSettings, Provenance, Recipe, TrainingSettings
from robust_keras.tracking.mirror import Run
from robust_keras.training.evaluators import ClassificationEvaluator
from robust_keras.workflows import clean_data, exports, recipes


@dataclasses.dataclass(frozen=True)
class ClassifierSettings:
    """The recipe, training placement, shared settings and provenance of a clean classifier."""

    recipe: Recipe
    training: TrainingSettings
    common: CommonSettings
    provenance: Provenance

    @classmethod
    def of(cls, config) -> ClassifierSettings:
        return cls(config.recipe, config.training_settings, config.common_settings, config.provenance)


def train_streamed(
    settings: ClassifierSettings, run: Run, streams: clean_data.CleanStreams, *, name: str, seed: int
) -> dict:
    """Trains ``--model`` on the streamed task ``streams`` and exports it to ``models/<name>``;
    returns its test metrics ({} when an earlier run of the same directory already exported it)."""
    if already_exported(run, name):
        return {}
    batch = settings.common.eval_batch_size
    evaluators = [ClassificationEvaluator.of_dataset("test", streams.test.eval_dataset(batch))]
    if streams.val is not None:
        evaluators.insert(0, ClassificationEvaluator.of_dataset("val", streams.val.eval_dataset(batch)))
    examples = {"images": None, "labels": None, "streamed": streams.streamed_train()}
    return _train(settings, run, examples, streams.train.num_classes, evaluators, name=name, seed=seed)


def train_and_export(settings: ClassifierSettings, run: Run, train, test, *, name: str, seed: int) -> dict:
    """Trains ``--model`` on ``train`` with the flags' recipe (``--val_fraction`` held out)
    and exports it to ``models/<name>``; returns its test metrics ({} when an earlier run of the
    same directory already exported it)."""
    if already_exported(run, name):
        return {}
    batch = settings.common.eval_batch_size
    tr, va = transforms.train_val_indices(len(train), settings.common.val_fraction, derive_seed(seed, "val"))
    evaluators = [ClassificationEvaluator("test", test.images, test.labels, batch)]
    if len(va):
        evaluators.insert(0, ClassificationEvaluator("val", train.images[va], train.labels[va], batch))
    examples = {"images": train.images[tr], "labels": train.labels[tr]}
    return _train(settings, run, examples, train.num_classes, evaluators, name=name, seed=seed)


def already_exported(run: Run, name: str) -> bool:
    """True (and says so) when this run directory holds a complete export of ``name``."""
    if exports.exported(run, name):
        print(f"[{name}] already exported in {run.run_dir}; nothing to do")
        return True
    return False


def _train(
    settings: ClassifierSettings, run: Run, examples: dict, num_classes: int, evaluators, *, name: str, seed: int
) -> dict:
    """Trains on ``examples`` (recipes.train_model's images / labels / streamed), logs the last
    evaluator's (test) metrics, exports; returns those metrics."""
    trainer = recipes.train_model(
        settings.training,
        run,
        name=name,
        num_classes=num_classes,
        recipe=settings.recipe,
        evaluators=evaluators,
        seed=derive_seed(seed, "model"),
        **examples,
    )
    final = dict(evaluators[-1].evaluate(trainer.predict))
    run.log_metrics(final)
    exports.export(run, trainer, name, settings.provenance, role="clean classifier")
    return final
