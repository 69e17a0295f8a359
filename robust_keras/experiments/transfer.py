"""Transfer attacks between SavedModels (robust-before-non-robust paper, Claim 1 and Fig. 4).

Each ``--source_models`` entry crafts adversarial examples on the first ``--transfer_examples``
test images; each ``--target_models`` entry is evaluated on them. ``--transfer_train_seeds`` first
trains one clean model per seed in this run (child runs ``train seed_<s>``), used on both sides.
Models are named after their run directory (``<run>/models/model`` -> ``<run>``; another model
name is appended: ``<run>.source``). Logged per (source, target):
``transfer/<source>__<target>/error`` (untargeted error, pred != y) and
``.../target_success`` (pred == t, targeted attacks only), one nested child run per source,
the matrix as ``transfer_matrix.json`` and heatmap PNGs.
"""

from __future__ import annotations

import os

import numpy as np

from robust_keras.analysis import plots
from robust_keras.atomic_files import write_json
from robust_keras.config import Config
from robust_keras.data import transforms
from robust_keras.errors import ConfigError
from robust_keras.export import load_model
from robust_keras.seeds import derive_seed
from robust_keras.tracking.mirror import Run
from robust_keras.training.evaluators import predicted_labels
from robust_keras.workflows import attack_builders, clean_classifier, clean_data


def _names(paths: list[str]) -> list[str]:
    """Short, unique display names for SavedModel paths: ``<run>/models/<model>`` is named after
    the run directory (``<run>``, or ``<run>.<model>`` for models other than ``model``), any other
    path after its last folder."""
    names = []
    for path in paths:
        parts = os.path.normpath(os.path.abspath(path)).split(os.sep)
        if len(parts) >= 3 and parts[-2] == "models":
            names.append(parts[-3] if parts[-1] == "model" else f"{parts[-3]}.{parts[-1]}")
        else:
            names.append(parts[-1])
    return names


def _unique(names: list[str]) -> list[str]:
    """Repeated names get their position as a prefix (``0_model``, ``1_model``)."""
    return [f"{i}_{n}" if names.count(n) > 1 else n for i, n in enumerate(names)]


def _train_models(config: Config, run: Run, train, test) -> list[tuple[str, str]]:
    """(name, path) of the models ``--transfer_train_seeds`` asks for, trained (or found) in this run."""
    models, settings = [], clean_classifier.ClassifierSettings.of(config)
    for seed in (int(s) for s in config.transfer_train_seeds):
        name = f"seed_{seed}"
        child = run.child(f"train {name}")
        child.log_params({"model": config.model, "seed": seed, **config.recipe.__dict__})
        clean_classifier.train_and_export(settings, child, train, test, name=name, seed=seed)
        child.finish()
        models.append((name, run.path("models", name)))
    return models


def run(config: Config, run: Run) -> dict:
    if not config.transfer_train_seeds and (not config.source_models or not config.target_models):
        raise ConfigError(
            "transfer needs --source_models and --target_models, or --transfer_train_seeds",
            "pass SavedModel directories, comma-separated, or seeds of models to train first",
        )
    train, test = clean_data.load_clean(config.data_settings)
    trained = _train_models(config, run, train, test)
    source_paths = [*config.source_models, *(path for _, path in trained)]
    target_paths = [*config.target_models, *(path for _, path in trained)]
    test = test.take(config.transfer_examples)
    x, y = transforms.to_float(test.images), test.labels
    targeted = config.attack_target != "none"
    t = y  # untargeted: the labels to move away from
    if targeted:
        t = transforms.attack_targets(config.attack_target, y, test.num_classes, derive_seed(config.seed, "targets"))
    sources = [load_model(p, test.image_shape, config.trust_savedmodels) for p in source_paths]
    targets = [load_model(p, test.image_shape, config.trust_savedmodels) for p in target_paths]
    own = [name for name, _ in trained]
    src_names, tgt_names = _unique(_names(config.source_models) + own), _unique(_names(config.target_models) + own)
    error = np.zeros([len(sources), len(targets)])
    success = np.zeros_like(error)
    for i, (source, src_name) in enumerate(zip(sources, src_names)):
        child = run.child(f"source={src_name}")
        attack = attack_builders.make_attack(config.attack_settings, source, targeted=targeted)
        batches = []
        for b, start in enumerate(range(0, len(y), config.eval_batch_size)):
            sl = slice(start, start + config.eval_batch_size)
            batches.append(np.asarray(attack(x[sl], t[sl], (derive_seed(config.seed, "attack"), b))[0]))
        x_adv = np.concatenate(batches)
        print(f"[transfer] crafted {len(x_adv)} examples on {src_name}")
        for j, (target, tgt_name) in enumerate(zip(targets, tgt_names)):
            pred = predicted_labels(target, x_adv, config.eval_batch_size)
            error[i, j] = float(np.mean(pred != y))
            success[i, j] = float(np.mean(pred == t)) if targeted else float("nan")
            metrics = {f"transfer/{tgt_name}/error": error[i, j]}
            if targeted:
                metrics[f"transfer/{tgt_name}/target_success"] = success[i, j]
            child.log_metrics(metrics)
            run.log_metrics({k.replace("transfer/", f"transfer/{src_name}__", 1): v for k, v in metrics.items()})
            print(
                f"[transfer] {src_name} -> {tgt_name}: error {error[i, j]:.3f}"
                + (f", target success {success[i, j]:.3f}" if targeted else "")
            )
        child.finish()
    result = {
        "sources": src_names,
        "targets": tgt_names,
        "error": error.tolist(),
        "target_success": success.tolist() if targeted else None,
        "examples": int(len(y)),
    }
    write_json(run.path("transfer_matrix.json"), result, sort_keys=False)
    run.log_artifact(run.path("transfer_matrix.json"))
    meaning = {"error": "error (share misclassified)", "target_success": "target success (share sent to the target)"}
    for key, matrix in (("error", error), ("target_success", success if targeted else None)):
        if matrix is not None:
            png = plots.heatmap(
                run.path("plots", f"transfer_{key}.png"),
                matrix,
                rows=src_names,
                cols=tgt_names,
                title=f"transfer {meaning[key]}, {config.attack_norm} eps={config.attack_eps:g}, {len(y)} test images",
                xlabel="target model (evaluated)",
                ylabel="source model (attacked)",
            )
            run.log_artifact(png, "plots")
    return result
