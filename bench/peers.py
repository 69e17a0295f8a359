"""robust_keras against the attack libraries users pick instead, same machine, same run.

    python3 -m venv .venv-bench && .venv-bench/bin/pip install -q -r bench/requirements-attack-peers.txt
    .venv-bench/bin/python bench/peers.py [--models cnn_mnist,resnet18] [--batch 128] [--steps 10]

For each model (the same Keras architecture and weights for every TensorFlow tool; a PyTorch twin
with the copied weights for torch, bench/torch_twins.py, checked to agree on the logits first):

PGD l-inf, eps 8/255, step 2/255, ``--steps`` steps, no random start, batch ``--batch``:
  bound/input          ``--steps`` forward + backward passes to the input chained in one compiled loop
                       (bounds.gradient_loop: what the attack must compute, run as an attack runs)
  bound/one-call       one compiled forward + backward per call (pays a launch per pass; information)
  robust_keras         attacks.PGD, best iterate kept (steps + 1 forwards)
  robust_keras/last    attacks.PGD(keep_best=False): the last iterate, the peers' semantics
  cleverhans           cleverhans.tf2 projected_gradient_descent, eager (its gradient is a tf.function)
  cleverhans/fn        the same call wrapped in one tf.function
  art                  IBM ART ProjectedGradientDescent on a TensorFlowV2Classifier
  foolbox              foolbox 3 LinfPGD on a TensorFlowModel
  torchattacks         torchattacks.PGD on the torch twin (CPU torch, its default threads)
Before timing, every attack's success rate (misclassification of the model's own clean
predictions) is printed, and the share of pixels where its images equal robust_keras/last's, so
a ratio compares the same work. Repeats of all methods are interleaved and the median is taken
(run-to-run spread on a shared 2-core machine is 15-20%).

Training, ``--train_examples`` images, batch ``--batch``, SGD momentum 0.9:
  robust_keras train   loop.Trainer, one epoch         vs  torch twin, the same epoch
  robust_keras adv     PGD-7 adversarial epoch (Madry)  vs  torch twin + torchattacks PGD-7,
                                                         ART AdversarialTrainerMadryPGD (1 epoch)
  robust_keras adv/last  the same with the attack's last iterate (the peers' semantics: 7 forwards
                       per attack instead of 8)
Throughputs in img/s (attacks: img*steps/s) and ratios robust_keras / peer.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import torch  # noqa: E402
from bounds import gradient_loop, gradient_passes  # noqa: E402
from torch.nn import functional as F  # noqa: E402
from torch_twins import TWINS, max_logit_difference, to_nchw  # noqa: E402

from robust_keras.attacks import PGD  # noqa: E402
from robust_keras.models import build_model  # noqa: E402
from robust_keras.training import loop, optim  # noqa: E402

SHAPES = {"cnn_mnist": (28, 28, 1), "resnet18": (32, 32, 3)}
EPS, STEP = 8 / 255, 2 / 255
PEERS = ("cleverhans", "adversarial-robustness-toolbox", "foolbox", "torch", "torchattacks", "tensorflow-cpu", "keras")


def interleaved_medians(fns: dict, repeats: int) -> dict[str, float]:
    """Median seconds of each fn over ``repeats`` rounds, each round calling every fn once (after a warm-up)."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def attacks(model, twin, x: np.ndarray, y: np.ndarray, steps: int) -> dict:
    """name -> () -> adversarial images as NHWC numpy, for every tool."""
    import foolbox
    import torchattacks
    from art.attacks.evasion import ProjectedGradientDescent
    from art.estimators.classification import TensorFlowV2Classifier
    from cleverhans.tf2.attacks.projected_gradient_descent import projected_gradient_descent

    xt, yt = tf.constant(x), tf.constant(y)
    ours = PGD(model, norm="linf", eps=EPS, step_size=STEP, steps=steps)
    last = PGD(model, norm="linf", eps=EPS, step_size=STEP, steps=steps, keep_best=False)

    def cleverhans(inputs, labels):
        return projected_gradient_descent(
            model,
            inputs,
            EPS,
            STEP,
            steps,
            np.inf,
            clip_min=0.0,
            clip_max=1.0,
            y=labels,
            rand_init=False,
            sanity_checks=False,
        )

    cleverhans_fn = tf.function(cleverhans)
    classes = int(model.output_shape[-1])
    art = ProjectedGradientDescent(
        TensorFlowV2Classifier(
            model,
            nb_classes=classes,
            input_shape=x.shape[1:],
            loss_object=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            clip_values=(0.0, 1.0),
        ),
        norm=np.inf,
        eps=EPS,
        eps_step=STEP,
        max_iter=steps,
        num_random_init=0,
        batch_size=len(x),
        verbose=False,
    )
    fmodel = foolbox.TensorFlowModel(model, bounds=(0.0, 1.0))
    foolbox_pgd = foolbox.attacks.LinfPGD(abs_stepsize=STEP, steps=steps, random_start=False)
    twin.eval()
    torch_pgd = torchattacks.PGD(twin, eps=EPS, alpha=STEP, steps=steps, random_start=False)
    x_nchw, y_torch = to_nchw(x), torch.from_numpy(y)
    return {
        "robust_keras": lambda: ours(xt, yt)[0].numpy(),
        "robust_keras/last": lambda: last(xt, yt)[0].numpy(),
        "cleverhans": lambda: cleverhans(xt, yt).numpy(),
        "cleverhans/fn": lambda: cleverhans_fn(xt, yt).numpy(),
        "art": lambda: art.generate(x=x, y=y),
        "foolbox": lambda: foolbox_pgd(fmodel, xt, yt, epsilons=EPS)[1].numpy(),
        "torchattacks": lambda: torch_pgd(x_nchw, y_torch).numpy().transpose(0, 2, 3, 1),
    }


