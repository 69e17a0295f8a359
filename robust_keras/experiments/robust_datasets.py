"""Robust and non-robust datasets D_R, D_NR (Ilyas et al. 2019, Sec. 3.1, App. C; docs/methods.md §D.2).

1. An adversarially trained model (PGD on the --attack* flags) and a standard model
   (``--source_model``, ``--source_*`` recipe), or ``--rd_robust_savedmodel`` /
   ``--rd_standard_savedmodel``; both exported with a ``representation`` endpoint.
2. For every training image x (label y), start from another training image and descend
   ||g(x_r) - g(x)||_2 with ``--rd_steps`` normalised l2 steps of ``--rd_step_size``; g is the
   penultimate layer of the robust model (D_R) or of the standard one (D_NR). (x_r, y) is written
   as a sharded TFRecord dataset (``<run>/d_r``, ``<run>/d_nr``; resumable, ``--gen_stage`` splits it
   across processes).
3. A ``--model`` is trained with the training flags on each (child runs ``train_on_d_r``,
   ``train_on_d_nr``); each epoch logs clean test accuracy and robust accuracy under an l2
   (``--rd_eval_l2_eps``) and an l-inf (``--rd_eval_linf_eps``) attack on the first
   ``--rd_eval_examples`` test images (``--robust_eval`` picks PGD or APGD; names say which).
   The paper's finding: D_R gives non-trivial robust accuracy, D_NR good clean accuracy and
   almost none.
4. How well each inversion matched, on the first ``--rd_eval_examples`` training images: the
   relative residual ||g(x_r) - g(x)|| / ||g(x_0) - g(x)|| (median and mean in summary.json,
   ``d_r/inversion_residual_median`` ...).
5. With ``--rd_eval_l2_sweep``: the four models (robust and standard source, trained on D_R, on
   D_NR) attacked in l2 at each radius after training (``sweep.json``,
   ``plots/robust_accuracy_vs_eps.png``).
6. Plots: ``robust_datasets_examples.png`` (x, x_R, x_NR), ``robust_datasets_curves.png``.
"""

from __future__ import annotations

import numpy as np

from robust_keras import progress
from robust_keras.analysis import image_plots, plots
from robust_keras.atomic_files import write_json
from robust_keras.attacks.inversion import relative_residual, start_indices
from robust_keras.config import Config
from robust_keras.data import transforms
from robust_keras.errors import ConfigError
from robust_keras.export import load_model
from robust_keras.seeds import derive_seed
from robust_keras.tracking.mirror import Run
from robust_keras.training.evaluators import ClassificationEvaluator, RobustEvaluator
from robust_keras.workflows import attack_builders, clean_data, exports, recipes
from robust_keras.workflows import robust_datasets as workflow

TITLES = {"d_r": "trained on D_R", "d_nr": "trained on D_NR"}


def run(config: Config, run: Run) -> dict:
    sweep = _sweep_radii(config.rd_eval_l2_sweep)
    train, test = clean_data.load_clean(config.data_settings)
    attacked = test.take(config.rd_eval_examples)
    evaluators, curve_labels = _evaluators(config, test, attacked)
    plan = progress.StagePlan(_stages(config, len(train), len(test), len(attacked)))
    data = workflow.ensure_datasets(workflow.RobustDatasetSettings.of(config), run, train, test, plan)
    sources = _source_models(config, data, train.image_shape)
    final = _source_metrics(run, sources, evaluators)
    final.update(_inversion_residuals(config, run, train, data, sources))
    _plot_examples(config, run, train, data)
    curves, trained = {}, {}
    for name, dataset in data.items():
        with plan.stage(f"training on {name.upper()}"):
            curves[name], trained[TITLES[name]] = _train_on(config, run, dataset, name, evaluators, curve_labels)
        final.update({f"{name}/{metric}": values[-1] for metric, values in curves[name].items() if values})
    _plot_curves(config, run, curves, curve_labels, train.num_classes)
    if sweep:
        shown = {f"{role} model (source)": model for role, model in sources.values()}
        _l2_sweep(config, run, {**shown, **trained}, attacked, sweep)
    write_json(run.path("summary.json"), final)
    run.log_artifact(run.path("summary.json"))
    return final


