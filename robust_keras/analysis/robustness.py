"""Robust accuracy of binary classifiers versus l2 radius (feature averaging, docs/methods.md §C).

A binary classifier is a margin function x -> f(x) (B,), predicting class 1 iff f(x) > 0.
Two attacks per radius r:
  pgd       l2 PGD on the margin's logistic loss (random start, restarts, best iterate), or
            APGD-CE on the same loss (``attack="apgd_ce"``; DLR losses need >= 3 classes) -- both
            run on the margin s f(x) itself (s = 2y - 1): the same iterates in exact arithmetic,
            without the logistic loss's float32 underflow at margins above ~17 (attacks/pgd.py), or
            AutoAttack's standard version as far as two classes allow (``attack="autoattack"``:
            APGD-CE, FAB-T toward the other class, Square; 100 steps, 5,000 queries), an example
            robust only if none of them breaks it
  analytic  delta = -r * s * v / ||v||, v = sum_{J+} mu_j - sum_{J-} mu_j, s = 2y - 1 (the
            direction that defeats feature-averaging nets); only where centres are known. For the
            hand-built f_robust also its own smallest flip (:func:`robust_net_flip_distance`),
            which gradient attacks cannot find for the negative class: f_robust's inactive
            neurons have zero gradient
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from robust_keras.attacks import APGD, PGD, factory
from robust_keras.attacks.ensemble import Ensemble
from robust_keras.models.cluster_nets import margin_logits
from robust_keras.progress import LoopMeter

MarginFn = Callable[[tf.Tensor], tf.Tensor]
MarginAttack = PGD | APGD | Ensemble
MARGIN_ATTACKS = ("pgd", "apgd_ce", "autoattack")


def _correct(margin_fn: MarginFn, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """bool (B,): f(x) > 0 exactly for the points of class 1."""
    return (np.asarray(margin_fn(tf.constant(x, tf.float32))) > 0) == (y == 1)


def _accuracy(margin_fn: MarginFn, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(_correct(margin_fn, x, y)))


def check_margin_attack(kind: str) -> None:
    """Refuses (before any training) an attack a binary margin cannot take: DLR-T needs 4 classes."""
    factory.check_classes(kind, 2)


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
    ``restarts``, step 2.5 eps / steps), APGD-CE (``steps``, ``restarts``) -- both on the margin,
    see the module docstring -- or the two-class AutoAttack ensemble (its own 100 steps and 5,000
    queries). ``clip``: the input box, None for unbounded inputs."""
    check_margin_attack(kind)
    return factory.evaluation_attack(
        kind,
        margin_logits(margin_fn),
        norm=norm,
        eps=eps,
        steps=steps,
        classes=2,
        restarts=restarts,
        margin_loss=True,
        random_start=True,
        clip=clip,
    )


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
    margin_fn: MarginFn,
    x: np.ndarray,
    y: np.ndarray,
    radius: float,
    centres: np.ndarray,
    positive: Sequence[int],
    flip_distance: np.ndarray | None = None,
) -> float:
    """Accuracy when each point moves by radius r along -s * (sum_{J+} mu - sum_{J-} mu) / norm;
    ``flip_distance`` (B,): also count a point broken when a known flip of it is within r."""
    signs = np.where(np.isin(np.arange(len(centres)), positive), 1.0, -1.0)
    v = signs @ centres  # (d,)
    v = v / np.linalg.norm(v)
    s = (2 * y - 1).astype(np.float32)[:, None]
    correct = _correct(margin_fn, x - radius * s * v[None, :], y)
    if flip_distance is not None:
        correct &= flip_distance > radius
    return float(np.mean(correct))


