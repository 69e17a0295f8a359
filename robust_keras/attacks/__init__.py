"""Gradient attacks on logits functions: FGSM and PGD for l-inf and l2, targeted or not, and Auto-PGD
(APGD-CE / -DLR / -T); NTK attacks on kernel predictors live in ``attacks.ntk``."""

from robust_keras.attacks.apgd import APGD
from robust_keras.attacks.pgd import PGD, fgsm
from robust_keras.attacks.steps import L2Step, LinfStep, make_step

__all__ = ["APGD", "PGD", "fgsm", "L2Step", "LinfStep", "make_step"]
