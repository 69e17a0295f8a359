"""A hyper-parameter grid whose cells can run in one process or one process each.

Cells are numbered in a fixed order (learning rate, then L2, then augmentation, then replicate), so
``--grid_cell=i`` names the same recipe in every process. Cell i lives in
``<run_dir>/cells/<cell.name>/`` with its own MLflow child run, checkpoints and, once finished,
``result.json`` (written atomically last): a summary collects exactly the cells that have it.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
from collections.abc import Sequence

from robust_keras.atomic_files import write_json

RESULT = "result.json"


@dataclasses.dataclass(frozen=True)
class Cell:
    index: int
    learning_rate: float
    weight_decay: float
    augment: bool
    replicate: int  # 0..grid_seeds-1: which of the recipe's initialisations (derived from the run's --seed)

    @property
    def name(self) -> str:
        aug = "aug" if self.augment else "noaug"
        return f"{self.index:03d}-lr{self.learning_rate:g}-l2{self.weight_decay:g}-{aug}-rep{self.replicate}"

    def describe(self) -> str:
        """The cell for a reader: "cell 3: lr 0.01, L2 0.0005, no augmentation, replicate 0"."""
        aug = "augmentation" if self.augment else "no augmentation"
        return (
            f"cell {self.index}: lr {self.learning_rate:g}, L2 {self.weight_decay:g}, {aug}, replicate {self.replicate}"
        )

    @property
    def recipe_key(self) -> tuple[float, float, bool]:
        """The recipe without the replicate (cells differing only in replicate are one recipe)."""
        return self.learning_rate, self.weight_decay, self.augment

    def params(self) -> dict:
        return {"grid_cell": self.index, **{k: v for k, v in dataclasses.asdict(self).items() if k != "index"}}


def cells(
    learning_rates: Sequence[float], weight_decays: Sequence[float], augment: Sequence[bool], seeds: int
) -> list[Cell]:
    """Every cell of the grid learning rates x weight decays x augment x replicates 0..seeds-1, in
    index order. A replicate is not a seed: replicate r of a run at ``--seed=s`` initialises and
    orders its data from (s, r), so cell names carry ``rep<r>`` and the run's seed is its own."""
    grid = itertools.product(learning_rates, weight_decays, augment, range(seeds))
    return [Cell(i, lr, wd, aug, rep) for i, (lr, wd, aug, rep) in enumerate(grid)]


def cell_dir(run_dir: str, cell: Cell) -> str:
    return os.path.join(run_dir, "cells", cell.name)


def write_result(run_dir: str, cell: Cell, result: dict) -> None:
    """Marks ``cell`` finished with its ``result`` (atomic: a summary never reads half a file)."""
    path = os.path.join(cell_dir(run_dir, cell), RESULT)
    write_json(path, result)


def read_result(run_dir: str, cell: Cell) -> dict | None:
    """The result of a finished cell, or None."""
    path = os.path.join(cell_dir(run_dir, cell), RESULT)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)
