"""--mixed_precision's dtypes: the host check for bfloat16, the policy, loss scaling, the flag rule."""

import keras
import numpy as np
import pytest
from absl import flags
from conftest import parse_project_flags

from robust_keras import precision
from robust_keras.data import pipeline
from robust_keras.models import build_model
from robust_keras.training import loop, optim

ZEN4 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 avx512_vnni\n"
SKYLAKE = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512bw avx512_vnni\n"
GRAVITON3 = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\nCPU implementer\t: 0x41\n"


def test_cpu_flags_read_x86_and_arm_cpuinfo():
    assert "avx512_bf16" in precision.cpu_flags(ZEN4)
    assert "bf16" in precision.cpu_flags(GRAVITON3)
    assert precision.cpu_flags("machdep.cpu.brand_string: Apple M2") is None


@pytest.mark.parametrize(
    "gpus,cpuinfo,native",
    [
        ([], ZEN4, True),
        ([], GRAVITON3, True),
        ([], SKYLAKE, False),  # AVX-512 without the bfloat16 instructions: emulated
        ([], "no cpuinfo format", True),  # nothing known against it
        ([(8, 0), (9, 0)], SKYLAKE, True),  # Ampere / Hopper compute it, whatever the CPU
        ([(8, 0), (7, 0)], ZEN4, False),  # a V100 among them: that replica would emulate it
    ],
)
def test_bfloat16_is_native_only_on_hosts_with_the_instructions(gpus, cpuinfo, native):
    problem = precision.bfloat16_problem(gpus, precision.cpu_flags(cpuinfo))
    assert (problem is None) == native, problem


def test_emulated_bfloat16_is_refused_with_the_fix_and_the_policy_left_alone(monkeypatch):
    monkeypatch.setattr(precision, "_gpu_capabilities", lambda: [])
    monkeypatch.setattr(precision, "_host_cpu_flags", lambda: precision.cpu_flags(SKYLAKE))
    with pytest.raises(ValueError, match="no bfloat16 instructions.*drop --mixed_precision"):
        precision.set_policy("bfloat16")
    assert keras.mixed_precision.global_policy().name == "float32"


def test_bfloat16_policy_trains_with_float32_variables_and_logits_without_loss_scaling(monkeypatch):
    """A bfloat16 training run: float32 weights and logits, bfloat16 layers, plain SGD (float32's
    exponent range: no loss scaling), and the loss falls as in float32."""
    monkeypatch.setattr(precision, "_gpu_capabilities", lambda: [(8, 0)])
    precision.set_policy("bfloat16")
    try:
        model = build_model("cnn_mnist", (28, 28, 1), 2, mean=[0.5], std=[0.3], seed=0)
        optimizer = optim.make_optimizer("sgd", 0.05, loss_scaling=False)
        trainer = loop.Trainer(model, optimizer)
        rng = np.random.default_rng(0)
        y = rng.integers(0, 2, 128)
        x = (rng.random((128, 28, 28, 1)) * 0.2 + 0.4 * y[:, None, None, None]).astype(np.float32)
        losses = [trainer.train_epoch(pipeline.eval_dataset(x, y, 32))["train/loss"] for _ in range(3)]
        assert model.layers[1].compute_dtype == "bfloat16"
        assert {v.dtype for v in model.trainable_variables} == {"float32"}
        assert model(x[:2]).dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert not isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(optim.make_optimizer("sgd", 0.05, loss_scaling=True), keras.optimizers.LossScaleOptimizer)
    assert losses[-1] < 0.5 * losses[0], losses


def test_bfloat16_without_mixed_precision_is_refused_by_the_flags():
    assert parse_project_flags("--mixed_precision", "--mixed_precision_dtype=bfloat16")["mixed_precision_dtype"] == (
        "bfloat16"
    )
    with pytest.raises(flags.IllegalFlagValueError, match="add --mixed_precision"):
        parse_project_flags("--mixed_precision_dtype=bfloat16")


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_full_batch_losses_and_margins_of_a_mixed_precision_net_are_float32(policy):
    """Feature averaging's nets under --mixed_precision output float16 / bfloat16: its GD loss and
    binary margins (which multiply by float32 signs) take them and answer in float32, close to the
    float32 net's (both used to raise a dtype mismatch)."""
    from robust_keras.models import cluster_nets
    from robust_keras.training.full_batch import full_batch_loss

    x = np.random.default_rng(1).normal(size=(6, 10)).astype(np.float32)
    labels = np.array([0, 1, 0, 1, 1, 0])
    reference = cluster_nets.multiclass_net(10, 4, seed=0, use_bias=True)
    keras.mixed_precision.set_global_policy(policy)
    try:
        mixed = cluster_nets.multiclass_net(10, 4, seed=0, use_bias=True)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    mixed.set_weights(reference.get_weights())
    assert mixed(x).dtype != "float32"
    for kind, target in (("cross_entropy", labels), ("mse", np.eye(4, dtype=np.float32)[labels])):
        got = full_batch_loss(kind, mixed(x), target)
        assert got.dtype == "float32"
        np.testing.assert_allclose(got, full_batch_loss(kind, reference(x), target), rtol=3e-2)
    margin = cluster_nets.binary_margin(mixed, positive=[0, 1])(x)
    assert margin.dtype == "float32"
    want = cluster_nets.binary_margin(reference, positive=[0, 1])(x)
    np.testing.assert_allclose(margin, want, atol=3e-2 * float(np.abs(want).max()))
    signs = 2.0 * labels - 1.0
    np.testing.assert_allclose(
        full_batch_loss("logistic", margin[:, None], labels), np.mean(np.log1p(np.exp(-signs * margin))), rtol=1e-5
    )
