"""Kernel regression against direct solves, and the NTK attack's J(x)u trick against autodiff
through the explicit empirical-kernel predictor."""

import json

import keras
import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf

from robust_keras.attacks.ntk import EmpiricalKernelPredictor, ascent_direction, attack_predictor
from robust_keras.ntk import empirical_ntk, structured
from robust_keras.ntk.regression import KernelRegression

RNG = np.random.default_rng(0)


def _psd(n, rank=None):
    a = RNG.normal(size=(n, rank or n))
    return a @ a.T + (0 if rank else 0.5 * np.eye(n))


def test_regression_matches_direct_solves():
    theta = _psd(7)
    y = RNG.normal(size=(7, 2))
    cross = RNG.normal(size=(3, 7))
    reg = KernelRegression(theta, y, eta=0.1)
    np.testing.assert_allclose(reg.predict(cross), cross @ np.linalg.solve(theta, y), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(reg.predict(theta), y, rtol=1e-8, atol=1e-8)  # interpolates at t = inf
    t = 3.0
    direct = cross @ np.linalg.solve(theta, (np.eye(7) - scipy.linalg.expm(-0.1 * theta * t)) @ y)
    np.testing.assert_allclose(reg.predict(cross, t), direct, rtol=1e-8, atol=1e-10)
    assert np.allclose(reg.predict(cross, 0.0), 0.0)
    features = sum(reg.feature(cross, i) for i in range(7))
    np.testing.assert_allclose(features, reg.predict(cross), rtol=1e-8, atol=1e-10)
    assert np.all(np.diff(reg.eigenvalues) <= 0)


def test_rank_deficient_kernel_uses_the_pseudo_inverse():
    theta = _psd(6, rank=3)
    y = RNG.normal(size=(6, 1))
    reg = KernelRegression(theta, y)
    out = reg.predict(theta)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, theta @ np.linalg.pinv(theta, rcond=1e-10, hermitian=True) @ y, atol=1e-8)
    np.testing.assert_allclose(reg.predict(theta, 1e6), out, atol=1e-6)  # finite t tends to t = inf


def _mlp(outputs=3):
    inputs = keras.Input((5,))
    h = keras.layers.Dense(16, activation="tanh")(inputs)
    return keras.Model(inputs, keras.layers.Dense(outputs)(h))


def _explicit_predictor(model, x_train, alpha):
    train_feats = structured.layer_terms(model, tf.constant(x_train, tf.float32))

    def predict(x):
        block = structured.kernel_block(structured.layer_terms(model, x), train_feats, None)  # (M, N, O, O)
        return tf.einsum("mnop,np->mo", block, tf.constant(alpha, tf.float32))

    return predict


