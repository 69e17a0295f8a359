"""Positive and negative controls for every claim check of ``python -m robust_keras.reproduce``.

Each check reads run directories written here by hand, three seeds each: runs whose outputs show
the paper's effect must hold; runs at chance level, runs showing the opposite effect, runs where
the two compared quantities tie, and runs where one seed of three lacks the effect must not. A
check that holds on any of those is a bug (issue 36)."""

import csv
import json
import os

import numpy as np
import pytest

from robust_keras.reproduce import checks_feature_averaging as fa
from robust_keras.reproduce import checks_ntk as ntk
from robust_keras.reproduce import checks_robust_before as rb

CONTROLS = ("chance", "opposite", "tie")


def _write(path, name, data):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, name), "w") as f:
        json.dump(data, f)


def _metrics(path, rows):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "metrics.jsonl"), "w") as f:
        f.writelines(json.dumps({"run": r, "step": s, "name": n, "value": v}) + "\n" for r, s, n, v in rows)


def _seed_flags(path, seed):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "flags.flags"), "w") as f:
        f.write(f"--experiment=x\n--seed={seed}\n")


def toy_switch(path, kind):
    p, k_t, ks = 0.2, 4.74, (1.5, 4.2, 5.5, 40.0)

    def accuracy(k):
        robust, nonrobust = 1 - p, 1 - p / k
        return {"effect": robust if k < k_t else nonrobust, "chance": 0.5, "opposite": nonrobust if k < k_t else robust,
                "tie": robust}[kind]  # fmt: skip

    sweep = [{"k": k, "population_accuracy": accuracy(k), "train_accuracy": 1.0 if kind != "chance" else 0.5,
              "step1_accuracy": 0.8 if kind != "chance" else 0.5} for k in ks]  # fmt: skip
    _write(path, "summary.json", {"p": p, "k_t": k_t, "sweep": sweep})


def test_toy_switch_needs_a_grid_that_brackets_k_t(tmp_path):
    toy_switch(str(tmp_path / "far"), "effect")
    summary = json.loads((tmp_path / "far" / "summary.json").read_text())
    summary["sweep"] = [row for row in summary["sweep"] if row["k"] in (1.5, 40.0)]
    (tmp_path / "far" / "summary.json").write_text(json.dumps(summary))
    verdict = rb.toy_switch([str(tmp_path / "far")])
    assert not verdict.holds and "grid does not bracket k_t" in verdict.measured


