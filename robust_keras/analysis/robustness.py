"""Robust accuracy of binary classifiers versus l2 radius (feature averaging, docs/methods.md §C).

A binary classifier is a margin function x -> f(x) (B,), predicting class 1 iff f(x) > 0.
Two attacks per radius r:
  pgd       l2 PGD on the margin's logistic loss (random start, restarts, best iterate), or
            APGD-CE on the same loss (``attack="apgd_ce"``; DLR losses need >= 3 classes), or
            AutoAttack's standard version as far as two classes allow (``attack="autoattack"``:
            APGD-CE, FAB-T toward the other class, Square; 100 steps, 5,000 queries), an example
            robust only if none of them breaks it
  analytic  delta = -r * s * v / ||v||, v = sum_{J+} mu_j - sum_{J-} mu_j, s = 2y - 1 (the
            direction that defeats feature-averaging nets); only where centres are known
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from robust_keras.attacks import APGD, PGD
from robust_keras.attacks.ensemble import STANDARD_TWO_CLASS, Ensemble
from robust_keras.errors import ConfigError
from robust_keras.models.cluster_nets import margin_logits

MarginFn = Callable[[tf.Tensor], tf.Tensor]
MarginAttack = PGD | APGD | Ensemble
MARGIN_ATTACKS = ("pgd", "apgd_ce", "autoattack")


def _accuracy(margin_fn: MarginFn, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((np.asarray(margin_fn(tf.constant(x, tf.float32))) > 0) == (y == 1)))


def check_margin_attack(kind: str) -> None:
    """Refuses (before any training) an attack a binary margin cannot take: DLR-T needs 4 classes."""
    if kind not in MARGIN_ATTACKS:
        raise ConfigError(
            f"--robust_eval={kind} needs at least 4 classes; a binary margin has 2",
            "use --robust_eval=pgd, apgd_ce or autoattack (its two-class part)",
        )


def margin_attack(
    margin_fn: MarginFn,
    kind: str,
    *,
    norm: str = "l2",
    eps: float = 0.0,
    steps: int = 40,
    restarts: int = 1,
    clip: tuple[float, float] | None = None,
) -> MarginAttack:
    """The ``kind`` attack (:data:`MARGIN_ATTACKS`) on the two logits (0, f(x)) in the ``norm`` ball
    of radius ``eps`` (reset per radius by :func:`set_radius`): PGD (random start, ``steps``,
    ``restarts``, step 2.5 eps / steps), APGD-CE (``steps``, ``restarts``), or the two-class
    AutoAttack ensemble (its own 100 steps and 5,000 queries). ``clip``: the input box, None for
    unbounded inputs."""
    check_margin_attack(kind)
    logits = margin_logits(margin_fn)
    if kind == "pgd":
        return PGD(
            logits,
            norm=norm,
            eps=eps,
            step_size=2.5 * eps / steps,
            steps=steps,
            restarts=restarts,
            random_start=True,
            clip=clip,
        )
    if kind == "apgd_ce":
        return APGD(logits, norm=norm, eps=eps, steps=steps, restarts=restarts, loss="ce", clip=clip)
    return Ensemble(logits, norm=norm, eps=eps, attacks=STANDARD_TWO_CLASS, clip=clip)


def set_radius(attack: MarginAttack, radius: float, step_factor: float = 2.5) -> None:
    """A new radius for ``attack`` (PGD's step: ``step_factor`` * radius / steps; APGD and the
    ensemble set their own steps from it)."""
    if isinstance(attack, PGD):
        attack.set_budget(radius, step_factor * radius / attack.steps)
    else:
        attack.set_budget(radius)


def broken(attack: MarginAttack, x: np.ndarray, y: np.ndarray, seed: tuple[int, int]) -> np.ndarray:
    """bool (B,): misclassified at x or at the point the attack found (for the ensemble: at the
    point any of its attacks found)."""
    if isinstance(attack, Ensemble):
        return ~attack(x, y, seed).robust
    return np.asarray(attack(x, y, seed)[1])


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
    attack: MarginAttack | None = None,
) -> float:
    """Accuracy under l2 PGD of radius ``radius`` (step ``step_factor * radius / steps``).

    ``attack``: an attack built by :func:`margin_attack` to use instead (its radius is reset here).
    """
    if radius == 0:
        return _accuracy(margin_fn, x, y)
    attack = attack or margin_attack(margin_fn, "pgd", steps=steps, restarts=restarts, clip=clip)
    set_radius(attack, radius, step_factor)
    correct = 0
    for b, start in enumerate(range(0, len(y), batch_size)):
        correct += int(np.sum(~broken(attack, x[start : start + batch_size], y[start : start + batch_size], (seed, b))))
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
    """Robust accuracy under ``attack`` (:data:`MARGIN_ATTACKS`) at each radius, one compiled
    attack for all radii (kwargs go to :func:`attack_robust_accuracy`)."""
    attack = margin_attack(margin_fn, attack, steps=steps, restarts=restarts, clip=clip)
    return [attack_robust_accuracy(margin_fn, x, y, float(r), attack=attack, **kwargs) for r in radii]
