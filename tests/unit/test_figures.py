"""Every figure the experiments draw, rendered from small fixture data shaped like theirs (including
the hard cases: curves that coincide, points crowded in a corner, samples whose scales differ by
decades), checked from the rendered artists: no legend or text on a plotted series or on another
text, and every series visible (tests/figure_layout.py)."""

import inspect
import sys

import numpy as np
import pytest
from figure_layout import problems

from robust_keras.analysis import image_plots, paper_figures, plots
from robust_keras.workflows.grid import Cell

RNG = np.random.default_rng(0)
FOUR = ("train/accuracy", "val/accuracy", "clean/accuracy", "shift/accuracy")


def _four_curves(epochs=8):
    t = np.linspace(0, 1, epochs)
    return {
        "train/accuracy": 0.3 + 0.7 * t,
        "val/accuracy": 0.25 + 0.6 * t,
        "clean/accuracy": 0.1 + 0.5 * t**2,
        "shift/accuracy": 0.1 + 0.4 * np.sin(2 * t),
    }


def _recipe(lr, l2, label):
    from robust_keras.analysis.pathways import PathwayVerdict

    curves = {k: np.stack([v, np.clip(v + 0.03, 0, 1)], axis=1) for k, v in _four_curves().items()}
    return {"cell": Cell(0, lr, l2, False, 0), "curves": curves, "verdict": PathwayVerdict(label, 0.31, 0.2, 0.3)}


