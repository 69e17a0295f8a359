"""The small CNNs of the NTK paper, App. E (docs/methods.md §B, kernel dynamics), all 3x3 ReLU convs."""

from __future__ import annotations

import keras
from keras import layers


def cnn_mnist(x, num_classes: int):
    """conv32-ReLU-avgpool2, conv64-ReLU-avgpool2, dense256-ReLU, dense K. (B,28,28,1) -> (B,K)."""
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = layers.AveragePooling2D(2)(x)  # (B, 14, 14, 32)
    x = layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = layers.AveragePooling2D(2)(x)  # (B, 7, 7, 64)
    x = layers.Flatten()(x)
    x = layers.Dense(256, activation="relu")(x)
    return layers.Dense(num_classes)(x)


def cnn_cifar(x, num_classes: int):
    """conv32, conv32, maxpool2, conv64, conv64, conv128, conv128, avgpool2, dense K."""
    for filters in (32, 32):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)  # (B, H/2, W/2, 32)
    for filters in (64, 64, 128, 128):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    x = layers.AveragePooling2D(2)(x)  # (B, H/4, W/4, 128)
    x = layers.Flatten()(x)
    return keras.layers.Dense(num_classes)(x)
