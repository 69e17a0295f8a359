"""D_det (robust-before-non-robust paper, Sec. 3; METHODS §A), end to end.

1. Train a source model C on clean D (or take ``--source_savedmodel``); export it.
2. For every training example solve a targeted attack toward t = (y+1) mod K (``next``, D_det)
   or a random t != y (``random``, D_rand) and write (x_adv, t) as a sharded TFRecord dataset.
3. Train N2 on a train/val split of that dataset and log the four curves per epoch:
   ``train/accuracy``, ``val/accuracy``, ``clean/accuracy`` (D_test, true labels: non-robust
   features) and ``shift/accuracy`` (D_shift, labels (y+1) mod K: robust features).
4. Export N2; log manifest, plots and both SavedModels.
"""

from __future__ import annotations

import json
import os

import numpy as np

from robust_keras.analysis import plots
from robust_keras.config import Config
from robust_keras.data import adversarial, transforms
from robust_keras.errors import ConfigError, DataError
from robust_keras.experiments import common
from robust_keras.export import load_model, savedmodel_hash
from robust_keras.tracking import Run
from robust_keras.training.evaluators import ClassificationEvaluator, accuracy


def run(config: Config, run: Run) -> dict:
    if config.attack_target == "none":
        raise ConfigError("d_det needs a targeted attack", "use --attack_target=next (D_det) or random (D_rand)")
    train, test = common.load_clean(config)
    dataset_dir = config.dataset_dir or run.path("d_det")
    previous = adversarial.peek_manifest(dataset_dir)
    if previous:  # finish, repair or reuse (one D_det, many recipes) that dataset, with its source
        if previous["spec"].get("dataset") != config.dataset:
            raise DataError(
                f"{dataset_dir} was generated from {previous['spec'].get('dataset')}, not {config.dataset}",
                "pass the matching --dataset or another --dataset_dir",
            )
        source_path = previous["spec"]["source_model"]["path"]
        print(f"[dataset] found a dataset in {dataset_dir} made with source {source_path}")
    else:
        source_path = _source_model(config, run, train, test)
    source = load_model(source_path, train.image_shape)
    source_acc = accuracy(source, common.to_float(test.images), test.labels, config.eval_batch_size)
    run.log_metrics({"source/clean_accuracy": source_acc})
    print(f"[source] clean test accuracy {source_acc:.4f}")
    if not adversarial.is_complete(dataset_dir, previous):
        _generate(config, dataset_dir, source, source_path, train)
    data = adversarial.load(dataset_dir)
    run.log_artifact(os.path.join(dataset_dir, adversarial.MANIFEST), "d_det")
    hit_rate = float(data.target_hit.mean())
    run.log_metrics({"attack/target_success": hit_rate, "attack/mean_l2": _mean_l2(data, train)})
    print(f"[dataset] target hit on the source model for {hit_rate:.1%} of examples")
    _plot_examples(run, data, train)

    final = _train_on_d_det(config, run, data, test)
    final.update({"source/clean_accuracy": source_acc, "attack/target_success": hit_rate})
    with open(run.path("summary.json"), "w") as f:
        json.dump(final, f, indent=2, sort_keys=True)
    run.log_artifact(run.path("summary.json"))
    return final


def _generate(config: Config, dataset_dir: str, source, source_path: str, train) -> None:
    """Attacks every training example toward its target and writes the sharded dataset."""
    attack = common.make_attack(config, source, targeted=True)
    spec = {
        "source_model": {"path": os.path.abspath(source_path), "sha256": savedmodel_hash(source_path)},
        "attack": common.attack_params(config),
        "source_split": train.name,
        "dataset": config.dataset,
        "num_classes": train.num_classes,
    }
    print(f"[dataset] attacking {len(train)} examples -> {dataset_dir}")
    adversarial.generate(
        dataset_dir,
        images=common.to_float(train.images),
        orig_labels=train.labels,
        targets=transforms.attack_targets(
            config.attack_target, train.labels, train.num_classes, common.derive_seed(config.seed, "targets")
        ),
        spec=spec,
        shard_size=config.shard_size,
        batch_size=config.eval_batch_size,
        seed=common.derive_seed(config.seed, "attack"),
        attack_fn=lambda x, t, s: attack(x, t, s)[:2],
    )


