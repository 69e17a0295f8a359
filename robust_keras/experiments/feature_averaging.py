"""Feature averaging on the k-cluster distribution (Li et al., ICLR 2025; docs/methods.md §C).

Trains, by full-batch GD on the same points: the binary two-layer net (logistic loss, binary
labels), the k-class net (cross-entropy, cluster labels) read out as binary, and optionally the
binary net with PGD adversarial training. Each is a nested child run with lambda / cosine
diagnostics every ``--fa_eval_every`` steps, heatmaps and ``<model>/cosine_matrix.npy`` (rows =
neurons, columns = clusters; cosines of w - w(0)). Then l2 robust accuracy versus radius on
held-out points, by PGD (or APGD-CE: ``--robust_eval=apgd_ce``; or AutoAttack's two-class
ensemble: ``--robust_eval=autoattack``) and by the analytic direction -sum_{J+} mu + sum_{J-} mu,
with the hand-built f_robust as reference: ``robust_accuracy.json`` and ``plots/robust_accuracy.png``.
"""

from __future__ import annotations

import time

import numpy as np

from robust_keras.analysis import feature_averaging as fa
from robust_keras.analysis import plots, robustness
from robust_keras.atomic_files import atomic_open, write_json
from robust_keras.config import Config
from robust_keras.data.synthetic import make_cluster_splits
from robust_keras.errors import ConfigError
from robust_keras.models import cluster_nets
from robust_keras.seeds import derive_seed
from robust_keras.tracking.mirror import Run
from robust_keras.training.full_batch import DualFullBatchGD, FullBatchGD
from robust_keras.workflows import attack_builders


