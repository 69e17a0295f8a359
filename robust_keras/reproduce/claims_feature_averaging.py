"""The claims of Feature averaging (FA): quote, setting, departures, runs and check
(what a claim holds: ``reproduce/verdict.py``; all claims in run order: ``reproduce/claims.py``)."""

from __future__ import annotations

from robust_keras.reproduce import checks_feature_averaging as feature_averaging
from robust_keras.reproduce.verdict import Claim

CLAIMS = (
    Claim(
        name="fa_averaging",
        paper="FA poster (Li et al., ICLR 2025)",
        statement="a binary two-layer net reaches perfect standard accuracy and averages the cluster features of each "
        "class, a k-class net does not average, and the finer labels make it robust between radii sqrt(d/k) and "
        "sqrt(d)",
        quote=(
            "The model achieves perfect standard accuracy [...] GD learns averaged features [...] w_{s,r} ∝ "
            "sum_{j in J_s} mu_j [...] For the weights in a feature-"
            "averaging solution, for any choice of bias b, the model has nearly zero delta-robust accuracy for "
            "perturbation radius delta = Omega(sqrt(d/k)). [...] if one is provided detailed feature level label,"
            " some two-layer ReLU network can learn feature-decoupled solutions, which is provably more robust. "
            "[...] Indeed, it is easy to show a robust solution exists with robust radius O(sqrt(d))"
        ),
        departures=(
            "init scale 0.1 (no setting tried at the poster's initialisation gave both effects: docs/methods.md "
            "§C.1); k = 6 clusters, d = 600, n = 300, m = 3 neurons per class, 600 full-batch GD steps; the "
            "robustness gap taken at the single best radius between sqrt(d/k) and sqrt(d); 'perfect' standard "
            "accuracy read as >= 0.99 and f_robust's O(sqrt(d)) radius as >= 0.5 robust accuracy at the first "
            "radius >= sqrt(d/k) (both added 2026-12-07 with the seed 0-2 runs already seen -- 1.00 and 0.72-0.78 "
            "-- and docs/methods.md §C.3 stating f_robust's curve: 1 - o(1) is the theorem's, 0.5 a majority, "
            "neither fitted)"
        ),
        flagfile="fa_averaging.flags",
        seeds=(0, 1, 2),
        minutes=1.2,
        quick=True,
        check=feature_averaging.feature_averaging,
        figure="plots/robust_accuracy.png",
    ),
    Claim(
        name="fa_real_finer_labels",
        paper="FA poster, Fig. 2",
        statement="on MNIST odd vs even, the same CNN trained on the 10 digit labels is more l2-robust as a binary "
        "classifier than trained on the 2 labels",
        quote=(
            "Message II: More detailed/ structured supervisory information helps achieving models with better "
            "robustness. [Figure 2: Robustness Improvement on MNIST and CIFAR10]"
        ),
        departures=(
            "MNIST odd vs even on the embedded 5,000-digit sample, the App. E CNN, our recipe (12 epochs SGD lr "
            "0.05 momentum 0.9, L2 5e-4; the poster gives none), l2 PGD-20 at radii 0-3 on 500 test digits; at "
            "this scale the verdict depends on the seed (issue 36)"
        ),
        flagfile="fa_real_finer_labels.flags",
        seeds=(0, 1, 2),
        minutes=8.1,
        quick=True,
        check=feature_averaging.fa_real_finer_labels,
        figure="plots/robust_accuracy.png",
    ),
)
