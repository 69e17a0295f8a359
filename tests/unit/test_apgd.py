"""Auto-PGD: its schedule, the attack properties, the closed-form optimum on a linear model, and
that it is the stronger attack on an adversarially trained model."""

import numpy as np
import pytest
import tensorflow as tf

from robust_keras.attacks import APGD, PGD
from robust_keras.attacks.apgd import checkpoints
from robust_keras.errors import ModelError
from robust_keras.models import build_model

RNG = np.random.default_rng(0)


def test_checkpoints_follow_the_paper_schedule():
    # p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06): 0.41, 0.57, 0.70, 0.80, 0.87, 0.93, 0.99
    assert checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]
    assert checkpoints(10) == [3, 5, 6, 7, 8, 9, 10]


@pytest.fixture(scope="module")
def cnn():
    return build_model("cnn_mnist", (28, 28, 1), 10, mean=[0.13], std=[0.3], seed=0)


@pytest.mark.parametrize("norm,eps", [("linf", 0.1), ("l2", 1.5)])
@pytest.mark.parametrize("loss", ["ce", "dlr", "dlr_targeted"])
def test_budget_box_and_success(cnn, norm, eps, loss):
    x = RNG.random((6, 28, 28, 1), dtype=np.float32)
    y = np.arange(6) % 10
    x_adv, success, _ = APGD(cnn, norm=norm, eps=eps, steps=10, restarts=2, loss=loss)(x, y, (1, 2))
    flat = (x_adv.numpy() - x).reshape(6, -1)
    size = np.abs(flat).max(1) if norm == "linf" else np.sqrt((flat**2).sum(1))
    assert np.all(size <= eps + 1e-5)
    assert float(tf.reduce_min(x_adv)) >= 0.0 and float(tf.reduce_max(x_adv)) <= 1.0
    np.testing.assert_array_equal(success, np.argmax(cnn(x_adv), -1) != y)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_linear_model_reaches_the_closed_form_optimum(norm):
    d, eps = 20, (0.1 if norm == "linf" else 0.4)
    w = RNG.normal(size=d).astype(np.float32)
    wt = tf.constant(w[:, None])

    def logits(x):  # two classes, margin of class 1 = w.x + 10: never flipped at this budget
        z = tf.reshape(x, [tf.shape(x)[0], -1]) @ wt + 10.0
        return tf.concat([tf.zeros_like(z), z], axis=1)

    x = np.full((1, d), 0.5, np.float32)  # the box does not bind
    x_adv, success, _ = APGD(logits, norm=norm, eps=eps, steps=20, loss="ce")(x, np.array([1]))
    assert not bool(success[0])
    drop = eps * (np.abs(w).sum() if norm == "linf" else np.linalg.norm(w))  # the largest margin decrease
    assert float(logits(x)[0, 1] - logits(x_adv)[0, 1]) == pytest.approx(drop, rel=1e-3)
    if norm == "linf":  # the first step already lands on the optimal corner, and stays
        np.testing.assert_allclose(x_adv.numpy()[0] - x[0], -eps * np.sign(w), atol=1e-6)


def test_dlr_needs_enough_classes():
    two = lambda x: tf.zeros([tf.shape(x)[0], 2])  # noqa: E731
    with pytest.raises(ModelError, match="at least 3 classes"):
        APGD(two, norm="linf", eps=0.1, loss="dlr")(np.zeros((1, 4), np.float32), np.array([0]))