def feature_averaging(path, kind):
    k, m = 6, 3
    binary = np.full((2 * m, k), 0.05)
    binary[:m, : k // 2] = binary[m:, k // 2 :] = 1 / np.sqrt(k / 2)  # averaged: every own cluster alike
    multi = np.eye(k) * 0.95
    if kind == "chance":
        binary[:], multi[:] = 0.0, 0.0
    os.makedirs(os.path.join(path, "binary"))
    os.makedirs(os.path.join(path, "multiclass"))
    np.save(os.path.join(path, "binary", "cosine_matrix.npy"), binary)
    np.save(os.path.join(path, "multiclass", "cosine_matrix.npy"), multi)
    robust = {"effect": (0.05, 0.9, 0.8), "chance": (0.5, 0.5, 0.5), "opposite": (0.9, 0.05, 0.05),
              "tie": (0.4, 0.4, 0.4)}[kind]  # fmt: skip
    clean = 0.5 if kind == "chance" else 1.0
    curve = {name: [clean, 1.0, r, r, 0.0] for name, r in zip(("binary", "multiclass", "f_robust"), robust)}
    _write(path, "robust_accuracy.json", {
        "k": k, "radii": [0.0, 0.5, 1.0, 2.0, 30.0], "markers": {"sqrt(d/k)": 1.0, "sqrt(d)": 24.5}, "attack": "pgd",
        "curves": {name: {"pgd": c, "analytic": c} for name, c in curve.items()},
    })  # fmt: skip


def test_feature_averaging_needs_a_robust_f_robust(tmp_path):
    feature_averaging(str(tmp_path), "effect")
    result = json.loads((tmp_path / "robust_accuracy.json").read_text())
    result["curves"]["f_robust"] = {attack: [1.0, 1.0, 0.3, 0.3, 0.0] for attack in ("pgd", "analytic")}
    (tmp_path / "robust_accuracy.json").write_text(json.dumps(result))
    verdict = fa.feature_averaging([str(tmp_path)])
    assert not verdict.holds and "f_robust at radius 1.0 0.30 (binary 0.05)" in verdict.measured


def test_feature_averaging_needs_perfect_standard_accuracy(tmp_path):
    feature_averaging(str(tmp_path), "effect")
    result = json.loads((tmp_path / "robust_accuracy.json").read_text())
    result["curves"]["binary"] = {attack: [0.9, *c[1:]] for attack, c in result["curves"]["binary"].items()}
    (tmp_path / "robust_accuracy.json").write_text(json.dumps(result))
    verdict = fa.feature_averaging([str(tmp_path)])
    assert not verdict.holds and "standard accuracy binary 0.90, k-class 1.00" in verdict.measured


def ntk_top_features(path, kind):
    top, tail = {"effect": (0.8, 0.1), "chance": (0.0, 0.0), "opposite": (0.1, 0.8), "tie": (0.5, 0.5)}[kind]
    useful = {"effect": (0.6, 0.2), "chance": (0.0, 0.0), "opposite": (0.2, 0.6), "tie": (0.4, 0.4)}[kind]
    rows = [{"index": i, "robustness": top if i < 10 else tail, "usefulness": useful[0] if i < 10 else useful[1]}
            for i in range(50)]  # fmt: skip
    _write(path, "features.json", rows)


def test_ntk_top_features_needs_the_most_robust_fifth_at_the_top(tmp_path):
    rows = [{"index": i, "robustness": 0.6 if i < 10 else 0.9 if i < 20 else 0.1, "usefulness": 0.5} for i in range(50)]
    _write(str(tmp_path), "features.json", rows)  # top above tail, but the second fifth the most robust
    verdict = ntk.ntk_top_features([str(tmp_path)])
    assert not verdict.holds and "top to tail: 0.60, 0.90, 0.10, 0.10, 0.10" in verdict.measured


def features_consistent(path, kind):
    rho, overlap = {"effect": (0.9, 0.95), "chance": (0.0, 0.02), "opposite": (-0.8, 0.02), "tie": (0.5, 0.5)}[kind]
    _metrics(path, [("main", 0, "consistency/robustness_spearman_mean", rho),
                    ("main", 0, "consistency/top10_eigenspace_overlap_mean", overlap)])  # fmt: skip


def test_features_consistent_needs_both_agreements_and_two_architectures(tmp_path):
    _metrics(str(tmp_path / "a"), [("main", 0, "consistency/robustness_spearman_mean", 0.9),
                                   ("main", 0, "consistency/top10_eigenspace_overlap_mean", 0.1)])  # fmt: skip
    verdict = ntk.features_consistent([str(tmp_path / "a")])  # robustness agrees, the spaces do not
    assert not verdict.holds and "overlap 0.10" in verdict.measured
    _metrics(str(tmp_path / "b"), [("main", 0, "test/accuracy", 0.9)])
    verdict = ntk.features_consistent([str(tmp_path / "b")])
    assert not verdict.holds and "fewer than two architectures" in verdict.measured


def d_det_robust_first(path, kind):
    shift, clean = {
        "effect": ([0.45, 0.60, 0.62, 0.58], [0.11, 0.16, 0.20, 0.24]),
        "chance": ([0.10, 0.11, 0.10, 0.11], [0.10, 0.10, 0.11, 0.10]),
        "opposite": ([0.10, 0.12, 0.40, 0.50], [0.30, 0.40, 0.45, 0.50]),
        "tie": ([0.45, 0.60, 0.62, 0.58], [0.20, 0.25, 0.25, 0.25]),  # both above chance at the first epoch
    }[kind]
    rows = [("main", e, "shift/accuracy", v) for e, v in enumerate(shift, 1)]
    rows += [("main", e, "clean/accuracy", v) for e, v in enumerate(clean, 1)]
    rows += [("main", e, "train/accuracy", 0.6 + 0.1 * e) for e in range(1, len(shift) + 1)]
    _metrics(path, rows)


def transfer_split(path, kind):
    # (clean accuracy trained on the transferring part, on the rest; the rest's model on D_shift)
    transfers, stays, stays_shift = {
        "effect": (0.6, 0.2, 0.7),
        "chance": (0.1, 0.1, 0.1),
        "opposite": (0.2, 0.6, 0.1),
        "tie": (0.4, 0.4, 0.4),
    }[kind]
    _write(
        path,
        "summary.json",
        {"transfers/clean": transfers, "no_transfer/clean": stays, "no_transfer/shift": stays_shift},
    )


def test_transfer_split_needs_both_halves_of_claim_1(tmp_path):
    _write(
        str(tmp_path / "a"),
        "summary.json",
        {"transfers/clean": 0.6, "no_transfer/clean": 0.2, "no_transfer/shift": 0.15},
    )
    assert not rb.transfer_split([str(tmp_path / "a")]).holds  # the rest generalises to neither


def ntk_attack_transfer(path, kind, early_cosine=None):
    # (clean, own attack, NTK attack, gradient cosine of the widest nets at every evaluation)
    clean, own, ntk_attack, cosine = {
        "effect": (0.9, 0.3, 0.35, 0.9),
        "chance": (0.1, 0.1, 0.1, 0.0),
        "opposite": (0.9, 0.3, 0.85, 0.2),
        "tie": (0.9, 0.3, 0.35, 0.5),  # the cosine at the threshold, not above it
    }[kind]
    row = {"nn/clean_accuracy": clean, "nn/own_attack_accuracy": own, "nn/ntk_attack_accuracy": ntk_attack}
    cosines = {1000: cosine if early_cosine is None else early_cosine, 2000: cosine, 3000: cosine}
    history = {f"width_{w}_seed_{s}": [{"step": step, **row, "grad_cosine": c if w == 2048 else 0.3}
                                       for step, c in cosines.items()]
               for w in (256, 2048) for s in (0, 1)}  # fmt: skip
    _write(path, "ntk_transfer.json", {"history": history})


def test_ntk_attack_transfer_needs_alignment_at_every_evaluation(tmp_path):
    ntk_attack_transfer(str(tmp_path), "effect", early_cosine=0.3)  # aligned at the end only
    verdict = ntk.ntk_attack_transfer([str(tmp_path)])
    assert not verdict.holds and "step 1000: cosine 0.30" in verdict.measured


def fa_real_finer_labels(path, kind):
    binary, fine = {
        "effect": ([0.97, 0.6, 0.3, 0.1], [0.97, 0.8, 0.5, 0.3]),
        "chance": ([0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5]),
        "opposite": ([0.97, 0.8, 0.5, 0.3], [0.97, 0.6, 0.3, 0.1]),
        "tie": ([0.97, 0.6, 0.3, 0.1], [0.97, 0.6, 0.3, 0.1]),
    }[kind]
    _write(path, "robust_accuracy.json", {"radii": [0, 1, 2, 3], "curves": {"binary": binary, "fine": fine}})


_KERNEL_EFFECT = {  # epoch 0..8 of each mode, shaped like NTK Fig. 6
    "adversarial": {
        "ntk/distance_to_init": [0, 0.05, 0.07, 0.08, 0.08, 0.08, 0.08, 0.08, 0.08],
        "ntk/angle": [0, 0.3, 0.38, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4],  # rotates early, then stops
        "ntk/norm_ratio": [1, 1.4, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5],  # expands early, then stops
        "ntk/concentration_top20": [0.9, 0.95, 0.96, 0.96, 0.96, 0.96, 0.96, 0.96, 0.96],
        "test/robust_accuracy": [0.0, 0.3, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6],
    },
    "standard": {
        "ntk/distance_to_init": [0, 0.01, 0.02, 0.03, 0.035, 0.04, 0.045, 0.048, 0.05],
        "ntk/angle": [0, 0.1, 0.15, 0.2, 0.22, 0.25, 0.27, 0.29, 0.3],
        "ntk/norm_ratio": [1, 1.1, 1.2, 1.3, 1.5, 1.7, 1.9, 2.0, 2.1],  # grows late
        "ntk/concentration_top20": [0.9, 0.9, 0.91, 0.91, 0.91, 0.92, 0.92, 0.92, 0.92],
        "test/robust_accuracy": [0.0] * 9,
    },
}


def kernel_rotation(path, kind, changes=None):
    """``changes``: {(mode, metric): curve} replacing parts of the effect."""
    curves = {mode: dict(q) for mode, q in _KERNEL_EFFECT.items()}
    if kind == "chance":
        curves = {mode: {n: [0.1 if "accuracy" in n else 0.0] * 9 for n in q} for mode, q in curves.items()}
    elif kind == "opposite":
        curves = {"adversarial": curves["standard"], "standard": curves["adversarial"]}
    elif kind == "tie":
        curves["adversarial"] = curves["standard"]
    for (mode, name), curve in (changes or {}).items():
        curves[mode][name] = curve
    rows = [(mode, e, n, v) for mode, q in curves.items() for n, c in q.items() for e, v in enumerate(c) if
            e > 0 or n.startswith("ntk/")]  # fmt: skip
    _metrics(path, rows)


@pytest.mark.parametrize(
    "changes, facet",
    [
        ({("adversarial", "test/robust_accuracy"): [0.0, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]}, "more robust: no"),
        ({("adversarial", "ntk/distance_to_init"): [0, 0.01, 0.02, 0.03, 0.03, 0.03, 0.03, 0.03, 0.04]},
         "moves further: no"),
        ({("adversarial", "ntk/angle"): [0, 0.1, 0.15, 0.2, 0.22, 0.25, 0.3, 0.35, 0.4]},
         "adversarial settles early: no"),
        ({("adversarial", "ntk/angle"): [0, 0.3, 0.38, 0.4, 0.4, 0.35, 0.3, 0.25, 0.2]},
         "adversarial settles early: no"),  # swings back late: still rotating
        ({("standard", "ntk/norm_ratio"): [1, 1.8, 2.0, 2.1, 2.1, 2.1, 2.1, 2.1, 2.1]}, "standard grows late: no"),
        ({("standard", "ntk/norm_ratio"): [1, 1.05, 1.1, 1.15, 1.2, 1.25, 1.3, 1.35, 1.4]}, "expands less: no"),
        ({("standard", "ntk/concentration_top20"): [0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.97, 0.9, 0.9]},
         "concentrates more: no"),
    ],
)  # fmt: skip
def test_kernel_rotation_needs_every_statement(changes, facet, tmp_path):
    kernel_rotation(str(tmp_path), "effect", changes)
    verdict = ntk.kernel_rotation([str(tmp_path)])
    assert not verdict.holds and facet in verdict.measured


def pathway2_end_state(path, kind):
    train, val = {
        "effect": ([0.5, 0.8, 0.95, 0.99, 1.0, 1.0, 1.0, 1.0], [0.6, 0.75, 0.8, 0.81, 0.81, 0.81, 0.82, 0.81]),
        "chance": ([0.1] * 8, [0.1] * 8),
        "opposite": ([0.5, 0.8, 0.95, 0.99, 1.0, 1.0, 1.0, 1.0], [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.92, 0.94]),
        "tie": ([0.5, 0.8, 0.95, 0.99, 1.0, 1.0, 1.0, 1.0], [0.5, 0.8, 0.95, 0.99, 1.0, 1.0, 1.0, 1.0]),
    }[kind]
    rows = [("main", e, "train/accuracy", v) for e, v in enumerate(train, 1)]
    _metrics(path, rows + [("main", e, "val/accuracy", v) for e, v in enumerate(val, 1)])


def cross_dataset(path, kind):
    other = {"effect": 0.2, "chance": 0.1, "opposite": 0.05, "tie": 0.1}[kind]
    row = {"model": "D_det mnist_sample", "mnist_sample": 0.6, "mnist_sample_shifted": 0.3}
    row.update({"uci_digits": other, "uci_digits_shifted": 0.1})
    clean = {"model": "clean mnist_sample", "mnist_sample": 0.98, "uci_digits": 0.7}
    _write(path, "summary.json", {"rows": [clean, row], "test_sizes": {"mnist_sample": 1000, "uci_digits": 797}})


def _grid_csv(path, ladder, lrs=(0.01, 0.1)):
    """grid.csv of a pathway grid: ``ladder`` [(L2, label, score)] at every learning rate, no augmentation."""
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "grid.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, ["learning_rate", "weight_decay", "augment", "replicate", "pathway", "score"])
        writer.writeheader()
        for lr in lrs:
            for wd, label, score in ladder:
                writer.writerow({"learning_rate": lr, "weight_decay": wd, "augment": "False", "replicate": 0,
                                 "pathway": label, "score": score})  # fmt: skip


def pathways_recipe(path, kind):
    labels, scores = {
        "effect": (("2", "between", "1", "1"), (0.1, 0.3, 0.6, 0.7)),
        "chance": (("between",) * 4, (0.5,) * 4),
        "opposite": (("1", "1", "between", "2"), (0.7, 0.6, 0.3, 0.1)),
        "tie": (("2",) * 4, (0.1,) * 4),
    }[kind]
    _grid_csv(path, list(zip((0, 2.5e-4, 1e-3, 4e-3), labels, scores)))


@pytest.mark.parametrize(
    "ladder, why",
    [
        ([(0, "2", 0.1), (2.5e-4, "between", 0.3), (1e-3, "between", 0.35), (4e-3, "1", 0.7)], "a wide middle"),
        ([(0, "2", 0.1), (2.5e-4, "1", 0.6), (1e-3, "2", 0.15), (4e-3, "1", 0.7)], "back to pathway 2"),
        ([(0, "2", 0.1), (2.5e-4, "1", 0.8), (1e-3, "1", 0.6), (4e-3, "1", 0.7)], "the score falls by 0.2"),
        ([(5e-4, "2", 0.1), (4e-3, "1", 0.7)], "no cell without L2"),
    ],
)
def test_pathways_recipe_needs_one_sharp_rise_from_l2_zero(ladder, why, tmp_path):
    _grid_csv(str(tmp_path), ladder)
    assert not rb.pathways_recipe([str(tmp_path)]).holds, why


def d_r_robust(path, kind):
    d_r, d_nr, standard = {"effect": (0.6, 0.1, 0.1), "chance": (0.1, 0.1, 0.1), "opposite": (0.1, 0.6, 0.6),
                           "tie": (0.4, 0.4, 0.4)}[kind]  # fmt: skip
    robust = 0.1 if kind == "chance" else 0.7
    _write(path, "summary.json", {"d_r/inversion_residual_median": 0.3, "d_nr/inversion_residual_median": 0.2})
    accuracy = {"robust model (source)": [0.95, robust], "standard model (source)": [0.9, standard],
                "trained on D_R": [0.9, d_r], "trained on D_NR": [0.9, d_nr]}  # fmt: skip
    _write(path, "sweep.json", {"l2_eps": [0.5, 2.0], "examples": 200, "accuracy": accuracy})


def clean_pathways(path, kind):
    success, t1, t2 = {"effect": (0.9, 0.6, 0.2), "chance": (0.1, 0.1, 0.1), "opposite": (0.9, 0.2, 0.6),
                       "tie": (0.9, 0.4, 0.4)}[kind]  # fmt: skip
    summary = {f"m1_{r}/adv/attack_success": success for r in "12"}
    summary.update({f"m1_1/adv/transfer_m2_{t}": t1 for t in "12"})
    summary.update({f"m1_2/adv/transfer_m2_{t}": t2 for t in "12"})
    _write(path, "summary.json", summary)


def _correlation_cell(path, label, mu, shift):
    """A pathway-grid cell: its label (result.json) and its mu / shift curves, one value per epoch."""
    _write(path, "result.json", {"verdict": {"label": label, "score": 0.5}, "num_classes": 10})
    rows = [("c", e, "val/performance_correlation", v) for e, v in enumerate(mu, 1)]
    _metrics(path, rows + [("c", e, "shift/accuracy", v) for e, v in enumerate(shift, 1)])


def performance_correlation(path, kind):
    rise_fall = [0.3, 0.6, 0.7, 0.4, 0.3, 0.3]  # pathway 1: shift peaks at epoch 3, then drops sharply
    mu, shift = {
        "effect": ([1.0, 2.0, 2.9, 2.95, 3.0, 3.0], rise_fall),  # mu levels off at epoch 3 too
        "chance": ([0.0] * 6, [0.1] * 6),
        "opposite": ([1.0, 1.2, 1.5, 2.0, 2.6, 3.0], rise_fall),  # mu keeps rising to the end
        "tie": ([2.0] * 6, [0.7] * 6),  # nothing rises: nothing to time
    }[kind]
    _metrics(path, [("main", 0, "simple/val_accuracy", 0.8)])
    _correlation_cell(os.path.join(path, "cells", "000-cell"), "1", mu, shift)


def test_performance_correlation_times_only_pathway_cells_and_needs_one(tmp_path):
    path = tmp_path / "seed0"
    _metrics(str(path), [("main", 0, "simple/val_accuracy", 0.8)])
    _correlation_cell(str(path / "cells" / "000-a"), "between", [1.0, 1.2, 2.0, 3.0], [0.2, 0.6, 0.3, 0.3])
    verdict = rb.performance_correlation([str(path)])
    assert not verdict.holds and "no pathway-1 or -2 cell" in verdict.measured
    _correlation_cell(str(path / "cells" / "001-b"), "2", [1.0, 2.5, 2.9, 3.0], [0.2, 0.6, 0.62, 0.63])
    verdict = rb.performance_correlation([str(path)])  # pathway 2: both level off at epoch 2
    assert verdict.holds and "000-a: pathway between, not timed" in verdict.measured


# check name -> (the check, the builder above of the same name)
_CHECK_FUNCTIONS = (rb.toy_switch, rb.d_det_robust_first, rb.pathway2_end_state, rb.pathways_recipe, rb.d_r_robust,
                    rb.transfer_split, rb.clean_pathways, rb.cross_dataset, rb.performance_correlation,
                    fa.feature_averaging, fa.fa_real_finer_labels, ntk.ntk_top_features, ntk.features_consistent,
                    ntk.kernel_rotation,
                    ntk.ntk_attack_transfer)  # fmt: skip
CHECKS = {check.__name__: (check, globals()[check.__name__]) for check in _CHECK_FUNCTIONS}


def _runs(tmp_path, build, kinds):
    runs = []
    for seed, kind in zip((0, 1, 2), kinds):
        path = str(tmp_path / f"seed{seed}")
        build(path, kind)
        _seed_flags(path, seed)
        runs.append(path)
    return runs


def test_every_claim_check_has_controls():
    from robust_keras.reproduce.claims import BY_NAME, CLAIMS, ORDER

    assert {c.check.__name__ for c in CLAIMS} == set(CHECKS)
    assert sorted(ORDER) == sorted(BY_NAME) and len(set(ORDER)) == len(ORDER)  # each paper's claims run once


# (case, the kind of run at seeds 0, 1, 2, whether the check must hold)
CASES = [("the paper's effect in every seed", ["effect"] * 3, True)]
CASES += [(f"{control} in every seed", [control] * 3, False) for control in CONTROLS]
CASES += [("the effect missing in one seed of three", ["effect", "effect", "tie"], False)]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("name", sorted(CHECKS))
def test_check_holds_on_the_effect_and_only_on_it(name, case, tmp_path):
    _, kinds, expected = case
    check, build = CHECKS[name]
    verdict = check(_runs(tmp_path, build, kinds))
    assert verdict.holds == expected, verdict.measured
