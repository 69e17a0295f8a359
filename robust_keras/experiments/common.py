"""Wiring shared by experiments: data from config, models, training recipes, attacks, export."""

from __future__ import annotations

import dataclasses
import functools
import os
import zlib
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from robust_keras import distribute
from robust_keras.attacks import APGD, PGD, fgsm
from robust_keras.config import Config
from robust_keras.data import pipeline, sources, transforms
from robust_keras.data.shard_stream import ShardStream
from robust_keras.environment import git_sha
from robust_keras.errors import ConfigError, DataError
from robust_keras.export import export_model
from robust_keras.models import build_model
from robust_keras.ntk.linearized import LinearizedModel
from robust_keras.tracking import Run
from robust_keras.training import loop, optim


def derive_seed(root: int, purpose: str) -> int:
    """A seed for one purpose (data order, init, attack...) split deterministically from --seed."""
    return (root * 1_000_003 + zlib.crc32(purpose.encode())) % (2**31 - 1)


def load_clean(
    config: Config, relabel_binary: bool = True, dataset: str | None = None
) -> tuple[sources.Split, sources.Split]:
    """(train, test) clean splits as the flags ask: ``dataset`` (default ``--dataset``),
    ``--exclude_index_file`` (CIFAR-10) / ``--cinic10_drop_cifar`` removals, class subset (``--classes``),
    size limits, binary relabelling (``--binary_positive_classes``, unless ``relabel_binary`` is
    False)."""
    dataset = dataset or config.dataset
    train, test = sources.load_dataset(
        dataset,
        data_dir=config.data_dir,
        download=config.tfds_download,
        cinic10_dir=config.cinic10_dir,
        test_per_class=config.test_per_class,
    )
    before = len(train) + len(test)
    if config.exclude_index_file and dataset == "cifar10":
        train, test = sources.exclude(
            [train, test], sources.read_exclusion_file(config.exclude_index_file), config.exclude_index_file
        )
    if config.cinic10_drop_cifar and dataset == "cinic10":
        train, test = sources.cinic10_without_cifar(train), sources.cinic10_without_cifar(test)
    if len(train) + len(test) < before:
        removed = before - len(train) - len(test)
        print(f"[data] {dataset}: {removed} of {before} examples excluded; {len(train)} train, {len(test)} test remain")
    if config.classes:
        train, test = train.select_classes(config.classes), test.select_classes(config.classes)
    train, test = train.take(config.max_train_examples), test.take(config.max_test_examples)
    if config.binary_positive_classes and relabel_binary:
        positive = [int(c) for c in config.binary_positive_classes]
        names = ("negative", "positive")
        train = dataclasses.replace(train, labels=transforms.binary_labels(train.labels, positive), class_names=names)
        test = dataclasses.replace(test, labels=transforms.binary_labels(test.labels, positive), class_names=names)
    if len(np.unique(train.labels)) < 2:
        raise DataError(
            f"the task built from {dataset} has one class only ({len(train)} training examples)",
            "check --classes / --binary_positive_classes: the positive classes are indices after --classes relabels",
        )
    return train, test


