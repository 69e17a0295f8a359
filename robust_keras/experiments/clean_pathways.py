"""Pathways on clean data (robust-before-non-robust Sec. 4.2, Fig. 4; docs/methods.md §A.6).

Four ``--model`` networks are trained on clean D: recipe (1) with augmentation and L2
``--clean_weight_decay`` at ``--learning_rate``, recipe (2) with neither, at
``--clean_learning_rate_2`` (default: ``--learning_rate``; Sec. 4's pathway 2 is trained with a low
starting learning rate, little or no L2 and no augmentation), both for ``--epochs``:

- M2(1), M2(2): reference models of each recipe (seeds ``m2_1``, ``m2_2``), trained first;
- M1(1), M1(2): the models followed over training (seeds ``m1_1``, ``m1_2``). After every epoch,
  ``--clean_attack_examples`` fixed test images are attacked on M1 toward t = (y+1) mod K with the
  ``--attack*`` flags, giving ``adv/attack_success`` on M1 and ``adv/transfer_m2_1``,
  ``adv/transfer_m2_2``: the fraction of those examples that hit t on each reference. By Claim 2,
  a transfer rate that stays low means M1 has not learned non-robust features (pathway 2).

``plots/clean_pathways.png``: one panel per M1 with train / val accuracy, attack success and the
two transfer rates per epoch (Fig. 4).
"""

from __future__ import annotations

from robust_keras import progress
from robust_keras.analysis import paper_figures
from robust_keras.atomic_files import write_json
from robust_keras.config import Config
from robust_keras.data import transforms
from robust_keras.export import load_model
from robust_keras.seeds import derive_seed
from robust_keras.settings import Recipe
from robust_keras.tracking.mirror import Run
from robust_keras.tracking.record import metric_history
from robust_keras.training.evaluators import ClassificationEvaluator, TargetedTransferEvaluator
from robust_keras.workflows import attack_builders, clean_data, exports, recipes

CURVES = ("train/accuracy", "val/accuracy", "adv/attack_success", "adv/transfer_m2_1", "adv/transfer_m2_2")


def run(config: Config, run: Run) -> dict:
    train, test = clean_data.load_clean(config.data_settings)
    tr, va = transforms.train_val_indices(len(train), config.val_fraction, derive_seed(config.seed, "val"))
    attacked = test.take(config.clean_attack_examples)
    targets = transforms.shifted_labels(attacked.labels, train.num_classes)
    pathway_recipes = {
        "1": config.recipe.replace(weight_decay=config.clean_weight_decay, augment=True),
        "2": config.recipe.replace(
            weight_decay=0.0, augment=False, learning_rate=config.clean_learning_rate_2 or config.recipe.learning_rate
        ),
    }
    val = ClassificationEvaluator("val", train.images[va], train.labels[va], config.eval_batch_size)
    one_model = progress.training_passes(config.epochs, len(tr), len(va))
    attacks = config.epochs * (
        progress.attack_passes(len(attacked), config.attack_steps, config.attack_restarts) + 3 * len(attacked)
    )
    plan = progress.StagePlan(
        [("M2 reference models", 2 * one_model), ("M1 models, attacked every epoch", 2 * (one_model + attacks))]
    )
    references = {}
    with plan.stage("M2 reference models"):
        for r, recipe in pathway_recipes.items():
            path = _train(config, run, f"m2_{r}", recipe, train, tr, [val])
            references[f"m2_{r}"] = load_model(path, train.image_shape)
    with plan.stage("M1 models, attacked every epoch"):
        curves = _train_m1(config, run, pathway_recipes, train, tr, val, attacked, targets, references)
    return _report(config, run, curves, pathway_recipes)


def _train_m1(config, run, pathway_recipes, train, tr, val, attacked, targets, references) -> dict:
    """Trains M1 per recipe with the targeted attack on it and its transfer to each M2 every epoch."""
    curves = {}
    for r, recipe in pathway_recipes.items():
        adv = TargetedTransferEvaluator(
            "adv",
            attacked.images,
            targets,
            lambda predict: attack_builders.make_attack(config.attack_settings, predict, targeted=True),
            references,
            config.eval_batch_size,
        )
        name = f"m1_{r}"
        _train(config, run, name, recipe, train, tr, [val, adv])
        curves[name] = {c: list(metric_history(run.run_dir, name, c).values()) for c in CURVES}
    return curves


def _report(config: Config, run: Run, curves: dict, pathway_recipes: dict[str, Recipe]) -> dict:
    """The Fig. 4 plot, summary.json and the parent run's metrics from the M1 curves."""
    lr = {r: recipe.learning_rate for r, recipe in pathway_recipes.items()}
    png = paper_figures.clean_pathways(
        run.path("plots", "clean_pathways.png"),
        {
            f"M1(1): augmentation + L2, lr {lr['1']:g}": curves["m1_1"],
            f"M1(2): no augmentation, no L2, lr {lr['2']:g}": curves["m1_2"],
        },
        title=f"Pathways on clean {config.dataset} ({config.model}): targeted attacks on M1, transfer to M2",
    )
    run.log_artifact(png, "plots")
    final = {f"{m}/{c}": v[-1] for m, cs in curves.items() for c, v in cs.items() if v}
    run.log_metrics(final)  # the final epoch's numbers on the parent run too, to compare runs by them
    write_json(run.path("summary.json"), final)
    run.log_artifact(run.path("summary.json"))
    return final


def _train(config: Config, run: Run, name: str, recipe: Recipe, train, tr, evaluators) -> str:
    """Trains one model in child run ``name`` (resumable); returns its exported SavedModel."""
    earlier = exports.exported(run, name)
    if earlier:
        print(f"[{name}] reusing {earlier}")
        return earlier
    child = run.child(name)
    child.log_params({"model": config.model, **recipe.__dict__})
    trainer = recipes.train_model(
        config.training_settings,
        child,
        name=name,
        images=train.images[tr],
        labels=train.labels[tr],
        num_classes=train.num_classes,
        recipe=recipe,
        evaluators=evaluators,
        seed=derive_seed(config.seed, name),
    )
    path = exports.export(run, trainer, name, config.provenance, role=f"clean_pathways {name}", recipe=recipe.__dict__)
    child.finish()
    return path
