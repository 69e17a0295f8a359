"""The evaluation ensemble's bookkeeping: attacks in order on what is left, the worst case per
example, the first breaking attack recorded -- checked against the attacks run by hand."""

import numpy as np
import pytest
import tensorflow as tf

from robust_keras.attacks import APGD
from robust_keras.attacks.ensemble import NOT_BROKEN, RAND, Ensemble
from robust_keras.attacks.square import Square
from robust_keras.errors import ConfigError, ModelError

RNG = np.random.default_rng(3)
W = RNG.normal(size=(12 * 12, 5)).astype(np.float32) * 0.05


def logits(x):
    return tf.reshape(x, [tf.shape(x)[0], -1]) @ W


def test_matches_the_attacks_run_one_after_another_by_hand():
    x = 0.25 + 0.5 * RNG.random((48, 12, 12, 1), dtype=np.float32)
    z = logits(x).numpy()
    y = np.argmax(z, -1)
    y[:4] = (y[:4] + 1) % 5  # misclassified from the start: never attacked, never robust
    eps, seed = 0.05, (11, 2)
    result = Ensemble(logits, norm="linf", eps=eps, attacks=("apgd_ce", "square"), steps=10, queries=40)(x, y, seed)
    # by hand: APGD-CE on the correctly classified, then Square on what APGD left
    left = np.flatnonzero(np.argmax(z, -1) == y)
    found = APGD(logits, norm="linf", eps=eps, steps=10, loss="ce")(x[left], y[left], (11, 2000))[0].numpy()
    apgd_broke = left[np.argmax(logits(found).numpy(), -1) != y[left]]
    rest = np.setdiff1d(left, apgd_broke)
    found = Square(logits, norm="linf", eps=eps, queries=40)(x[rest], y[rest], (11, 2100))[0].numpy()
    square_broke = rest[np.argmax(logits(found).numpy(), -1) != y[rest]]
    expected = np.full(len(x), NOT_BROKEN)
    expected[apgd_broke], expected[square_broke] = 0, 1
    np.testing.assert_array_equal(result.broken_by, expected)
    np.testing.assert_array_equal(result.clean_correct, np.argmax(z, -1) == y)
    assert len(apgd_broke) > 0 and len(rest) > 0 and not result.robust[:4].any(), (len(apgd_broke), len(rest))
    # every breaking point is inside the ball and misclassified; robust examples are returned clean
    broken = result.broken_by != NOT_BROKEN
    assert np.abs(result.x_adv - x).max() <= eps + 1e-6
    assert (np.argmax(logits(result.x_adv[broken]).numpy(), -1) != y[broken]).all()
    np.testing.assert_array_equal(result.x_adv[~broken], x[~broken])


def test_refuses_unknown_attacks_and_apgd_t_on_three_classes():
    with pytest.raises(ValueError, match="unknown attacks"):
        Ensemble(logits, norm="linf", eps=0.1, attacks=("fab",))
    three = Ensemble(lambda x: logits(x)[:, :3], norm="linf", eps=0.1, steps=2, queries=2)
    with pytest.raises(ModelError, match="drop apgd_t"):
        three(np.zeros((2, 12, 12, 1), np.float32), [0, 1])


def test_versions_are_named_by_their_settings():
    assert Ensemble(logits, norm="linf", eps=0.1).version == "standard"
    assert Ensemble(logits, norm="l2", eps=0.5, attacks=RAND, eot=20).version == "rand"
    assert Ensemble(logits, norm="linf", eps=0.1, attacks=RAND).version == "custom"  # no EOT
    assert Ensemble(logits, norm="linf", eps=0.1, steps=10).version == "custom"
    two = Ensemble(lambda x: logits(x)[:, :2], norm="linf", eps=0.1, attacks=RAND, steps=2)
    with pytest.raises(ModelError, match="drop apgd_dlr"):
        two(np.zeros((2, 12, 12, 1), np.float32), [0, 1])


def test_evaluate_versions_fix_their_settings():
    from conftest import parse_project_flags

    from robust_keras.config import Config
    from robust_keras.experiments.evaluate import ensemble_settings

    rand = ensemble_settings(Config(parse_project_flags("--experiment=evaluate", "--eval_version=rand")))
    assert rand == dict(attacks=RAND, steps=100, eot=20)
    custom = parse_project_flags("--experiment=evaluate", "--eval_version=custom", "--eval_eot=3", "--eval_steps=7")
    assert ensemble_settings(Config(custom))["eot"] == 3
    with pytest.raises(Exception, match="add --eval_version=custom"):
        parse_project_flags("--experiment=evaluate", "--eval_steps=7")  # standard fixes its steps


def test_robust_eval_autoattack_is_the_standard_ensemble_under_its_own_name():
    from conftest import parse_project_flags

    from robust_keras.attacks.ensemble import STANDARD
    from robust_keras.config import Config
    from robust_keras.workflows import attack_builders

    values = parse_project_flags("--attack_norm=linf", "--attack_eps=0.1", "--robust_eval=autoattack")
    settings = Config(values).attack_settings
    metric, make = attack_builders.robust_eval(values["robust_eval"], settings, classes=5)
    assert metric == "autoattack_robust_accuracy"
    # two classes: the standard version's two-class part; APGD-T or 3 classes refused before any work
    assert attack_builders.robust_eval("autoattack", settings, classes=2)[1](logits).ensemble.attacks == (
        "apgd_ce",
        "fab_t",
        "square",
    )
    for kind, classes in (("autoattack", 3), ("apgd_t", 2), ("apgd_t", 3)):
        with pytest.raises(ConfigError, match="needs at least 4 classes"):
            attack_builders.robust_eval(kind, settings, classes=classes)
    attack = make(logits)
    assert attack.ensemble.attacks == STANDARD and attack.ensemble.version == "standard" and attack.ensemble.eps == 0.1
    x = RNG.random((3, 12, 12, 1), dtype=np.float32)
    wrong = (np.argmax(logits(x).numpy(), -1) + 1) % 5  # misclassified already: nothing left to attack
    (x_adv,) = attack(tf.constant(x), tf.constant(wrong), (0, 3))
    np.testing.assert_array_equal(x_adv, x)


def test_warm_up_traces_every_attack_even_when_apgd_breaks_everything():
    ensemble = Ensemble(logits, norm="linf", eps=0.1, steps=2, queries=2, target_classes=1)
    x = RNG.random((2, 12, 12, 1), dtype=np.float32)
    ensemble.warm_up(x, np.argmax(logits(x).numpy(), -1))
    assert all(ensemble._runs[name]._compiled for name in ensemble.attacks)


def test_two_class_apgd_ce_is_not_stopped_by_saturated_cross_entropy():
    """On two classes apgd_ce runs on the margin: with every margin >= 300 (CE exactly 0 in
    float32) it still breaks exactly the points within the closed-form distance |f| / ||w||."""
    w = RNG.normal(size=20).astype(np.float32)
    x = RNG.normal(size=(60, 20)).astype(np.float32)
    scale = 300.0 / np.abs(x @ w).min()

    def two_logits(v):
        return tf.stack([tf.zeros(tf.shape(v)[0]), scale * tf.linalg.matvec(v, w)], -1)

    y = (x @ w > 0).astype(np.int64)
    distance = np.abs(x @ w) / np.linalg.norm(w)
    result = Ensemble(two_logits, norm="l2", eps=1.0, attacks=("apgd_ce",), steps=10, clip=None)(x, y, (0, 3))
    np.testing.assert_array_equal(~result.robust, distance < 1.0)
