"""Kernel dynamics under standard vs adversarial training (NTK paper Sec. 5, App. E; Fig. 5, 6, 14, 15).

Trains ``--model`` twice with the same recipe and seed -- ``standard`` and ``adversarial`` (PGD on
the --attack* flags, untargeted) -- as child runs. On the first ``--ntk_batch`` training inputs as
training sees them (the paper's kernel of the current batch: in adversarial training their
adversarial versions against the model of that epoch; ``--ntk_batch_source=train`` keeps them clean
in both modes, ``test`` takes clean test inputs) the empirical NTK K_t -- traced over outputs, or
whole with ``--ntk_kernel_shape=full`` -- is computed before training and every ``--ntk_every`` epochs;
logged per epoch: ``ntk/distance_to_init`` (Eq. 12), ``ntk/radius`` and ``ntk/angle`` (Eq. 13) on
the whole kernel and on its top-r eigenspace, ``ntk/concentration_top{10,20}``. Plots: distance
heatmaps over epochs, polar trajectories, concentration curves, entry histograms before/after,
clean and robust test accuracy; ``<mode>/kernels.npz`` holds every K_t and the tracked inputs. With
``--ntk_linearize_epoch=e`` both modes train the linearization at theta_e after epoch e (App. E.1,
attacks computed on it), whose kernel then stays K_e.
"""

from __future__ import annotations

import numpy as np

from robust_keras.analysis import plots
from robust_keras.atomic_files import atomic_open
from robust_keras.config import Config
from robust_keras.data import transforms
from robust_keras.ntk.dynamics import KernelDynamics
from robust_keras.ntk.linearized import LinearizedModel
from robust_keras.seeds import derive_seed
from robust_keras.tracking.mirror import Run
from robust_keras.training.evaluators import ClassificationEvaluator, RobustEvaluator
from robust_keras.workflows import attack_builders, clean_data, recipes


def run(config: Config, run: Run) -> dict:
    train, test = clean_data.load_clean(config.data_settings)
    robust_metric, make_robust_attack = attack_builders.robust_eval(
        config.robust_eval, config.attack_settings, classes=train.num_classes
    )
    source = test if config.ntk_batch_source == "test" else train
    x_fixed = transforms.to_float(source.images[: config.ntk_batch])
    y_fixed = source.labels[: config.ntk_batch]
    recipe = config.recipe
    tracked: dict[str, KernelDynamics] = {}
    accuracies: dict[str, dict[str, dict[int, float]]] = {}
    final = {}
    children = {}
    for mode in ("standard", "adversarial"):
        child = children[mode] = run.child(mode)

        def make_callbacks(model, mode=mode, child=child):
            as_trained = config.ntk_batch_source == "trained" and mode == "adversarial"
            dyn = KernelDynamics(
                model,
                x_fixed,
                every=config.ntk_every,
                log=child.log_metrics,
                top=config.ntk_top,
                method=config.ntk_method,
                chunk_size=config.ntk_chunk,
                state_dir=run.path(mode, "kernels"),  # a resumed run keeps earlier kernels
                inputs=_adversarial_batch(config, model, y_fixed) if as_trained else None,
                full=config.ntk_kernel_shape == "full",
            )
            dyn.epoch_zero()
            tracked[mode] = dyn
            return [dyn]

        evaluators = [
            ClassificationEvaluator("test", test.images, test.labels, config.eval_batch_size),
            RobustEvaluator(  # the --robust_eval attack on the first eval batch of test images
                "test",
                test.images[: config.eval_batch_size],
                test.labels[: config.eval_batch_size],
                make_robust_attack,
                config.eval_batch_size,
                metric=robust_metric,
            ),
        ]
        recipes.train_model(
            config.training_settings,
            child,
            name=mode,
            images=train.images,
            labels=train.labels,
            num_classes=train.num_classes,
            recipe=recipe,
            evaluators=evaluators,
            seed=derive_seed(config.seed, "model"),
            adversary=config.attack_settings if mode == "adversarial" else None,
            make_callbacks=make_callbacks,
            switch=_linearization(config, recipe.epochs, mode),
        )
        dyn = tracked[mode]
        accuracies[mode] = {
            kind: child.metric_history(f"test/{key}")
            for kind, key in (("clean", "accuracy"), ("robust", robust_metric))
        }
        with atomic_open(run.path(mode, "kernels.npz"), "wb") as f:
            np.savez(f, epochs=np.array(dyn.epochs), kernels=np.stack(dyn.kernels), inputs=x_fixed)
        child.log_artifact(run.path(mode, "kernels.npz"))
        last = dyn.history[-1]
        final.update({f"{mode}/{k}": v for k, v in last.items()})
        print(
            f"[{mode}] kernel moved: distance to init {last['ntk/distance_to_init']:.4f}, "
            f"angle {last['ntk/angle']:.4f} rad, top-{config.ntk_top} concentration "
            f"{last[f'ntk/concentration_top{config.ntk_top}']:.3f}"
        )
    name = config.attack if config.robust_eval == "pgd" else config.robust_eval.replace("_", "-").upper()
    attack = f"{name} ({config.attack_norm}, eps {config.attack_eps:g})"
    batch = {
        "trained": f"{len(x_fixed)} training (adversarial in adversarial training)",
        "train": f"{len(x_fixed)} clean training",
        "test": f"{len(x_fixed)} clean test",
    }[config.ntk_batch_source]
    _plots(run, children, tracked, accuracies, config.ntk_top, batch, config.model, attack, 1.0 / train.num_classes)
    for child in children.values():  # finished after their own figures are logged to them
        child.finish()
    run.log_metrics(final)
    return final


