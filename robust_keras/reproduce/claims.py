"""The papers' claims, each with the runs that test it and the check that reads them.

A claim is one statement of one paper (section / figure), the flagfile under ``flags/reproduce/``
that tests it at the largest scale a 2-core CPU affords, the seeds it runs over, and a check that
reads the finished runs and returns a :class:`Verdict`: what the paper reports, what was measured,
and whether the statement holds -- in every seed, never on average only. Checks read only what the
runs wrote (summary files, metrics.jsonl, arrays); thresholds are the paper's statement, not values
fitted to our runs, and a row that does not hold says what was measured.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Verdict:
    paper_value: str  # what the paper reports
    measured: str  # what the runs show, per seed
    holds: bool
    metrics: dict  # numbers for MLflow (name -> value)


@dataclass(frozen=True)
class Claim:
    name: str
    paper: str  # paper and place, e.g. "RB Thm. 1-2"
    statement: str
    flagfile: str  # under flags/reproduce/
    seeds: tuple[int, ...] | None  # None: one run without --seed (an experiment with no randomness)
    minutes: float  # wall time of all its runs, measured on 2 idle cores on 2026-12-04/05 (for the ETA)
    quick: bool  # holds at CPU scale in minutes: part of --quick (and of CI)
    check: Callable[[list[str]], Verdict]  # run directories (one per seed) -> verdict
    figure: str  # the run's figure that shows it (path inside a run directory)


def _json(path: str):
    with open(path) as f:
        return json.load(f)


def _metrics(run_dir: str, run: str | None = "main") -> dict[str, dict[int, float]]:
    """{metric: {step: value}} of one run (``run``: main or a child's label; None: every row -- a
    directory only one run writes, such as a grid cell's) from metrics.jsonl."""
    out: dict[str, dict[int, float]] = {}
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        for line in f:
            if not line.strip():
                continue
            row = json.loads(line)
            if run is None or row["run"] == run:
                out.setdefault(row["name"], {})[row["step"]] = row["value"]
    return out


def _toy_switch(runs: list[str]) -> Verdict:
    """RB Thm. 1-2: accuracy 1 - p for k well below k_t, 1 - p/k well above; step 1 robust."""
    parts, holds, metrics = [], True, {}
    for run_dir in runs:
        summary = _json(os.path.join(run_dir, "summary.json"))
        p, k_t = summary["p"], summary["k_t"]
        for row in summary["sweep"]:
            k, acc = row["k"], row["population_accuracy"]
            want = 1 - p if k < k_t / 2 else (1 - p / k if k > 2 * k_t else None)
            if want is not None:
                holds &= abs(acc - want) < 0.01
            holds &= abs(row["step1_accuracy"] - (1 - p)) < 0.01
            parts.append(f"k={k:g}: {acc:.3f}")
            metrics[f"population_accuracy_k{k:g}"] = acc
        metrics["k_t"] = k_t
        parts.insert(0, f"k_t={k_t:.2f}")
    return Verdict(
        paper_value="population accuracy 1-p (0.8) for k < k_t, 1-p/k above; GD's step 1 uses the robust coordinate",
        measured=", ".join(parts),
        holds=bool(holds),
        metrics=metrics,
    )


def _feature_averaging(runs: list[str]) -> Verdict:
    """FA: the binary net's neurons average the clusters of their class (|cos| ~ 1/sqrt(k/2)),
    the k-class net's neurons each take one cluster, and the finer labels buy l2 robustness."""
    parts, holds, metrics = [], True, {}
    for seed, run_dir in enumerate(runs):
        result = _json(os.path.join(run_dir, "robust_accuracy.json"))
        k = result["k"]
        binary = np.load(os.path.join(run_dir, "binary", "cosine_matrix.npy"))  # (2m, k): neurons x clusters
        multi = np.load(os.path.join(run_dir, "multiclass", "cosine_matrix.npy"))  # (k, k)
        m = binary.shape[0] // 2
        own = np.zeros(binary.shape, bool)  # the first m neurons read out +1 (clusters of class 1), the rest -1
        own[:m, : k // 2] = own[m:, k // 2 :] = True
        averaged = float(binary[own].mean())
        diagonal = float(np.mean(np.diag(multi)))
        radii = np.asarray(result["radii"])
        between = (radii >= result["markers"]["sqrt(d/k)"]) & (radii <= result["markers"]["sqrt(d)"])
        worst = {name: np.minimum(c[result["attack"]], c["analytic"]) for name, c in result["curves"].items()}
        gap = worst["multiclass"][between] - worst["binary"][between]  # the worse of PGD and the analytic attack
        i = int(np.argmax(gap))
        at = {name: float(w[between][i]) for name, w in worst.items()}
        holds &= abs(averaged - 1 / np.sqrt(k / 2)) < 0.1 and diagonal > 0.8 and gap[i] > 0.3
        parts.append(
            f"seed {seed}: binary |cos| {averaged:.2f}, k-class diagonal {diagonal:.2f}; at l2 radius "
            f"{radii[between][i]:.1f} robust accuracy binary {at['binary']:.2f} vs k-class {at['multiclass']:.2f}"
        )
        metrics.update({f"seed{seed}/binary_cos": averaged, f"seed{seed}/multiclass_diagonal_cos": diagonal})
        metrics.update({f"seed{seed}/robust_binary": at["binary"], f"seed{seed}/robust_multiclass": at["multiclass"]})
    k = _json(os.path.join(runs[0], "robust_accuracy.json"))["k"]
    return Verdict(
        paper_value=f"binary |cos| = 1/sqrt(k/2) = {1 / np.sqrt(k / 2):.2f}; k-class neurons decouple; between radii "
        "sqrt(d/k) and sqrt(d) the k-class readout is robust where the binary net is not",
        measured="; ".join(parts),
        holds=bool(holds),
        metrics=metrics,
    )


def _ntk_top_features(runs: list[str]) -> Verdict:
    """NTK Sec. 4: the top eigen-features are more robust than the tail ones."""
    parts, holds, metrics = [], True, {}
    for run_dir in runs:
        rows = _json(os.path.join(run_dir, "features.json"))
        tenth = max(1, len(rows) // 5)
        top = float(np.mean([r["robustness"] for r in rows[:tenth]]))
        tail = float(np.mean([r["robustness"] for r in rows[-tenth:]]))
        useful_top = float(np.mean([r["usefulness"] for r in rows[:tenth]]))
        useful_tail = float(np.mean([r["usefulness"] for r in rows[-tenth:]]))
        holds &= top > tail + 0.1 and useful_top > useful_tail
        parts.append(
            f"robustness top fifth {top:.2f} vs tail fifth {tail:.2f}; usefulness {useful_top:.2f} vs {useful_tail:.2f}"
        )
        metrics.update({"robustness_top": top, "robustness_tail": tail, "usefulness_top": useful_top})
        metrics["usefulness_tail"] = useful_tail
    return Verdict(
        paper_value="the top of the spectrum holds the useful and robust features, the tail useful but non-robust ones",
        measured="; ".join(parts),
        holds=bool(holds),
        metrics=metrics,
    )


def _d_det_robust_first(runs: list[str]) -> Verdict:
    """RB Fig. 1: N2 trained on D_det learns the robust features first -- the shift accuracy rises
    above chance (+ the pathway rule's min_gain) no later than the clean accuracy does -- reaches
    far above chance on D_shift, and from the planted non-robust features clean accuracy above chance."""
    from robust_keras.analysis.pathways import PathwayRule, classify

    parts, holds, metrics = [], True, {}
    for seed, run_dir in enumerate(runs):
        m = _metrics(run_dir)
        shift, clean, train = (m[f"{c}/accuracy"] for c in ("shift", "clean", "train"))
        epochs = sorted(shift)
        verdict = classify(
            [clean[e] for e in epochs], [shift[e] for e in epochs], 10, PathwayRule(), [train[e] for e in epochs]
        )
        peak_epoch = max(shift, key=shift.get)
        holds &= verdict.robust_first and max(shift.values()) > 0.3 and clean[epochs[-1]] > 0.12
        parts.append(
            f"seed {seed}: robust first {'yes' if verdict.robust_first else 'no'}, shift peaks "
            f"{max(shift.values()):.2f} at epoch {peak_epoch}, final clean {clean[epochs[-1]]:.2f}, final shift "
            f"{shift[epochs[-1]]:.2f}"
        )
        metrics.update({f"seed{seed}/shift_peak": max(shift.values()), f"seed{seed}/clean_final": clean[epochs[-1]]})
        metrics[f"seed{seed}/robust_first"] = float(verdict.robust_first)
    return Verdict(
        paper_value="robust features first (shift above chance no later than clean), then shift accuracy far above "
        "chance and clean accuracy above chance",
        measured="; ".join(parts),
        holds=bool(holds),
        metrics=metrics,
    )


def _kernel_rotation(runs: list[str]) -> Verdict:
    """NTK Sec. 5: adversarial training moves the kernel further from K_0 (distance, Eq. 12) and
    rotates it more (angle, Eq. 13), grows its norm less, and concentrates its spectrum more; every
    part in every seed, at the last recorded epoch."""
    parts, holds, metrics = [], True, {}
    for seed, run_dir in enumerate(runs):
        final = {}
        for mode in ("standard", "adversarial"):
            m = _metrics(run_dir, mode)
            tops = [k for k in m if k.startswith("ntk/concentration_top")]
            top = min(tops, key=lambda k: int(k.rsplit("top", 1)[1]))  # the smallest k: the least saturated share
            final[mode] = {q: m[key][max(m[key])] for q, key in _KERNEL_QUANTITIES.items() if key in m}
            final[mode]["concentration"] = m[top][max(m[top])]
        adv, std = final["adversarial"], final["standard"]
        facets = {
            "moves more": adv["distance"] > std["distance"],
            "rotates more": adv["angle"] > std["angle"],
            "grows less": adv.get("norm_ratio", np.inf) < std.get("norm_ratio", -np.inf),
            "concentrates more": adv["concentration"] > std["concentration"],
        }
        holds &= all(facets.values())
        parts.append(
            f"seed {seed}: adversarial vs standard -- distance {adv['distance']:.3f} vs {std['distance']:.3f}, "
            f"angle {adv['angle']:.3f} vs {std['angle']:.3f} rad, norm ratio {adv.get('norm_ratio', np.nan):.2f} "
            f"vs {std.get('norm_ratio', np.nan):.2f}, {top.split('/')[1].replace('_', ' ')} "
            f"{adv['concentration']:.4f} vs {std['concentration']:.4f} "
            f"({', '.join(f'{k}: ' + ('yes' if v else 'no') for k, v in facets.items())})"
        )
        metrics.update({f"seed{seed}/{q}_{mode}": v for mode, row in final.items() for q, v in row.items()})
    return Verdict(
        paper_value="under adversarial training the kernel moves further from K_0, rotates more (larger angle), "
        "grows its norm less and concentrates its spectrum more than under standard training",
        measured="; ".join(parts),
        holds=bool(holds),
        metrics=metrics,
    )


_KERNEL_QUANTITIES = {"distance": "ntk/distance_to_init", "angle": "ntk/angle", "norm_ratio": "ntk/norm_ratio"}


def _tail(run_dir: str, run: str, name: str, epochs: int = 3) -> float:
    """Mean of a child run's metric over its last ``epochs`` epochs (against epoch-to-epoch noise)."""
    values = _metrics(run_dir, run)[name]
    return float(np.mean([values[s] for s in sorted(values)[-epochs:]]))


def _pathways_recipe(runs: list[str]) -> Verdict:
    """RB App. C: low lr, no L2, no augmentation gives pathway 2; high lr or L2 gives pathway 1."""
    import csv

    parts, holds, metrics = [], True, {}
    for seed, run_dir in enumerate(runs):
        with open(os.path.join(run_dir, "grid.csv")) as f:
            rows = list(csv.DictReader(f))
        labels = []
        for row in rows:
            lr, wd = float(row["learning_rate"]), float(row["weight_decay"])
            augment = row["augment"].lower() == "true"
            want = "2" if (lr <= 0.01 and wd == 0 and not augment) else ("1" if lr >= 0.1 or wd >= 2.5e-4 else None)
            holds &= want is None or row["pathway"] == want
            labels.append(
                f"lr {lr:g} L2 {wd:g}{' aug' if augment else ''}: {row['pathway']} ({float(row['score']):.2f})"
            )
            metrics[f"seed{seed}/score_lr{lr:g}_wd{wd:g}"] = float(row["score"])
        parts.append(f"seed {seed}: " + ", ".join(labels))
    return Verdict(
        paper_value="lr 0.01, no L2, no augmentation: pathway 2; lr 0.1 or L2 >= 2.5e-4: pathway 1 (sharp transition)",
        measured="; ".join(parts),
        holds=bool(holds),
        metrics=metrics,
    )


def _d_r_robust(runs: list[str]) -> Verdict:
    """Ilyas et al. Sec. 3.1: a model trained normally on D_R is robust -- well above one trained on
    D_NR and above a standard model (l2 PGD at the tiny flagfile's eps), last 3 epochs."""
    parts, holds, metrics = [], True, {}
    metric = "test/l2_robust_accuracy"
    for seed, run_dir in enumerate(runs):
        summary = _json(os.path.join(run_dir, "summary.json"))
        d_r, d_nr = _tail(run_dir, "train_on_d_r", metric), _tail(run_dir, "train_on_d_nr", metric)
        standard = summary["standard_model/l2_robust_accuracy"]
        holds &= d_r > d_nr + 0.1 and d_r > standard + 0.1
        parts.append(f"seed {seed}: l2 robust accuracy D_R {d_r:.2f}, D_NR {d_nr:.2f}, standard model {standard:.2f}")
        metrics.update({f"seed{seed}/d_r": d_r, f"seed{seed}/d_nr": d_nr, f"seed{seed}/standard": standard})
    return Verdict(
        paper_value="standard training on D_R gives non-trivial robust accuracy; on D_NR, as a standard model, little",
        measured="; ".join(parts),
        holds=bool(holds),
        metrics=metrics,
    )


def _transfer_split(runs: list[str]) -> Verdict:
    """RB Claim 1: the part of D_det that transfers to another model trains a model with higher
    clean accuracy (non-robust features) than the part that does not."""
    parts, holds, metrics = [], True, {}
    for seed, run_dir in enumerate(runs):
        summary = _json(os.path.join(run_dir, "summary.json"))
        transfers, stays = summary["transfers/clean"], summary["no_transfer/clean"]
        holds &= transfers > stays + 0.05
        parts.append(
            f"seed {seed}: clean accuracy trained on the transferring part {transfers:.2f} vs the rest {stays:.2f}"
        )
        metrics.update({f"seed{seed}/transfers_clean": transfers, f"seed{seed}/no_transfer_clean": stays})
    return Verdict(
        paper_value="the transferring part gives the higher accuracy on D (its examples carry the non-robust features)",
        measured="; ".join(parts),
        holds=bool(holds),
        metrics=metrics,
    )


def _ntk_attack_transfer(runs: list[str]) -> Verdict:
    """NTK Fig. 3: the training-free NTK attack lowers a wide net's accuracy about as much as its own
    attack, and its input gradient aligns more with the net's as width grows."""
    parts, holds, metrics = [], True, {}
    for run_dir in runs:
        history = _json(os.path.join(run_dir, "ntk_transfer.json"))["history"]
        cosines: dict[int, list[float]] = {}
        for name, rows in sorted(history.items()):
            width, last = int(name.split("_")[1]), rows[-1]
            cosines.setdefault(width, []).append(last["grad_cosine"])
            clean, own, ntk = last["nn/clean_accuracy"], last["nn/own_attack_accuracy"], last["nn/ntk_attack_accuracy"]
            if width == max(int(n.split("_")[1]) for n in history):
                holds &= ntk < clean - 0.25 and abs(ntk - own) < 0.15
                parts.append(f"{name}: clean {clean:.2f}, own attack {own:.2f}, NTK attack {ntk:.2f}")
                metrics[f"{name}/ntk_attack_accuracy"] = ntk
        widths = sorted(cosines)
        holds &= min(cosines[widths[-1]]) > max(cosines[widths[0]])
        parts.append("gradient cosine " + ", ".join(f"m={w}: {np.mean(cosines[w]):.2f}" for w in widths))
        metrics.update({f"cosine_width{w}": float(np.mean(cosines[w])) for w in widths})
    return Verdict(
        paper_value="the NTK attack is about as strong as the net's own (within 0.15 here) and gradients align more "
        "with width",
        measured="; ".join(parts),
        holds=bool(holds),
        metrics=metrics,
    )


def _clean_pathways(runs: list[str]) -> Verdict:
    """RB Sec. 4.2, Fig. 4: on clean data the targeted attack succeeds on both M1 models, and the
    examples crafted on M1(1) (augmentation + L2: pathway 1, non-robust features learned) transfer
    to the reference models M2(1), M2(2) more than those crafted on M1(2) (neither: pathway 2)."""
    parts, holds, metrics = [], True, {}
    for seed, run_dir in enumerate(runs):
        summary = _json(os.path.join(run_dir, "summary.json"))
        success = {r: summary[f"m1_{r}/adv/attack_success"] for r in ("1", "2")}
        transfer = {r: float(np.mean([summary[f"m1_{r}/adv/transfer_m2_{t}"] for t in ("1", "2")])) for r in success}
        holds &= min(success.values()) >= 0.5 and transfer["1"] > transfer["2"] + 0.05
        parts.append(
            f"seed {seed}: attack success M1(1) {success['1']:.2f}, M1(2) {success['2']:.2f}; transfer to the M2s "
            f"from M1(1) {transfer['1']:.2f} vs from M1(2) {transfer['2']:.2f}"
        )
        metrics.update({f"seed{seed}/success_m1_{r}": v for r, v in success.items()})
        metrics.update({f"seed{seed}/transfer_from_m1_{r}": v for r, v in transfer.items()})
    return Verdict(
        paper_value="targeted attack success high (>= 0.5 here) on both M1; transfer from M1(1) clearly higher (by "
        "> 0.05 here) than from M1(2)",
        measured="; ".join(parts),
        holds=bool(holds),
        metrics=metrics,
    )


def _performance_correlation(runs: list[str]) -> Verdict:
    """RB Sec. 4.3 (after Nakkiran et al. 2019): as training on D_det goes on, the performance
    correlation mu_Y(F; L) with the logistic regression L stops keeping pace with what the network
    knows about the labels, I(F; Y): the share mu / I(F; Y) ends at least 0.1 below its highest
    value in the first half of training, in every grid cell of every seed. (Epochs where the
    network knows almost nothing, I(F; Y) < 0.05 bits, have no meaningful share and are skipped.)"""
    parts, holds, metrics = [], True, {}
    for seed, run_dir in enumerate(runs):
        simple = _metrics(run_dir)["simple/val_accuracy"]
        parts.append(f"seed {seed}: the logistic regression's validation accuracy {simple[max(simple)]:.2f}")
        for cell_dir in sorted(glob.glob(os.path.join(run_dir, "cells", "*"))):
            m = _metrics(cell_dir, None)
            mu, info = m["val/performance_correlation"], m["val/label_information"]
            epochs = sorted(e for e in mu if info.get(e, 0.0) >= 0.05)
            share = {e: mu[e] / info[e] for e in epochs}
            early = max(share[e] for e in epochs[: max(1, len(epochs) // 2)])
            final = share[epochs[-1]]
            shift = m["shift/accuracy"]
            holds &= final <= early - 0.1
            cell = os.path.basename(cell_dir)
            plateau = min(e for e in mu if mu[e] >= 0.95 * max(mu.values()))  # first epoch within 5% of the peak
            parts.append(
                f"{cell}: mu {mu[min(mu)]:.2f} -> {mu[max(mu)]:.2f} bits (within 5% of its peak from epoch {plateau}; "
                f"shift accuracy peaks at epoch {max(shift, key=shift.get)}), share mu/I {early:.2f} -> {final:.2f}"
            )
            metrics.update({f"seed{seed}/{cell}/share_early": early, f"seed{seed}/{cell}/share_final": final})
    return Verdict(
        paper_value="the performance correlation with the best simple classifier plateaus (where robust accuracy "
        "drops) while the network keeps learning: mu / I(F;Y) falls (by >= 0.1 here)",
        measured="; ".join(parts),
        holds=bool(holds),
        metrics=metrics,
    )


def _fa_real_finer_labels(runs: list[str]) -> Verdict:
    """FA poster Fig. 2: on a binary task made from MNIST, the same network trained on the 10 original
    labels (read out as binary) is more l2-robust than trained on the 2 labels: its robust accuracy
    is higher by more than 0.05 on average over the nonzero radii, in every seed."""
    parts, holds, metrics = [], True, {}
    for seed, run_dir in enumerate(runs):
        result = _json(os.path.join(run_dir, "robust_accuracy.json"))
        radii = np.asarray(result["radii"])
        fine, binary = (np.asarray(result["curves"][name]) for name in ("fine", "binary"))
        gap = float(np.mean((fine - binary)[radii > 0]))
        holds &= gap > 0.05
        shown = ", ".join(f"r={r:g}: {b:.2f} / {f:.2f}" for r, b, f in zip(radii, binary, fine) if r > 0)
        parts.append(f"seed {seed}: robust accuracy 2 labels / 10 labels {shown}; mean gain {gap:+.2f}")
        metrics[f"seed{seed}/mean_gain"] = gap
    return Verdict(
        paper_value="the 10-label model's robust accuracy lies above the 2-label model's (mean gain > 0.05 here)",
        measured="; ".join(parts),
        holds=bool(holds),
        metrics=metrics,
    )


CLAIMS = (
    Claim(
        name="rb_toy_switch",
        paper="RB Sec. 5, Thm. 1-2",
        statement="in the toy linear model GD relies on the robust coordinate below k_t, on the non-robust one above",
        flagfile="rb_toy_switch.flags",
        seeds=(0,),
        minutes=0.4,
        quick=True,
        check=_toy_switch,
        figure="plots/toy_accuracy_vs_k.png",
    ),
    Claim(
        name="fa_averaging",
        paper="FA poster (Li et al., ICLR 2025)",
        statement="a binary two-layer net averages the cluster features of each class, a k-class net does not, and "
        "the finer labels make it robust between radii sqrt(d/k) and sqrt(d)",
        flagfile="fa_averaging.flags",
        seeds=(0, 1),
        minutes=0.3,
        quick=True,
        check=_feature_averaging,
        figure="plots/robust_accuracy.png",
    ),
    Claim(
        name="ntk_top_features",
        paper="NTK Sec. 4, Fig. 2",
        statement="the top NTK eigen-features are more useful and more robust than the tail",
        flagfile="ntk_top_features.flags",
        seeds=None,
        minutes=0.2,
        quick=True,
        check=_ntk_top_features,
        figure="plots/usefulness_robustness.png",
    ),
    Claim(
        name="rb_d_det_robust_features",
        paper="RB Sec. 3, Fig. 1",
        statement="a model trained only on D_det learns the robust features (D_shift labels) first, then "
        "non-robust ones",
        flagfile="rb_d_det.flags",
        seeds=(0, 1),
        minutes=1.9,
        quick=True,
        check=_d_det_robust_first,
        figure="plots/d_det_curves.png",
    ),
    Claim(
        name="ntk_kernel_rotation",
        paper="NTK Sec. 5, Fig. 6",
        statement="adversarial training moves and rotates the empirical NTK more than standard training, grows its "
        "norm less and concentrates it more",
        flagfile="ntk_kernel_rotation.flags",
        seeds=(0, 1),
        minutes=1.1,
        quick=False,
        check=_kernel_rotation,
        figure="plots/kernel_dynamics.png",
    ),
    Claim(
        name="rb_pathways_recipe",
        paper="RB Sec. 4, App. C",
        statement="on D_det, low lr without L2 or augmentation follows pathway 2; high lr or L2 follows pathway 1",
        flagfile="rb_pathways_recipe.flags",
        seeds=(0, 1),
        minutes=2.8,
        quick=False,
        check=_pathways_recipe,
        figure="plots/pathway_grid.png",
    ),
    Claim(
        name="ilyas_d_r_robust",
        paper="Ilyas et al. 2019, Sec. 3.1",
        statement="a model trained normally on the robust dataset D_R is robust, well above D_NR and a standard model",
        flagfile="ilyas_d_r_robust.flags",
        seeds=(0, 1),
        minutes=2.4,
        quick=False,
        check=_d_r_robust,
        figure="plots/robust_datasets_curves.png",
    ),
    Claim(
        name="rb_transfer_split",
        paper="RB Sec. 3, Claim 1, Fig. 2",
        statement="the part of D_det that transfers trains a model with higher clean accuracy than the rest",
        flagfile="rb_transfer_split.flags",
        seeds=(0, 1),
        minutes=1.4,
        quick=True,
        check=_transfer_split,
        figure="plots/transfer_split.png",
    ),
    Claim(
        name="ntk_attack_transfer",
        paper="NTK Sec. 3.2, Fig. 3",
        statement="attacks crafted on the NTK alone transfer to wide trained nets, better as width grows",
        flagfile="ntk_attack_transfer.flags",
        seeds=None,
        minutes=2.1,
        quick=True,
        check=_ntk_attack_transfer,
        figure="plots/ntk_transfer.png",
    ),
    Claim(
        name="rb_clean_pathways",
        paper="RB Sec. 4.2, Fig. 4",
        statement="on clean data, targeted attacks crafted on the regularised model M1(1) transfer to other models "
        "more than those crafted on the unregularised M1(2)",
        flagfile="rb_clean_pathways.flags",
        seeds=(0, 1),
        minutes=1.8,
        quick=False,
        check=_clean_pathways,
        figure="plots/clean_pathways.png",
    ),
    Claim(
        name="rb_performance_correlation",
        paper="RB Sec. 4.3",
        statement="on D_det the performance correlation with a logistic regression plateaus while the network keeps "
        "learning: the share of its label information the simple classifier explains falls",
        flagfile="rb_pathways_recipe.flags",
        seeds=(0, 1),
        minutes=0.0,
        quick=False,
        check=_performance_correlation,
        figure="cells/000-lr0.01-l20-noaug-seed0/plots/curves.png",
    ),
    Claim(
        name="fa_real_finer_labels",
        paper="FA poster, Fig. 2",
        statement="on MNIST odd vs even, the same CNN trained on the 10 digit labels is more l2-robust as a binary "
        "classifier than trained on the 2 labels",
        flagfile="fa_real_finer_labels.flags",
        seeds=(0, 1),
        minutes=1.9,
        quick=True,
        check=_fa_real_finer_labels,
        figure="plots/robust_accuracy.png",
    ),
)
