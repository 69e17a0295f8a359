"""The claims of Robust before non-robust (RB) and Ilyas et al.'s D_R: quote, setting, departures, runs and check
(what a claim holds: ``reproduce/verdict.py``; all claims in run order: ``reproduce/claims.py``)."""

from __future__ import annotations

from robust_keras.reproduce import checks_robust_before as robust_before
from robust_keras.reproduce.verdict import Claim

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
        name="rb_cross_dataset_reverse",
        paper="RB Sec. 6, Table 2",
        statement="the same, the other way round: a model trained only on D_det of the second digit dataset reaches "
        "the true labels of the first above chance",
        quote=(
            "(Table 2's numbers and the sentence stating them were lost in the text's conversion; what remains:) "
            "Accuracy of Resnet50 models on the CIFAR-minus-Flickr and CINIC-10 test sets. The two numbers in "
            "bold are the ones to focus on. (The numbers, as docs/methods.md §A.8 restates them: about 20% "
            "against 10% chance, for the D_det of each dataset on the other's test set.)"
        ),
        departures=(
            "UCI optdigits from scikit-learn (B, all 1,000 training digits, 8 x 8 resized to MNIST's 28 x 28 "
            "layout) and the embedded MNIST sample (A, its 1,000-digit test set) instead of CINIC-10 and "
            "CIFAR-minus-Flickr; the App. E CNN instead of ResNet-50 at the paper's D_det recipe (lr 0.1, L2 5e-4, "
            "no augmentation); 16 source and 32 N2 epochs, rb_cross_dataset's SGD steps on a quarter of the "
            "data; above chance + 0.05 is ours"
        ),
        flagfile="rb_cross_dataset_reverse.flags",
        seeds=(0, 1, 2),
        minutes=2.1,
        quick=False,
        check=robust_before.cross_dataset,
        figure="plots/table2.png",
    ),
)
