"""Robust accuracy of any SavedModel on the test split of ``--dataset``, under an ensemble of
attacks run with AutoAttack's protocol (attacks/ensemble.py; docs/methods.md §D.3;
``--eval_version``: AutoAttack's standard version, its rand version for randomised defences, or a
custom choice), at one or several budgets ``--eval_eps`` of the ``--attack_norm`` ball. Before
attacking, two calls on the same images tell whether the model is randomised; a version that does
not fit the model is warned about (as the reference does).

Per budget, the examples are attacked batch by batch (``--eval_batch_size``); each finished batch
is written to ``evaluate/eps_<eps>/batch_<i>.npz`` (atomic), so an interrupted run resumes at the
first missing batch, and a ``spec.json`` beside them refuses a resume with another model, data or
attack. Outputs: per-example results (``per_example.npz``: test index, label, clean correct, index
of the attack that broke it or -1), metrics ``clean/accuracy``, ``robust_accuracy/eps_<eps>`` and
``broken_by/<attack>/eps_<eps>`` (share of all examples), and a RobustBench-style summary row per
budget (``summary.md``, ``summary.csv``, ``summary.json``).
"""

from __future__ import annotations

import csv
import json
import os

import numpy as np

from robust_keras import progress
from robust_keras.analysis.plots import curves_vs
from robust_keras.atomic_files import atomic_open, write_json
from robust_keras.attacks.ensemble import NOT_BROKEN, VERSIONS, Ensemble
from robust_keras.config import Config
from robust_keras.data import transforms
from robust_keras.errors import ConfigError, DataError, ModelError
from robust_keras.export import load_model
from robust_keras.savedmodel_hash import savedmodel_hash
from robust_keras.seeds import derive_seed
from robust_keras.tracking.mirror import Run
from robust_keras.workflows import clean_data

THREAT = {"linf": "Linf", "l2": "L2"}


def run(config: Config, run: Run) -> dict:
    if not config.evaluate_savedmodel:
        raise ConfigError("evaluate needs the model to attack", "pass --evaluate_savedmodel=DIR (a SavedModel)")
    budgets = [float(e) for e in config.eval_eps] or [config.attack_eps]
    _, test = clean_data.load_clean(config.data_settings)
    model = load_model(config.evaluate_savedmodel, test.image_shape, config.trust_savedmodels)
    name = model.metadata.get("model") or os.path.basename(os.path.normpath(config.evaluate_savedmodel))
    settings = ensemble_settings(config)
    ensemble = Ensemble(model, norm=config.attack_norm, eps=budgets[0], **settings)  # one graph per attack, every eps
    probe = transforms.to_float(test.images[: config.eval_batch_size])
    logits = np.asarray(model(probe))
    if config.eval_version == "standard_two_class" and logits.shape[-1] != 2:
        raise ModelError(
            f"--eval_version=standard_two_class is for two-class models; the model has {logits.shape[-1]} classes",
            "use --eval_version=standard",
        )
    ensemble.check_classes(logits.shape[-1])  # before any attack runs
    randomised = not np.array_equal(logits, np.asarray(model(probe)))
    _warn_if_version_misfits(config.eval_version, randomised)
    model_hash = savedmodel_hash(config.evaluate_savedmodel)  # read every file once; every budget's spec uses it
    run.log_params({"model_name": name, "model_sha256": model_hash, "model_randomised": randomised})
    rows = []
    for eps in budgets:
        ensemble.set_budget(eps)
        directory = run.path("evaluate", f"eps_{eps:g}")
        os.makedirs(directory, exist_ok=True)
        _check_spec(directory, _spec(config, settings, model_hash, eps, len(test)))
        with progress.timed(f"attacks at eps {eps:g}"):
            clean_correct, broken_by = _attack_all(config, ensemble, test, directory, eps)
        outcome = (clean_correct, broken_by)
        rows.append(_report(config, run, directory, test, eps, outcome, name, ensemble))
    _write_summary(run, rows)
    run.log_artifact(_plot_budgets(run.path("robust_accuracy_vs_eps.png"), rows, classes=logits.shape[-1]), "plots")
    return {k: v for row in rows for k, v in row["metrics"].items()}


