"""A small adversarial dataset written by a deterministic stand-in for the attack, shared by the
dataset contract tests (unit) and the split-generation processes (reliability)."""

import numpy as np

from robust_keras.data import adversarial

N, SHAPE = 23, (4, 4, 1)
IMAGES = np.random.default_rng(0).random((N, *SHAPE), dtype=np.float32)
LABELS = np.arange(N) % 10
TARGETS = (LABELS + 1) % 10
SPEC = {"source_model": {"path": "m", "sha256": "abc"}, "attack": {"eps": 0.5}, "source_split": "toy/train"}


class Interrupt(Exception):
    pass


def fake_attack(fail_after=None):
    """A deterministic stand-in for PGD whose output depends on the seed it gets."""
    calls = []

    def attack(x, t, seed):
        calls.append(seed)
        if fail_after is not None and len(calls) > fail_after:
            raise Interrupt()
        noise = np.random.default_rng(list(seed)).uniform(-0.05, 0.05, x.shape).astype(np.float32)
        return np.clip(x + noise, 0, 1), t % 2 == 0

    return attack


def generate(directory, attack, spec=SPEC, part=(0, 1)):
    return adversarial.generate(
        str(directory),
        images=IMAGES,
        orig_labels=LABELS,
        targets=TARGETS,
        attack_fn=attack,
        spec=spec,
        shard_size=5,
        batch_size=2,
        seed=7,
        log=lambda _: None,
        part=part,
    )
