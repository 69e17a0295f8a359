"""Devices and compilation: mixed precision, XLA, tf.distribute strategies."""

from __future__ import annotations

from absl import flags

# -- devices and distribution -----------------------------------------------------------------
flags.DEFINE_bool("mixed_precision", False, "mixed_float16 compute (GPU); logits and losses stay float32.")
flags.DEFINE_bool("jit_compile", False, "XLA-compile the training and attack steps.")
flags.DEFINE_enum(
    "strategy",
    "default",
    ["default", "mirrored", "multi_worker"],
    "tf.distribute strategy for training: default = one device; mirrored = every local GPU; multi_worker = "
    "MultiWorkerMirroredStrategy over the cluster in TF_CONFIG or the Slurm job step (README 'GPU and scale'), "
    "which also splits adversarial-dataset generation (d_det and the experiments built on it) over the workers. "
    "--batch_size is the global batch.",
)
flags.DEFINE_integer(
    "cluster_port_base", 8888, "multi_worker under Slurm: first port of the tasks on a node.", lower_bound=1
)
