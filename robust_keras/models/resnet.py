"""ResNet-18/34/50 with the CIFAR stem (3x3 conv, stride 1, no max-pool), He et al. 2016."""

from __future__ import annotations

from keras import layers

_BLOCKS = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)), 50: ("bottleneck", (3, 4, 6, 3))}


def _conv_bn(x, filters: int, kernel: int, stride: int = 1, relu: bool = True):
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)
    return layers.ReLU()(x) if relu else x


def _shortcut(x, filters: int, stride: int):
    if stride == 1 and x.shape[-1] == filters:
        return x
    return _conv_bn(x, filters, 1, stride, relu=False)


def _basic_block(x, filters: int, stride: int):
    out = _conv_bn(x, filters, 3, stride)
    out = _conv_bn(out, filters, 3, relu=False)
    return layers.ReLU()(layers.Add()([out, _shortcut(x, filters, stride)]))


def _bottleneck_block(x, filters: int, stride: int):
    out = _conv_bn(x, filters, 1)
    out = _conv_bn(out, filters, 3, stride)
    out = _conv_bn(out, 4 * filters, 1, relu=False)
    return layers.ReLU()(layers.Add()([out, _shortcut(x, 4 * filters, stride)]))


def resnet(x, depth: int, num_classes: int):
    """(B, H, W, C) normalised images -> (B, K) logits; widths 64-128-256-512 (x4 for 50)."""
    kind, repeats = _BLOCKS[depth]
    block = _basic_block if kind == "basic" else _bottleneck_block
    x = _conv_bn(x, 64, 3)  # CIFAR stem: (B, H, W, 64)
    for stage, (filters, n) in enumerate(zip((64, 128, 256, 512), repeats)):
        for i in range(n):
            x = block(x, filters, stride=2 if (stage > 0 and i == 0) else 1)
    x = layers.GlobalAveragePooling2D()(x)  # (B, 512 or 2048)
    return layers.Dense(num_classes)(x)
