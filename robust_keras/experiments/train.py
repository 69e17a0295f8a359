"""Train one classifier on clean data and export it (e.g. targets for transfer attacks)."""

from __future__ import annotations

from robust_keras.config import Config
from robust_keras.data import transforms
from robust_keras.experiments import common
from robust_keras.tracking import Run
from robust_keras.training.evaluators import ClassificationEvaluator
from robust_keras.workflows import clean_stream


def run(config: Config, run: Run) -> dict:
    if _already_exported(run, "model"):
        return {}
    streams = clean_stream.open_streams(config)
    if streams is None:
        train, test = common.load_clean(config)
        return _train_in_memory(config, run, train, test, name="model", seed=config.seed)
    batch = config.eval_batch_size
    evaluators = [ClassificationEvaluator.of_dataset("test", streams.test.eval_dataset(batch))]
    if streams.val is not None:
        evaluators.insert(0, ClassificationEvaluator.of_dataset("val", streams.val.eval_dataset(batch)))
    examples = {"images": None, "labels": None, "streamed": streams.streamed_train()}
    return _train(config, run, examples, streams.train.num_classes, evaluators, name="model", seed=config.seed)


def train_and_export(config: Config, run: Run, train, test, *, name: str, seed: int) -> dict:
    """Trains ``config.model`` on ``train`` with the training flags (``--val_fraction`` held out)
    and exports it to ``models/<name>``; returns its test metrics ({} when an earlier run of the
    same directory already exported it)."""
    if _already_exported(run, name):
        return {}
    return _train_in_memory(config, run, train, test, name=name, seed=seed)


def _already_exported(run: Run, name: str) -> bool:
    if common.exported(run, name):
        print(f"[{name}] already exported in {run.run_dir}; nothing to do")
        return True
    return False


def _train_in_memory(config: Config, run: Run, train, test, *, name: str, seed: int) -> dict:
    tr, va = transforms.train_val_indices(len(train), config.val_fraction, common.derive_seed(seed, "val"))
    evaluators = [ClassificationEvaluator("test", test.images, test.labels, config.eval_batch_size)]
    if len(va):
        evaluators.insert(0, ClassificationEvaluator("val", train.images[va], train.labels[va], config.eval_batch_size))
    examples = {"images": train.images[tr], "labels": train.labels[tr]}
    return _train(config, run, examples, train.num_classes, evaluators, name=name, seed=seed)


def _train(config: Config, run: Run, examples: dict, num_classes: int, evaluators, *, name: str, seed: int) -> dict:
    """Trains on ``examples`` (common.train_model's images / labels / streamed), logs the last
    evaluator's (test) metrics, exports; returns those metrics."""
    trainer = common.train_model(
        config,
        run,
        name=name,
        num_classes=num_classes,
        recipe=common.Recipe.from_config(config),
        evaluators=evaluators,
        seed=common.derive_seed(seed, "model"),
        **examples,
    )
    final = dict(evaluators[-1].evaluate(trainer.predict))
    run.log_metrics(final)
    common.export(run, trainer, name, config, role="clean classifier")
    return final
