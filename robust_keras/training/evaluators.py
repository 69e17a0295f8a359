"""Evaluators: objects whose ``evaluate(predict)`` yields ``(name, value)`` metrics.

``predict`` is a compiled function mapping a float32 image batch to logits, so one
compilation serves every evaluator of a model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import tensorflow as tf

from robust_keras.data.pipeline import eval_dataset


class ClassificationEvaluator:
    """Accuracy and mean cross-entropy of a model on fixed (images, labels).

    Yields ``<split>/accuracy`` and ``<split>/loss``.
    """

    def __init__(self, split: str, images: np.ndarray, labels: np.ndarray, batch_size: int = 500):
        self.split = split
        self.dataset = eval_dataset(images, labels, batch_size)

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
    batch (e.g. ``experiments.common.make_attack``); rebuilt only when ``predict`` changes (a
    new model, e.g. after linearization). Attack seeds are fixed per batch, so epochs compare.
    Yields ``<split>/robust_accuracy``.
    """

    def __init__(self, split: str, images: np.ndarray, labels: np.ndarray, make_attack, batch_size: int = 500):
        self.split = split
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
        yield f"{self.split}/robust_accuracy", correct / max(count, 1)


def accuracy(
    predict: Callable[[tf.Tensor], tf.Tensor], images: np.ndarray, labels: np.ndarray, batch_size: int = 500
) -> float:
    """Top-1 accuracy of ``predict`` on (images, labels)."""
    return dict(ClassificationEvaluator("x", images, labels, batch_size).evaluate(predict))["x/accuracy"]
