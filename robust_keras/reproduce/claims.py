"""The papers' claims, each with the runs that test it and the check that reads them.

A claim is one statement of one paper (section / figure), the flagfile under ``flags/reproduce/``
that tests it at the largest scale a 2-core CPU affords, the seeds it runs over, and a check that
reads the finished runs and returns a :class:`Verdict`: what the paper reports, what was measured,
and whether the statement holds -- in every seed, never on average only. Checks read only what the
runs wrote (summary files, metrics.jsonl, arrays); thresholds are the paper's statement, not values
fitted to our runs, and a row that does not hold says what was measured.
"""

from __future__ import annotations

from robust_keras.reproduce import checks_feature_averaging as feature_averaging
from robust_keras.reproduce import checks_ntk as ntk
from robust_keras.reproduce import checks_robust_before as robust_before
from robust_keras.reproduce.verdict import Claim, Verdict  # noqa: F401  (Verdict re-exported for the runner)

CLAIMS = (
    Claim(
        name="rb_toy_switch",
        paper="RB Sec. 5, Thm. 1-2",
        statement="in the toy linear model GD relies on the robust coordinate below k_t, on the non-robust one above",
        flagfile="rb_toy_switch.flags",
        seeds=(0,),
        minutes=0.4,
        quick=True,
        check=robust_before.toy_switch,
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
        check=feature_averaging.feature_averaging,
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
        check=ntk.ntk_top_features,
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
        check=robust_before.d_det_robust_first,
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
        check=ntk.kernel_rotation,
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
        check=robust_before.pathways_recipe,
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
        check=robust_before.d_r_robust,
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
        check=robust_before.transfer_split,
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
        check=ntk.ntk_attack_transfer,
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
        check=robust_before.clean_pathways,
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
        check=robust_before.performance_correlation,
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
        check=feature_averaging.fa_real_finer_labels,
        figure="plots/robust_accuracy.png",
    ),
)
