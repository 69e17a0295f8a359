"""Performance correlation against hand-computed values, and the pathway rule on constructed curves."""

import numpy as np
import pytest

from robust_keras.analysis.pathways import PathwayRule, classify
from robust_keras.analysis.performance_correlation import (
    conditional_mutual_information,
    mutual_information,
    performance_correlation,
)


def test_mutual_information_hand_values():
    y = np.array([0, 0, 1, 1])
    assert mutual_information(y, y) == pytest.approx(1.0)  # H(Y) = 1 bit
    assert mutual_information(np.array([0, 1, 0, 1]), y) == pytest.approx(0.0)
    # F = Y on 3 of 4: joint counts (0,0):2 (1,1):1 (0,1):1 -> H(F)=H(.75)=0.8113, H(Y)=1, H(F,Y)=1.5
    f = np.array([0, 0, 1, 0])
    assert mutual_information(f, y) == pytest.approx(0.8112781 + 1.0 - 1.5, abs=1e-6)


def test_performance_correlation_hand_values_and_symmetry():
    y = np.array([0, 0, 1, 1, 2, 2, 0, 1])
    f = np.array([0, 0, 1, 1, 2, 0, 0, 2])
    # L = F: mu = I(F;Y) - I(F;Y|F) = I(F;Y)
    assert performance_correlation(f, f, y) == pytest.approx(mutual_information(f, y))
    # constant L explains nothing: I(F;Y|L) = I(F;Y)
    assert performance_correlation(f, np.zeros_like(y), y) == pytest.approx(0.0, abs=1e-12)
    # L independent of everything on a balanced 2x2 design: mu = 0
    y2, f2, l2 = np.array([0, 0, 1, 1] * 2), np.array([0, 0, 1, 1] * 2), np.array([0, 1, 0, 1, 1, 0, 1, 0])
    assert performance_correlation(f2, l2, y2) == pytest.approx(0.0, abs=1e-12)
    # XOR: Y = F xor L -> I(F;Y) = 0, I(F;Y|L) = 1 bit: mu = -1 (synergy)
    f3, l3 = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    assert performance_correlation(f3, l3, f3 ^ l3) == pytest.approx(-1.0)
    rng = np.random.default_rng(0)
    for _ in range(5):
        y, f, l = (rng.integers(0, 4, 200) for _ in range(3))  # noqa: E741
        assert performance_correlation(f, l, y) == pytest.approx(performance_correlation(l, f, y), abs=1e-12)
    assert conditional_mutual_information(f, y, l) >= -1e-12


def test_performance_correlation_rejects_mismatched_arrays():
    with pytest.raises(ValueError, match="one non-zero length"):
        performance_correlation(np.zeros(3), np.zeros(4), np.zeros(3))


def _curve(start, end, epochs=40):
    return list(np.linspace(start, end, epochs))


def test_pathway_rule_on_curves_shaped_like_fig_1():
    k = 10  # chance 0.1
    # Fig. 1a (pathway 1): train and val climb together; robust (shift) accuracy rises first, then
    # falls as the non-robust features arrive and clean accuracy climbs.
    train_1 = _curve(0.1, 0.99)
    shift_1 = _curve(0.1, 0.45, 15) + _curve(0.45, 0.2, 25)
    clean_1 = _curve(0.1, 0.12, 15) + _curve(0.12, 0.6, 25)
    v = classify(clean_1, shift_1, k, train=train_1)
    assert v.label == "1" and v.score > 0.7 and v.robust_first
    # Fig. 1b (pathway 2): training accuracy saturates early while D stays at chance; D_shift carries it.
    train_2 = _curve(0.1, 1.0, 10) + [1.0] * 30
    v = classify(_curve(0.1, 0.11), _curve(0.1, 0.5), k, train=train_2)
    assert v.label == "2" and v.score < 0.05 and v.saturated
    # the same test curves before training saturates: not yet pathway 2 (it may still turn into 1)
    assert classify(_curve(0.1, 0.11), _curve(0.1, 0.5), k, train=_curve(0.1, 0.7)).label == "between"
    # ... and without a train curve the rule cannot tell an overfitted model from an unfinished one
    assert classify(_curve(0.1, 0.11), _curve(0.1, 0.5), k).label == "between"
    # non-robust features first is neither pathway
    v = classify(_curve(0.1, 0.6, 40), [0.1] * 20 + _curve(0.1, 0.3, 20), k, train=train_1)
    assert v.label == "between" and not v.robust_first
    # middle ground: both kinds of features contribute, neither dominates, training not saturated
    v = classify(_curve(0.1, 0.18), _curve(0.1, 0.35), k, train=_curve(0.1, 0.8))
    assert v.label == "between" and 0.2 < v.score < 0.4
    # Table 5: pathway 1 where robust accuracy still ends higher than non-robust
    assert classify(_curve(0.1, 0.4), _curve(0.1, 0.55), k, train=train_1).label == "1"
    # Nothing learned yet: undecided
    v = classify(_curve(0.1, 0.11), _curve(0.1, 0.12), k, train=train_2)
    assert v.label == "between" and v.score == 0.5
    # the tail average, not the last epoch alone, decides (one noisy final epoch does not flip it)
    noisy = _curve(0.1, 0.11, 39) + [0.3]
    assert classify(noisy, _curve(0.1, 0.5), k, PathwayRule(tail=0.25), train=train_2).label == "2"


def test_pathway_rule_validates_thresholds():
    with pytest.raises(ValueError, match="thresholds"):
        PathwayRule(low=0.5, high=0.3)
    with pytest.raises(ValueError, match="length"):
        classify([0.1, 0.2], [0.1], 10)
    with pytest.raises(ValueError, match="length"):
        classify([0.1, 0.2], [0.1, 0.2], 10, train=[0.5])
