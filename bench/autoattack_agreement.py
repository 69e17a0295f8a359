"""AutoAttack's standard version, ours against the reference's PyTorch attacks (as torchattacks 3.5.1
ships them), on an adversarially trained MNIST CNN where the ensemble matters: the same weights (a
torch twin, bench/torch_twins.py), the same test images, l-inf eps. Needs the peers' virtualenv:

    .venv-bench/bin/python bench/autoattack_agreement.py [--examples 1000] [--eps 0.3]

The model: ``cnn_mnist`` trained here on the embedded MNIST sample with PGD adversarial training
(``--train_eps``, 10 steps, random start; Madry et al.). Reference side: torchattacks' APGD (CE),
APGDT, FAB (multi-targeted) and Square -- ports of fra31/auto-attack -- run one after another on the
examples still correct, as torchattacks.MultiAttack does. How that differs from
``torchattacks.AutoAttack(version="standard")``: the latter builds APGD, APGD-T and FAB with their
class default of 10 iterations, not the reference's 100; here all three get 100 (the reference's
standard settings), APGD-T and FAB-T 9 targets, Square 5,000 queries, one restart each.
Prints robust accuracy, the examples each attack broke, and the wall time of each side.
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
from torch_twins import TWINS, max_logit_difference, to_nchw  # noqa: E402

from robust_keras.attacks import PGD  # noqa: E402
from robust_keras.attacks.ensemble import NOT_BROKEN, STANDARD, Ensemble  # noqa: E402
from robust_keras.data import sources, transforms  # noqa: E402
from robust_keras.models import build_model  # noqa: E402


def adversarially_trained_cnn(epochs: int, eps: float):
    """cnn_mnist after ``epochs`` of PGD adversarial training (l-inf eps, 10 steps of eps / 4)."""
    train, test = sources.load_dataset("mnist_sample")
    x = transforms.to_float(train.images)
    model = build_model("cnn_mnist", (28, 28, 1), 10, mean=[float(x.mean())], std=[float(x.std())], seed=1)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(keras.optimizers.Adam(1e-3), loss)
    attack = PGD(model, norm="linf", eps=eps, step_size=eps / 4, steps=10, random_start=True)
    rng = np.random.default_rng(0)
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        for i, lo in enumerate(range(0, len(x), 128)):
            rows = order[lo : lo + 128]
            x_adv = attack(x[rows], train.labels[rows], (epoch, i))[0]
            model.train_on_batch(x_adv, train.labels[rows])
    return model, transforms.to_float(test.images), test.labels.astype(np.int64)


def reference_ensemble(twin, eps: float, steps: int, queries: int):
    import torchattacks

    return [
        ("apgd_ce", torchattacks.APGD(twin, norm="Linf", eps=eps, steps=steps, loss="ce", n_restarts=1, seed=0)),
        ("apgd_t", torchattacks.APGDT(twin, norm="Linf", eps=eps, steps=steps, n_classes=10, n_restarts=1, seed=0)),
        ("fab_t", torchattacks.FAB(twin, norm="Linf", eps=eps, steps=steps, multi_targeted=True, n_classes=10, seed=0)),
        ("square", torchattacks.Square(twin, norm="Linf", eps=eps, n_queries=queries, n_restarts=1, seed=0)),
    ]


def run_reference(attacks, twin, x: np.ndarray, y: np.ndarray, batch: int) -> tuple[np.ndarray, dict]:
    """(robust bool (n,), {attack: examples it broke}): each attack on the examples still correct."""
    with torch.no_grad():
        left = np.flatnonzero(twin(to_nchw(x)).argmax(1).numpy() == y)
    broken = {}
    for name, attack in attacks:
        still = []
        for lo in range(0, len(left), batch):
            rows = left[lo : lo + batch]
            adv = attack(to_nchw(x[rows]), torch.from_numpy(y[rows]))
            with torch.no_grad():
                still.append(rows[twin(adv).argmax(1).numpy() == y[rows]])
        kept = np.concatenate(still) if still else left
        broken[name] = len(left) - len(kept)
        left = kept
    robust = np.zeros(len(y), bool)
    robust[left] = True
    return robust, broken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--eps", type=float, default=0.3)
    parser.add_argument("--train_eps", type=float, default=0.3)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--queries", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count())
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    print(f"# {machine}, TF {tf.__version__}, torch {torch.__version__}")
    start = time.time()
    model, x, y = adversarially_trained_cnn(args.epochs, args.train_eps)
    x, y = x[: args.examples], y[: args.examples]
    print(f"# adversarial training: {time.time() - start:.0f} s")
    twin = TWINS["cnn_mnist"](model).eval()
    print(f"# twin agreement: max |logit difference| {max_logit_difference(model, twin, x[:256]):.2e}")
    clean = np.argmax(model.predict(x, batch_size=500, verbose=0), -1) == y
    print(f"# {len(y)} test digits, clean accuracy {clean.mean():.4f}, l-inf eps {args.eps}")
    print(f"# steps {args.steps}, 9 targets, {args.queries} queries")
    ours = Ensemble(model, norm="linf", eps=args.eps, attacks=STANDARD, steps=args.steps, queries=args.queries)
    start, broken_by, correct = time.time(), [], []
    for lo in range(0, len(y), args.batch):
        result = ours(x[lo : lo + args.batch], y[lo : lo + args.batch], (0, lo))
        broken_by.append(result.broken_by)
        correct.append(result.clean_correct)
    seconds = time.time() - start
    broken_by, correct = np.concatenate(broken_by), np.concatenate(correct)
    robust = correct & (broken_by == NOT_BROKEN)
    counts = ", ".join(f"{a} {int(np.sum(broken_by == i))}" for i, a in enumerate(STANDARD))
    print(f"robust_keras ensemble:  robust accuracy {robust.mean():.4f}  ({counts})  {seconds:.0f} s")
    start = time.time()
    theirs, broken = run_reference(reference_ensemble(twin, args.eps, args.steps, args.queries), twin, x, y, args.batch)
    seconds = time.time() - start
    counts = ", ".join(f"{a} {k}" for a, k in broken.items())
    print(f"reference (torchattacks): robust accuracy {theirs.mean():.4f}  ({counts})  {seconds:.0f} s")
    both = robust == theirs
    print(
        f"# per example: same verdict on {both.mean():.1%}; robust for ours only {np.sum(robust & ~theirs)}, "
        f"for the reference only {np.sum(theirs & ~robust)}"
    )


if __name__ == "__main__":
    main()
