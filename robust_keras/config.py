"""The :class:`Config` snapshot of every flag value that ``main`` hands to an experiment.

Only :mod:`robust_keras.main` and :mod:`robust_keras.cli_flags` read ``FLAGS`` (defined in
:mod:`robust_keras.flags`); they build one Config that experiments and workflows receive. The
library never sees it. Budgets eps are in pixel units of inputs scaled to [0, 1].
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class Config:
    """Immutable snapshot of all flag values, plus paths resolved by ``main``.

    Attribute access (``config.learning_rate``) reads a flag value.
    """

    values: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            value = self.values[name]
        except KeyError:
            raise AttributeError(f"Config has no value {name!r}") from None
        _READ.add(name)
        return value


_READ: set[str] = set()  # names read through a Config in this process (main warns about flags never read)


def read_names() -> frozenset[str]:
    """The settings this process has read through :class:`Config` so far."""
    return frozenset(_READ)