def ensemble_settings(config: Config) -> dict:
    """The Ensemble's keyword arguments: those of --eval_version, or the --eval_* flags for custom."""
    if config.eval_version in VERSIONS:
        attacks, steps, queries, targets, eot = VERSIONS[config.eval_version]
        settings = dict(attacks=attacks, steps=steps, eot=eot)
        settings.update({k: v for k, v in (("queries", queries), ("target_classes", targets)) if v is not None})
        return settings
    return dict(
        attacks=tuple(config.eval_attacks),
        steps=config.eval_steps,
        queries=config.eval_queries,
        target_classes=config.eval_target_classes,
        eot=config.eval_eot,
    )


def _warn_if_version_misfits(version: str, randomised: bool) -> None:
    if randomised and version == "standard":
        print(
            "[evaluate] warning: the model's logits differ between two calls on the same images (a randomised "
            "defence): single-draw gradients understate its vulnerability -- --eval_version=rand averages 20 "
            "draws per step",
            flush=True,
        )
    elif not randomised and version == "rand":
        print(
            "[evaluate] warning: the model gives the same logits on every call: the rand version's 20 draws "
            "per step repeat one pass (20x the time) and it omits APGD-T, FAB-T and Square -- "
            "--eval_version=standard fits a deterministic model",
            flush=True,
        )


def _spec(config: Config, settings: dict, model_hash: str, eps: float, examples: int) -> dict:
    """What the batch files of one budget were made with (a resume must match it); ``settings``:
    the ensemble's (:func:`ensemble_settings`)."""
    return {
        "model_sha256": model_hash,
        "dataset": config.dataset,
        "examples": examples,
        "norm": config.attack_norm,
        "eps": eps,
        "version": config.eval_version,
        **{k: list(v) if k == "attacks" else v for k, v in settings.items()},
        "batch_size": config.eval_batch_size,
        "seed": config.seed,
    }


def _check_spec(directory: str, spec: dict) -> None:
    path = os.path.join(directory, "spec.json")
    if os.path.exists(path):
        with open(path) as f:
            earlier = json.load(f)
        if earlier != spec:
            diff = ", ".join(f"{k}: {earlier.get(k)} then, {v} now" for k, v in spec.items() if earlier.get(k) != v)
            raise DataError(
                f"{directory} holds results of another evaluation ({diff})",
                "use another --output_dir, or delete that directory to evaluate again",
            )
    else:
        write_json(path, spec)


def _attack_all(config: Config, ensemble: Ensemble, test, directory: str, eps: float):
    """(clean_correct bool (n,), broken_by int8 (n,)) over the whole split, batch files reused."""
    batch = config.eval_batch_size
    starts = range(0, len(test), batch)
    seed = derive_seed(config.seed, f"evaluate/eps={eps:g}")
    clean_correct, broken_by = [], []
    robust_count, meter = 0, progress.LoopMeter()
    for i, lo in enumerate(starts):
        hi = min(lo + batch, len(test))
        path = os.path.join(directory, f"batch_{i:05d}.npz")
        if not os.path.exists(path):
            result = ensemble(transforms.to_float(test.images[lo:hi]), test.labels[lo:hi], (seed, i))
            with atomic_open(path, "wb") as f:
                np.savez(f, clean_correct=result.clean_correct, broken_by=result.broken_by)
            meter.add(hi - lo)
        with np.load(path) as part:
            clean_correct.append(part["clean_correct"])
            broken_by.append(part["broken_by"])
        robust_count += int(np.sum(clean_correct[-1] & (broken_by[-1] == NOT_BROKEN)))
        robust = robust_count / hi
        print(
            f"[evaluate] eps {eps:g}: batch {i + 1}/{len(starts)} done, {hi}/{len(test)} examples, "
            f"robust so far {robust:.3f}, {meter.outlook(len(test) - hi)}",
            flush=True,
        )
    return np.concatenate(clean_correct), np.concatenate(broken_by)


