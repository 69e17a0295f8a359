"""Which pathway a model trained on D_det followed (robust-before-non-robust Sec. 4, App. C), by
the rule of analysis/pathways.py with the ``--pathway_*`` thresholds."""

from __future__ import annotations

from robust_keras.analysis.pathways import PathwayRule, PathwayVerdict, classify
from robust_keras.config import Config
from robust_keras.errors import ConfigError


def pathway_rule(config: Config) -> PathwayRule:
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


def pathway_of(curves: dict, num_classes: int, rule: PathwayRule) -> PathwayVerdict:
    """The pathway N2 followed, from its per-epoch curves (``curves(run)``: train, clean, shift)."""
    return classify(curves["clean/accuracy"], curves["shift/accuracy"], num_classes, rule, curves["train/accuracy"])
