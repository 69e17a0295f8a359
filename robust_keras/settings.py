"""Typed settings: the groups of flag values the workflows take instead of the whole Config.

Each group is built from a :class:`~robust_keras.config.Config` once per run, on first use
(``config.attack_settings``, ``config.recipe``, ``config.training_settings`` ...), and reads
exactly the flags it holds, so a run's MLflow params -- the flags it read -- stay the flags that
shaped it. Experiments (the flag readers) pick the groups their workflows need; ``grid.Cell`` is
one cell of a grid (a recipe variant).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from robust_keras.analysis.pathways import PathwayRule
from robust_keras.errors import ConfigError

DIGIT_DATASETS = ("mnist", "mnist_sample", "mnist_sample_b")  # never flipped horizontally


@dataclasses.dataclass(frozen=True)
class AttackSettings:
    """The attack of the --attack* flags (docs/methods.md §A): budgets in pixel units of inputs in [0, 1]."""

    kind: str  # --attack: pgd | fgsm | fgsm_best
    norm: str  # l2 | linf
    eps: float
    step_size: float
    steps: int
    restarts: int
    random_start: bool
    jit_compile: bool
    eps_ramp_epochs: int = 0  # adversarial training: epochs over which eps and the step size grow linearly

    @classmethod
    def of(cls, config) -> AttackSettings:
        return cls(
            config.attack,
            config.attack_norm,
            config.attack_eps,
            config.attack_step_size,
            config.attack_steps,
            config.attack_restarts,
            config.attack_random_start,
            config.jit_compile,
            config.attack_eps_ramp_epochs,
        )

    def budget_at(self, epoch: int) -> tuple[float, float]:
        """(eps, step size) adversarial training attacks with in 0-based ``epoch``: the fraction
        min(1, (epoch + 1) / eps_ramp_epochs) of both (all of both without a ramp)."""
        share = min(1.0, (epoch + 1) / self.eps_ramp_epochs) if self.eps_ramp_epochs else 1.0
        return self.eps * share, self.step_size * share


@dataclasses.dataclass(frozen=True)
class DataSettings:
    """Which clean task a run loads: dataset, where it is read from, removals, classes, sizes."""

    dataset: str
    data_dir: str | None
    download: bool  # --tfds_download
    cinic10_dir: str
    test_per_class: int  # mnist_sample's fixed test split
    exclude_index_file: str  # cifar10 ids to drop
    cinic10_drop_cifar: bool
    classes: tuple[int, ...]  # kept classes, relabelled 0..n-1 in this order (empty: all)
    max_train_examples: int  # 0 = all
    max_test_examples: int
    binary_positive_classes: tuple[int, ...]  # relabelled to 1 (empty: no binary task)

    @classmethod
    def of(cls, config) -> DataSettings:
        return cls(
            config.dataset,
            config.data_dir,
            config.tfds_download,
            config.cinic10_dir,
            config.test_per_class,
            config.exclude_index_file,
            config.cinic10_drop_cifar,
            tuple(int(c) for c in config.classes),
            config.max_train_examples,
            config.max_test_examples,
            tuple(int(c) for c in config.binary_positive_classes),
        )


@dataclasses.dataclass(frozen=True)
class ComputeSettings:
    """Where and how training computes: the tf.distribute strategy and its Slurm port base."""

    strategy: str  # default | mirrored | multi_worker
    cluster_port_base: int

    @classmethod
    def of(cls, config) -> ComputeSettings:
        return cls(config.strategy, config.cluster_port_base)


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
    lr_boundaries: tuple[float, ...]  # fractions of training (piecewise schedule)
    lr_decay: float
    batch_size: int

    @classmethod
    def of(cls, config) -> Recipe:
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


@dataclasses.dataclass(frozen=True)
class ModelSettings:
    """The architecture of ``--model`` and its options (robust_keras/models)."""

    architecture: str  # --model
    width: int  # hidden width of the two-layer nets
    parameterization: str  # standard | ntk
    train_second_layer: bool
    use_bias: bool

    @classmethod
    def of(cls, config) -> ModelSettings:
        return cls(config.model, config.width, config.parameterization, config.train_second_layer, config.use_bias)


@dataclasses.dataclass(frozen=True)
class TrainingSettings:
    """How ``recipes.train_model`` builds and runs a model besides its recipe: the architecture
    options, the strategy, precision and compilation, the streamed input's shuffle buffer, flips."""

    model: ModelSettings
    compute: ComputeSettings
    mixed_precision: str | None  # compute dtype "float16" | "bfloat16" with float32 variables; None = float32
    jit_compile: bool
    shuffle_buffer: int  # examples, streamed input only
    flip: bool  # random horizontal flips when a recipe augments (--augment_flip; never for digits)

    @classmethod
    def of(cls, config) -> TrainingSettings:
        return cls(
            config.model_settings,
            config.compute_settings,
            config.mixed_precision_dtype if config.mixed_precision else None,
            config.jit_compile,
            config.shuffle_buffer,
            config.augment_flip and config.dataset not in DIGIT_DATASETS,
        )


