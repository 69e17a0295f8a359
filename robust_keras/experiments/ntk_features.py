"""NTK eigen-features: usefulness vs robustness (NTK paper Sec. 4, Fig. 2, App. D.3; docs/methods.md §B).

On a binary task (``--binary_positive_classes``) with +-1 targets and an NTK -- ``--ntk_kernel``
``closed_form``: the infinite-width two-layer ReLU NTK of the flattened images (App. C), or
``empirical``: the empirical NTK of ``--model`` (one output) at its seeded initialisation --
Theta = sum_i lambda_i v_i v_i^T on the training set, feature i is
f^(i)(x) = Theta(x, X) v_i v_i^T Y / lambda_i (Eq. 9), evaluated as a kernel predictor
(``attacks.ntk``: closed form, or J(x) u for the empirical kernel, never forming Theta(x, X)).
Usefulness of feature i = its accuracy as a classifier sign(f^(i)) on held-out data; robustness =
its accuracy under l-inf FGSM computed on f^(i) itself (x' = clip(x - eps y sign grad f^(i)), eps =
--attack_eps). Logged: ``features.json`` (index, eigenvalue, usefulness, robustness for the first
``--ntk_features``), the scatter coloured by index, gradient images of the top features, and the
D.3 curve: features ranked by robustness, the top-r summed, clean and robust accuracy against r.
"""

from __future__ import annotations

import json

import numpy as np
import tensorflow as tf

from robust_keras.analysis import plots
from robust_keras.attacks.ntk import ClosedFormKernelPredictor, EmpiricalKernelPredictor, attack_predictor
from robust_keras.config import Config
from robust_keras.errors import ConfigError
from robust_keras.experiments import common
from robust_keras.ntk import empirical_ntk
from robust_keras.ntk.closed_form import two_layer_relu_ntk_tf
from robust_keras.ntk.regression import KernelRegression
from robust_keras.tracking import Run


def run(config: Config, run: Run) -> dict:
    if not config.binary_positive_classes:
        raise ConfigError("ntk_features needs a binary task", "pass --binary_positive_classes, e.g. 1,3,5,7,9")
    train, test = common.load_clean(config)
    x_train, x_test = common.to_float(train.images), common.to_float(test.images)  # (N, H, W, C)
    y_train, y_test = 2.0 * train.labels - 1.0, 2.0 * test.labels - 1.0  # +-1
    theta, predictor = _kernel(config, train, x_train)
    reg = KernelRegression(theta, y_train[:, None])
    count = min(config.ntk_features, len(train))
    rows = []
    eps = config.attack_eps
    for i in range(count):
        clean, robust = _feature_accuracy(predictor(_direction(reg, [i])), x_test, y_test, eps)
        rows.append({"index": i, "eigenvalue": float(reg.eigenvalues[i]), "usefulness": clean, "robustness": robust})
    with open(run.path("features.json"), "w") as f:
        json.dump(rows, f, indent=1)
    run.log_artifact(run.path("features.json"))
    top, tail = rows[: count // 5], rows[-(count // 5) :]
    final = {
        "features/robustness_top_fifth": float(np.mean([r["robustness"] for r in top])),
        "features/robustness_bottom_fifth": float(np.mean([r["robustness"] for r in tail])),
        "features/usefulness_top_fifth": float(np.mean([r["usefulness"] for r in top])),
        "features/usefulness_bottom_fifth": float(np.mean([r["usefulness"] for r in tail])),
    }
    final.update(_aggregation_curve(run, reg, predictor, rows, x_test, y_test, eps))
    png = plots.scatter(
        run.path("plots", "usefulness_robustness.png"),
        [r["usefulness"] for r in rows],
        [r["robustness"] for r in rows],
        [r["index"] for r in rows],
        title=f"NTK eigen-features ({config.dataset}, {config.ntk_kernel} kernel, eps={eps})",
        xlabel="usefulness (clean accuracy)",
        ylabel="robustness (accuracy under FGSM on the feature)",
        colour_label="eigen-index",
    )
    run.log_artifact(png, "plots")
    _gradient_images(run, reg, predictor, x_test)
    run.log_metrics(final)
    for key, value in final.items():
        print(f"[ntk_features] {key} = {value:.4f}")
    return final


def _kernel(config: Config, train, x_train: np.ndarray):
    """(Theta(X, X) (N, N) float64, direction d (N, 1) -> predictor x -> Theta(x, X) d (B, 1))."""
    if config.ntk_kernel == "closed_form":
        flat = tf.constant(x_train.reshape(len(x_train), -1))
        theta = two_layer_relu_ntk_tf(flat, flat).numpy().astype(np.float64)
        return theta, lambda d: ClosedFormKernelPredictor(two_layer_relu_ntk_tf, x_train, d)
    # one output: the +-1 regression of Eq. 9
    model = common.build_flags_model(config, train.images, 1, seed=common.derive_seed(config.seed, "ntk_features_init"))
    theta = empirical_ntk(model, x_train, method=config.ntk_method, chunk_size=config.ntk_chunk, dtype=np.float64)
    return theta[:, :, 0, 0], lambda d: EmpiricalKernelPredictor(model, x_train, d)


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


def _aggregation_curve(run, reg, predictor, rows, x_test, y_test, eps) -> dict:
    """App. D.3: rank features by robustness, sum the top r (with their eigenvalues' weights)."""
    order = [r["index"] for r in sorted(rows, key=lambda r: -r["robustness"])]
    sizes = sorted({1, 2, 5, 10, 20, 50, len(order)} & set(range(1, len(order) + 1)))
    clean, robust = [], []
    for r in sizes:
        c, a = _feature_accuracy(predictor(_direction(reg, order[:r])), x_test, y_test, eps)
        clean.append(c)
        robust.append(a)
    png = plots.curves_vs(
        run.path("plots", "robust_feature_aggregation.png"),
        sizes,
        {"clean accuracy": clean, "robust accuracy (FGSM)": robust},
        title="top-r most robust features combined (App. D.3)",
        xlabel="r",
        ylabel="accuracy",
    )
    run.log_artifact(png, "plots")
    return {"aggregation/clean_accuracy_all": clean[-1], "aggregation/robust_accuracy_all": robust[-1]}


def _gradient_images(run, reg, predictor, x_test, count: int = 6) -> None:
    x = tf.constant(x_test[:1])
    images = []
    for i in range(count):
        with tf.GradientTape() as tape:
            tape.watch(x)
            f = tf.reduce_sum(predictor(_direction(reg, [i]))(x))
        g = tape.gradient(f, x).numpy()[0]
        images.append(0.5 + 0.5 * g / (np.abs(g).max() + 1e-12))
    png = plots.image_grid(
        run.path("plots", "feature_gradients.png"),
        np.repeat(x_test[:1], count, 0),
        np.stack(images),
        [f"grad f^({i})" for i in range(count)],
        row_labels=("input x", "grad_x f^(i)"),
        title="Input gradients of the top eigen-features (grey = 0, scaled per image)",
    )
    run.log_artifact(png, "plots")
