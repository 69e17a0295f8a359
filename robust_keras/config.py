"""The :class:`Config` snapshot of every flag value that ``main`` hands to an experiment.

Only :mod:`robust_keras.main` and :mod:`robust_keras.cli_flags` read ``FLAGS`` (defined in
:mod:`robust_keras.flags`); they build one Config that experiments and workflows receive. The
library never sees it. Budgets eps are in pixel units of inputs scaled to [0, 1].
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from robust_keras import settings


@dataclasses.dataclass(frozen=True)
class Config:
    """Immutable snapshot of all flag values, plus paths resolved by ``main``.

    Attribute access (``config.learning_rate``) reads a flag value; the ``*_settings``, ``recipe``
    and ``provenance`` properties are typed groups of them (robust_keras/settings.py), each built
    on first use.
    """

    values: dict[str, Any]

    @functools.cached_property
    def attack_settings(self) -> settings.AttackSettings:
        """The --attack* flags, typed (read once, on first use)."""
        return settings.AttackSettings.of(self)

    @functools.cached_property
    def data_settings(self) -> settings.DataSettings:
        """The clean-task flags (dataset, classes, sizes...), typed."""
        return settings.DataSettings.of(self)

    @functools.cached_property
    def compute_settings(self) -> settings.ComputeSettings:
        """The distribution-strategy flags, typed."""
        return settings.ComputeSettings.of(self)

    @functools.cached_property
    def recipe(self) -> settings.Recipe:
        """The training recipe of the flags (optimizer, schedule, weight decay, augmentation)."""
        return settings.Recipe.of(self)

    @functools.cached_property
    def model_settings(self) -> settings.ModelSettings:
        """The architecture of --model and its options."""
        return settings.ModelSettings.of(self)

    @functools.cached_property
    def training_settings(self) -> settings.TrainingSettings:
        """Architecture options and placement of the models a run trains."""
        return settings.TrainingSettings.of(self)

    @functools.cached_property
    def common_settings(self) -> settings.CommonSettings:
        """Seed, evaluation batch, validation fraction, SavedModel trust."""
        return settings.CommonSettings.of(self)

    @functools.cached_property
    def provenance(self) -> settings.Provenance:
        """What an export records of this run."""
        return settings.Provenance.of(self)

    @functools.cached_property
    def source_settings(self) -> settings.SourceSettings:
        """The source model of an adversarial dataset (given, or the --source_* recipe)."""
        return settings.SourceSettings.of(self)

    @functools.cached_property
    def generation_settings(self) -> settings.GenerationSettings:
        """Where and how adversarial datasets are written."""
        return settings.GenerationSettings.of(self)

    @functools.cached_property
    def pathway_rule(self):
        """The ``--pathway_*`` thresholds as an analysis.pathways.PathwayRule (ConfigError if inconsistent)."""
        return settings.pathway_rule(self)

    def __getattr__(self, name: str) -> Any:
        try:
            value = self.values[name]
        except KeyError:
            raise AttributeError(f"Config has no value {name!r}") from None
        _READ.add(name)
        return value


_READ: set[str] = set()  # names read through a Config in this process (main warns about flags never read)


def read_names() -> frozenset[str]:
    """The settings this process has read through :class:`Config` so far."""
    return frozenset(_READ)