@dataclasses.dataclass(frozen=True)
class CommonSettings:
    """The flags every experiment shares: the seed all others derive from, the evaluation batch,
    the held-out fraction, and whether foreign SavedModels are loaded without inspection."""

    seed: int
    eval_batch_size: int
    val_fraction: float
    trust_savedmodels: bool

    @classmethod
    def of(cls, config) -> CommonSettings:
        return cls(config.seed, config.eval_batch_size, config.val_fraction, config.trust_savedmodels)


@dataclasses.dataclass(frozen=True)
class Provenance:
    """What an exported SavedModel records about the run that made it (docs/design.md: SavedModel contract)."""

    dataset: str
    model: str  # --model
    flags: Mapping[str, Any]  # every flag value of the run

    @classmethod
    def of(cls, config) -> Provenance:
        return cls(config.dataset, config.model, dict(config.values))


@dataclasses.dataclass(frozen=True)
class SourceSettings:
    """The source model of an adversarial dataset (robust-before-non-robust Sec. 3): given by
    ``--source_savedmodel``, or trained with the ``--source_*`` recipe and ``--source_model``."""

    savedmodel: str  # "" = train it
    architecture: str  # --source_model, else --model
    recipe: Recipe  # the flags' recipe with the --source_* values
    training: TrainingSettings
    common: CommonSettings
    provenance: Provenance

    @classmethod
    def of(cls, config) -> SourceSettings:
        recipe = config.recipe.replace(
            epochs=config.source_epochs,
            learning_rate=config.source_learning_rate,
            weight_decay=config.source_weight_decay,
            augment=config.source_augment,
            optimizer=config.source_optimizer or config.optimizer,
        )
        return cls(
            config.source_savedmodel,
            config.source_model or config.model,
            recipe,
            config.training_settings,
            config.common_settings,
            config.provenance,
        )


@dataclasses.dataclass(frozen=True)
class GenerationSettings:
    """Where and how an adversarial dataset (D_det, D_rand, D_R, D_NR) is written and read back:
    the dataset contract's shards, the split of the work over processes, the memory limit."""

    dataset: str  # the clean dataset's name, recorded in (and checked against) the manifest
    dataset_dir: str  # --dataset_dir; "" = inside the run directory
    write: bool  # --dataset_write: a user's --dataset_dir may be written
    stage: str  # --gen_stage: all | source | shards | merge
    worker: int
    workers: int
    shard_size: int  # examples per TFRecord shard
    max_in_memory_mb: float  # larger datasets are streamed from their shards

    @classmethod
    def of(cls, config) -> GenerationSettings:
        return cls(
            config.dataset,
            config.dataset_dir,
            config.dataset_write,
            config.gen_stage,
            config.gen_worker,
            config.gen_workers,
            config.shard_size,
            config.max_in_memory_mb,
        )


def pathway_rule(config) -> PathwayRule:
    """The pathway rule's thresholds from ``--pathway_*`` (refused, before any work, if inconsistent)."""
    try:
        return PathwayRule(
            low=config.pathway_low,
            high=config.pathway_high,
            tail=config.pathway_tail,
            saturation=config.pathway_saturation,
        )
    except ValueError as e:
        raise ConfigError(str(e), "pass --pathway_low <= --pathway_high") from None