def _source_model(config: Config, run: Run, train, test) -> str:
    """The source SavedModel: given by flag, exported earlier in this run dir, or trained now."""
    if config.source_savedmodel:
        return config.source_savedmodel
    earlier = common.exported(run, "source")
    if earlier:
        print(f"[source] reusing {earlier} from an earlier attempt of this run")
        return earlier
    child = run.child("source")
    recipe = common.Recipe.from_config(config).replace(
        epochs=config.source_epochs,
        learning_rate=config.source_learning_rate,
        weight_decay=config.source_weight_decay,
        augment=config.source_augment,
    )
    evaluator = ClassificationEvaluator("test", test.images, test.labels, config.eval_batch_size)
    trainer = common.train_model(
        config,
        child,
        name="source",
        images=train.images,
        labels=train.labels,
        num_classes=train.num_classes,
        recipe=recipe,
        evaluators=[evaluator],
        seed=common.derive_seed(config.seed, "source"),
    )
    child.finish()
    return common.export(run, trainer, "source", config, role="source model C", recipe=recipe.__dict__)


def _train_on_d_det(config: Config, run: Run, data: adversarial.AdversarialData, test) -> dict:
    tr, va = transforms.train_val_indices(len(data.labels), config.val_fraction, common.derive_seed(config.seed, "val"))
    num_classes = data.manifest["spec"]["num_classes"]
    evaluators = [
        ClassificationEvaluator("val", data.images[va], data.labels[va], config.eval_batch_size),
        ClassificationEvaluator("clean", test.images, test.labels, config.eval_batch_size),
        ClassificationEvaluator(
            "shift", test.images, transforms.shifted_labels(test.labels, num_classes), config.eval_batch_size
        ),
    ]
    recipe = common.Recipe.from_config(config)
    name = "d_det_model"
    trainer = common.train_model(
        config,
        run,
        name=name,
        images=data.images[tr],
        labels=data.labels[tr],
        num_classes=num_classes,
        recipe=recipe,
        evaluators=evaluators,
        seed=common.derive_seed(config.seed, name),
    )
    curves = _curves(run, ("train/accuracy", "val/accuracy", "clean/accuracy", "shift/accuracy"))
    png = plots.curves(
        run.path("plots", "d_det_curves.png"),
        curves,
        chance=1.0 / num_classes,
        title=f"Training on D_det ({config.dataset}, {config.model})",
    )
    run.log_artifact(png, "plots")
    common.export(
        run,
        trainer,
        name,
        config,
        role="model trained on D_det",
        recipe=recipe.__dict__,
        dataset_manifest=data.manifest["spec"],
    )
    return {k: v[-1] for k, v in curves.items() if v}


def _curves(run: Run, names: tuple[str, ...]) -> dict[str, list[float]]:
    """Per-epoch values of ``names`` logged by this run, read back from metrics.jsonl so that
    epochs logged before a resume are included."""
    by_step: dict[int, dict[str, float]] = {}
    with open(run.path("metrics.jsonl")) as f:
        for row in map(json.loads, f):
            if row["run"] == run.label and row["name"] in names:
                by_step.setdefault(row["step"], {})[row["name"]] = row["value"]
    return {n: [by_step[s][n] for s in sorted(by_step) if n in by_step[s]] for n in names}


def _mean_l2(data: adversarial.AdversarialData, train) -> float:
    clean = common.to_float(train.images[data.indices])
    return float(np.sqrt(((data.images - clean) ** 2).reshape(len(clean), -1).sum(1)).mean())


def _plot_examples(run: Run, data: adversarial.AdversarialData, train, n: int = 8) -> None:
    idx = np.arange(min(n, len(data.labels)))
    titles = [f"y={data.orig_labels[i]} t={data.labels[i]}{' hit' if data.target_hit[i] else ''}" for i in idx]
    png = plots.image_grid(
        run.path("plots", "d_det_examples.png"),
        common.to_float(train.images[data.indices[idx]]),
        data.images[idx],
        titles,
    )
    run.log_artifact(png, "plots")
