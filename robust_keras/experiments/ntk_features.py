"""NTK eigen-features: usefulness vs robustness (NTK paper Sec. 4, Figs. 2, 8-9, App. D.2-D.3;
docs/methods.md §B.4).

On a binary task (``--binary_positive_classes``: one output, +-1 targets, sign classifier, FGSM
through -y f) or a multiclass one (K outputs on one-hot targets, argmax classifier, FGSM on the
cross-entropy; closed-form and analytic kernels) and one or more NTKs --
``--ntk_kernel`` ``closed_form``: the infinite-width two-layer ReLU NTK of the flattened images
(App. C); ``empirical``: the empirical NTK of ``--model`` (one output) at its seeded initialisation;
``analytic``: the infinite-width NTK of each architecture in ``--ntk_arch`` (fc<L>, conv<L>,
``ntk.analytic``), all in one run -- Theta = sum_i lambda_i v_i v_i^T on the training set, feature i
is f^(i)(x) = Theta(x, X) v_i v_i^T Y / lambda_i (Eq. 9), evaluated as a kernel predictor.
Usefulness of feature i = its accuracy as a classifier sign(f^(i)); robustness = its accuracy under
l-inf FGSM computed on f^(i) itself (eps = --attack_eps). Both are scored on the first
``--ntk_rank_fraction`` of the held-out examples (the ranking split); the D.3 curve -- features
ranked by that robustness, the top r summed, clean accuracy, accuracy under FGSM on the sum and
under FGSM transferred from the full kernel, against r -- is measured on the rest, so the ranking
is not scored on the examples it was chosen on.
Logged per kernel: ``features[_<arch>].json`` (index, eigenvalue, usefulness, robustness), metrics
``features[/<arch>]/...`` and ``aggregation[/<arch>]/...``, gradient images of the top features and
of the useful non-robust ones (Fig. 4: the scored features furthest into the upper left of the
usefulness x robustness plane, usefulness minus robustness largest); on a binary task the loss
gradient split into the features' shares (App. D.1, Prop. 1, ``ntk.feature_gradients``:
``gradient_shares[_<arch>].json``, metrics ``features[/<arch>]/loss_gradient_share_*``);
one usefulness x robustness panel per kernel; with several architectures, ``consistency.md`` and
``consistency/*`` metrics: Spearman correlation of feature robustness by eigen-index and the overlap
||V_a^T V_b||_F^2 / k of the top-k eigenspaces, for every pair.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import tensorflow as tf
from scipy import stats

from robust_keras.analysis import image_plots, plots
from robust_keras.atomic_files import atomic_open, write_json
from robust_keras.attacks.ntk import attack_predictor
from robust_keras.config import Config
from robust_keras.data import transforms
from robust_keras.errors import ConfigError
from robust_keras.ntk import analytic, empirical_ntk, feature_gradients
from robust_keras.ntk.closed_form import two_layer_relu_ntk_tf
from robust_keras.ntk.predictors import ClosedFormKernelPredictor, EmpiricalKernelPredictor
from robust_keras.ntk.regression import KernelRegression, correct, eigenspace_overlap
from robust_keras.seeds import derive_seed
from robust_keras.tracking.mirror import Run
from robust_keras.workflows import clean_data, recipes

TOP_EIGENSPACE = 10  # k of the eigenspace overlap


def run(config: Config, run: Run) -> dict:
    binary = bool(config.binary_positive_classes)
    if not binary and config.ntk_kernel == "empirical":
        raise ConfigError(
            "ntk_features on a multiclass task needs a kernel with identity output structure",
            "use --ntk_kernel=closed_form or analytic, or pass --binary_positive_classes",
        )
    train, test = clean_data.load_clean(config.data_settings)
    x_train, x_test = transforms.to_float(train.images), transforms.to_float(test.images)  # (N, H, W, C)
    if binary:  # one output regressing +-1 (Eq. 9)
        targets, y_test = (2.0 * train.labels - 1.0)[:, None], 2.0 * test.labels - 1.0
    else:  # K outputs regressing one-hot targets (App. B, multiclass)
        targets, y_test = np.eye(train.num_classes)[train.labels], test.labels
    split = _split(len(x_test), config.ntk_rank_fraction)
    ranking, evaluation = (x_test[split[0]], y_test[split[0]]), (x_test[split[1]], y_test[split[1]])
    final, panels, studies = {}, {}, {}
    for name, theta, predictor in _kernels(config, train, x_train):
        reg = KernelRegression(theta, targets)
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
        chance=0.5 if binary else 1.0 / train.num_classes,
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
    started = time.time()
    print(f"[ntk_features] {name}: scoring {count} eigen-features (clean and FGSM accuracy of each) ...", flush=True)
    for i in range(count):
        clean, robust = _feature_accuracy(predictor(reg.feature_direction([i])), *ranking, eps)
        rows.append({"index": i, "eigenvalue": float(reg.eigenvalues[i]), "usefulness": clean, "robustness": robust})
    print(f"[ntk_features] {name}: features scored in {time.time() - started:.0f} s", flush=True)
    write_json(run.path(f"features{suffix}.json"), rows, indent=1, sort_keys=False)
    run.log_artifact(run.path(f"features{suffix}.json"))
    top, tail = rows[: count // 5], rows[-(count // 5) :]
    metrics = {
        f"features{key}/robustness_top_fifth": float(np.mean([r["robustness"] for r in top])),
        f"features{key}/robustness_bottom_fifth": float(np.mean([r["robustness"] for r in tail])),
        f"features{key}/usefulness_top_fifth": float(np.mean([r["usefulness"] for r in top])),
        f"features{key}/usefulness_bottom_fifth": float(np.mean([r["usefulness"] for r in tail])),
    }
    metrics.update(_aggregation_curve(run, reg, predictor, rows, evaluation, eps, name, suffix, key))
    _gradient_images(
        run, reg, predictor, evaluation, f"feature_gradients{suffix}", rows[:6], f"{name}: the top eigen-features"
    )
    useful_nonrobust = sorted(rows, key=lambda r: r["robustness"] - r["usefulness"])[:6]
    _gradient_images(
        run,
        reg,
        predictor,
        evaluation,
        f"useful_nonrobust_features{suffix}",
        useful_nonrobust,
        f"{name}: useful non-robust eigen-features (Fig. 4)",
    )
    if reg.targets.shape[1] == 1:
        metrics.update(_gradient_shares(run, reg, predictor, evaluation, count, name, suffix, key))
    return rows, metrics


def _consistency(run, studies: dict) -> dict:
    """Pairwise Spearman correlation of robustness by eigen-index and top-k eigenspace overlap."""
    lines = ["| kernels | Spearman rho of feature robustness | top-10 eigenspace overlap |", "|---|---|---|"]
    rhos, overlaps = [], []
    for (a, (reg_a, rows_a)), (b, (reg_b, rows_b)) in itertools.combinations(studies.items(), 2):
        n = min(len(rows_a), len(rows_b))
        rho = float(stats.spearmanr([r["robustness"] for r in rows_a[:n]], [r["robustness"] for r in rows_b[:n]])[0])
        overlap = eigenspace_overlap(reg_a, reg_b, min(TOP_EIGENSPACE, n))
        rhos.append(0.0 if np.isnan(rho) else rho)
        overlaps.append(overlap)
        lines.append(f"| {a} vs {b} | {rho:.3f} | {overlap:.3f} |")
    lines.append(f"| mean | {np.mean(rhos):.3f} | {np.mean(overlaps):.3f} |")
    with atomic_open(run.path("consistency.md"), "w") as f:
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
            started = time.time()
            print(f"[ntk_features] {arch}: analytic NTK of {len(x_train)} training inputs ...", flush=True)
            _, theta = analytic.analytic_kernels(layers, x_train)
            print(f"[ntk_features] {arch}: kernel done in {time.time() - started:.0f} s", flush=True)
            fn = analytic.kernel_fn(layers, x_train.shape[1:])
            out.append((arch, theta, lambda d, fn=fn: ClosedFormKernelPredictor(fn, x_train, d)))
        return out
    # one output: the +-1 regression of Eq. 9
    model = recipes.build_configured_model(
        config.model_settings,
        train.images.shape[1:],
        transforms.channel_stats(train.images),
        1,
        seed=derive_seed(config.seed, "ntk_features_init"),
    )
    theta = empirical_ntk(model, x_train, method=config.ntk_method, chunk_size=config.ntk_chunk, dtype=np.float64)
    return [(config.model, theta[:, :, 0, 0], lambda d: EmpiricalKernelPredictor(model, x_train, d))]


def _accuracy(outputs, y) -> float:
    return float(np.mean(correct(outputs, y)))


def _fgsm(predict, x, y, eps: float) -> np.ndarray:
    """FGSM on ``predict``: through -y f for +-1 float labels (Eq. 8), cross-entropy for int labels."""
    binary = np.asarray(y).dtype.kind == "f"
    return attack_predictor(predict, x, y, eps, objective="binary" if binary else "ce")


def _chance(y) -> float:
    """Accuracy of guessing: 1/2 for +-1 targets (binary), 1/K for K class labels."""
    y = np.asarray(y)
    return 0.5 if y.dtype.kind == "f" else 1.0 / max(int(y.max()) + 1, 2)


def _feature_accuracy(predict, x_test, y_test, eps) -> tuple[float, float]:
    """Clean accuracy of a (sum of) feature predictor(s), and its accuracy under l-inf FGSM computed
    on the predictor itself."""
    x_adv = _fgsm(predict, x_test, y_test, eps)
    return _accuracy(predict(tf.constant(x_test)), y_test), _accuracy(predict(tf.constant(x_adv)), y_test)


def _aggregation_curve(run, reg, predictor, rows, evaluation, eps, name, suffix, key) -> dict:
    """App. D.3: rank features by robustness (ranking split), sum the top r (with their eigenvalues'
    weights); on the evaluation split: clean accuracy, accuracy under FGSM on the sum itself, and
    under the transferred FGSM computed once on the full kernel predictor f_inf (all N features)."""
    x_test, y_test = evaluation
    x_transfer = _fgsm(predictor(reg.alpha().astype(np.float32)), x_test, y_test, eps)
    order = [r["index"] for r in sorted(rows, key=lambda r: -r["robustness"])]
    sizes = sorted({1, 2, 5, 10, 20, 50, len(order)} & set(range(1, len(order) + 1)))
    clean, robust, transfer = [], [], []
    for r in sizes:
        predict = predictor(reg.feature_direction(order[:r]))
        c, a = _feature_accuracy(predict, x_test, y_test, eps)
        clean.append(c)
        robust.append(a)
        transfer.append(_accuracy(predict(tf.constant(x_transfer)), y_test))
    png = plots.curves_vs(
        run.path("plots", f"robust_feature_aggregation{suffix}.png"),
        sizes,
        {
            "clean accuracy": clean,
            "own-attack accuracy (FGSM on the r-feature kernel)": robust,
            "transfer-attack accuracy (FGSM on the full kernel)": transfer,
        },
        title=f"{name}: the r most robust eigen-features summed (App. D.3, l-inf eps={eps:g})",
        xlabel="r (features kept, most robust first)",
        ylabel="accuracy",
        chance=_chance(y_test),
        xscale="log",
    )
    run.log_artifact(png, "plots")
    write_json(
        run.path(f"aggregation{suffix}.json"),
        {"r": sizes, "clean": clean, "robust": robust, "transfer": transfer},
        indent=1,
        sort_keys=False,
    )
    run.log_artifact(run.path(f"aggregation{suffix}.json"))
    best = int(np.argmax(np.minimum(clean, robust)))
    return {
        f"aggregation{key}/clean_accuracy_all": clean[-1],
        f"aggregation{key}/robust_accuracy_all": robust[-1],
        f"aggregation{key}/transfer_accuracy_all": transfer[-1],
        f"aggregation{key}/best_min_clean_robust": min(clean[best], robust[best]),
    }


def _gradient_images(run, reg, predictor, evaluation, stem: str, rows: list[dict], title: str) -> None:
    """grad_x f^(i) of the features ``rows`` at three held-out images (the true class's output for K
    outputs): a row per image, the image first, then one column per feature titled with its
    usefulness and robustness."""
    x_test, y_test = evaluation
    shown = min(3, len(x_test))
    x = tf.constant(x_test[:shown])
    columns = []
    for row in rows:
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = predictor(reg.feature_direction([row["index"]]))(x)  # (shown, O)
            f = out[:, 0] if out.shape[1] == 1 else tf.gather(out, np.asarray(y_test[:shown], np.int64), batch_dims=1)
            total = tf.reduce_sum(f)  # the images do not interact: its gradient is each image's own
        g = tape.gradient(total, x).numpy()  # (shown, H, W, C)
        scale = np.abs(g).reshape(shown, -1).max(1).reshape(-1, *[1] * (g.ndim - 1)) + 1e-12
        columns.append(0.5 + 0.5 * g / scale)
    png = image_plots.image_grid(
        run.path("plots", f"{stem}.png"),
        [np.stack([x_test[j]] + [c[j] for c in columns]) for j in range(shown)],  # a row per image: x, then grads
        ["input x"] + [f"f^({r['index']}): use {r['usefulness']:.2f}\nrob {r['robustness']:.2f}" for r in rows],
        row_labels=[f"image {j + 1}" for j in range(shown)],
        title=f"{title}: input gradients (grey = 0, scaled per image)",
    )
    run.log_artifact(png, "plots")


def _gradient_shares(run, reg, predictor, evaluation, count: int, name: str, suffix: str, key: str) -> dict:
    """Prop. 1: each scored feature's share of the logistic-loss gradient of the full kernel machine,
    mean over up to 64 evaluation images; json, a share-by-index plot and summary metrics."""
    x_test, y_test = evaluation
    x, y = x_test[:64], y_test[:64]
    shares = feature_gradients.gradient_shares(predictor, reg, x, y, count).mean(0)  # (count + 1,)
    write_json(
        run.path(f"gradient_shares{suffix}.json"),
        {"index": list(range(count)), "share": shares[:-1].tolist(), "rest": float(shares[-1])},
        indent=1,
        sort_keys=False,
    )
    run.log_artifact(run.path(f"gradient_shares{suffix}.json"))
    png = plots.curves_vs(
        run.path("plots", f"gradient_shares{suffix}.png"),
        list(range(count)),
        {"share of the loss gradient": shares[:-1], "cumulative share": np.cumsum(shares[:-1])},
        title=f"{name}: logistic-loss gradient by eigen-feature (Prop. 1)\n"
        f"mean of {len(x)} held-out images; features beyond i = {count - 1} hold {shares[-1]:.2f}",
        xlabel="eigen-index i (0 = largest eigenvalue)",
        ylabel="share <c grad f^(i), grad l> / ||grad l||^2",
        ylim=None,
    )
    run.log_artifact(png, "plots")
    fifth = max(1, count // 5)
    return {
        f"features{key}/loss_gradient_share_top_fifth": float(shares[:fifth].sum()),
        f"features{key}/loss_gradient_share_scored": float(shares[:-1].sum()),
        f"features{key}/loss_gradient_share_rest": float(shares[-1]),
    }
