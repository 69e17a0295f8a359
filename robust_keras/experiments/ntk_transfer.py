"""NTK attacks transfer to wide nets (NTK paper Sec. 3.2, Fig. 3, App. C; docs/methods.md §B).

Two-layer ReLU nets in NTK parameterisation (w ~ N(0, I), frozen +-1 readout, 1/sqrt(m)) of each
width in ``--ntk_widths`` (``--ntk_seeds`` initialisations each, child runs ``width_<m>[_seed_<s>]``)
are trained by full-batch GD on (1/2) sum ||f(x) - y||^2 to one-hot
targets with eta = c / lambda_max, on images scaled to unit l2 norm (keeps Theta and f_0 at O(1),
as in the theory's inputs on the sphere). Their infinite-width NTK (closed form, App. C) gives the
kernel predictor g_t(x) = Theta(x, X) alpha_t, alpha_t = Theta^{-1}(I - exp(-eta Theta t)) Y, which
uses no network weights; the nets are initialised antisymmetrically (f_0 = 0) so that f_t ~ g_t.
Every ``--ntk_eval_every`` steps, on held-out inputs: the net's clean accuracy, its accuracy under
its own l-inf attack and under the same attack computed on g_t (the NTK attack; ``--ntk_attack``
ce | max_of_k | sum_of_k, ``--ntk_attack_steps`` 1 = FGSM), and the cosine between the two input
gradients (cross-entropy of f_t and of g_t, App. C Eq. 43). Binary tasks (e.g. CIFAR-10 car vs
airplane, ``--classes=1,0``) use the paper's scalar form by default (``--ntk_binary_output=scalar``,
Eq. 18): one output regressing y in {-1, +1}, accuracy of sign f, the attack x - eps y sign grad f,
the cosine between the gradients of the margin -y f (the attack direction); ``two`` regresses two
one-hot outputs instead.
``--ntk_inputs=pixels`` keeps raw [0, 1] pixels (eta = c / lambda_max scales with the kernel, so GD
still trains) instead of unit-norm images. ``--attack_eps`` is in [0, 1] pixels either way: on an
image x divided by its norm the budget is eps / ||x||_2 (and the valid range [0, 1 / ||x||_2]).

Fig. 7b: the loss gradients of the first ``--ntk_gradient_images`` held-out images, for the NTK
predictor and each width's first net, at the first, middle and last evaluation:
``plots/loss_gradients.png`` and ``loss_gradients.npz`` (``step``, ``images``, ``ntk`` and one array per
net, each (3, n, H, W, C)). ``*/grad_low_frequency_share`` measures how coherent the gradients are:
the share of their spectral energy at spatial frequencies up to a quarter of the band (near 1 for a
smooth blob, 0.05 for white noise: the disc's share of the frequency square; mean over held-out images).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from robust_keras.analysis import image_plots, plots
from robust_keras.atomic_files import atomic_open, write_json
from robust_keras.attacks.ntk import attack_predictor
from robust_keras.config import Config
from robust_keras.data import transforms
from robust_keras.models import build_model
from robust_keras.ntk.closed_form import two_layer_relu_ntk_tf
from robust_keras.ntk.predictors import ClosedFormKernelPredictor
from robust_keras.ntk.regression import KernelRegression, correct
from robust_keras.seeds import derive_seed
from robust_keras.tracking.mirror import Run
from robust_keras.training.full_batch import FullBatchGD
from robust_keras.workflows import clean_data


def run(config: Config, run: Run) -> dict:
    train, test = clean_data.load_clean(config.data_settings)
    scalar = train.num_classes == 2 and config.ntk_binary_output == "scalar"
    k = 1 if scalar else train.num_classes
    x_train, _ = _inputs(config, train.images)
    x_test, test_norms = _inputs(config, test.images)
    flat_train = tf.constant(x_train.reshape(len(train), -1))
    if scalar:  # Eq. 18: one output, +-1 targets
        targets = (2.0 * train.labels - 1.0).astype(np.float32)[:, None]  # (N, 1)
    else:
        targets = np.eye(k, dtype=np.float32)[train.labels]  # (N, K) one-hot
    theta = two_layer_relu_ntk_tf(flat_train, flat_train).numpy().astype(np.float64)  # (N, N), per output
    eta = config.ntk_lr_scale / np.linalg.eigvalsh(theta)[-1]
    history: dict[str, list[dict]] = {}
    shown = x_test[: config.ntk_gradient_images]
    gradients: dict[str, dict[int, np.ndarray]] = {"NTK": {}}  # name -> step -> (n, H, W, C)
    runs = [(int(w), s) for w in config.ntk_widths for s in range(config.ntk_seeds)]
    for width, replica in runs:  # App. C: several nets per width, each from its own initialisation
        name = f"width_{width}" if config.ntk_seeds == 1 else f"width_{width}_seed_{replica}"
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
            seed=derive_seed(config.seed, name),
        )
        _antisymmetric(model)  # f_0 = 0, so the trained net is directly comparable to g_t
        reg = KernelRegression(theta, targets, eta=eta)
        gd = FullBatchGD(model, x_train, targets, loss="mse", learning_rate=eta)
        history[name] = []
        while gd.step_count < config.ntk_steps:
            loss = gd.run(min(config.ntk_eval_every, config.ntk_steps - gd.step_count))
            # g_t(x) = Theta(x, X) alpha_t: no network weights involved
            kernel = ClosedFormKernelPredictor(two_layer_relu_ntk_tf, x_train, reg.alpha(gd.step_count))
            evaluation, g_nn, g_ntk = _evaluate(model, kernel, x_test, test.labels, test_norms, config)
            metrics = {"train/loss": loss, **evaluation}
            if replica == 0:
                gradients.setdefault(f"m={width}", {})[gd.step_count] = g_nn[: len(shown)]
                gradients["NTK"][gd.step_count] = g_ntk[: len(shown)]
            child.log_metrics(metrics, gd.step_count)
            history[name].append({"step": gd.step_count, **metrics})
            print(
                f"[{name}] step {gd.step_count}/{config.ntk_steps}: "
                + ", ".join(f"{key} {v:.3f}" for key, v in metrics.items()),
                flush=True,
            )
        child.finish()
    record = {"eta": eta, "eps": config.attack_eps, "outputs": k, "inputs": config.ntk_inputs, "history": history}
    write_json(run.path("ntk_transfer.json"), record, indent=1, sort_keys=False)
    run.log_artifact(run.path("ntk_transfer.json"))
    steps = [r["step"] for r in next(iter(history.values()))]
    accuracy = {}
    for name, rows in history.items():
        accuracy[f"{name}, own attack"] = [r["nn/own_attack_accuracy"] for r in rows]
        accuracy[f"{name}, NTK attack"] = [r["nn/ntk_attack_accuracy"] for r in rows]
    objective = "-y f (Eq. 18)" if k == 1 else config.ntk_attack
    png = plots.curve_panels(
        run.path("plots", "ntk_transfer.png"),
        steps,
        {
            "net accuracy under attack": accuracy,
            "cosine of input gradients, net vs NTK": {
                name: [r["grad_cosine"] for r in rows] for name, rows in history.items()
            },
        },
        title=f"own vs NTK {objective} attack, l-inf eps={config.attack_eps:g} ([0, 1] pixels; "
        f"{config.ntk_inputs.replace('_', '-')} inputs), {config.ntk_attack_steps} step(s)",
        xlabel="GD step",
    )
    run.log_artifact(png, "plots")
    if len(shown):
        _plot_gradients(run, shown, gradients, steps)
    final = {f"{name}/{key}": v for name, rows in history.items() for key, v in rows[-1].items() if key != "step"}
    run.log_metrics(final)
    return final


def _plot_gradients(run: Run, images: np.ndarray, gradients: dict[str, dict[int, np.ndarray]], steps) -> None:
    """Fig. 7b: rows = (image, predictor), columns = the input and its loss gradient at the first,
    middle and last evaluation; also saved as loss_gradients.npz."""
    chosen = sorted({steps[0], steps[len(steps) // 2], steps[-1]})
    stacked = {name: np.stack([by_step[s] for s in chosen]) for name, by_step in gradients.items()}
    with atomic_open(run.path("loss_gradients.npz"), "wb") as f:
        np.savez_compressed(f, step=np.array(chosen), images=images, **stacked)
    run.log_artifact(run.path("loss_gradients.npz"))
    table, labels = [], []
    for i, image in enumerate(images / np.maximum(images.max(axis=(1, 2, 3), keepdims=True), 1e-12)):  # for display
        for name, g in stacked.items():
            table.append([image, *g[:, i]])
            labels.append(f"image {i}: {name}")
    png = image_plots.signed_image_table(
        run.path("plots", "loss_gradients.png"),
        table,
        row_labels=labels,
        col_titles=["input", *(f"grad_x loss, step {s}" for s in chosen)],
        title="loss gradients of the nets and their NTK during training (red > 0 > blue, scaled per cell)",
    )
    run.log_artifact(png, "plots")


def _low_frequency_share(g: np.ndarray) -> float:
    """Mean over images of the share of |FFT2(g)|^2 (summed over channels) at spatial frequencies
    with radius <= 1/4 of the Nyquist band; g (B, H, W, C)."""
    power = (np.abs(np.fft.fft2(g, axes=(1, 2))) ** 2).sum(-1)  # (B, H, W)
    fy, fx = np.meshgrid(np.fft.fftfreq(g.shape[1]), np.fft.fftfreq(g.shape[2]), indexing="ij")
    low = np.hypot(fy, fx) <= 0.125  # |f| <= 1/4 of the 0.5 cycles/pixel Nyquist frequency
    return float(np.mean(power[:, low].sum(1) / np.maximum(power.reshape(len(g), -1).sum(1), 1e-30)))


def _antisymmetric(model) -> None:
    """Pairs hidden unit r + m/2 with unit r (same w, opposite readout sign): f_0 = 0 exactly and
    the NTK is unchanged (a_r^2 = 1) -- the usual trick to compare a net with its kernel predictor."""
    hidden, readout = model.get_layer("hidden"), model.get_layer("readout")
    w, a = hidden.kernel.numpy(), readout.kernel.numpy()
    half = w.shape[1] // 2
    w[:, half : 2 * half], a[half : 2 * half] = w[:, :half], -a[:half]
    hidden.kernel.assign(w)
    readout.kernel.assign(a)


def _inputs(config: Config, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, per-image scale (N,)): [0, 1] pixels (scale 1) or, with --ntk_inputs=unit_norm, each
    image divided by its l2 norm (so the NTK's entries and f_0 are O(1)); scale = that norm."""
    x = transforms.to_float(images)
    if config.ntk_inputs != "unit_norm":
        return x, np.ones(len(x), np.float32)
    norms = np.maximum(np.sqrt((x.reshape(len(x), -1) ** 2).sum(1)), 1e-12).astype(np.float32)
    return (x / norms[:, None, None, None]).astype(np.float32), norms