FIGURES = {
    "fa cosine heatmap (multiclass)": lambda p: plots.heatmap(
        p,
        RNG.uniform(-1, 1, (10, 10)),
        rows=[f"neuron {i} (class {i})" for i in range(10)],
        cols=[f"mu{j} (class {j})" for j in range(10)],
        title="multiclass: cos(w - w0, mu_j) at GD step 600 of 600, the neurons of each class against each cluster",
        xlabel="cluster centre",
        ylabel="hidden neuron",
        vmin=-1.0,
    ),
    "transfer error heatmap": lambda p: plots.heatmap(
        p,
        [[0.93, 0.97, 0.99], [0.95, 0.91, 0.98], [0.96, 0.97, 0.92]],
        rows=["seed_0", "seed_1", "d_det_model"],
        cols=["seed_0", "seed_1", "d_det_model"],
        title="transfer error (share misclassified), l2 eps=0.5, 1000 test images",
        xlabel="target model (evaluated)",
        ylabel="source model (attacked)",
    ),
    "fa robust accuracy (PGD = analytic)": lambda p: plots.curves_vs(
        p,
        np.linspace(0, 8, 12),
        {
            "binary (PGD)": np.clip(np.linspace(1.6, -0.6, 12), 0, 1),
            "binary (analytic)": np.clip(np.linspace(1.6, -0.6, 12), 0, 1),
            "multiclass (PGD)": np.clip(np.linspace(1.9, -0.1, 12), 0, 1),
            "multiclass (analytic)": np.clip(np.linspace(1.9, -0.4, 12), 0, 1),
            "f_robust (PGD)": np.ones(12),
            "f_robust (analytic)": np.ones(12),
        },
        chance=0.5,
        markers={"sqrt(d/k)": 2.2, "sqrt(d)": 7.1},
        title="l2 robust accuracy (k=10, d=50)",
        xlabel="l2 radius",
        ylabel="robust accuracy",
    ),
    "ntk robust feature aggregation (coincide at r = 1)": lambda p: plots.curves_vs(
        p,
        [1, 2, 5, 10, 20, 50, 100],
        {
            "clean accuracy": [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95],
            "own-attack accuracy (FGSM on the r-feature kernel)": [0.5, 0.55, 0.6, 0.5, 0.4, 0.3, 0.2],
            "transfer-attack accuracy (FGSM on the full kernel)": [0.5, 0.58, 0.66, 0.6, 0.5, 0.35, 0.2],
        },
        chance=0.5,
        xscale="log",
        title="binary: the r most robust eigen-features summed (App. D.3, l-inf eps=0.1)",
        xlabel="r (features kept, most robust first)",
        ylabel="accuracy",
    ),
    "ntk gradient shares": lambda p: plots.curves_vs(
        p,
        list(range(100)),
        {"share of the loss gradient": np.exp(-np.arange(100) / 20) / 10, "cumulative share": np.linspace(0, 0.4, 100)},
        title="binary: logistic-loss gradient by eigen-feature (Prop. 1)\nmean of 200 held-out images",
        xlabel="eigen-index i (0 = largest eigenvalue)",
        ylabel="share <c grad f^(i), grad l> / ||grad l||^2",
        ylim=None,
    ),
    "kernel dynamics panels": lambda p: plots.curve_panels(
        p,
        list(range(6)),
        {
            "kernel distance to init d(K_0, K_t)": {
                "standard": np.linspace(0, 0.3, 6),
                "adversarial": np.linspace(0, 0.4, 6),
            },
            "angle to init (radians)": {"standard": np.linspace(0, 0.2, 6), "adversarial": np.linspace(0, 0.3, 6)},
            "angle to init, top-20 eigenspace (radians)": {"standard": np.zeros(6), "adversarial": np.zeros(6)},
            "spectral concentration, top 20 (fraction)": {
                "standard": np.full(6, 0.99),
                "adversarial": np.full(6, 0.99),
            },
        },
        title="empirical NTK of the 64 training (adversarial in adversarial training) inputs tracked (Sec. 5)",
        xlabel="epoch",
    ),
    "robust datasets panels": lambda p: plots.curve_panels(
        p,
        np.arange(1, 9),
        {
            "clean test accuracy": {"D_R": np.linspace(0.5, 0.9, 8), "D_NR": np.linspace(0.5, 0.92, 8)},
            "l2 robust accuracy": {"D_R": np.linspace(0.2, 0.36, 8), "D_NR": np.linspace(0.2, 0.37, 8)},
            "l-inf robust accuracy": {"D_R": np.linspace(0.1, 0.2, 8), "D_NR": np.linspace(0.1, 0.21, 8)},
        },
        ylim=(0, 1.02),
        chance=0.1,
        title="cnn_mnist trained (standard training) on D_R and D_NR of mnist_sample",
        xlabel="epoch",
    ),
    "kernel polar trajectories": lambda p: plots.polar_trajectories(
        p,
        {
            "standard": (list(range(6)), np.linspace(0, 0.2, 6), np.linspace(0, 30, 6)),
            "adversarial": (list(range(6)), np.linspace(0, 0.3, 6), np.linspace(0, 22, 6)),
        },
        title="empirical NTK of cnn_mnist on the 64 training inputs tracked, relative to K_0 (Eq. 13)",
        radius_label="||K_t - K_0||_F",
    ),
    "kernel entries (scales differ by decades)": lambda p: plots.histograms(
        p,
        {
            "standard & adversarial epoch 0": RNG.gamma(4.0, 2e-4, 4000),
            "standard epoch 5": RNG.gamma(2.0, 3.0, 4000) - 1.0,
        },
        title="empirical NTK entries on the 64 training inputs tracked, before / after training",
        xlabel="kernel entry Theta(x_i, x_j)",
    ),
    "ntk eigen-features, multiclass (crowded corner)": lambda p: plots.scatter_panels(
        p,
        {
            name: (RNG.uniform(0.1, 0.2, 30), RNG.uniform(0.05, 0.15, 30), np.arange(30))
            for name in ("mlp", "cnn", "wide")
        },
        chance=0.1,
        title="NTK eigen-features (mnist_sample, analytic kernel, FGSM eps=0.1)",
        xlabel="usefulness (clean accuracy)",
        ylabel="robustness (accuracy under FGSM)",
        colour_label="eigen-index i (0 = largest eigenvalue)",
    ),
    "toy accuracy vs k": lambda p: paper_figures.toy_accuracy_vs_k(
        p,
        ks=[1, 2, 5, 10, 20, 40],
        accuracy=[0.8, 0.8, 0.8, 0.98, 0.99, 0.995],
        per_seed={
            k: [a - 0.003, a, a + 0.003] for k, a in zip([1, 2, 5, 10, 20, 40], [0.8, 0.8, 0.8, 0.98, 0.99, 0.995])
        },
        fine_k=np.geomspace(1, 40, 50),
        robust_level=0.8,
        nonrobust_level=1 - 0.2 / np.geomspace(1, 40, 50),
        k_t=7.5,
        title="toy linear model (p=0.2, eps=0.2): population accuracy of the GD solution",
    ),
    "toy weights": lambda p: paper_figures.toy_weights(
        p,
        {
            "k=2": {s: (1 - 1 / s, 0.1 * s**0.5) for s in range(1, 200)},
            "k=20": {s: (0.5, s**0.5) for s in range(1, 200)},
        },
        eps=0.2,
        title="GD trajectories of the toy linear model",
    ),
    "d_det curves with performance correlation": lambda p: paper_figures.curves_with_correlation(
        p, _four_curves(), RNG.uniform(0.1, 0.3, 8), chance=0.1, title="000-lr0.01-L2 0-noaug-rep0: pathway 2"
    ),
    "pathway grid": lambda p: paper_figures.pathway_grid(
        p,
        [_recipe(0.01, 0.0, "2"), _recipe(0.01, 5e-4, "1"), _recipe(0.1, 0.0, "between"), _recipe(0.1, 5e-4, "1")],
        chance=0.1,
        title="pathway grid (App. C) on mnist_sample: 4 recipes x 1 seed",
    ),
    "transfer split": lambda p: paper_figures.side_by_side_curves(
        p,
        {"trained on the transferring examples": _four_curves(), "trained on the others": _four_curves()},
        chance=0.1,
        title="RB Fig. 2: models trained on D_det examples that transfer, and on those that do not",
    ),
    "clean pathways": lambda p: paper_figures.clean_pathways(
        p,
        {
            name: {
                "train/accuracy": np.linspace(0.5, 1, 8),
                "val/accuracy": np.linspace(0.45, 0.95, 8),
                "adv/attack_success": np.linspace(0.9, 0.4, 8),
                "adv/transfer_m2_1": np.linspace(0.2, 0.38, 8),
                "adv/transfer_m2_2": np.linspace(0.1, 0.12, 8),
            }
            for name in ("M1(1): L2 + augmentation", "M1(2): neither")
        },
        title="RB Fig. 4: attacks on M1 during training and their transfer to the reference models M2",
    ),
    "image grid": lambda p: image_plots.image_grid(
        p,
        [RNG.uniform(0, 1, (8, 28, 28, 1)), RNG.uniform(0, 1, (8, 28, 28, 1))],
        [f"y={i} t={(i + 1) % 10} hit" for i in range(8)],
        row_labels=("clean x", "x_adv"),
        title="D_det examples: targeted l2 PGD, eps 3.0; y = true label, t = target, hit = the source model predicts t",
    ),
    "signed image table": lambda p: image_plots.signed_image_table(
        p,
        [[RNG.uniform(0, 1, (28, 28, 1)), *(RNG.normal(size=(28, 28, 1)) for _ in range(3))] for _ in range(3)],
        row_labels=["image 0", "image 1", "image 2"],
        col_titles=["image", "feature 0", "feature 1", "feature 99"],
        title="gradients of the top and tail eigen-features",
    ),
}


