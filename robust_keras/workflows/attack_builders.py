"""Attacks built from the --attack* and --robust_eval flags, for training, generation and
evaluation; metric names say which attack produced a number."""

from __future__ import annotations

from collections.abc import Callable

from robust_keras.attacks import APGD, PGD, fgsm
from robust_keras.config import Config


def make_attack(config: Config, logits_fn, *, targeted: bool) -> PGD:
    """The attack the flags describe (``--attack``, ``--attack_norm``, ``--attack_eps``...)."""
    if config.attack in ("fgsm", "fgsm_best"):
        keep_best = config.attack == "fgsm_best"
        return fgsm(logits_fn, norm=config.attack_norm, eps=config.attack_eps, targeted=targeted, keep_best=keep_best)
    return PGD(
        logits_fn,
        norm=config.attack_norm,
        eps=config.attack_eps,
        step_size=config.attack_step_size,
        steps=config.attack_steps,
        restarts=config.attack_restarts,
        random_start=config.attack_random_start,
        targeted=targeted,
        jit_compile=config.jit_compile,
    )


def attack_params(config: Config) -> dict:
    keys = (
        "attack",
        "attack_norm",
        "attack_eps",
        "attack_step_size",
        "attack_steps",
        "attack_restarts",
        "attack_random_start",
        "attack_target",
    )
    return {k: getattr(config, k) for k in keys}


def robust_prefix(config: Config) -> str:
    """Metric-name prefix of ``--robust_eval``: "" for PGD, "apgd_ce_" / "apgd_t_" for APGD, so
    numbers of different attacks never share a name."""
    return "" if config.robust_eval == "pgd" else f"{config.robust_eval}_"


def robust_eval(
    config: Config, *, norm: str | None = None, eps: float | None = None, steps: int | None = None
) -> tuple[str, Callable]:
    """(metric name, logits_fn -> attack) of ``--robust_eval``: the --attack* PGD under
    ``robust_accuracy``, or APGD-CE / APGD-T at the same norm, eps, steps and restarts under
    ``apgd_ce_robust_accuracy`` / ``apgd_t_robust_accuracy`` (never mixed with PGD's numbers).

    ``norm``, ``eps``, ``steps`` override the --attack* budget (e.g. robust_datasets' l2 and l-inf
    evaluations); the name then says the norm (``l2_robust_accuracy``, ``apgd_ce_linf_...``) and
    PGD's step is 2.5 eps / steps (Madry et al.) from x, untargeted, keeping the best iterate."""
    overridden = norm is not None
    norm, eps = norm or config.attack_norm, config.attack_eps if eps is None else eps
    steps = steps or config.attack_steps
    name = f"{robust_prefix(config)}{norm + '_' if overridden else ''}robust_accuracy"
    if config.robust_eval == "pgd":
        if not overridden:
            return name, lambda logits_fn: make_attack(config, logits_fn, targeted=False)
        return name, lambda logits_fn: PGD(
            logits_fn, norm=norm, eps=eps, step_size=2.5 * eps / steps, steps=steps, jit_compile=config.jit_compile
        )
    loss = "ce" if config.robust_eval == "apgd_ce" else "dlr_targeted"
    return name, lambda logits_fn: APGD(
        logits_fn, norm=norm, eps=eps, steps=steps, restarts=config.attack_restarts, loss=loss
    )
