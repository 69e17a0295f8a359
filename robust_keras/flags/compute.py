"""Devices and compilation: mixed precision, XLA, tf.distribute strategies."""

from __future__ import annotations

from absl import flags

# -- devices and distribution -----------------------------------------------------------------
flags.DEFINE_bool(
    "mixed_precision",
    False,
    "16-bit compute with float32 variables (--mixed_precision_dtype); logits and losses stay float32.",
)
flags.DEFINE_enum(
    "mixed_precision_dtype",
    "float16",
    ["float16", "bfloat16"],
    "--mixed_precision's compute dtype: float16 = mixed_float16 with loss scaling (GPUs); bfloat16 = "
    "mixed_bfloat16, float32's exponent range so no loss scaling (TPUs, Ampere+ GPUs, CPUs with AVX512-BF16 "
    "or AMX; emulated, so much slower than float32, on CPUs without them: bench/RESULTS.md).",
)
flags.register_multi_flags_validator(
    ["mixed_precision", "mixed_precision_dtype"],
    lambda v: v["mixed_precision"] or v["mixed_precision_dtype"] == "float16",
    "--mixed_precision_dtype=bfloat16 chooses the dtype of --mixed_precision: add --mixed_precision.",
)
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