def _loss_grad(predict, x, y):
    """(outputs, input gradient of the attack objective): cross-entropy for K outputs; for one
    output with y in {-1, +1} the margin -y f, whose gradient -y grad f is the direction of Eq. 18's
    attack x - eps y sign(grad f) (a squared loss would weigh it by f - y, whose sign differs
    between the net and the kernel and flips their cosine)."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = predict(x)
        if logits.shape[-1] == 1:
            loss = -tf.reduce_sum(tf.cast(y, logits.dtype) * logits[:, 0])
        else:
            loss = tf.reduce_sum(tf.keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
    return logits, tape.gradient(loss, x)


def _evaluate(model, kernel: ClosedFormKernelPredictor, x_test, y_test, scale, config: Config):
    """(metrics, net loss gradient, NTK loss gradient); the gradients (N, H, W, C) as NumPy.
    ``scale`` (N,): what each input was divided by (its pixel l2 norm for unit-norm inputs, else 1)."""
    scalar = int(model.output_shape[-1]) == 1
    y_test = 2.0 * y_test - 1.0 if scalar else y_test  # +-1 for the scalar form
    x, y = tf.constant(x_test), tf.constant(y_test)
    net = lambda z: model(z, training=False)  # noqa: E731
    logits, g_nn = _loss_grad(net, x, y)
    k_logits, g_ntk = _loss_grad(kernel, x, y)
    acc = lambda z: float(np.mean(correct(net(z), y_test)))  # noqa: E731
    objective = "binary" if scalar else config.ntk_attack
    attack = lambda predict: attack_predictor(  # noqa: E731
        # --attack_eps is in [0, 1] pixels: on an image divided by its norm s the same budget is eps / s,
        # and the valid range [0, 1 / s]
        predict,
        x_test,
        y_test,
        config.attack_eps / scale,
        objective=objective,
        steps=config.ntk_attack_steps,
        clip=(0.0, 1.0 / scale),
    )
    flat_nn, flat_ntk = tf.reshape(g_nn, [len(y_test), -1]), tf.reshape(g_ntk, [len(y_test), -1])
    cos = tf.reduce_sum(flat_nn * flat_ntk, 1) / (tf.norm(flat_nn, axis=1) * tf.norm(flat_ntk, axis=1) + 1e-12)
    g_nn, g_ntk = g_nn.numpy(), g_ntk.numpy()
    metrics = {
        "nn/clean_accuracy": float(np.mean(correct(logits, y_test))),
        "ntk/clean_accuracy": float(np.mean(correct(k_logits, y_test))),
        "nn/own_attack_accuracy": acc(attack(net)),
        "nn/ntk_attack_accuracy": acc(attack(kernel)),
        "grad_cosine": float(tf.reduce_mean(cos)),
        "nn/grad_low_frequency_share": _low_frequency_share(g_nn),
        "ntk/grad_low_frequency_share": _low_frequency_share(g_ntk),
    }
    return metrics, g_nn, g_ntk
