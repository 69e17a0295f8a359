"""NTK eigen-features: usefulness vs robustness (NTK paper Sec. 4, Figs. 2, 8-9, App. D.2-D.3;
docs/methods.md §B.4).

On a binary task (``--binary_positive_classes``) with +-1 targets and one or more NTKs --
``--ntk_kernel`` ``closed_form``: the infinite-width two-layer ReLU NTK of the flattened images
(App. C); ``empirical``: the empirical NTK of ``--model`` (one output) at its seeded initialisation;
``analytic``: the infinite-width NTK of each architecture in ``--ntk_arch`` (fc<L>, conv<L>,
``ntk.analytic``), all in one run -- Theta = sum_i lambda_i v_i v_i^T on the training set, feature i
is f^(i)(x) = Theta(x, X) v_i v_i^T Y / lambda_i (Eq. 9), evaluated as a kernel predictor.
Usefulness of feature i = its accuracy as a classifier sign(f^(i)); robustness = its accuracy under
l-inf FGSM computed on f^(i) itself (eps = --attack_eps). Both are scored on the first
``--ntk_rank_fraction`` of the held-out examples (the ranking split); the D.3 curve -- features
ranked by that robustness, the top r summed, clean and robust accuracy against r -- is measured on
the rest, so the ranking is not scored on the examples it was chosen on.
Logged per kernel: ``features[_<arch>].json`` (index, eigenvalue, usefulness, robustness), metrics
``features[/<arch>]/...`` and ``aggregation[/<arch>]/...``, gradient images of the top features;
one usefulness x robustness panel per kernel; with several architectures, ``consistency.md`` and
``consistency/*`` metrics: Spearman correlation of feature robustness by eigen-index and the overlap
||V_a^T V_b||_F^2 / k of the top-k eigenspaces, for every pair.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import tensorflow as tf
from scipy import stats

from robust_keras.analysis import plots
from robust_keras.attacks.ntk import ClosedFormKernelPredictor, EmpiricalKernelPredictor, attack_predictor
from robust_keras.config import Config
from robust_keras.errors import ConfigError
from robust_keras.experiments import common
from robust_keras.ntk import analytic, empirical_ntk
from robust_keras.ntk.closed_form import two_layer_relu_ntk_tf
from robust_keras.ntk.regression import KernelRegression
from robust_keras.tracking import Run

TOP_EIGENSPACE = 10  # k of the eigenspace overlap


def run(config: Config, run: Run) -> dict:
    if not config.binary_positive_classes:
        raise ConfigError("ntk_features needs a binary task", "pass --binary_positive_classes, e.g. 1,3,5,7,9")
    train, test = common.load_clean(config)
    x_train, x_test = common.to_float(train.images), common.to_float(test.images)  # (N, H, W, C)
    y_train, y_test = 2.0 * train.labels - 1.0, 2.0 * test.labels - 1.0  # +-1
    split = _split(len(x_test), config.ntk_rank_fraction)
    ranking, evaluation = (x_test[split[0]], y_test[split[0]]), (x_test[split[1]], y_test[split[1]])
    final, panels, studies = {}, {}, {}
    for name, theta, predictor in _kernels(config, train, x_train):
        reg = KernelRegression(theta, y_train[:, None])
        rows, metrics = _study(config, run, name, reg, predictor, ranking, evaluation)
        final.update(metrics)
        panels[name] = ([r["usefulness"] for r in rows], [r["robustness"] for r in rows], [r["index"] for r in rows])
        studies[name] = (reg, rows)
    png = plots.scatter_panels(
        run.path("plots", "usefulness_robustness.png"),
        panels,
        title=f"NTK eigen-features ({config.dataset}, {config.ntk_kernel} kernel, FGSM eps={config.attack_eps:g})",
        xlabel="usefulness (clean accuracy)",
        ylabel="robustness (accuracy under FGSM)",
        colour_label="eigen-index i (0 = largest eigenvalue)",
    )
    run.log_artifact(png, "plots")
    if len(studies) > 1:
        final.update(_consistency(run, studies))
    run.log_metrics(final)
    for key, value in final.items():
        print(f"[ntk_features] {key} = {value:.4f}")
    return final


def _split(n: int, fraction: float) -> tuple[slice, slice]:
    """(ranking, evaluation) slices of the held-out set; fraction 0 uses all of it for both."""
    if fraction == 0:
        return slice(None), slice(None)
    cut = int(round(n * fraction))
    if cut < 2 or n - cut < 2:
        raise ConfigError(
            f"--ntk_rank_fraction={fraction} leaves fewer than 2 of {n} held-out examples on a side",
            "raise --max_test_examples or pass --ntk_rank_fraction=0",
        )
    return slice(0, cut), slice(cut, n)


def _study(config, run, name: str, reg: KernelRegression, predictor, ranking, evaluation) -> tuple[list, dict]:
    """Scores the top --ntk_features features of one kernel on the ranking split, the D.3 curve on
    the evaluation split; logs features json and plots; returns (rows, metrics)."""
    suffix = "" if config.ntk_kernel != "analytic" else f"_{name}"
    key = "" if config.ntk_kernel != "analytic" else f"/{name}"
    count = min(config.ntk_features, len(reg.eigenvalues))
    eps = config.attack_eps
    rows = []
    for i in range(count):
        clean, robust = _feature_accuracy(predictor(_direction(reg, [i])), *ranking, eps)
        rows.append({"index": i, "eigenvalue": float(reg.eigenvalues[i]), "usefulness": clean, "robustness": robust})
    with open(run.path(f"features{suffix}.json"), "w") as f:
        json.dump(rows, f, indent=1)
    run.log_artifact(run.path(f"features{suffix}.json"))
    top, tail = rows[: count // 5], rows[-(count // 5) :]
    metrics = {
        f"features{key}/robustness_top_fifth": float(np.mean([r["robustness"] for r in top])),
        f"features{key}/robustness_bottom_fifth": float(np.mean([r["robustness"] for r in tail])),
        f"features{key}/usefulness_top_fifth": float(np.mean([r["usefulness"] for r in top])),
        f"features{key}/usefulness_bottom_fifth": float(np.mean([r["usefulness"] for r in tail])),
    }
    metrics.update(_aggregation_curve(run, reg, predictor, rows, evaluation, eps, name, suffix, key))
    _gradient_images(run, reg, predictor, evaluation[0], name, suffix)
    return rows, metrics


def _consistency(run, studies: dict) -> dict:
    """Pairwise Spearman correlation of robustness by eigen-index and top-k eigenspace overlap."""
    lines = ["| kernels | Spearman rho of feature robustness | top-10 eigenspace overlap |", "|---|---|---|"]
    rhos, overlaps = [], []
    for (a, (reg_a, rows_a)), (b, (reg_b, rows_b)) in itertools.combinations(studies.items(), 2):
        n = min(len(rows_a), len(rows_b))
        rho = float(stats.spearmanr([r["robustness"] for r in rows_a[:n]], [r["robustness"] for r in rows_b[:n]])[0])
        k = min(TOP_EIGENSPACE, n)
        cross = reg_a.eigenvectors[:, :k].T @ reg_b.eigenvectors[:, :k]
        overlap = float(np.sum(cross**2) / k)
        rhos.append(0.0 if np.isnan(rho) else rho)
        overlaps.append(overlap)
        lines.append(f"| {a} vs {b} | {rho:.3f} | {overlap:.3f} |")
    lines.append(f"| mean | {np.mean(rhos):.3f} | {np.mean(overlaps):.3f} |")
    with open(run.path("consistency.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    run.log_artifact(run.path("consistency.md"))
    return {
        "consistency/robustness_spearman_mean": float(np.mean(rhos)),
        "consistency/top10_eigenspace_overlap_mean": float(np.mean(overlaps)),
    }


def _kernels(config: Config, train, x_train: np.ndarray):
    """[(name, Theta(X, X) (N, N) float64, direction d (N, 1) -> predictor x -> Theta(x, X) d (B, 1))]."""
    if config.ntk_kernel == "closed_form":
        flat = tf.constant(x_train.reshape(len(x_train), -1))
        theta = two_layer_relu_ntk_tf(flat, flat).numpy().astype(np.float64)
        return [("two-layer ReLU", theta, lambda d: ClosedFormKernelPredictor(two_layer_relu_ntk_tf, x_train, d))]
    if config.ntk_kernel == "analytic":
        out = []
        for arch in config.ntk_arch:
            layers = analytic.architecture(arch)
            _, theta = analytic.analytic_kernels(layers, x_train)
            fn = analytic.kernel_fn(layers, x_train.shape[1:])
            out.append((arch, theta, lambda d, fn=fn: ClosedFormKernelPredictor(fn, x_train, d)))
        return out
    # one output: the +-1 regression of Eq. 9
    model = common.build_flags_model(config, train.images, 1, seed=common.derive_seed(config.seed, "ntk_features_init"))
    theta = empirical_ntk(model, x_train, method=config.ntk_method, chunk_size=config.ntk_chunk, dtype=np.float64)
    return [(config.model, theta[:, :, 0, 0], lambda d: EmpiricalKernelPredictor(model, x_train, d))]


def _direction(reg: KernelRegression, indices) -> np.ndarray:
    """d (N, 1) with sum_{i in indices} f^(i)(x) = Theta(x, X) d, i.e. d = sum_i v_i v_i^T Y / lambda_i."""
    weights = reg.spectral_factors()[indices] * reg.projections[indices, 0]
    return (reg.eigenvectors[:, indices] @ weights).astype(np.float32)[:, None]


def _feature_accuracy(predict, x_test, y_test, eps) -> tuple[float, float]:
    """Clean and l-inf FGSM accuracy of the binary predictor sign(f) (+-1 labels), the attack
    computed on f itself (Eq. 8)."""
    x_adv = attack_predictor(predict, x_test, y_test, eps, objective="binary")
    clean, adv = (np.asarray(predict(tf.constant(z)))[:, 0] for z in (x_test, x_adv))
    return float(np.mean(clean * y_test > 0)), float(np.mean(adv * y_test > 0))


def _aggregation_curve(run, reg, predictor, rows, evaluation, eps, name, suffix, key) -> dict:
    """App. D.3: rank features by robustness (ranking split), sum the top r (with their eigenvalues'
    weights), clean and FGSM accuracy of the sum on the evaluation split."""
    x_test, y_test = evaluation
    order = [r["index"] for r in sorted(rows, key=lambda r: -r["robustness"])]
    sizes = sorted({1, 2, 5, 10, 20, 50, len(order)} & set(range(1, len(order) + 1)))
    clean, robust = [], []
    for r in sizes:
        c, a = _feature_accuracy(predictor(_direction(reg, order[:r])), x_test, y_test, eps)
        clean.append(c)
        robust.append(a)
    png = plots.curves_vs(
        run.path("plots", f"robust_feature_aggregation{suffix}.png"),
        sizes,
        {"clean accuracy": clean, "robust accuracy (FGSM)": robust},
        title=f"{name}: the r most robust eigen-features summed (App. D.3)",
        xlabel="r (features kept, most robust first)",
        ylabel="accuracy",
    )
    run.log_artifact(png, "plots")
    return {f"aggregation{key}/clean_accuracy_all": clean[-1], f"aggregation{key}/robust_accuracy_all": robust[-1]}


def _gradient_images(run, reg, predictor, x_test, name: str, suffix: str, count: int = 6) -> None:
    x = tf.constant(x_test[:1])
    images = []
    for i in range(count):
        with tf.GradientTape() as tape:
            tape.watch(x)
            f = tf.reduce_sum(predictor(_direction(reg, [i]))(x))
        g = tape.gradient(f, x).numpy()[0]
        images.append(0.5 + 0.5 * g / (np.abs(g).max() + 1e-12))
    png = plots.image_grid(
        run.path("plots", f"feature_gradients{suffix}.png"),
        np.repeat(x_test[:1], count, 0),
        np.stack(images),
        [f"grad f^({i})" for i in range(count)],
        row_labels=("input x", "grad_x f^(i)"),
        title=f"{name}: input gradients of the top eigen-features (grey = 0, scaled per image)",
    )
    run.log_artifact(png, "plots")