def test_jvp_predictor_equals_explicit_kernel_predictor_and_its_gradient():
    model = _mlp()
    x_train = RNG.normal(size=(6, 5)).astype(np.float32)
    alpha = RNG.normal(size=(6, 3)).astype(np.float32)
    x = tf.constant(RNG.normal(size=(4, 5)), tf.float32)
    fast = EmpiricalKernelPredictor(model, x_train, alpha, batch_size=4)  # chunked VJP
    explicit = _explicit_predictor(model, x_train, alpha)
    kernel = empirical_ntk(model, x.numpy(), x_train, dtype=np.float64)
    np.testing.assert_allclose(fast(x), np.einsum("mnop,np->mo", kernel, alpha), rtol=1e-4, atol=1e-4)
    weights = tf.constant(RNG.normal(size=(4, 3)), tf.float32)
    grads = []
    for predict in (fast, explicit):
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = tf.reduce_sum(weights * predict(x))
        grads.append(tape.gradient(value, x).numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("binary", [True, False])
def test_ntk_fgsm_increases_the_kernel_predictor_loss(binary):
    outputs = 1 if binary else 3
    model = _mlp(outputs)
    x_train = RNG.random((8, 5)).astype(np.float32)
    y = RNG.choice([-1.0, 1.0], 8) if binary else RNG.integers(0, 3, 8)
    targets = y[:, None] if binary else np.eye(3)[y]
    # alpha = Theta^{-1} Y on the full (N O) x (N O) kernel, then f(x) = Theta(x, X) alpha = J(x) u
    full = empirical_ntk(model, x_train, dtype=np.float64).transpose(0, 2, 1, 3).reshape(8 * outputs, 8 * outputs)
    alpha = np.linalg.solve(full + 1e-6 * np.eye(8 * outputs), targets.reshape(-1)).reshape(8, outputs)
    predict = EmpiricalKernelPredictor(model, x_train, alpha)
    np.testing.assert_allclose(predict(tf.constant(x_train)), targets, atol=1e-2)  # interpolates
    for steps in (1, 5):  # FGSM and the multi-step attack
        x_adv = attack_predictor(predict, x_train, y, 0.05, objective="binary" if binary else "ce", steps=steps)
        assert np.abs(x_adv - x_train).max() <= 0.05 + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
        if binary:
            before, after = (np.asarray(predict(tf.constant(z)))[:, 0] * y for z in (x_train, x_adv))
            assert np.all(after < before)
        else:
            loss = lambda z: keras.losses.sparse_categorical_crossentropy(y, predict(tf.constant(z)), from_logits=True)  # noqa: E731
            assert float(tf.reduce_mean(loss(x_adv))) > float(tf.reduce_mean(loss(x_train)))


def test_multiclass_attack_variants_on_a_linear_predictor_match_closed_forms():
    """f(x) = x W: max-of-k reaches the best worst-class margin max_k m_k + eps ||W_k - W_y||_1
    (no other l-inf step does better), and sum-of-k steps along sign(sum_k (W_k - W_y))."""
    w = tf.constant(RNG.normal(size=(6, 4)), tf.float32)
    predict = lambda z: tf.matmul(z, w)  # noqa: E731
    x, y, eps = RNG.normal(size=(5, 6)).astype(np.float32), RNG.integers(0, 4, 5), 0.3
    diffs = w.numpy().T[None, :, :] - w.numpy().T[y][:, None, :]  # (B, K, D): W_k - W_y
    margins = x @ w.numpy() - (x @ w.numpy())[np.arange(5), y][:, None]
    best = np.where(np.eye(4)[y] > 0, -np.inf, margins + eps * np.abs(diffs).sum(2)).max(1)

    def worst_margin(z):
        m = z @ w.numpy() - (z @ w.numpy())[np.arange(5), y][:, None]
        return np.where(np.eye(4)[y] > 0, -np.inf, m).max(1)

    adv = {o: attack_predictor(predict, x, y, eps, objective=o, clip=None) for o in ("max_of_k", "sum_of_k", "ce")}
    np.testing.assert_allclose(worst_margin(adv["max_of_k"]), best, rtol=1e-5, atol=1e-5)
    assert np.all(worst_margin(adv["sum_of_k"]) <= best + 1e-5) and np.all(worst_margin(adv["ce"]) <= best + 1e-5)
    np.testing.assert_array_equal(np.sign(adv["sum_of_k"] - x), np.sign(diffs.sum(1)))


def test_max_of_k_through_the_jvp_predictor_equals_the_explicit_kernel_predictor():
    model = _mlp()
    x_train = RNG.normal(size=(6, 5)).astype(np.float32)
    alpha = RNG.normal(size=(6, 3)).astype(np.float32)
    x, y = tf.constant(RNG.normal(size=(4, 5)), tf.float32), tf.constant(RNG.integers(0, 3, 4))
    fast = ascent_direction(EmpiricalKernelPredictor(model, x_train, alpha), x, y, "max_of_k", 0.1)
    slow = ascent_direction(_explicit_predictor(model, x_train, alpha), x, y, "max_of_k", 0.1)
    assert np.mean(fast.numpy() == slow.numpy()) > 0.95  # signs of near-zero entries may differ


def test_tiny_ntk_features_experiment_top_features_are_more_robust(tmp_path):
    from conftest import read_json, run_experiment

    run_experiment("ntk_features_mnist_tiny.flags", tmp_path, "--ntk_features=50")
    rows = read_json(tmp_path / "features.json")
    assert [r["index"] for r in rows] == list(range(50))
    assert all(a["eigenvalue"] >= b["eigenvalue"] for a, b in zip(rows, rows[1:]))
    top = np.mean([r["robustness"] for r in rows[:10]])
    tail = np.mean([r["robustness"] for r in rows[-10:]])
    assert top > tail + 0.1  # NTK paper Sec. 4: robust features sit at the top of the spectrum
    # Prop. 1: the loss gradient an attack follows comes mostly from beyond the (robust) top fifth
    shares = read_json(tmp_path / "gradient_shares.json")
    assert len(shares["share"]) == 50 and sum(shares["share"][:10]) < 0.5, shares
    pngs = ("usefulness_robustness", "robust_feature_aggregation", "feature_gradients", "useful_nonrobust_features")
    for png in (*pngs, "gradient_shares"):
        assert (tmp_path / "plots" / f"{png}.png").exists()


def test_tiny_ntk_features_on_an_empirical_kernel_show_the_same_split(tmp_path):
    """The empirical NTK of a wide two-layer net at init (J(x) u predictors; the net normalises its
    inputs, so the kernel is not the closed form's) shows the same robust-top / brittle-tail split
    (the closed-form and analytic kernels show it in the tests above: top fifth ~0.4, tail ~0.06)."""
    from conftest import read_json, run_experiment

    run_experiment(
        "ntk_features_mnist_tiny.flags",
        tmp_path,
        "--ntk_features=30",
        "--max_train_examples=400",
        "--max_test_examples=300",
        "--ntk_kernel=empirical",
        "--model=two_layer",
        "--width=2048",
        "--parameterization=ntk",
        "--notrain_second_layer",
        "--nouse_bias",
    )
    rows = read_json(tmp_path / "features.json")
    top, tail = (np.mean([r["robustness"] for r in part]) for part in (rows[:6], rows[-6:]))
    assert top > tail + 0.15 and top > 0.25, (top, tail)


def test_tiny_architecture_study_on_analytic_kernels_shows_robust_tops_and_consistent_features(tmp_path):
    """NTK paper App. D.2: for every architecture the top of the spectrum is more robust than the
    tail, and features agree across architectures (robustness by eigen-index, top eigenspaces)."""
    from conftest import read_json, run_experiment

    run_experiment("ntk_features_architectures_tiny.flags", tmp_path, "--ntk_arch=fc1,fc3")
    for arch in ("fc1", "fc3"):
        rows = read_json(tmp_path / f"features_{arch}.json")
        assert len(rows) == 30 and all(a["eigenvalue"] >= b["eigenvalue"] for a, b in zip(rows, rows[1:]))
        top, tail = (np.mean([r["robustness"] for r in part]) for part in (rows[:6], rows[-6:]))
        assert top > tail + 0.15, (arch, top, tail)
        for png in (f"robust_feature_aggregation_{arch}.png", f"feature_gradients_{arch}.png"):
            assert (tmp_path / "plots" / png).stat().st_size > 10_000
    metrics = {}
    for line in (tmp_path / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        metrics[record["name"]] = record["value"]
    assert metrics["consistency/robustness_spearman_mean"] > 0.6
    assert metrics["consistency/top10_eigenspace_overlap_mean"] > 0.6
    assert "fc1 vs fc3" in (tmp_path / "consistency.md").read_text()


def test_tiny_multiclass_features_show_the_d3_finding(tmp_path):
    """NTK paper App. D.3 on 10-class MNIST: eigen-features of a one-hot kernel regression; keeping
    the most robust ones never gives a classifier that is both accurate and robust, while the
    full kernel classifies well. The D.3 curve also records FGSM transferred from the full kernel."""
    from conftest import read_json, run_experiment

    run_experiment("ntk_features_mnist_multiclass_tiny.flags", tmp_path)
    rows = read_json(tmp_path / "features_fc2.json")
    assert len(rows) == 30 and max(r["usefulness"] for r in rows) < 0.5  # one feature: <= 2 classes
    curve = read_json(tmp_path / "aggregation_fc2.json")
    assert set(curve) == {"r", "clean", "robust", "transfer"} and curve["r"][-1] == 30
    assert curve["clean"][-1] > 0.6
    assert max(min(c, a) for c, a in zip(curve["clean"], curve["robust"])) < 0.2 and curve["robust"][-1] < 0.1
    assert all(0.0 <= t <= 1.0 for t in curve["transfer"])


def test_ranking_and_evaluation_splits_are_disjoint_and_a_too_small_split_is_refused():
    from robust_keras.errors import ConfigError
    from robust_keras.experiments.ntk_features import _split

    rank, evaluate = _split(300, 0.5)
    assert set(range(300)[rank]).isdisjoint(range(300)[evaluate]) and len(range(300)[rank]) == 150
    assert _split(300, 0.0) == (slice(None), slice(None))
    with pytest.raises(ConfigError, match="ntk_rank_fraction"):
        _split(3, 0.5)


def test_tiny_ntk_transfer_attack_fools_the_wide_net(tmp_path):
    """Fig. 3 / App. C Fig. 7 in miniature, and Fig. 7b: the loss gradients drawn at three
    evaluations lose coherence as training goes on (Sec. 4: top, robust features are fitted first)."""
    from conftest import read_json, run_experiment

    # 1,500 steps in three evaluations: the same verdicts as the flagfile's 3,000, faster
    run_experiment("ntk_transfer_mnist_tiny.flags", tmp_path, "--ntk_steps=1500", "--ntk_eval_every=500")
    history = read_json(tmp_path / "ntk_transfer.json")["history"]
    with np.load(tmp_path / "loss_gradients.npz") as saved:
        assert list(saved["step"]) == [500, 1000, 1500]
        assert sorted(saved.files) == ["NTK", "images", "m=2048", "m=256", "step"]
        assert saved["NTK"].shape == saved["m=2048"].shape == (3, 2, 28, 28, 1)
    assert (tmp_path / "plots" / "loss_gradients.png").stat().st_size > 10_000
    for name, key in (("width_2048", "ntk"), ("width_2048", "nn"), ("width_256", "nn")):
        share = [row[f"{key}/grad_low_frequency_share"] for row in history[name]]
        assert share[0] > share[-1], (name, key, share)  # from coherence to noise
    narrow, wide = history["width_256"][-1], history["width_2048"][-1]
    assert wide["nn/clean_accuracy"] > 0.8 and wide["ntk/clean_accuracy"] > 0.8
    # the NTK attack (no network weights) costs the net about as much accuracy as its own attack
    assert wide["nn/ntk_attack_accuracy"] < wide["nn/clean_accuracy"] - 0.25
    assert abs(wide["nn/ntk_attack_accuracy"] - wide["nn/own_attack_accuracy"]) < 0.2
    assert wide["grad_cosine"] > 0.3 and wide["grad_cosine"] >= narrow["grad_cosine"]


def test_tiny_binary_ntk_transfer_uses_the_scalar_form_and_trains_in_pixel_units(tmp_path):
    """A two-class task (--classes, the offline stand-in for CIFAR car vs airplane) is regressed by
    one output on +-1 targets (Eq. 18) and attacked through -y f: the NTK attack hurts the net about
    as much as its own, for two seeds; on raw [0, 1] pixels (eps in pixels) GD still trains and the
    NTK attack still transfers."""
    from conftest import read_json, run_experiment

    common = ("--classes=3,5", "--ntk_widths=2048", "--max_train_examples=300", "--max_test_examples=150")
    run_experiment(
        "ntk_transfer_mnist_tiny.flags",
        tmp_path / "unit",
        *common,
        "--ntk_seeds=2",
        "--ntk_steps=600",
        "--ntk_eval_every=600",
    )
    record = read_json(tmp_path / "unit" / "ntk_transfer.json")
    assert record["outputs"] == 1 and record["inputs"] == "unit_norm"
    history = record["history"]
    assert sorted(history) == ["width_2048_seed_0", "width_2048_seed_1"]
    for rows in history.values():
        last = rows[-1]
        assert last["nn/clean_accuracy"] > 0.9  # 3 vs 5
        assert last["nn/ntk_attack_accuracy"] < last["nn/clean_accuracy"] - 0.25
        assert abs(last["nn/ntk_attack_accuracy"] - last["nn/own_attack_accuracy"]) < 0.15
    # App. C: nets from different initialisations agree with the NTK gradient about equally
    cosines = [rows[-1]["grad_cosine"] for rows in history.values()]
    assert min(cosines) > 0.5 and max(cosines) - min(cosines) < 0.1

    run_experiment(
        "ntk_transfer_mnist_tiny.flags",
        tmp_path / "pixels",
        *common,
        "--ntk_inputs=pixels",
        "--attack_eps=0.1",
        "--ntk_steps=300",
        "--ntk_eval_every=300",
    )
    last = read_json(tmp_path / "pixels" / "ntk_transfer.json")["history"]["width_2048"][-1]
    assert last["nn/clean_accuracy"] > 0.9 and last["nn/ntk_attack_accuracy"] < last["nn/clean_accuracy"] - 0.25