def test_the_checks_see_a_legend_on_data_a_hidden_curve_and_texts_on_each_other():
    """The checker itself, on a figure with each defect once."""
    from robust_keras.analysis.figure_style import plt

    fig, ax = plt.subplots(figsize=(4, 3))
    x = np.linspace(0, 1, 20)
    ax.plot(x, x, marker="o", markersize=3, label="a")
    ax.plot(x, x, marker="s", markersize=6, label="b")  # drawn later and larger: hides "a"
    ax.axhline(0.5, linestyle=":", label="chance")
    ax.legend(loc="center")  # on the curves
    ax.text(0.2, 0.2, "note")  # on the curves
    ax.set_xlabel("a long x label")
    ax.text(0.5, -0.16, "another label", transform=ax.transAxes, ha="center")  # on the x label
    found = problems(fig)
    plt.close(fig)
    assert "legend covers line 'b'" in found and "legend covers line 'chance'" in found
    assert "'a' is hidden under 'b'" in found
    assert any(p.startswith("text 'note' lies on") for p in found)
    assert "'another label' overlaps 'a long x label'" in found


def test_every_plotting_function_is_rendered_here():
    """A new figure function must join FIGURES (and so the layout checks)."""
    drawing = {
        f"{module.__name__.rsplit('.', 1)[1]}.{name}"
        for module in (plots, paper_figures, image_plots)
        for name, fn in inspect.getmembers(module, inspect.isfunction)
        if fn.__module__ == module.__name__
        and not name.startswith("_")  # helpers are drawn through the public functions
        and list(inspect.signature(fn).parameters)[:1] == ["path"]
    }
    here = inspect.getsource(sys.modules[__name__])
    assert sorted(name for name in drawing if f"{name}(" not in here) == []


@pytest.mark.parametrize("name", list(FIGURES))
def test_figure_layout(name, tmp_path, monkeypatch):
    drawn = []
    original = plots.write_figure

    def keep(fig, path):
        drawn.append(fig)
        return original(fig, path)

    monkeypatch.setattr(plots, "write_figure", keep)
    FIGURES[name](str(tmp_path / "figure.png"))
    (fig,) = drawn
    assert problems(fig) == []