@pytest.fixture(scope="module")
def robust_mlp():
    """A small MLP trained 3 epochs on PGD-3 (l-inf 0.1) examples of 2,000 sample digits, and
    500 held-out digits."""
    from robust_keras.data.sources import load_mnist_sample

    train, test = load_mnist_sample()
    x = train.images[:2000].astype(np.float32) / 255.0
    y = train.labels[:2000]
    tf.keras.utils.set_random_seed(0)
    layers = [tf.keras.layers.Flatten(), tf.keras.layers.Dense(128, activation="relu"), tf.keras.layers.Dense(10)]
    model = tf.keras.Sequential([tf.keras.Input((28, 28, 1)), *layers])
    model.compile(tf.keras.optimizers.Adam(1e-3), tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    trainer = PGD(model, norm="linf", eps=0.1, step_size=0.04, steps=3, random_start=True)
    for epoch in range(3):
        for b in range(0, len(y), 100):
            x_adv = trainer(x[b : b + 100], y[b : b + 100], (epoch, b))[0]
            model.train_on_batch(x_adv, y[b : b + 100])
    return model, test.images[:500].astype(np.float32) / 255.0, test.labels[:500]


def test_apgd_is_at_least_as_strong_as_pgd_on_an_adversarially_trained_model(robust_mlp):
    """At the same budget and number of steps, APGD-T leaves clearly less robust accuracy than
    PGD and APGD-CE no more (within one example in a hundred: the two reach 0.480 vs 0.484 here)."""
    model, x_test, y_test = robust_mlp
    clean = float(np.mean(np.argmax(model(x_test), -1) == y_test))
    pgd = PGD(model, norm="linf", eps=0.1, step_size=0.025, steps=20, random_start=True)
    robust = {"pgd": 1.0 - float(np.mean(pgd(x_test, y_test, (0, 1))[1]))}
    for loss in ("ce", "dlr_targeted"):
        apgd = APGD(model, norm="linf", eps=0.1, steps=20, loss=loss)
        robust[loss] = 1.0 - float(np.mean(apgd(x_test, y_test, (0, 1))[1]))
    assert clean > 0.8 and 0.1 < robust["pgd"] < clean  # adversarial training left something to attack
    # measured: clean 0.824, PGD-20 0.484, APGD-CE-20 0.480, APGD-T-20 (one restart) 0.426
    assert robust["dlr_targeted"] <= robust["pgd"] - 0.02, robust
    assert robust["ce"] <= robust["pgd"] + 0.01, robust  # no weaker than PGD (a 2-digit margin here)


def test_robust_eval_flag_picks_the_attack_and_its_own_metric_name(robust_mlp):
    """--robust_eval=apgd_t: the training evaluator attacks with APGD-T (at the --attack_* budget)
    and logs test/apgd_t_robust_accuracy; pgd keeps test/robust_accuracy. Numbers never share a name."""
    from conftest import parse_project_flags

    from robust_keras.config import Config
    from robust_keras.training.evaluators import RobustEvaluator
    from robust_keras.workflows import attack_builders

    model, x_test, y_test = robust_mlp
    images = (x_test[:200] * 255).astype(np.uint8)
    found = {}
    for name in ("pgd", "apgd_t"):
        values = parse_project_flags(
            "--attack_norm=linf",
            "--attack_eps=0.1",
            "--attack_step_size=0.025",
            "--attack_steps=20",
            "--attack_random_start",
            f"--robust_eval={name}",
        )
        metric, make = attack_builders.robust_eval(values["robust_eval"], Config(values).attack_settings, classes=10)
        found.update(RobustEvaluator("test", images, y_test[:200], make, 200, metric=metric).evaluate(model))
    assert sorted(found) == ["test/apgd_t_robust_accuracy", "test/robust_accuracy"]
    assert found["test/apgd_t_robust_accuracy"] < found["test/robust_accuracy"], found


class _Alternating:
    """A randomised model whose draws are known: linear logits with W1 on odd calls, W2 on even ones."""

    def __init__(self, d: int, classes: int):
        self.w = [tf.constant(RNG.normal(size=(d, classes)).astype(np.float32)) for _ in range(2)]
        self.calls = tf.Variable(0)

    def __call__(self, x):
        self.calls.assign_add(1)
        return tf.reshape(x, [tf.shape(x)[0], -1]) @ tf.where(self.calls % 2 == 1, self.w[0], self.w[1])


def test_eot_averages_loss_and_gradient_over_draws():
    model = _Alternating(6, 4)
    x, y = tf.constant(RNG.random((3, 6), dtype=np.float32)), tf.constant([0, 1, 3], tf.int64)

    def by_hand(w):  # CE of linear logits: loss and input gradient W (softmax(z) - onehot(y))
        z = x.numpy() @ w.numpy()
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        return -np.log(p[np.arange(3), y.numpy()]), (p - np.eye(4)[y.numpy()]) @ w.numpy().T

    (l1, g1), (l2, g2) = by_hand(model.w[0]), by_hand(model.w[1])
    loss, grad, _ = APGD(model, norm="linf", eps=0.1, loss="ce", eot=4)._evaluate(x, y, None)
    np.testing.assert_allclose(loss, (l1 + l2) / 2, rtol=1e-5)
    np.testing.assert_allclose(grad, (g1 + g2) / 2, rtol=1e-4, atol=1e-6)
    model.calls.assign(0)
    loss, grad, _ = APGD(model, norm="linf", eps=0.1, loss="ce")._evaluate(x, y, None)  # one draw: W1
    np.testing.assert_allclose(grad, g1, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="eot"):
        APGD(model, norm="linf", eps=0.1, eot=0)


@pytest.mark.parametrize("seed", [5, 6])
def test_eot_breaks_a_defence_that_randomises_its_gradients(seed):
    """Logits W x + c (R x - stop_gradient(R x)), R drawn afresh per call: the same (linear) decision
    at every call, but each draw's gradient W + c R is mostly noise. Against the noise-free model
    (c = 0) APGD breaks almost every example within 0.8 eps of the closed-form l-inf distance; single
    draws leave many of them unbroken (the defence "works"), and 20 draws per step close at least
    three quarters of that gap. Never an example beyond the distance."""
    tf.random.set_seed(seed)
    rng = np.random.default_rng(seed)
    d, classes, eps = 144, 5, 0.05
    w = (0.05 * rng.normal(size=(d, classes))).astype(np.float32)

    def model(c):
        def logits(x):
            flat = tf.reshape(x, [tf.shape(x)[0], -1])
            noise = flat @ (c * tf.random.normal([d, classes]))
            return flat @ w + (noise - tf.stop_gradient(noise))

        return logits

    x = (0.25 + 0.5 * rng.random((200, d))).astype(np.float32)  # the [0, 1] box does not bind at eps
    z = x @ w
    y = z.argmax(1)
    margin = z[np.arange(200), y][:, None] - z  # (n, K); distance to class j's halfspace: margin / ||w_y - w_j||_1
    spread = np.abs(w[:, y].T[:, :, None] - w[None, :, :]).sum(1)
    distance = np.where(np.eye(classes, dtype=bool)[y], np.inf, margin / spread).min(1)
    near, far = distance <= 0.8 * eps, distance > eps
    assert near.sum() > 50 and far.any()
    broke = {
        (c, eot): APGD(model(c), norm="linf", eps=eps, steps=100, loss="ce", eot=eot)(x, y, (seed, 0))[1].numpy()
        for c, eot in ((0.0, 1), (0.3, 1), (0.3, 20))
    }
    assert not any(b[far].any() for b in broke.values())  # sound: never beyond the closed form
    plain, one, twenty = (broke[k][near].mean() for k in ((0.0, 1), (0.3, 1), (0.3, 20)))
    assert plain >= 0.9 and plain - one >= 0.1, (plain, one)
    assert plain - twenty <= 0.25 * (plain - one), (plain, one, twenty)
