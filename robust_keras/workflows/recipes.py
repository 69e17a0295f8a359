"""Training a model as the settings describe: the recipe (optimizer, schedule, weight decay,
augmentation), the distribution strategy, the architecture, in-memory or streamed examples,
optional adversarial training, per-epoch MLflow metrics and resumable checkpoints."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from robust_keras import distribute
from robust_keras.data import pipeline
from robust_keras.data.shard_stream import ShardStream
from robust_keras.data.transforms import channel_stats
from robust_keras.errors import ConfigError
from robust_keras.models import build_model
from robust_keras.seeds import derive_seed
from robust_keras.settings import AttackSettings, ComputeSettings, ModelSettings, Recipe, TrainingSettings
from robust_keras.tracking.mirror import Run
from robust_keras.training import loop, optim
from robust_keras.workflows.attack_builders import make_attack


@dataclasses.dataclass(frozen=True)
class Streamed:
    """Training examples read as a tf.data pipeline, never all in memory: rows of an adversarial
    dataset's shards (:meth:`of_shards`, data/shard_stream.py) or a clean tfds split
    (data/tfds_stream.py).

    Attributes:
      count: examples per epoch; image_shape: (H, W, C).
      channel_stats: () -> (per-channel mean, std) in [0, 1] units, one streamed pass.
      train_dataset: keyword arguments (batch_size, seed, epoch, augment, flip, shuffle_buffer,
        input_context) -> that pipeline's epoch of (float32 image, int64 label) batches.
    """

    count: int
    image_shape: tuple[int, int, int]
    channel_stats: Callable[[], tuple[list[float], list[float]]]
    train_dataset: Callable[..., tf.data.Dataset]

    @classmethod
    def of_shards(cls, stream: ShardStream, rows: np.ndarray) -> Streamed:
        """The ``rows`` (positions, int (n,)) of an adversarial dataset's shards."""
        return cls(
            len(rows),
            stream.shape,
            functools.partial(stream.channel_stats, rows),
            functools.partial(stream.train_dataset, rows),
        )


def training_examples(data, rows: np.ndarray | None = None) -> dict:
    """The ``images`` / ``labels`` / ``streamed`` arguments of :func:`train_model` for ``rows``
    (sorted positions; None: all) of an adversarial dataset: its arrays when it is in memory, its
    shards when it is streamed (``data.streamed``)."""
    if data.streamed:
        rows = np.arange(len(data)) if rows is None else rows
        return {"images": None, "labels": None, "streamed": Streamed.of_shards(data, rows)}
    if rows is None:
        return {"images": data.images, "labels": data.labels}
    return {"images": data.images[rows], "labels": data.labels[rows]}


@dataclasses.dataclass(frozen=True)
class ModelSwitch:
    """An experiment's hook into :func:`train_model`: after ``epoch`` epochs (0 <= epoch < the
    recipe's epochs) training goes on with ``replace(model)``, a new optimizer whose schedule
    continues, and its own checkpoints in ``<name><suffix>``; ``describe`` is printed at the switch."""

    epoch: int
    replace: Callable[[keras.Model], keras.Model]
    suffix: str
    describe: str


def make_strategy(compute: ComputeSettings) -> tf.distribute.Strategy:
    """The ``--strategy`` of this process (robust_keras/distribute.py)."""
    return distribute.strategy(compute.strategy, compute.cluster_port_base)


