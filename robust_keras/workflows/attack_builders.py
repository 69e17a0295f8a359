"""Attacks built from the --attack* and --robust_eval flags, for training, generation and
evaluation; metric names say which attack produced a number."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from robust_keras.attacks import PGD, factory, fgsm
from robust_keras.attacks.ensemble import Ensemble
from robust_keras.settings import AttackSettings


def make_attack(attack: AttackSettings, logits_fn, *, targeted: bool) -> PGD:
    """The attack the --attack* flags describe (``config.attack_settings``)."""
    if attack.kind in ("fgsm", "fgsm_best"):
        return fgsm(
            logits_fn, norm=attack.norm, eps=attack.eps, targeted=targeted, keep_best=attack.kind == "fgsm_best"
        )
    return PGD(
        logits_fn,
        norm=attack.norm,
        eps=attack.eps,
        step_size=attack.step_size,
        steps=attack.steps,
        restarts=attack.restarts,
        random_start=attack.random_start,
        targeted=targeted,
        jit_compile=attack.jit_compile,
    )


def attack_params(attack: AttackSettings, target: str) -> dict:
    """The attack as a dataset manifest records it (``spec.attack``: flag names, and the
    ``--attack_target`` rule ``target``); a reused dataset must match it."""
    return {
        "attack": attack.kind,
        "attack_norm": attack.norm,
        "attack_eps": attack.eps,
        "attack_step_size": attack.step_size,
        "attack_steps": attack.steps,
        "attack_restarts": attack.restarts,
        "attack_random_start": attack.random_start,
        "attack_target": target,
    }


def robust_prefix(kind: str) -> str:
    """Metric-name prefix of the ``--robust_eval`` attack ``kind``: "" for PGD, "apgd_ce_" /
    "apgd_t_" for APGD, "autoattack_" for AutoAttack, so numbers of different attacks never share a name."""
    return "" if kind == "pgd" else f"{kind}_"


def robust_eval(
    kind: str,
    attack: AttackSettings,
    *,
    classes: int,
    norm: str | None = None,
    eps: float | None = None,
    steps: int | None = None,
) -> tuple[str, Callable]:
    """(metric name, logits_fn -> attack) of ``--robust_eval`` = ``kind``: the --attack* PGD
    (``attack``) under ``robust_accuracy``, or APGD-CE / APGD-T at the same norm, eps, steps and
    restarts under ``apgd_ce_robust_accuracy`` / ``apgd_t_robust_accuracy``, or AutoAttack's standard
    version at the same norm and eps (its own 100 steps, 9 targets, 5,000 queries) under
    ``autoattack_robust_accuracy`` (never mixed with PGD's numbers).

    ``norm``, ``eps``, ``steps`` override the --attack* budget (e.g. robust_datasets' l2 and l-inf
    evaluations); the name then says the norm (``l2_robust_accuracy``, ``apgd_ce_linf_...``) and
    PGD's step is 2.5 eps / steps (Madry et al.) from x, untargeted, keeping the best iterate.

    ``classes``: the model's; refused here, before any training, when the attack cannot take them
    (APGD-T and the standard version need 4; two classes get the standard version's two-class part,
    APGD-CE, FAB-T, Square)."""
    factory.check_classes(kind, classes)
    overridden = norm is not None
    norm, eps = norm or attack.norm, attack.eps if eps is None else eps
    steps = steps or attack.steps
    name = f"{robust_prefix(kind)}{norm + '_' if overridden else ''}robust_accuracy"
    if kind == "pgd" and not overridden:
        return name, lambda logits_fn: make_attack(attack, logits_fn, targeted=False)
    build = functools.partial(
        factory.evaluation_attack,
        kind,
        norm=norm,
        eps=eps,
        steps=steps,
        classes=classes,
        restarts=1 if kind == "pgd" else attack.restarts,  # the override's PGD runs once, from x
        jit_compile=attack.jit_compile,
    )
    return name, (lambda logits_fn: as_attack(build(logits_fn))) if kind == "autoattack" else build


def as_attack(ensemble: Ensemble) -> Callable:
    """The ensemble as the attack callable evaluators take: (x, labels, seed) -> (x_adv,), where
    x_adv is the breaking point of each broken example and x otherwise (``.ensemble`` holds it)."""

    def attack(x, labels, seed):
        return (ensemble(np.asarray(x), np.asarray(labels), tuple(int(s) for s in np.asarray(seed))).x_adv,)

    attack.ensemble = ensemble
    return attack
