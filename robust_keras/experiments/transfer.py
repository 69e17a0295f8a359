"""Transfer attacks between SavedModels (robust-before-non-robust paper, Claim 1 and Fig. 4).

Each ``--source_models`` entry crafts adversarial examples on the first ``--transfer_examples``
test images; each ``--target_models`` entry is evaluated on them. Logged per (source, target):
``transfer/<source>__<target>/error`` (untargeted error, pred != y) and
``.../target_success`` (pred == t, targeted attacks only), one nested child run per source,
the matrix as ``transfer_matrix.json`` and heatmap PNGs.
"""

from __future__ import annotations

import json
import os

import numpy as np

from robust_keras.analysis import plots
from robust_keras.config import Config
from robust_keras.data import transforms
from robust_keras.errors import ConfigError
from robust_keras.experiments import common
from robust_keras.export import load_model
from robust_keras.tracking import Run


def _names(paths: list[str]) -> list[str]:
    """Short, unique display names for model paths (basename, parent dir if needed)."""
    names = [os.path.basename(os.path.normpath(p)) for p in paths]
    if len(set(names)) < len(names):
        names = [os.path.join(*os.path.normpath(p).split(os.sep)[-2:]).replace(os.sep, "_") for p in paths]
    return [f"{i}_{n}" if names.count(n) > 1 else n for i, n in enumerate(names)]


def run(config: Config, run: Run) -> dict:
    if not config.source_models or not config.target_models:
        raise ConfigError(
            "transfer needs --source_models and --target_models", "pass SavedModel directories, comma-separated"
        )
    _, test = common.load_clean(config)
    test = test.take(config.transfer_examples)
    x, y = common.to_float(test.images), test.labels
    targeted = config.attack_target != "none"
    t = y  # untargeted: the labels to move away from
    if targeted:
        t = transforms.attack_targets(
            config.attack_target, y, test.num_classes, common.derive_seed(config.seed, "targets")
        )
    sources = [load_model(p, test.image_shape, config.trust_savedmodels) for p in config.source_models]
    targets = [load_model(p, test.image_shape, config.trust_savedmodels) for p in config.target_models]
    src_names, tgt_names = _names(config.source_models), _names(config.target_models)
    error = np.zeros([len(sources), len(targets)])
    success = np.zeros_like(error)
    for i, (source, src_name) in enumerate(zip(sources, src_names)):
        child = run.child(f"source={src_name}")
        attack = common.make_attack(config, source, targeted=targeted)
        batches = []
        for b, start in enumerate(range(0, len(y), config.eval_batch_size)):
            sl = slice(start, start + config.eval_batch_size)
            batches.append(np.asarray(attack(x[sl], t[sl], (common.derive_seed(config.seed, "attack"), b))[0]))
        x_adv = np.concatenate(batches)
        print(f"[transfer] crafted {len(x_adv)} examples on {src_name}")
        for j, (target, tgt_name) in enumerate(zip(targets, tgt_names)):
            pred = common.predictions(target, x_adv, config.eval_batch_size)
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
    with open(run.path("transfer_matrix.json"), "w") as f:
        json.dump(result, f, indent=2)
    run.log_artifact(run.path("transfer_matrix.json"))
    for key, matrix in (("error", error), ("target_success", success if targeted else None)):
        if matrix is not None:
            png = plots.heatmap(
                run.path("plots", f"transfer_{key}.png"),
                matrix,
                rows=src_names,
                cols=tgt_names,
                title=f"transfer {key} ({config.attack_norm}, eps={config.attack_eps})",
                xlabel="target model",
                ylabel="source model",
            )
            run.log_artifact(png, "plots")
    return result
