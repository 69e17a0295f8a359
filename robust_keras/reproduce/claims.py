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
        quote=(
            "Theorem 1 (Robust before Non-robust). If [eps] <= (1 - 2p)/(1 - 2p/k), then at the end of the first "
            "step, with high probability, the model will rely on the robust feature for classification [...] and "
            "will have a population accuracy of 1 - p. Theorem 2 (Two Pathways). [...] if k >= k_t, sample "
            "accuracy approaches 1 and population accuracy approaches 1 - (p/k) with high probability. if k < "
            "k_t, sample accuracy approaches 1 and population accuracy approaches 1 - p with high probability."
        ),
        departures=(
            "n = 1,000 points, d = 1e9, p = 0.2, eps = 0.035 (k_t = 4.74), 12,000 GD steps instead of the limit; "
            "k in {1.5, 2, 3.5, 4.2, 5.5, 7, 20, 40}: the switch is located between 4.2 and 5.5, each k nearer its "
            "side's value, within 0.01 of it only beyond a factor 2 of k_t (finite n)"
        ),
        flagfile="rb_toy_switch.flags",
        seeds=(0, 1, 2),
        minutes=4.6,
        quick=False,
        check=robust_before.toy_switch,
        figure="plots/toy_accuracy_vs_k.png",
    ),
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
        name="ntk_top_features",
        paper="NTK Sec. 4, Fig. 2",
        statement="the robust NTK eigen-features sit at the top of the spectrum",
        quote=(
            "We confirm that robust features overwhelmingly correspond to the top part of the eigenspectrum; "
            "hence they are learned early on in training."
        ),
        departures=(
            "10-class MNIST as the paper, on 1,000 digits of the embedded sample (the paper: all of MNIST and "
            "CIFAR-10), the closed-form infinite-width two-layer ReLU NTK, its first 100 eigen-features, l-inf "
            "FGSM eps 0.1; 'overwhelmingly at the top' read as: of the five fifths in spectral order the top one "
            "is the most robust, and above the tail by > 0.1 (ours, fixed before the first 10-class run)"
        ),
        flagfile="ntk_top_features.flags",
        seeds=None,
        minutes=1.1,
        quick=False,
        check=ntk.ntk_top_features,
        figure="plots/usefulness_robustness.png",
    ),
    Claim(
        name="rb_d_det_robust_features",
        paper="RB Sec. 4 and 7, Fig. 1",
        statement="a model trained only on D_det learns the robust features (D_shift labels) before the "
        "non-robust ones, whichever pathway follows",
        quote=(
            "In both regimes, the model starts out by learning predictive robust features first. (Sec. 7) "
            "[Pathway 2] The model starts out similar to the first pathway, but then starts overfitting the "
            "training data before it can learn non-robust predictive features. (Sec. 4)"
        ),
        departures=(
            "the embedded MNIST sample (5,000 digits) instead of CIFAR-10, the App. E CNN instead of a ResNet, "
            "targeted l2 PGD eps 3.0, 8 epochs at lr 0.01 without L2 or augmentation (a pathway-2 recipe, as in "
            'Fig. 1b); curves logged once per epoch, so "first" is resolved to an epoch'
        ),
        flagfile="rb_d_det.flags",
        seeds=(0, 1, 2),
        minutes=8.5,
        quick=True,
        check=robust_before.d_det_robust_first,
        figure="plots/d_det_curves.png",
    ),
    Claim(
        name="rb_pathway2_end_state",
        paper="RB Sec. 4, Fig. 1b",
        statement="trained on D_det with the pathway-2 recipe, the model fits its training set while its validation "
        "accuracy stagnates well below",
        quote=(
            "The model starts out similar to the first pathway, but then starts overfitting the training data "
            "before it can learn non-robust predictive features. At this point, validation accuracy stagnates. "
            "The model finishes with a training accuracy of 100% but a validation accuracy of 81%."
        ),
        departures=(
            "the runs of rb_d_det_robust_features (the embedded MNIST sample, App. E CNN, 8 epochs at lr 0.01 "
            "without L2 or augmentation; the paper: CIFAR-10 ResNet-50 for many more epochs); 100% read as >= "
            "0.99; 'stagnates' = gains < 0.02 over the second half of the epochs and the gap to training > 0.05: "
            "ours, fixed 2026-12-07 before reading the runs"
        ),
        flagfile="rb_d_det.flags",
        seeds=(0, 1, 2),
        minutes=0.0,
        quick=False,
        check=robust_before.pathway2_end_state,
        figure="plots/d_det_curves.png",
    ),
    Claim(
        name="ntk_kernel_rotation",
        paper="NTK Sec. 5, Fig. 5, 6",
        statement="under adversarial training the empirical NTK moves further, stops rotating and expanding after a "
        "few epochs and concentrates more on its top-20 space; under standard training it grows late and more",
        quote=(
            "However, in the latter case, this second phase begins a lot earlier. As Fig. 6 illuminates, the "
            "kernel moves a greater distance than when performing standard training, but after a few epochs it "
            "stops both rotating and expanding; note that this is not the case for standard training where the "
            "kernel increases its magnitude substantially later in training, and in fact grows to have a norm "
            "orders of magnitude larger than during adversarial training (see Fig. 5). [...] their relative "
            "weight as measured by the concentration on the top-20 space is increasing simultaneously relative "
            "to standard training as well, and remains large; in fact, significantly larger than during standard "
            "training."
        ),
        departures=(
            "4,000 digits of the embedded MNIST sample, the App. E CNN, 12 epochs (480 steps) of plain SGD lr "
            "0.1, PGD-5 l-inf eps 0.3 with eps ramped over the first 4 epochs (ours: the paper gives no ramp); "
            "the traced kernel of 64 training inputs; 'after a few epochs' = < 25% of the angle's and the norm's "
            "change in the second half, 'substantially later' = >= 25%, 'orders of magnitude larger' read as "
            "larger, 'significantly larger' concentration as larger at every epoch of the second half, and the "
            "precondition that adversarial training makes the more robust model (PGD accuracy + 0.2): all ours, "
            "fixed 2026-12-07 before the first run of this design"
        ),
        flagfile="ntk_kernel_rotation.flags",
        seeds=(0, 1, 2),
        minutes=27.5,
        quick=False,
        check=ntk.kernel_rotation,
        figure="plots/kernel_dynamics.png",
    ),
    Claim(
        name="rb_pathways_recipe",
        paper="RB Sec. 4, App. C",
        statement="on D_det without augmentation, at a fixed learning rate, the pathway goes sharply from 2 to 1 as "
        "L2 rises",
        quote=(
            "The second pathway [...] occurs when the model is trained with a low starting learning rate, little "
            "or no L2 weight decay and no data augmentation. (Sec. 4) [...] As we can see in the case with LR 0.1"
            " and no data augmentation, the network exhibits a sharp transition from Pathway 2 to Pathway 1 in "
            'the space of hyperparameters. There is a narrow "middle ground" around L2 = 2.5e-4. (App. C)'
        ),
        departures=(
            "one D_det of 4,000 MNIST-sample digits instead of CIFAR-10, the App. E CNN instead of ResNet-18, 8 "
            "epochs (~450 SGD steps) instead of 120 (~47,000), lr {0.01, 0.1} x L2 {0, 2.5e-4, 1e-3, 4e-3} "
            "without augmentation (the L2 values above the paper's middle ground make up part of the ~100x fewer "
            "decay steps); the reading: Sec. 4 and App. C agree that no L2 and no augmentation give pathway 2 and "
            "enough L2 pathway 1, so the transition is required at every lr of the grid; at most one 'between' "
            "L2 (narrow) and the score not falling by > 0.05 are ours"
        ),
        flagfile="rb_pathways_recipe.flags",
        seeds=(0, 1, 2),
        minutes=30.0,
        quick=False,
        check=robust_before.pathways_recipe,
        figure="plots/pathway_grid.png",
    ),
    Claim(
        name="ilyas_d_r_robust",
        paper="Ilyas et al. 2019, Sec. 3.1",
        statement="a model trained normally on the robust dataset D_R is robust, well above D_NR and a standard model",
        quote=(
            "(Ilyas et al. 2019 is not among the three papers' texts; their Sec. 3.1 result as RB restates it:) "
            "Ilyas et al. (2019) propose that neural network vulnerability is at least partly due to neural "
            "networks learning well-generalizing but brittle features that are properties of the data "
            "distribution."
        ),
        departures=(
            "600 digits of the embedded MNIST sample instead of CIFAR-10, the App. E CNN instead of ResNet-50, 10"
            " epochs, 100 inversion steps (the paper: 1,000); l2 PGD-10 at radii 0.5-3 on 200 test digits after "
            "training, read where the robust source is > 0.1 above the standard one; the margins of 0.1 are ours; "
            "the inversion's relative residual reported, not required"
        ),
        flagfile="ilyas_d_r_robust.flags",
        seeds=(0, 1, 2),
        minutes=16.5,
        quick=False,
        check=robust_before.d_r_robust,
        figure="plots/robust_datasets_curves.png",
    ),
    Claim(
        name="rb_transfer_split",
        paper="RB Sec. 3, Claim 1, Fig. 2",
        statement="the part of D_det that transfers trains a model that generalises to D (clean accuracy), the rest "
        "one that generalises to D_shift",
        quote=(
            "We can see that the network trained on the examples that transfer generalizes well to D, but the "
            "network trained on the examples that do not transfer generalizes to D_shift."
        ),
        departures=(
            "2,000 digits of the embedded MNIST sample instead of CIFAR-10, App. E CNNs instead of ResNet-50s, no "
            "grid search over hyperparameters; the two parts are not balanced in size, and examples whose attack "
            "failed on N1 stay in the part that does not transfer"
        ),
        flagfile="rb_transfer_split.flags",
        seeds=(0, 1, 2),
        minutes=5.2,
        quick=True,
        check=robust_before.transfer_split,
        figure="plots/transfer_split.png",
    ),
    Claim(
        name="ntk_attack_transfer",
        paper="NTK Sec. 3.2, Fig. 3",
        statement="the loss gradients of wide trained nets align strongly with the NTK's throughout training, and "
        "attacks crafted on the NTK alone are about as strong as the nets' own",
        quote=(
            "Our experiments confirm a very strong alignment of loss gradients from the neural nets and the NTK "
            "across the whole duration of training [...] kernel-generated attacks produce a similar drop in "
            "accuracy throughout training as the networks “own” white-box attacks"
        ),
        departures=(
            "500 digits of the embedded MNIST sample, two-layer ReLU nets of width 256 and 2048 (two "
            "initialisations each), full-batch GD on MSE for 3,000 steps, evaluated at steps 1,000, 2,000 and "
            "3,000, l-inf FGSM eps 0.1; 'very strong' read as cosine > 0.5 and 'similar drop' as within 0.15 "
            "(ours, fixed 2026-12-07 before reading the runs at every evaluation); alignment growing with width "
            "is reported, not required"
        ),
        flagfile="ntk_attack_transfer.flags",
        seeds=(0, 1, 2),
        minutes=15.0,
        quick=False,
        check=ntk.ntk_attack_transfer,
        figure="plots/ntk_transfer.png",
    ),
    Claim(
        name="rb_clean_pathways",
        paper="RB Sec. 4.2, Fig. 4",
        statement="on clean data, targeted attacks crafted on the regularised model M1(1) transfer to each reference "
        "model more than those crafted on the unregularised, low-lr M1(2)",
        quote=(
            "We observe that targeted adversarial attack success is high for both models. However, while "
            "adversarial examples generated for M[(1)_1 transfer ...] We conclude that M(2)_1 follows Pathway 2."
        ),
        departures=(
            "3,000 digits of the embedded MNIST sample instead of CIFAR-10, App. E CNNs instead of ResNet-50, 8 "
            "epochs, SGD momentum 0.9; M1(1) lr 0.02 with augmentation and L2 5e-4, M1(2) without either at lr "
            "0.002 (Sec. 4's low starting lr; 10x lower as in App. C's 0.1 vs 0.01); attack success >= 0.5 and "
            "a transfer gap > 0.05 to each reference model are ours"
        ),
        flagfile="rb_clean_pathways.flags",
        seeds=(0, 1, 2),
        minutes=14.2,
        quick=False,
        check=robust_before.clean_pathways,
        figure="plots/clean_pathways.png",
    ),
    Claim(
        name="rb_performance_correlation",
        paper="RB Sec. 4.3, Fig. 1",
        statement="on D_det the performance correlation with a logistic regression levels off when the robust (shift) "
        "accuracy drops (pathway 1) or levels off (pathway 2)",
        quote=(
            "We observe in Figure 1a that the point at which the performance correlation plateaus corresponds "
            "with when the robust accuracy decreases sharply. Similarly in Figure 1b, the correlation levels off "
            "along with the robust accuracy."
        ),
        departures=(
            "the pathway grid's runs (see rb_pathways_recipe), only its cells labelled pathway 1 or 2; mu and the "
            "shift accuracy logged once per epoch over 8 epochs; 'levels off' = 90% of the rise from the first "
            "epoch to the peak, 'corresponds' = within one epoch, mu rising >= 0.1 bits and shift peaking above "
            "chance + 0.2: all ours"
        ),
        flagfile="rb_pathways_recipe.flags",
        seeds=(0, 1, 2),
        minutes=0.0,
        quick=False,
        check=robust_before.performance_correlation,
        figure="cells/000-lr0.01-l20-noaug-rep0/plots/curves.png",
    ),
    Claim(
        name="rb_cross_dataset",
        paper="RB Sec. 6, Table 2",
        statement="a model trained only on D_det of one digit dataset reaches the true labels of an independent "
        "digit dataset above chance",
        quote=(
            "(Table 2's numbers and the sentence stating them were lost in the text's conversion; what remains:) "
            "Accuracy of Resnet50 models on the CIFAR-minus-Flickr and CINIC-10 test sets. The two numbers in "
            "bold are the ones to focus on. (The numbers, as docs/methods.md §A.8 restates them: about 20% "
            "against 10% chance.)"
        ),
        departures=(
            "the embedded MNIST sample (A, 4,000 training digits) and UCI optdigits from scikit-learn (B, 797 "
            "test digits, 8 x 8 resized to MNIST's 28 x 28 layout) instead of CIFAR-minus-Flickr and CINIC-10; "
            "one direction (A -> B) instead of both; the App. E CNN instead of ResNet-50, 8 epochs at the "
            "paper's D_det recipe (lr 0.1, L2 5e-4, no augmentation); above chance + 0.05 is ours"
        ),
        flagfile="rb_cross_dataset.flags",
        seeds=(0, 1, 2),
        minutes=10.5,
        quick=False,
        check=robust_before.cross_dataset,
        figure="plots/table2.png",
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
