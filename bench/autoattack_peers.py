"""AutoAttack's protocol, robust_keras against IBM ART's AutoAttack and the reference's PyTorch
attacks (as torchattacks 3.5.1 ships them): the same weights, the same test images, the same
l-inf eps, one run. Needs the peers' virtualenv:

    .venv-bench/bin/python bench/autoattack_peers.py [--models cnn_mnist,resnet18]
        [--examples cnn_mnist=500,resnet18=32] [--eps cnn_mnist=0.3,resnet18=0.0078]

Models (nothing downloads): ``cnn_mnist`` adversarially trained here on the embedded MNIST sample
(bench/autoattack_agreement.py: 5 epochs of 10-step PGD at 0.3), evaluated at eps 0.3 where the
ensemble matters; ``resnet18`` trained normally for one epoch on the sample's digits as 32 x 32 x 3
images (zero-padded, grey tiled to three channels), evaluated at a small eps (2/255) so that a
share of the examples survives APGD-CE and every later attack runs.

Two comparisons, each with the attacks both sides have:

  standard    AutoAttack's standard version (APGD-CE, APGD-T x 9 targets, FAB-T x 9 targets,
              Square; 100 steps, 5,000 queries): robust_keras' Ensemble vs the reference's attacks
              chained as torchattacks.MultiAttack does (bench/autoattack_agreement.py says why not
              torchattacks.AutoAttack: it builds them with 10 steps), on the torch twin.
  ce+dlr+sq   APGD-CE, APGD-DLR (untargeted), Square, 100 steps, 5,000 queries, one restart each:
              robust_keras' Ensemble vs ``art.attacks.evasion.AutoAttack`` given ART's own
              AutoProjectedGradientDescent (CE, DLR) and SquareAttack with those settings on a
              TensorFlowV2Classifier of the same Keras model. ART has no FAB and its AutoAttack
              runs a given list untargeted (targeted=True would rerun every attack against every
              class), so ART's composition of the standard version cannot be built; its default
              list (5 restarts each and DeepFool) is another ensemble. ART's initial APGD step is
              eps_step, set to 2 eps as the reference's.
Prints robust accuracy and wall time per side and the ratios (robust_keras / peer speed).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import torch  # noqa: E402
from autoattack_agreement import adversarially_trained_cnn, reference_ensemble, run_reference  # noqa: E402
from torch_twins import TWINS, max_logit_difference  # noqa: E402

from robust_keras.attacks.ensemble import STANDARD, Ensemble  # noqa: E402
from robust_keras.data import sources, transforms  # noqa: E402
from robust_keras.models import build_model  # noqa: E402

SHARED = ("apgd_ce", "apgd_dlr", "square")  # the attacks ART's AutoAttack can run as AutoAttack does
WARM_UP = 4  # examples of the untimed first call of every side (tracing, lazy set-up)


def warm_up(call) -> None:
    start = time.time()
    call()
    print(f"    (warm-up on {WARM_UP} examples: {time.time() - start:.1f} s)", flush=True)


def standard_resnet18(epochs: int = 1):
    """resnet18 trained normally on the MNIST sample's digits as 32 x 32 x 3 images."""
    train, test = sources.load_dataset("mnist_sample")

    def as_rgb(images):
        x = np.pad(transforms.to_float(images), ((0, 0), (2, 2), (2, 2), (0, 0)))
        return np.repeat(x, 3, axis=-1)

    x = as_rgb(train.images)
    model = build_model("resnet18", (32, 32, 3), 10, mean=[float(x.mean())] * 3, std=[float(x.std())] * 3, seed=1)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(keras.optimizers.SGD(0.05, momentum=0.9), loss)
    model.fit(x, train.labels, batch_size=128, epochs=epochs, verbose=0)
    return model, as_rgb(test.images), test.labels.astype(np.int64)


def run_ours(model, x, y, eps: float, attacks, budget: tuple[int, int], batch: int) -> tuple[np.ndarray, dict, float]:
    """(robust bool (n,), {attack: examples broken}, seconds after a warm-up call that traces the graphs)."""
    steps, queries = budget
    ensemble = Ensemble(model, norm="linf", eps=eps, attacks=attacks, steps=steps, queries=queries)
    warm_up(lambda: ensemble.warm_up(x[:WARM_UP], y[:WARM_UP]))
    start, robust, broken_by = time.time(), [], []
    for lo in range(0, len(y), batch):
        result = ensemble(x[lo : lo + batch], y[lo : lo + batch], (0, lo))
        robust.append(result.robust)
        broken_by.append(result.broken_by)
    seconds = time.time() - start
    broken_by = np.concatenate(broken_by)
    return np.concatenate(robust), {a: int(np.sum(broken_by == i)) for i, a in enumerate(attacks)}, seconds


def run_torch_reference(twin, x, y, eps: float, budget: tuple[int, int], batch: int) -> tuple[np.ndarray, dict, float]:
    """The reference's standard attacks (torchattacks) chained on the torch twin, timed after a warm-up."""
    attacks = reference_ensemble(twin, eps, *budget)
    warm_up(lambda: run_reference(attacks, twin, x[:WARM_UP], y[:WARM_UP], batch))
    start = time.time()
    robust, broken = run_reference(attacks, twin, x, y, batch)
    return robust, broken, time.time() - start


