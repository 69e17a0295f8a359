"""Which pathway a model trained on D_det followed (robust-before-non-robust, Sec. 4; App. C).

The four curves of a model N2 trained on D_det are, per epoch: ``train/accuracy``,
``val/accuracy`` (held-out D_det), ``clean/accuracy`` (accuracy on D: what the *non-robust*
features buy) and ``shift/accuracy`` (accuracy on D_shift: what the *robust* features buy).

Rule (docs/methods.md §A.3): the paper's own description of the two pathways, read off the whole
trajectory. Both start by learning robust features: the shift gain over chance c = 1/K reaches
``min_gain`` no later than the clean gain does. Then

* **pathway 1**: the non-robust features arrive -- at the end (the last ``tail`` fraction of
  epochs, averaged) they carry at least a ``high`` share of the above-chance test performance;
* **pathway 2**: training accuracy saturates (>= ``saturation`` at the end) while accuracy on D
  stays near chance (the score below, the non-robust share, <= ``low``): the model overfits D_det
  on robust features;

anything else is ``"between"`` (non-robust features first, or the run has not reached either end
yet). With the end gains g_NR = max(0, clean - c), g_R = max(0, shift - c) the **pathway score**

    score = g_NR / (g_NR + g_R)        in [0, 1]

is the non-robust share of what the model generalises with (0: robust features only). ``high`` is
below one half because [RB] Table 5 has pathway-1 models whose robust accuracy still ends higher.
A model within ``min_gain`` of chance on both has learned neither: score 0.5, ``"between"``.
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
    saturation: float = 0.95

    def __post_init__(self):
        if not 0.0 <= self.low <= self.high <= 1.0:
            raise ValueError(f"pathway thresholds must satisfy 0 <= low <= high <= 1, got {self.low}, {self.high}")


@dataclasses.dataclass(frozen=True)
class PathwayVerdict:
    label: str  # "1", "2" or "between"
    score: float  # non-robust share of above-chance test performance, [0, 1]
    nonrobust_gain: float  # g_NR
    robust_gain: float  # g_R
    robust_first: bool = True  # the shift gain reached min_gain no later than the clean gain
    saturated: bool = False  # training accuracy at the end >= saturation


def _tail_mean(values: Sequence[float], tail: float) -> float:
    values = np.asarray(values, float)
    if values.size == 0:
        raise ValueError("a pathway needs at least one epoch of curves")
    n = max(1, int(round(tail * values.size)))
    return float(values[-n:].mean())


def first_epoch(values: Sequence[float], level: float) -> int:
    """Index of the first epoch at or above ``level`` (len(values) if never)."""
    above = np.flatnonzero(np.asarray(values, float) >= level)
    return int(above[0]) if above.size else len(values)


def classify(
    clean: Sequence[float],
    shift: Sequence[float],
    num_classes: int,
    rule: PathwayRule = PathwayRule(),
    train: Sequence[float] | None = None,
) -> PathwayVerdict:
    """Pathway of a model from its per-epoch ``clean/accuracy``, ``shift/accuracy`` and
    ``train/accuracy`` (same length; without ``train`` pathway 2 cannot be told from an unfinished
    run, so it is never labelled "2")."""
    if len(clean) != len(shift) or (train is not None and len(train) != len(clean)):
        lengths = (len(clean), len(shift), len(train) if train is not None else None)
        raise ValueError(f"clean, shift and train curves differ in length {lengths}")
    chance = 1.0 / num_classes
    g_nr = max(0.0, _tail_mean(clean, rule.tail) - chance)
    g_r = max(0.0, _tail_mean(shift, rule.tail) - chance)
    saturated = train is not None and _tail_mean(train, rule.tail) >= rule.saturation
    robust_first = first_epoch(shift, chance + rule.min_gain) <= first_epoch(clean, chance + rule.min_gain)
    if g_nr + g_r < rule.min_gain:
        return PathwayVerdict("between", 0.5, g_nr, g_r, robust_first, saturated)
    score = g_nr / (g_nr + g_r)
    if robust_first and score >= rule.high:
        label = "1"
    elif robust_first and saturated and score <= rule.low:
        label = "2"
    else:
        label = "between"
    return PathwayVerdict(label, score, g_nr, g_r, robust_first, saturated)
