"""The evaluation attacks by name, built in one place: the ``--robust_eval`` attack of a
classifier (workflows/attack_builders.py) and of a binary margin f(x) seen as two logits (0, f)
(analysis/robustness.py).

- ``pgd``: untargeted PGD, step 2.5 eps / steps (Madry et al.), the best iterate kept;
- ``apgd_ce`` / ``apgd_t``: APGD on cross-entropy / on the targeted DLR loss (needs 4 classes);
- ``autoattack``: the standard AutoAttack ensemble at its own budget (100 steps, 9 targets,
  5,000 queries); on two classes its two-class part (APGD-CE, FAB-T, Square).
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from robust_keras.attacks.apgd import APGD
from robust_keras.attacks.ensemble import STANDARD, STANDARD_TWO_CLASS, Ensemble
from robust_keras.attacks.pgd import PGD
from robust_keras.errors import ConfigError

KINDS = ("pgd", "apgd_ce", "apgd_t", "autoattack")
EvaluationAttack = PGD | APGD | Ensemble


def check_classes(kind: str, classes: int) -> None:
    """Refuses, before any training, an attack the task cannot take: APGD-T's DLR-T and the
    standard AutoAttack need 4 classes (two classes get AutoAttack's two-class part)."""
    if kind in ("apgd_t", "autoattack") and classes < 4 and not (kind == "autoattack" and classes == 2):
        raise ConfigError(
            f"--robust_eval={kind} needs at least 4 classes (APGD-T's targeted DLR loss); the task has {classes}",
            "use --robust_eval=pgd or apgd_ce" + (" (or autoattack: its two-class part)" if classes == 2 else ""),
        )


def evaluation_attack(
    kind: str,
    logits_fn: Callable[[tf.Tensor], tf.Tensor],
    *,
    norm: str,
    eps: float,
    steps: int,
    classes: int,
    restarts: int = 1,
    margin_loss: bool = False,
    random_start: bool = False,
    clip: tuple[float, float] | None = (0.0, 1.0),
    jit_compile: bool = False,
) -> EvaluationAttack:
    """The ``kind`` attack (:data:`KINDS`) on ``logits_fn`` in the ``norm`` ball of radius ``eps``.

    ``steps`` / ``restarts``: PGD's and APGD's (AutoAttack keeps its own); ``margin_loss``: PGD and
    APGD-CE ascend the margin max_{i != y} z_i - z_y instead of cross-entropy (for two logits
    (0, f) it is -y f, scale-free where CE saturates); ``random_start`` and ``jit_compile``: PGD's;
    ``clip``: the input box, None for unbounded inputs."""
    check_classes(kind, classes)
    ce = "margin" if margin_loss else "ce"
    if kind == "pgd":
        step = 2.5 * eps / steps
        return PGD(
            logits_fn,
            norm=norm,
            eps=eps,
            step_size=step,
            steps=steps,
            restarts=restarts,
            random_start=random_start,
            jit_compile=jit_compile,
            clip=clip,
            loss=ce,
        )
    if kind in ("apgd_ce", "apgd_t"):
        loss = ce if kind == "apgd_ce" else "dlr_targeted"
        return APGD(logits_fn, norm=norm, eps=eps, steps=steps, restarts=restarts, loss=loss, clip=clip)
    if kind == "autoattack":
        attacks = STANDARD_TWO_CLASS if classes == 2 else STANDARD
        return Ensemble(logits_fn, norm=norm, eps=eps, attacks=attacks, clip=clip)
    raise ConfigError(f"--robust_eval={kind} is not an evaluation attack", f"pick one of {', '.join(KINDS)}")