def robust_net_flip_distance(
    margin_fn: MarginFn, x: np.ndarray, y: np.ndarray, centres: np.ndarray, positive: Sequence[int], bias: float
) -> np.ndarray:
    """float64 (B,): the l2 length of a perturbation that flips the hand-built f_robust (inf where
    the construction does not flip it), from its structure: one ReLU neuron per centre,
    a_j = <mu_j, x> + bias, f = sum_{J+} relu(a_j) - sum_{J-} relu(a_j), orthogonal centres.

    In the coordinates t_j = <mu_j / ||mu_j||, delta>, a_j moves by ||mu_j|| t_j. With S the
    point's own side (J+ for y = 1, else J-), A its active neurons and o the most active neuron of
    the other side, the cheaper of
      (1) silence A (a_j -> -eps0) and, for the negative class (f must turn positive), raise o
          to 2 eps0 if it is not active;
      (2) lower every j in A and raise o by the same lambda until they balance:
          lambda = (sum_A a_j - a_o + eps0) / (||mu|| (|A| + 1)), length lambda sqrt(|A| + 1),
          valid while every moved neuron stays active;
    each overshooting by eps0 = 1e-4 ||mu|| (f = 0 reads as the negative class). Every
    constructed point is checked with ``margin_fn``: the distances are attacks that succeed, so
    robust accuracy from them is an upper bound (exact where the point has one active neuron).
    """
    norms = np.linalg.norm(centres, axis=1)
    gram = centres @ centres.T / np.outer(norms, norms)
    if not np.allclose(gram, np.eye(len(centres)), atol=1e-4) or not np.allclose(norms, norms[0], rtol=1e-4):
        raise ValueError("robust_net_flip_distance needs orthogonal centres of equal norm")
    n = float(norms[0])
    units = centres / norms[:, None]  # (k, d)
    side = np.isin(np.arange(len(centres)), positive)  # J+
    eps0 = 1e-4 * n
    a = x.astype(np.float64) @ centres.T.astype(np.float64) + bias  # (B, k)
    steps = np.zeros_like(a)  # t (B, k): the perturbation in the centre coordinates
    for i in range(len(x)):
        own = side if y[i] == 1 else ~side
        active = np.flatnonzero(own & (a[i] > 0))
        other = np.flatnonzero(~own)
        o = other[np.argmax(a[i, other])]
        silence = np.zeros(len(centres))  # (1)
        silence[active] = -(a[i, active] + eps0) / n
        if y[i] == 0:  # f must turn positive: an active positive neuron is needed, not only silence
            silence[o] = max(0.0, 2 * eps0 - a[i, o]) / n
        best = silence
        lam = (a[i, active].sum() - a[i, o] + eps0) / (n * (len(active) + 1))  # (2)
        if len(active) and a[i, o] + n * lam > 0 and np.all(a[i, active] - n * lam > 0):
            balance = np.zeros(len(centres))
            balance[active], balance[o] = -lam, lam
            if np.linalg.norm(balance) < np.linalg.norm(best):
                best = balance
        steps[i] = best
    flipped = ~_correct(margin_fn, x + steps @ units, y)
    return np.where(flipped, np.linalg.norm(steps, axis=1), np.inf)


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
    log: Callable[[str], None] | None = None,
    **kwargs,
) -> list[float]:
    """Robust accuracy under ``attack`` (:data:`MARGIN_ATTACKS`) at each radius, one compiled
    attack for all radii (kwargs go to :func:`attack_robust_accuracy`); ``log`` gets one line per
    radius with the elapsed time and an ETA for the rest (the ensemble takes minutes per radius at
    paper scale)."""
    attacker = margin_attack(margin_fn, attack, steps=steps, restarts=restarts, clip=clip)
    meter, curve = LoopMeter("radius"), []
    for i, r in enumerate(radii):
        curve.append(attack_robust_accuracy(margin_fn, x, y, float(r), attack=attacker, **kwargs))
        meter.add(1)
        if log:
            log(
                f"{attack} r={float(r):.4g}: robust accuracy {curve[-1]:.3f} ({i + 1}/{len(radii)} radii, "
                f"{meter.outlook(len(radii) - i - 1)})"
            )
    return curve