def train_model(
    training: TrainingSettings,
    run: Run,
    *,
    name: str,
    images: np.ndarray | None,
    labels: np.ndarray | None,
    num_classes: int,
    recipe: Recipe,
    evaluators=(),
    seed: int,
    stats_images: np.ndarray | None = None,
    adversary: AttackSettings | None = None,
    make_callbacks=None,
    architecture: str | None = None,
    streamed: Streamed | None = None,
    switch: ModelSwitch | None = None,
) -> loop.Trainer:
    """Builds ``architecture`` (default ``--model``) and trains it with ``recipe``; logs each
    epoch's metrics to ``run``. The examples are (``images``, ``labels``) in memory, or ``streamed``
    from an adversarial dataset's shards (then ``images`` and ``labels`` are None).

    Checkpoints go to ``<run_dir>/checkpoints/<name>``, so a re-run of the same command resumes.
    ``adversary``: train on untargeted attacks it describes (Madry et al.); None: on the examples.
    ``make_callbacks``: model -> list of (epoch, metrics) callables, made before training starts.
    ``switch``: an experiment's hook that replaces the model after ``switch.epoch`` epochs (e.g.
    kernel_dynamics' linearisation); the returned trainer then holds the replacement.
    """
    strategy = make_strategy(training.compute)
    if streamed is not None:
        if recipe.batch_size % strategy.num_replicas_in_sync:
            raise ConfigError(
                f"--batch_size={recipe.batch_size} does not split over the {strategy.num_replicas_in_sync} replicas "
                "(streamed input is batched per replica)",
                f"use a multiple of {strategy.num_replicas_in_sync}",
            )
        count, image_shape, stats = streamed.count, streamed.image_shape, streamed.channel_stats()
    else:
        count, image_shape = len(labels), images.shape[1:]
        stats = channel_stats(images if stats_images is None else stats_images)
    steps_per_epoch = -(-count // recipe.batch_size)
    with strategy.scope():
        model = build_configured_model(
            training.model, image_shape, stats, num_classes, seed=derive_seed(seed, "init"), architecture=architecture
        )
    trainer = _make_trainer(training, model, recipe, steps_per_epoch, strategy, seed, adversary)
    data_seed = derive_seed(seed, "data")
    flip = training.flip

    def train_data(epoch: int) -> tf.data.Dataset | loop.PerWorkerInput:
        if streamed is not None:  # each input pipeline (one per worker) reads its own part
            return lambda context: streamed.train_dataset(
                batch_size=context.get_per_replica_batch_size(recipe.batch_size),
                seed=data_seed,
                epoch=epoch,
                augment=recipe.augment,
                flip=flip,
                shuffle_buffer=training.shuffle_buffer,
                input_context=context,
            )
        return pipeline.train_dataset(
            images, labels, batch_size=recipe.batch_size, seed=data_seed, epoch=epoch, augment=recipe.augment, flip=flip
        )

    on_epoch_end = _epoch_end(run, make_callbacks(model) if make_callbacks else [])
    if switch is not None and not 0 <= switch.epoch < recipe.epochs:
        raise ValueError(f"switch after epoch {switch.epoch} is outside 0..{recipe.epochs - 1}")
    how = " (streamed)" if streamed is not None else ""
    shown = architecture or training.model.architecture
    print(f"[{name}] training {shown} on {count} examples{how} for {recipe.epochs} epochs")
    loop.fit(
        trainer,
        epochs=recipe.epochs if switch is None else switch.epoch,
        train_data=train_data,
        evaluators=evaluators,
        name=name,
        checkpoint_dir=loop.checkpoint_path(run.run_dir, name),
        on_epoch_end=on_epoch_end,
        on_resume=lambda epoch, metrics: run.log_metrics(metrics, epoch),
    )
    if switch is None:
        return trainer
    print(f"[{name}] {switch.describe}")
    with strategy.scope():
        replacement = switch.replace(model)
    trainer = _make_trainer(training, replacement, recipe, steps_per_epoch, strategy, seed, adversary)
    trainer.optimizer.iterations.assign(switch.epoch * steps_per_epoch)  # the schedule continues (a resume restores it)
    loop.fit(
        trainer,
        epochs=recipe.epochs,
        start_epoch=switch.epoch,
        train_data=train_data,
        evaluators=evaluators,
        name=f"{name}{switch.suffix}",
        checkpoint_dir=loop.checkpoint_path(run.run_dir, f"{name}{switch.suffix}"),
        on_epoch_end=on_epoch_end,
        on_resume=lambda epoch, metrics: run.log_metrics(metrics, epoch),
    )
    return trainer


def build_configured_model(
    options: ModelSettings, image_shape, stats, num_classes: int, *, seed: int, architecture=None
) -> keras.Model:
    """``architecture`` (default ``--model``) for (H, W, C) images with the architecture
    ``options`` (width, parameterisation, readout, bias), normalised by ``stats`` = (per-channel
    mean, std) in [0, 1] units (:func:`channel_stats`)."""
    mean, std = stats
    return build_model(
        architecture or options.architecture,
        image_shape,
        num_classes,
        mean=mean,
        std=std,
        width=options.width,
        parameterization=options.parameterization,
        train_second_layer=options.train_second_layer,
        use_bias=options.use_bias,
        seed=seed,
    )


def _make_trainer(
    training: TrainingSettings, model, recipe: Recipe, steps_per_epoch: int, strategy, seed: int, adversary
) -> loop.Trainer:
    """Trainer of ``model`` with the recipe's optimizer and schedule, and, given ``adversary``
    (AttackSettings), an untargeted attack on ``model`` itself seeded per (epoch, batch)."""
    with strategy.scope():
        schedule = optim.make_schedule(
            recipe.lr_schedule,
            recipe.learning_rate,
            steps_per_epoch=steps_per_epoch,
            epochs=recipe.epochs,
            boundaries=recipe.lr_boundaries,
            decay=recipe.lr_decay,
        )
        optimizer = optim.make_optimizer(
            recipe.optimizer,
            schedule,
            momentum=recipe.momentum,
            loss_scaling=training.mixed_precision == "float16",
        )
        attack_step = before_epoch = None
        if adversary is not None:
            attack = make_attack(adversary, model, targeted=False)
            attack_seed = derive_seed(seed, "adversarial_training")
            attack_step = lambda x, y, s: attack(x, y, (attack_seed, s[0] * 1_000_003 + s[1]))[0]  # noqa: E731
            if adversary.eps_ramp_epochs:
                before_epoch = functools.partial(_ramp, attack, adversary)
        return loop.Trainer(
            model,
            optimizer,
            weight_decay=recipe.weight_decay,
            jit_compile=training.jit_compile,
            strategy=strategy,
            adversary=attack_step,
            before_epoch=before_epoch,
        )


def _ramp(attack, adversary: AttackSettings, epoch: int) -> dict:
    """Sets the training attack's budget for 0-based ``epoch`` (``--attack_eps_ramp_epochs``)."""
    eps, step_size = adversary.budget_at(epoch)
    attack.set_budget(eps, step_size)
    return {"train/attack_eps": eps}


def _epoch_end(run: Run, callbacks):
    def on_epoch_end(epoch: int, metrics: dict) -> None:
        run.log_metrics(metrics, epoch)
        for callback in callbacks:
            callback(epoch, metrics)

    return on_epoch_end
