"""The source model C of an adversarial dataset (robust-before-non-robust Sec. 3): given by
``--source_savedmodel``, exported earlier in this run directory, or trained now with the
``--source_*`` recipe and the ``--source_model`` architecture, as a SavedModel path."""

from __future__ import annotations

from robust_keras.config import Config
from robust_keras.seeds import derive_seed
from robust_keras.tracking import Run
from robust_keras.training.evaluators import ClassificationEvaluator
from robust_keras.workflows import exports, recipes


def source_model(
    config: Config,
    run: Run,
    train,
    test,
    *,
    name: str = "source",
    seed_purpose: str = "source",
    adversarial: bool = False,
    evaluators=(),
) -> str:
    """The source SavedModel: given by flag, exported earlier in this run dir, or trained now
    (``--source_model`` architecture, ``--source_*`` recipe; ``adversarial``: on untargeted
    --attack* examples, Madry et al.) in child run ``name`` with ``evaluators`` besides test accuracy."""
    if config.source_savedmodel and name == "source":
        return config.source_savedmodel
    earlier = exports.exported(run, name)
    if earlier:
        print(f"[{name}] reusing {earlier} from an earlier attempt of this run")
        return earlier
    child = run.child(name)
    recipe = source_recipe(config)
    child.log_params({"architecture": source_architecture(config), "adversarial": adversarial, **recipe.__dict__})
    trainer = recipes.train_model(
        config,
        child,
        name=name,
        images=train.images,
        labels=train.labels,
        num_classes=train.num_classes,
        recipe=recipe,
        evaluators=[ClassificationEvaluator("test", test.images, test.labels, config.eval_batch_size), *evaluators],
        seed=derive_seed(config.seed, seed_purpose),
        architecture=source_architecture(config),
        adversarial=adversarial,
    )
    child.finish()
    role = "adversarially trained source model" if adversarial else "source model"
    return exports.export(
        run, trainer, name, config, role=role, recipe=recipe.__dict__, model=source_architecture(config)
    )


def source_architecture(config: Config) -> str:
    return config.source_model or config.model


def source_recipe(config: Config) -> recipes.Recipe:
    return recipes.Recipe.from_config(config).replace(
        epochs=config.source_epochs,
        learning_rate=config.source_learning_rate,
        weight_decay=config.source_weight_decay,
        augment=config.source_augment,
        optimizer=config.source_optimizer or config.optimizer,
    )
