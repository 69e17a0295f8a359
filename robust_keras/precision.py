"""The compute precision of a run: Keras' mixed-precision policy for ``--mixed_precision`` and
whether this host computes its dtype natively.

float16 is the GPU's mixed precision (with loss scaling, robust_keras/training/optim.py).
bfloat16 keeps float32's exponent range, so it needs no loss scaling; it runs natively on TPUs,
on GPUs of compute capability >= 8.0 (Ampere and later) and on CPUs with AVX512-BF16 or AMX
(x86) or the BF16 extension (Arm). Elsewhere it is emulated -- much slower than float32, or, with
oneDNN limited to AVX2, convolutions that fail to build (measured: bench/RESULTS.md). A run asked
for bfloat16 on such a host is refused before it starts.
"""

from __future__ import annotations

# /proc/cpuinfo flags of native bfloat16 arithmetic: x86 AVX512-BF16 and AMX, Arm's BF16 extension.
_BFLOAT16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})


def cpu_flags(cpuinfo: str) -> frozenset[str] | None:
    """The feature flags of the first processor in the text of /proc/cpuinfo (x86 ``flags``,
    Arm ``Features``), or None when the text names none (another OS's format)."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return None


def _host_cpu_flags() -> frozenset[str] | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return cpu_flags(f.read())
    except OSError:  # not Linux: nothing to tell from
        return None


def _gpu_capabilities() -> list[tuple[int, int]]:
    """Compute capability (major, minor) of every visible GPU ((0, 0) when TF does not say)."""
    import tensorflow as tf

    return [
        tuple(tf.config.experimental.get_device_details(gpu).get("compute_capability", (0, 0)))
        for gpu in tf.config.list_physical_devices("GPU")
    ]


def bfloat16_problem(gpu_capabilities: list[tuple[int, int]], flags: frozenset[str] | None) -> str | None:
    """Why bfloat16 would be emulated on a host with these GPUs and CPU flags, or None when it
    runs natively (or the CPU's flags cannot be read, so nothing is known against it)."""
    if gpu_capabilities:
        old = [cc for cc in gpu_capabilities if cc < (8, 0)]
        if not old:
            return None
        return f"a GPU of compute capability {old[0][0]}.{old[0][1]} (< 8.0) has no native bfloat16 arithmetic"
    if flags is None or flags & _BFLOAT16_CPU_FLAGS:
        return None
    return "no GPU and this CPU has no bfloat16 instructions (AVX512-BF16, AMX or Arm BF16 in /proc/cpuinfo)"


def host_bfloat16_problem() -> str | None:
    """:func:`bfloat16_problem` of this host (its visible GPUs, its /proc/cpuinfo)."""
    return bfloat16_problem(_gpu_capabilities(), _host_cpu_flags())


def set_policy(dtype: str | None) -> None:
    """Sets Keras' global dtype policy to mixed_<dtype> (float32 variables, ``dtype`` "float16" or
    "bfloat16" compute); None leaves float32. Raises ValueError naming the cause and the fix when
    bfloat16 would be emulated."""
    import keras

    if dtype is None:
        return
    if dtype == "bfloat16":
        problem = host_bfloat16_problem()
        if problem:
            raise ValueError(
                f"--mixed_precision_dtype=bfloat16: {problem}, so it would be emulated (slower than float32) "
                "-- use --mixed_precision_dtype=float16 on a GPU, or drop --mixed_precision"
            )
    keras.mixed_precision.set_global_policy(f"mixed_{dtype}")
