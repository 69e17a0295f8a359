"""AutoAttack's evaluation protocol (Croce & Hein, ICML 2020; docs/methods.md §D.3): attacks run
one after another, each only on the examples that are still classified correctly, so an example
is robust only if no attack breaks it -- the worst case per example.

The attacks available (names as ``--eval_attacks`` takes them):

- ``apgd_ce``: APGD on the cross-entropy, ``steps`` iterations, one run from a random start;
- ``apgd_dlr``: APGD on the (untargeted) DLR loss, likewise;
- ``apgd_t``: APGD on the targeted DLR loss, one run per target: the ``target_classes`` most
  likely other classes at x, in that order, each on the examples the earlier targets left;
- ``fab_t``: FAB-T, the minimal-norm boundary attack, ``steps`` iterations per target, the same
  targets as apgd_t; broken when its closest misclassified point is within eps;
- ``square``: Square Attack (margin loss, ``queries`` iterations), black box: it cannot be fooled
  by masked gradients.

:data:`STANDARD` with 100 steps, 9 targets and 5,000 queries is AutoAttack's "standard" version
(attacks, order, iterations, targets and restarts as the reference; its random draws differ).
:data:`RAND` with 100 steps and ``eot`` = 20 (each APGD iterate's gradient averaged over 20 draws
of the model) is its "rand" version, for randomised defences. :data:`STANDARD_TWO_CLASS` is what of
the standard version a two-class model can take: APGD-T's targeted DLR loss needs 4 classes, and
FAB-T's 9 targets shrink to the one other class (the reference cannot run its standard version on
two classes); on two classes ``apgd_ce`` runs on the margin z_other - z_y, which takes the same
iterates as the cross-entropy in exact arithmetic without its float32 underflow once the label
leads by ~17 (attacks/pgd.py). :attr:`Ensemble.version` names which one an ensemble is ("custom"
for any other choice).

Inputs are images in [0, 1] by default; ``clip=None`` drops the box for unbounded inputs (vectors
(B, D) such as feature averaging's Gaussian clusters), in every attack.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from robust_keras.attacks.apgd import APGD
from robust_keras.attacks.fab import FABTargeted
from robust_keras.attacks.square import Square
from robust_keras.errors import ModelError

ATTACKS = ("apgd_ce", "apgd_dlr", "apgd_t", "fab_t", "square")
STANDARD = ("apgd_ce", "apgd_t", "fab_t", "square")  # AutoAttack's standard version, in its order
RAND = ("apgd_ce", "apgd_dlr")  # its version for randomised defences (with EOT over 20 draws)
STANDARD_TWO_CLASS = ("apgd_ce", "fab_t", "square")  # the standard version's attacks two classes allow
VERSIONS = {  # name: (attacks, steps, queries, target classes, eot); None where the version has no such part
    "standard": (STANDARD, 100, 5000, 9, 1),
    "rand": (RAND, 100, None, None, 20),
    "standard_two_class": (STANDARD_TWO_CLASS, 100, 5000, None, 1),  # FAB-T: the one other class
}
NOT_BROKEN = -1  # broken_by of an example no attack broke (or one misclassified from the start)


@dataclasses.dataclass(frozen=True)
class EnsembleResult:
    """Per example of a batch: ``clean_correct`` bool (B,), ``broken_by`` int8 (B,) (the index in
    the ensemble's attacks of the first attack that misclassified it, or NOT_BROKEN), ``x_adv``
    float32 (B, ...) (the breaking point, else x)."""

    clean_correct: np.ndarray
    broken_by: np.ndarray
    x_adv: np.ndarray

    @property
    def robust(self) -> np.ndarray:
        """bool (B,): classified correctly at x and at every point any attack found."""
        return self.clean_correct & (self.broken_by == NOT_BROKEN)


class Ensemble:
    """``attacks`` in order on the l-inf or l2 ball of radius ``eps`` around x (in the box ``clip``).

    Args:
      logits_fn: float32 (B, ...) inputs -> float32 (B, K) logits.
      attacks: names from :data:`ATTACKS`, run in the given order.
      steps: APGD iterations; queries: Square iterations; target_classes: APGD-T's targets
        (capped at K - 1); eot: draws of the model each APGD gradient averages (randomised models).
      clip: (low, high) box of valid inputs, (0, 1) for images; None: unbounded inputs.
    """

    def __init__(
        self,
        logits_fn: Callable[[tf.Tensor], tf.Tensor],
        *,
        norm: str,
        eps: float,
        attacks: Sequence[str] = STANDARD,
        steps: int = 100,
        queries: int = 5000,
        target_classes: int = 9,
        eot: int = 1,
        clip: tuple[float, float] | None = (0.0, 1.0),
    ):
        unknown = [a for a in attacks if a not in ATTACKS]
        if unknown or not attacks:
            raise ValueError(f"unknown attacks {unknown} (choose from {', '.join(ATTACKS)})")
        self.logits_fn, self.attacks, self.target_classes = logits_fn, tuple(attacks), target_classes
        self._settings, self._classes = (steps, queries, target_classes, eot), None
        self.norm, self.eps = norm, float(eps)
        apgd = dict(norm=norm, eps=eps, steps=steps, eot=eot, clip=clip)
        self._runs = {
            "apgd_ce": APGD(logits_fn, loss="ce", **apgd),
            "apgd_dlr": APGD(logits_fn, loss="dlr", **apgd),
            "apgd_t": APGD(logits_fn, loss="dlr_targeted", **apgd),
            "fab_t": FABTargeted(logits_fn, norm=norm, eps=eps, steps=steps, clip=clip),
            "square": Square(logits_fn, norm=norm, eps=eps, queries=queries, clip=clip),
            "apgd_ce_two_class": APGD(logits_fn, loss="margin", **apgd),  # apgd_ce on two classes
        }

    @property
    def version(self) -> str:
        """ "standard", "rand", "standard_two_class" (on a model seen to have two classes, or not
        seen yet) or "custom"."""
        version = _version(self.attacks, *self._settings)
        return "custom" if version == "standard_two_class" and self._classes not in (None, 2) else version

    def set_budget(self, eps: float) -> None:
        """Changes the radius of every attack for later calls (their compiled graphs are kept)."""
        self.eps = float(eps)
        for attack in self._runs.values():
            attack.set_budget(eps)

    def check_classes(self, classes: int) -> None:
        """Refuses an ensemble its model cannot take (the DLR losses need 3 or 4 classes)."""
        self._classes = classes
        for name, need, what in (("apgd_t", 4, "targeted DLR loss"), ("apgd_dlr", 3, "DLR loss")):
            if name in self.attacks and classes < need:
                two_class = " (two classes: --eval_version=standard_two_class)" if classes == 2 else ""
                raise ModelError(
                    f"{name} ({what}) needs at least {need} classes; the model has {classes}",
                    f"drop {name} from --eval_attacks{two_class}",
                )

    def warm_up(self, x: np.ndarray, labels: np.ndarray) -> None:
        """Runs every attack once on ``x`` (a few examples), so that each compiled graph exists
        before the work that is timed (a call only traces the attacks that examples reach); the model's
        class count goes through :meth:`check_classes`, as in a call."""
        x, labels = np.asarray(x, np.float32), np.asarray(labels, np.int64)
        self.check_classes(int(np.asarray(self.logits_fn(tf.convert_to_tensor(x[:1]))).shape[-1]))
        for name in self.attacks:
            self._attack(name)(x, labels, (0, 0))

    def _attack(self, name: str):
        """The attack run under ``name`` on the model seen by :meth:`check_classes`."""
        return self._runs["apgd_ce_two_class" if name == "apgd_ce" and self._classes == 2 else name]

    def _within(self, found, x) -> np.ndarray:
        """bool (n,): inside the eps-ball (FAB's closest point may lie beyond it), float32 slack."""
        flat = (found - x).reshape(len(x), -1)
        size = np.abs(flat).max(1) if self.norm == "linf" else np.sqrt((flat.astype(np.float64) ** 2).sum(1))
        return size <= self.eps * (1 + 1e-5) + 1e-7

    def _wrong(self, x, labels) -> np.ndarray:
        return np.argmax(np.asarray(self.logits_fn(tf.convert_to_tensor(x))), -1) != labels

    def __call__(self, x: np.ndarray, labels: np.ndarray, seed: tuple[int, int] = (0, 0)) -> EnsembleResult:
        """x float32 (B, ...) (in ``clip``), labels int (B,); ``seed`` makes every attack's draws."""
        x, labels = np.asarray(x, np.float32), np.asarray(labels, np.int64)
        logits = np.asarray(self.logits_fn(tf.convert_to_tensor(x)))
        self.check_classes(logits.shape[-1])
        clean_correct = np.argmax(logits, -1) == labels
        broken_by = np.full(len(x), NOT_BROKEN, np.int8)
        x_adv = x.copy()
        for index, name in enumerate(self.attacks):
            targeted = name in ("apgd_t", "fab_t")
            runs = range(min(self.target_classes, logits.shape[-1] - 1)) if targeted else [0]
            for target in runs:
                left = np.flatnonzero(clean_correct & (broken_by == NOT_BROKEN))
                if not len(left):
                    break
                attack_seed = (seed[0], seed[1] * 1_000 + index * 100 + target)
                attack = self._attack(name)
                if name == "apgd_t":
                    found = attack(x[left], labels[left], attack_seed, first_target=target)[0]
                elif name == "fab_t":
                    found = attack(x[left], labels[left], attack_seed, target_rank=target)[0]
                else:
                    found = attack(x[left], labels[left], attack_seed)[0]
                found = np.asarray(found)
                wrong = self._wrong(found, labels[left]) & self._within(found, x[left])
                x_adv[left[wrong]] = found[wrong]
                broken_by[left[wrong]] = index
        return EnsembleResult(clean_correct, broken_by, x_adv)


def _version(attacks: tuple, steps: int, queries: int, target_classes: int, eot: int) -> str:
    """ "standard" or "rand" when the settings are that AutoAttack version's, else "custom"."""
    for name, (names, *settings) in VERSIONS.items():
        if attacks == names and all(
            want is None or got == want for want, got in zip(settings, (steps, queries, target_classes, eot))
        ):
            return name
    return "custom"
