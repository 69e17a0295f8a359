"""The README's Python examples run as written, on small stand-ins for the data they name."""

import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# the names README snippets use without defining them, at toy sizes
PRELUDE = """
import keras
import numpy as np

rng = np.random.default_rng(0)
x_train = rng.random((12, 6, 6, 1), dtype=np.float32)
x_test = rng.random((5, 6, 6, 1), dtype=np.float32)
y_train, y_test = np.arange(12) % 3, np.arange(5) % 3
y_onehot = np.eye(3, dtype=np.float32)[y_train]
model = keras.Sequential(
    [keras.Input((6, 6, 1)), keras.layers.Flatten(), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(3)]
)
init = keras.initializers.RandomNormal(stddev=0.5)
keras_sequential = keras.Sequential(
    [
        keras.Input((6, 6, 1)),
        keras.layers.Conv2D(4, 3, padding="same", kernel_initializer=init, bias_initializer=init),
        keras.layers.ReLU(),
        keras.layers.Flatten(),
        keras.layers.Dense(3, kernel_initializer=init, bias_initializer=init),
    ]
)
"""


def _python_blocks() -> list[str]:
    with open(os.path.join(ROOT, "README.md")) as f:
        return re.findall(r"```python\n(.*?)```", f.read(), re.S)


@pytest.mark.parametrize("index", range(len(_python_blocks())))
def test_readme_python_example_runs(index):
    namespace: dict = {}
    exec(PRELUDE, namespace)  # noqa: S102 -- the README's own code, on stand-in data
    exec(_python_blocks()[index], namespace)  # noqa: S102
