"""Typed settings: the groups of flag values a workflow takes instead of the whole Config.

Each group is built from a :class:`~robust_keras.config.Config` once per run (``config.attack_settings``,
``config.data_settings``, ``config.compute_settings``) and reads exactly the flags it holds, so a
run's MLflow params -- the flags it read -- stay the flags that shaped it. ``Recipe``
(``workflows/recipes.py``) is the typed training recipe; ``grid.Cell`` one cell of a grid.
"""

from __future__ import annotations

import dataclasses


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
        )


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
