"""Evaluators: objects whose ``evaluate(predict)`` yields ``(name, value)`` metrics.

``predict`` is a compiled function mapping a float32 image batch to logits, so one
compilation serves every evaluator of a model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import tensorflow as tf

from robust_keras.data import transforms
from robust_keras.data.pipeline import eval_dataset


class ClassificationEvaluator:
    """Accuracy and mean cross-entropy of a model on fixed (images, labels).

    Yields ``<split>/accuracy`` and ``<split>/loss``.
    """

    def __init__(self, split: str, images: np.ndarray, labels: np.ndarray, batch_size: int = 500):
        self.split = split
        self.dataset = eval_dataset(images, labels, batch_size)

    @classmethod
    def of_dataset(cls, split: str, dataset: tf.data.Dataset) -> ClassificationEvaluator:
        """The evaluator of batches (float32 image, int64 label) already in a tf.data pipeline
        (e.g. streamed from shards)."""
        evaluator = cls.__new__(cls)
        evaluator.split, evaluator.dataset = split, dataset
        return evaluator

    def evaluate(self, predict: Callable[[tf.Tensor], tf.Tensor]) -> Iterator[tuple[str, float]]:
        correct, loss_sum, count = 0, 0.0, 0
        for x, y in self.dataset:
            logits = tf.cast(predict(x), tf.float32)
            loss_sum += float(tf.reduce_sum(tf.keras.losses.sparse_categorical_crossentropy(y, logits, True)))
            correct += int(tf.reduce_sum(tf.cast(tf.argmax(logits, -1) == y, tf.int32)))
            count += int(y.shape[0])
        yield f"{self.split}/accuracy", correct / max(count, 1)
        yield f"{self.split}/loss", loss_sum / max(count, 1)


class RobustEvaluator:
    """Accuracy under an attack computed on the model being evaluated (white box).

    ``make_attack``: logits function -> attack with ``attack(x, y, seed)[0]`` the adversarial
    batch (e.g. ``workflows.attack_builders.make_attack``); rebuilt only when ``predict`` changes (a
    new model, e.g. after linearization). Attack seeds are fixed per batch, so epochs compare.
    Yields ``<split>/<metric>`` (default ``robust_accuracy``; other attacks log under their own name).
    """

    def __init__(
        self,
        split: str,
        images: np.ndarray,
        labels: np.ndarray,
        make_attack,
        batch_size: int = 500,
        metric: str = "robust_accuracy",
    ):
        self.split, self.metric = split, metric
        self.dataset = eval_dataset(images, labels, batch_size)
        self.make_attack = make_attack
        self._predict = self._attack = None

    def evaluate(self, predict: Callable[[tf.Tensor], tf.Tensor]) -> Iterator[tuple[str, float]]:
        if predict is not self._predict:
            self._predict, self._attack = predict, self.make_attack(predict)
        correct, count = 0, 0
        for i, (x, y) in enumerate(self.dataset):
            x_adv = self._attack(x, y, (0, i))[0]
            correct += int(tf.reduce_sum(tf.cast(tf.argmax(predict(x_adv), -1) == y, tf.int32)))
            count += int(y.shape[0])
        yield f"{self.split}/{self.metric}", correct / max(count, 1)


def accuracy(
    predict: Callable[[tf.Tensor], tf.Tensor], images: np.ndarray, labels: np.ndarray, batch_size: int = 500
) -> float:
    """Top-1 accuracy of ``predict`` on (images, labels)."""
    return dict(ClassificationEvaluator("x", images, labels, batch_size).evaluate(predict))["x/accuracy"]


class PerformanceCorrelationEvaluator:
    """Performance correlation mu_Y(F; L) in bits (analysis/performance_correlation.py) between
    the model's predictions F and fixed predictions L of a simple classifier on (images, labels Y).

    Yields ``<split>/performance_correlation`` and ``<split>/label_information`` (I(F; Y) in bits,
    the whole of what F tells about Y: mu / I(F; Y) is the share the simple classifier accounts for).
    """

    def __init__(self, split: str, images: np.ndarray, labels: np.ndarray, simple_predictions, batch_size: int = 500):
        self.split = split
        self.dataset = eval_dataset(images, labels, batch_size)
        self.labels = np.asarray(labels, np.int64)
        self.simple = np.asarray(simple_predictions, np.int64)

    def evaluate(self, predict: Callable[[tf.Tensor], tf.Tensor]) -> Iterator[tuple[str, float]]:
        from robust_keras.analysis.performance_correlation import mutual_information, performance_correlation

        f = np.concatenate([np.argmax(np.asarray(predict(x)), -1) for x, _ in self.dataset])
        yield f"{self.split}/performance_correlation", performance_correlation(f, self.simple, self.labels)
        yield f"{self.split}/label_information", mutual_information(f, self.labels)


class TargetedTransferEvaluator:
    """Targeted attack success on the model being trained and transfer of those examples to fixed
    reference models (robust-before-non-robust Fig. 4).

    Each epoch the fixed (images, targets) are attacked on the current model with
    ``make_attack(predict)`` (``attack(x, t, seed)[0]`` the adversarial batch, fixed seeds);
    yields ``<split>/attack_success`` (fraction with argmax model(x_adv) = t) and
    ``<split>/transfer_<name>`` (fraction of *all* attacked examples with argmax ref(x_adv) = t)
    for every ``references[name]`` (a logits function).
    """

    def __init__(self, split: str, images, targets, make_attack, references: dict, batch_size: int = 500):
        self.split = split
        self.dataset = eval_dataset(images, targets, batch_size)
        self.make_attack = make_attack
        self.references = references
        self._predict = self._attack = None

    def evaluate(self, predict: Callable[[tf.Tensor], tf.Tensor]) -> Iterator[tuple[str, float]]:
        if predict is not self._predict:
            self._predict, self._attack = predict, self.make_attack(predict)
        hits = {name: 0 for name in ("attack_success", *(f"transfer_{n}" for n in self.references))}
        count = 0
        for i, (x, t) in enumerate(self.dataset):
            x_adv = self._attack(x, t, (0, i))[0]
            hits["attack_success"] += int(tf.reduce_sum(tf.cast(tf.argmax(predict(x_adv), -1) == t, tf.int32)))
            for name, ref in self.references.items():
                hits[f"transfer_{name}"] += int(tf.reduce_sum(tf.cast(tf.argmax(ref(x_adv), -1) == t, tf.int32)))
            count += int(t.shape[0])
        for name, value in hits.items():
            yield f"{self.split}/{name}", value / max(count, 1)


def predicted_labels(logits_fn, images: np.ndarray, batch_size: int) -> np.ndarray:
    """argmax labels int64 (N,) of ``logits_fn`` over float32 images in batches."""
    out = [
        np.argmax(np.asarray(logits_fn(tf.constant(transforms.to_float(images[i : i + batch_size])))), -1)
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(out).astype(np.int64) if out else np.zeros([0], np.int64)
