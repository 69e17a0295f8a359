"""Transfer split (robust-before-non-robust Sec. 3, Claim 1, Fig. 2; docs/methods.md §A.4).

1. N1 (the source C) and an independent N' are trained on clean D (``--source_model``
   architecture, ``--source_*`` recipe, different seeds), or taken from ``--source_savedmodel``
   / ``--reference_savedmodel``.
2. D_det is built on N1 (or reused from ``--dataset_dir``).
3. Every x_adv with target t is split by whether it *transfers*: argmax N'(x_adv) == t. Both
   subsets are written as adversarial datasets (``transfer_split/transfers``,
   ``transfer_split/no_transfer``) whose manifest records the rule, N' and the parent dataset.
4. One ``--model`` is trained on each subset (child runs ``on_transfers``, ``on_no_transfer``)
   with the four curves; Claim 1 predicts the first generalises to D (``clean/accuracy``), the
   second to D_shift (``shift/accuracy``). ``plots/transfer_split.png`` shows both side by side.
"""

from __future__ import annotations

import os

import numpy as np

from robust_keras import progress
from robust_keras.analysis import paper_figures
from robust_keras.atomic_files import write_json
from robust_keras.config import Config
from robust_keras.data import adversarial, adversarial_reader
from robust_keras.export import load_model
from robust_keras.savedmodel_hash import savedmodel_hash
from robust_keras.seeds import derive_seed
from robust_keras.tracking.mirror import Run
from robust_keras.training.evaluators import predicted_labels
from robust_keras.workflows import clean_data, d_det_training, exports, source_models
from robust_keras.workflows import d_det as workflow

SUBSETS = ("transfers", "no_transfer")
RULE = "argmax N'(x_adv) == label (the target t)"


def run(config: Config, run: Run) -> dict:
    train, test = clean_data.load_clean(config.data_settings)
    models = "N' and the two subset models"
    n_prime = progress.training_passes(config.source_epochs, len(train), len(test))
    stage = workflow.DDetSettings.of(config)
    plan = workflow.stages(
        stage, train, test, then=(models, n_prime + progress.training_passes(config.epochs, len(train), 3 * len(test)))
    )
    data = workflow.ensure_dataset(stage, run, train, test, config.dataset_dir or run.path("d_det"), plan)
    with plan.stage(models):
        return _split_and_train(config, run, train, test, data)


def _split_and_train(config: Config, run: Run, train, test, data) -> dict:
    reference_path = config.reference_savedmodel or source_models.source_model(
        config.source_settings, run, train, test, name="n_prime", seed_purpose="n_prime"
    )
    reference = load_model(reference_path, train.image_shape, config.trust_savedmodels)
    transfers = predicted_labels(reference, data.images, config.eval_batch_size) == data.labels
    rate = float(transfers.mean())
    print(f"[split] {transfers.sum()} of {len(transfers)} examples transfer to N' ({rate:.1%})")
    run.log_metrics({"split/transfer_rate": rate, "split/transfers": int(transfers.sum())})
    masks = _balanced({"transfers": transfers, "no_transfer": ~transfers}, config)
    num_classes = data.manifest["spec"]["num_classes"]
    final, curves = {}, {}
    for subset in SUBSETS:
        directory = _write_subset(config, run, data, masks[subset], subset, reference_path)
        part = adversarial_reader.load(directory)
        curves[subset] = _train_on(config, run, part, test, f"on_{subset}")
        final.update({f"{subset}/{k.split('/')[0]}": v[-1] for k, v in curves[subset].items() if v})
    titles = {"transfers": "examples that transfer", "no_transfer": "examples that do not transfer"}
    png = paper_figures.side_by_side_curves(
        run.path("plots", "transfer_split.png"),
        {f"trained on {titles[s]} (n={int(masks[s].sum())})": curves[s] for s in SUBSETS},
        chance=1.0 / num_classes,
        title=f"Transfer split of D_det ({config.dataset}): N1 -> N' transfer rate {rate:.0%}",
    )
    run.log_artifact(png, "plots")
    final["split/transfer_rate"] = rate
    write_json(run.path("summary.json"), final)
    run.log_artifact(run.path("summary.json"))
    return final


def _balanced(masks: dict[str, np.ndarray], config: Config) -> dict[str, np.ndarray]:
    """With ``--split_balance``, a seeded subsample of the larger subset to the smaller's size."""
    if not config.split_balance:
        return masks
    size = min(int(m.sum()) for m in masks.values())
    rng = np.random.default_rng(derive_seed(config.seed, "split_balance"))
    out = {}
    for name, mask in masks.items():
        keep = np.zeros_like(mask)
        keep[np.sort(rng.choice(np.flatnonzero(mask), size, replace=False))] = True
        out[name] = keep
    return out


def _write_subset(config: Config, run: Run, data, mask: np.ndarray, subset: str, reference_path: str) -> str:
    directory = run.path("transfer_split", subset)
    spec = {
        **data.manifest["spec"],
        "split": {
            "rule": RULE,
            "subset": subset,
            "keeps": "rule true" if subset == "transfers" else "rule false",
            "balanced": bool(config.split_balance),
            "reference_model": {"path": os.path.abspath(reference_path), "sha256": savedmodel_hash(reference_path)},
            "parent_dataset": {
                "path": os.path.abspath(config.dataset_dir or run.path("d_det")),
                "shards_sha256": [s["sha256"] for s in data.manifest["shards"]],
            },
        },
    }
    adversarial.write_arrays(
        directory,
        images=data.images[mask],
        labels=data.labels[mask],
        orig_labels=data.orig_labels[mask],
        indices=data.indices[mask],
        target_hit=data.target_hit[mask],
        spec=spec,
        shard_size=config.shard_size,
    )
    run.log_artifact(os.path.join(directory, adversarial_reader.MANIFEST), f"transfer_split/{subset}")
    return directory


def _train_on(config: Config, run: Run, data, test, name: str) -> dict[str, list[float]]:
    """Trains ``--model`` on one subset (its own train/val split) in child run ``name``; returns
    its per-epoch four curves."""
    child = run.child(name)
    recipe = config.recipe
    examples = len(d_det_training.split_indices(config.common_settings, len(data.labels))[0])
    child.log_params({"model": config.model, "examples": examples, **recipe.__dict__})
    trainer = d_det_training.train_on_d_det(
        config.training_settings, config.common_settings, child, data, test, name=name, recipe=recipe, seed_purpose="n2"
    )
    if not exports.exported(run, name):
        exports.export(run, trainer, name, config.provenance, role=f"model trained on {name}", recipe=recipe.__dict__)
    child.finish()
    return d_det_training.curves(child)
