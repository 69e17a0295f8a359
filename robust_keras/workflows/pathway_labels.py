"""Which pathway a model trained on D_det followed (robust-before-non-robust Sec. 4, App. C), by
the rule of analysis/pathways.py with the ``--pathway_*`` thresholds (``config.pathway_rule``)."""

from __future__ import annotations

from robust_keras.analysis.pathways import PathwayRule, PathwayVerdict, classify


def pathway_of(curves: dict, num_classes: int, rule: PathwayRule) -> PathwayVerdict:
    """The pathway N2 followed, from its per-epoch curves (``d_det_training.curves(run)``: train, clean, shift)."""
    return classify(curves["clean/accuracy"], curves["shift/accuracy"], num_classes, rule, curves["train/accuracy"])