def run(config: Config, run: Run) -> dict:
    robustness.check_margin_attack(config.robust_eval)
    k, d = config.fa_k, config.fa_d
    if k > d:
        raise ConfigError(f"--fa_k={k} clusters cannot be orthogonal in --fa_d={d} dimensions", "use fa_k <= fa_d")
    positive = [int(j) for j in config.fa_positive_clusters] or list(range(k // 2))
    if not positive or max(positive) >= k or len(positive) == k:
        raise ConfigError(f"--fa_positive_clusters={positive} must be a proper subset of 0..{k - 1}", "fix the list")
    train, test = make_cluster_splits(
        k,
        d,
        config.fa_n,
        config.fa_n_test,
        sigma=config.fa_sigma,
        seed=derive_seed(config.seed, "clusters"),
        positive=positive,
    )
    radii = [float(r) * np.sqrt(d) for r in config.fa_radii]
    curves: dict[str, dict[str, list[float]]] = {}
    final: dict[str, float] = {}
    models = [("binary", "logistic"), ("multiclass", "cross_entropy")]
    if config.fa_adversarial != "none":
        models.append((f"binary_adv_{config.fa_adversarial}", "logistic"))
    for name, loss in models:
        seed = derive_seed(config.seed, "init")  # the same init for the binary nets
        model = (
            cluster_nets.binary_net(d, config.fa_m, seed, init_scale=config.fa_init_scale)
            if loss == "logistic"
            else cluster_nets.multiclass_net(d, k, seed, init_scale=config.fa_init_scale)
        )
        stats = _train(config, run, name, model, loss, train, test, positive)
        final.update({f"{name}/{key}": v for key, v in stats.items()})
        curves[name] = _curves(config, cluster_nets.binary_margin(model, positive), test, radii, train, name)
    f_robust = cluster_nets.robust_net(train.centres, positive, config.fa_robust_bias * d)
    margin = cluster_nets.binary_margin(f_robust)
    # its own smallest flips: its inactive neurons give gradient attacks nothing to follow
    flips = robustness.robust_net_flip_distance(
        margin, test.x, test.y, train.centres, positive, config.fa_robust_bias * d
    )
    curves["f_robust"] = _curves(config, margin, test, radii, train, "f_robust", flip_distance=flips)
    result = {
        "radii": radii,
        "radii_over_sqrt_d": [float(r) for r in config.fa_radii],
        "k": k,
        "d": d,
        "markers": {"sqrt(d/k)": float(np.sqrt(d / k)), "sqrt(d)": float(np.sqrt(d))},
        "attack": config.robust_eval,
        "curves": curves,
    }
    write_json(run.path("robust_accuracy.json"), result, sort_keys=False)
    run.log_artifact(run.path("robust_accuracy.json"))
    _plot_curves(run, result)
    prefix = attack_builders.robust_prefix(config.robust_eval)
    for name, c in curves.items():  # one scalar per model and marker for the runs table
        worst = np.minimum(c[config.robust_eval], c["analytic"])
        for label, r in (("sqrt_d_over_k", np.sqrt(d / k)), ("half_sqrt_d", 0.5 * np.sqrt(d))):
            final[f"{name}/{prefix}robust_accuracy_{label}"] = float(np.interp(r, radii, worst))
    run.log_metrics(final)
    return final


def _train(config: Config, run: Run, name: str, model, loss: str, train, test, positive) -> dict:
    """Full-batch GD with the diagnostics callback in a child run; returns the last diagnostics."""
    child = run.child(name)
    labels = train.y if loss == "logistic" else train.cluster
    signs = (
        [1.0] * config.fa_m + [-1.0] * config.fa_m
        if loss == "logistic"
        else cluster_nets.cluster_signs(config.fa_k, positive)
    )
    perturb, adv_eval = None, None
    if name.startswith("binary_adv"):
        perturb, adv_eval = _adversary(config, model, train, test)
    lr = config.fa_lr_scale / np.sqrt(config.fa_d)
    dual = perturb is None and (config.fa_gd == "dual" or (config.fa_gd == "auto" and config.fa_n < 2 * config.fa_d))
    if dual:  # exactly the same GD steps, run on the pre-activations (see DualFullBatchGD)
        gd = DualFullBatchGD(model, train.x, labels, loss=loss, learning_rate=lr)
    else:
        gd = FullBatchGD(model, train.x, labels, loss=loss, learning_rate=lr, perturb=perturb)
    monitor = fa.Monitor(
        model,
        train.centres,
        positive,
        signs,
        log=child.log_metrics,
        plot_path=run.path("plots", f"{name}_cosines_step{{step}}.png"),
        heatmap_steps=[int(s) for s in config.fa_heatmap_steps],
        one_neuron_per_cluster=loss != "logistic",  # the k-class net: neuron i belongs to cluster i
        name=f"{name} net ({'binary' if loss == 'logistic' else 'cluster'} labels)",
    )
    margin = cluster_nets.binary_margin(model, positive)
    monitor(0)
    start, metrics = time.time(), {}
    while gd.step_count < config.fa_steps:
        loss_value = gd.run(min(config.fa_eval_every, config.fa_steps - gd.step_count))
        extra = {"train/loss": loss_value, "train/accuracy": _acc(margin, train), "test/accuracy": _acc(margin, test)}
        if adv_eval:
            extra.update(adv_eval())
        metrics = monitor(gd.step_count, extra)
        print(
            f"[{name}] step {gd.step_count}/{config.fa_steps} ({time.time() - start:.1f}s): "
            + ", ".join(f"{key} {v:.3f}" for key, v in metrics.items()),
            flush=True,
        )
    cos, lam = monitor.matrices()
    for key, arr in (("cosine_matrix", cos), ("lambda_matrix", lam)):
        with atomic_open(run.path(name, f"{key}.npy"), "wb") as f:
            np.save(f, arr)
        child.log_artifact(run.path(name, f"{key}.npy"))
    for png in monitor.pngs:
        child.log_artifact(png, "plots")
    child.finish()
    return metrics


def _acc(margin, data) -> float:
    return float(np.mean((np.asarray(margin(data.x)) > 0) == (data.y == 1)))


def _adversary(config: Config, model, train, test):
    """PGD on the binary margin for adversarial GD, and robust train/test accuracy for the gap."""
    eps = config.fa_adv_eps * (np.sqrt(config.fa_d) if config.fa_adversarial == "l2" else 1.0)
    margin = cluster_nets.binary_margin(model)
    budget = dict(norm=config.fa_adversarial, eps=eps, steps=config.fa_adv_steps)
    attack = robustness.margin_attack(margin, "pgd", **budget)  # PGD on the margin, random start, step 2.5 eps/steps
    counter = iter(range(10**9))
    prefix = attack_builders.robust_prefix(config.robust_eval)  # the gap measured by --robust_eval, under its own names
    # the gap's attack: the training PGD itself, or APGD-CE / the two-class AutoAttack ensemble
    evaluate = attack if config.robust_eval == "pgd" else robustness.margin_attack(margin, config.robust_eval, **budget)

    def perturb(x, labels):
        return attack(x, labels, (derive_seed(config.seed, "adv_train"), next(counter)))[0]

    def robust_accuracies():
        out = {}
        for split, data in (("train", train), ("test", test)):
            wrong = robustness.broken(evaluate, data.x, data.y, (derive_seed(config.seed, f"adv_eval_{split}"), 0))
            out[f"{prefix}robust_{split}/accuracy"] = float(1.0 - np.mean(wrong))
        gap = out[f"{prefix}robust_train/accuracy"] - out[f"{prefix}robust_test/accuracy"]
        out[f"{prefix}robust/generalisation_gap"] = gap
        return out

    return perturb, robust_accuracies


def _curves(config: Config, margin, test, radii, train, name: str, flip_distance=None) -> dict[str, list[float]]:
    """{--robust_eval attack ("pgd", "apgd_ce", "autoattack"): curve, "analytic": curve} over
    ``radii``; ``flip_distance`` (B,): known flips the analytic curve also counts (f_robust's)."""
    attacked = robustness.robust_curve(
        margin,
        test.x,
        test.y,
        radii,
        steps=config.fa_pgd_steps,
        restarts=config.fa_pgd_restarts,
        seed=derive_seed(config.seed, "curve"),
        attack=config.robust_eval,
        log=lambda line: print(f"[{name}] {line}", flush=True),
    )
    analytic = [
        robustness.analytic_robust_accuracy(margin, test.x, test.y, r, train.centres, train.positive, flip_distance)
        for r in radii
    ]
    return {config.robust_eval: attacked, "analytic": analytic}


def _plot_curves(run: Run, result: dict) -> None:
    series = {}
    attack = result["attack"]
    for name, c in result["curves"].items():
        series[f"{name} ({attack.replace('_', '-').upper()})"] = c[attack]
        # f_robust's analytic curve also counts its constructed smallest flips (robustness.robust_net_flip_distance)
        series[f"{name} (analytic{' + its own flips' if name == 'f_robust' else ''})"] = c["analytic"]
    png = plots.curves_vs(
        run.path("plots", "robust_accuracy.png"),
        result["radii"],
        series,
        markers=result["markers"],
        title=f"l2 robust accuracy (k={result['k']}, d={result['d']})",
        xlabel="l2 radius",
        ylabel="robust accuracy",
        chance=0.5,  # the task is binary (positive vs negative clusters) for every net
    )
    run.log_artifact(png, "plots")