def _adversarial_batch(config: Config, model, labels: np.ndarray):
    """(epoch, x) -> the batch x as adversarial training sees it at the end of that epoch: the
    --attack* flags' untargeted attack against the current model, seeded per epoch."""
    attack = attack_builders.make_attack(config.attack_settings, model, targeted=False)
    seed = derive_seed(config.seed, "ntk_batch_attack")
    return lambda epoch, x: np.asarray(attack(x, labels, (seed, epoch))[0])


def _plots(
    run: Run,
    children: dict[str, Run],
    tracked: dict[str, KernelDynamics],
    accuracies: dict[str, dict],
    top: int,
    batch: str,
    model: str,
    attack: str,
    chance: float,
) -> None:
    """``accuracies``: mode -> {"clean" | "robust": {epoch: test accuracy}}, every epoch from 1.
    The two modes' distance heatmaps share one colour range, so they compare; each goes to its
    mode's child run, the figures comparing the modes to the parent."""
    largest = max(float(np.max(dyn.distance_matrix())) for dyn in tracked.values()) or 1.0
    for mode, dyn in tracked.items():
        labels = [str(e) for e in dyn.epochs]
        png = plots.heatmap(
            run.path("plots", f"{mode}_kernel_distance.png"),
            dyn.distance_matrix(),
            rows=labels,
            cols=labels,
            title=f"kernel distance d(K_s, K_t) (Eq. 12) of {model}, {mode} training, on the {batch} inputs tracked",
            xlabel="epoch t",
            ylabel="epoch s",
            vmax=largest,
        )
        children[mode].log_artifact(png, "plots")
    quantities = {
        "kernel distance to init d(K_0, K_t)": "ntk/distance_to_init",
        "angle to init (radians)": "ntk/angle",
        f"angle to init, top-{top} eigenspace (radians)": f"ntk/angle_top{top}",
        f"spectral concentration, top {top} (fraction)": f"ntk/concentration_top{top}",
    }
    panels = {
        label: {mode: [r[key] for r in dyn.history] for mode, dyn in tracked.items()}
        for label, key in quantities.items()
    }
    epochs = next(iter(tracked.values())).epochs
    png = plots.curve_panels(
        run.path("plots", "kernel_dynamics.png"),
        epochs,
        panels,
        title=f"empirical NTK of the {batch} inputs tracked (Sec. 5)",
        xlabel="epoch",
    )
    run.log_artifact(png, "plots")
    png = plots.polar_trajectories(
        run.path("plots", "kernel_polar.png"),
        {
            mode: (dyn.epochs, [r["ntk/angle"] for r in dyn.history], [r["ntk/radius"] for r in dyn.history])
            for mode, dyn in tracked.items()
        },
        title=f"empirical NTK of {model} on the {batch} inputs tracked, relative to K_0 (Eq. 13)",
        radius_label="||K_t - K_0||_F",
    )
    run.log_artifact(png, "plots")
    png = plots.curves_vs(
        run.path("plots", "accuracy.png"),
        list(accuracies["standard"]["clean"]),
        {f"{mode}: {key}": list(values.values()) for mode, acc in accuracies.items() for key, values in acc.items()},
        title=f"test accuracy, clean and under {attack}",
        xlabel="epoch",
        ylabel="accuracy",
        chance=chance,
    )
    run.log_artifact(png, "plots")
    entries: dict[str, np.ndarray] = {}
    for mode, d in tracked.items():
        for i in (0, -1):
            values = d.kernels[i].ravel()
            same = [name for name, v in entries.items() if v.shape == values.shape and np.array_equal(v, values)]
            if same:  # the modes start from the same init: one curve, named for both
                entries[f"{same[0].split(' epoch')[0]} & {mode} epoch {d.epochs[i]}"] = entries.pop(same[0])
            else:
                entries[f"{mode} epoch {d.epochs[i]}"] = values
    png = plots.histograms(
        run.path("plots", "kernel_entries.png"),
        entries,
        title=f"empirical NTK entries on the {batch} inputs tracked, before / after training",
        xlabel="kernel entry Theta(x_i, x_j)",
    )
    run.log_artifact(png, "plots")


def _linearization(config: Config, epochs: int, name: str) -> recipes.ModelSwitch | None:
    """``--ntk_linearize_epoch=e`` (App. E.1) as the trainer's hook: after e epochs the model is
    replaced by its linearization at theta_e, trained for the remaining epochs (attacks computed
    on it; its own checkpoints in ``<mode>_linearized``). None when unset (-1) or e >= epochs."""
    epoch = config.ntk_linearize_epoch
    if epoch >= epochs:
        print(f"[{name}] --ntk_linearize_epoch={epoch} >= {epochs} epochs: not linearized")
    if not 0 <= epoch < epochs:
        return None
    return recipes.ModelSwitch(
        epoch,
        LinearizedModel,
        "_linearized",
        f"linearized at epoch {epoch}: training f(x; theta_e) + J(x; theta_e) delta from here",
    )