def channel_stats(images: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of images in [0, 1] units (for the model's normalisation layer)."""
    x = images.astype(np.float64) / (255.0 if images.dtype == np.uint8 else 1.0)
    axes = tuple(range(x.ndim - 1))
    return x.mean(axis=axes).tolist(), np.maximum(x.std(axis=axes), 1e-3).tolist()


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


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How one model is trained (docs/methods.md §A: the pathway knobs are lr, weight_decay, augment)."""

    epochs: int
    learning_rate: float
    weight_decay: float
    augment: bool
    optimizer: str
    momentum: float
    lr_schedule: str
    lr_boundaries: tuple[float, ...]
    lr_decay: float
    batch_size: int

    @classmethod
    def from_config(cls, config: Config) -> Recipe:
        return cls(
            config.epochs,
            config.learning_rate,
            config.weight_decay,
            config.augment,
            config.optimizer,
            config.momentum,
            config.lr_schedule,
            tuple(float(b) for b in config.lr_boundaries),
            config.lr_decay,
            config.batch_size,
        )

    def replace(self, **changes) -> Recipe:
        return dataclasses.replace(self, **changes)


def make_strategy(config: Config) -> tf.distribute.Strategy:
    """The ``--strategy`` of this process (robust_keras/distribute.py)."""
    return distribute.strategy(config.strategy, config.cluster_port_base)


def train_model(
    config: Config,
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
    adversarial: bool = False,
    make_callbacks=None,
    architecture: str | None = None,
    streamed: Streamed | None = None,
) -> loop.Trainer:
    """Builds ``architecture`` (default ``config.model``) and trains it with ``recipe``; logs each
    epoch's metrics to ``run``. The examples are (``images``, ``labels``) in memory, or ``streamed``
    from an adversarial dataset's shards (then ``images`` and ``labels`` are None).

    Checkpoints go to ``<run_dir>/checkpoints/<name>``, so a re-run of the same command resumes.
    ``adversarial``: train on untargeted attacks built from the --attack* flags (Madry et al.).
    ``make_callbacks``: model -> list of (epoch, metrics) callables, made before training starts.
    ``--ntk_linearize_epoch=e`` (App. E.1): after e epochs the model is replaced by its
    linearization at theta_e, trained for the remaining epochs (attacks computed on it; its own
    checkpoints in ``<name>_linearized``); the returned trainer then holds the LinearizedModel.
    """
    strategy = make_strategy(config)
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
        model = build_flags_model(
            config, image_shape, stats, num_classes, seed=derive_seed(seed, "init"), architecture=architecture
        )
    trainer = _make_trainer(config, model, recipe, steps_per_epoch, strategy, seed, adversarial)
    data_seed = derive_seed(seed, "data")
    flip = config.augment_flip and config.dataset not in ("mnist", "mnist_sample")

    def train_data(epoch: int) -> tf.data.Dataset | loop.PerWorkerInput:
        if streamed is not None:  # each input pipeline (one per worker) reads its own part
            return lambda context: streamed.train_dataset(
                batch_size=context.get_per_replica_batch_size(recipe.batch_size),
                seed=data_seed,
                epoch=epoch,
                augment=recipe.augment,
                flip=flip,
                shuffle_buffer=config.shuffle_buffer,
                input_context=context,
            )
        return pipeline.train_dataset(
            images, labels, batch_size=recipe.batch_size, seed=data_seed, epoch=epoch, augment=recipe.augment, flip=flip
        )

    on_epoch_end = _epoch_end(run, make_callbacks(model) if make_callbacks else [])
    linearize = config.ntk_linearize_epoch if 0 <= config.ntk_linearize_epoch < recipe.epochs else None
    if linearize is None and config.ntk_linearize_epoch >= recipe.epochs:
        print(f"[{name}] --ntk_linearize_epoch={config.ntk_linearize_epoch} >= {recipe.epochs} epochs: not linearized")
    how = " (streamed)" if streamed is not None else ""
    print(f"[{name}] training {architecture or config.model} on {count} examples{how} for {recipe.epochs} epochs")
    loop.fit(
        trainer,
        epochs=recipe.epochs if linearize is None else linearize,
        train_data=train_data,
        evaluators=evaluators,
        name=name,
        checkpoint_dir=loop.checkpoint_path(run.run_dir, name),
        on_epoch_end=on_epoch_end,
        on_resume=lambda epoch, metrics: run.log_metrics(metrics, epoch),
    )
    if linearize is None:
        return trainer
    print(f"[{name}] linearized at epoch {linearize}: training f(x; theta_e) + J(x; theta_e) delta from here")
    with strategy.scope():
        linear = LinearizedModel(model)
    trainer = _make_trainer(config, linear, recipe, steps_per_epoch, strategy, seed, adversarial)
    trainer.optimizer.iterations.assign(linearize * steps_per_epoch)  # the schedule continues (a resume restores it)
    loop.fit(
        trainer,
        epochs=recipe.epochs,
        start_epoch=linearize,
        train_data=train_data,
        evaluators=evaluators,
        name=f"{name}_linearized",
        checkpoint_dir=loop.checkpoint_path(run.run_dir, f"{name}_linearized"),
        on_epoch_end=on_epoch_end,
        on_resume=lambda epoch, metrics: run.log_metrics(metrics, epoch),
    )
    return trainer


def build_flags_model(config: Config, image_shape, stats, num_classes: int, *, seed: int, architecture=None):
    """``architecture`` (default ``--model``) for (H, W, C) images with the flags' architecture
    options (width, parameterisation, readout, bias), normalised by ``stats`` = (per-channel mean,
    std) in [0, 1] units (:func:`channel_stats`)."""
    mean, std = stats
    return build_model(
        architecture or config.model,
        image_shape,
        num_classes,
        mean=mean,
        std=std,
        width=config.width,
        parameterization=config.parameterization,
        train_second_layer=config.train_second_layer,
        use_bias=config.use_bias,
        seed=seed,
    )


def _make_trainer(config, model, recipe: Recipe, steps_per_epoch: int, strategy, seed: int, adversarial: bool):
    """Trainer of ``model`` with the recipe's optimizer and schedule, and, if ``adversarial``, an
    untargeted attack on ``model`` itself seeded per (epoch, batch)."""
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
            recipe.optimizer, schedule, momentum=recipe.momentum, mixed_precision=config.mixed_precision
        )
        adversary = None
        if adversarial:
            attack = make_attack(config, model, targeted=False)
            attack_seed = derive_seed(seed, "adversarial_training")
            adversary = lambda x, y, s: attack(x, y, (attack_seed, s[0] * 1_000_003 + s[1]))[0]  # noqa: E731
        return loop.Trainer(
            model,
            optimizer,
            weight_decay=recipe.weight_decay,
            jit_compile=config.jit_compile,
            strategy=strategy,
            adversary=adversary,
        )


def _epoch_end(run: Run, callbacks):
    def on_epoch_end(epoch: int, metrics: dict) -> None:
        run.log_metrics(metrics, epoch)
        for callback in callbacks:
            callback(epoch, metrics)

    return on_epoch_end


def export(run: Run, trainer: loop.Trainer, name: str, config: Config, **metadata) -> str:
    """Exports to ``<run_dir>/models/<name>`` with metadata, logs it to MLflow; returns the path."""
    path = run.path("models", name)
    meta = {"dataset": config.dataset, "model": config.model, "git_sha": git_sha(), "flags": config.values, **metadata}
    export_model(trainer.model, path, meta)
    run.log_artifact(path, "models")
    print(f"[{name}] exported SavedModel to {path}")
    return path


def exported(run: Run, name: str) -> str | None:
    """Path of an earlier complete export of ``name`` in this run directory (a resumed run; on a
    multi-worker non-chief, in the chief's directory, so every worker resumes alike)."""
    path = distribute.chief_path(os.path.join(run.run_dir, "models", name))
    return path if os.path.exists(os.path.join(path, "saved_model.pb")) else None


def robust_prefix(config: Config) -> str:
    """Metric-name prefix of ``--robust_eval``: "" for PGD, "apgd_ce_" / "apgd_t_" for APGD, so
    numbers of different attacks never share a name."""
    return "" if config.robust_eval == "pgd" else f"{config.robust_eval}_"


def robust_eval(
    config: Config, *, norm: str | None = None, eps: float | None = None, steps: int | None = None
) -> tuple[str, Callable]:
    """(metric name, logits_fn -> attack) of ``--robust_eval``: the --attack* PGD under
    ``robust_accuracy``, or APGD-CE / APGD-T at the same norm, eps, steps and restarts under
    ``apgd_ce_robust_accuracy`` / ``apgd_t_robust_accuracy`` (never mixed with PGD's numbers).

    ``norm``, ``eps``, ``steps`` override the --attack* budget (e.g. robust_datasets' l2 and l-inf
    evaluations); the name then says the norm (``l2_robust_accuracy``, ``apgd_ce_linf_...``) and
    PGD's step is 2.5 eps / steps (Madry et al.) from x, untargeted, keeping the best iterate."""
    overridden = norm is not None
    norm, eps = norm or config.attack_norm, config.attack_eps if eps is None else eps
    steps = steps or config.attack_steps
    name = f"{robust_prefix(config)}{norm + '_' if overridden else ''}robust_accuracy"
    if config.robust_eval == "pgd":
        if not overridden:
            return name, lambda logits_fn: make_attack(config, logits_fn, targeted=False)
        return name, lambda logits_fn: PGD(
            logits_fn, norm=norm, eps=eps, step_size=2.5 * eps / steps, steps=steps, jit_compile=config.jit_compile
        )
    loss = "ce" if config.robust_eval == "apgd_ce" else "dlr_targeted"
    return name, lambda logits_fn: APGD(
        logits_fn, norm=norm, eps=eps, steps=steps, restarts=config.attack_restarts, loss=loss
    )


def make_attack(config: Config, logits_fn, *, targeted: bool) -> PGD:
    """The attack the flags describe (``--attack``, ``--attack_norm``, ``--attack_eps``...)."""
    if config.attack in ("fgsm", "fgsm_best"):
        keep_best = config.attack == "fgsm_best"
        return fgsm(logits_fn, norm=config.attack_norm, eps=config.attack_eps, targeted=targeted, keep_best=keep_best)
    return PGD(
        logits_fn,
        norm=config.attack_norm,
        eps=config.attack_eps,
        step_size=config.attack_step_size,
        steps=config.attack_steps,
        restarts=config.attack_restarts,
        random_start=config.attack_random_start,
        targeted=targeted,
        jit_compile=config.jit_compile,
    )


def attack_params(config: Config) -> dict:
    keys = (
        "attack",
        "attack_norm",
        "attack_eps",
        "attack_step_size",
        "attack_steps",
        "attack_restarts",
        "attack_random_start",
        "attack_target",
    )
    return {k: getattr(config, k) for k in keys}


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 0..255 or float [0, 1] -> float32 [0, 1]."""
    return images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images.astype(np.float32)


def predictions(logits_fn, images: np.ndarray, batch_size: int) -> np.ndarray:
    """argmax labels int64 (N,) of ``logits_fn`` over float32 images in batches."""
    out = [
        np.argmax(np.asarray(logits_fn(tf.constant(to_float(images[i : i + batch_size])))), -1)
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(out).astype(np.int64) if out else np.zeros([0], np.int64)