def bench_attacks(name: str, model, twin, batch: int, steps: int, repeats: int) -> list[tuple]:
    x = tf.random.uniform([batch, *SHAPES[name]], seed=1).numpy()
    y = np.argmax(model(x, training=False), -1).astype(np.int64)  # the model's own labels: success = a flip
    print(f"# {name}: max |keras - torch twin| logit difference {max_logit_difference(model, twin, x):.2e}")
    fns = attacks(model, twin, x, y, steps)
    reference = fns["robust_keras/last"]()
    for label, fn in fns.items():
        adv = fn()
        size = np.abs(adv - x).max()
        flipped = np.argmax(model(adv, training=False), -1) != y
        same = np.mean(np.abs(adv - reference) < 1e-6)
        print(
            f"# {name} {label:18s} success {flipped.mean():.3f}  max |delta| {size:.4f}  pixels = ours/last {same:.3f}"
        )
    grad_input, _ = gradient_passes(model)
    chained = gradient_loop(model, steps)
    xt, yt = tf.constant(x), tf.constant(y)
    one_call = lambda: [grad_input(xt, yt).numpy() for _ in range(steps)]  # noqa: E731
    fns = {"bound/input": lambda: chained(xt, yt).numpy(), "bound/one-call": one_call, **fns}
    seconds = interleaved_medians(fns, repeats)
    bound = batch * steps / seconds["bound/input"]
    rows = [(f"{name} bound/input", bound, 1.0, float("nan"))]
    ours = batch * steps / seconds["robust_keras"]
    for label in fns:
        if label != "bound/input":
            rate = batch * steps / seconds[label]
            rows.append((f"{name} {label}", rate, rate / bound, ours / rate))
    return rows


