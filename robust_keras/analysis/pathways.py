"""Which pathway a model trained on D_det followed (robust-before-non-robust, Sec. 4; App. C).

The four curves of a model N2 trained on D_det are, per epoch: ``train/accuracy``,
``val/accuracy`` (held-out D_det), ``clean/accuracy`` (accuracy on D: what the *non-robust*
features buy) and ``shift/accuracy`` (accuracy on D_shift: what the *robust* features buy).

Rule (docs/methods.md §A.3). Over the last ``tail`` fraction of epochs (at least one epoch),
average the clean and shift accuracies and take their gains over chance c = 1/K:

    g_NR = max(0, clean - c),   g_R = max(0, shift - c)

The **pathway score** is the non-robust share of the above-chance test performance,

    score = g_NR / (g_NR + g_R)        in [0, 1]

0 means every bit of generalisation comes from robust features (pathway 2: the model overfits
D_det before it learns the planted non-robust features, so D stays at chance); 1 means it comes
from non-robust features only (pathway 1 at its end). Label: ``"2"`` if score <= low,
``"1"`` if score >= high, else ``"between"`` (defaults low = 0.2, high = 0.4: on the paper's
Fig. 1, pathway 1 ends with clean accuracy comparable to or above shift, pathway 2 with clean at
chance; Table 5 has pathway-1 models whose robust accuracy is still the larger share, hence a
high threshold below one half). A model whose test performance is within ``min_gain`` of
chance on both has learned neither kind of feature yet: score 0.5, label ``"between"``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

LABELS = ("1", "2", "between")


@dataclasses.dataclass(frozen=True)
class PathwayRule:
    """Thresholds of the rule above (fractions of accuracy; ``tail`` a fraction of epochs)."""

    low: float = 0.2
    high: float = 0.4
    tail: float = 0.1
    min_gain: float = 0.05

    def __post_init__(self):
        if not 0.0 <= self.low <= self.high <= 1.0:
            raise ValueError(f"pathway thresholds must satisfy 0 <= low <= high <= 1, got {self.low}, {self.high}")


@dataclasses.dataclass(frozen=True)
class PathwayVerdict:
    label: str  # "1", "2" or "between"
    score: float  # non-robust share of above-chance test performance, [0, 1]
    nonrobust_gain: float  # g_NR
    robust_gain: float  # g_R


def _tail_mean(values: Sequence[float], tail: float) -> float:
    values = np.asarray(values, float)
    if values.size == 0:
        raise ValueError("a pathway needs at least one epoch of curves")
    n = max(1, int(round(tail * values.size)))
    return float(values[-n:].mean())


def classify(clean: Sequence[float], shift: Sequence[float], num_classes: int, rule: PathwayRule = PathwayRule()):
    """Pathway of a model from its per-epoch ``clean/accuracy`` and ``shift/accuracy`` (same length)."""
    if len(clean) != len(shift):
        raise ValueError(f"clean and shift curves differ in length ({len(clean)} vs {len(shift)})")
    chance = 1.0 / num_classes
    g_nr = max(0.0, _tail_mean(clean, rule.tail) - chance)
    g_r = max(0.0, _tail_mean(shift, rule.tail) - chance)
    if g_nr + g_r < rule.min_gain:
        return PathwayVerdict("between", 0.5, g_nr, g_r)
    score = g_nr / (g_nr + g_r)
    label = "2" if score <= rule.low else "1" if score >= rule.high else "between"
    return PathwayVerdict(label, score, g_nr, g_r)
