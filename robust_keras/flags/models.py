"""Architectures and their options (docs/methods.md §B)."""

from __future__ import annotations

from absl import flags

MODELS = ("cnn_mnist", "cnn_cifar", "resnet18", "resnet34", "resnet50", "two_layer")

# -- model --------------------------------------------------------------------------------------
flags.DEFINE_enum("model", "cnn_mnist", MODELS, "Architecture (docs/methods.md §B CNNs, ResNets, two-layer net).")
flags.DEFINE_integer("width", 512, "two_layer: hidden units m.", lower_bound=1)
flags.DEFINE_enum("parameterization", "standard", ["standard", "ntk"], "two_layer: init/scaling (docs/methods.md §B).")
flags.DEFINE_bool("train_second_layer", True, "two_layer: train the output layer (else fixed ±1).")
flags.DEFINE_bool("use_bias", True, "two_layer: biases in the hidden layer.")
