"""Square Attack against the reference's PyTorch implementation (as torchattacks 3.5.1 ships it):
the same weights (a torch twin, bench/torch_twins.py), the same test images, the same budget and
query count -- robust accuracy and wall time of each. Needs the peers' virtualenv:

    .venv-bench/bin/python bench/square_agreement.py [--examples 1000] [--eps 0.1] [--queries 1000]

The model is ``cnn_mnist`` trained here for ``--epochs`` on the embedded MNIST sample (the recipe of
flags/train_mnist_sample.flags). Both searches are random, with different generators, so they can
only agree up to the spread of the search itself: ours is run with ``--seeds`` seeds to show it.
torchattacks' Square is the reference code (fra31/auto-attack square.py) with its defaults; it
attacks examples the model already misclassifies too (they count as not robust either way).
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

from robust_keras.attacks.square import Square  # noqa: E402
from robust_keras.data import sources, transforms  # noqa: E402
from robust_keras.models import build_model  # noqa: E402


def trained_cnn(epochs: int):
    train, test = sources.load_dataset("mnist_sample")
    x = transforms.to_float(train.images)
    model = build_model("cnn_mnist", (28, 28, 1), 10, mean=[float(x.mean())], std=[float(x.std())], seed=1)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(keras.optimizers.SGD(0.05, momentum=0.9, weight_decay=5e-4), loss)
    model.fit(x, train.labels, batch_size=128, epochs=epochs, verbose=0)
    return model, transforms.to_float(test.images), test.labels.astype(np.int64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--eps", type=float, default=0.1)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count())
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    print(f"# {machine}, TF {tf.__version__}, torch {torch.__version__}")
    model, x, y = trained_cnn(args.epochs)
    x, y = x[: args.examples], y[: args.examples]
    twin = TWINS["cnn_mnist"](model).eval()
    print(f"# twin agreement: max |logit difference| {max_logit_difference(model, twin, x[:256]):.2e}")
    clean = np.argmax(model.predict(x, batch_size=500, verbose=0), -1) == y
    print(f"# cnn_mnist, {len(y)} test digits, clean accuracy {clean.mean():.4f}, l-inf eps {args.eps}", end="")
    print(f", {args.queries} queries")
    print(f"{'attack':34s} {'robust acc':>10s} {'seconds':>8s}")
    for seed in range(args.seeds):
        attack = Square(model, norm="linf", eps=args.eps, queries=args.queries)
        start, robust = time.time(), []
        for lo in range(0, len(y), args.batch):
            success = attack(x[lo : lo + args.batch], y[lo : lo + args.batch], (seed, lo))[1].numpy()
            robust.append(clean[lo : lo + args.batch] & ~success)
        label = f"robust_keras Square, seed {seed}"
        print(f"{label:34s} {np.concatenate(robust).mean():10.4f} {time.time() - start:8.1f}")
    import torchattacks

    reference = torchattacks.Square(twin, norm="Linf", eps=args.eps, n_queries=args.queries, n_restarts=1, seed=0)
    start, robust = time.time(), []
    for lo in range(0, len(y), args.batch):
        adv = reference(to_nchw(x[lo : lo + args.batch]), torch.from_numpy(y[lo : lo + args.batch]))
        with torch.no_grad():
            robust.append(twin(adv).argmax(1).numpy() == y[lo : lo + args.batch])
    print(f"{'torchattacks Square (reference)':34s} {np.concatenate(robust).mean():10.4f} {time.time() - start:8.1f}")


if __name__ == "__main__":
    main()
