"""The source model C of an adversarial dataset (robust-before-non-robust Sec. 3): given by
``--source_savedmodel``, exported earlier in this run directory, or trained now with the
``--source_*`` recipe and the ``--source_model`` architecture, as a SavedModel path."""

from __future__ import annotations

from robust_keras.seeds import derive_seed
from robust_keras.settings import AttackSettings, SourceSettings
from robust_keras.tracking.mirror import Run
from robust_keras.training.evaluators import ClassificationEvaluator
from robust_keras.workflows import exports, recipes


def source_model(
    source: SourceSettings,
    run: Run,
    train,
    test,
    *,
    name: str = "source",
    seed_purpose: str = "source",
    adversary: AttackSettings | None = None,
    evaluators=(),
) -> str:
    """The source SavedModel: given by flag, exported earlier in this run dir, or trained now
    (``source.architecture``, ``source.recipe``; with ``adversary``: on its untargeted examples,
    Madry et al.) in child run ``name`` with ``evaluators`` besides test accuracy."""
    if source.savedmodel and name == "source":
        return source.savedmodel
    earlier = exports.exported(run, name)
    if earlier:
        print(f"[{name}] reusing {earlier} from an earlier attempt of this run")
        return earlier
    child = run.child(name)
    adversarial = adversary is not None
    child.log_params({"architecture": source.architecture, "adversarial": adversarial, **source.recipe.__dict__})
    batch = source.common.eval_batch_size
    trainer = recipes.train_model(
        source.training,
        child,
        name=name,
        images=train.images,
        labels=train.labels,
        num_classes=train.num_classes,
        recipe=source.recipe,
        evaluators=[ClassificationEvaluator("test", test.images, test.labels, batch), *evaluators],
        seed=derive_seed(source.common.seed, seed_purpose),
        architecture=source.architecture,
        adversary=adversary,
    )
    child.finish()
    role = "adversarially trained source model" if adversarial else "source model"
    return exports.export(
        run, trainer, name, source.provenance, role=role, recipe=source.recipe.__dict__, model=source.architecture
    )