def _evaluators(config: Config, test, attacked) -> tuple[list, dict[str, str]]:
    """Clean accuracy on the test split and the --robust_eval attack at both norms on ``attacked``;
    and {metric name: its panel label} of the curves they log."""
    out = [ClassificationEvaluator("test", test.images, test.labels, config.eval_batch_size)]
    curves = {"test/accuracy": "clean test accuracy"}
    attack = attack_builders.robust_prefix(config.robust_eval).rstrip("_").upper().replace("_", "-") or "PGD"
    for norm, eps, shown in (("l2", config.rd_eval_l2_eps, "l2"), ("linf", config.rd_eval_linf_eps, "l-inf")):
        metric, make_attack = attack_builders.robust_eval(
            config.robust_eval,
            config.attack_settings,
            classes=test.num_classes,
            norm=norm,
            eps=eps,
            steps=config.rd_eval_steps,
        )
        out.append(
            RobustEvaluator("test", attacked.images, attacked.labels, make_attack, config.eval_batch_size, metric)
        )
        curves[f"test/{metric}"] = f"{shown} robust accuracy, eps {eps:.4g} ({attack}-{config.rd_eval_steps})"
    return out, curves


def _stages(config: Config, n: int, n_test: int, n_attacked: int) -> list[tuple[str, float]]:
    """Stages and their work in image passes (progress.py): two models, two inversions, two trainings."""
    adversarial = config.source_epochs * progress.attack_passes(n, config.attack_steps, config.attack_restarts)
    standard = progress.training_passes(config.source_epochs, n, n_test)
    evaluation = n_test + 2 * progress.attack_passes(n_attacked, config.rd_eval_steps)
    after = progress.training_passes(config.epochs, n, 0) + config.epochs * evaluation
    return [
        ("robust model", standard + adversarial),
        ("standard model", standard),
        ("D_R inversion", progress.attack_passes(n, config.rd_steps)),
        ("D_NR inversion", progress.attack_passes(n, config.rd_steps)),
        ("training on D_R", after),
        ("training on D_NR", after),
    ]


def _source_models(config: Config, data: dict, image_shape) -> dict[str, tuple[str, object]]:
    """{dataset name: (role, the loaded model)} of the models named in each dataset's manifest,
    loaded (and checked) once for the metrics, the inversion residuals and the sweep."""
    return {
        name: (
            dataset.manifest["spec"]["source_model"]["role"],
            load_model(dataset.manifest["spec"]["source_model"]["path"], image_shape, config.trust_savedmodels),
        )
        for name, dataset in data.items()
    }


def _source_metrics(run: Run, sources: dict, evaluators) -> dict:
    """Clean and robust test accuracy of the two models that built the datasets (``<role>_model/...``)."""
    metrics = {}
    for role, model in sources.values():
        for evaluator in evaluators:
            metrics.update({f"{role}_model/{k.split('/', 1)[1]}": v for k, v in evaluator.evaluate(model)})
    run.log_metrics(metrics)
    print("[models] " + ", ".join(f"{k} {v:.3f}" for k, v in sorted(metrics.items()) if not k.endswith("loss")))
    return metrics


def _train_on(config: Config, run: Run, data, name: str, evaluators, metrics) -> tuple[dict[str, list[float]], object]:
    """Trains ``--model`` (training flags, standard training) on all of ``data`` in child run
    ``train_on_<name>``; exports it; returns the per-epoch values of ``metrics`` (names) and the
    trained model's predict function."""
    child_name = f"train_on_{name}"
    child = run.child(child_name)
    recipe = config.recipe
    child.log_params({"model": config.model, "dataset": name, "examples": len(data.labels), **recipe.__dict__})
    examples = recipes.training_examples(data)
    trainer = recipes.train_model(
        config.training_settings,
        child,
        name=child_name,
        **examples,
        num_classes=data.manifest["spec"]["num_classes"],
        recipe=recipe,
        evaluators=evaluators,
        seed=derive_seed(config.seed, "rd_train"),  # the same init and order on both datasets
    )
    if not exports.exported(run, child_name):
        exports.export(
            run, trainer, child_name, config.provenance, role=f"model {TITLES[name]}", recipe=recipe.__dict__
        )
    child.finish()
    return {metric: list(child.metric_history(metric).values()) for metric in metrics}, trainer.predict


def _sweep_radii(values) -> list[float]:
    """The --rd_eval_l2_sweep radii as floats (checked before any work)."""
    given = ",".join(values)
    try:
        radii = [float(v) for v in values]
    except ValueError:
        raise ConfigError(f"--rd_eval_l2_sweep={given} is not a list of numbers", "pass e.g. 0.5,1,2") from None
    if any(r <= 0 for r in radii):
        raise ConfigError(f"--rd_eval_l2_sweep={given} has a radius <= 0", "pass radii > 0 (clean accuracy is logged)")
    return radii


