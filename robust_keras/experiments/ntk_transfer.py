"""NTK attacks transfer to wide nets (NTK paper Sec. 3.2, Fig. 3, App. C; METHODS §B).

Two-layer ReLU nets in NTK parameterisation (w ~ N(0, I), frozen +-1 readout, 1/sqrt(m)) of each
width in ``--ntk_widths`` are trained by full-batch GD on (1/2) sum ||f(x) - y||^2 to one-hot
targets with eta = c / lambda_max, on images scaled to unit l2 norm (keeps Theta and f_0 at O(1),
as in the theory's inputs on the sphere). Their infinite-width NTK (closed form, App. C) gives the
kernel predictor g_t(x) = Theta(x, X) alpha_t, alpha_t = Theta^{-1}(I - exp(-eta Theta t)) Y, which
uses no network weights; the nets are initialised antisymmetrically (f_0 = 0) so that f_t ~ g_t.
Every ``--ntk_eval_every`` steps, on held-out inputs: the net's clean accuracy, its accuracy under
its own l-inf FGSM and under FGSM computed on g_t (the NTK attack), and the cosine between the two
input gradients (cross-entropy of f_t and of g_t).
"""

from __future__ import annotations

import json

import numpy as np
import tensorflow as tf

from robust_keras.analysis import plots
from robust_keras.config import Config
from robust_keras.experiments import common
from robust_keras.models import build_model
from robust_keras.ntk.closed_form import two_layer_relu_ntk_tf
from robust_keras.ntk.regression import KernelRegression
from robust_keras.tracking import Run
from robust_keras.training.full_batch import FullBatchGD


def run(config: Config, run: Run) -> dict:
    train, test = common.load_clean(config)
    k = train.num_classes
    x_train, x_test = _unit_norm(common.to_float(train.images)), _unit_norm(common.to_float(test.images))
    flat_train = tf.constant(x_train.reshape(len(train), -1))
    targets = np.eye(k, dtype=np.float32)[train.labels]  # (N, K) one-hot
    theta = two_layer_relu_ntk_tf(flat_train, flat_train).numpy().astype(np.float64)  # (N, N), per output
    eta = config.ntk_lr_scale / np.linalg.eigvalsh(theta)[-1]
    history: dict[str, list[dict]] = {}
    for width in (int(w) for w in config.ntk_widths):
        name = f"width_{width}"
        child = run.child(name)
        model = build_model(
            "two_layer",
            train.image_shape,
            k,
            mean=[0.0],
            std=[1.0],
            width=width,
            parameterization="ntk",
            train_second_layer=False,
            use_bias=False,
            seed=common.derive_seed(config.seed, name),
        )
        _antisymmetric(model)  # f_0 = 0, so the trained net is directly comparable to g_t
        reg = KernelRegression(theta, targets, eta=eta)
        gd = FullBatchGD(model, x_train, targets, loss="mse", learning_rate=eta)
        history[name] = []
        while gd.step_count < config.ntk_steps:
            loss = gd.run(min(config.ntk_eval_every, config.ntk_steps - gd.step_count))
            alpha = tf.constant(reg.alpha(gd.step_count).astype(np.float32))  # (N, K)
            metrics = {
                "train/loss": loss,
                **_evaluate(model, alpha, flat_train, x_test, test.labels, config.attack_eps),
            }
            child.log_metrics(metrics, gd.step_count)
            history[name].append({"step": gd.step_count, **metrics})
            print(
                f"[{name}] step {gd.step_count}/{config.ntk_steps}: "
                + ", ".join(f"{key} {v:.3f}" for key, v in metrics.items()),
                flush=True,
            )
        child.finish()
    with open(run.path("ntk_transfer.json"), "w") as f:
        json.dump({"eta": eta, "eps": config.attack_eps, "history": history}, f, indent=1)
    run.log_artifact(run.path("ntk_transfer.json"))
    series = {}
    for name, rows in history.items():
        for key in ("nn/own_attack_accuracy", "nn/ntk_attack_accuracy", "grad_cosine"):
            series[f"{name} {key}"] = [r[key] for r in rows]
    steps = [r["step"] for r in next(iter(history.values()))]
    png = plots.curves_vs(
        run.path("plots", "ntk_transfer.png"),
        steps,
        series,
        xlabel="GD step",
        ylabel="value",
        title=f"own vs NTK attack (l-inf eps={config.attack_eps})",
    )
    run.log_artifact(png, "plots")
    final = {f"{name}/{key}": v for name, rows in history.items() for key, v in rows[-1].items() if key != "step"}
    run.log_metrics(final)
    return final


def _antisymmetric(model) -> None:
    """Pairs hidden unit r + m/2 with unit r (same w, opposite readout sign): f_0 = 0 exactly and
    the NTK is unchanged (a_r^2 = 1) -- the usual trick to compare a net with its kernel predictor."""
    hidden, readout = model.get_layer("hidden"), model.get_layer("readout")
    w, a = hidden.kernel.numpy(), readout.kernel.numpy()
    half = w.shape[1] // 2
    w[:, half : 2 * half], a[half : 2 * half] = w[:, :half], -a[:half]
    hidden.kernel.assign(w)
    readout.kernel.assign(a)


def _unit_norm(images: np.ndarray) -> np.ndarray:
    """Each image scaled to unit l2 norm (so the NTK's entries and f_0 are O(1)); still in [0, 1]."""
    norms = np.sqrt((images.reshape(len(images), -1) ** 2).sum(1))
    return (images / np.maximum(norms, 1e-12)[:, None, None, None]).astype(np.float32)


def _ce_grad(predict, x, y):
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = predict(x)
        loss = tf.reduce_sum(tf.keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
    return logits, tape.gradient(loss, x)


def _evaluate(model, alpha, flat_train, x_test, y_test, eps) -> dict:
    x = tf.constant(x_test)
    y = tf.constant(y_test)

    def kernel_predict(images):  # g_t(x) = Theta(x, X) alpha_t: no network weights involved
        return tf.matmul(two_layer_relu_ntk_tf(tf.reshape(images, [tf.shape(images)[0], -1]), flat_train), alpha)

    logits, g_nn = _ce_grad(lambda z: model(z, training=False), x, y)
    k_logits, g_ntk = _ce_grad(kernel_predict, x, y)
    acc = lambda z: float(np.mean(np.argmax(model(z, training=False), -1) == y_test))  # noqa: E731
    flat_nn, flat_ntk = tf.reshape(g_nn, [len(y_test), -1]), tf.reshape(g_ntk, [len(y_test), -1])
    cos = tf.reduce_sum(flat_nn * flat_ntk, 1) / (tf.norm(flat_nn, axis=1) * tf.norm(flat_ntk, axis=1) + 1e-12)
    return {
        "nn/clean_accuracy": float(np.mean(np.argmax(logits, -1) == y_test)),
        "ntk/clean_accuracy": float(np.mean(np.argmax(k_logits, -1) == y_test)),
        "nn/own_attack_accuracy": acc(tf.clip_by_value(x + eps * tf.sign(g_nn), 0.0, 1.0)),
        "nn/ntk_attack_accuracy": acc(tf.clip_by_value(x + eps * tf.sign(g_ntk), 0.0, 1.0)),
        "grad_cosine": float(tf.reduce_mean(cos)),
    }
