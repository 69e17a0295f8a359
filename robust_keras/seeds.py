"""Seeds split from one ``--seed``: every random choice of a run (data order, init, attack
starts, validation split...) gets its own stream, so changing one purpose never shifts another."""

from __future__ import annotations

import zlib


def derive_seed(root: int, purpose: str) -> int:
    """A seed for one purpose (data order, init, attack...) split deterministically from --seed."""
    return (root * 1_000_003 + zlib.crc32(purpose.encode())) % (2**31 - 1)