def _inversion_residuals(config: Config, run: Run, train, data: dict, sources: dict) -> dict:
    """Median and mean relative residual ||g(x_r) - g(x)|| / ||g(x_0) - g(x)|| of each dataset's
    inversion (through the model its manifest names, from the starts its seed drew) on the first
    --rd_eval_examples training images."""
    idx = np.arange(min(config.rd_eval_examples, len(train)))
    targets = transforms.to_float(train.images[idx])
    out = {}
    for name, dataset in data.items():
        model = sources[name][1]
        seed = dataset.manifest["spec"]["attack"]["start_seed"]
        starts = transforms.to_float(train.images[start_indices(len(train), seed)[idx]])
        residual = relative_residual(model.representation, targets, starts, dataset.read_images(idx))
        out[f"{name}/inversion_residual_median"] = float(np.median(residual))
        out[f"{name}/inversion_residual_mean"] = float(np.mean(residual))
    run.log_metrics(out)
    print("[inversion] relative residual " + ", ".join(f"{k} {v:.3f}" for k, v in out.items()))
    return out


def _l2_sweep(config: Config, run: Run, models: dict, attacked, radii: list[float]) -> None:
    """l2 robust accuracy of every model at every radius (the --robust_eval attack, --rd_eval_steps)."""
    accuracy: dict[str, list[float]] = {name: [] for name in models}
    for eps in radii:
        metric, make_attack = attack_builders.robust_eval(
            config.robust_eval, config.attack_settings, classes=attacked.num_classes, norm="l2", eps=eps,
            steps=config.rd_eval_steps,
        )  # fmt: skip
        batch = config.eval_batch_size
        evaluator = RobustEvaluator("test", attacked.images, attacked.labels, make_attack, batch, metric)
        for name, model in models.items():
            accuracy[name].append(dict(evaluator.evaluate(model))[f"test/{metric}"])
        print(f"[sweep] l2 eps {eps:g}: " + ", ".join(f"{name} {acc[-1]:.3f}" for name, acc in accuracy.items()))
    write_json(run.path("sweep.json"), {"l2_eps": radii, "examples": len(attacked.labels), "accuracy": accuracy})
    run.log_artifact(run.path("sweep.json"))
    png = plots.curves_vs(
        run.path("plots", "robust_accuracy_vs_eps.png"),
        radii,
        accuracy,
        title=f"l2 robust accuracy after training, {len(attacked.labels)} {config.dataset} test images",
        xlabel="l2 radius eps (pixel units, images in [0, 1])",
        ylabel="robust accuracy",
        chance=1.0 / attacked.num_classes,
    )
    run.log_artifact(png, "plots")


def _plot_examples(config: Config, run: Run, train, data: dict, n: int = 8) -> None:
    idx = np.arange(min(n, len(train)))
    rows = [transforms.to_float(train.images[idx]), *(data[name].read_images(idx) for name in ("d_r", "d_nr"))]
    names = train.class_names
    titles = [f"y={names[y] if names else y}" for y in train.labels[idx]]
    png = image_plots.image_grid(
        run.path("plots", "robust_datasets_examples.png"),
        rows,
        titles,
        row_labels=("x", "x_R (robust model)", "x_NR (standard model)"),
        title=f"{config.dataset}: images whose penultimate representation matches x's, from another training image "
        f"({config.rd_steps} l2 steps of {config.rd_step_size:g}); labelled y",
    )
    run.log_artifact(png, "plots")


def _plot_curves(config: Config, run: Run, curves: dict, labels: dict[str, str], num_classes: int) -> None:
    """One panel per metric (``labels``: metric -> panel label), D_R and D_NR in each."""
    panels = {
        label: {TITLES[name]: values[metric] for name, values in curves.items()} for metric, label in labels.items()
    }
    epochs = np.arange(1, config.epochs + 1)
    png = plots.curve_panels(
        run.path("plots", "robust_datasets_curves.png"),
        epochs,
        panels,
        title=f"{config.model} trained (standard training) on D_R and D_NR of {config.dataset}",
        xlabel="epoch",
        ylim=(0.0, 1.02),
        chance=1.0 / num_classes,
    )
    run.log_artifact(png, "plots")
