"""A hyper-parameter grid whose cells can run in one process or one process each.

Cells are numbered in a fixed order (learning rate, then L2, then augmentation, then seed), so
``--grid_cell=i`` names the same recipe in every process. Cell i lives in
``<run_dir>/cells/<cell.name>/`` with its own MLflow child run, checkpoints and, once finished,
``result.json`` (written atomically last): a summary collects exactly the cells that have it.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os

from robust_keras.atomic_files import write_json
from robust_keras.config import Config

RESULT = "result.json"


@dataclasses.dataclass(frozen=True)
class Cell:
    index: int
    learning_rate: float
    weight_decay: float
    augment: bool
    seed: int

    @property
    def name(self) -> str:
        aug = "aug" if self.augment else "noaug"
        return f"{self.index:03d}-lr{self.learning_rate:g}-l2{self.weight_decay:g}-{aug}-seed{self.seed}"

    def describe(self) -> str:
        """The cell for a reader: "cell 3: lr 0.01, L2 0.0005, no augmentation, seed 0"."""
        aug = "augmentation" if self.augment else "no augmentation"
        return f"cell {self.index}: lr {self.learning_rate:g}, L2 {self.weight_decay:g}, {aug}, seed {self.seed}"

    @property
    def recipe_key(self) -> tuple[float, float, bool]:
        """The recipe without the seed (cells differing only in seed are one recipe)."""
        return self.learning_rate, self.weight_decay, self.augment

    def params(self) -> dict:
        return {"grid_cell": self.index, **{k: v for k, v in dataclasses.asdict(self).items() if k != "index"}}


def cells(config: Config) -> list[Cell]:
    """Every cell of the grid the flags describe, in index order."""
    grid = itertools.product(
        [float(v) for v in config.grid_learning_rates],
        [float(v) for v in config.grid_weight_decays],
        [v.lower() == "true" for v in config.grid_augment],
        range(config.grid_seeds),
    )
    return [Cell(i, lr, wd, aug, seed) for i, (lr, wd, aug, seed) in enumerate(grid)]


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