def bench_training(name: str, model, batch: int, examples: int, repeats: int) -> list[tuple]:
    """One clean and one PGD-7 adversarial epoch: robust_keras vs the torch twin (and ART's Madry trainer)."""
    import torchattacks
    from art.defences.trainer import AdversarialTrainerMadryPGD
    from art.estimators.classification import TensorFlowV2Classifier

    rng = np.random.default_rng(0)
    x = rng.random((examples, *SHAPES[name]), dtype=np.float32)
    y = rng.integers(0, 10, examples).astype(np.int64)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch).cache()
    twin = TWINS[name](model)
    clean = loop.Trainer(model, optim.make_optimizer("sgd", 0.01, momentum=0.9))

    def adversarial_trainer(keep_best: bool) -> loop.Trainer:
        attack = PGD(model, norm="linf", eps=EPS, step_size=STEP, steps=7, keep_best=keep_best)
        return loop.Trainer(
            model, optim.make_optimizer("sgd", 0.01, momentum=0.9), adversary=lambda a, b, s: attack(a, b, s)[0]
        )

    adversarial, adversarial_last = adversarial_trainer(True), adversarial_trainer(False)
    torch_opt = torch.optim.SGD(twin.parameters(), lr=0.01, momentum=0.9)
    torch_pgd = torchattacks.PGD(twin, eps=EPS, alpha=STEP, steps=7, random_start=False)
    x_nchw, y_torch = to_nchw(x), torch.from_numpy(y)

    def torch_epoch(adv: bool):
        for i in range(0, examples, batch):
            xb, yb = x_nchw[i : i + batch], y_torch[i : i + batch]
            if adv:
                xb = torch_pgd(xb, yb)  # torchattacks returns the model to train mode afterwards
            twin.train()
            torch_opt.zero_grad()
            F.cross_entropy(twin(xb), yb).backward()
            torch_opt.step()

    art_classifier = TensorFlowV2Classifier(
        model,
        nb_classes=10,
        input_shape=x.shape[1:],
        loss_object=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        optimizer=tf.keras.optimizers.SGD(0.01, momentum=0.9),
        clip_values=(0.0, 1.0),
    )
    art_trainer = AdversarialTrainerMadryPGD(
        art_classifier, nb_epochs=1, batch_size=batch, eps=EPS, eps_step=STEP, max_iter=7, num_random_init=0
    )
    fns = {
        "train robust_keras": lambda: clean.train_epoch(data),
        "train torch": lambda: torch_epoch(False),
        "adv robust_keras": lambda: adversarial.train_epoch(data),
        "adv robust_keras/last": lambda: adversarial_last.train_epoch(data),
        "adv torch+torchattacks": lambda: torch_epoch(True),
        "adv art": lambda: art_trainer.fit(x, y),
    }
    seconds = interleaved_medians(fns, repeats)
    rows = []
    for kind in ("train", "adv"):
        ours = examples / seconds[f"{kind} robust_keras"]
        for label in (k for k in fns if k.startswith(kind)):
            rate = examples / seconds[label]
            rows.append((f"{name} {label}", rate, float("nan"), ours / rate))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="cnn_mnist,resnet18")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--train_examples", type=int, default=512)
    parser.add_argument("--no_train", action="store_true")
    parser.add_argument("--no_attacks", action="store_true")
    args = parser.parse_args()
    versions = ", ".join(f"{p} {importlib.metadata.version(p)}" for p in PEERS)
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch threads "
        f"{torch.get_num_threads()}; {versions}"
    )
    print(f"{'measurement':36s} {'rate':>10s} {'/bound':>7s} {'ours/it':>8s}")
    for name in args.models.split(","):
        c = SHAPES[name][-1]
        model = build_model(name, SHAPES[name], 10, mean=[0.5] * c, std=[0.25] * c, seed=0)
        rows = (
            []
            if args.no_attacks
            else bench_attacks(name, model, TWINS[name](model), args.batch, args.steps, args.repeats)
        )
        if not args.no_train:
            rows += bench_training(name, model, args.batch, args.train_examples, max(1, args.repeats // 2))
        for label, rate, to_bound, ratio in rows:
            print(f"{label:36s} {rate:10.1f} {to_bound:7.3f} {ratio:8.2f}", flush=True)


if __name__ == "__main__":
    main()
