"""Feature averaging on real data (Li et al. ICLR 2025, Fig. 2; docs/methods.md §C "Curves").

A K-class image dataset becomes a binary task (``--binary_positive_classes``: MNIST odd vs even,
CIFAR-10 classes 5-9 vs 0-4). The same architecture is trained twice with the same recipe:
``binary`` on the 2 labels and ``fine`` on the K original labels, read out as binary
(``--fa_readout``: logsumexp_{J+} z - logsumexp_{J-} z, or sum_{J+} z - sum_{J-} z). Both are
attacked with l2 PGD (or APGD-CE, ``--robust_eval=apgd_ce``) on their binary margin at
``--fa_real_radii`` (pixel units, inputs in [0, 1]); finer supervision should give the more robust
binary classifier.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from robust_keras.analysis import plots, robustness
from robust_keras.atomic_files import write_json
from robust_keras.config import Config
from robust_keras.data import transforms
from robust_keras.errors import ConfigError
from robust_keras.seeds import derive_seed
from robust_keras.tracking.mirror import Run
from robust_keras.training.evaluators import ClassificationEvaluator
from robust_keras.workflows import attack_builders, clean_data, exports, recipes


def fine_readout(model, positive: list[int], num_classes: int, kind: str):
    """Binary margin x -> (B,) of a K-class model: logsumexp or sum of J+ logits minus J- logits."""
    is_pos = tf.constant(np.isin(np.arange(num_classes), positive))

    def margin(x):
        z = tf.cast(model(x, training=False), tf.float32)  # (B, K)
        neg_inf = tf.fill(tf.shape(z), -np.inf)
        if kind == "sum":
            signs = tf.where(is_pos, 1.0, -1.0)
            return tf.linalg.matvec(z, signs)
        pos = tf.reduce_logsumexp(tf.where(is_pos, z, neg_inf), axis=1)
        neg = tf.reduce_logsumexp(tf.where(is_pos, neg_inf, z), axis=1)
        return pos - neg

    return margin


def run(config: Config, run: Run) -> dict:
    robustness.check_margin_attack(config.robust_eval)
    if not config.binary_positive_classes:
        raise ConfigError("feature_averaging_real needs --binary_positive_classes", "e.g. 1,3,5,7,9 for odd digits")
    train, test = clean_data.load_clean(config.data_settings, relabel_binary=False)
    positive = [int(c) for c in config.binary_positive_classes]
    if max(positive) >= train.num_classes or len(set(positive)) >= train.num_classes:
        raise ConfigError(f"--binary_positive_classes={positive} must be a proper subset of the classes", "fix it")
    y_bin_train = transforms.binary_labels(train.labels, positive)
    y_bin_test = transforms.binary_labels(test.labels, positive)
    recipe = config.recipe
    margins = {}
    for name, labels, k in (("binary", y_bin_train, 2), ("fine", train.labels, train.num_classes)):
        child = run.child(name)
        test_labels = y_bin_test if k == 2 else test.labels
        evaluator = ClassificationEvaluator("test", test.images, test_labels, config.eval_batch_size)
        trainer = recipes.train_model(
            config.training_settings,
            child,
            name=name,
            images=train.images,
            labels=labels,
            num_classes=k,
            recipe=recipe,
            evaluators=[evaluator],
            seed=derive_seed(config.seed, name),
        )
        child.finish()
        exports.export(
            run, trainer, name, config.provenance, role=f"{name}-label classifier", positive_classes=positive
        )
        model = trainer.model
        # A 2-class model's margin z_1 - z_0 is fine_readout with J+ = {1}.
        margins[name] = (
            fine_readout(model, [1], 2, "sum") if k == 2 else fine_readout(model, positive, k, config.fa_readout)
        )
    x = transforms.to_float(test.images)
    radii = [float(r) for r in config.fa_real_radii]
    curves = {}
    for name, margin in margins.items():
        curves[name] = robustness.robust_curve(
            margin,
            x,
            y_bin_test,
            radii,
            steps=config.fa_pgd_steps,
            restarts=config.fa_pgd_restarts,
            clip=(0.0, 1.0),
            seed=derive_seed(config.seed, "curve"),
            batch_size=config.eval_batch_size,
            attack=config.robust_eval,
            log=lambda line, name=name: print(f"[{name}] {line}", flush=True),
        )
        print(f"[{name}] l2 robust accuracy: " + ", ".join(f"r={r:g}: {a:.3f}" for r, a in zip(radii, curves[name])))
    result = {
        "radii": radii,
        "positive_classes": positive,
        "dataset": config.dataset,
        "model": config.model,
        "readout": config.fa_readout,
        "attack": config.robust_eval,
        "curves": curves,
    }
    write_json(run.path("robust_accuracy.json"), result, sort_keys=False)
    run.log_artifact(run.path("robust_accuracy.json"))
    png = plots.curves_vs(
        run.path("plots", "robust_accuracy.png"),
        radii,
        {"trained on 2 labels": curves["binary"], f"trained on {train.num_classes} labels": curves["fine"]},
        title=f"l2 robust accuracy under {config.robust_eval.replace('_', '-').upper()}, binary task "
        f"({config.dataset}, {config.model})",
        xlabel="l2 radius (pixels in [0, 1])",
        ylabel="robust accuracy",
        chance=0.5,  # both nets answer the binary task
    )
    run.log_artifact(png, "plots")
    prefix = attack_builders.robust_prefix(config.robust_eval)
    final = {f"{name}/{prefix}robust_accuracy_r{r:g}": a for name, c in curves.items() for r, a in zip(radii, c)}
    run.log_metrics(final)
    return final
