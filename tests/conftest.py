"""Shared test set-up: quiet TensorFlow, the repo root on sys.path, small helpers."""

import json
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def run_main(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """Runs ``python -m robust_keras.main ARGS`` from the repo root as a user would."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ROOT}
    return subprocess.run(
        [sys.executable, "-m", "robust_keras.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


@pytest.fixture
def sqlite_uri(tmp_path):
    return f"sqlite:///{tmp_path}/mlflow.db"


def read_json(path):
    with open(path) as f:
        return json.load(f)


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def run_experiment(flagfile: str, out_dir, *extra: str) -> subprocess.CompletedProcess:
    """Runs ``flags/<flagfile>`` (plus overrides) into ``out_dir`` with its own SQLite store; must succeed."""
    proc = run_main(
        f"--flagfile=flags/{flagfile}",
        *extra,
        f"--output_dir={out_dir}",
        f"--mlflow_tracking_uri=sqlite:///{out_dir}/m.db",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def run_main_with_mock_tfds(num_examples: int, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """``run_main`` with tfds replaced by ``tfds.testing.mock_data(num_examples)`` (random images,
    the real feature specs) inside the subprocess: the CIFAR-10 / MNIST path without a download."""
    code = (
        "import sys, tensorflow_datasets as tfds\n"
        "from robust_keras.main import run_main\n"
        f"sys.argv = ['robust_keras.main', *{list(args)!r}]\n"
        f"with tfds.testing.mock_data(num_examples={num_examples}):\n"
        "    run_main()\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ROOT}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