def _report(config: Config, run: Run, directory: str, test, eps: float, outcome, name: str, ensemble) -> dict:
    """Saves the per-example results ``outcome`` = (clean_correct, broken_by), logs the metrics;
    returns the summary row of one budget, attacked by ``ensemble``."""
    clean_correct, broken_by = outcome
    n = len(test)
    with atomic_open(os.path.join(directory, "per_example.npz"), "wb") as f:
        np.savez(f, index=np.arange(n), label=test.labels, clean_correct=clean_correct, broken_by=broken_by)
    run.log_artifact(os.path.join(directory, "per_example.npz"), f"evaluate/eps_{eps:g}")
    robust = float(np.mean(clean_correct & (broken_by == NOT_BROKEN)))
    metrics = {"clean/accuracy": float(clean_correct.mean()), f"robust_accuracy/eps_{eps:g}": robust}
    breakdown = {}
    for index, attack in enumerate(ensemble.attacks):
        broken = int(np.sum(broken_by == index))
        breakdown[attack] = broken
        metrics[f"broken_by/{attack}/eps_{eps:g}"] = broken / n
    run.log_metrics(metrics)
    print(
        f"[evaluate] {name}, {THREAT[config.attack_norm]} eps {eps:g}: clean {metrics['clean/accuracy']:.4f}, "
        f"robust {robust:.4f} on {n} examples; broken by " + ", ".join(f"{a} {k}" for a, k in breakdown.items())
    )
    return {
        "model": name,
        "dataset": f"{config.dataset} test ({n})",
        "examples": n,
        "threat_model": THREAT[config.attack_norm],
        "eps": eps,
        "clean_accuracy": metrics["clean/accuracy"],
        "robust_accuracy": robust,
        "attacks": "+".join(ensemble.attacks),
        "ensemble": f"AutoAttack {ensemble.version}" if ensemble.version != "custom" else "custom",
        "broken_by": breakdown,
        "metrics": metrics,
    }


def _plot_budgets(path: str, rows: list[dict], classes: int) -> str:
    """Accuracy against the budget eps (0 = clean), after each attack of the ensemble in turn: the
    last curve is the ensemble's robust accuracy, the gaps between curves what each attack added."""
    rows = sorted(rows, key=lambda row: row["eps"])
    first = rows[0]
    n = first["examples"]
    attacks = list(first["broken_by"])
    series = {}
    for k in range(1, len(attacks) + 1):
        label = "after " + " + ".join(attacks[:k]) if k < len(attacks) else f"robust accuracy ({first['ensemble']})"
        series[label] = [first["clean_accuracy"]] + [
            row["clean_accuracy"] - sum(row["broken_by"][a] for a in attacks[:k]) / n for row in rows
        ]
    return curves_vs(
        path,
        [0.0] + [row["eps"] for row in rows],
        series,
        title=f"{first['model']} on {first['dataset']}: accuracy against the attack budget (eps 0 = clean)",
        xlabel=f"eps ({first['threat_model']} radius, pixel units of inputs in [0, 1])",
        ylabel="accuracy (share of test examples)",
        chance=1.0 / classes,
    )


def _write_summary(run: Run, rows: list[dict]) -> None:
    """summary.json, and one RobustBench-style row per budget in summary.csv and summary.md."""
    write_json(run.path("summary.json"), {"rows": rows})
    columns = ("model", "dataset", "threat_model", "eps", "clean_accuracy", "robust_accuracy", "ensemble", "attacks")
    with atomic_open(run.path("summary.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows([[row[c] for c in columns] for row in rows])
    lines = [
        "| model | dataset | threat model | eps | clean accuracy | robust accuracy | ensemble "
        "| attacks (examples broken) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        broken = ", ".join(f"{a} {k}" for a, k in row["broken_by"].items())
        lines.append(
            f"| {row['model']} | {row['dataset']} | {row['threat_model']} | {row['eps']:g} | "
            f"{100 * row['clean_accuracy']:.2f}% | {100 * row['robust_accuracy']:.2f}% | {row['ensemble']} | {broken} |"
        )
    note = (
        "Robust accuracy: share of test examples classified correctly at x and at every point the attacks "
        "found, attacks run in order on the examples still correct (AutoAttack's protocol). 'AutoAttack "
        "standard': APGD-CE, APGD-T, FAB-T, Square with the reference's iterations, targets and queries; "
        "'AutoAttack standard_two_class': the same without APGD-T (its loss needs 4 classes), FAB-T toward "
        "the other class, for two-class models; "
        "'AutoAttack rand': APGD-CE and APGD-DLR averaging each gradient over 20 draws of a randomised "
        "model; 'custom': another choice of attacks or settings.\n\n"
    )
    with atomic_open(run.path("summary.md"), "w") as f:
        f.write(note + "\n".join(lines) + "\n")
    print("\n".join(lines))
    for name in ("summary.json", "summary.csv", "summary.md"):
        run.log_artifact(run.path(name))
