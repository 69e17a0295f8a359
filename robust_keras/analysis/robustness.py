"""Robust accuracy of binary classifiers versus l2 radius (feature averaging, docs/methods.md §C).

A binary classifier is a margin function x -> f(x) (B,), predicting class 1 iff f(x) > 0.
Two attacks per radius r:
  pgd       l2 PGD on the margin's logistic loss (random start, restarts, best iterate), or
            APGD-CE on the same loss (``attack="apgd_ce"``; DLR losses need >= 3 classes)
  analytic  delta = -r * s * v / ||v||, v = sum_{J+} mu_j - sum_{J-} mu_j, s = 2y - 1 (the
            direction that defeats feature-averaging nets); only where centres are known
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from robust_keras.attacks import APGD, PGD
from robust_keras.errors import ConfigError
from robust_keras.models.cluster_nets import margin_logits

MarginFn = Callable[[tf.Tensor], tf.Tensor]


def _accuracy(margin_fn: MarginFn, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((np.asarray(margin_fn(tf.constant(x, tf.float32))) > 0) == (y == 1)))


def check_margin_attack(kind: str) -> None:
    """Refuses (before any training) an attack a binary margin cannot take: DLR-T needs 4 classes."""
    if kind not in ("pgd", "apgd_ce"):
        raise ConfigError(
            f"--robust_eval={kind} needs at least 4 classes; a binary margin has 2", "use --robust_eval=apgd_ce or pgd"
        )


def _attack_on_margin(margin_fn: MarginFn, kind: str, steps: int, restarts: int, clip) -> PGD | APGD:
    """An l2 attack on the two logits (0, f(x)); its radius is set per call (``_set_radius``)."""
    logits = margin_logits(margin_fn)
    if kind == "pgd":
        return PGD(
            logits, norm="l2", eps=0.0, step_size=0.0, steps=steps, restarts=restarts, random_start=True, clip=clip
        )
    check_margin_attack(kind)
    return APGD(logits, norm="l2", eps=0.0, steps=steps, restarts=restarts, loss="ce", clip=clip)


def _set_radius(attack: PGD | APGD, radius: float, step_factor: float) -> None:
    if isinstance(attack, PGD):
        attack.set_budget(radius, step_factor * radius / attack.steps)
    else:  # APGD sets its own step sizes from the radius
        attack.set_budget(radius)


def attack_robust_accuracy(
    margin_fn: MarginFn,
    x: np.ndarray,
    y: np.ndarray,
    radius: float,
    *,
    steps: int = 40,
    restarts: int = 1,
    step_factor: float = 2.5,
    clip: tuple[float, float] | None = None,
    seed: int = 0,
    batch_size: int = 1000,
    attack: PGD | APGD | None = None,
) -> float:
    """Accuracy under l2 PGD of radius ``radius`` (step ``step_factor * radius / steps``).

    ``attack``: an attack built by an earlier call (PGD or APGD) to reuse (its radius is reset here).
    """
    if radius == 0:
        return _accuracy(margin_fn, x, y)
    attack = attack or _attack_on_margin(margin_fn, "pgd", steps, restarts, clip)
    _set_radius(attack, radius, step_factor)
    correct = 0
    for b, start in enumerate(range(0, len(y), batch_size)):
        _, success, _ = attack(x[start : start + batch_size], y[start : start + batch_size], (seed, b))
        correct += int(np.sum(~np.asarray(success)))
    return correct / len(y)


def analytic_robust_accuracy(
    margin_fn: MarginFn, x: np.ndarray, y: np.ndarray, radius: float, centres: np.ndarray, positive: Sequence[int]
) -> float:
    """Accuracy when each point moves by radius r along -s * (sum_{J+} mu - sum_{J-} mu) / norm."""
    signs = np.where(np.isin(np.arange(len(centres)), positive), 1.0, -1.0)
    v = signs @ centres  # (d,)
    v = v / np.linalg.norm(v)
    s = (2 * y - 1).astype(np.float32)[:, None]
    return _accuracy(margin_fn, (x - radius * s * v[None, :]).astype(np.float32), y)


def robust_curve(
    margin_fn: MarginFn,
    x: np.ndarray,
    y: np.ndarray,
    radii: Sequence[float],
    *,
    steps: int = 40,
    restarts: int = 1,
    clip: tuple[float, float] | None = None,
    attack: str = "pgd",
    **kwargs,
) -> list[float]:
    """Robust accuracy under ``attack`` (``pgd`` or ``apgd_ce``) at each radius, one compiled
    attack for all radii (kwargs go to :func:`attack_robust_accuracy`)."""
    attack = _attack_on_margin(margin_fn, attack, steps, restarts, clip)
    return [attack_robust_accuracy(margin_fn, x, y, float(r), attack=attack, **kwargs) for r in radii]
