"""Streamed input (``--max_in_memory_mb``) against the in-memory pipeline it replaces, same run.

    .venv/bin/python bench/input_stream.py [--examples 20000] [--batch 128] [--repeats 3]

Times, after one warm-up epoch, the median of ``--repeats`` full training epochs (images/s) of:
  memory/adversarial   data/pipeline.train_dataset over float32 arrays (D_det loaded in memory)
  stream/adversarial   data/shard_stream.ShardStream.train_dataset over the same examples written
                       as TFRecord shards (1,000 per shard; verified, seeded file order, buffer 10,000)
  stream/adv 1 of 2    the part one of two multi-worker input pipelines reads (half the files)
  memory/clean         pipeline.train_dataset over uint8 CIFAR-10-shaped arrays (random pixels)
  stream/clean         data/tfds_stream.TfdsStream over the same images prepared by tfds from a fake
                       cifar-10-binary.tar.gz (the tests' archive writer)
with their ratio to the matching in-memory row, and, for scale, ResNet-18 training images/s on
this machine at the same batch (what the pipeline has to keep up with). Augmentation is on
(random crop + flip), as in the CIFAR recipes.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import platform
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from bounds import median_seconds  # noqa: E402

from robust_keras.data import adversarial, pipeline  # noqa: E402
from robust_keras.data.shard_stream import ShardStream  # noqa: E402
from robust_keras.data.tfds_stream import TfdsStream, prepared_builder  # noqa: E402
from robust_keras.models import build_model  # noqa: E402
from robust_keras.training import loop  # noqa: E402


def _epoch_rate(make_dataset, n: int, repeats: int) -> float:
    """Images/s of iterating one epoch made by ``make_dataset(epoch)`` (batches touched on host)."""
    epochs = iter(range(10_000))

    def run():
        for x, _ in make_dataset(next(epochs)):
            x.shape  # noqa: B018 -- the batch is produced; nothing else is timed

    run()  # warm-up: first-epoch graph building
    return n / median_seconds(run, repeats)


def _prepared_cifar(root: str, n: int) -> str:
    from fake_cifar10 import prepared_cifar10  # the tests' fake-archive writer

    return prepared_cifar10(pathlib.Path(root), per_file=n // 5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n, b = args.examples, args.batch
    rng = np.random.default_rng(0)
    images = rng.random((n, 32, 32, 3), dtype=np.float32)
    labels = rng.integers(0, 10, n)
    rows = np.arange(n)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        directory = os.path.join(tmp, "d_det")
        adversarial.write_arrays(
            directory,
            images=images,
            labels=labels,
            orig_labels=labels,
            indices=rows,
            target_hit=np.ones(n, bool),
            spec={"bench": True},
            shard_size=1000,
            log=lambda _: None,
        )
        start = time.time()
        stream = ShardStream(directory)
        print(f"ShardStream open (sha256 of {len(stream.files)} shards + label columns): {time.time() - start:.1f}s")
        in_memory = lambda e: pipeline.train_dataset(images, labels, batch_size=b, seed=0, epoch=e, augment=True)  # noqa: E731
        memory = _epoch_rate(in_memory, n, args.repeats)
        results.append(("memory/adversarial", memory, 1.0))
        streamed = _epoch_rate(
            lambda e: stream.train_dataset(rows, batch_size=b, seed=0, epoch=e, augment=True), n, args.repeats
        )
        results.append(("stream/adversarial", streamed, streamed / memory))
        context = tf.distribute.InputContext(2, 0, 2)
        half = _epoch_rate(
            lambda e: stream.train_dataset(rows, batch_size=b, seed=0, epoch=e, augment=True, input_context=context),
            n // 2,
            args.repeats,
        )
        results.append(("stream/adv 1 of 2", half, half / memory))

        data_dir = _prepared_cifar(tmp, n)
        clean = TfdsStream(prepared_builder("cifar10", data_dir, download=False), "train")
        x_clean = np.concatenate([x.numpy() for x, _ in clean.eval_dataset(4096)])
        x_clean = np.round(x_clean * 255).astype(np.uint8)
        y_clean = np.zeros(len(x_clean), np.int64)
        memory_clean = _epoch_rate(
            lambda e: pipeline.train_dataset(x_clean, y_clean, batch_size=b, seed=0, epoch=e, augment=True),
            len(x_clean),
            args.repeats,
        )
        results.append(("memory/clean", memory_clean, 1.0))
        streamed_clean = _epoch_rate(
            lambda e: clean.train_dataset(batch_size=b, seed=0, epoch=e, augment=True), len(x_clean), args.repeats
        )
        results.append(("stream/clean", streamed_clean, streamed_clean / memory_clean))

    model = build_model("resnet18", (32, 32, 3), 10, mean=[0.5] * 3, std=[0.25] * 3, seed=0)
    trainer = loop.Trainer(model, tf.keras.optimizers.SGD(0.01, momentum=0.9))
    few = pipeline.train_dataset(images[: 4 * b], labels[: 4 * b], batch_size=b, seed=0, epoch=0)
    trainer.train_epoch(few)
    training = 4 * b / median_seconds(lambda: trainer.train_epoch(few), args.repeats)

    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, TF {tf.__version__}")
    print(f"{n} examples of 32x32x3, batch {b}, augmentation on; median of {args.repeats} epochs after a warm-up")
    for name, rate, ratio in results:
        print(f"{name:20s} {rate:10.0f} img/s  {ratio:5.2f}x in-memory  {rate / training:6.1f}x ResNet-18 training")
    print(f"{'ResNet-18 training':20s} {training:10.0f} img/s")


if __name__ == "__main__":
    main()
