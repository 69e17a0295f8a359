"""PyTorch twins of robust_keras' ``cnn_mnist`` and ``resnet18`` for the peer benchmark.

A twin computes the same function as the Keras model it is built from: the Keras weights are
copied (HWIO -> OIHW kernels, (in, out) -> (out, in) dense matrices, BatchNorm statistics),
convolutions pad like TensorFlow's ``"same"`` (asymmetric for stride 2: the extra row and column
at the bottom and right, where torch's ``padding=1`` would pad both sides), and the CNN flattens
in Keras' (H, W, C) order. Inputs are NCHW float32 in [0, 1]; the twin normalises them as the
Keras model's first layer does. :func:`max_logit_difference` checks the agreement.
"""

from __future__ import annotations

import math
import re

import keras
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def _creation_order(layers, kind) -> list:
    """Layers of ``kind`` in the order they were created (Keras numbers auto-names: conv2d, conv2d_1...)."""
    chosen = [layer for layer in layers if isinstance(layer, kind)]
    suffix = lambda layer: int(m.group(1)) if (m := re.search(r"_(\d+)$", layer.name)) else 0  # noqa: E731
    return sorted(chosen, key=suffix)


class SameConv(nn.Module):
    """Conv2d with TensorFlow "same" padding, weights from a Keras Conv2D."""

    def __init__(self, layer: keras.layers.Conv2D):
        super().__init__()
        kernel = layer.kernel.numpy()  # (kh, kw, in, out)
        self.stride = layer.strides[0]
        self.size = kernel.shape[0]
        self.conv = nn.Conv2d(kernel.shape[2], kernel.shape[3], self.size, self.stride, bias=layer.use_bias)
        with torch.no_grad():
            self.conv.weight.copy_(torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy()))
            if layer.use_bias:
                self.conv.bias.copy_(torch.from_numpy(layer.bias.numpy()))

    def forward(self, x):
        pads = []
        for length in (x.shape[3], x.shape[2]):  # F.pad takes (left, right, top, bottom)
            total = max((math.ceil(length / self.stride) - 1) * self.stride + self.size - length, 0)
            pads += [total // 2, total - total // 2]
        return self.conv(F.pad(x, pads))


def _batch_norm(layer: keras.layers.BatchNormalization) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(layer.gamma.shape[0], eps=layer.epsilon, momentum=1.0 - layer.momentum)
    with torch.no_grad():
        bn.weight.copy_(torch.from_numpy(layer.gamma.numpy()))
        bn.bias.copy_(torch.from_numpy(layer.beta.numpy()))
        bn.running_mean.copy_(torch.from_numpy(layer.moving_mean.numpy()))
        bn.running_var.copy_(torch.from_numpy(layer.moving_variance.numpy()))
    return bn


def _dense(layer: keras.layers.Dense) -> nn.Linear:
    kernel = layer.kernel.numpy()
    linear = nn.Linear(kernel.shape[0], kernel.shape[1], bias=layer.use_bias)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(kernel.T.copy()))
        if layer.use_bias:
            linear.bias.copy_(torch.from_numpy(layer.bias.numpy()))
    return linear


class _Normalize(nn.Module):
    def __init__(self, model: keras.Model):
        super().__init__()
        layer = model.get_layer("normalize")
        mean = np.asarray(layer.mean, np.float32).reshape(1, -1, 1, 1)
        std = np.maximum(np.sqrt(np.asarray(layer.variance, np.float32)), keras.backend.epsilon()).reshape(1, -1, 1, 1)
        self.register_buffer("mean", torch.from_numpy(mean))
        self.register_buffer("std", torch.from_numpy(std))

    def forward(self, x):
        return (x - self.mean) / self.std


class CnnMnistTwin(nn.Module):
    """conv32-ReLU-avgpool2, conv64-ReLU-avgpool2, dense256-ReLU, dense K (models/cnn.py)."""

    def __init__(self, model: keras.Model):
        super().__init__()
        self.normalize = _Normalize(model)
        self.convs = nn.ModuleList(SameConv(c) for c in _creation_order(model.layers, keras.layers.Conv2D))
        self.dense = nn.ModuleList(_dense(d) for d in _creation_order(model.layers, keras.layers.Dense))

    def forward(self, x):
        x = self.normalize(x)
        for conv in self.convs:
            x = F.avg_pool2d(F.relu(conv(x)), 2)
        x = x.permute(0, 2, 3, 1).flatten(1)  # Keras flattens (H, W, C)
        return self.dense[1](F.relu(self.dense[0](x)))


class ResNet18Twin(nn.Module):
    """The CIFAR-stem ResNet-18 of models/resnet.py (basic blocks, projection shortcuts)."""

    def __init__(self, model: keras.Model):
        super().__init__()
        self.normalize = _Normalize(model)
        convs = iter(_creation_order(model.layers, keras.layers.Conv2D))
        norms = iter(_creation_order(model.layers, keras.layers.BatchNormalization))
        pair = lambda: nn.ModuleList([SameConv(next(convs)), _batch_norm(next(norms))])  # noqa: E731
        self.stem = pair()
        self.blocks = nn.ModuleList()
        channels = 64
        for stage, filters in enumerate((64, 128, 256, 512)):
            for i in range(2):
                stride = 2 if (stage > 0 and i == 0) else 1
                block = nn.ModuleDict({"a": pair(), "b": pair()})
                if stride != 1 or channels != filters:  # created after a and b, as in _basic_block
                    block["shortcut"] = pair()
                self.blocks.append(block)
                channels = filters
        self.fc = _dense(_creation_order(model.layers, keras.layers.Dense)[-1])

    @staticmethod
    def _apply(pair, x):
        return pair[1](pair[0](x))

    def forward(self, x):
        x = F.relu(self._apply(self.stem, self.normalize(x)))
        for block in self.blocks:
            out = self._apply(block["b"], F.relu(self._apply(block["a"], x)))
            shortcut = self._apply(block["shortcut"], x) if "shortcut" in block else x
            x = F.relu(out + shortcut)
        return self.fc(x.mean(dim=(2, 3)))


TWINS = {"cnn_mnist": CnnMnistTwin, "resnet18": ResNet18Twin}


def to_nchw(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def max_logit_difference(model: keras.Model, twin: nn.Module, x: np.ndarray) -> float:
    """max |Keras logits - twin logits| on NHWC images ``x`` (both in inference mode)."""
    twin.eval()
    with torch.no_grad():
        theirs = twin(to_nchw(x)).numpy()
    return float(np.abs(np.asarray(model(x, training=False)) - theirs).max())