def run_art(model, x, y, eps: float, budget: tuple[int, int], batch: int) -> tuple[np.ndarray, dict, float]:
    """ART's AutoAttack with APGD-CE, APGD-DLR and Square, ``budget`` = (steps, queries)."""
    from art.attacks.evasion import AutoAttack, AutoProjectedGradientDescent, SquareAttack
    from art.estimators.classification import TensorFlowV2Classifier

    classifier = TensorFlowV2Classifier(
        model,
        nb_classes=int(model.output_shape[-1]),
        input_shape=x.shape[1:],
        loss_object=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        clip_values=(0.0, 1.0),
    )
    steps, queries = budget
    apgd = dict(norm=np.inf, eps=eps, eps_step=2 * eps, max_iter=steps, nb_random_init=1, batch_size=batch)
    attacks = [
        AutoProjectedGradientDescent(classifier, loss_type="cross_entropy", verbose=False, **apgd),
        AutoProjectedGradientDescent(classifier, loss_type="difference_logits_ratio", verbose=False, **apgd),
        SquareAttack(classifier, norm=np.inf, eps=eps, max_iter=queries, p_init=0.8, nb_restarts=1, verbose=False),
    ]
    auto = AutoAttack(classifier, norm=np.inf, eps=eps, eps_step=2 * eps, attacks=attacks, batch_size=batch)
    warm_up(lambda: auto.generate(x[:WARM_UP], y[:WARM_UP]))
    start = time.time()
    x_adv = auto.generate(x, y)
    seconds = time.time() - start
    wrong = np.argmax(classifier.predict(x_adv, batch_size=batch), -1) != y
    inside = np.abs(x_adv - x).reshape(len(x), -1).max(1) <= eps * (1 + 1e-4)
    clean = np.argmax(classifier.predict(x, batch_size=batch), -1) == y
    robust = clean & ~(wrong & inside)
    best = np.asarray(auto.best_attacks)
    return robust, {a: int(np.sum(best == i)) for i, a in enumerate(SHARED)}, seconds


COMPARISONS = {  # name: (title, our attacks, the peer, (model, twin, x, y, eps, budget, batch) -> its result)
    "standard": (
        "standard version (APGD-CE, APGD-T, FAB-T, Square)",
        STANDARD,
        "reference (torchattacks)",
        lambda model, twin, *rest: run_torch_reference(twin, *rest),
    ),
    "ce+dlr+sq": (
        "APGD-CE, APGD-DLR, Square (the attacks ART's AutoAttack can chain)",
        SHARED,
        "ART AutoAttack",
        lambda model, twin, *rest: run_art(model, *rest),
    ),
}


def report(label: str, robust: np.ndarray, broken: dict, seconds: float) -> None:
    counts = ", ".join(f"{a} {k}" for a, k in broken.items())
    print(f"  {label:<28} robust accuracy {robust.mean():.4f}  ({counts})  {seconds:7.1f} s", flush=True)


def parse_per_model(text: str, cast) -> dict:
    return {k: cast(v) for k, v in (item.split("=") for item in text.split(",") if item)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="cnn_mnist,resnet18")
    parser.add_argument("--examples", default="cnn_mnist=500,resnet18=32")
    parser.add_argument("--eps", default="cnn_mnist=0.3,resnet18=0.0078431")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--compare", default="standard,ce+dlr+sq", help="comparisons to run")
    parser.add_argument("--steps", type=int, default=100, help="APGD / FAB iterations (AutoAttack: 100)")
    parser.add_argument("--queries", type=int, default=5000, help="Square iterations (AutoAttack: 5,000)")
    args = parser.parse_args()
    examples, budgets = parse_per_model(args.examples, int), parse_per_model(args.eps, float)
    torch.set_num_threads(os.cpu_count())
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    print(f"# {machine}, TF {tf.__version__}, torch {torch.__version__}")
    for name in args.models.split(","):
        start = time.time()
        model, x, y = adversarially_trained_cnn(5, 0.3) if name == "cnn_mnist" else standard_resnet18()
        x, y, eps = x[: examples[name]], y[: examples[name]], budgets[name]
        twin = TWINS[name](model).eval()
        clean = np.argmax(model.predict(x, batch_size=args.batch, verbose=0), -1) == y
        print(
            f"{name}: {len(y)} test digits, clean accuracy {clean.mean():.3f}, l-inf eps {eps:g} "
            f"(training {time.time() - start:.0f} s; twin max |logit difference| "
            f"{max_logit_difference(model, twin, x[:64]):.1e})",
            flush=True,
        )
        batch, budget = min(args.batch, len(y)), (args.steps, args.queries)
        for comparison in args.compare.split(","):
            title, attacks, peer, run_peer = COMPARISONS[comparison]
            print(f" {title}:")
            ours = run_ours(model, x, y, eps, attacks, budget, batch)
            report("robust_keras", *ours)
            theirs = run_peer(model, twin, x, y, eps, budget, batch)
            report(peer, *theirs)
            print(f"  speed robust_keras / {peer}: {theirs[2] / ours[2]:.2f}x", flush=True)


if __name__ == "__main__":
    main()
