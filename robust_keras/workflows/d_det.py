"""D_det as a shared step (robust-before-non-robust Sec. 3; docs/methods.md §A.1-A.2).

- the source model C comes from :mod:`robust_keras.workflows.source_models`; the pathway label
  of a model trained on D_det from :mod:`robust_keras.workflows.pathway_labels`.
- :func:`ensure_dataset`: the adversarial dataset (generated, finished, or reused from
  ``--dataset_dir``) loaded and verified, with the source's clean accuracy and attack metrics.
- training a model on it: :mod:`robust_keras.workflows.d_det_training`.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow as tf

from robust_keras import distribute
from robust_keras.analysis import image_plots
from robust_keras.data import adversarial, adversarial_reader, transforms
from robust_keras.data.shard_stream import ShardStream, dataset_megabytes
from robust_keras.errors import ConfigError, DataError, StageFinished
from robust_keras.export import load_model
from robust_keras.progress import StagePlan, attack_passes, training_passes
from robust_keras.savedmodel_hash import savedmodel_hash
from robust_keras.seeds import derive_seed
from robust_keras.settings import (
    AttackSettings,
    CommonSettings,
    GenerationSettings,
    SourceSettings,
)
from robust_keras.tracking.mirror import Run
from robust_keras.training.evaluators import accuracy
from robust_keras.workflows import attack_builders, exports, recipes, source_models


@dataclasses.dataclass(frozen=True)
class DDetSettings:
    """Everything the D_det stage takes: the source, the targeted attack and its
    ``--attack_target`` rule, the dataset it writes, and the shared settings."""

    source: SourceSettings
    attack: AttackSettings
    target: str  # --attack_target: next (D_det) | random (D_rand) | none (untargeted)
    generation: GenerationSettings
    common: CommonSettings

    @classmethod
    def of(cls, config) -> DDetSettings:
        return cls(
            config.source_settings,
            config.attack_settings,
            config.attack_target,
            config.generation_settings,
            config.common_settings,
        )


def stages(settings: DDetSettings, train, test, then: tuple[str, float] | None = None) -> StagePlan:
    """The stage plan of D_det: source training, generation, and ``then`` (e.g. N2 training)."""
    planned = [
        ("source training", training_passes(settings.source.recipe.epochs, len(train), len(test))),
        ("D_det generation", attack_passes(len(train), settings.attack.steps, settings.attack.restarts)),
    ]
    return StagePlan(planned + ([then] if then else []))


def ensure_dataset(
    settings: DDetSettings, run: Run, train, test, dataset_dir: str, plan: StagePlan | None = None, stream: bool = False
) -> adversarial_reader.AdversarialData | ShardStream:
    """The D_det (or D_rand) of ``train`` in ``dataset_dir``: reused if complete, finished if
    interrupted, generated (after training the source) if absent. Logs the source's clean
    accuracy, target success and mean l2 distortion, and the example grid. ``plan`` (from
    :func:`stages`) reports the source-training and generation stages. With ``stream``, a dataset
    larger than ``--max_in_memory_mb`` comes back as a :class:`ShardStream` (read from its shards
    when used) instead of arrays in memory.

    Under ``--strategy=multi_worker`` every worker works in the chief's ``dataset_dir``, writes its
    share of the shards and the chief merges them (:func:`generate_everywhere`)."""
    dataset_dir = distribute.chief_path(dataset_dir)
    plan = plan or StagePlan([("source training", 0.0), ("D_det generation", 0.0)], log=lambda _: None)
    generation, source, common = settings.generation, settings.source, settings.common
    if generation.stage != "all":
        _one_stage(settings, run, train, test, dataset_dir, plan)
    previous = adversarial_reader.peek_manifest(dataset_dir)
    if generation.dataset_dir and generation.stage == "all" and not generation.write:
        check_read_only(dataset_dir, previous)
    if previous:  # finish, repair or reuse (one D_det, many recipes) that dataset, with its source
        if previous["spec"].get("dataset") != generation.dataset:
            raise DataError(
                f"{dataset_dir} was generated from {previous['spec'].get('dataset')}, not {generation.dataset}",
                "pass the matching --dataset or another --dataset_dir",
            )
        made_with, asked = (
            previous["spec"].get("attack") or {},
            attack_builders.attack_params(settings.attack, settings.target),
        )
        if made_with != asked:
            diff = ", ".join(
                f"--{k}={made_with.get(k)} (flags: {v})" for k, v in asked.items() if made_with.get(k) != v
            )
            raise DataError(
                f"{dataset_dir} was generated with {diff}",
                "pass the dataset's attack flags (see its manifest.json) or another --dataset_dir",
            )
        source_path = previous["spec"]["source_model"]["path"]
        print(f"[dataset] found a dataset in {dataset_dir} made with source {source_path}")
    elif source.savedmodel or exports.exported(run, "source"):
        source_path = source_models.source_model(source, run, train, test)
    else:
        with plan.stage("source training"):
            source_path = source_models.source_model(source, run, train, test)
    source_path = distribute.chief_export(source_path)  # multi_worker: every worker attacks the chief's
    if previous and not adversarial_reader.is_complete(dataset_dir, previous):
        _check_same_source(dataset_dir, previous, source_path)
    model = load_model(source_path, train.image_shape, common.trust_savedmodels)
    source_acc = accuracy(model, transforms.to_float(test.images), test.labels, common.eval_batch_size)
    print(f"[source] clean test accuracy {source_acc:.4f}")
    if not adversarial_reader.is_complete(dataset_dir, previous):
        with plan.stage("D_det generation"):
            generate_everywhere(settings, dataset_dir, model, source_path, train)
    data = open_dataset(generation, dataset_dir) if stream else adversarial_reader.load(dataset_dir)
    run.log_artifact(os.path.join(dataset_dir, adversarial_reader.MANIFEST), "d_det")
    hit_rate = float(data.target_hit.mean())
    run.log_metrics(
        {
            "source/clean_accuracy": source_acc,
            "attack/target_success": hit_rate,
            "attack/mean_l2": _mean_l2(data, train),
        }
    )
    print(f"[dataset] target hit on the source model for {hit_rate:.1%} of examples")
    _plot_examples(run, data, train)
    return data


def check_read_only(dataset_dir: str, previous: dict | None) -> None:
    """A ``--dataset_dir`` of the user's is only read unless ``--dataset_write``: refuses one that
    holds no dataset or an incomplete one, before any training."""
    if previous is None:
        raise DataError(
            f"--dataset_dir={dataset_dir} holds no adversarial dataset (no {adversarial_reader.MANIFEST})",
            "pass --dataset_write to generate D_det into it, or drop --dataset_dir to generate it inside the run",
        )
    if not adversarial_reader.is_complete(dataset_dir, previous):
        missing = [s["name"] for s in previous["shards"] if not os.path.exists(os.path.join(dataset_dir, s["name"]))]
        state = f"shards missing: {', '.join(missing[:3])}" if missing else "generation did not finish"
        raise DataError(
            f"--dataset_dir={dataset_dir} holds an incomplete dataset ({state})",
            "pass --dataset_write to finish it in place with the source model its manifest names, or point "
            "--dataset_dir at a complete copy",
        )


def _check_same_source(dataset_dir: str, previous: dict, source_path: str) -> None:
    """Finishing a dataset with another model than the one that made its shards would mix two
    datasets: the source's hash must match the manifest's."""
    recorded = previous["spec"].get("source_model", {}).get("sha256")
    if recorded and savedmodel_hash(source_path) != recorded:
        raise DataError(
            f"{dataset_dir} was started with a source model that {source_path} no longer is (its weights changed)",
            "restore that model, or delete the directory to generate the dataset again from scratch",
        )


def _one_stage(settings: DDetSettings, run: Run, train, test, dataset_dir: str, plan: StagePlan) -> None:
    """``--gen_stage=source|shards`` (raise StageFinished when done) or ``merge`` (returns after
    writing the manifest, so the caller goes on with the complete dataset)."""
    generation = settings.generation
    if generation.stage == "merge":
        if generation.workers < 2:
            raise ConfigError("--gen_stage=merge joins the parts of several workers", "pass --gen_workers=W (W >= 2)")
        if not adversarial_reader.is_complete(dataset_dir, adversarial_reader.peek_manifest(dataset_dir)):
            adversarial.merge(dataset_dir, generation.workers)
        return
    if generation.stage == "source":
        with plan.stage("source training"):
            path = source_models.source_model(settings.source, run, train, test)
        raise StageFinished(f"source model ready in {path}; next: --gen_stage=shards --gen_worker=0..W-1")
    if not (settings.source.savedmodel or exports.exported(run, "source")):
        raise DataError(
            f"--gen_stage=shards needs the source model, and {run.run_dir} has none yet",
            "run the same command with --gen_stage=source once first (or pass --source_savedmodel)",
        )
    source_path = source_models.source_model(settings.source, run, train, test)
    source = load_model(source_path, train.image_shape, settings.common.trust_savedmodels)
    part = (generation.worker, generation.workers)
    with plan.stage("D_det generation"):
        generate(settings, dataset_dir, source, source_path, train, part=part)
    raise StageFinished(
        f"worker {generation.worker} of {generation.workers} wrote its shards to {dataset_dir}; when every worker "
        "is done: the same command with --gen_stage=merge"
    )


def generate_everywhere(settings: DDetSettings, dataset_dir: str, source, source_path: str, train) -> None:
    """:func:`generate` in this process, or, under ``--strategy=multi_worker`` with P processes,
    split over them (distribute.split_work): process p (the chief first) writes shards i with
    i mod P = p into the shared ``dataset_dir`` (the ``--gen_stage=shards`` mechanism), and once
    all are done the chief verifies the parts and writes the manifest (``--gen_stage=merge``). A
    worker killed meanwhile leaves its finished shards; the rerun writes only the rest."""

    def write_part(part):
        if part[1] > 1:
            print(f"[dataset] process {part[0]} of {part[1]}: writing shards i with i mod {part[1]} = {part[0]}")
        generate(settings, dataset_dir, source, source_path, train, part=part)

    distribute.split_work(write_part, lambda processes: adversarial.merge(dataset_dir, processes))


def generate(
    settings: DDetSettings, dataset_dir: str, source, source_path: str, train, part=(0, 1), **spec_extra
) -> None:
    """Attacks every example of ``train`` toward its target (``--attack_target``) and writes the
    sharded dataset (resumable; see data/adversarial.py). With ``--strategy=mirrored`` and several
    local devices, each batch is split across them (distribute.split_over_replicas; the loaded
    source's variables stay on the first device and the others read them)."""
    # multi_worker: each process attacks its part on its default device; mirrored: all local devices.
    compute = settings.source.training.compute
    local = recipes.make_strategy(compute) if compute.strategy == "mirrored" else tf.distribute.get_strategy()
    if local.num_replicas_in_sync > 1:
        print(f"[dataset] every batch split across {local.num_replicas_in_sync} devices")
    attack = attack_builders.make_attack(settings.attack, source, targeted=True)
    attack_fn = distribute.split_over_replicas(lambda x, t, s: attack(x, t, s)[:2], local)
    spec = {
        "source_model": {"path": os.path.abspath(source_path), "sha256": savedmodel_hash(source_path)},
        "attack": attack_builders.attack_params(settings.attack, settings.target),
        "source_split": train.name,
        "dataset": settings.generation.dataset,
        "num_classes": train.num_classes,
        **spec_extra,
    }
    print(f"[dataset] attacking {len(train)} examples -> {dataset_dir}")
    seed = settings.common.seed
    adversarial.generate(
        dataset_dir,
        images=transforms.to_float(train.images),
        orig_labels=train.labels,
        targets=transforms.attack_targets(
            settings.target, train.labels, train.num_classes, derive_seed(seed, "targets")
        ),
        spec=spec,
        shard_size=settings.generation.shard_size,
        batch_size=settings.common.eval_batch_size,
        seed=derive_seed(seed, "attack"),
        attack_fn=attack_fn,
        part=part,
    )


def open_dataset(generation: GenerationSettings, directory: str) -> adversarial_reader.AdversarialData | ShardStream:
    """The finished, verified dataset in ``directory``: in memory, or a :class:`ShardStream` the
    models train from when its images take more than ``--max_in_memory_mb``."""
    size = dataset_megabytes(adversarial_reader.peek_manifest(directory))
    if size > generation.max_in_memory_mb:
        limit = generation.max_in_memory_mb
        print(f"[dataset] {size:.0f} MiB > --max_in_memory_mb={limit}: streaming it from its shards")
        return ShardStream(directory)
    return adversarial_reader.load(directory)


def _mean_l2(data, train) -> float:
    """Mean ||x_adv - x||_2 over the dataset (streamed batch by batch from a ShardStream)."""
    if not data.streamed:
        clean = transforms.to_float(train.images[data.indices])
        return float(np.sqrt(((data.images - clean) ** 2).reshape(len(clean), -1).sum(1)).mean())
    total, start = 0.0, 0
    for x_adv, _ in data.eval_dataset(np.arange(len(data)), 1024):
        clean = transforms.to_float(train.images[data.indices[start : start + len(x_adv)]])
        total += float(np.sqrt(((x_adv.numpy() - clean) ** 2).reshape(len(clean), -1).sum(1)).sum())
        start += len(x_adv)
    return total / max(start, 1)


def _plot_examples(run: Run, data, train, n: int = 8) -> None:
    idx = np.arange(min(n, len(data.labels)))
    shown = data.read_images(idx)
    titles = [f"y={data.orig_labels[i]} t={data.labels[i]}{' hit' if data.target_hit[i] else ''}" for i in idx]
    attack = data.manifest["spec"].get("attack", {})
    png = image_plots.image_grid(
        run.path("plots", "d_det_examples.png"),
        [transforms.to_float(train.images[data.indices[idx]]), shown],
        titles,
        row_labels=("clean x", "x_adv"),
        title=f"D_det examples: targeted {attack.get('attack_norm', '')} PGD, eps {attack.get('attack_eps', '?')}; "
        "y = true label, t = target, hit = the source model predicts t on x_adv",
    )
    run.log_artifact(png, "plots")
